//! Group reports at size: the CSV export of 10,000 members × 20 courses (time, and memory at
//! two sizes: it must not grow with the rows), and page 1 of the report of a 10,000-member group.
//!
//! The data set is built in this process with bulk store calls (no HTTP): 20 courses of two
//! lessons attached to a group of 10,000 learners, a second group with the first 2,500 of
//! them; nine pairs in ten enrolled (in batches), and one lesson in two marked done, so cells
//! are a mix of not enrolled, not started, in progress and completed.
//!
//! Memory, two ways:
//! - the streaming writer's own figure: the largest chunk it held before handing it on (a
//!   chunk is 64 KiB plus one row; the HTTP route queues at most two more in its channel);
//! - the process's peak resident memory (`VmHWM`), in a fresh child process per size: it opens
//!   the store, exports once (so sled's page cache holds what the export reads, at both sizes),
//!   resets the peak (`/proc/self/clear_refs`), exports again and reports how far the peak rose
//!   above the resident memory before that second export: the export's own working memory,
//!   apart from the page cache, which is bounded by its configured size anyway.
//!
//! Prints its section of BENCHMARKS.md: `bash scripts/bench.sh reports`.

use std::path::Path;
use std::time::{Duration, Instant};
use tessera::model::group::KeySettings;
use tessera::model::report::ReportFilter;
use tessera::model::user::Role;
use tessera::server::downloads::{write_report_csv, CsvStats, REPORT_CHUNK};
use tessera::server::store::courses::{CourseFields, LessonChange};
use tessera::server::store::enrolments::Source;
use tessera::server::store::groups::{Actor, GroupFields};
use tessera::server::store::users::{PasswordHash, UserFields};
use tessera::server::store::Store;

const MEMBERS: usize = 10_000;
const SMALL: usize = 2_500;
const COURSES: usize = 20;
const CHILD: &str = "TESSERA_REPORTS_CHILD";

/// Builds the store; returns the big and the small group.
fn build(dir: &Path) -> (u64, u64) {
    let s = Store::open(dir).expect("open");
    let actor = Actor { user: 0, now: 1 };
    let group = |name: &str| {
        let f = GroupFields {
            name: name.into(),
            description: String::new(),
            branch: None,
            key: KeySettings::default(),
            is_default: false,
        };
        s.create_group(actor, &f).expect("group").0.id
    };
    let (big, small) = (group("Everyone"), group("First quarter"));
    let mut courses = Vec::new();
    for c in 0..COURSES {
        let f = CourseFields {
            code: format!("C{c:02}"),
            title: format!("Course {c}, part \"{c}\""),
            description: String::new(),
            archived: false,
        };
        let id = s.create_course(&f, 0).expect("course").id;
        let mut lessons = Vec::new();
        for l in 0..2 {
            let (all, _) = s
                .change_lessons(
                    id,
                    LessonChange::Add {
                        title: format!("Lesson {l}"),
                        text: "text".into(),
                    },
                )
                .expect("lesson");
            lessons = all.into_iter().map(|l| l.id).collect();
        }
        for g in [big, small] {
            s.link_group_course(actor, g, id, true).expect("link");
        }
        courses.push((id, lessons));
    }
    s.run_pending_jobs(0).expect("jobs");
    let hash = PasswordHash::from_phc("$none".into());
    let mut users = Vec::with_capacity(MEMBERS);
    for i in 0..MEMBERS {
        let f = UserFields {
            login: format!("u{i:05}"),
            email: format!("u{i}@example.org"),
            // Names that need quoting in CSV.
            display_name: format!("Learner {i}, \"Ünïcødé\""),
            role: Role::Learner,
        };
        users.push(s.create_user(&f, &hash, false, 0).expect("user").id);
    }
    let entries: Vec<(u32, String)> = (0..MEMBERS)
        .map(|i| (i as u32 + 1, format!("u{i:05}")))
        .collect();
    s.bulk_add_members(actor, big, &entries).expect("members");
    s.bulk_add_members(actor, small, &entries[..SMALL])
        .expect("members");
    // Nine pairs in ten: per course, every user but one in ten, in batches of 500 users.
    for (c, (course, _)) in courses.iter().enumerate() {
        let enrolled: Vec<u64> = users
            .iter()
            .enumerate()
            .filter(|(i, _)| (i + c) % 10 != 0)
            .map(|(_, u)| *u)
            .collect();
        for batch in enrolled.chunks(500) {
            s.enrol_users_in_courses(batch, &[*course], Source::Manual, 1)
                .expect("enrol");
        }
    }
    // Lessons done: 0, 1 or 2 of 2 by turns.
    for (i, u) in users.iter().enumerate() {
        for (c, (course, lessons)) in courses.iter().enumerate() {
            if (i + c) % 10 == 0 {
                continue;
            }
            for l in lessons.iter().take((i + c) % 3) {
                s.mark_lesson(*u, *course, *l, true, 86_400_000 * 20_000)
                    .expect("mark");
            }
        }
    }
    s.flush().expect("flush");
    (big, small)
}

/// Runs the export into a sink that counts bytes; returns its stats and time.
fn export(s: &Store, group: u64) -> (CsvStats, Duration) {
    let plan = s.report_plan(group, ReportFilter::default()).expect("plan");
    let t = Instant::now();
    let mut bytes = 0usize;
    let stats = write_report_csv(s, &plan, REPORT_CHUNK, |chunk| {
        bytes += chunk.len();
        true
    })
    .expect("export");
    assert_eq!(bytes as u64, stats.bytes);
    (stats, t.elapsed())
}

/// A field of `/proc/self/status`, in KiB.
fn status_kib(field: &str) -> u64 {
    let text = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    text.lines()
        .find_map(|l| {
            l.strip_prefix(field)?
                .trim()
                .strip_suffix("kB")?
                .trim()
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

/// In a child process: export twice, measuring the second export's peak above its start.
/// Prints `rss_before hwm_after reset_ok`.
fn child(spec: &str) {
    let (dir, group) = spec.split_once('|').expect("dir|group");
    let s = Store::open(Path::new(dir)).expect("open");
    let group: u64 = group.parse().expect("group");
    export(&s, group);
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let before = status_kib("VmRSS:");
    export(&s, group);
    println!("{before} {} {reset}", status_kib("VmHWM:"));
}

/// The child's figures for `group`: (RSS before, peak during, peak reset worked).
fn measure_in_child(dir: &Path, group: u64) -> (u64, u64, bool) {
    let out = std::process::Command::new(std::env::current_exe().expect("exe"))
        .env(CHILD, format!("{}|{group}", dir.display()))
        .output()
        .expect("child");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let mut f = text.split_whitespace();
    let before = f.next().and_then(|v| v.parse().ok()).expect("rss");
    let hwm = f.next().and_then(|v| v.parse().ok()).expect("hwm");
    (before, hwm, f.next() == Some("true"))
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    if let Ok(spec) = std::env::var(CHILD) {
        child(&spec);
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let t = Instant::now();
    let (big, small) = build(&data);
    eprintln!("built the store in {:.0} s", t.elapsed().as_secs_f64());

    let s = Store::open(&data).expect("open");
    // A first pass fills the page cache, as a running server's would be.
    export(&s, big);
    let runs: Vec<(CsvStats, Duration)> = (0..3).map(|_| export(&s, big)).collect();
    let big_stats = runs[0].0;
    let big_time = median(runs.iter().map(|r| r.1).collect());
    let (small_stats, _) = export(&s, small);
    let small_time = median((0..3).map(|_| export(&s, small).1).collect());
    let page1 = median(
        (0..5)
            .map(|_| {
                let t = Instant::now();
                let r = s
                    .group_report(big, ReportFilter::default(), 1, 20)
                    .expect("report");
                assert_eq!(r.rows.rows.len(), 20);
                t.elapsed()
            })
            .collect(),
    );
    let filtered = median(
        (0..5)
            .map(|_| {
                let t = Instant::now();
                s.group_report(big, ReportFilter::parse("completed", ""), 50, 20)
                    .expect("report");
                t.elapsed()
            })
            .collect(),
    );
    drop(s);
    let (small_before, small_hwm, reset_small) = measure_in_child(&data, small);
    let (big_before, big_hwm, reset_big) = measure_in_child(&data, big);
    let reset = reset_small && reset_big;
    let mib = |kib: u64| kib as f64 / 1024.0;

    println!("## Group reports: {MEMBERS} members × {COURSES} courses\n");
    println!("```\nbash scripts/bench.sh reports\n```\n");
    println!(
        "Machine: {} logical cores. In process, on a store built with bulk calls: {COURSES} courses of 2 \
         lessons attached to a group of {MEMBERS} learners and to a group of the first {SMALL}; nine \
         (user, course) pairs in ten enrolled, 0, 1 or 2 lessons done by turns; display names that \
         need CSV quoting. The export is the function behind `GET /groups/{{id}}/report.csv` writing \
         into a byte-counting sink (the route hands the same chunks to the response through a \
         channel of two). Times are medians of 3 (export) or 5 (report page) runs after a first \
         pass that fills sled's page cache.\n",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!("| | {SMALL} members | {MEMBERS} members |\n|---|--:|--:|");
    println!(
        "| CSV export: rows, size | {} rows, {:.1} MB | {} rows, {:.1} MB |",
        small_stats.rows,
        small_stats.bytes as f64 / 1e6,
        big_stats.rows,
        big_stats.bytes as f64 / 1e6
    );
    println!(
        "| CSV export: time | {:.0} ms | {:.0} ms ({:.0} rows/s) |",
        ms(small_time),
        ms(big_time),
        big_stats.rows as f64 / big_time.as_secs_f64()
    );
    println!(
        "| largest chunk the writer held before handing it on | {:.1} KiB | {:.1} KiB |",
        small_stats.max_chunk as f64 / 1024.0,
        big_stats.max_chunk as f64 / 1024.0
    );
    println!(
        "| child process: resident before the export / peak during it | {:.1} / {:.1} MiB | {:.1} / {:.1} MiB |",
        mib(small_before),
        mib(small_hwm),
        mib(big_before),
        mib(big_hwm)
    );
    println!(
        "| child process: peak rise during the export | {:.1} MiB | {:.1} MiB |",
        mib(small_hwm.saturating_sub(small_before)),
        mib(big_hwm.saturating_sub(big_before))
    );
    println!(
        "| report page 1 (20 rows, counts over every member) | — | {:.0} ms |",
        ms(page1)
    );
    println!(
        "| report page 50 filtered by \"completed\" | — | {:.0} ms |",
        ms(filtered)
    );
    println!();
    if !reset {
        println!(
            "The peak could not be reset here (`/proc/self/clear_refs` refused), so the peaks \
             above include the first export and the store's opening.\n"
        );
    }
    println!(
        "Memory: the writer holds one chunk (64 KiB plus a row) and the member being written, \
         whatever the number of rows, so its figure is the same at both sizes, and the process \
         peak rises by about as little during an export of {SMALL} as of {MEMBERS} members. What \
         differs between the sizes is the resident memory before the measured export: sled's \
         page cache, filled by the first export with the records it read, which is bounded by \
         the cache size (64 MiB by default), not by the export. The report page reads every \
         member (its counts cover them all) with two range scans each, so its time grows with \
         the group; it keeps only the page's rows."
    );
}
