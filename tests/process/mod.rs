//! Shared harness for the tests that run the real `tessera` binary as a separate process: start
//! it on a free loopback port, talk plain HTTP/1.1 to it, read its memory, kill it.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The binary under test: `TESSERA_BIN` when set (the release build, as shipped), else the one
/// cargo built for these tests.
pub fn binary() -> PathBuf {
    std::env::var_os("TESSERA_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_tessera")))
}

/// A server process that is killed when the test ends, however it ends.
pub struct Server {
    pub child: Child,
    pub addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Resident memory of the server process, in KiB (`/proc/PID/status`, VmRSS).
    pub fn rss_kib(&self) -> u64 {
        self.status_kib("VmRSS:")
    }

    /// The most resident memory the server process has had so far, in KiB (VmHWM).
    pub fn peak_rss_kib(&self) -> u64 {
        self.status_kib("VmHWM:")
    }

    fn status_kib(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("server process status");
        status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{field} in /proc status"))
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Whether process `pid` has a socket listening on 127.0.0.1:`port`: the listening socket's
/// inode (`/proc/net/tcp`) among the process's open files. A connection that succeeds is not
/// enough: the port `free_port` gave may have been taken by another test's server meanwhile,
/// and this one may be exiting because it could not bind it.
pub fn listens_on(pid: u32, port: u16) -> bool {
    let Ok(table) = std::fs::read_to_string("/proc/net/tcp") else {
        return false;
    };
    let sockets: Vec<String> = table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let local = u16::from_str_radix(f.get(1)?.rsplit(':').next()?, 16).ok()?;
            // State 0A is LISTEN.
            let inode = f.get(9)?;
            (local == port && *f.get(3)? == "0A").then(|| format!("socket:[{inode}]"))
        })
        .collect();
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.flatten().any(|fd| {
        std::fs::read_link(fd.path())
            .is_ok_and(|to| sockets.iter().any(|s| to.as_os_str() == s.as_str()))
    })
}

/// Starts `tessera serve` with `extra` arguments on a free loopback port and waits until it
/// listens there. Its standard error goes to `log` when given. A server that exits before it
/// listens (the port was taken in between) is started again on another port.
pub fn start_with(data_dir: &Path, extra: &[&str], log: Option<&Path>) -> Server {
    for _ in 0..5 {
        let port = free_port();
        let addr = format!("127.0.0.1:{port}");
        let stderr = match log {
            Some(p) => Stdio::from(std::fs::File::create(p).expect("log file")),
            None => Stdio::null(),
        };
        let child = Command::new(binary())
            .args(["serve", "--addr", &addr, "--data-dir"])
            .arg(data_dir)
            .args(extra)
            .current_dir(data_dir.parent().unwrap())
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("start tessera");
        let mut server = Server { child, addr };
        let deadline = Instant::now() + Duration::from_secs(20);
        while !listens_on(server.child.id(), port) {
            if server.child.try_wait().expect("server status").is_some() {
                break;
            }
            assert!(Instant::now() < deadline, "server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        if server.child.try_wait().expect("server status").is_none() {
            return server;
        }
    }
    panic!("server exited before listening, five times");
}

pub fn start(data_dir: &Path) -> Server {
    start_with(data_dir, &[], None)
}

/// What a request got back.
pub struct Reply {
    pub status: u16,
    /// `tessera_session=...` when the response set it.
    pub session: Option<String>,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

/// Opens a connection to `addr`, from the loopback address `from` when given (any 127.x.y.z is
/// this machine on Linux, so tests can play many clients).
pub fn connect(addr: &str, from: Option<IpAddr>) -> TcpStream {
    let target: SocketAddr = addr.parse().expect("socket address");
    let stream = match from {
        None => TcpStream::connect(target).expect("connect"),
        Some(ip) => {
            let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
                .expect("socket");
            socket
                .bind(&SocketAddr::new(ip, 0).into())
                .expect("bind a loopback source address");
            socket.connect(&target.into()).expect("connect");
            socket.into()
        }
    };
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream
}

/// A minimal HTTP/1.1 request with `Connection: close`; `extra_headers` are whole lines
/// without the line end.
pub fn request(
    addr: &str,
    from: Option<IpAddr>,
    method: &str,
    path: &str,
    body: &str,
    cookie: Option<&str>,
    extra_headers: &[&str],
) -> Reply {
    let s = connect(addr, from);
    try_request_on(s, addr, method, path, body, cookie, extra_headers)
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
}

/// A form POST that may fail (the server killed under it): the reply, or why there is none.
pub fn try_post(
    addr: &str,
    path: &str,
    form: &str,
    cookie: Option<&str>,
) -> std::io::Result<Reply> {
    let s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    let extra = [
        "Content-Type: application/x-www-form-urlencoded",
        "Accept: application/json",
    ];
    try_request_on(s, addr, "POST", path, form, cookie, &extra)
}

fn try_request_on(
    mut s: TcpStream,
    addr: &str,
    method: &str,
    path: &str,
    body: &str,
    cookie: Option<&str>,
    extra_headers: &[&str],
) -> std::io::Result<Reply> {
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(c) = cookie {
        head.push_str(&format!("Cookie: {c}\r\n"));
    }
    for h in extra_headers {
        head.push_str(h);
        head.push_str("\r\n");
    }
    if method != "GET" {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes())?;
    s.write_all(body.as_bytes())?;
    read_reply(s)
}

fn read_reply(s: TcpStream) -> std::io::Result<Reply> {
    let bad = |what: String| std::io::Error::new(std::io::ErrorKind::InvalidData, what);
    let mut reader = BufReader::new(s);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad(format!("no HTTP status line: {line:?}")))?;
    let mut session = None;
    let mut headers = Vec::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Err(bad("the headers ended early".into()));
        }
        if line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.trim_end().split_once(':') {
            let name = name.to_ascii_lowercase();
            let value = value.trim().to_string();
            if name == "set-cookie" && value.starts_with("tessera_session=") {
                session = value.split(';').next().map(str::to_string);
            }
            headers.push((name, value));
        }
    }
    // The status line and headers came after the handler finished: a body cut short by a
    // reset still belongs to an answered request.
    let mut raw = Vec::new();
    let _ = reader.read_to_end(&mut raw);
    Ok(Reply {
        status,
        session,
        headers,
        body: String::from_utf8_lossy(&raw).into_owned(),
    })
}

/// A form POST to a server function, as the app's own client sends it (JSON answers).
pub fn post(addr: &str, path: &str, form: &str, cookie: Option<&str>) -> Reply {
    post_from(addr, None, path, form, cookie)
}

pub fn post_from(
    addr: &str,
    from: Option<IpAddr>,
    path: &str,
    form: &str,
    cookie: Option<&str>,
) -> Reply {
    request(
        addr,
        from,
        "POST",
        path,
        form,
        cookie,
        &[
            "Accept: application/json",
            "Content-Type: application/x-www-form-urlencoded",
        ],
    )
}

pub fn get(addr: &str, path: &str, cookie: Option<&str>) -> Reply {
    request(addr, None, "GET", path, "", cookie, &["Accept: text/html"])
}

/// The `p` quantile (0 to 1) of sorted durations; zero for none.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// "12.3 ms".
pub fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// The administrator's password [`setup_admin`] sets.
pub const ADMIN_PASSWORD: &str = "admin-password-1";

/// Sets a fresh server up with the administrator `admin`; returns their session cookie.
pub fn setup_admin(addr: &str) -> String {
    let setup = post(
        addr,
        "/api/setup",
        &format!("login=admin&email=admin%40example.org&display_name=Admin&password={ADMIN_PASSWORD}&password_confirm={ADMIN_PASSWORD}"),
        None,
    );
    assert_eq!(setup.status, 200, "{}", setup.body);
    setup.session.expect("the administrator is signed in")
}

/// Signs `who` in with `password` on a real server; returns the session cookie.
pub fn log_in(addr: &str, who: &str, password: &str) -> String {
    let r = post(
        addr,
        "/api/login",
        &format!("identifier={who}&password={password}"),
        None,
    );
    assert_eq!(r.status, 200, "login {who}: {}", r.body);
    r.session.expect("a session")
}

/// Signs up learners `{prefix}0` … `{prefix}{count - 1}` with `password` (self-registration
/// must be on) from `threads` threads, each sign-up checking a new password; returns their
/// session cookies in that order.
pub fn sign_up_learners(
    addr: &str,
    prefix: &str,
    count: usize,
    password: &str,
    threads: usize,
) -> Vec<String> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut cookies: Vec<(usize, String)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads.max(1))
            .map(|_| {
                let next = &next;
                scope.spawn(move || {
                    let mut mine = Vec::new();
                    loop {
                        let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if n >= count {
                            return mine;
                        }
                        let form = format!("login={prefix}{n}&email={prefix}{n}%40example.org&display_name={prefix}+{n}&password={password}&password_confirm={password}");
                        // Sign-ups from one address are checked a few at a time (the sign-up
                        // throttle): more threads than that wait their turn, as a browser would.
                        let reply = loop {
                            let reply = post(addr, "/api/signup", &form, None);
                            if reply.status != 429 {
                                break reply;
                            }
                            std::thread::sleep(std::time::Duration::from_millis(200));
                        };
                        assert_eq!(reply.status, 200, "sign-up {n}: {}", reply.body);
                        mine.push((n, reply.session.expect("signed in after sign-up")));
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    cookies.sort();
    cookies.into_iter().map(|(_, c)| c).collect()
}

/// A database of its own on the PostgreSQL cluster the test command starts
/// (`TESSERA_TEST_DATABASE_URL`, scripts/postgres.sh), dropped after the test. `None` outside
/// CI when no cluster was given (a developer's `cargo test` without PostgreSQL); in CI a
/// missing cluster fails the test.
pub struct Database {
    admin: String,
    name: String,
    /// Its URL, for `--database-url`.
    pub url: String,
}

impl Database {
    pub fn new() -> Option<Database> {
        const VAR: &str = "TESSERA_TEST_DATABASE_URL";
        let admin = match std::env::var(VAR) {
            Ok(url) => url,
            Err(_) if std::env::var_os("CI").is_some() => {
                panic!(
                    "{VAR} is unset: scripts/test.sh starts a PostgreSQL cluster for these tests"
                )
            }
            Err(_) => {
                eprintln!("skipped: no PostgreSQL ({VAR} unset; scripts/test.sh sets it)");
                return None;
            }
        };
        let name = format!(
            "tessera_process_{}_{:08x}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .subsec_nanos()
        );
        let mut client =
            postgres::Client::connect(&admin, postgres::NoTls).expect("the test cluster");
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("create a test database");
        let mut url = url::Url::parse(&admin).expect("the test cluster's URL");
        url.set_path(&name);
        Some(Database {
            admin,
            name,
            url: url.to_string(),
        })
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        if let Ok(mut client) = postgres::Client::connect(&self.admin, postgres::NoTls) {
            let _ = client.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}
