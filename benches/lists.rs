//! The branches, courses and curricula list pages with 1,000 and with 100,000 records each.
//!
//! Builds two stores (the small one's names are a subset of the large one's), then times the
//! same store calls on both (median and p95 after a warm-up): page 1 and page 50 of each list
//! without a search, and a search by a prefix that matches a few records in either store. Their
//! totals come from stored counters, so no call walks a whole tree. Prints its section of
//! BENCHMARKS.md: `bash scripts/bench.sh lists`.

use std::hint::black_box;
use std::time::{Duration, Instant};
use tessera::server::store::branches::BranchFields;
use tessera::server::store::courses::CourseFields;
use tessera::server::store::Store;

const SMALL: usize = 1_000;
const LARGE: usize = 100_000;
const PER_PAGE: u32 = 20;

fn name(i: usize) -> String {
    // Spread over the alphabet so name order is not creation order.
    let words = [
        "Alder", "Birch", "Cedar", "Dogwood", "Elm", "Fir", "Ginkgo", "Hazel",
    ];
    format!(
        "{} {:05}",
        words[i * 7 % words.len()],
        (i * 7_919) % 100_003
    )
}

fn build(n: usize) -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("temp dir");
    let s = Store::open(dir.path()).expect("open");
    let t = Instant::now();
    for i in 0..n {
        let f = BranchFields {
            name: name(i),
            description: String::new(),
            parent: None,
        };
        s.create_branch(&f, 0).expect("branch");
        let c = CourseFields {
            code: format!("C{i:06}"),
            title: name(i),
            description: String::new(),
            archived: false,
        };
        s.create_course(&c, 0).expect("course");
        s.create_curriculum(&name(i), "", 0).expect("curriculum");
    }
    s.flush().expect("flush");
    eprintln!(
        "built {n} branches, courses and curricula in {:.0} s",
        t.elapsed().as_secs_f64()
    );
    (dir, s)
}

struct Stats {
    median: Duration,
    p95: Duration,
}

fn measure(mut f: impl FnMut()) -> Stats {
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(100) {
        f();
    }
    let mut samples = Vec::new();
    let start = Instant::now();
    while samples.len() < 30 || (samples.len() < 2_000 && start.elapsed() < Duration::from_secs(1))
    {
        let t = Instant::now();
        f();
        samples.push(t.elapsed());
    }
    samples.sort();
    let n = samples.len();
    Stats {
        median: samples[n / 2],
        p95: samples[(n * 95 / 100).min(n - 1)],
    }
}

fn us(d: Duration) -> String {
    let v = d.as_secs_f64() * 1e6;
    if v < 10.0 {
        format!("{v:.1} µs")
    } else {
        format!("{v:.0} µs")
    }
}

#[derive(Clone, Copy)]
enum List {
    Branches,
    Courses,
    Curricula,
}

fn call(s: &Store, list: List, query: &str, page: u32) -> u64 {
    match list {
        List::Branches => s.list_branches(query, page, PER_PAGE).expect("branches").1,
        List::Courses => s.list_courses(query, page, PER_PAGE).expect("courses").1,
        List::Curricula => {
            s.list_curricula(query, page, PER_PAGE)
                .expect("curricula")
                .1
        }
    }
}

fn main() {
    let (_sd, small) = build(SMALL);
    let (_ld, large) = build(LARGE);
    // A prefix of one name in both stores (the small store's names are the large one's first).
    let probe = name(SMALL / 2);
    let prefix: String = probe.chars().take(probe.len() - 1).collect();
    let lists = [
        ("Branches", List::Branches),
        ("Courses", List::Courses),
        ("Curricula", List::Curricula),
    ];
    let mut rows = Vec::new();
    for (label, list) in lists {
        for (what, query, page) in [
            ("page 1, no search", "", 1u32),
            ("page 50, no search", "", 50),
            ("search by a name prefix, page 1", prefix.as_str(), 1),
        ] {
            let totals = (
                call(&small, list, query, page),
                call(&large, list, query, page),
            );
            let a = measure(|| {
                black_box(call(&small, list, query, page));
            });
            let b = measure(|| {
                black_box(call(&large, list, query, page));
            });
            let ratio = b.median.as_secs_f64() / a.median.as_secs_f64();
            rows.push(format!(
                "| {label}: {what} | {} | {} | {} / {} | {} / {} | {ratio:.2}× | {} |",
                totals.0,
                totals.1,
                us(a.median),
                us(a.p95),
                us(b.median),
                us(b.p95),
                if ratio <= 2.0 { "yes" } else { "**no**" }
            ));
        }
    }
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!("## Branches, courses and curricula lists: 1,000 vs 100,000 records\n");
    println!("```\nbash scripts/bench.sh lists\n```\n");
    println!(
        "Machine: {cores} logical cores. Two stores built in one run with {SMALL} and {LARGE} \
         branches, courses and curricula each; every call asks for one page of {PER_PAGE} rows \
         straight from the store (`list_branches`, `list_courses`, `list_curricula`), timed after \
         a warm-up (median / p95). The totals come from stored counters (`count/branches`, \
         `count/courses`, `count/curricula`), changed in the same transactions as the records: \
         before, each page load called sled's `Tree::len`, which walks the whole tree. The \
         search is by \"{prefix}\", a prefix of one name in both stores.\n"
    );
    println!(
        "| Call | Total 1k | Total 100k | 1k median / p95 | 100k median / p95 | Ratio | ≤ 2× |"
    );
    println!("|---|--:|--:|--:|--:|--:|:-:|");
    for r in rows {
        println!("{r}");
    }
    println!();
}
