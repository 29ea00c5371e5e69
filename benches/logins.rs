//! Logins per second with 8 concurrent clients, and what a login storm does to everyone else.
//!
//! Runs the real server binary as its own process (`TESSERA_BIN`, else the one cargo built for
//! this bench), signs up learners, then for a fixed time 8 client threads log in over and over
//! (a fresh connection each, like browsers) while one more thread requests the login page every
//! 20 ms. Prints a Markdown section for BENCHMARKS.md on stdout:
//! `bash scripts/bench.sh logins` (which runs `cargo bench --features ssr --bench logins`).
//! `TESSERA_BENCH_SECS` sets the storm length (default 20). `TESSERA_BASELINE_BIN` names a
//! second binary (an older build) run the same way first, so both appear side by side, under
//! the column title `TESSERA_BASELINE_LABEL`.

#[path = "../tests/process/mod.rs"]
mod process;

use process::{get, ms, percentile, post, setup_admin, sign_up_learners, start_with};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const CLIENTS: usize = 8;
const PASSWORD: &str = "bench-password-1";

/// Requests the login page every 20 ms until `stop`; returns each latency.
fn page_probe(addr: String, stop: Arc<AtomicBool>) -> Vec<Duration> {
    let mut times = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let t = Instant::now();
        let reply = get(&addr, "/login", None);
        times.push(t.elapsed());
        assert_eq!(reply.status, 200, "login page");
        std::thread::sleep(Duration::from_millis(20));
    }
    times
}

/// What one binary did.
struct Figures {
    logins_per_sec: f64,
    refused: usize,
    logins: Vec<Duration>,
    quiet: Vec<Duration>,
    storm: Vec<Duration>,
    rss_start: u64,
    rss_end: u64,
}

fn run(bin: Option<PathBuf>, secs: u64) -> Figures {
    match bin {
        Some(b) => std::env::set_var("TESSERA_BIN", b),
        None => std::env::remove_var("TESSERA_BIN"),
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let server = start_with(&dir.path().join("data"), &["--self-registration"], None);
    let addr = server.addr.clone();
    setup_admin(&addr);
    sign_up_learners(&addr, "bench", CLIENTS, PASSWORD, 1);
    let rss_start = server.rss_kib();

    // The login page alone first: what "fast" is on this machine.
    let quiet = {
        let stop = Arc::new(AtomicBool::new(false));
        let probe = {
            let (addr, stop) = (addr.clone(), Arc::clone(&stop));
            std::thread::spawn(move || page_probe(addr, stop))
        };
        std::thread::sleep(Duration::from_secs(4));
        stop.store(true, Ordering::Relaxed);
        let mut t = probe.join().expect("probe");
        t.sort();
        t
    };

    eprintln!("login storm: {CLIENTS} clients for {secs} s");
    let stop = Arc::new(AtomicBool::new(false));
    let probe = {
        let (addr, stop) = (addr.clone(), Arc::clone(&stop));
        std::thread::spawn(move || page_probe(addr, stop))
    };
    let started = Instant::now();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|n| {
            let (addr, stop) = (addr.clone(), Arc::clone(&stop));
            std::thread::spawn(move || {
                let mut times = Vec::new();
                let mut other = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    let t = Instant::now();
                    let reply = post(
                        &addr,
                        "/api/login",
                        &format!("identifier=bench{n}&password={PASSWORD}"),
                        None,
                    );
                    if reply.status == 200 {
                        times.push(t.elapsed());
                    } else {
                        other += 1;
                    }
                }
                (times, other)
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(secs));
    stop.store(true, Ordering::Relaxed);
    let mut logins = Vec::new();
    let mut refused = 0;
    for c in clients {
        let (t, other) = c.join().expect("client");
        logins.extend(t);
        refused += other;
    }
    let elapsed = started.elapsed();
    let mut storm = probe.join().expect("probe");
    storm.sort();
    logins.sort();
    Figures {
        logins_per_sec: logins.len() as f64 / elapsed.as_secs_f64(),
        refused,
        logins,
        quiet,
        storm,
        rss_start,
        rss_end: server.rss_kib(),
    }
}

fn main() {
    let secs: u64 = std::env::var("TESSERA_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let this = std::env::var_os("TESSERA_BIN").map(PathBuf::from);
    let baseline = std::env::var_os("TESSERA_BASELINE_BIN").map(PathBuf::from);
    let baseline_label =
        std::env::var("TESSERA_BASELINE_LABEL").unwrap_or_else(|_| "baseline".into());
    let mut runs = Vec::new();
    if let Some(b) = baseline {
        runs.push((baseline_label.as_str(), run(Some(b), secs)));
    }
    runs.push(("this build", run(this, secs)));

    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!("## Logins under load\n");
    println!("```\nbash scripts/bench.sh logins\n```\n");
    println!(
        "Machine: {cores} logical cores. Each server binary runs as its own process with default \
         settings; {CLIENTS} client threads log in as {CLIENTS} learners (successful logins, a new \
         connection each) for {secs} s while one more thread requests `/login` (a server-rendered \
         page) every 20 ms. A second column, when there is one, is an older binary named by \
         `TESSERA_BASELINE_BIN` (and `TESSERA_BASELINE_LABEL`), run first in the same process.\n"
    );
    let header: Vec<&str> = runs.iter().map(|(name, _)| *name).collect();
    println!("| | {} |", header.join(" | "));
    println!("|---|{}", "--:|".repeat(runs.len()));
    let row = |what: &str, f: &dyn Fn(&Figures) -> String| {
        let cells: Vec<String> = runs.iter().map(|(_, r)| f(r)).collect();
        println!("| {what} | {} |", cells.join(" | "));
    };
    row(&format!("logins per second ({CLIENTS} clients)"), &|r| {
        format!("{:.1}", r.logins_per_sec)
    });
    row("logins answered other than 200", &|r| r.refused.to_string());
    row("login latency p50 / p99", &|r| {
        format!(
            "{} / {}",
            ms(percentile(&r.logins, 0.5)),
            ms(percentile(&r.logins, 0.99))
        )
    });
    row("`/login` page alone: p50 / p99", &|r| {
        format!(
            "{} / {} ({} requests)",
            ms(percentile(&r.quiet, 0.5)),
            ms(percentile(&r.quiet, 0.99)),
            r.quiet.len()
        )
    });
    row("`/login` page during the storm: p50 / p99 / max", &|r| {
        format!(
            "{} / {} / {} ({} requests)",
            ms(percentile(&r.storm, 0.5)),
            ms(percentile(&r.storm, 0.99)),
            ms(r.storm.last().copied().unwrap_or_default()),
            r.storm.len()
        )
    });
    row(
        "server resident memory: after sign-ups → after the storm",
        &|r| format!("{} → {} MiB", r.rss_start / 1024, r.rss_end / 1024),
    );
    println!();
}
