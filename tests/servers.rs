//! Several Tessera servers on one PostgreSQL database, as a school runs them behind its proxy:
//! the release binary twice, on a database of its own on the test command's cluster.
//!
//! - A session made on one server is honoured by the other.
//! - 200 learners redeem a 10-use key at once, half on each server: exactly 10 join.
//! - Failed logins spread over both servers draw on one allowance.
//! - A mass enrolment started on one server survives `kill -9` of it and is finished by the
//!   other once its lease runs out, each pair exactly once.

mod process;

use process::{post, setup_admin, sign_up_learners, start_with, Database, Server};
use std::time::{Duration, Instant};
use tessera::server::store::{Store, StorePlace};

const PASSWORD: &str = "servers-password-1";

/// A server on `db`, its data directory (which holds nothing of the store) under `dir`.
fn server_on(db: &Database, dir: &std::path::Path, name: &str, extra: &[&str]) -> Server {
    let data = dir.join(name);
    std::fs::create_dir_all(&data).unwrap();
    let mut args = vec!["--database-url", &db.url];
    args.extend_from_slice(extra);
    start_with(&data, &args, Some(&dir.join(format!("{name}.log"))))
}

/// No server's log has a panic in it.
fn no_panics(dir: &std::path::Path) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        if entry.path().extension().is_some_and(|e| e == "log") {
            let log = std::fs::read_to_string(entry.path()).unwrap();
            assert!(!log.contains("panic"), "{}: {log}", entry.path().display());
        }
    }
}

#[test]
#[ignore = "run by scripts/test.sh against the release binary"]
fn two_servers_share_sessions_a_limited_key_and_the_login_allowance() {
    const RACERS: usize = 200;
    const LIMIT: usize = 10;
    let Some(db) = Database::new() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let a = server_on(&db, dir.path(), "a", &["--self-registration"]);
    let b = server_on(&db, dir.path(), "b", &["--self-registration"]);

    // The administrator signs up on A; B honours the session.
    let admin = setup_admin(&a.addr);
    let reply = post(
        &b.addr,
        "/api/create_group",
        &format!("name=Race&description=&branch=&key=RACE-0001&max_uses={LIMIT}&valid_from=&valid_until=&key_enabled=on"),
        Some(&admin),
    );
    assert_eq!(reply.status, 200, "a session from A on B: {}", reply.body);
    let group: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
    let id = group["group"]["id"].as_u64().unwrap();

    // Half the learners sign up on each server; each redeems on the other one.
    let mut cookies: Vec<(String, &str)> = Vec::new();
    for (server, other, prefix) in [(&a, &b, "ra"), (&b, &a, "rb")] {
        for c in sign_up_learners(&server.addr, prefix, RACERS / 2, PASSWORD, 4) {
            cookies.push((c, &other.addr));
        }
    }
    let barrier = std::sync::Barrier::new(RACERS);
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let handles: Vec<_> = cookies
            .iter()
            .map(|(cookie, addr)| {
                let barrier = &barrier;
                scope.spawn(move || {
                    barrier.wait();
                    post(addr, "/api/redeem_group_key", "key=race-0001", Some(cookie)).status
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let ok = statuses.iter().filter(|s| **s == 200).count();
    let used_up = statuses.iter().filter(|s| **s == 403).count();
    assert_eq!((ok, used_up), (LIMIT, RACERS - LIMIT), "{statuses:?}");
    for server in [&a, &b] {
        let view = post(
            &server.addr,
            "/api/get_group",
            &format!("id={id}"),
            Some(&admin),
        );
        let view: serde_json::Value = serde_json::from_str(&view.body).unwrap();
        assert_eq!(view["key_uses"].as_u64(), Some(LIMIT as u64));
        assert_eq!(view["members"].as_u64(), Some(LIMIT as u64));
    }

    // Wrong passwords for one account, alternating between the servers: one allowance (a
    // burst of 5; the 6th failure is answered 429, as on one server), not one per server
    // (two servers counting apart would answer 401 eleven times).
    let mut refused_at = None;
    for attempt in 1..=12 {
        let server = if attempt % 2 == 0 { &a } else { &b };
        let r = post(
            &server.addr,
            "/api/login",
            "identifier=ra0&password=wrong-password-1",
            None,
        );
        if r.status == 429 {
            refused_at = Some(attempt);
            break;
        }
        assert_eq!(r.status, 401, "attempt {attempt}: {}", r.body);
    }
    assert_eq!(refused_at, Some(6), "one allowance across both servers");
    drop((a, b));
    no_panics(dir.path());
}

/// Users in the group of the mass-enrolment test, and its courses.
const MASS_USERS: usize = 2_000;
const MASS_COURSES: usize = 10;

/// The administrator (password `PASSWORD`), `MASS_USERS` members of one group and
/// `MASS_COURSES` courses attached to it, written into the database directly.
fn mass_fixture(store: &Store) -> u64 {
    use argon2::password_hash::{rand_core::OsRng, PasswordHasher, SaltString};
    use tessera::model::group::{JoinedHow, KeySettings};
    use tessera::model::user::Role;
    use tessera::server::store::courses::CourseFields;
    use tessera::server::store::groups::{Actor, GroupFields};
    use tessera::server::store::users::{PasswordHash, UserFields};
    let salt = SaltString::generate(&mut OsRng);
    let phc = argon2::Argon2::default()
        .hash_password(PASSWORD.as_bytes(), &salt)
        .unwrap()
        .to_string();
    let admin = UserFields {
        login: "admin".into(),
        email: "admin@example.org".into(),
        display_name: "Admin".into(),
        role: Role::Admin,
    };
    let admin = store
        .create_user(&admin, &PasswordHash::from_phc(phc), true, 0)
        .unwrap()
        .id;
    let actor = Actor {
        user: admin,
        now: 1,
    };
    let f = GroupFields {
        name: "Two servers".into(),
        description: String::new(),
        branch: None,
        key: KeySettings::default(),
        is_default: false,
    };
    let g = store.create_group(actor, &f).unwrap().0.id;
    for c in 0..MASS_COURSES {
        let f = CourseFields {
            code: format!("S{c}"),
            title: format!("Course {c}"),
            description: String::new(),
            archived: false,
        };
        let id = store.create_course(&f, 0).unwrap().id;
        store.link_group_course(actor, g, id, true).unwrap();
    }
    std::thread::scope(|s| {
        for part in 0..4 {
            s.spawn(move || {
                for i in (part..MASS_USERS).step_by(4) {
                    let f = UserFields {
                        login: format!("m{i}"),
                        email: format!("m{i}@example.org"),
                        display_name: format!("M {i}"),
                        role: Role::Learner,
                    };
                    let u = store
                        .create_user(&f, &PasswordHash::from_phc("$none".into()), false, 0)
                        .unwrap()
                        .id;
                    store.add_member(actor, g, u, JoinedHow::Import).unwrap();
                }
            });
        }
    });
    g
}

fn status(addr: &str, cookie: &str, g: u64) -> serde_json::Value {
    let r = post(
        addr,
        "/api/mass_enrolment_status",
        &format!("id={g}"),
        Some(cookie),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    serde_json::from_str(&r.body).unwrap()
}

#[test]
#[ignore = "run by scripts/test.sh against the release binary"]
fn a_mass_enrolment_started_on_a_killed_server_is_finished_by_the_other() {
    let Some(db) = Database::new() else {
        return;
    };
    let store = Store::open_at(&StorePlace::Database {
        url: db.url.clone(),
        pool_size: 4,
    })
    .unwrap();
    let g = mass_fixture(&store);
    let dir = tempfile::tempdir().unwrap();
    let steps = ["--job-step-pairs", "500"];
    let mut a = server_on(&db, dir.path(), "a", &steps);
    let b = server_on(&db, dir.path(), "b", &steps);
    let login = |addr: &str| {
        let r = post(
            addr,
            "/api/login",
            &format!("identifier=admin&password={PASSWORD}"),
            None,
        );
        assert_eq!(r.status, 200, "{}", r.body);
        r.session.unwrap()
    };
    let (on_a, on_b) = (login(&a.addr), login(&b.addr));
    let started = post(
        &a.addr,
        "/api/start_mass_enrolment",
        &format!("id={g}"),
        Some(&on_a),
    );
    assert_eq!(started.status, 200, "{}", started.body);
    // Killed once A has done some of the work but not all of it.
    let deadline = Instant::now() + Duration::from_secs(60);
    let done_at_kill = loop {
        let s = status(&a.addr, &on_a, g);
        let done = s["done"].as_u64().unwrap_or(0);
        if done > 0 {
            break done;
        }
        assert!(Instant::now() < deadline, "A did not start the job: {s}");
        std::thread::sleep(Duration::from_millis(20));
    };
    a.child.kill().unwrap();
    a.child.wait().unwrap();
    // B takes the job over once A's lease has run out, and finishes it.
    let deadline = Instant::now() + Duration::from_secs(180);
    let finished = loop {
        let s = status(&b.addr, &on_b, g);
        if s["running"] == serde_json::Value::Bool(false) {
            break s;
        }
        assert!(Instant::now() < deadline, "B did not finish the job: {s}");
        std::thread::sleep(Duration::from_millis(250));
    };
    assert!(
        (done_at_kill as usize) < MASS_USERS,
        "A was killed after the job ended ({done_at_kill} done): nothing was shown"
    );
    assert!(finished["stopped"].is_null(), "{finished}");
    assert_eq!(
        finished["done"].as_u64(),
        Some(MASS_USERS as u64),
        "{finished}"
    );

    // Every pair exactly once, counted once, and every invariant holds.
    let report = store.check().unwrap();
    assert!(report.violations.is_empty(), "{:?}", report.violations);
    let courses = store.group_course_ids_with_curricula(g).unwrap();
    assert_eq!(courses.len(), MASS_COURSES);
    for c in &courses {
        assert_eq!(
            store.enrolled_count(*c).unwrap(),
            MASS_USERS as u64,
            "course {c}"
        );
    }
    let m = store
        .last_mass_enrolment(g)
        .unwrap()
        .expect("a mass enrolment");
    assert_eq!(m.job.done, MASS_USERS as u64);
    assert_eq!(
        m.job.counts.enrolled,
        (MASS_USERS * MASS_COURSES) as u64,
        "{:?}",
        m.job.counts
    );
    assert_eq!(m.job.counts.already, 0);
    eprintln!("A was killed with {done_at_kill} of {MASS_USERS} members done; B finished the job");
    drop(b);
    no_panics(dir.path());
}
