//! Mass enrolment of 10,000 users × 10 courses: its rate against raw sled batches writing the
//! same number of records, and what it does to other requests while it runs.
//!
//! 1. In this process: a store with 10,000 members of one group and 10 courses attached; the
//!    mass enrolment run step by step as the job runner runs it (each step flushed), against a
//!    bare sled database taking 100,000 records of the same size in batches of 1,000 (then one
//!    flush): the most sled can write. Both run [`ROUNDS`] times, each side's fastest round
//!    reported.
//! 2. The real server binary on a copy of that store: the mass enrolment started over HTTP
//!    while another client requests a signed-in page (`/groups`) every 20 ms; the page's
//!    latency while the job runs.
//!
//! 3. When `TESSERA_TEST_DATABASE_URL` names a PostgreSQL cluster: the same store built on a
//!    database of its own there, the same mass enrolment step by step in this process (one
//!    round), then the same server run (`--database-url`) on a second such database.
//!
//! Prints its section of BENCHMARKS.md: `bash scripts/bench.sh mass`.

#[path = "../tests/process/mod.rs"]
mod process;

use std::path::Path;
use std::time::{Duration, Instant};
use tessera::model::group::{JoinedHow, KeySettings};
use tessera::model::user::Role;
use tessera::server::store::courses::CourseFields;
use tessera::server::store::groups::{Actor, GroupFields};
use tessera::server::store::jobs::Step;
use tessera::server::store::users::{PasswordHash, UserFields};
use tessera::server::store::{Store, StorePlace};

const USERS: usize = 10_000;
const COURSES: usize = 10;
const PAIRS: usize = USERS * COURSES;
/// Rounds of (raw sled, mass enrolment). On the shared 2-core machine one round's ratio ranged
/// from 0.30× to 0.90× for one build in one hour (2026-12-06, other builds running; raw sled,
/// with its single large flush, swung most): a single round cannot show a change of 10%.
const ROUNDS: usize = 5;

fn build(dir: &Path) -> u64 {
    build_in(&Store::open(dir).expect("open"))
}

/// A store on a PostgreSQL database of its own (dropped with the returned guard).
fn on_postgres() -> Option<(process::Database, Store)> {
    let db = process::Database::new()?;
    let place = StorePlace::Database {
        url: db.url.clone(),
        pool_size: 8,
    };
    let s = Store::open_at(&place).expect("open the PostgreSQL store");
    Some((db, s))
}

/// The bench's school in `s`: the administrator, the group, its courses and members.
fn build_in(s: &Store) -> u64 {
    use argon2::password_hash::{rand_core::OsRng, PasswordHasher, SaltString};
    let salt = SaltString::generate(&mut OsRng);
    let phc = argon2::Argon2::default()
        .hash_password(b"admin-password-1", &salt)
        .expect("hash")
        .to_string();
    let admin = UserFields {
        login: "admin".into(),
        email: "admin@example.org".into(),
        display_name: "Admin".into(),
        role: Role::Admin,
    };
    s.create_user(&admin, &PasswordHash::from_phc(phc), true, 0)
        .expect("admin");
    let actor = Actor { user: 1, now: 1 };
    let f = GroupFields {
        name: "Everyone".into(),
        description: String::new(),
        branch: None,
        key: KeySettings::default(),
        is_default: false,
    };
    let g = s.create_group(actor, &f).expect("group").0.id;
    for c in 0..COURSES {
        let f = CourseFields {
            code: format!("M{c}"),
            title: format!("Course {c}"),
            description: String::new(),
            archived: false,
        };
        let id = s.create_course(&f, 0).expect("course").id;
        s.link_group_course(actor, g, id, true).expect("link");
    }
    let hash = PasswordHash::from_phc("$none".into());
    let entries: Vec<(u32, String)> = (0..USERS)
        .map(|i| {
            let f = UserFields {
                login: format!("u{i}"),
                email: format!("u{i}@example.org"),
                display_name: format!("User {i}"),
                role: Role::Learner,
            };
            s.create_user(&f, &hash, false, 0).expect("user");
            (i as u32 + 1, format!("u{i}"))
        })
        .collect();
    let added = s.bulk_add_members(actor, g, &entries).expect("members");
    assert_eq!(added.added as usize, USERS);
    let _ = JoinedHow::Import;
    s.flush().expect("flush");
    g
}

/// Raw sled: `PAIRS` records shaped like enrolments (16-byte key, ~20-byte value) in batches of
/// 1,000, then one flush. Returns records per second.
fn raw_sled_rate() -> f64 {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = sled::open(dir.path()).expect("sled");
    let tree = db.open_tree("enrolments").expect("tree");
    let value = [2u8, 8, 1, 2, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    let t = Instant::now();
    let mut batch = sled::Batch::default();
    for i in 0..PAIRS as u64 {
        let mut key = [0u8; 16];
        key[..8].copy_from_slice(&(i / COURSES as u64).to_be_bytes());
        key[8..].copy_from_slice(&(i % COURSES as u64).to_be_bytes());
        batch.insert(&key[..], &value[..]);
        if (i + 1) % 1_000 == 0 {
            tree.apply_batch(std::mem::take(&mut batch)).expect("batch");
        }
    }
    tree.apply_batch(batch).expect("batch");
    db.flush().expect("flush");
    PAIRS as f64 / t.elapsed().as_secs_f64()
}

/// The mass enrolment in this process, each step flushed as the runner does. Returns
/// (pairs per second, steps).
fn mass_rate(dir: &Path, g: u64) -> (f64, u64) {
    mass_rate_in(&Store::open(dir).expect("open"), g)
}

/// [`mass_rate`] on an open store.
fn mass_rate_in(s: &Store, g: u64) -> (f64, u64) {
    let t = Instant::now();
    let job = s
        .start_mass_enrolment(Actor { user: 1, now: 2 }, g)
        .expect("start");
    let mut steps = 0;
    while s.run_job_step(job, 3).expect("step") == Step::More {
        s.flush().expect("flush");
        steps += 1;
    }
    s.flush().expect("flush");
    let rec = s.get_job(job).expect("job").expect("job record");
    assert_eq!(rec.counts.enrolled as usize, PAIRS, "{:?}", rec.counts);
    (PAIRS as f64 / t.elapsed().as_secs_f64(), steps)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("dir");
    for e in std::fs::read_dir(from).expect("read dir") {
        let e = e.expect("entry");
        let target = to.join(e.file_name());
        if e.file_type().expect("type").is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).expect("copy");
        }
    }
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

/// The server on `dir`: starts the mass enrolment over HTTP and requests `/groups` every 20 ms
/// until it has finished. Returns (job seconds, page latencies while it ran, before it).
fn under_load(dir: &Path, extra: &[&str], g: u64) -> (f64, Vec<Duration>, Vec<Duration>) {
    let server = process::start_with(dir, extra, None);
    let login = process::post(
        &server.addr,
        "/api/login",
        "identifier=admin&password=admin-password-1",
        None,
    );
    let cookie = login.session.expect("a session");
    let page = |c: &str| {
        let t = Instant::now();
        let r = process::get(&server.addr, "/groups", Some(c));
        assert_eq!(r.status, 200);
        t.elapsed()
    };
    let mut quiet: Vec<Duration> = (0..100)
        .map(|_| {
            let d = page(&cookie);
            std::thread::sleep(Duration::from_millis(20));
            d
        })
        .collect();
    quiet.sort();
    let t = Instant::now();
    let started = process::post(
        &server.addr,
        "/api/start_mass_enrolment",
        &format!("id={g}"),
        Some(&cookie),
    );
    assert_eq!(started.status, 200, "{}", started.body);
    let mut during = Vec::new();
    let mut last_check = Instant::now();
    loop {
        during.push(page(&cookie));
        if last_check.elapsed() > Duration::from_millis(250) {
            last_check = Instant::now();
            let s = process::post(
                &server.addr,
                "/api/mass_enrolment_status",
                &format!("id={g}"),
                Some(&cookie),
            );
            if s.body.contains("\"running\":false") {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let secs = t.elapsed().as_secs_f64();
    during.sort();
    (secs, during, quiet)
}

fn main() {
    let base = tempfile::tempdir().expect("temp dir");
    let pristine = base.path().join("pristine");
    let t = Instant::now();
    let g = build(&pristine);
    eprintln!("built the store in {:.0} s", t.elapsed().as_secs_f64());
    std::thread::sleep(Duration::from_millis(300));
    // Each round: raw sled, then the mass enrolment on a fresh copy of the store. Other work
    // on the machine only ever slows a run down, so each side's fastest round is the closest
    // to its own cost, and their ratio is the figure; the rounds' own ratios show the spread.
    let rounds: Vec<(f64, f64, u64)> = (0..ROUNDS)
        .map(|i| {
            let in_process = base.path().join(format!("in-process-{i}"));
            copy_dir(&pristine, &in_process);
            let raw = raw_sled_rate();
            let (mass, steps) = mass_rate(&in_process, g);
            std::fs::remove_dir_all(&in_process).expect("remove a round's copy");
            (raw, mass, steps)
        })
        .collect();
    let raw = rounds.iter().map(|r| r.0).fold(0.0, f64::max);
    let mass = rounds.iter().map(|r| r.1).fold(0.0, f64::max);
    let steps = rounds[0].2;
    let mut ratios: Vec<f64> = rounds.iter().map(|r| r.1 / r.0).collect();
    ratios.sort_by(f64::total_cmp);
    let served = base.path().join("served");
    copy_dir(&pristine, &served);
    let (secs, during, quiet) = under_load(&served, &[], g);
    // PostgreSQL: one database built and enrolled in process, a second built for the server.
    let pg = on_postgres().map(|(_db, s)| {
        let t = Instant::now();
        let g = build_in(&s);
        let built = t.elapsed().as_secs_f64();
        let (rate, steps) = mass_rate_in(&s, g);
        (built, rate, steps)
    });
    let pg_served = on_postgres().map(|(db, s)| {
        let g = build_in(&s);
        drop(s);
        let data = base.path().join("pg-served");
        std::fs::create_dir_all(&data).expect("data directory");
        under_load(&data, &["--database-url", &db.url], g)
    });

    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!("## Mass enrolment: {USERS} users × {COURSES} courses\n");
    println!("```\nbash scripts/bench.sh mass\n```\n");
    println!(
        "Machine: {cores} logical cores. One group of {USERS} members with {COURSES} courses \
         attached. \"Raw sled\" writes {PAIRS} records of the same size as enrolments (16-byte \
         keys) with `apply_batch` in batches of 1,000 and one flush at the end: the most sled can \
         write, with none of the work an enrolment needs. The mass enrolment runs as the job \
         runner runs it: steps of {} pairs, each one transaction (reading the members, their \
         user records, the group's courses and every existing enrolment; writing the enrolment, \
         the course's learner index, the counters and the job's cursor) and each flushed. Then \
         the real server on a copy of the store: the same job started over HTTP while another \
         client requests a signed-in page (`/groups`, server-rendered) every 20 ms.\n",
        tessera::server::store::mass::PAIRS_PER_STEP
    );
    println!("| | figure |\n|---|--:|");
    println!(
        "| raw sled batches (fastest of {ROUNDS} rounds) | {:.0} records/s |",
        raw
    );
    println!(
        "| mass enrolment (in process, {steps} steps; fastest of {ROUNDS} rounds) | {:.0} pairs/s ({:.2}× raw sled; each round's own ratio {:.2}–{:.2}×, median {:.2}×; target ≥ 0.5×) |",
        mass,
        mass / raw,
        ratios[0],
        ratios[ROUNDS - 1],
        ratios[ROUNDS / 2]
    );
    println!(
        "| mass enrolment through the server | {:.1} s for {PAIRS} pairs ({:.0} pairs/s) |",
        secs,
        PAIRS as f64 / secs
    );
    println!(
        "| `/groups` before the job: p50 / p99 ({} requests) | {:.1} / {:.1} ms |",
        quiet.len(),
        pct(&quiet, 0.5),
        pct(&quiet, 0.99)
    );
    println!(
        "| `/groups` while the job runs: p50 / p99 / max ({} requests) | {:.1} / {:.1} / {:.1} ms (target p99 < 100 ms) |",
        during.len(),
        pct(&during, 0.5),
        pct(&during, 0.99),
        during.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    );
    match (pg, pg_served) {
        (Some((built, rate, pg_steps)), Some((pg_secs, pg_during, pg_quiet))) => {
            println!(
                "\nThe same on PostgreSQL (a local cluster on the same machine, so the database \
                 server shares the 2 cores; one database per run, built through the store in \
                 {built:.0} s; one round):\n"
            );
            println!("| | sled | PostgreSQL |\n|---|--:|--:|");
            println!(
                "| mass enrolment in process | {mass:.0} pairs/s ({steps} steps, fastest of {ROUNDS}) | {rate:.0} pairs/s ({pg_steps} steps, one round) |"
            );
            println!(
                "| mass enrolment through the server | {secs:.1} s ({:.0} pairs/s) | {pg_secs:.1} s ({:.0} pairs/s) |",
                PAIRS as f64 / secs,
                PAIRS as f64 / pg_secs
            );
            println!(
                "| `/groups` before the job: p50 / p99 | {:.1} / {:.1} ms | {:.1} / {:.1} ms |",
                pct(&quiet, 0.5),
                pct(&quiet, 0.99),
                pct(&pg_quiet, 0.5),
                pct(&pg_quiet, 0.99)
            );
            println!(
                "| `/groups` while the job runs: p50 / p99 | {:.1} / {:.1} ms | {:.1} / {:.1} ms |",
                pct(&during, 0.5),
                pct(&during, 0.99),
                pct(&pg_during, 0.5),
                pct(&pg_during, 0.99)
            );
        }
        _ => println!("\nPostgreSQL: not run (`TESSERA_TEST_DATABASE_URL` unset)."),
    }
    println!();
}
