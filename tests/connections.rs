//! Connections that send nothing, half a request head or a body in dribbles are closed by the
//! server after their timeouts, so they cannot pile up until the process runs out of file
//! descriptors; one client address can hold only so many connections (trusted proxies can hold
//! more); and when descriptors do run out the server keeps accepting as they come free,
//! logging that once.
//!
//! The real binary runs with low open-files limits (soft 64, hard 256, set by the shell that
//! starts it) and timeouts of a few seconds given on its command line, so the test takes
//! seconds rather than minutes.

mod process;

use process::{binary, connect, free_port, request, Server};
use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const HEADER_SECS: u64 = 2;
const IDLE_SECS: u64 = 5;
const BODY_SECS: u64 = 2;

/// Starts `tessera serve` through a shell that first sets the open-files limits (soft 64,
/// hard 256), with `extra` arguments; its log (standard output and error) goes to `log`.
fn start_limited(dir: &Path, extra: &[&str], log: &Path) -> Server {
    let addr = format!("127.0.0.1:{}", free_port());
    let log = std::fs::File::create(log).unwrap();
    let child = Command::new("bash")
        .arg("-c")
        .arg(r#"ulimit -S -n 64 && ulimit -H -n 256 && exec "$@""#)
        .arg("bash")
        .arg(binary())
        .args(["serve", "--addr", &addr, "--data-dir"])
        .arg(dir.join("data"))
        .args(extra)
        .current_dir(dir)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::from(log.try_clone().unwrap()))
        .stderr(Stdio::from(log))
        .spawn()
        .expect("start tessera through bash");
    let server = Server { child, addr };
    let deadline = Instant::now() + Duration::from_secs(20);
    // Probing with a connection of its own would be one more silent socket: ask for a page.
    loop {
        if let Ok(mut s) = TcpStream::connect(&server.addr) {
            let _ =
                s.write_all(b"GET /setup HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
            let mut sink = Vec::new();
            let _ = s.read_to_end(&mut sink);
            break;
        }
        assert!(Instant::now() < deadline, "server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    server
}

/// The soft and hard open-files limits of a process, from /proc.
fn open_files_limits(pid: u32) -> (u64, u64) {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .expect("Max open files in /proc limits");
    let numbers: Vec<u64> = line
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    (numbers[0], numbers[1])
}

/// Waits until the server closes `s` (end of stream or reset), at most until `deadline`;
/// returns when that happened, or `None` if it stayed open.
fn closed_by(s: &mut TcpStream, deadline: Instant) -> Option<Instant> {
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.checked_duration_since(Instant::now())?;
        s.set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .unwrap();
        match s.read(&mut buf) {
            Ok(0) => return Some(Instant::now()),
            Ok(_) => continue,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                if Instant::now() >= deadline {
                    return None;
                }
            }
            Err(_) => return Some(Instant::now()),
        }
    }
}

fn loopback(last: u8) -> Option<IpAddr> {
    Some(IpAddr::from([127, 0, 0, last]))
}

#[test]
fn stalled_connections_are_closed_and_pages_answer_with_descriptors_short() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("server.log");
    let (h, i, b) = (
        HEADER_SECS.to_string(),
        IDLE_SECS.to_string(),
        BODY_SECS.to_string(),
    );
    let server = start_limited(
        dir.path(),
        &[
            "--header-timeout-secs",
            &h,
            "--idle-timeout-secs",
            &i,
            "--body-timeout-secs",
            &b,
        ],
        &log,
    );
    let header = Duration::from_secs(HEADER_SECS);

    // The soft limit was raised to the hard one at start.
    assert_eq!(open_files_limits(server.child.id()), (256, 256));

    // 300 silent sockets from 10 addresses (30 each, under the per-address cap): more than the
    // server has descriptors for.
    let flood_start = Instant::now();
    let mut silent: Vec<TcpStream> = (0..300)
        .map(|n| connect(&server.addr, loopback(10 + (n % 10) as u8)))
        .collect();

    // A normal page still answers: the silent sockets are closed after the header timeout,
    // and the descriptors they free are taken by the connections waiting in the queue.
    let asked = Instant::now();
    let page = request(
        &server.addr,
        None,
        "GET",
        "/setup",
        "",
        None,
        &["Accept: text/html"],
    );
    let waited = asked.elapsed();
    assert_eq!(page.status, 200);
    assert!(
        waited < header * 3 + Duration::from_secs(3),
        "the page took {waited:?}"
    );

    // Every silent socket was closed by the server, none much before or after its timeout.
    let deadline = flood_start + header * 3 + Duration::from_secs(5);
    for (n, s) in silent.iter_mut().enumerate() {
        let at =
            closed_by(s, deadline).unwrap_or_else(|| panic!("silent socket {n} is still open"));
        assert!(
            at.duration_since(flood_start) >= header - Duration::from_millis(200),
            "silent socket {n} closed after {:?}",
            at.duration_since(flood_start)
        );
    }
    drop(silent);

    // Running out of descriptors was logged once, not once per failed accept.
    let logged = std::fs::read_to_string(&log).unwrap();
    let lines = logged
        .lines()
        .filter(|l| l.contains("cannot accept connections"))
        .count();
    assert_eq!(lines, 1, "{logged}");
    assert!(logged.contains("Too many open files"), "{logged}");

    // Half a request head: closed after the header timeout.
    let mut half = connect(&server.addr, None);
    half.write_all(b"GET /setup HTTP/1.1\r\nHost: localhost\r\n")
        .unwrap();
    let sent = Instant::now();
    let at = closed_by(&mut half, sent + header + Duration::from_secs(3))
        .expect("a half-sent head is closed");
    let took = at.duration_since(sent);
    assert!(took >= header - Duration::from_millis(200), "{took:?}");

    // An idle keep-alive connection: answered, then closed after the idle timeout (which is
    // longer than the header timeout: idling between requests is not a slow head).
    let mut kept = connect(&server.addr, None);
    kept.write_all(b"GET /setup HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let sent = Instant::now();
    let mut first = [0u8; 12];
    kept.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"HTTP/1.1 200");
    let at = closed_by(&mut kept, sent + Duration::from_secs(IDLE_SECS + 3))
        .expect("an idle connection is closed");
    let took = at.duration_since(sent);
    assert!(
        took >= Duration::from_secs(IDLE_SECS) - Duration::from_millis(500),
        "closed after {took:?}"
    );

    // A body that stops coming: the connection is closed after the body timeout.
    let mut slow = connect(&server.addr, None);
    slow.write_all(
        b"POST /api/login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\n\
          Content-Length: 100\r\n\r\nlogin=a",
    )
    .unwrap();
    let sent = Instant::now();
    let at = closed_by(&mut slow, sent + Duration::from_secs(BODY_SECS + 3))
        .expect("a stalled body is closed");
    let took = at.duration_since(sent);
    assert!(
        took >= Duration::from_secs(BODY_SECS) - Duration::from_millis(200),
        "closed after {took:?}"
    );

    // And the server still answers.
    let page = request(
        &server.addr,
        None,
        "GET",
        "/setup",
        "",
        None,
        &["Accept: text/html"],
    );
    assert_eq!(page.status, 200);
}

#[test]
fn one_address_holds_only_so_many_connections_but_trusted_proxies_more() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("server.log");
    // Long timeouts: a connection closed here was refused, not timed out.
    let server = start_limited(
        dir.path(),
        &[
            "--max-connections-per-address",
            "20",
            "--header-timeout-secs",
            "60",
            "--trusted-proxies",
            "127.0.0.60",
        ],
        &log,
    );
    let capped = loopback(50);
    let held: Vec<TcpStream> = (0..20).map(|_| connect(&server.addr, capped)).collect();
    // One accept loop takes connections in the order they came: the 21st after the 20 are
    // counted.
    let mut refused = connect(&server.addr, capped);
    let start = Instant::now();
    let at = closed_by(&mut refused, start + Duration::from_secs(5))
        .expect("the 21st connection from one address is closed at once");
    assert!(at.duration_since(start) < Duration::from_secs(5));

    // Another address is served meanwhile.
    let page = request(
        &server.addr,
        loopback(51),
        "GET",
        "/setup",
        "",
        None,
        &["Accept: text/html"],
    );
    assert_eq!(page.status, 200);

    // Once the address's connections close, it may connect again.
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut s = connect(&server.addr, capped);
        s.write_all(b"GET /setup HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut head = [0u8; 12];
        if s.read_exact(&mut head).is_ok() {
            assert_eq!(&head, b"HTTP/1.1 200");
            break;
        }
        assert!(Instant::now() < deadline, "the address stayed refused");
        std::thread::sleep(Duration::from_millis(100));
    }

    // A trusted proxy carries many clients: 40 connections, and the 41st is answered.
    let proxy = loopback(60);
    let _many: Vec<TcpStream> = (0..40).map(|_| connect(&server.addr, proxy)).collect();
    let page = request(
        &server.addr,
        proxy,
        "GET",
        "/setup",
        "",
        None,
        &["Accept: text/html", "X-Forwarded-For: 198.51.100.7"],
    );
    assert_eq!(page.status, 200);
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(
        logged.contains("holds as many connections as it may"),
        "{logged}"
    );
}
