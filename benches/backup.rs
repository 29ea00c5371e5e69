//! Backup and restore of a school-sized store: the file's size, how long a backup takes, how
//! long a write waits for it, and how long a restore (with its `check`) takes.
//!
//! Builds the shared school (100,000 users, 100 courses, 1,000,000 enrolments) plus 100 groups
//! of 1,000 members, then takes a backup while a writer thread adds and removes group members
//! without pause, and restores it into a new directory. Prints its section of BENCHMARKS.md:
//! `bash scripts/bench.sh backup`.

mod school;

use school::{build, dir_size, PER_USER, USERS};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tessera::model::group::{JoinedHow, KeySettings};
use tessera::server::store::groups::{Actor, GroupFields};
use tessera::server::store::restore;
use tessera::server::store::Store;

const GROUPS: u64 = 100;

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

fn main() {
    let base = tempfile::tempdir().expect("temp dir");
    let data = base.path().join("data");
    let users = build(&data);
    let s = Store::open(&data).expect("open");
    let actor = Actor { user: 1, now: 1 };
    let t = Instant::now();
    let mut groups = Vec::new();
    for g in 0..GROUPS {
        let f = GroupFields {
            name: format!("Form {g}"),
            description: String::new(),
            branch: None,
            key: KeySettings::default(),
            is_default: false,
        };
        let id = s.create_group(actor, &f).expect("group").0.id;
        groups.push(id);
        let per = (USERS / GROUPS) as usize;
        for &u in &users[g as usize * per..(g as usize + 1) * per] {
            s.add_member(actor, id, u, JoinedHow::Import)
                .expect("member");
        }
    }
    s.flush().expect("flush");
    eprintln!("groups in {:.0} s", t.elapsed().as_secs_f64());
    let on_disk = dir_size(&data).unwrap_or(0);

    // A writer that never stops: its slowest write is what a user waits during a backup.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (s, stop, g) = (s.clone(), stop.clone(), groups[0]);
        let outsiders = users[users.len() / 2..].to_vec();
        std::thread::spawn(move || {
            let (mut slowest, mut writes) = (Duration::ZERO, 0u64);
            for &u in outsiders.iter().cycle() {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let t = Instant::now();
                s.add_member(actor, g, u, JoinedHow::Manual).expect("add");
                s.remove_member(actor, g, u, false).expect("remove");
                slowest = slowest.max(t.elapsed());
                writes += 2;
            }
            (slowest, writes)
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    let file_path = base.path().join("school.tessera-backup");
    let t = Instant::now();
    let made = s
        .backup(
            &mut std::fs::File::create(&file_path).expect("file"),
            tessera::server::store::now_ms(),
        )
        .expect("backup");
    let backup_time = t.elapsed();
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    let (slowest, writes) = writer.join().expect("writer");
    drop(s);

    let t = Instant::now();
    let (restored, summary) = restore(
        std::fs::File::open(&file_path).expect("open file"),
        &base.path().join("restored"),
    )
    .expect("restore");
    let restore_time = t.elapsed();
    assert!(summary.violations.is_empty(), "{:?}", summary.violations);
    assert_eq!(summary.entries, made.entries);
    drop(restored);

    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!("## Backup and restore\n");
    println!("```\nbash scripts/bench.sh backup\n```\n");
    println!(
        "Machine: {cores} logical cores. One store of {USERS} users, 100 courses, {} enrolments \
         and {GROUPS} groups of {} members. The backup is taken while a writer thread adds and \
         removes a group member without pause; the restore includes the migrations and the full \
         `check` of the restored store.\n",
        USERS * PER_USER,
        USERS / GROUPS
    );
    println!("| figure | value |\n|---|--:|");
    println!("| store on disk (sled files) | {} |", mib(on_disk));
    println!(
        "| backup file (gzip level 6) | {} ({} trees, {} entries) |",
        mib(made.bytes),
        made.trees,
        made.entries
    );
    println!("| backup time | {:.2} s |", backup_time.as_secs_f64());
    println!(
        "| slowest write during the run (it waits for the backup) | {:.2} s ({writes} writes in all) |",
        slowest.as_secs_f64()
    );
    println!(
        "| restore time, with migrations and check | {:.2} s |",
        restore_time.as_secs_f64()
    );
}
