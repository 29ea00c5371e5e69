//! `tessera seed`: a realistic school written straight into a new data directory, so that anyone
//! can try Tessera, and measure it, at the size of a real one.
//!
//! What it writes, through the store's own operations (so every index, counter and audit line
//! is the one the app itself would write, and `tessera check` holds):
//! - an administrator, `admin`, and `users` learners `learner1` … with varied names;
//! - `courses` courses of three lessons each;
//! - `groups` groups ("Class 0001" …), the learners spread evenly over them;
//! - each group gives `courses_per_group` courses, and its members are enrolled in them as the
//!   group's "enrol all members" does (enrolments = users × courses per group);
//! - progress: every third learner has done the first lesson of their group's first course.
//!
//! Everyone gets the same password (hashed once), which the command prints.
//!
//! On PostgreSQL the learners and the groups are written by several writers at once (each
//! group whole by one writer), as several servers' requests would be: one writer waited on the
//! database's round trips (about 150 learners a second).
//!
//! It leaves no job pending. Adding a course's second and third lessons queues a job (learners
//! who had completed the course keep that completion); run by the server's first start, after
//! the enrolments, those 2 × `courses` jobs walked every enrolment and held about 180 MB more
//! than a restart at 100,000 users (BENCHMARKS.md, "Memory"). The seed runs them as the
//! courses are written, when nobody is enrolled yet and each finishes in one step.

use super::store::courses::{CourseFields, LessonChange};
use super::store::enrolments::Source;
use super::store::groups::{Actor, GroupFields};
use super::store::users::{PasswordHash, UserFields};
use super::store::{now_ms, Store, StoreError};
use crate::model::group::{JoinedHow, KeySettings};
use crate::model::user::Role;
use std::time::Instant;

/// How big a school to write.
#[derive(Debug, Clone, Copy)]
pub struct SeedPlan {
    pub users: u64,
    pub groups: u64,
    pub courses: u64,
    pub courses_per_group: u64,
}

/// What was written, and how long it took.
#[derive(Debug, Clone, Default)]
pub struct SeedSummary {
    pub users: u64,
    pub groups: u64,
    pub courses: u64,
    pub enrolments: u64,
    pub completions: u64,
    pub seconds: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("{0}")]
    Plan(String),
    #[error(
        "the data directory already has accounts: seed writes only into a new (or empty) one, \
         never next to real data"
    )]
    NotEmpty,
    #[error("{0}")]
    Store(#[from] StoreError),
}

const FIRST: [&str; 24] = [
    "Ada", "Ben", "Chloé", "Dmitri", "Emma", "Farid", "Grace", "Hugo", "Ines", "Jonas", "Kemi",
    "Liam", "Maya", "Noah", "Olga", "Pavel", "Quinn", "Rosa", "Sven", "Tariq", "Uma", "Viktor",
    "Wen", "Zoë",
];
const LAST: [&str; 20] = [
    "Achebe", "Bauer", "Costa", "Dubois", "Eriksen", "Fischer", "García", "Horvat", "Ivanova",
    "Jensen", "Kowalski", "López", "Moreau", "Nakamura", "O'Brien", "Petrov", "Rossi", "Schmidt",
    "Tanaka", "Weber",
];
const SUBJECTS: [&str; 12] = [
    "Algebra",
    "Biology",
    "Chemistry",
    "Data protection",
    "English",
    "First aid",
    "Geography",
    "History",
    "Information security",
    "Physics",
    "Spanish",
    "Workplace safety",
];

impl SeedPlan {
    /// Limits that keep a typing mistake from filling a disk, and a plan that makes sense.
    pub fn validate(&self) -> Result<(), SeedError> {
        let bad = |m: &str| Err(SeedError::Plan(m.to_string()));
        if !(1..=1_000_000).contains(&self.users) {
            return bad("--users must be between 1 and 1000000");
        }
        if !(1..=100_000).contains(&self.groups) || self.groups > self.users {
            return bad("--groups must be between 1 and 100000, and at most --users");
        }
        if !(1..=10_000).contains(&self.courses) {
            return bad("--courses must be between 1 and 10000");
        }
        if !(0..=self.courses.min(100)).contains(&self.courses_per_group) {
            return bad("--courses-per-group must be between 0 and --courses (at most 100)");
        }
        Ok(())
    }
}

/// Writes the school of `plan` into `store`, which must have no account yet; `password` is
/// everyone's (already hashed). `progress` is told what is being written.
pub fn seed(
    store: &Store,
    plan: SeedPlan,
    password: &PasswordHash,
    mut progress: impl FnMut(&str),
) -> Result<SeedSummary, SeedError> {
    plan.validate()?;
    if store.user_count()? > 0 {
        return Err(SeedError::NotEmpty);
    }
    let started = Instant::now();
    let now = now_ms();
    let admin = store.create_user(
        &UserFields {
            login: "admin".into(),
            email: "admin@school.example".into(),
            display_name: "School Administrator".into(),
            role: Role::Admin,
        },
        password,
        true,
        now,
    )?;
    let actor = Actor {
        user: admin.id,
        now,
    };

    progress(&format!("{} learners", plan.users));
    let users = in_parallel(writers(store), 1..plan.users + 1, |i| {
        let first = FIRST[(i % FIRST.len() as u64) as usize];
        let last = LAST[((i / FIRST.len() as u64) % LAST.len() as u64) as usize];
        let f = UserFields {
            login: format!("learner{i}"),
            email: format!("learner{i}@school.example"),
            display_name: format!("{first} {last}"),
            role: Role::Learner,
        };
        Ok(store.create_user(&f, password, false, now)?.id)
    })?;

    progress(&format!("{} courses", plan.courses));
    let mut courses = Vec::with_capacity(plan.courses as usize);
    for c in 0..plan.courses {
        let subject = SUBJECTS[(c % SUBJECTS.len() as u64) as usize];
        let level = c / SUBJECTS.len() as u64 + 1;
        let f = CourseFields {
            code: format!("{}-{level:03}", &subject[..3].to_uppercase()),
            title: format!("{subject} {level}"),
            description: format!("{subject}, level {level}: three short lessons."),
            archived: false,
        };
        let id = store.create_course(&f, now)?.id;
        let mut first_lesson = None;
        for (n, title) in ["Introduction", "Practice", "Review"].iter().enumerate() {
            let change = LessonChange::Add {
                title: (*title).to_string(),
                text: format!("Lesson {} of {subject} {level}.", n + 1),
            };
            let (lessons, _) = store.change_lessons(id, change)?;
            first_lesson = first_lesson.or(lessons.first().map(|l| l.id));
        }
        courses.push((id, first_lesson));
    }
    store.run_pending_jobs(now_ms())?;

    progress(&format!(
        "{} groups, their members and courses, and the enrolments",
        plan.groups
    ));
    let mut summary = SeedSummary {
        users: plan.users,
        groups: plan.groups,
        courses: plan.courses,
        ..SeedSummary::default()
    };
    // Group g's members are learners g, g + groups, g + 2 × groups … (counted from 0).
    let one_group = |g: u64| -> Result<(u64, u64), SeedError> {
        let f = GroupFields {
            name: format!("Class {:04}", g + 1),
            description: String::new(),
            branch: None,
            key: KeySettings::default(),
            is_default: false,
        };
        let group = store.create_group(actor, &f)?.0.id;
        let members: Vec<u64> = users
            .iter()
            .skip(g as usize)
            .step_by(plan.groups as usize)
            .copied()
            .collect();
        for user in &members {
            store.add_member(actor, group, *user, JoinedHow::Import)?;
        }
        let given: Vec<(u64, Option<u64>)> = (0..plan.courses_per_group)
            .map(|k| courses[((g * plan.courses_per_group + k) % plan.courses) as usize])
            .collect();
        for (course, _) in &given {
            store.link_group_course(actor, group, *course, true)?;
        }
        let ids: Vec<u64> = given.iter().map(|(c, _)| *c).collect();
        let (mut enrolled, mut completed) = (0, 0);
        if !ids.is_empty() {
            let per_call = (super::store::enrolments::MAX_BATCH_PAIRS / ids.len()).max(1);
            for chunk in members.chunks(per_call) {
                let counts =
                    store.enrol_users_in_courses(chunk, &ids, Source::GroupSync(group), now)?;
                enrolled += counts.enrolled;
            }
        }
        if let Some((course, Some(lesson))) = given.first() {
            for user in members.iter().step_by(3) {
                store.mark_lesson(*user, *course, *lesson, true, now)?;
                completed += 1;
            }
        }
        Ok((enrolled, completed))
    };
    let mut done = 0;
    while done < plan.groups {
        let block = done..(done + PROGRESS_EVERY).min(plan.groups);
        for (enrolled, completed) in in_parallel(writers(store), block.clone(), one_group)? {
            summary.enrolments += enrolled;
            summary.completions += completed;
        }
        done = block.end;
        if done % PROGRESS_EVERY == 0 {
            progress(&format!("{done} of {} groups", plan.groups));
        }
    }
    store.run_pending_jobs(now_ms())?;
    store.flush().map_err(StoreError::from)?;
    summary.seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}

/// Groups written between two progress lines.
const PROGRESS_EVERY: u64 = 1_000;

/// How many writers the seed runs at once. On PostgreSQL each small transaction waits for its
/// round trips to the database, so several writers keep the database busy (one at a time wrote
/// about 150 learners a second, eight about 320). Not more: new accounts' transactions are
/// `SERIALIZABLE`, and the seed's logins follow one another in the same index pages, which the
/// database's conflict tracking sees as conflicts; with eight writers one account in 92,000
/// failed its 30 tries. sled's writes stay in this process and gain nothing from more writers
/// (and one keeps the order, and so the ids, the same from run to run).
fn writers(store: &Store) -> usize {
    if store.networked() {
        4
    } else {
        1
    }
}

/// `write(i)` for every `i` of `items`, on `threads` threads, each taking an equal run of
/// them in order; the answers in the order of `items`. The first error stops every thread at
/// its next item and is returned.
fn in_parallel<T: Send>(
    threads: usize,
    items: std::ops::Range<u64>,
    write: impl Fn(u64) -> Result<T, SeedError> + Sync,
) -> Result<Vec<T>, SeedError> {
    let len = items.end.saturating_sub(items.start);
    let per = len.div_ceil(threads.max(1) as u64).max(1);
    let failed = std::sync::atomic::AtomicBool::new(false);
    let runs: Vec<Result<Vec<T>, SeedError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..len.div_ceil(per))
            .map(|t| {
                let (write, failed) = (&write, &failed);
                let from = items.start + t * per;
                let to = (from + per).min(items.end);
                scope.spawn(move || {
                    let mut out = Vec::with_capacity((to - from) as usize);
                    for i in from..to {
                        if failed.load(std::sync::atomic::Ordering::Relaxed) {
                            break;
                        }
                        match write(i) {
                            Ok(v) => out.push(v),
                            Err(e) => {
                                failed.store(true, std::sync::atomic::Ordering::Relaxed);
                                return Err(e);
                            }
                        }
                    }
                    Ok(out)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    let mut all = Vec::with_capacity(len as usize);
    for run in runs {
        all.extend(run?);
    }
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash() -> PasswordHash {
        PasswordHash::from_phc("$argon2id$v=19$m=19456,t=2,p=1$x$y".into())
    }

    #[test]
    fn a_small_school_is_whole_and_every_invariant_holds() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let plan = SeedPlan {
            users: 50,
            groups: 4,
            courses: 6,
            courses_per_group: 3,
        };
        let mut told = Vec::new();
        let s = seed(&store, plan, &hash(), |m| told.push(m.to_string())).unwrap();
        assert_eq!((s.users, s.groups, s.courses), (50, 4, 6));
        assert_eq!(s.enrolments, 50 * 3);
        // Every third member of each group (13 + 13 + 12 + 12 members).
        assert_eq!(s.completions, 5 + 5 + 4 + 4);
        assert!(!told.is_empty());
        assert_eq!(store.user_count().unwrap(), 51);
        assert_eq!(store.course_count().unwrap(), 6);
        let report = store.check().unwrap();
        assert!(report.violations.is_empty(), "{:?}", report.violations);
        let (class1, _) = store.find_for_login("learner1").unwrap().unwrap();
        assert_eq!(class1.display_name, "Ben Achebe");
        // A second seed into the same directory writes nothing.
        let before = store.user_count().unwrap();
        assert!(matches!(
            seed(&store, plan, &hash(), |_| {}),
            Err(SeedError::NotEmpty)
        ));
        assert_eq!(store.user_count().unwrap(), before);
    }

    #[test]
    fn the_seed_leaves_no_job_for_the_first_start() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let plan = SeedPlan {
            users: 30,
            groups: 3,
            courses: 4,
            courses_per_group: 2,
        };
        seed(&store, plan, &hash(), |_| {}).unwrap();
        // Each course's second and third lessons queued a job; all ran in the seed, before
        // anyone was enrolled (see the module header).
        assert_eq!(store.pending_jobs().unwrap(), Vec::<u64>::new());
    }

    #[test]
    fn parallel_writes_keep_the_order_and_stop_at_the_first_error() {
        for threads in [1, 3, 8, 40] {
            let got = in_parallel(threads, 5..30, |i| Ok(i * 2)).unwrap();
            assert_eq!(got, (5..30).map(|i| i * 2).collect::<Vec<_>>(), "{threads}");
        }
        assert!(in_parallel(4, 7..7, Ok).unwrap().is_empty());
        let tried = std::sync::atomic::AtomicU64::new(0);
        let failed = in_parallel(2, 0..1_000, |i| {
            tried.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if i == 3 {
                Err(SeedError::Plan(format!("item {i}")))
            } else {
                std::thread::sleep(std::time::Duration::from_millis(1));
                Ok(i)
            }
        });
        assert!(matches!(failed, Err(SeedError::Plan(m)) if m == "item 3"));
        // The other thread stopped soon after, not at the end of its 500.
        assert!(tried.load(std::sync::atomic::Ordering::Relaxed) < 600);
    }

    /// On PostgreSQL the seed writes with several writers at once: the school is the same
    /// whole school, every invariant holding.
    #[test]
    fn several_writers_seed_a_whole_school_on_postgresql() {
        let Some((db, pg)) = crate::server::store::postgres::tests::temp_pg_store() else {
            return;
        };
        let store = Store::new(pg);
        assert!(writers(&store) > 1);
        let plan = SeedPlan {
            users: 120,
            groups: 9,
            courses: 6,
            courses_per_group: 3,
        };
        let s = seed(&store, plan, &hash(), |_| {}).unwrap();
        assert_eq!(s.enrolments, 120 * 3);
        // Every third member of each group: 9 groups of 13 or 14 (120 = 3 × 14 + 6 × 13).
        assert_eq!(s.completions, 3 * 5 + 6 * 5);
        assert_eq!(store.user_count().unwrap(), 121);
        let report = store.check().unwrap();
        assert!(report.violations.is_empty(), "{:?}", report.violations);
        let (learner, _) = store.find_for_login("learner120").unwrap().unwrap();
        assert_eq!(learner.display_name, "Ada Fischer");
        assert_eq!(store.pending_jobs().unwrap(), Vec::<u64>::new());
        drop(store);
        drop(db);
    }

    #[test]
    fn impossible_plans_are_refused_before_anything_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let plan = SeedPlan {
            users: 10,
            groups: 20,
            courses: 5,
            courses_per_group: 2,
        };
        for bad in [
            plan,
            SeedPlan { users: 0, ..plan },
            SeedPlan {
                groups: 5,
                courses_per_group: 6,
                ..plan
            },
            SeedPlan {
                groups: 5,
                courses: 0,
                ..plan
            },
        ] {
            assert!(matches!(
                seed(&store, bad, &hash(), |_| {}),
                Err(SeedError::Plan(_))
            ));
        }
        assert_eq!(store.user_count().unwrap(), 0);
    }
}
