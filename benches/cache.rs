//! sled's page cache size: resident memory and read latency for a school-sized store.
//!
//! Builds one store (100,000 users, 100 courses, 1,000,000 enrolments: each user in 10
//! courses) in a temporary directory, then for each cache size runs the same read workload in a
//! fresh child process (so each figure is that process's own memory): pages of the users list
//! and picker searches, a random user's enrolments with progress, a course's enrolments page.
//! Prints its section of BENCHMARKS.md: `bash scripts/bench.sh cache`.

mod school;

use school::{build, dir_size, COURSES, PER_USER, USERS};
use std::path::Path;
use std::time::{Duration, Instant};
use tessera::server::store::Store;

const SIZES_MB: [u64; 6] = [16, 32, 64, 128, 256, 1024];
const OPS: usize = 3_000;

fn rss_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// A tiny deterministic generator (xorshift), so every size sees the same requests.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e6
}

/// Child: open with `mb` MiB of cache, run the workload twice (cold, then warm), print one
/// line: `mb opened_kib rss_kib hwm_kib cold_p50 cold_p99 warm_p50 warm_p99` (µs).
fn measure(dir: &Path, mb: u64) {
    let s = Store::open_with_cache(dir, mb).expect("open");
    let opened = rss_kib("VmRSS:");
    let run = |seed: u64| {
        let mut rng = Rng(seed);
        let mut times = Vec::with_capacity(OPS);
        for i in 0..OPS {
            let t = Instant::now();
            match i % 4 {
                0 => {
                    let page = (rng.next() % 5_000) as u32 + 1;
                    s.list_users("", page, 20).expect("users page");
                }
                1 => {
                    let q = format!("user{}", rng.next() % USERS);
                    s.list_users(&q, 1, 20).expect("search");
                }
                2 => {
                    let user = rng.next() % USERS + 1;
                    s.enrolments_of_user(user).expect("enrolments");
                }
                _ => {
                    let course = rng.next() % COURSES;
                    let page = (rng.next() % 400) as u32 + 1;
                    s.enrolments_of_course(USERS + 1 + course, page, 20)
                        .expect("course page");
                }
            }
            times.push(t.elapsed());
        }
        times.sort();
        times
    };
    let cold = run(1);
    let warm = run(2);
    println!(
        "{mb} {opened} {} {} {:.0} {:.0} {:.0} {:.0}",
        rss_kib("VmRSS:"),
        rss_kib("VmHWM:"),
        pct(&cold, 0.5),
        pct(&cold, 0.99),
        pct(&warm, 0.5),
        pct(&warm, 0.99)
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--measure") {
        let dir = Path::new(&args[i + 1]);
        let mb: u64 = args[i + 2].parse().expect("size");
        measure(dir, mb);
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let _ = build(dir.path());
    if let Ok(size) = dir_size(dir.path()) {
        eprintln!("store on disk: {} MiB", size / (1024 * 1024));
    }
    let me = std::env::current_exe().expect("this bench");
    let mut rows = Vec::new();
    for mb in SIZES_MB {
        let out = std::process::Command::new(&me)
            .arg("--measure")
            .arg(dir.path())
            .arg(mb.to_string())
            .output()
            .expect("child");
        let line = String::from_utf8_lossy(&out.stdout).trim().to_string();
        eprintln!("{line}");
        rows.push(line);
    }
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!("## sled cache size\n");
    println!("```\nbash scripts/bench.sh cache\n```\n");
    println!(
        "Machine: {cores} logical cores. One store of {USERS} users, {COURSES} courses and {} \
         enrolments (each user in {PER_USER} courses), then, per cache size, a fresh process \
         opens it and runs {OPS} reads twice (cold, then warm): a page of the users list at a \
         random offset, a users-picker search for one login, a random user's enrolments with \
         progress, a page of a course's enrolments, in turn. Memory is that process's resident \
         set after both runs (and its peak); times are per read.\n",
        USERS * PER_USER
    );
    println!(
        "| cache (`cache_mb`) | RSS after opening | RSS after the reads / peak | cold p50 / p99 | warm p50 / p99 |"
    );
    println!("|--:|--:|--:|--:|--:|");
    for r in rows {
        let v: Vec<&str> = r.split_whitespace().collect();
        if v.len() != 8 {
            println!("| (run failed: {r}) | | | | |");
            continue;
        }
        let mib = |k: &str| k.parse::<u64>().unwrap_or(0) / 1024;
        println!(
            "| {} MiB | {} MiB | {} / {} MiB | {} / {} µs | {} / {} µs |",
            v[0],
            mib(v[1]),
            mib(v[2]),
            mib(v[3]),
            v[4],
            v[5],
            v[6],
            v[7]
        );
    }
    println!();
}
