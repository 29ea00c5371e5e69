//! The groups table and the users picker with 1,000 and with 100,000 records, in one run.
//!
//! `cargo bench --features ssr --bench groups` builds two stores in temporary directories (the
//! small one is a subset of the large one: the same generated names), times the same store calls
//! on both (median and p95 after a warm-up), and prints its section of BENCHMARKS.md on stdout;
//! progress and checks go to stderr. `bash scripts/bench.sh groups` runs it and puts the section
//! in place.
//!
//! Before timing anything it checks the searches' answers against a brute-force search of the
//! generated names (totals, and whole pages in every sort, capped searches included), so a fast
//! wrong answer cannot pass for a result. The report also counts, by replaying the store's scans
//! over the generated data, how many index entries and records each timed search reads.
//!
//! When `TESSERA_TEST_DATABASE_URL` names a PostgreSQL cluster, a third store with the large
//! one's data is built on a database of its own there (dropped after), checked the same way,
//! and the same calls are timed on it, right after the two sled stores, for each operation.

#[path = "../tests/process/mod.rs"]
mod process;

use std::collections::HashSet;
use std::hint::black_box;
use std::time::{Duration, Instant};

use tessera::model::group::{GroupSort, KeySettings};
use tessera::model::user::Role;
use tessera::server::store::groups::{suffixes, Actor, GroupFields, MATCH_CAP, SUFFIX_MAX};
use tessera::server::store::sled::search;
use tessera::server::store::users::{PasswordHash, UserFields};
use tessera::server::store::TOTAL_CAP;
use tessera::server::store::{now_ms, Store};

const SMALL: usize = 1_000;
const LARGE: usize = 100_000;
/// Rows per page, as the groups table and the pickers ask for.
const PER_PAGE: u32 = 20;
/// Any fixed PHC string: the store keeps it, nothing here hashes or verifies.
const PHC: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$YmVuY2hzYWx0$3ZJ0bq1v7o6pQx3w5m7xQ1o5Yw8l3m9T2b4q6r8s0uA";

const SUBJECTS: [&str; 40] = [
    "Mathematics",
    "Physics",
    "Chemistry",
    "Biology",
    "History",
    "Geography",
    "English Literature",
    "French",
    "Spanish",
    "German",
    "Music",
    "Art",
    "Drama",
    "Economics",
    "Psychology",
    "Sociology",
    "Philosophy",
    "Computing",
    "Statistics",
    "Accounting",
    "Marketing",
    "Nursing",
    "Pharmacy",
    "Law",
    "Engineering",
    "Architecture",
    "Design",
    "Photography",
    "Journalism",
    "Linguistics",
    "Astronomy",
    "Geology",
    "Ecology",
    "Robotics",
    "Electronics",
    "Welding",
    "Carpentry",
    "Cookery",
    "First Aid",
    "Health and Safety",
];
const LEVELS: [&str; 10] = [
    "Foundation",
    "Beginners",
    "Intermediate",
    "Advanced",
    "Year 7",
    "Year 9",
    "Year 11",
    "Sixth Form",
    "Evening Class",
    "Apprentices",
];
const PLACES: [&str; 50] = [
    "Leeds",
    "York",
    "Bristol",
    "Cardiff",
    "Glasgow",
    "Dublin",
    "Lyon",
    "Porto",
    "Seville",
    "Turin",
    "Graz",
    "Ghent",
    "Utrecht",
    "Aarhus",
    "Bergen",
    "Tampere",
    "Krakow",
    "Brno",
    "Riga",
    "Vilnius",
    "Tallinn",
    "Leipzig",
    "Bremen",
    "Basel",
    "Lausanne",
    "Bologna",
    "Valencia",
    "Malaga",
    "Nantes",
    "Lille",
    "Toulouse",
    "Bordeaux",
    "Oxford",
    "Cambridge",
    "Belfast",
    "Aberdeen",
    "Swansea",
    "Exeter",
    "Norwich",
    "Durham",
    "Boston",
    "Denver",
    "Austin",
    "Seattle",
    "Toronto",
    "Ottawa",
    "Halifax",
    "Perth",
    "Auckland",
    "Nairobi",
];
const FIRST_YEAR: usize = 2015;
const YEARS: usize = 12;
/// Distinct generated names: subject × level × place × year.
const COMBOS: usize = SUBJECTS.len() * LEVELS.len() * PLACES.len() * YEARS;
/// A prime that does not divide [`COMBOS`]: `i ↦ i·STRIDE mod COMBOS` is a bijection, so names
/// are unique and neighbours in creation order differ in every part.
const STRIDE: usize = 104_729;

/// Groups with a rare word, in both stores: a search for it finds the same few groups in each.
const RARE: [&str; 5] = [
    "Kilimanjaro Expedition 2019",
    "Kilimanjaro Expedition 2022",
    "Kilimanjaro Charity Trek",
    "Kilimanjaro Base Camp Medics",
    "Friends of Kilimanjaro",
];

const FIRST_NAMES: [&str; 40] = [
    "Olivia", "Noah", "Amelia", "Oliver", "Isla", "George", "Ava", "Arthur", "Mia", "Leo", "Maria",
    "Mark", "Martin", "Sofia", "Lucas", "Emma", "Liam", "Chloe", "Ethan", "Grace", "Hugo", "Ines",
    "Jonas", "Kira", "Luca", "Nora", "Omar", "Priya", "Quinn", "Rosa", "Sami", "Tariq", "Uma",
    "Victor", "Wen", "Xavier", "Yara", "Zoe", "Aisha", "Bruno",
];
const LAST_NAMES: [&str; 40] = [
    "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Patel",
    "Robinson", "Wright", "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall",
    "Wood", "Jackson", "Clarke", "Marsh", "Novak", "Okafor", "Ivanova", "Garcia", "Rossi",
    "Muller", "Dubois", "Kowalski", "Nakamura", "Chen", "Singh", "Haddad", "Larsen", "Silva",
    "Costa", "Ahmed", "Kaur", "Murphy",
];

/// A fixed, well-mixed hash (splitmix64): the same data on every run.
fn mix(i: usize) -> u64 {
    let mut z = (i as u64).wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The `i`th generated group name, e.g. "Chemistry Advanced, Leeds 2019".
fn generated_name(i: usize) -> String {
    let mut c = (i * STRIDE) % COMBOS;
    let year = FIRST_YEAR + c % YEARS;
    c /= YEARS;
    let place = PLACES[c % PLACES.len()];
    c /= PLACES.len();
    let level = LEVELS[c % LEVELS.len()];
    c /= LEVELS.len();
    format!("{} {level}, {place} {year}", SUBJECTS[c])
}

/// The names of a store of `n` groups, in creation order: generated names with the [`RARE`]
/// ones spread among them. Every name of the small store is in the large one.
fn group_names(n: usize) -> Vec<String> {
    let mut names: Vec<String> = (0..n - RARE.len()).map(generated_name).collect();
    for (j, rare) in RARE.iter().enumerate() {
        names.insert((j + 1) * n / (RARE.len() + 1), rare.to_string());
    }
    names
}

/// The `i`th user: "Maria Marsh", login "maria.marsh17", e-mail at example.org.
fn user_fields(i: usize) -> UserFields {
    let h = mix(i);
    let first = FIRST_NAMES[(h % 40) as usize];
    let last = LAST_NAMES[((h >> 8) % 40) as usize];
    let login = format!("{}.{}{i}", first.to_lowercase(), last.to_lowercase());
    UserFields {
        email: format!("{login}@example.org"),
        login,
        display_name: format!("{first} {last}"),
        role: Role::Learner,
    }
}

/// Names of a third, small store for the one case the main data cannot reach: a query longer
/// than [`SUFFIX_MAX`] whose first [`SUFFIX_MAX`] characters are in more than [`MATCH_CAP`] names
/// while the whole query is in one.
fn long_prefix_names() -> Vec<String> {
    (1..=MATCH_CAP + 1)
        .map(|i| format!("Health and Safety Refresher Course, Site {i}"))
        .collect()
}
const LONG_PREFIX_QUERY: &str = "Health and Safety Refresher Course, Site 1001";

struct Fixture {
    _dir: tempfile::TempDir,
    store: Store,
    /// The PostgreSQL database the store is on, if it is; dropped after the store.
    _db: Option<process::Database>,
    names: Vec<String>,
    /// `names` folded as the store folds them.
    folded: Vec<String>,
    /// Group ids and member counts, by creation order (as `names`).
    ids: Vec<u64>,
    members: Vec<u64>,
    users: Vec<UserFields>,
    users_time: Duration,
    groups_time: Duration,
    members_time: Duration,
    memberships: usize,
}

fn progress(what: &str, done: usize, total: usize, start: Instant) {
    let secs = start.elapsed().as_secs_f64();
    eprintln!(
        "  {what}: {done}/{total} in {secs:.1} s ({:.0}/s)",
        done as f64 / secs.max(1e-9)
    );
}

/// A store with `n_users` users and a group per name; one group in 25 gets 1 to 40 members.
fn build(n_users: usize, names: Vec<String>) -> Fixture {
    build_on(n_users, names, None)
}

/// [`build`], on the PostgreSQL database `db` when given (else sled in a temporary directory).
fn build_on(n_users: usize, names: Vec<String>, db: Option<process::Database>) -> Fixture {
    let n = names.len();
    eprintln!("Building the store with {n_users} users and {n} groups");
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = match &db {
        None => Store::open(dir.path()).expect("open store"),
        Some(db) => Store::open_at(&tessera::server::store::StorePlace::Database {
            url: db.url.clone(),
            pool_size: 8,
        })
        .expect("open the PostgreSQL store"),
    };
    let hash = PasswordHash::from_phc(PHC.to_string());

    let start = Instant::now();
    let users: Vec<UserFields> = (0..n_users).map(user_fields).collect();
    for (i, u) in users.iter().enumerate() {
        store
            .create_user(u, &hash, false, now_ms())
            .expect("create user");
        if (i + 1) % (n_users / 10).max(1) == 0 {
            progress("users", i + 1, n_users, start);
        }
    }
    let users_time = start.elapsed();

    let start = Instant::now();
    let mut ids = Vec::with_capacity(n);
    for (i, name) in names.iter().enumerate() {
        let fields = GroupFields {
            name: name.clone(),
            description: format!("Generated group {i} for the groups benchmark."),
            branch: None,
            key: KeySettings::default(),
            is_default: false,
        };
        let actor = Actor {
            user: 0,
            now: now_ms(),
        };
        let (g, _) = store.create_group(actor, &fields).expect("create group");
        ids.push(g.id);
        if (i + 1) % (n / 10).max(1) == 0 {
            progress("groups", i + 1, n, start);
        }
    }
    let groups_time = start.elapsed();

    let start = Instant::now();
    let mut memberships = 0;
    let mut members = vec![0u64; n];
    for (i, id) in ids.iter().enumerate() {
        let h = mix(i + 1_000_000_007);
        if n_users == 0 || !h.is_multiple_of(25) {
            continue;
        }
        let k = 1 + ((h >> 16) % 40) as usize;
        let entries: Vec<(u32, String)> = (0..k)
            .map(|j| {
                let u = ((h >> 24) as usize + j * 7_919) % n_users;
                (j as u32 + 1, users[u].login.clone())
            })
            .collect();
        let actor = Actor {
            user: 0,
            now: now_ms(),
        };
        let result = store
            .bulk_add_members(actor, *id, &entries)
            .expect("bulk add");
        memberships += result.added as usize;
        members[i] = result.added as u64;
    }
    let members_time = start.elapsed();
    store.flush().expect("flush");
    eprintln!(
        "  built: users {:.1} s, groups {:.1} s, {memberships} memberships {:.1} s",
        users_time.as_secs_f64(),
        groups_time.as_secs_f64(),
        members_time.as_secs_f64()
    );
    Fixture {
        _dir: dir,
        store,
        _db: db,
        folded: names.iter().map(|s| fold(s)).collect(),
        names,
        ids,
        members,
        users,
        users_time,
        groups_time,
        members_time,
        memberships,
    }
}

/// Folds as the store does (`codec::fold`): trimmed, lower case.
fn fold(s: &str) -> String {
    s.trim().to_lowercase()
}

/// What one call returned: rows, total, capped.
type Answer = (usize, u64, bool);

#[derive(Clone, Copy)]
enum Page {
    At(u32),
    /// The last page the table offers for the call's total.
    Last,
}

#[derive(Clone, Copy)]
enum Call {
    Groups {
        query: &'static str,
        sort: GroupSort,
        desc: bool,
        page: Page,
    },
    Users {
        query: &'static str,
    },
}

impl Call {
    /// The page number this call asks for in `store`.
    fn page_in(&self, store: &Store) -> u32 {
        match *self {
            Call::Groups {
                query,
                sort,
                desc,
                page: Page::Last,
            } => {
                let (_, total, _) = store
                    .list_groups(query, sort, desc, 1, PER_PAGE, None)
                    .expect("list groups");
                total.div_ceil(PER_PAGE as u64).max(1) as u32
            }
            Call::Groups {
                page: Page::At(p), ..
            } => p,
            Call::Users { .. } => 1,
        }
    }

    fn run(&self, store: &Store, page: u32) -> Answer {
        match *self {
            Call::Groups {
                query, sort, desc, ..
            } => {
                let (rows, total, capped) = store
                    .list_groups(query, sort, desc, page, PER_PAGE, None)
                    .expect("list groups");
                (black_box(rows).len(), total, capped)
            }
            Call::Users { query } => {
                let p = store.list_users(query, page, PER_PAGE).expect("list users");
                (black_box(p.rows).len(), p.total, p.total_is_capped)
            }
        }
    }
}

struct Op {
    id: &'static str,
    label: String,
    call: Call,
}

#[derive(Clone, Copy)]
struct Stats {
    median: Duration,
    p95: Duration,
    samples: usize,
}

/// Warms up (at least 10 calls and 100 ms), then times calls until it has 2 s or 2,000 of
/// them (at least 30).
fn measure(mut f: impl FnMut()) -> Stats {
    let start = Instant::now();
    let mut warm = 0;
    while (warm < 10 || start.elapsed() < Duration::from_millis(100)) && warm < 2_000 {
        f();
        warm += 1;
    }
    let mut samples = Vec::new();
    let start = Instant::now();
    while samples.len() < 30 || (samples.len() < 2_000 && start.elapsed() < Duration::from_secs(2))
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
        samples: n,
    }
}

/// Every sort the table offers.
const SORTS: [(GroupSort, bool); 6] = [
    (GroupSort::Name, false),
    (GroupSort::Name, true),
    (GroupSort::Members, false),
    (GroupSort::Members, true),
    (GroupSort::Created, false),
    (GroupSort::Created, true),
];

fn sort_label(sort: GroupSort, desc: bool) -> String {
    let s = match sort {
        GroupSort::Name => "name",
        GroupSort::Members => "members",
        GroupSort::Created => "created",
    };
    format!("{s}{}", if desc { ", descending" } else { "" })
}

/// All groups (indices into `names`) in the table's order: folded name; member count, then id;
/// id (= creation). Descending is the reverse.
fn sort_order(fx: &Fixture, sort: GroupSort, desc: bool) -> Vec<usize> {
    let mut order: Vec<usize> = (0..fx.names.len()).collect();
    match sort {
        GroupSort::Name => order.sort_by(|&a, &b| fx.folded[a].cmp(&fx.folded[b])),
        GroupSort::Members => order.sort_by_key(|&i| (fx.members[i], fx.ids[i])),
        GroupSort::Created => order.sort_by_key(|&i| fx.ids[i]),
    }
    if desc {
        order.reverse();
    }
    order
}

/// Checks a groups search against the brute force, in every sort, on pages 1, 2, 25 and 50 (the
/// last page a capped total offers): the rows (ids, in order) and the total. A total may be
/// capped only when more than [`MATCH_CAP`] groups match, and then reads [`MATCH_CAP`].
fn check_groups(fx: &Fixture, orders: &[Vec<usize>], query: &str) -> Vec<String> {
    let q = fold(query);
    let mut notes = Vec::new();
    for (&(sort, desc), order) in SORTS.iter().zip(orders) {
        let expected: Vec<usize> = order
            .iter()
            .copied()
            .filter(|&i| fx.folded[i].contains(&q))
            .collect();
        for page in [1, 2, 25, 50] {
            let (rows, total, capped) = fx
                .store
                .list_groups(query, sort, desc, page, PER_PAGE, None)
                .expect("list groups");
            let (skip, take) = search::window(page, PER_PAGE);
            let got: Vec<u64> = rows.iter().map(|g| g.id).collect();
            let want: Vec<u64> = expected
                .iter()
                .skip(skip)
                .take(take)
                .map(|&i| fx.ids[i])
                .collect();
            let mut bad = Vec::new();
            let true_total = expected.len();
            if capped && (true_total <= MATCH_CAP || total != MATCH_CAP as u64) {
                bad.push(format!(
                    "total {total} reported as capped (\"more than\"), but {true_total} \
                     match"
                ));
            }
            if !capped && total != true_total as u64 {
                bad.push(format!("total {total}, brute force {true_total}"));
            }
            if let Some(row) = (0..got.len().max(want.len())).find(|&i| got.get(i) != want.get(i)) {
                let name = |id: Option<&u64>| {
                    id.and_then(|id| fx.ids.iter().position(|x| x == id))
                        .map_or("nothing".to_string(), |i| format!("{:?}", fx.names[i]))
                };
                bad.push(format!(
                    "row {} of the page is {} where the brute force has {}",
                    row + 1,
                    name(got.get(row)),
                    name(want.get(row))
                ));
            }
            if !bad.is_empty() {
                notes.push(format!(
                    "{} groups, query {query:?}, by {}, page {page}: {}",
                    thousands(fx.names.len() as u64),
                    sort_label(sort, desc),
                    bad.join("; ")
                ));
            }
        }
    }
    notes
}

/// The terms a user is found by, as the store indexes them.
fn user_terms(u: &UserFields) -> Vec<String> {
    search::terms(&[&u.login, &u.email, &u.display_name])
}

/// Checks a users search: every returned user matches, the page is as full as it can be, and
/// the total is right (or capped at [`TOTAL_CAP`] when at least that many match).
fn check_users(fx: &Fixture, query: &str) -> Option<String> {
    let q = fold(query);
    let expected: HashSet<&str> = fx
        .users
        .iter()
        .filter(|u| {
            let l = fold(&u.login);
            let e = fold(&u.email);
            let d = fold(&u.display_name);
            l.starts_with(&q)
                || e.starts_with(&q)
                || d.starts_with(&q)
                || d.split_whitespace().any(|w| w.starts_with(&q))
        })
        .map(|u| u.login.as_str())
        .collect();
    let page = fx.store.list_users(query, 1, PER_PAGE).expect("list users");
    let mut notes = Vec::new();
    let true_total = expected.len() as u64;
    if page.total_is_capped && (true_total < TOTAL_CAP || page.total != TOTAL_CAP) {
        notes.push(format!(
            "total {} reported as capped, brute force {true_total}",
            page.total
        ));
    }
    if !page.total_is_capped && page.total != true_total {
        notes.push(format!("total {}, brute force {true_total}", page.total));
    }
    if let Some(bad) = page
        .rows
        .iter()
        .find(|r| !expected.contains(r.login.as_str()))
    {
        notes.push(format!("returned {} which does not match", bad.login));
    }
    let distinct: HashSet<&str> = page.rows.iter().map(|r| r.login.as_str()).collect();
    let full = expected.len().min(PER_PAGE as usize);
    if distinct.len() != page.rows.len() || page.rows.len() != full {
        notes.push(format!(
            "{} rows ({} distinct) where {full} match",
            page.rows.len(),
            distinct.len()
        ));
    }
    (!notes.is_empty()).then(|| {
        format!(
            "{} users, query {query:?}: {}",
            thousands(fx.users.len() as u64),
            notes.join("; ")
        )
    })
}

/// What a call reads, counted by replaying the store's scans over the generated data.
#[derive(Clone, Copy)]
struct Reads {
    /// Groups (users) that truly match.
    matches: usize,
    /// Entries of the search index the prefix scan reads (`group_suffix` / `search_user`).
    scanned: usize,
    /// Entries of the sort index walked, when more than the cap match.
    walked: Option<usize>,
    /// Records read.
    records: usize,
}

/// Replays `list_groups`: the prefix scan of `group_suffix` (stopping at the
/// [`MATCH_CAP`]` + 1`st distinct group) and, when it stops there, the walk of the sort index.
fn replay_groups(fx: &Fixture, order: &[usize], sort: GroupSort, query: &str, page: u32) -> Reads {
    let q = fold(query);
    let prefix: String = q.chars().take(SUFFIX_MAX).collect();
    let mut entries: Vec<(String, u64)> = Vec::new();
    for (i, name) in fx.folded.iter().enumerate() {
        if name.contains(&prefix) {
            entries.extend(
                suffixes(name)
                    .into_iter()
                    .filter(|s| s.starts_with(&prefix))
                    .map(|s| (s, fx.ids[i])),
            );
        }
    }
    entries.sort();
    let mut seen = HashSet::new();
    let mut scanned = 0;
    let mut over = false;
    for (_, id) in &entries {
        scanned += 1;
        if seen.insert(*id) && seen.len() > MATCH_CAP {
            over = true;
            break;
        }
    }
    let matches = fx.folded.iter().filter(|n| n.contains(&q)).count();
    if !over {
        return Reads {
            matches,
            scanned,
            walked: None,
            records: seen.len(),
        };
    }
    let (skip, take) = search::window(page, PER_PAGE);
    let (mut walked, mut records, mut found) = (0, 0, 0);
    for &i in order {
        walked += 1;
        let hit = fx.folded[i].contains(&q);
        if hit || sort != GroupSort::Name {
            records += 1;
        }
        if hit {
            found += 1;
            if found >= skip + take {
                break;
            }
        }
    }
    Reads {
        matches,
        scanned,
        walked: Some(walked),
        records,
    }
}

/// Replays `list_users` (page 1): the prefix scan of `search_user`, counting distinct users up
/// to [`TOTAL_CAP`].
fn replay_users(fx: &Fixture, query: &str) -> Reads {
    let q = fold(query);
    let mut entries: Vec<(String, usize)> = Vec::new();
    for (i, u) in fx.users.iter().enumerate() {
        entries.extend(
            user_terms(u)
                .into_iter()
                .filter(|t| t.starts_with(&q))
                .map(|t| (t, i)),
        );
    }
    entries.sort();
    let matches = entries.iter().map(|e| e.1).collect::<HashSet<_>>().len();
    let mut seen = HashSet::new();
    let mut scanned = 0;
    for (_, i) in &entries {
        scanned += 1;
        if seen.insert(*i) && seen.len() as u64 >= TOTAL_CAP {
            break;
        }
    }
    Reads {
        matches,
        scanned,
        walked: None,
        records: seen.len().min(PER_PAGE as usize),
    }
}

fn micros(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us >= 10_000.0 {
        format!("{:.1} ms", us / 1_000.0)
    } else if us >= 100.0 {
        format!("{us:.0} µs")
    } else {
        format!("{us:.1} µs")
    }
}

fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn matches_cell(a: Answer) -> String {
    format!(
        "{}{}",
        thousands(a.1),
        if a.2 { " (more than)" } else { "" }
    )
}

fn percent(part: usize, whole: usize) -> String {
    format!("{:.1}%", 100.0 * part as f64 / whole.max(1) as f64)
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

/// The 1-minute load average (0 where /proc/loadavg is missing).
fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|l| l.parse().ok()))
        .unwrap_or(0.0)
}

/// CPU time from /proc: `(all CPUs' busy ticks, all CPUs' ticks, this process's ticks)`;
/// zeros where /proc is missing.
fn cpu_ticks() -> (u64, u64, u64) {
    let all: Vec<u64> = std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|s| s.lines().next().map(str::to_string))
        .map(|l| {
            l.split_whitespace()
                .skip(1)
                .filter_map(|f| f.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    // user nice system idle iowait irq softirq steal ...: idle and iowait are not busy.
    let busy = all
        .iter()
        .take(8)
        .enumerate()
        .filter(|(i, _)| *i != 3 && *i != 4)
        .map(|(_, t)| t)
        .sum();
    let total = all.iter().take(8).sum();
    let own = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            // After the name: fields 3 (state) on; utime and stime are fields 14 and 15.
            let f: Vec<&str> = s.rsplit_once(')')?.1.split_whitespace().collect();
            Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
        })
        .unwrap_or(0);
    (busy, total, own)
}

/// Cores kept busy by other processes between two [`cpu_ticks`] readings.
fn others_busy(a: (u64, u64, u64), b: (u64, u64, u64), cores: usize) -> f64 {
    let busy = (b.0 - a.0).saturating_sub(b.2 - a.2) as f64;
    busy / (b.1 - a.1).max(1) as f64 * cores as f64
}

fn main() {
    // Queries made of common words, cut from a name both stores hold ("Design Apprentices,
    // Bremen 2018"): from inside its first word to its end (that one group in either store),
    // and its middle words (a share of the groups, so more matches in the larger store).
    let probe = generated_name(123);
    let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
    let selective = leak(probe.chars().skip(3).collect());
    let middle = {
        let chars: Vec<char> = probe.chars().collect();
        let (a, b) = (chars.len() / 4, chars.len() - chars.len() / 4);
        leak(chars[a..b].iter().collect())
    };
    // A query longer than the suffixes the index keeps: the end of a long name in both stores.
    let long_query = {
        let name = (0..SMALL)
            .map(generated_name)
            .find(|n| n.chars().count() > SUFFIX_MAX + 8)
            .expect("a long generated name");
        leak(name.chars().skip(2).collect())
    };
    let selective_login = leak(user_fields(SMALL / 2).login);

    let group = |query, sort, desc, page| Call::Groups {
        query,
        sort,
        desc,
        page,
    };
    use GroupSort::{Created, Members, Name};
    use Page::{At, Last};
    let ops = vec![
        Op {
            id: "a",
            label: "Groups: page 1 by name, no query".into(),
            call: group("", Name, false, At(1)),
        },
        Op {
            id: "b",
            label: "Groups: page 50 by name, no query".into(),
            call: group("", Name, false, At(50)),
        },
        Op {
            id: "c",
            label: "Groups: page 1 by members, descending".into(),
            call: group("", Members, true, At(1)),
        },
        Op {
            id: "d",
            label: "Groups: page 1 by created, descending".into(),
            call: group("", Created, true, At(1)),
        },
        Op {
            id: "e1",
            label: "Groups: search \"manjar\" (a rare word), by name".into(),
            call: group("manjar", Name, false, At(1)),
        },
        Op {
            id: "e2",
            label: format!("Groups: search \"{selective}\" (common words, one group), by name"),
            call: group(selective, Name, false, At(1)),
        },
        Op {
            id: "e3",
            label: format!("Groups: search \"{middle}\" (common words, 0.2% of groups), by name"),
            call: group(middle, Name, false, At(1)),
        },
        Op {
            id: "f1",
            label: "Groups: search \"ch\" (2 characters), page 1 by name".into(),
            call: group("ch", Name, false, At(1)),
        },
        Op {
            id: "f2",
            label: "Groups: search \"ch\", page 1 by members, descending".into(),
            call: group("ch", Members, true, At(1)),
        },
        Op {
            id: "f3",
            label: "Groups: search \"ch\", page 1 by created, descending".into(),
            call: group("ch", Created, true, At(1)),
        },
        Op {
            id: "g1",
            label: "Groups: search \"bremen\" (a place: 2% of groups), page 1 by name".into(),
            call: group("bremen", Name, false, At(1)),
        },
        Op {
            id: "g2",
            label: "Groups: search \"bremen\", page 1 by members, descending".into(),
            call: group("bremen", Members, true, At(1)),
        },
        Op {
            id: "g3",
            label: "Groups: search \"bremen\", last page by name".into(),
            call: group("bremen", Name, false, Last),
        },
        Op {
            id: "g4",
            label: "Groups: search \"bremen\", last page by members, descending".into(),
            call: group("bremen", Members, true, Last),
        },
        Op {
            id: "u1",
            label: format!("Users picker: \"{selective_login}\" (one user)"),
            call: Call::Users {
                query: selective_login,
            },
        },
        Op {
            id: "u2",
            label: "Users picker: \"mar\" (a common prefix)".into(),
            call: Call::Users { query: "mar" },
        },
    ];

    let total_start = Instant::now();
    let load_start = load_average();
    let small = build(SMALL, group_names(SMALL));
    let large = build(LARGE, group_names(LARGE));
    let edge = build(20, long_prefix_names());
    let large_pg = process::Database::new().map(|db| build_on(LARGE, group_names(LARGE), Some(db)));

    eprintln!("Checking answers against a brute-force search");
    let mut check_notes = Vec::new();
    let mut checked = 0;
    let group_queries = [
        "manjar",
        selective,
        middle,
        "ch",
        "bremen",
        "Kilimanjaro Expedition",
        "2019",
        "a",
        long_query,
    ];
    let orders_of = |fx: &Fixture| -> Vec<Vec<usize>> {
        SORTS
            .iter()
            .map(|&(sort, desc)| sort_order(fx, sort, desc))
            .collect()
    };
    let small_orders = orders_of(&small);
    let large_orders = orders_of(&large);
    for (fx, orders) in [(&small, &small_orders), (&large, &large_orders)] {
        for q in group_queries {
            check_notes.extend(check_groups(fx, orders, q));
            checked += SORTS.len() * 4;
        }
        for q in [selective_login, "mar", "olivia"] {
            check_notes.extend(check_users(fx, q));
            checked += 1;
        }
    }
    if let Some(fx) = &large_pg {
        let orders = orders_of(fx);
        for q in group_queries {
            check_notes.extend(
                check_groups(fx, &orders, q)
                    .into_iter()
                    .map(|n| format!("PostgreSQL: {n}")),
            );
            checked += SORTS.len() * 4;
        }
        for q in [selective_login, "mar", "olivia"] {
            check_notes.extend(check_users(fx, q).map(|n| format!("PostgreSQL: {n}")));
            checked += 1;
        }
    }
    assert!(LONG_PREFIX_QUERY.chars().count() > SUFFIX_MAX);
    let edge_notes = check_groups(&edge, &orders_of(&edge), LONG_PREFIX_QUERY);
    checked += SORTS.len() * 4;
    for n in check_notes.iter().chain(&edge_notes) {
        eprintln!("  CHECK: {n}");
    }

    eprintln!("Timing");
    let load_before = load_average();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let ticks_before = cpu_ticks();
    let mut others_max = (0.0f64, "");
    let mut results = Vec::new();
    let mut pg_results = Vec::new();
    for op in &ops {
        let op_ticks = cpu_ticks();
        let mut row = Vec::new();
        for fx in [&small, &large] {
            let page = op.call.page_in(&fx.store);
            let answer = op.call.run(&fx.store, page);
            let stats = measure(|| {
                black_box(op.call.run(&fx.store, page));
            });
            eprintln!(
                "  {:>3} {:>6}: median {:>9}, p95 {:>9} ({} calls, {} matches, page {page})",
                op.id,
                fx.names.len(),
                micros(stats.median),
                micros(stats.p95),
                stats.samples,
                matches_cell(answer)
            );
            row.push((answer, stats, page));
        }
        if let Some(fx) = &large_pg {
            let page = op.call.page_in(&fx.store);
            let answer = op.call.run(&fx.store, page);
            let stats = measure(|| {
                black_box(op.call.run(&fx.store, page));
            });
            eprintln!(
                "  {:>3} PostgreSQL: median {:>9}, p95 {:>9} ({} calls, page {page})",
                op.id,
                micros(stats.median),
                micros(stats.p95),
                stats.samples,
            );
            pg_results.push((answer, stats, page));
        }
        let others = others_busy(op_ticks, cpu_ticks(), cores);
        if others > others_max.0 {
            others_max = (others, op.id);
        }
        results.push(row);
    }
    let others_mean = others_busy(ticks_before, cpu_ticks(), cores);
    let load_after = load_average();

    // What each search reads, replayed over the generated data.
    let reads: Vec<Option<[Reads; 2]>> = ops
        .iter()
        .zip(&results)
        .map(|(op, row)| match op.call {
            Call::Groups { query: "", .. } => None,
            Call::Groups {
                query, sort, desc, ..
            } => {
                let i = SORTS
                    .iter()
                    .position(|&s| s == (sort, desc))
                    .expect("a sort of SORTS");
                Some([
                    replay_groups(&small, &small_orders[i], sort, query, row[0].2),
                    replay_groups(&large, &large_orders[i], sort, query, row[1].2),
                ])
            }
            Call::Users { query } => {
                Some([replay_users(&small, query), replay_users(&large, query)])
            }
        })
        .collect();
    let reads_of = |id: &str| -> [Reads; 2] {
        ops.iter()
            .zip(&reads)
            .find(|(op, _)| op.id == id)
            .and_then(|(_, r)| *r)
            .expect("a timed search")
    };

    let mut out = String::new();
    out.push_str("## Groups table and users picker: 1,000 vs 100,000 records\n\n");
    out.push_str("```\nbash scripts/bench.sh groups\n```\n\n");
    out.push_str(&format!(
        "Machine: {cores} logical core(s), {}; the store's files on the local disk, sled's cache \
         warm (every call below was repeated after a warm-up). Total run time {:.0} s. While \
         the calls were timed, other processes kept {others_mean:.2} of the {cores} cores busy \
         on average, at most {:.2} during one operation ({}), from /proc/stat less this \
         process's own CPU time. Load average (1 min, this process included): {load_start:.2} \
         before building the stores, {load_before:.2} when timing began, {load_after:.2} at its \
         end.{}\n\n",
        cpu_model(),
        total_start.elapsed().as_secs_f64(),
        others_max.0,
        others_max.1,
        if others_mean >= 0.25 {
            " Other work (such as a build) shared the machine, so some times may be inflated; \
             for each operation the two stores were timed one right after the other."
        } else {
            ""
        }
    ));
    out.push_str(&format!(
        "Data: two stores built in one run, the same code on both. The small one has {} users and \
         {} groups, the large one {} and {}; the small store's group names are a subset of the \
         large one's. Names are \"Subject Level, Place Year\" (e.g. \"{}\": {} subjects × {} \
         levels × {} places × {} years, each combination at most once) plus five groups with the \
         rare word \"Kilimanjaro\" in both stores. One group in 25 has 1–40 members ({} and {} \
         memberships). Users are \"First Last\" from 40 × 40 names, login `first.lastN`.\n\n",
        thousands(SMALL as u64),
        thousands(SMALL as u64),
        thousands(LARGE as u64),
        thousands(LARGE as u64),
        generated_name(123),
        SUBJECTS.len(),
        LEVELS.len(),
        PLACES.len(),
        YEARS,
        thousands(small.memberships as u64),
        thousands(large.memberships as u64),
    ));
    out.push_str(&format!(
        "Building the large store (one transaction per record, as the app writes them): {} users \
         in {:.0} s, {} groups in {:.0} s, memberships in {:.0} s.\n\n",
        thousands(LARGE as u64),
        large.users_time.as_secs_f64(),
        thousands(LARGE as u64),
        large.groups_time.as_secs_f64(),
        large.members_time.as_secs_f64(),
    ));
    out.push_str(&format!(
        "Each call asks for one page of {PER_PAGE} rows (the app's page size) straight from the \
         store (`Store::list_groups` / `Store::list_users`), with no HTTP in between. \
         \"Matches\" is the total the call reported; \"(more than)\" means it stopped counting \
         at {} (`MATCH_CAP` for groups, `TOTAL_CAP` for users) and the table says \"more than \
         {}\". \"Last page\" is the last page the table offers for that total: page {} of \"bremen\" \
         with 1,000 groups, page {} with 100,000.\n\n",
        thousands(MATCH_CAP as u64),
        thousands(TOTAL_CAP),
        results[ops.iter().position(|o| o.id == "g3").expect("g3")][0].2,
        results[ops.iter().position(|o| o.id == "g3").expect("g3")][1].2,
    ));
    out.push_str(
        "| | Operation | Matches 1k | Matches 100k | Median 1k | p95 1k | Median 100k | p95 100k | Ratio (median) | ≤ 2× |\n",
    );
    out.push_str("|---|---|--:|--:|--:|--:|--:|--:|--:|:-:|\n");
    let ratio = |row: &[(Answer, Stats, u32)]| {
        row[1].1.median.as_secs_f64() / row[0].1.median.as_secs_f64()
    };
    for (op, row) in ops.iter().zip(&results) {
        let (a1, s1, _) = row[0];
        let (a2, s2, _) = row[1];
        let r = ratio(row);
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {:.2}× | {} |\n",
            op.id,
            op.label,
            matches_cell(a1),
            matches_cell(a2),
            micros(s1.median),
            micros(s1.p95),
            micros(s2.median),
            micros(s2.p95),
            r,
            if r <= 2.0 { "yes" } else { "**no**" }
        ));
    }
    out.push('\n');

    match &large_pg {
        Some(pg) => {
            out.push_str(&format!(
                "The same calls on PostgreSQL, 100,000 users and 100,000 groups (the large store's \
                 data, built the same way: users in {:.0} s, groups in {:.0} s, memberships in \
                 {:.0} s), on a local cluster on the same machine (so the database server shares \
                 the cores; each call is a round trip over loopback TCP), timed right after the \
                 sled stores for each operation:\n\n\
                 | | Matches sled 100k | Matches PostgreSQL 100k | Median sled 100k | p95 sled 100k | Median PostgreSQL 100k | p95 PostgreSQL 100k | PostgreSQL / sled (median) |\n\
                 |---|--:|--:|--:|--:|--:|--:|--:|\n",
                pg.users_time.as_secs_f64(),
                pg.groups_time.as_secs_f64(),
                pg.members_time.as_secs_f64(),
            ));
            for ((op, row), (a, st, _)) in ops.iter().zip(&results).zip(&pg_results) {
                let (a1, s1, _) = row[1];
                out.push_str(&format!(
                    "| {} | {} | {} | {} | {} | {} | {} | {:.1}× |\n",
                    op.id,
                    matches_cell(a1),
                    matches_cell(*a),
                    micros(s1.median),
                    micros(s1.p95),
                    micros(st.median),
                    micros(st.p95),
                    st.median.as_secs_f64() / s1.median.as_secs_f64(),
                ));
            }
            out.push('\n');
        }
        None => out.push_str("PostgreSQL: not run (`TESSERA_TEST_DATABASE_URL` unset).\n\n"),
    }

    out.push_str(
        "What each search reads, counted by replaying the store's scans over the generated names \
         (\"Scanned\": entries of `group_suffix` or `search_user` read by the prefix scan; \
         \"Walked\": entries of the sort index walked when more than the cap match, — when it \
         is not walked; \"Records\": records read):\n\n\
         | | True matches 1k | True matches 100k | Scanned 1k | Scanned 100k | Walked 1k | \
         Walked 100k | Records 1k | Records 100k |\n\
         |---|--:|--:|--:|--:|--:|--:|--:|--:|\n",
    );
    let walked = |w: Option<usize>| w.map_or("—".to_string(), |w| thousands(w as u64));
    for (op, r) in ops.iter().zip(&reads) {
        let Some([s, l]) = r else { continue };
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            op.id,
            thousands(s.matches as u64),
            thousands(l.matches as u64),
            thousands(s.scanned as u64),
            thousands(l.scanned as u64),
            walked(s.walked),
            walked(l.walked),
            thousands(s.records as u64),
            thousands(l.records as u64),
        ));
    }
    out.push('\n');

    out.push_str(&format!(
        "Checks: {checked} calls compared with a brute-force search of the generated names, in \
         both stores: groups queries {} in every sort (name, members, created; ascending and \
         descending) on pages 1, 2, 25 and 50, comparing the rows in order and the total (a \
         total may read \"more than {}\" only when more groups match); users queries \"{}\", \
         \"mar\", \"olivia\" (rows match, page full, total right or capped only when at least {} \
         match). ",
        group_queries
            .iter()
            .map(|q| format!("{q:?}"))
            .collect::<Vec<_>>()
            .join(", "),
        thousands(MATCH_CAP as u64),
        selective_login,
        thousands(TOTAL_CAP),
    ));
    if check_notes.is_empty() {
        out.push_str("All of them matched, capped searches included.\n\n");
    } else {
        out.push_str(&format!("{} of them differed:\n\n", check_notes.len()));
        for n in &check_notes {
            out.push_str(&format!("- {n}\n"));
        }
        out.push('\n');
    }
    out.push_str(&format!(
        "One more check, on a third store of {} groups named \"{}\" … \"{}\": the query \"{}\" is \
         longer than the {SUFFIX_MAX} characters the suffixes are cut to, and its first \
         {SUFFIX_MAX} characters are in every name. ",
        thousands(edge.names.len() as u64),
        edge.names[0],
        edge.names[edge.names.len() - 1],
        LONG_PREFIX_QUERY,
    ));
    if edge_notes.is_empty() {
        out.push_str("It matched the brute force in every sort and page.\n\n");
    } else {
        out.push_str(&format!(
            "{} of its {} calls differed from the brute force, e.g.:\n\n- {}\n\n",
            edge_notes.len(),
            SORTS.len() * 4,
            edge_notes[0]
        ));
    }

    let verdict = |met: bool| -> String {
        let ids: Vec<&str> = ops
            .iter()
            .zip(&results)
            .filter(|(_, row)| (ratio(row) <= 2.0) == met)
            .map(|(op, _)| op.id)
            .collect();
        if ids.is_empty() {
            "none".into()
        } else {
            ids.join(", ")
        }
    };
    out.push_str(&format!(
        "### Against the target\n\n\
         MISSION asks: \"Groups table search with 100,000 groups: no more than 2× the time it \
         takes with 1,000 groups.\" Read per operation as the ratio of the medians above, it is \
         **met** for {} and **not met** for {}.\n\n",
        verdict(true),
        verdict(false)
    ));

    let [e3s, e3l] = reads_of("e3");
    let [f1s, f1l] = reads_of("f1");
    let [_, f2l] = reads_of("f2");
    let [g1s, g1l] = reads_of("g1");
    let [_, g3l] = reads_of("g3");
    let [_, g4l] = reads_of("g4");
    let [u2s, u2l] = reads_of("u2");
    let w = |r: Reads| thousands(r.walked.unwrap_or(0) as u64);
    out.push_str(&format!(
        "### Why\n\n\
         - **No query (a–d).** Each sort reads an index kept in that order: `group_name` (folded \
         name → id) for name, `group_by_members` (member count ++ id) for members, `groups` itself \
         (ids grow with creation) for created. The call skips to the page, takes {PER_PAGE} \
         entries and reads those {PER_PAGE} records; only the B-tree's depth grows with the \
         store. Page 50 costs the 980 entries it skips, the same in both stores.\n\
         - **At most {cap} groups match (e1–e3; f and g with 1,000 groups).** \
         `group_suffix` holds every suffix of each folded name (cut to {SUFFIX_MAX} characters) \
         ++ 0x00 ++ id, so the groups whose name contains the query are exactly those with a \
         suffix starting with it: one prefix scan finds them, reading one entry per place the \
         query occurs in a name (a longer query is scanned by its first {SUFFIX_MAX} characters). \
         The call then reads each group found, keeps those whose name holds the whole query, \
         sorts them and cuts the page. Its cost follows the matches, not the store: e1 and e2 \
         find the same groups in both stores; e3 finds {e3s} groups in one and {e3l} in the \
         other and reads that many records.\n\
         - **More than {cap} groups match (f and g with 100,000 groups).** The scan \
         stops once it has found {cap1} distinct groups (\"ch\": {f1l_scan} entries), the total reads \
         \"more than {cap}\", and the page comes from walking the sort index from its start (its \
         end when descending), keeping the groups whose name holds the query until the earlier \
         pages are skipped and the page is full. By name the name is tested in the index key \
         (the folded name), so only kept groups' records are read, those of the skipped pages \
         included; by members every walked entry's record is read; by created the walked \
         entries are the records. The walk costs (rows skipped + {PER_PAGE}) ÷ the share of \
         groups that match. \"ch\" is in {f_share} of the names: page 1 takes {f1l_walk} \
         entries by name, {f2l_walk} by members. \"bremen\" is in {g_share}: page 1 by name \
         walks {g1l_walk} entries; its last page walks {g3l_walk} by name (reading {g3l_rec} \
         records) and {g4l_walk} by members (reading {g4l_rec} records). With 1,000 groups the \
         same query has {g1s} matches, read from the suffix index as above ({f1s} for \"ch\"). \
         So with 100,000 groups page 1 of such a query costs the scan of {cap1} groups plus a walk \
         set by the query's share of the groups, whatever the number of groups, while with \
         1,000 groups the same query reads only its few matches: hence the ratios of f1–f3, g1 \
         and g2. A later page of a query that a small share of the groups match walks a part of \
         the index that grows with the store, up to all of it (g3, g4: their last page walks \
         {g4_share} of it).\n\
         - **Users picker (u1, u2).** A prefix scan of `search_user` (term ++ 0x00 ++ id). It \
         stops collecting rows after the page but goes on counting distinct users for the \
         total, up to {tcap}: one user stays at microseconds, a common prefix costs up to \
         {tcap} users' entries (\"mar\": {u2s_scan} entries with 1,000 users, {u2l_scan} with \
         100,000, where {u2l_true} users match).\n",
        cap = thousands(MATCH_CAP as u64),
        cap1 = thousands(MATCH_CAP as u64 + 1),
        e3s = thousands(e3s.matches as u64),
        e3l = thousands(e3l.matches as u64),
        f1l_scan = thousands(f1l.scanned as u64),
        f_share = percent(f1l.matches, LARGE),
        f1l_walk = w(f1l),
        f2l_walk = w(f2l),
        g_share = percent(g1l.matches, LARGE),
        g1l_walk = w(g1l),
        g3l_walk = w(g3l),
        g3l_rec = thousands(g3l.records as u64),
        g4l_walk = w(g4l),
        g4l_rec = thousands(g4l.records as u64),
        g4_share = percent(g4l.walked.unwrap_or(0), LARGE),
        g1s = thousands(g1s.matches as u64),
        f1s = thousands(f1s.matches as u64),
        tcap = thousands(TOTAL_CAP),
        u2s_scan = thousands(u2s.scanned as u64),
        u2l_scan = thousands(u2l.scanned as u64),
        u2l_true = thousands(u2l.matches as u64),
    ));
    print!("{out}");
}
