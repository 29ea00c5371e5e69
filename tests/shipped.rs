//! The shipped binary (the release build with the site embedded), run as a self-hoster runs it:
//! memory must plateau however many passwords are checked, and files lying in its working
//! directory are never served; a limited group key holds when hundreds redeem it at once.
//!
//! Run by `scripts/test.sh` with `TESSERA_BIN` naming the release binary; ignored by a plain
//! `cargo test`, whose debug binary serves the site from disk by design.

mod process;

use process::{get, post, post_from, setup_admin, sign_up_learners, start_with, Server};
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
    setup_admin(&server.addr);
    sign_up_learners(&server.addr, "soak", LEARNERS, PASSWORD, 1);
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
    assert_eq!(header(&wasm, "cache-control"), Some("no-cache"));

    // Pages load the site's files from a directory named after their contents, cached for
    // good: a returning visitor downloads nothing until the next upgrade.
    let page = get(&server.addr, "/setup", None);
    let dir = page
        .body
        .split("/pkg/")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .expect("the page names its pkg directory")
        .to_string();
    assert!(
        dir.len() == 16 && dir.bytes().all(|b| b.is_ascii_hexdigit()),
        "{dir}"
    );
    for file in ["tessera.js", "tessera.wasm", "tessera.css"] {
        assert!(
            page.body.contains(&format!("/pkg/{dir}/{file}")),
            "{file}: {}",
            page.body
        );
        let got = get(&server.addr, &format!("/pkg/{dir}/{file}"), None);
        assert_eq!(got.status, 200, "{file}");
        assert_eq!(
            header(&got, "cache-control"),
            Some("public, max-age=31536000, immutable"),
            "{file}"
        );
    }
    // Another build's directory is gone: its files are not this build's.
    let other = if dir.starts_with('0') { "1" } else { "0" }.repeat(16);
    let stale = get(&server.addr, &format!("/pkg/{other}/tessera.js"), None);
    assert_eq!(stale.status, 404);
}

/// The budget for the wasm a page loads before it is interactive (MISSION.md), gzip -9.
const WASM_BUDGET_GZIP: usize = 400 * 1024;

/// Pages are rendered on the server and only the islands are compiled to wasm, so every page
/// loads the same small bundle. It must stay within the budget: a widget that pulls a large
/// dependency, or a page component that slips into an island, fails here.
#[test]
#[ignore = "run by scripts/test.sh against the release binary"]
fn the_browser_bundle_stays_within_its_budget() {
    use std::io::Write;
    let built =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/site/pkg/tessera.wasm");
    let wasm =
        std::fs::read(&built).expect("the release build's wasm (cargo leptos build --release)");
    // The binary under test serves this very file.
    let dir = tempfile::tempdir().unwrap();
    let server = start_with(&dir.path().join("data"), &[], None);
    let served = get(&server.addr, "/pkg/tessera.wasm", None);
    assert_eq!(served.status, 200);
    assert_eq!(
        header(&served, "content-length").and_then(|l| l.parse::<usize>().ok()),
        Some(wasm.len()),
        "the served wasm is the built one"
    );
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&wasm).unwrap();
    let gzip = gz.finish().unwrap().len();
    println!(
        "browser bundle: {} bytes, {gzip} bytes gzip -9 (budget {WASM_BUDGET_GZIP})",
        wasm.len()
    );
    assert!(
        gzip <= WASM_BUDGET_GZIP,
        "the wasm is {gzip} bytes gzipped, over the budget of {WASM_BUDGET_GZIP}"
    );
}

fn header<'a>(r: &'a process::Reply, name: &str) -> Option<&'a str> {
    r.headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Copies a data directory (a store that is not open).
fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

const CRASH_USERS: usize = 5_000;
const CRASH_COURSES: usize = 10;

/// A store with an administrator (password "admin-password-1"), `CRASH_USERS` members of one
/// group and `CRASH_COURSES` courses attached to it, written directly (no server).
fn crash_fixture(dir: &std::path::Path) -> u64 {
    use argon2::password_hash::{rand_core::OsRng, PasswordHasher, SaltString};
    use tessera::model::group::{JoinedHow, KeySettings};
    use tessera::model::user::Role;
    use tessera::server::store::courses::CourseFields;
    use tessera::server::store::groups::{Actor, GroupFields};
    use tessera::server::store::users::{PasswordHash, UserFields};
    let s = tessera::server::store::Store::open(dir).unwrap();
    let salt = SaltString::generate(&mut OsRng);
    let phc = argon2::Argon2::default()
        .hash_password(b"admin-password-1", &salt)
        .unwrap()
        .to_string();
    let admin = UserFields {
        login: "admin".into(),
        email: "admin@example.org".into(),
        display_name: "Admin".into(),
        role: Role::Admin,
    };
    s.create_user(&admin, &PasswordHash::from_phc(phc), true, 0)
        .unwrap();
    let actor = Actor { user: 1, now: 1 };
    let f = GroupFields {
        name: "Crash cohort".into(),
        description: String::new(),
        branch: None,
        key: KeySettings::default(),
        is_default: false,
    };
    let g = s.create_group(actor, &f).unwrap().0.id;
    for c in 0..CRASH_COURSES {
        let f = CourseFields {
            code: format!("K{c}"),
            title: format!("Course {c}"),
            description: String::new(),
            archived: false,
        };
        let id = s.create_course(&f, 0).unwrap().id;
        s.link_group_course(actor, g, id, true).unwrap();
    }
    for i in 0..CRASH_USERS {
        let f = UserFields {
            login: format!("c{i}"),
            email: format!("c{i}@example.org"),
            display_name: format!("C {i}"),
            role: Role::Learner,
        };
        let u = s
            .create_user(&f, &PasswordHash::from_phc("$none".into()), false, 0)
            .unwrap()
            .id;
        s.add_member(actor, g, u, JoinedHow::Import).unwrap();
    }
    s.flush().unwrap();
    g
}

/// Every member is enrolled in every course of the group exactly once, with the group's sync
/// as a source once, the learner counts agree, and the job counted each pair once.
fn check_exactly_once(dir: &std::path::Path, g: u64) {
    use tessera::server::store::enrolments::Source;
    // The killed server's lock may take a moment to go.
    let mut tries = 0;
    let s = loop {
        match tessera::server::store::Store::open(dir) {
            Ok(s) => break s,
            Err(e) if tries < 100 => {
                tries += 1;
                let _ = e;
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            Err(e) => panic!("cannot open the data directory: {e}"),
        }
    };
    // Every invariant of the store holds (what `tessera check` verifies).
    let report = s.check().unwrap();
    assert!(
        report.violations.is_empty(),
        "after the crashes: {:?}",
        report.violations
    );
    let courses = s.group_course_ids_with_curricula(g).unwrap();
    assert_eq!(courses.len(), CRASH_COURSES);
    for c in &courses {
        assert_eq!(
            s.enrolled_count(*c).unwrap(),
            CRASH_USERS as u64,
            "course {c}"
        );
        let (page, total) = s.enrolments_of_course(*c, 1, 1).unwrap();
        assert_eq!(total, CRASH_USERS as u64);
        assert_eq!(page.len(), 1);
    }
    let (members, _, _) = s.list_members(g, "", 1, 100).unwrap();
    for (u, _) in members.iter().take(20) {
        for c in &courses {
            let e = s.enrolment(*u, *c).unwrap().expect("enrolled");
            assert_eq!(e.source, tessera::model::catalog::EnrolSource::GroupSync);
        }
    }
    let m = s.last_mass_enrolment(g).unwrap().expect("a mass enrolment");
    assert_eq!(
        m.job.state,
        tessera::server::store::jobs::JobState::Done,
        "{:?}",
        m.job
    );
    assert_eq!(m.job.done, CRASH_USERS as u64);
    assert_eq!(
        m.job.counts.enrolled,
        (CRASH_USERS * CRASH_COURSES) as u64,
        "each pair counted once: {:?}",
        m.job.counts
    );
    assert_eq!(m.job.counts.already, 0);
    let _ = Source::GroupSync(g);
}

/// kill -9 during a mass enrolment of 5,000 users × 10 courses, restart, let it resume: every
/// pair exactly once. `TESSERA_CRASH_ROUNDS` rounds (default 20; BENCHMARKS.md has a long run).
#[test]
#[ignore = "run by scripts/test.sh against the release binary"]
fn mass_enrolment_survives_kill_9_at_any_moment() {
    let rounds: usize = std::env::var("TESSERA_CRASH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let base = tempfile::tempdir().unwrap();
    let pristine = base.path().join("pristine");
    let g = crash_fixture(&pristine);
    // Let the store's lock go before copying.
    std::thread::sleep(std::time::Duration::from_millis(300));
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let mut killed_at = Vec::new();
    for round in 0..rounds {
        let data = base.path().join(format!("round-{round}"));
        copy_dir(&pristine, &data);
        let args = ["--job-step-pairs", "500"];
        let mut server = start_with(&data, &args, None);
        let login = post(
            &server.addr,
            "/api/login",
            "identifier=admin&password=admin-password-1",
            None,
        );
        assert_eq!(login.status, 200, "{}", login.body);
        let cookie = login.session.expect("a session");
        let started = post(
            &server.addr,
            "/api/start_mass_enrolment",
            &format!("id={g}"),
            Some(&cookie),
        );
        assert_eq!(started.status, 200, "{}", started.body);
        // A random moment within the job's first second or so.
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let wait = seed % 1_200;
        std::thread::sleep(std::time::Duration::from_millis(wait));
        server.child.kill().unwrap();
        server.child.wait().unwrap();
        drop(server);

        let server = start_with(&data, &args, None);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        let mut progress_at_restart = None;
        loop {
            let login = post(
                &server.addr,
                "/api/login",
                "identifier=admin&password=admin-password-1",
                None,
            );
            let cookie = login.session.expect("a session");
            let status = post(
                &server.addr,
                "/api/mass_enrolment_status",
                &format!("id={g}"),
                Some(&cookie),
            );
            assert_eq!(status.status, 200, "{}", status.body);
            if progress_at_restart.is_none() {
                progress_at_restart = Some(
                    status
                        .body
                        .split("\"done\":")
                        .nth(1)
                        .and_then(|r| r.split(',').next())
                        .unwrap_or("?")
                        .to_string(),
                );
            }
            if status.body.contains("\"running\":false") {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "round {round}: the job did not finish after the restart: {}",
                status.body
            );
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
        // The status is read from memory: the job's last step ("done") may still be on its way
        // to disk when it is seen, and the kill below would undo it (the job would finish again
        // at the next start). A login is flushed before it is answered, and a flush writes
        // everything written before it began: once it returns, "done" is on disk.
        let barrier = post(
            &server.addr,
            "/api/login",
            "identifier=admin&password=admin-password-1",
            None,
        );
        assert_eq!(barrier.status, 200, "{}", barrier.body);
        drop(server);
        std::thread::sleep(std::time::Duration::from_millis(200));
        check_exactly_once(&data, g);
        killed_at.push(format!(
            "{wait} ms (done at restart: {})",
            progress_at_restart.unwrap_or_default()
        ));
        std::fs::remove_dir_all(&data).ok();
    }
    eprintln!("crash rounds: killed at {}", killed_at.join(", "));
}

/// 200 distinct learners redeem a key with a maximum of 10 uses at the same instant, over HTTP
/// against the shipped binary: exactly 10 join, 190 are told it is used up (403), and the
/// counter says 10. `TESSERA_KEY_HTTP_ROUNDS` rounds (default 5; the long run is in
/// BENCHMARKS.md), each with a fresh key.
#[test]
#[ignore = "run by scripts/test.sh against the release binary"]
fn a_limited_key_holds_when_200_learners_redeem_it_at_once_over_http() {
    const RACERS: usize = 200;
    const LIMIT: usize = 10;
    let rounds: usize = std::env::var("TESSERA_KEY_HTTP_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(5);
    let dir = tempfile::tempdir().unwrap();
    let server = start_with(&dir.path().join("data"), &["--self-registration"], None);
    let addr = server.addr.clone();
    let admin = setup_admin(&addr);
    let cookies = sign_up_learners(&addr, "racer", RACERS, PASSWORD, 4);
    assert_eq!(cookies.len(), RACERS);
    for round in 0..rounds {
        let reply = post(
            &addr,
            "/api/create_group",
            &format!("name=Race+{round}&description=&branch=&key=RACE-{round:04}&max_uses={LIMIT}&valid_from=&valid_until=&key_enabled=on"),
            Some(&admin),
        );
        assert_eq!(reply.status, 200, "{}", reply.body);
        let group: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
        let id = group["group"]["id"].as_u64().unwrap();
        let barrier = std::sync::Barrier::new(RACERS);
        let statuses: Vec<u16> = std::thread::scope(|scope| {
            let handles: Vec<_> = cookies
                .iter()
                .map(|cookie| {
                    let (addr, barrier) = (&addr, &barrier);
                    scope.spawn(move || {
                        barrier.wait();
                        post(
                            addr,
                            "/api/redeem_group_key",
                            &format!("key=race-{round:04}"),
                            Some(cookie),
                        )
                        .status
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let ok = statuses.iter().filter(|s| **s == 200).count();
        let used_up = statuses.iter().filter(|s| **s == 403).count();
        assert_eq!(
            (ok, used_up),
            (LIMIT, RACERS - LIMIT),
            "round {round}: {statuses:?}"
        );
        let view = post(&addr, "/api/get_group", &format!("id={id}"), Some(&admin));
        let view: serde_json::Value = serde_json::from_str(&view.body).unwrap();
        assert_eq!(
            view["key_uses"].as_u64(),
            Some(LIMIT as u64),
            "round {round}"
        );
        assert_eq!(
            view["members"].as_u64(),
            Some(LIMIT as u64),
            "round {round}"
        );
    }
    eprintln!("key race over HTTP: {rounds} rounds of {RACERS} learners, {LIMIT} joined each time");
}
