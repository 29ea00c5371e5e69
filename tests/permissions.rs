//! The real `tessera` binary keeps its data directory to its own account: 0700 directories and
//! 0600 files whatever umask it is started with, a warning at start for a directory found
//! wider, and no session id anywhere in its files.

mod process;

use process::{free_port, post, setup_admin, Server};
use std::io::{BufRead, BufReader};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// `tessera` with `args`, started by a shell whose umask is 022 (the usual default, under which
/// files are made 0644 and directories 0755).
fn under_umask_022(args: &[&str]) -> Command {
    let mut c = Command::new("bash");
    c.arg("-c")
        .arg(r#"umask 022; exec "$0" "$@""#)
        .arg(process::binary())
        .args(args)
        .env("RUST_LOG", "info");
    c
}

/// Starts `tessera serve` on `data` under umask 022, reads its log (standard output and
/// error together) up to the line saying it listens, and returns the server with the lines
/// read. A directory still locked by a server just killed is tried again.
fn serve_logged(data: &Path) -> (Server, Vec<String>) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let addr = format!("127.0.0.1:{}", free_port());
        let child = Command::new("bash")
            .arg("-c")
            .arg(r#"umask 022; exec "$0" serve --addr "$1" --data-dir "$2" 2>&1"#)
            .arg(process::binary())
            .arg(&addr)
            .arg(data)
            .env("RUST_LOG", "info")
            .current_dir(data.parent().unwrap())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start tessera");
        let mut server = Server { child, addr };
        let out = server.child.stdout.take().expect("piped");
        let mut lines = Vec::new();
        let mut reader = BufReader::new(out);
        let mut line = String::new();
        while reader.read_line(&mut line).expect("log line") > 0 {
            let listening = line.contains("Tessera is listening");
            lines.push(std::mem::take(&mut line));
            if listening {
                // The rest of the log is read and dropped: a closed pipe would fail its writes.
                std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
                return (server, lines);
            }
        }
        let code = server.child.wait().ok().and_then(|s| s.code());
        assert!(
            code == Some(4) && Instant::now() < deadline,
            "the server stopped (exit {code:?}): {lines:#?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap()
        .permissions()
        .mode()
        & 0o7777
}

/// Every entry under `dir`, `dir` first.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![dir.to_path_buf()];
    let mut i = 0;
    while i < out.len() {
        if std::fs::symlink_metadata(&out[i]).unwrap().is_dir() {
            let mut inner: Vec<PathBuf> = std::fs::read_dir(&out[i])
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
            inner.sort();
            out.extend(inner);
        }
        i += 1;
    }
    out
}

/// Directories 0700, files 0600, the socket for its owner alone; returns what was checked.
fn assert_private(dir: &Path) -> Vec<String> {
    let mut seen = Vec::new();
    for p in walk(dir) {
        let t = std::fs::symlink_metadata(&p).unwrap().file_type();
        let m = mode(&p);
        if t.is_dir() {
            assert_eq!(m, 0o700, "directory {} is {m:04o}", p.display());
        } else if t.is_file() {
            assert_eq!(m, 0o600, "file {} is {m:04o}", p.display());
        } else {
            assert!(
                t.is_socket(),
                "{} is neither file, directory nor socket",
                p.display()
            );
            assert_eq!(m & 0o077, 0, "socket {} is {m:04o}", p.display());
        }
        let rel = p.strip_prefix(dir).unwrap().display().to_string();
        seen.push(rel);
    }
    seen
}

#[test]
fn the_data_directory_and_its_files_are_private_under_umask_022() {
    let dir = tempfile::tempdir().unwrap();
    // The shell really makes world-readable files: the server has to undo that itself.
    let probe = dir.path().join("probe");
    let made = Command::new("bash")
        .arg("-c")
        .arg(r#"umask 022; : > "$0""#)
        .arg(&probe)
        .status()
        .unwrap();
    assert!(made.success());
    assert_eq!(mode(&probe), 0o644);

    let data = dir.path().join("data");
    let (server, log) = serve_logged(&data);
    assert!(
        !log.iter().any(|l| l.contains("WARN")),
        "a new directory gets no warning: {log:#?}"
    );
    // A write, and a session, both flushed before they are answered.
    let admin = setup_admin(&server.addr);
    let saved = post(
        &server.addr,
        "/api/save_settings",
        "self_registration=on",
        Some(&admin),
    );
    assert_eq!(saved.status, 200, "{}", saved.body);
    // A backup through the control socket, written under the same umask.
    let out = dir.path().join("school.tessera-backup");
    let backup = under_umask_022(&[
        "backup",
        "--data-dir",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ])
    .output()
    .unwrap();
    assert!(backup.status.success(), "{:?}", backup);
    assert_eq!(mode(&out), 0o600, "the backup file");

    let seen = assert_private(&data);
    for must in ["", "db", "conf", "control", "control/tessera.sock"] {
        assert!(seen.iter().any(|s| s == must), "{must:?} not in {seen:?}");
    }
    // The session id in the cookie is in no file of the directory (only its hash is).
    let id = admin
        .split_once('=')
        .map(|(_, v)| v.to_string())
        .expect("a session cookie");
    assert!(id.len() >= 20, "{id}");
    for p in walk(&data) {
        if std::fs::symlink_metadata(&p).unwrap().is_file() {
            let bytes = std::fs::read(&p).unwrap();
            assert!(
                !bytes.windows(id.len()).any(|w| w == id.as_bytes()),
                "the session id is in {}",
                p.display()
            );
        }
    }
    // Still signed in with it.
    let me = post(&server.addr, "/api/get_backup_status", "", Some(&admin));
    assert_eq!(me.status, 200, "{}", me.body);
    drop(server);

    // A restore makes a private directory too.
    let restored = dir.path().join("restored");
    let restore = under_umask_022(&[
        "restore",
        "--in",
        out.to_str().unwrap(),
        "--data-dir",
        restored.to_str().unwrap(),
    ])
    .output()
    .unwrap();
    assert!(restore.status.success(), "{:?}", restore);
    assert!(
        !String::from_utf8_lossy(&restore.stderr).contains("warning"),
        "{restore:?}"
    );
    let seen = assert_private(&restored);
    assert!(seen.iter().any(|s| s == "db"), "{seen:?}");
}

#[test]
fn a_data_directory_others_can_read_is_named_in_a_warning_and_still_served() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    let (server, log) = serve_logged(&data);
    let warnings: Vec<&String> = log.iter().filter(|l| l.contains("WARN")).collect();
    assert_eq!(warnings.len(), 1, "{log:#?}");
    let w = warnings[0];
    let shown = data.display().to_string();
    assert!(w.contains(&format!("{shown} has mode 0755")), "{w}");
    assert!(w.contains(&format!("chmod -R go= {shown}")), "{w}");
    // Served all the same; the directory is left as the operator made it.
    setup_admin(&server.addr);
    assert_eq!(mode(&data), 0o755);
    drop(server);

    // The other commands say it too, on standard error (standard output may carry a backup).
    let out = dir.path().join("b.tessera-backup");
    let deadline = Instant::now() + Duration::from_secs(10);
    let backup = loop {
        let run = under_umask_022(&[
            "backup",
            "--data-dir",
            &shown,
            "--out",
            out.to_str().unwrap(),
        ])
        .output()
        .unwrap();
        if run.status.code() != Some(4) || Instant::now() > deadline {
            break run;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(backup.status.success(), "{backup:?}");
    let err = String::from_utf8_lossy(&backup.stderr);
    assert!(
        err.contains(&format!("warning: the data directory {shown}")),
        "{err}"
    );

    // The fix the warning gives silences it.
    let fixed = Command::new("chmod")
        .args(["-R", "go=", &shown])
        .status()
        .unwrap();
    assert!(fixed.success());
    let (_server, log) = serve_logged(&data);
    assert!(!log.iter().any(|l| l.contains("WARN")), "{log:#?}");
    assert_private(&data);
}
