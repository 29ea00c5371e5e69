//! A full disk under the real server: `tessera serve` runs on a 16 MiB tmpfs of its own (a
//! private mount namespace made by `unshare -rm`, so no root is needed where user namespaces
//! are allowed), the test fills that tmpfs, and then:
//! - writes are refused with 503 and a clear message, and nothing they did is kept;
//! - pages and reads are still served, with a banner saying why saving is paused;
//! - once space is freed the server opens its store again by itself and saving resumes;
//! - every write acknowledged before, during and after is there, after a `kill -9` too, and
//!   `tessera check` finds every invariant holding.
//!
//! The test needs `unshare` to be allowed to make the namespace; it fails, saying so, where it
//! is not. A second test turns the data directory read-only under the server (see
//! `READ_ONLY_SHIM`) and checks the same, with the read-only wording.

mod process;

use process::{get, post, setup_admin, Reply, ADMIN_PASSWORD};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The server in its own mount namespace, and the shell around it (see `SCRIPT`).
struct Boxed {
    shell: Child,
    dir: PathBuf,
    mnt: PathBuf,
    addr: String,
}

/// Mounts the tmpfs, runs the server until it dies, then `tessera check` on its directory,
/// then the server again on the same directory (the tmpfs lives as long as the namespace).
/// Arguments: mount point, binary, address, the directory for pid files and the check's output.
const SCRIPT: &str = r#"
mount -t tmpfs -o size=16m tessera-disk-test "$0" || exit 90
"$1" serve --addr "$2" --data-dir "$0/data" --storage-retry-secs 1 &
echo $! > "$3/first.pid"
wait $!
"$1" check --data-dir "$0/data" > "$3/check.out" 2>&1
echo "exit $?" >> "$3/check.out"
"$1" serve --addr "$2" --data-dir "$0/data" &
echo $! > "$3/second.pid"
wait $!
"#;

impl Boxed {
    fn start(dir: &Path) -> Boxed {
        let ok = Command::new("unshare")
            .args(["-rm", "true"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            ok,
            "this test runs the server on a tmpfs in a private mount namespace and needs \
             `unshare -rm` (util-linux) to be allowed here"
        );
        let mnt = dir.join("mnt");
        std::fs::create_dir_all(&mnt).unwrap();
        let addr = format!("127.0.0.1:{}", process::free_port());
        let shell = Command::new("unshare")
            .args(["-rm", "sh", "-c", SCRIPT])
            .arg(&mnt)
            .arg(process::binary())
            .arg(&addr)
            .arg(dir)
            .current_dir(dir)
            .env("RUST_LOG", "warn")
            .stdout(std::fs::File::create(dir.join("server.log")).unwrap())
            .stderr(std::fs::File::create(dir.join("server.err")).unwrap())
            .spawn()
            .expect("start unshare");
        let boxed = Boxed {
            shell,
            dir: dir.to_path_buf(),
            mnt,
            addr,
        };
        boxed.wait_listening();
        boxed
    }

    fn wait_listening(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(&self.addr).is_err() {
            assert!(
                Instant::now() < deadline,
                "the server did not start: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// What the server wrote on standard output, then its log (standard error).
    fn log(&self) -> String {
        let read = |name: &str| std::fs::read_to_string(self.dir.join(name)).unwrap_or_default();
        read("server.log") + &read("server.err")
    }

    fn pid(&self, which: &str) -> u32 {
        let path = self.dir.join(format!("{which}.pid"));
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(pid) = std::fs::read_to_string(&path)
                .ok()
                .and_then(|s| s.trim().parse().ok())
            {
                return pid;
            }
            assert!(Instant::now() < deadline, "no {which} server pid");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// A path inside the server's tmpfs, seen from here through its process.
    fn inside(&self, name: &str) -> PathBuf {
        let mnt = self.mnt.strip_prefix("/").unwrap();
        Path::new(&format!("/proc/{}/root", self.pid("first")))
            .join(mnt)
            .join(name)
    }

    fn kill(pid: u32) {
        let _ = Command::new("kill")
            .args(["-9", &pid.to_string()])
            .stderr(Stdio::null())
            .status();
    }
}

impl Drop for Boxed {
    fn drop(&mut self) {
        for which in ["first", "second"] {
            if let Some(pid) = std::fs::read_to_string(self.dir.join(format!("{which}.pid")))
                .ok()
                .and_then(|s| s.trim().parse().ok())
            {
                Boxed::kill(pid);
            }
        }
        let _ = self.shell.kill();
        let _ = self.shell.wait();
    }
}

/// Fills the file system holding `path` with one file there; returns its size.
fn fill(path: &Path) -> u64 {
    use std::io::Write;
    let mut f = std::fs::File::create(path).expect("the filler file");
    let chunk = vec![0x5a_u8; 64 * 1024];
    let mut written = 0u64;
    loop {
        match f.write(&chunk) {
            Ok(0) => break,
            Ok(n) => written += n as u64,
            Err(e) if e.kind() == std::io::ErrorKind::StorageFull => break,
            Err(e) => panic!("filling the tmpfs: {e}"),
        }
    }
    let _ = f.sync_all();
    written
}

fn create_group(addr: &str, admin: &str, name: &str) -> Reply {
    // A long description: the disk fills in fewer writes.
    let description = "d".repeat(900);
    post(
        addr,
        "/api/create_group",
        &format!("name={name}&description={description}&branch=&key=&key_enabled=&max_uses=0&valid_from=&valid_until="),
        Some(admin),
    )
}

fn group_id(r: &Reply) -> u64 {
    let v: serde_json::Value = serde_json::from_str(&r.body).expect("a JSON answer");
    v["group"]["id"].as_u64().expect("a group id")
}

fn header<'a>(r: &'a Reply, name: &str) -> Option<&'a str> {
    r.headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Creates group `name` as soon as the server saves again (refused with 503 until then, within
/// 30 s: a few retry rounds of 1 s); `log` is shown when it does not.
fn create_group_once_saving_resumes(
    addr: &str,
    admin: &str,
    name: &str,
    log: impl Fn() -> String,
) -> Reply {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = create_group(addr, admin, name);
        if r.status == 200 {
            return r;
        }
        assert_eq!(r.status, 503, "{}", r.body);
        assert!(
            Instant::now() < deadline,
            "saving did not resume: {}",
            log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Every acknowledged group is there, with its name.
fn all_there(addr: &str, admin: &str, acked: &[(u64, String)], when: &str) {
    for (id, name) in acked {
        let r = post(addr, "/api/get_group", &format!("id={id}"), Some(admin));
        assert_eq!(r.status, 200, "{when}: group {name} ({id}): {}", r.body);
        assert!(r.body.contains(name.as_str()), "{when}: {name}: {}", r.body);
    }
}

#[test]
fn a_full_disk_refuses_writes_keeps_serving_reads_and_recovers_when_space_returns() {
    let dir = tempfile::tempdir().unwrap();
    let boxed = Boxed::start(dir.path());
    let addr = boxed.addr.clone();
    let admin = setup_admin(&addr);
    let mut acked: Vec<(u64, String)> = Vec::new();
    let first = create_group(&addr, &admin, "Before");
    assert_eq!(first.status, 200, "{}", first.body);
    acked.push((group_id(&first), "Before".into()));

    // No space left.
    let filler = boxed.inside("filler");
    assert!(fill(&filler) > 0, "the tmpfs had room to fill");

    // Writes go on until the store meets the full disk: then a 503 that says so.
    let mut refused = None;
    for i in 0..5000 {
        let name = format!("Full-{i}");
        let r = create_group(&addr, &admin, &name);
        match r.status {
            200 => acked.push((group_id(&r), name)),
            503 => {
                refused = Some((name, r));
                break;
            }
            other => panic!("{name}: {other} {}\n{}", r.body, boxed.log()),
        }
    }
    let (refused_name, refused) = refused.expect("the full disk was never noticed");
    // The typed error: the browser shows it as "Nothing was saved: the server's disk is
    // full. Pages can still be read; please try again later."
    let typed: serde_json::Value = serde_json::from_str(&refused.body).expect("a typed error");
    assert_eq!(
        typed["CannotSave"]["reason"], "the server's disk is full",
        "{}",
        refused.body
    );
    assert_eq!(header(&refused, "retry-after"), Some("1"));
    assert!(
        boxed.log().contains("the store cannot write"),
        "{}",
        boxed.log()
    );

    // Later writes are refused at once, with the same words, and change nothing.
    let again = create_group(&addr, &admin, "Refused-again");
    assert_eq!(again.status, 503, "{}", again.body);
    assert!(
        again.body.contains("the server's disk is full"),
        "{}",
        again.body
    );

    // Reads go on: every main page renders whole (no part of it failed), under the banner
    // that tells why saving is paused.
    let before = acked[0].0;
    for path in [
        "/".to_string(),
        "/groups".into(),
        format!("/groups/{before}"),
        format!("/groups/{before}?tab=courses"),
        format!("/groups/{before}?tab=report"),
        format!("/groups/{before}?tab=activity"),
        "/users".into(),
        "/courses".into(),
        "/inbox".into(),
        "/reports".into(),
        "/activity".into(),
        "/backup".into(),
    ] {
        let page = get(&addr, &path, Some(&admin));
        assert_eq!(page.status, 200, "{path}");
        let text = page.body.replace("<!>", "");
        assert!(
            text.contains("Changes cannot be saved right now: the server's disk is full."),
            "{path}: {text}"
        );
        assert!(
            !text.contains("{\\\"Err\\\""),
            "{path}: a part of it failed: {text}"
        );
    }
    let page = get(&addr, "/groups", Some(&admin));
    assert!(
        page.body.contains("Before"),
        "the list still shows the groups"
    );
    // Signing in needs a session saved: refused the same way, and no session is handed out.
    let login = post(
        &addr,
        "/api/login",
        &format!("identifier=admin&password={ADMIN_PASSWORD}"),
        None,
    );
    assert_eq!(login.status, 503, "{}", login.body);
    assert!(login.body.contains("CannotSave"), "{}", login.body);
    assert!(login.session.is_none(), "no session cookie");
    // Logging out would not be saved: refused, and the session honestly still works.
    let logout = post(&addr, "/api/logout", "", Some(&admin));
    assert_eq!(logout.status, 503, "{}", logout.body);
    assert_eq!(get(&addr, "/groups", Some(&admin)).status, 200);
    all_there(&addr, &admin, &acked, "while the disk is full");

    // Space returns: within a few retry rounds (1 s each) the server saves again.
    std::fs::remove_file(&filler).unwrap();
    let after = create_group_once_saving_resumes(&addr, &admin, "After", || boxed.log());
    acked.push((group_id(&after), "After".into()));
    assert!(boxed.log().contains("saving resumes"), "{}", boxed.log());
    let page = get(&addr, "/groups", Some(&admin));
    assert!(
        !page.body.contains("Changes cannot be saved"),
        "the banner is gone"
    );
    // The session survived: no new login was needed. The store the server reads now is the
    // one opened again from disk, so what it shows is what was on disk.
    all_there(&addr, &admin, &acked, "after the store was opened again");
    let list = post(
        &addr,
        "/api/list_groups",
        "query=&sort=name&page=1",
        Some(&admin),
    );
    assert_eq!(list.status, 200, "{}", list.body);
    for refused in [refused_name.as_str(), "Refused-again"] {
        assert!(
            !list.body.contains(&format!("\"{refused}\"")),
            "refused {refused} was kept: {}",
            list.body
        );
    }

    // A crash now loses nothing either, and every invariant holds.
    Boxed::kill(boxed.pid("first"));
    boxed.pid("second");
    boxed.wait_listening();
    let check = std::fs::read_to_string(dir.path().join("check.out")).unwrap_or_default();
    assert!(
        check.trim_end().ends_with("exit 0"),
        "tessera check: {check}"
    );
    let login = post(
        &addr,
        "/api/login",
        &format!("identifier=admin&password={ADMIN_PASSWORD}"),
        None,
    );
    assert_eq!(login.status, 200, "{}", login.body);
    let admin = login.session.expect("a session");
    all_there(&addr, &admin, &acked, "after kill -9 and a restart");
    eprintln!(
        "disk full: {} groups acknowledged after the disk was filled, then refused; saving resumed after space returned; all {} acknowledged groups read back after kill -9; check passed",
        acked.iter().filter(|(_, n)| n.starts_with("Full-")).count(),
        acked.len()
    );
}

/// A read-only data directory cannot be made under a running server (the kernel refuses to
/// remount a file system read-only while files on it are open for writing; only its own error
/// handling does). So the system calls are made to fail the way they then fail: a small
/// library preloaded into the server answers `EROFS` to every positioned write and sync while
/// a flag file exists. Nothing in Tessera knows about it.
const READ_ONLY_SHIM: &str = r#"
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/types.h>
#include <unistd.h>

static int read_only(void) {
    const char *flag = getenv("TESSERA_TEST_READ_ONLY_FLAG");
    return flag && access(flag, F_OK) == 0;
}

#define REFUSE(ret) do { if (read_only()) { errno = EROFS; return ret; } } while (0)

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off) {
    REFUSE(-1);
    ssize_t (*real)(int, const void *, size_t, off_t) = dlsym(RTLD_NEXT, "pwrite64");
    return real(fd, buf, n, off);
}
ssize_t pwrite(int fd, const void *buf, size_t n, off_t off) {
    REFUSE(-1);
    ssize_t (*real)(int, const void *, size_t, off_t) = dlsym(RTLD_NEXT, "pwrite");
    return real(fd, buf, n, off);
}
int fsync(int fd) {
    REFUSE(-1);
    int (*real)(int) = dlsym(RTLD_NEXT, "fsync");
    return real(fd);
}
int fdatasync(int fd) {
    REFUSE(-1);
    int (*real)(int) = dlsym(RTLD_NEXT, "fdatasync");
    return real(fd);
}
int sync_file_range(int fd, off64_t off, off64_t n, unsigned int flags) {
    REFUSE(-1);
    int (*real)(int, off64_t, off64_t, unsigned int) = dlsym(RTLD_NEXT, "sync_file_range");
    return real(fd, off, n, flags);
}
"#;

#[test]
fn a_data_directory_turned_read_only_is_reported_as_such_and_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let shim = dir.path().join("read-only.so");
    std::fs::write(dir.path().join("read-only.c"), READ_ONLY_SHIM).unwrap();
    let built = Command::new("cc")
        .args(["-shared", "-fPIC", "-O1", "-o"])
        .arg(&shim)
        .arg(dir.path().join("read-only.c"))
        .arg("-ldl")
        .status()
        .expect("this test builds a small C library and needs cc");
    assert!(built.success(), "building the read-only library");
    let flag = dir.path().join("read-only-now");
    let data = dir.path().join("data");
    let addr = format!("127.0.0.1:{}", process::free_port());
    let log = dir.path().join("server.log");
    let mut child = Command::new(process::binary())
        .args([
            "serve",
            "--addr",
            &addr,
            "--storage-retry-secs",
            "1",
            "--data-dir",
        ])
        .arg(&data)
        .current_dir(dir.path())
        .env("RUST_LOG", "warn")
        .env("LD_PRELOAD", &shim)
        .env("TESSERA_TEST_READ_ONLY_FLAG", &flag)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("start tessera");
    let server_log = || std::fs::read_to_string(&log).unwrap_or_default();
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(&addr).is_err() {
        assert!(Instant::now() < deadline, "no server: {}", server_log());
        std::thread::sleep(Duration::from_millis(50));
    }
    let admin = setup_admin(&addr);
    let before = create_group(&addr, &admin, "Writable");
    assert_eq!(before.status, 200, "{}", before.body);
    let mut acked = vec![(group_id(&before), "Writable".to_string())];

    std::fs::write(&flag, b"").unwrap();
    let refused = create_group(&addr, &admin, "Refused");
    assert_eq!(refused.status, 503, "{}", refused.body);
    let typed: serde_json::Value = serde_json::from_str(&refused.body).unwrap();
    assert_eq!(
        typed["CannotSave"]["reason"], "the server's data directory has become read-only",
        "{}",
        refused.body
    );
    let page = get(&addr, "/groups", Some(&admin));
    assert_eq!(page.status, 200);
    let text = page.body.replace("<!>", "");
    assert!(
        text.contains(
            "Changes cannot be saved right now: the server's data directory has become read-only."
        ),
        "{text}"
    );
    assert!(text.contains("Writable"));
    assert!(
        server_log().contains("Read-only file system"),
        "{}",
        server_log()
    );

    // Writable again: saving resumes by itself.
    std::fs::remove_file(&flag).unwrap();
    let after = create_group_once_saving_resumes(&addr, &admin, "Writable-again", server_log);
    acked.push((group_id(&after), "Writable-again".into()));
    all_there(&addr, &admin, &acked, "after the store was opened again");

    // kill -9, then the plain binary on the same directory: all there, nothing refused kept.
    let _ = child.kill();
    let _ = child.wait();
    let server = process::start(&data);
    let login = post(
        &server.addr,
        "/api/login",
        &format!("identifier=admin&password={ADMIN_PASSWORD}"),
        None,
    );
    let admin = login.session.expect("a session");
    all_there(&server.addr, &admin, &acked, "after kill -9 and a restart");
    let list = post(
        &server.addr,
        "/api/list_groups",
        "query=Refused&sort=name&page=1",
        Some(&admin),
    );
    assert!(list.body.contains("\"total\":0"), "{}", list.body);
}
