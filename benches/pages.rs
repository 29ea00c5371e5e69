//! Page throughput of the release server on a seeded school, beside a bare axum handler that
//! reads the same kind of session and writes a page of the same size, in the same run.
//!
//! `bash scripts/bench.sh pages` (which runs `cargo bench --features ssr --bench pages`) prints
//! a Markdown section for BENCHMARKS.md. It needs `wrk` on PATH. What it does:
//! - seeds a school with `tessera seed` (1,000 learners, 100 groups, 20 courses, 5 per group),
//!   and copies the data directory for the bare handler (sled locks a directory to one process);
//! - starts the server binary (`TESSERA_BIN`, else the one cargo built for this bench) on
//!   127.0.0.1, signs in as `admin` and as `learner1`, and runs `wrk -t2` against `/groups`, a
//!   group page, its report tab (admin) and the learner home, at each connection count;
//! - in this process, on the copy, serves `GET /bare?bytes=N` twice: once behind the app's own
//!   layers (`router::with_layers`: sessions, page gate, security headers, form redirects, ...)
//!   and once behind the session layer alone. The handler checks the session's user as every page
//!   does (`auth::user_of_session`) and writes N bytes of HTML; N is each page's own size. It
//!   lives here, not in the shipped router, so the binary under test has no route a visitor
//!   could reach that the app does not need;
//! - every server stops at the end (the binary is killed when its handle drops, the in-process
//!   ones are told to stop).
//!
//! `TESSERA_BENCH_SECS` sets each wrk run's length (default 10), `TESSERA_BENCH_CONNS` the
//! connection counts (default "8,64"). `TESSERA_BASELINE_BIN` names an older binary measured the
//! same way, on its own copy of the school, in rows labelled "before"; `TESSERA_OTHER_BINS`
//! more of them, as `label=path;label=path` (builds with another allocator, say).

#[path = "../tests/process/mod.rs"]
mod process;

use axum::extract::{Query, State};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use process::{get as http_get, post, start_with, Server};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use tessera::server::config::Config;
use tessera::server::session_guards::{user_of_session, StoredSessions};
use tessera::server::state::AppState;
use tessera::server::store::Store;
use tower_sessions::session::{Id, Record};
use tower_sessions::{Session, SessionManagerLayer, SessionStore};

const PASSWORD: &str = "seed-password-1";

/// What one wrk run measured.
#[derive(Clone, Copy, Default)]
struct Run {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    /// Responses other than 2xx/3xx, and socket errors.
    bad: u64,
}

/// Reads a wrk latency such as `1.23ms`, `850.00us` or `1.02s` as milliseconds.
fn wrk_ms(v: &str) -> Option<f64> {
    let (num, scale) = if let Some(n) = v.strip_suffix("us") {
        (n, 0.001)
    } else if let Some(n) = v.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = v.strip_suffix('s') {
        (n, 1000.0)
    } else {
        (v, 1.0)
    };
    num.parse::<f64>().ok().map(|n| n * scale)
}

/// Runs `wrk -t2` with `conns` connections for `secs` seconds on `url` with `cookie`.
fn wrk(url: &str, cookie: &str, conns: usize, secs: u64) -> Run {
    let out = Command::new("wrk")
        .args([
            "-t2",
            &format!("-c{conns}"),
            &format!("-d{secs}s"),
            "--latency",
        ])
        .args([
            "-H",
            &format!("Cookie: {cookie}"),
            "-H",
            "Accept: text/html",
        ])
        .arg(url)
        .output()
        .expect("wrk on PATH (apt-get install wrk)");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut run = Run::default();
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["Requests/sec:", v] => run.rps = v.parse().unwrap_or(0.0),
            ["50%", v] => run.p50_ms = wrk_ms(v).unwrap_or(0.0),
            ["99%", v] => run.p99_ms = wrk_ms(v).unwrap_or(0.0),
            ["Non-2xx", "or", "3xx", "responses:", n] => run.bad += n.parse::<u64>().unwrap_or(0),
            ["Socket", "errors:", rest @ ..] => {
                run.bad += rest
                    .iter()
                    .filter_map(|w| w.trim_end_matches(',').parse::<u64>().ok())
                    .sum::<u64>()
            }
            _ => {}
        }
    }
    assert!(run.rps > 0.0, "wrk printed no rate for {url}:\n{text}");
    run
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("copy: make directory");
    for entry in std::fs::read_dir(from).expect("copy: read directory") {
        let entry = entry.expect("copy: entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("copy: file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy: file");
        }
    }
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

/// Signs in on the real server; the session cookie.
fn sign_in(addr: &str, login: &str) -> String {
    process::log_in(addr, login, PASSWORD)
}

/// The pages measured: (label, path, who).
fn pages(addr: &str, admin: &str) -> Vec<(&'static str, String, bool)> {
    let listed = post(
        addr,
        "/api/list_groups",
        "query=&sort=name&page=1",
        Some(admin),
    );
    assert_eq!(listed.status, 200, "list_groups: {}", listed.body);
    let id: u64 = listed
        .body
        .split("\"id\":")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .expect("a group id in the list");
    vec![
        ("`/groups` (admin)", "/groups".into(), true),
        ("group page (admin)", format!("/groups/{id}"), true),
        (
            "group report tab (admin)",
            format!("/groups/{id}?tab=report"),
            true,
        ),
        ("learner home (`/`, learner1)", "/".into(), false),
    ]
}

/// The bare handler: the session's user checked as every page checks it, then `bytes` bytes of
/// HTML (a table of rows naming the user, as a page would), built for each request.
async fn bare(
    State(state): State<AppState>,
    session: Session,
    Query(q): Query<HashMap<String, usize>>,
) -> Response {
    let Ok(Some(user)) = user_of_session(&state, &session).await else {
        return axum::http::StatusCode::UNAUTHORIZED.into_response();
    };
    let bytes = q.get("bytes").copied().unwrap_or(10_000);
    let mut page = String::with_capacity(bytes + 128);
    page.push_str("<!DOCTYPE html><html lang=\"en\"><head><title>Bare</title></head><body><main>");
    let mut row = 0u32;
    while page.len() < bytes {
        page.push_str(&format!(
            "<tr><td>{row}</td><td>{}</td><td>{}</td></tr>",
            user.display_name, user.login
        ));
        row += 1;
    }
    page.truncate(bytes);
    Html(page).into_response()
}

/// The bare servers on `data` (a copy of the school): behind the app's layers and behind the
/// session layer alone; their addresses, a session cookie for `admin` and one for `learner1`
/// on them, and the sender that stops them.
struct Bare {
    layered: String,
    session_only: String,
    admin: String,
    learner: String,
    stop: tokio::sync::watch::Sender<bool>,
}

async fn start_bare(data: &Path) -> Bare {
    let config = Config {
        data_dir: data.to_path_buf(),
        ..Config::default()
    };
    let store = Store::open(data).expect("open the copy of the school");
    let session_for = |login: &str| {
        let (user, _) = store
            .find_for_login(login)
            .expect("read the user")
            .expect("the seeded user");
        let now = time::OffsetDateTime::now_utc();
        let mut data = HashMap::new();
        data.insert("user_id".to_string(), serde_json::json!(user.id));
        data.insert("auth_epoch".to_string(), serde_json::json!(user.auth_epoch));
        data.insert(
            "login_at".to_string(),
            serde_json::json!(now.unix_timestamp()),
        );
        data.insert(
            "extended_at".to_string(),
            serde_json::json!(now.unix_timestamp()),
        );
        Record {
            id: Id::default(),
            data,
            expiry_date: now + time::Duration::hours(8),
        }
    };
    let (mut admin_rec, mut learner_rec) = (session_for("admin"), session_for("learner1"));
    let bind = || tokio::net::TcpListener::bind("127.0.0.1:0");
    let (layered_l, session_l) = (bind().await.expect("bind"), bind().await.expect("bind"));
    let addr = layered_l.local_addr().expect("address");
    let state = AppState::new(tessera::server::leptos_options(addr), store, config.clone());
    let sessions = StoredSessions::new(
        state.storage.clone(),
        state.flusher.clone(),
        state.session_writes.clone(),
    );
    sessions.create(&mut admin_rec).await.expect("session");
    sessions.create(&mut learner_rec).await.expect("session");
    let cookie = |r: &Record| format!("{}={}", tessera::server::router::SESSION_COOKIE, r.id);

    let layered = tessera::server::router::with_layers(
        state.clone(),
        Router::new().route("/bare", get(bare)),
    );
    let session_only = Router::new()
        .route("/bare", get(bare))
        .layer(
            SessionManagerLayer::new(sessions)
                .with_name(tessera::server::router::SESSION_COOKIE)
                .with_secure(false),
        )
        .with_state(state);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let per_address =
        tessera::server::listen::PerAddress::new(&config.limits, config.trusted_proxies.clone());
    let out = Bare {
        layered: addr.to_string(),
        session_only: session_l.local_addr().expect("address").to_string(),
        admin: cookie(&admin_rec),
        learner: cookie(&learner_rec),
        stop,
    };
    for (listener, app) in [(layered_l, layered), (session_l, session_only)] {
        let mut stopped = stopped.clone();
        tokio::spawn(tessera::server::listen::serve(
            listener,
            app,
            None,
            config.limits,
            per_address.clone(),
            async move {
                let _ = stopped.wait_for(|s| *s).await;
            },
        ));
    }
    out
}

fn fmt_rps(r: f64) -> String {
    let n = r.round() as u64;
    if n >= 1000 {
        format!("{},{:03}", n / 1000, n % 1000)
    } else {
        n.to_string()
    }
}

/// Something measured: an address, and the session cookies of `admin` and `learner1` there.
struct Target {
    label: String,
    addr: String,
    admin: String,
    learner: String,
    /// The bare handler: its URL takes the page's size.
    bare: bool,
}

fn main() {
    let secs: u64 = std::env::var("TESSERA_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let conns: Vec<usize> = std::env::var("TESSERA_BENCH_CONNS")
        .unwrap_or_else(|_| "8,64".into())
        .split(',')
        .filter_map(|c| c.trim().parse().ok())
        .collect();
    assert!(
        !conns.is_empty(),
        "TESSERA_BENCH_CONNS: no connection count"
    );
    let load_before = load_average();
    let dir = tempfile::tempdir().expect("temp dir");
    let school = dir.path().join("school");
    let seeded = Command::new(process::binary())
        .args(["seed", "--data-dir"])
        .arg(&school)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run tessera seed");
    assert!(
        seeded.status.success(),
        "seed failed: {}",
        String::from_utf8_lossy(&seeded.stderr)
    );
    let seed_line = String::from_utf8_lossy(&seeded.stdout)
        .lines()
        .next()
        .unwrap_or("")
        .split_once(": ")
        .map(|(_, what)| what.to_string())
        .unwrap_or_default();
    let bare_dir = dir.path().join("bare");
    copy_dir(&school, &bare_dir);

    // The servers: other binaries first when asked for, each on its own copy of the school.
    let mut others: Vec<(String, String)> = Vec::new();
    if let Ok(bin) = std::env::var("TESSERA_BASELINE_BIN") {
        others.push(("before".into(), bin));
    }
    if let Ok(list) = std::env::var("TESSERA_OTHER_BINS") {
        for item in list.split(';').filter(|i| !i.is_empty()) {
            let (label, bin) = item
                .split_once('=')
                .expect("TESSERA_OTHER_BINS: label=path;label=path");
            others.push((label.into(), bin.into()));
        }
    }
    let mut servers: Vec<(String, Server)> = Vec::new();
    let this_bin = process::binary();
    for (i, (label, bin)) in others.into_iter().enumerate() {
        let copy = dir.path().join(format!("other{i}"));
        copy_dir(&school, &copy);
        std::env::set_var("TESSERA_BIN", PathBuf::from(bin));
        servers.push((label, start_with(&copy, &[], None)));
    }
    std::env::set_var("TESSERA_BIN", &this_bin);
    servers.push(("this build".into(), start_with(&school, &[], None)));
    std::thread::sleep(Duration::from_secs(2));
    let rss_idle: Vec<u64> = servers.iter().map(|(_, s)| s.rss_kib()).collect();
    let mut targets: Vec<Target> = servers
        .iter()
        .map(|(label, s)| Target {
            label: label.clone(),
            addr: s.addr.clone(),
            admin: sign_in(&s.addr, "admin"),
            learner: sign_in(&s.addr, "learner1"),
            bare: false,
        })
        .collect();
    let this = targets.len() - 1;
    let pages = pages(&targets[this].addr, &targets[this].admin);

    // The bare handler, on a runtime like the server's (one worker per core).
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let bare = runtime.block_on(start_bare(&bare_dir));
    for (label, addr) in [
        ("bare, app layers", &bare.layered),
        ("bare, session only", &bare.session_only),
    ] {
        targets.push(Target {
            label: label.into(),
            addr: addr.clone(),
            admin: bare.admin.clone(),
            learner: bare.learner.clone(),
            bare: true,
        });
    }

    // Page by page, every target at each connection count in turn, so that whatever else the
    // machine does at the time weighs on all of them alike.
    let mut results: Vec<(&str, usize, Vec<Vec<Run>>)> = Vec::new();
    for (label, path, as_admin) in &pages {
        let cookie_of = |t: &Target| {
            if *as_admin {
                t.admin.clone()
            } else {
                t.learner.clone()
            }
        };
        let page = http_get(&targets[this].addr, path, Some(&cookie_of(&targets[this])));
        assert_eq!(page.status, 200, "{path}: {}", page.body);
        assert!(
            page.body.contains("<main"),
            "{path} is not a signed-in page: {}",
            page.body
        );
        let bytes = page.body.len();
        let urls: Vec<String> = targets
            .iter()
            .map(|t| {
                let path = if t.bare {
                    format!("/bare?bytes={bytes}")
                } else {
                    path.clone()
                };
                let check = http_get(&t.addr, &path, Some(&cookie_of(t)));
                assert_eq!(check.status, 200, "{} {path}: {}", t.label, check.body);
                format!("http://{}{path}", t.addr)
            })
            .collect();
        for (t, url) in targets.iter().zip(&urls) {
            // Warm: sled's cache, the allocator's pools, the connection code.
            wrk(url, &cookie_of(t), conns[0], 2);
        }
        let mut runs = vec![Vec::new(); targets.len()];
        for &c in &conns {
            for (i, (t, url)) in targets.iter().zip(&urls).enumerate() {
                eprintln!("{label}, {}: {c} connections, {secs} s", t.label);
                runs[i].push(wrk(url, &cookie_of(t), c, secs));
            }
        }
        results.push((label, bytes, runs));
    }
    let rss_after: Vec<u64> = servers.iter().map(|(_, s)| s.rss_kib()).collect();
    drop(servers);
    let _ = bare.stop.send(true);
    runtime.shutdown_timeout(Duration::from_secs(5));
    let load_after = load_average();

    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!("## Page throughput\n");
    println!("```\nbash scripts/bench.sh pages\n```\n");
    println!(
        "Machine: {cores} logical cores; `wrk -t2 --latency` on the same machine, keep-alive \
         connections, {secs} s per run after a 2 s warm-up; every target of a page is run in turn \
         at each connection count. School: `tessera seed` ({seed_line}). Load average (1 min): \
         {load_before} before, {load_after} after. \"bare, app layers\" is `GET /bare?bytes=N` \
         behind `router::with_layers` (sessions, page gate, security headers, form redirects, \
         ...), \"bare, session only\" the same handler behind the session layer alone; both \
         check the session's user as the pages do and write N bytes, N being the page's size, \
         in the bench process on a copy of the school. \"vs bare\" is the row's rate over \
         \"bare, app layers\" at the same connection count.\n"
    );
    let mut head = String::from("| page | served by | bytes |");
    let mut rule = String::from("|---|---|--:|");
    for c in &conns {
        head.push_str(&format!(" req/s, {c} conn. | p50 / p99 | vs bare |"));
        rule.push_str("--:|--:|--:|");
    }
    println!("{head}\n{rule}");
    let bare_row = targets.iter().position(|t| t.bare).expect("a bare target");
    let mut bad = 0;
    for (label, bytes, runs) in &results {
        for (i, t) in targets.iter().enumerate() {
            let mut line = format!("| {label} | {} | {bytes} |", t.label);
            for (k, r) in runs[i].iter().enumerate() {
                let ratio = if t.bare {
                    String::new()
                } else {
                    format!("{:.0}%", 100.0 * r.rps / runs[bare_row][k].rps)
                };
                line.push_str(&format!(
                    " {} | {:.1} / {:.1} ms | {ratio} |",
                    fmt_rps(r.rps),
                    r.p50_ms,
                    r.p99_ms
                ));
                bad += r.bad;
            }
            println!("{line}");
        }
    }
    println!();
    let mib = |k: u64| k as f64 / 1024.0;
    for (i, t) in targets.iter().take(rss_idle.len()).enumerate() {
        println!(
            "Server resident memory, {}: {:.0} MiB idle after start, {:.0} MiB after the runs.  ",
            t.label,
            mib(rss_idle[i]),
            mib(rss_after[i])
        );
    }
    println!("Responses other than 2xx/3xx, and socket errors, in all runs: {bad}.");
}
