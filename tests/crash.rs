//! The crash harness: the real server on a temporary data directory, a mix of mutations over
//! HTTP (accounts, groups, members added by hand, key redemptions with their enrolments, lesson
//! completions, messages to a group; the mass enrolment's own crash test is in `shipped.rs`), `kill -9` at a random moment, then `tessera check` on the directory (every
//! invariant holds) and a restart in which every write the server acknowledged before the
//! kill is read back over HTTP.
//!
//! `TESSERA_CRASH_CYCLES` cycles (50 by default, in the test command), each checked offline;
//! a long run checks every `TESSERA_CRASH_CHECK_EVERY`-th cycle (and the last), e.g.
//! `TESSERA_CRASH_CYCLES=1000 TESSERA_CRASH_CHECK_EVERY=10 cargo test --release --features ssr
//! --test crash -- --nocapture`, and prints its figures for BENCHMARKS.md. Every cycle still
//! reads back every acknowledged write.

mod process;

use process::{log_in, post, setup_admin, start, start_with, try_post, Database, ADMIN_PASSWORD};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const KEY: &str = "CRASH-KEY-1";
const PASSWORD: &str = "learner-pass-1";

/// A write the server acknowledged (answered 200).
#[derive(Debug, Clone)]
enum Ack {
    User(String),
    /// A group made by the administrator, with the learner added to it by hand.
    Group(String),
    Member(String),
    Lesson(String),
    Message(String),
}

/// Where the mutations go: the server, the administrator's session, and the group, course and
/// lesson set up before the first cycle.
#[derive(Clone)]
struct School {
    addr: String,
    admin: String,
    group: u64,
    course: u64,
    lesson: u64,
}

/// What a cycle's worker saw: acknowledged writes, and answers that should not have come.
#[derive(Default)]
struct Log {
    acks: Mutex<Vec<Ack>>,
    unexpected: Mutex<Vec<String>>,
}

fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

fn ok(reply: &process::Reply, what: &str) -> serde_json::Value {
    assert_eq!(reply.status, 200, "{what}: {}", reply.body);
    json(&reply.body)
}

/// `tessera check` on the (stopped) server's data directory: panics unless every invariant
/// holds.
fn check_offline(data: &std::path::Path, db: Option<&Database>, cycle: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut check = std::process::Command::new(process::binary());
        match db {
            Some(db) => check.args(["check", "--database-url", &db.url]),
            None => check.args(["check", "--data-dir"]).arg(data),
        };
        let out = check
            .current_dir(data.parent().unwrap())
            .env("RUST_LOG", "warn")
            .output()
            .expect("run tessera check");
        let code = out.status.code().unwrap_or(-1);
        // 4: the killed server's lock has not gone yet.
        if code == 4 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
            continue;
        }
        assert_eq!(
            code,
            0,
            "cycle {cycle}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        return;
    }
}

/// One round of mutations by a new learner; each acknowledged write is recorded at once.
/// Returns false when the server stopped answering.
fn mutate(school: &School, login: &str, message: bool, log: &Log) -> bool {
    let (addr, admin) = (school.addr.as_str(), Some(school.admin.as_str()));
    let (group, course, lesson) = (school.group, school.course, school.lesson);
    // The reply when answered 200; `None` when the server is gone (killed) or answered
    // otherwise (recorded as unexpected).
    let call = |path: &str, form: &str, cookie: Option<&str>| -> Option<process::Reply> {
        let r = try_post(addr, path, form, cookie).ok()?;
        if r.status != 200 {
            log.unexpected
                .lock()
                .unwrap()
                .push(format!("{path} {login}: {} {}", r.status, r.body));
            return None;
        }
        Some(r)
    };
    let record = |a: Ack| log.acks.lock().unwrap().push(a);
    let form = format!(
        "login={login}&email={login}%40example.org&display_name=Learner+{login}&role=learner&password={PASSWORD}&password_confirm={PASSWORD}"
    );
    let Some(created) = call("/api/create_user", &form, admin) else {
        return false;
    };
    record(Ack::User(login.to_string()));
    let uid = json(&created.body)["id"].as_u64().unwrap_or(0);
    let form = format!("identifier={login}&password={PASSWORD}");
    let Some(learner) = call("/api/login", &form, None).and_then(|r| r.session) else {
        return false;
    };
    if call(
        "/api/redeem_group_key",
        &format!("key={KEY}"),
        Some(&learner),
    )
    .is_none()
    {
        return false;
    }
    record(Ack::Member(login.to_string()));
    let form = format!("course={course}&lesson={lesson}&done=true");
    if call("/api/mark_lesson", &form, Some(&learner)).is_none() {
        return false;
    }
    record(Ack::Lesson(login.to_string()));
    if message {
        let form = format!(
            "name=Group+{login}&description=&branch=&key=&max_uses=0&valid_from=&valid_until="
        );
        let Some(made) = call("/api/create_group", &form, admin) else {
            return false;
        };
        let g = json(&made.body)["group"]["id"].as_u64().unwrap_or(0);
        if call(
            "/api/add_group_member",
            &format!("id={g}&user={uid}"),
            admin,
        )
        .is_none()
        {
            return false;
        }
        record(Ack::Group(login.to_string()));
        let form = format!("id={group}&subject=For+{login}&body=Hello");
        if call("/api/send_group_message", &form, admin).is_none() {
            return false;
        }
        record(Ack::Message(format!("For {login}")));
    }
    true
}

/// Reads `acks` back over HTTP from the restarted server: each user, membership, completed
/// lesson and message is there.
fn verify(school: &School, acks: &[Ack], cycle: usize) {
    let School {
        addr,
        admin,
        group,
        course,
        lesson,
    } = school;
    let (addr, admin, lesson) = (addr.as_str(), Some(admin.as_str()), *lesson);
    let subjects: Vec<String> = {
        let r = post(
            addr,
            "/api/group_messages",
            &format!("id={group}&page=1"),
            admin,
        );
        ok(&r, "group_messages")["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["subject"].as_str().unwrap_or("").to_string())
            .collect()
    };
    // Whether the rows `path` answers for `form` include `login`.
    let lists = |path: &str, form: &str, login: &str| -> bool {
        ok(&post(addr, path, form, admin), path)["rows"]
            .as_array()
            .unwrap()
            .iter()
            .any(|row| row["login"] == login)
    };
    for ack in acks {
        match ack {
            Ack::User(login) => assert!(
                lists("/api/list_users", &format!("query={login}&page=1"), login),
                "cycle {cycle}: acknowledged user {login} is missing"
            ),
            Ack::Member(login) => assert!(
                lists(
                    "/api/list_group_members",
                    &format!("id={group}&query={login}&page=1"),
                    login
                ),
                "cycle {cycle}: acknowledged membership of {login} is missing"
            ),
            Ack::Lesson(login) => {
                let learner = log_in(addr, login, PASSWORD);
                let r = post(
                    addr,
                    "/api/course_for_learner",
                    &format!("id={course}"),
                    Some(&learner),
                );
                let view = ok(&r, "course_for_learner");
                assert!(
                    view["done"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|d| d.as_u64() == Some(lesson)),
                    "cycle {cycle}: acknowledged completion by {login} is missing: {view}"
                );
            }
            Ack::Group(login) => {
                let r = post(
                    addr,
                    "/api/list_groups",
                    &format!("query=Group+{login}&sort=name&page=1"),
                    admin,
                );
                let rows = ok(&r, "list_groups")["rows"].clone();
                let g = rows
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|g| g["name"] == format!("Group {login}").as_str())
                    .unwrap_or_else(|| {
                        panic!("cycle {cycle}: acknowledged group of {login} is missing: {rows}")
                    });
                assert_eq!(
                    g["members"], 1,
                    "cycle {cycle}: the member added by hand to {g}"
                );
            }
            Ack::Message(subject) => assert!(
                subjects.contains(subject),
                "cycle {cycle}: acknowledged message {subject} is missing: {subjects:?}"
            ),
        }
    }
}

#[test]
fn acknowledged_writes_survive_kill_9_and_every_invariant_holds() {
    let cycles: usize = std::env::var("TESSERA_CRASH_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    crash_cycles(cycles, None);
}

/// The same on PostgreSQL: the server is killed, the database keeps running, and what the
/// server acknowledged is there when it starts again. `TESSERA_CRASH_PG_CYCLES` cycles (15 by
/// default, in the test command).
#[test]
fn acknowledged_writes_survive_kill_9_on_postgresql() {
    let Some(db) = Database::new() else {
        return;
    };
    let cycles: usize = std::env::var("TESSERA_CRASH_PG_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(15);
    crash_cycles(cycles, Some(&db));
}

/// `cycles` rounds of mutations and `kill -9` on the store in `db` (the embedded one in a
/// temporary directory when `None`).
fn crash_cycles(cycles: usize, db: Option<&Database>) {
    let start = |data: &std::path::Path| match db {
        Some(db) => start_with(data, &["--database-url", &db.url], None),
        None => start(data),
    };
    let check_every: usize = std::env::var("TESSERA_CRASH_CHECK_EVERY")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
        .max(1);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let started = Instant::now();

    // The school: a course of two lessons given by a group with an unlimited key.
    let (group, course, lesson) = {
        let server = start(&data);
        let admin = setup_admin(&server.addr);
        let c = ok(
            &post(
                &server.addr,
                "/api/create_course",
                "code=CR-1&title=Crash+course&description=",
                Some(&admin),
            ),
            "create_course",
        )["id"]
            .as_u64()
            .unwrap();
        let mut lessons = Vec::new();
        for title in ["One", "Two"] {
            let r = post(
                &server.addr,
                "/api/change_lesson",
                &format!("course={c}&op=add&title={title}&text=Text"),
                Some(&admin),
            );
            lessons = ok(&r, "change_lesson").as_array().unwrap().clone();
        }
        let g = ok(
            &post(
                &server.addr,
                "/api/create_group",
                &format!("name=Crash&description=&branch=&key={KEY}&key_enabled=on&max_uses=0&valid_from=&valid_until="),
                Some(&admin),
            ),
            "create_group",
        )["group"]["id"]
            .as_u64()
            .unwrap();
        ok(
            &post(
                &server.addr,
                "/api/change_group_link",
                &format!("id={g}&kind=course&target={c}&op=add"),
                Some(&admin),
            ),
            "change_group_link",
        );
        (g, c, lessons[0]["id"].as_u64().unwrap())
    };

    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let (mut total_acks, mut killed_at, mut checks) = (0usize, Vec::new(), 0usize);
    for cycle in 0..cycles {
        let server = start(&data);
        let addr = server.addr.clone();
        let admin = log_in(&addr, "admin", ADMIN_PASSWORD);
        let school = School {
            addr: addr.clone(),
            admin,
            group,
            course,
            lesson,
        };
        let log = Arc::new(Log::default());
        let worker = {
            let (school, log) = (school.clone(), log.clone());
            std::thread::spawn(move || {
                for i in 0.. {
                    if !mutate(&school, &format!("c{cycle}n{i}"), i % 2 == 0, &log) {
                        return;
                    }
                }
            })
        };
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let wait = 50 + seed % 450;
        std::thread::sleep(Duration::from_millis(wait));
        // No graceful shutdown, no final flush.
        drop(server);
        worker.join().unwrap();
        killed_at.push(wait);
        let unexpected = log.unexpected.lock().unwrap().clone();
        assert_eq!(unexpected, Vec::<String>::new(), "cycle {cycle}");
        let acks = log.acks.lock().unwrap().clone();
        total_acks += acks.len();

        if cycle % check_every == 0 {
            check_offline(&data, db, cycle);
            checks += 1;
        }
        let server = start(&data);
        let school = School {
            addr: server.addr.clone(),
            admin: log_in(&server.addr, "admin", ADMIN_PASSWORD),
            ..school
        };
        verify(&school, &acks, cycle);
        if (cycle + 1) % 100 == 0 {
            eprintln!(
                "crash harness: {} cycles, {total_acks} acknowledged writes read back, {:.1} s",
                cycle + 1,
                started.elapsed().as_secs_f64()
            );
        }
    }
    check_offline(&data, db, cycles);
    eprintln!(
        "crash harness ({}): {cycles} cycles of kill -9 (after {} to {} ms), {total_acks} acknowledged writes read back, {} offline checks, 0 invariant violations, {:.1} s",
        if db.is_some() { "PostgreSQL" } else { "sled" },
        killed_at.iter().min().unwrap_or(&0),
        killed_at.iter().max().unwrap_or(&0),
        checks + 1,
        started.elapsed().as_secs_f64()
    );
}
