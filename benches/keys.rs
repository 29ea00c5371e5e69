//! Group key redemptions per second with 64 concurrent HTTP clients, against a bare axum
//! endpoint doing one equivalent sled transaction with the same durability; and a limited key
//! raced for by 64 learners at once, round after round, counting over-redemptions. The same
//! Tessera run is made on sled, on PostgreSQL, and on two servers sharing one PostgreSQL
//! database (clients alternating between them), when `TESSERA_TEST_DATABASE_URL` names a
//! cluster (a database of its own is made there for each run and dropped after).
//!
//! Tessera runs as its own process (`TESSERA_BIN`, else the binary cargo built for this bench).
//! An administrator makes a group whose key has no limit and gives one course; 64 ×
//! `TESSERA_BENCH_PER_CLIENT` (default 100) learners sign up (and so are logged in). Then 64
//! client threads, released together, each redeem the key as its own learners one after the
//! other (a new connection per request), so every redemption is a distinct learner's. The bare
//! endpoint, in this process, gets the same requests from the same client code: one sled
//! transaction over the same kinds of trees (key lookup, group record and counters, membership
//! both ways, enrolment both ways, redemption record, audit line), acknowledged after the flush
//! of a group commit, as Tessera acknowledges. Prints a Markdown section for BENCHMARKS.md:
//! `bash scripts/bench.sh keys`.

#[path = "../tests/process/mod.rs"]
mod process;

use process::{ms, percentile, post, setup_admin, sign_up_learners, start_with, Database, Server};
use std::sync::Barrier;
use std::time::{Duration, Instant};

const CLIENTS: usize = 64;
const PASSWORD: &str = "bench-password-1";
/// Uses of the limited key, and rounds of the race for it.
const LIMIT: usize = 10;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// What one side of the comparison did.
struct Run {
    ok: usize,
    other: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

impl Run {
    fn per_sec(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64()
    }
}

/// `CLIENTS` threads, released together, client `c` sending the forms `work[c]` (with their
/// cookies) to `path` on `addrs[c % addrs.len()]` one after the other, until done or `secs`
/// have passed; a 200 counts. Answers other than 200 are printed (the first few per client)
/// unless `quiet`.
fn storm(
    addrs: &[String],
    path: &str,
    work: &[Vec<(Option<String>, String)>],
    secs: u64,
    quiet: bool,
) -> Run {
    let barrier = Barrier::new(CLIENTS);
    let started = std::sync::OnceLock::new();
    let results: Vec<(Vec<Duration>, usize)> = std::thread::scope(|scope| {
        let handles: Vec<_> = work
            .iter()
            .enumerate()
            .map(|(c, forms)| {
                let (barrier, started) = (&barrier, &started);
                let addr = addrs[c % addrs.len()].as_str();
                scope.spawn(move || {
                    barrier.wait();
                    let end = *started.get_or_init(Instant::now) + Duration::from_secs(secs);
                    let (mut times, mut other) = (Vec::new(), 0);
                    for (cookie, form) in forms {
                        if Instant::now() >= end {
                            break;
                        }
                        let t = Instant::now();
                        let reply = post(addr, path, form, cookie.as_deref());
                        if reply.status == 200 {
                            times.push(t.elapsed());
                        } else {
                            other += 1;
                            if other < 3 && !quiet {
                                eprintln!("{path}: {} {}", reply.status, reply.body);
                            }
                        }
                    }
                    (times, other)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let elapsed = started.get().expect("started").elapsed();
    let mut latencies: Vec<Duration> = results.iter().flat_map(|(t, _)| t.clone()).collect();
    latencies.sort();
    Run {
        ok: latencies.len(),
        other: results.iter().map(|(_, o)| o).sum(),
        elapsed,
        latencies,
    }
}

fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

/// A limited-key race: redeemed, refused, the key's use counter after.
type Race = (usize, usize, u64);
/// One row of the comparison table: its name and how a run's cell reads.
type Row<'a> = (&'a str, &'a dyn Fn(&Run) -> String);

/// Where a Tessera run keeps its data.
enum Backend<'a> {
    Sled,
    /// `servers` processes on this database.
    Postgres {
        db: &'a Database,
        servers: usize,
    },
}

/// Tessera itself: set-up, learners, groups; then the storm, then the limited-key races. With
/// several servers, set-up and sign-ups go to the first; the storms alternate between them.
fn tessera(backend: Backend, per_client: usize, secs: u64, rounds: usize) -> (Run, Vec<Race>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let servers: Vec<Server> = match backend {
        Backend::Sled => vec![start_with(
            &dir.path().join("data"),
            &["--self-registration"],
            None,
        )],
        Backend::Postgres { db, servers } => (0..servers)
            .map(|i| {
                // The data directory holds nothing of the store here.
                let data = dir.path().join(format!("data{i}"));
                std::fs::create_dir_all(&data).expect("data directory");
                start_with(
                    &data,
                    &["--self-registration", "--database-url", &db.url],
                    None,
                )
            })
            .collect(),
    };
    let addrs: Vec<String> = servers.iter().map(|s| s.addr.clone()).collect();
    let addr = addrs[0].clone();
    let admin = setup_admin(&addr);
    let admin = Some(admin.as_str());
    let course = json(
        &post(
            &addr,
            "/api/create_course",
            "code=BENCH-1&title=Bench&description=",
            admin,
        )
        .body,
    )["id"]
        .as_u64()
        .unwrap();
    let group = |name: &str, key: &str, max: usize| {
        let reply = post(
            &addr,
            "/api/create_group",
            &format!("name={name}&description=&branch=&key={key}&max_uses={max}&valid_from=&valid_until=&key_enabled=on"),
            admin,
        );
        assert_eq!(reply.status, 200, "{}", reply.body);
        let id = json(&reply.body)["group"]["id"].as_u64().unwrap();
        let link = post(
            &addr,
            "/api/change_group_link",
            &format!("id={id}&kind=course&target={course}&op=add"),
            admin,
        );
        assert_eq!(link.status, 200, "{}", link.body);
        id
    };
    group("Open", "OPEN-KEY-2026", 0);
    let learners = CLIENTS * per_client;
    eprintln!("keys bench: signing up {learners} learners");
    let cookies = sign_up_learners(&addr, "bench", learners, PASSWORD, 8);
    let work: Vec<Vec<(Option<String>, String)>> = cookies
        .chunks(per_client)
        .map(|mine| {
            mine.iter()
                .map(|c| (Some(c.clone()), "key=+open-key-2026+".to_string()))
                .collect()
        })
        .collect();
    eprintln!("keys bench: Tessera storm");
    let run = storm(&addrs, "/api/redeem_group_key", &work, secs, false);

    // Races for a limited key: the first learner of each client, all at once, `rounds` times.
    let mut races = Vec::new();
    for r in 0..rounds {
        let id = group(&format!("Limited+{r}"), &format!("LIMIT-{r:04}"), LIMIT);
        let work: Vec<_> = work
            .iter()
            .map(|mine| vec![(mine[0].0.clone(), format!("key=limit-{r:04}"))])
            .collect();
        let race = storm(&addrs, "/api/redeem_group_key", &work, 60, true);
        let view = json(&post(&addr, "/api/get_group", &format!("id={id}"), admin).body);
        races.push((race.ok, race.other, view["key_uses"].as_u64().unwrap()));
    }
    (run, races)
}

/// The bare endpoint: axum and sled, nothing else.
mod bare {
    use axum::extract::State;
    use axum::http::StatusCode;
    use axum::{routing::post, Form, Router};
    use sled::Transactional;
    use tessera::server::flusher::{Flushable, Flusher};
    use tessera::server::store::BackendError;

    /// The bare database, flushed by Tessera's group commit.
    #[derive(Clone)]
    pub struct Bare(std::sync::Arc<sled::Db>);

    impl Flushable for Bare {
        fn flush_now(&self) -> Result<(), BackendError> {
            self.0.flush().map(drop).map_err(BackendError::from)
        }

        fn same_as(&self, other: &Self) -> bool {
            std::sync::Arc::ptr_eq(&self.0, &other.0)
        }
    }

    #[derive(serde::Deserialize)]
    pub struct Redeem {
        user: u64,
        key: String,
    }

    #[derive(Clone)]
    pub struct Trees {
        db: sled::Db,
        keys: sled::Tree,
        groups: sled::Tree,
        members: sled::Tree,
        user_groups: sled::Tree,
        enrolments: sled::Tree,
        course_users: sled::Tree,
        redemptions: sled::Tree,
        audit: sled::Tree,
        flusher: Flusher<Bare>,
        bare: Bare,
    }

    fn pair(a: u64, b: u64) -> Vec<u8> {
        [a.to_be_bytes(), b.to_be_bytes()].concat()
    }

    /// One key → its group, the group → (members, uses, course), as Tessera has them.
    pub fn open(dir: &std::path::Path, flusher: impl Fn() -> Flusher<Bare>) -> Trees {
        // The same page cache as Tessera's default.
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(tessera::server::store::DEFAULT_CACHE_MB * 1024 * 1024)
            .open()
            .expect("sled");
        let t = |n: &str| db.open_tree(n).expect("tree");
        let trees = Trees {
            keys: t("keys"),
            groups: t("groups"),
            members: t("members"),
            user_groups: t("user_groups"),
            enrolments: t("enrolments"),
            course_users: t("course_users"),
            redemptions: t("redemptions"),
            audit: t("audit"),
            flusher: flusher(),
            bare: Bare(std::sync::Arc::new(db.clone())),
            db,
        };
        trees
            .keys
            .insert("OPEN-KEY-2026", &1u64.to_be_bytes())
            .unwrap();
        trees.groups.insert(1u64.to_be_bytes(), &[0u8; 24]).unwrap();
        trees.db.flush().unwrap();
        trees
    }

    async fn redeem(State(trees): State<Trees>, Form(r): Form<Redeem>) -> (StatusCode, String) {
        let (flusher, bare) = (trees.flusher.clone(), trees.bare.clone());
        let done = tokio::task::spawn_blocking(move || {
            let t = trees;
            let event = t.db.generate_id().unwrap();
            let key = r.key.trim().to_ascii_uppercase();
            (
                &t.keys,
                &t.groups,
                &t.members,
                &t.user_groups,
                &t.enrolments,
                &t.course_users,
                &t.redemptions,
                &t.audit,
            )
                .transaction(
                    |(
                        keys,
                        groups,
                        members,
                        user_groups,
                        enrolments,
                        course_users,
                        redemptions,
                        audit,
                    )| {
                        let Some(g) = keys.get(key.as_bytes())? else {
                            return Ok(Err(404));
                        };
                        let g = u64::from_be_bytes(g.as_ref().try_into().unwrap());
                        if members.get(pair(g, r.user))?.is_some() {
                            return Ok(Err(409));
                        }
                        let rec = groups.get(g.to_be_bytes())?.unwrap();
                        let mut counts = [0u64; 3];
                        for (i, c) in rec.chunks(8).enumerate() {
                            counts[i] = u64::from_be_bytes(c.try_into().unwrap());
                        }
                        counts[0] += 1;
                        counts[1] += 1;
                        let bytes: Vec<u8> = counts.iter().flat_map(|c| c.to_be_bytes()).collect();
                        groups.insert(&g.to_be_bytes(), bytes)?;
                        members.insert(pair(g, r.user), &b"member since now, by key"[..])?;
                        user_groups.insert(pair(r.user, g), &[])?;
                        enrolments
                            .insert(pair(r.user, 1), &b"enrolled by group key, not started"[..])?;
                        course_users.insert(pair(1, r.user), &[])?;
                        redemptions.insert(pair(g, event), key.as_bytes())?;
                        audit.insert(
                            pair(g, event),
                            &b"someone joined with the group key; enrolled in 1 course(s)."[..],
                        )?;
                        Ok(Ok(g))
                    },
                )
                .map_err(|e: sled::transaction::TransactionError<()>| format!("{e:?}"))
        })
        .await
        .expect("blocking task");
        flusher.flush(&bare).await.expect("flush");
        match done {
            Ok(Ok(g)) => (StatusCode::OK, format!("{{\"group\":{g}}}")),
            Ok(Err(code)) => (StatusCode::from_u16(code).unwrap(), String::new()),
            Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e),
        }
    }

    /// Serves the endpoint on a loopback port from its own runtime; returns the address.
    pub fn serve(dir: std::path::PathBuf) -> String {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let trees = open(&dir, Flusher::spawn);
                let app = Router::new()
                    .route("/redeem", post(redeem))
                    .with_state(trees);
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                tx.send(listener.local_addr().unwrap().to_string()).unwrap();
                axum::serve(listener, app).await.unwrap();
            });
        });
        rx.recv().expect("bare server address")
    }
}

fn main() {
    // A guard only: each side stops when its redemptions are done.
    let secs = env_or("TESSERA_BENCH_SECS", 120);
    let per_client = env_or("TESSERA_BENCH_PER_CLIENT", 100) as usize;
    let rounds = env_or("TESSERA_BENCH_ROUNDS", 20) as usize;

    let dir = tempfile::tempdir().expect("temp dir");
    let bare_addr = bare::serve(dir.path().join("bare"));
    eprintln!("keys bench: bare storm");
    let work: Vec<Vec<(Option<String>, String)>> = (0..CLIENTS)
        .map(|c| {
            (0..per_client)
                .map(|i| {
                    (
                        None,
                        format!("user={}&key=+open-key-2026+", c * per_client + i),
                    )
                })
                .collect()
        })
        .collect();
    let bare = storm(&[bare_addr], "/redeem", &work, secs, false);
    let (on_sled, races) = tessera(Backend::Sled, per_client, secs, rounds);
    // PostgreSQL, one server then two, each on a database of its own.
    let on_postgres = |servers: usize| {
        Database::new().map(|db| {
            eprintln!("keys bench: PostgreSQL, {servers} server(s)");
            tessera(
                Backend::Postgres { db: &db, servers },
                per_client,
                secs,
                rounds,
            )
        })
    };
    let pg = on_postgres(1);
    let pg2 = on_postgres(2);
    let cell = |run: &Option<(Run, Vec<Race>)>, f: &dyn Fn(&Run) -> String| {
        run.as_ref().map_or("not run".to_string(), |(r, _)| f(r))
    };

    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!("## Group key redemptions under load\n");
    println!("```\nbash scripts/bench.sh keys\n```\n");
    println!(
        "Machine: {cores} logical cores. {CLIENTS} client threads (a new connection per request), \
         each with {per_client} distinct logged-in learners, redeem one key without a limit (its \
         group gives one course) once per learner, {} redemptions in all. The bare endpoint gets the same requests from the same \
         clients in the same run: axum, one sled transaction over eight trees (the same page \
         cache), acknowledged after a group-commit flush, no sessions, no checks. Ratio target: at least 0.5.\n",
        CLIENTS * per_client
    );
    println!(
        "Tessera on PostgreSQL: the same release binary with `--database-url`, on a database of \
         its own on a local PostgreSQL cluster (`TESSERA_TEST_DATABASE_URL`) on the same machine, \
         so the database server's work shares the same 2 cores; with two servers, client `c` \
         talks to server `c % 2`.\n"
    );
    println!(
        "| | Tessera (sled) | Tessera (PostgreSQL) | two Tessera servers (PostgreSQL) | bare axum + sled |"
    );
    println!("|---|--:|--:|--:|--:|");
    let per_sec = |r: &Run| format!("{:.0}", r.per_sec());
    let made = |r: &Run| r.ok.to_string();
    let other = |r: &Run| r.other.to_string();
    let latency = |r: &Run| {
        format!(
            "{} / {}",
            ms(percentile(&r.latencies, 0.5)),
            ms(percentile(&r.latencies, 0.99))
        )
    };
    let rows: [Row; 4] = [
        ("redemptions per second", &per_sec),
        ("redemptions made", &made),
        ("answered other than 200", &other),
        ("latency p50 / p99", &latency),
    ];
    for (name, f) in rows {
        println!(
            "| {name} | {} | {} | {} | {} |",
            f(&on_sled),
            cell(&pg, f),
            cell(&pg2, f),
            f(&bare)
        );
    }
    let ratio = on_sled.per_sec() / bare.per_sec();
    println!("\nTessera (sled) / bare: **{ratio:.2}×**.\n");
    let mut all = vec![("sled", races)];
    for (name, run) in [("PostgreSQL", pg), ("two servers on PostgreSQL", pg2)] {
        if let Some((_, races)) = run {
            all.push((name, races));
        }
    }
    for (name, races) in all {
        report_races(name, &races);
    }
}

/// Prints the limited-key races of one run and fails the bench on any over-redemption.
fn report_races(name: &str, races: &[Race]) {
    let over = races
        .iter()
        .filter(|(ok, _, uses)| *ok > LIMIT || *uses as usize > LIMIT)
        .count();
    let exact = races
        .iter()
        .filter(|(ok, other, uses)| {
            *ok == LIMIT && *other == CLIENTS - LIMIT && *uses as usize == LIMIT
        })
        .count();
    println!(
        "Limited key ({LIMIT} uses), {name}, {CLIENTS} learners released together, {} rounds: \
         {exact} rounds with exactly {LIMIT} joined, {} refused and the counter at {LIMIT}; \
         **{over} over-redemptions**.\n",
        races.len(),
        CLIENTS - LIMIT
    );
    assert_eq!(over, 0, "over-redeemed: {races:?}");
    assert_eq!(exact, races.len(), "{races:?}");
}
