//! The shipped binary (the release build with the site embedded), run as a self-hoster runs it:
//! memory must plateau however many passwords are checked, and files lying in its working
//! directory are never served.
//!
//! Run by `scripts/test.sh` with `TESSERA_BIN` naming the release binary; ignored by a plain
//! `cargo test`, whose debug binary serves the site from disk by design.

mod process;

use process::{get, post, post_from, start_with, Server};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

const LEARNERS: usize = 40;
const PASSWORD: &str = "soak-password-1";
/// Concurrent clients.
const CLIENTS: usize = 8;
/// RSS may grow this much between the warm-up and the end (the defect grew ~19 MiB per login).
const MARGIN_KIB: u64 = 40 * 1024;

#[derive(Clone, Copy, Debug)]
enum Kind {
    Success,
    WrongPassword,
    UnknownUser,
}

/// Sends `count` logins from `CLIENTS` threads, cycling through the three kinds and spreading
/// them over learners and loopback source addresses so no throttle bucket runs dry (every
/// attempt must reach the password check). Returns how many of each status came back.
fn login_storm(
    server: &Server,
    first: usize,
    count: usize,
) -> std::collections::BTreeMap<u16, usize> {
    let next = Arc::new(AtomicUsize::new(first));
    let end = first + count;
    let threads: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let next = Arc::clone(&next);
            let addr = server.addr.clone();
            std::thread::spawn(move || {
                let mut statuses = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= end {
                        return statuses;
                    }
                    // Requests in flight at once are for different accounts and addresses (one
                    // password check at a time per account is the throttle's rule).
                    let kind =
                        [Kind::Success, Kind::WrongPassword, Kind::UnknownUser][(i / LEARNERS) % 3];
                    let learner = i % LEARNERS;
                    let form = match kind {
                        Kind::Success => format!("identifier=soak{learner}&password={PASSWORD}"),
                        Kind::WrongPassword => {
                            format!("identifier=soak{learner}&password=wrong-{i}")
                        }
                        Kind::UnknownUser => format!("identifier=nobody{i}&password=wrong-{i}"),
                    };
                    // 127.0.1.0 .. 127.0.1.199: at most a few failures per address.
                    let from = IpAddr::V4(Ipv4Addr::new(127, 0, 1, (i % 200) as u8));
                    let reply = post_from(&addr, Some(from), "/api/login", &form, None);
                    let expected = match kind {
                        Kind::Success => 200,
                        _ => 401,
                    };
                    assert_eq!(reply.status, expected, "{kind:?} login {i}: {}", reply.body);
                    statuses.push(reply.status);
                }
            })
        })
        .collect();
    let mut counts = std::collections::BTreeMap::new();
    for t in threads {
        for status in t.join().expect("client thread") {
            *counts.entry(status).or_insert(0) += 1;
        }
    }
    counts
}

#[test]
#[ignore = "run by scripts/test.sh against the release binary"]
fn memory_plateaus_under_hundreds_of_password_checks() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = start_with(&data, &["--self-registration", "--hash-workers", "2"], None);
    let setup = post(
        &server.addr,
        "/api/setup",
        "login=admin&email=admin%40example.org&display_name=Admin&password=admin-password-1&password_confirm=admin-password-1",
        None,
    );
    assert_eq!(setup.status, 200, "{}", setup.body);
    for n in 0..LEARNERS {
        let reply = post(
            &server.addr,
            "/api/signup",
            &format!("login=soak{n}&email=soak{n}%40example.org&display_name=Soak+{n}&password={PASSWORD}&password_confirm={PASSWORD}"),
            None,
        );
        assert_eq!(reply.status, 200, "sign-up {n}: {}", reply.body);
    }
    let warm_up = login_storm(&server, 0, 50);
    let before = server.rss_kib();
    let storm = login_storm(&server, 50, 400);
    let after = server.rss_kib();
    eprintln!(
        "soak: {LEARNERS} sign-ups, then {warm_up:?} logins → RSS {} MiB, then {storm:?} → {} MiB",
        before / 1024,
        after / 1024
    );
    assert_eq!(storm.values().sum::<usize>(), 400);
    assert!(
        after <= before + MARGIN_KIB,
        "resident memory grew from {before} KiB to {after} KiB over 400 password checks"
    );
}

/// With the site inside the binary nothing is read from disk: a `target/site` folder in the
/// working directory (a stray file in it, even a stale copy of the site) is not served.
#[test]
#[ignore = "run by scripts/test.sh against the release binary"]
fn only_embedded_files_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let site = dir.path().join("target/site");
    std::fs::create_dir_all(site.join("pkg")).unwrap();
    std::fs::write(site.join("probe.txt"), "served from disk").unwrap();
    std::fs::write(site.join("pkg/tessera.css"), "/* stale from disk */").unwrap();
    let server = start_with(&dir.path().join("data"), &[], None);
    let probe = get(&server.addr, "/probe.txt", None);
    assert_eq!(probe.status, 404, "{}", probe.body);
    assert!(!probe.body.contains("served from disk"));
    let css = get(&server.addr, "/pkg/tessera.css", None);
    assert_eq!(css.status, 200);
    assert!(
        !css.body.contains("stale from disk"),
        "the embedded stylesheet"
    );
    let wasm = get(&server.addr, "/pkg/tessera.wasm", None);
    assert_eq!(wasm.status, 200, "the embedded wasm");
}
