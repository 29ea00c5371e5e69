//! The sled backend, the embedded default: the store in one directory, nothing to install.
//!
//! Trees (one per record kind, index trees named `from_to`):
//! - `meta`: `schema_version`, counters (`count/...`) and settings (`setting/...`).
//! - `users`: user id → [`users::UserRecord`].
//! - `user_secrets`: user id → password hash (PHC string); kept apart so no user listing ever
//!   reads a hash.
//! - `login_user`, `email_user`: folded login / e-mail → user id (uniqueness and lookup).
//! - `search_user`: search term, `0x00`, user id → nothing (prefix search, see `users.rs`).
//! - `sessions`: hash of the session id → session envelope (see `sessions.rs`).
//! - branches, courses, curricula, enrolments (with their sources), groups (links, members,
//!   managers, the audit trail), background jobs (`jobs`), user imports and set-password
//!   tokens (`imports`, `import_rows`, `password_tokens`), messages with the inboxes and the
//!   e-mail outbox (`messages`, `message_bodies`, `group_messages`, `inbox`,
//!   `outbox`): see their files.
//! - `audit_index`: every audit event by time and by actor (`audit.rs`).
//!
//! Every operation that writes holds the write gate shared for its length, so that a backup
//! (`backup.rs`), which holds it alone, is a consistent snapshot.
//!
//! Records are the store's own types, pinned by `golden.rs`; `migrations.rs` brings older
//! databases up to [`SCHEMA_VERSION`] at start-up. A transaction over several trees declares
//! them by name (`tx.rs`).
//!
//! Each file implements its area's trait for [`SledStore`] (`users.rs` implements
//! `store::users::Users`, ...): the records and types come from the interface, the trees, keys,
//! transactions and counters are this folder's. The tests of what only sled has (its trees, its
//! files, damage written under it) live here too; everything else is the conformance suite, in
//! the interface's files.

pub(crate) mod archive;
pub(crate) mod audit;
pub(crate) mod backup;
pub(crate) mod branches;
pub(crate) mod check;
pub(crate) mod courses;
pub(crate) mod curricula;
pub(crate) mod enrolments;
pub(crate) mod groups;
pub(crate) mod imports;
pub(crate) mod jobs;
pub(crate) mod mass;
pub(crate) mod messages;
pub(crate) mod migrations;
pub(crate) mod rebuild;
pub(crate) mod reports;
pub mod search;
pub(crate) mod sessions;
pub(crate) mod settings;
pub(crate) mod tables;
pub(crate) mod throttles;
pub(crate) mod tx;
pub(crate) mod users;

pub(crate) use super::{
    codec, now_ms, BackendError, Core, OpenError, Snapshot, StoreError, SCHEMA_VERSION, TOTAL_CAP,
};
use sled::transaction::{ConflictableTransactionError, TransactionError, TransactionalTree};
use std::path::{Path, PathBuf};
use tables::of;

/// Every kind of background job and the module that does it (see `jobs.rs`): a new kind is
/// one more line here.
pub(crate) static JOB_STEPS: &[&dyn jobs::JobSteps] = &[
    &groups::SweepGroupJob,
    &courses::CourseDeletedJob,
    &courses::LessonsAddedJob,
    &curricula::CurriculumDeletedJob,
    &mass::MassEnrolJob,
    &imports::ImportJob,
    &messages::DeliveryJob,
];

use migrations::MIGRATIONS;

pub(crate) const SCHEMA_KEY: &[u8] = b"schema_version";

impl From<sled::Error> for BackendError {
    fn from(e: sled::Error) -> Self {
        match e {
            sled::Error::Io(io) => BackendError::Io {
                kind: io.kind(),
                message: io.to_string(),
            },
            other => BackendError::Other(other.to_string()),
        }
    }
}

impl From<sled::Error> for StoreError {
    fn from(e: sled::Error) -> Self {
        StoreError::Backend(e.into())
    }
}
impl From<TransactionError<StoreError>> for StoreError {
    fn from(e: TransactionError<StoreError>) -> Self {
        match e {
            TransactionError::Abort(e) => e,
            TransactionError::Storage(e) => e.into(),
        }
    }
}

/// Inside a transaction closure: abort with a domain error.
pub(crate) fn abort<T>(e: StoreError) -> Result<T, ConflictableTransactionError<StoreError>> {
    Err(ConflictableTransactionError::Abort(e))
}
/// The sled store: cheap to clone (one reference count).
#[derive(Clone)]
pub struct SledStore(std::sync::Arc<Trees>);

impl std::ops::Deref for SledStore {
    type Target = Trees;

    fn deref(&self) -> &Trees {
        &self.0
    }
}

/// The store's sled handles (see [`SledStore`]).
pub struct Trees {
    pub(crate) db: sled::Db,
    pub(crate) meta: of::meta,
    pub(crate) users: of::users,
    pub(crate) user_secrets: of::user_secrets,
    pub(crate) login_user: of::login_user,
    pub(crate) email_user: of::email_user,
    pub(crate) search_user: of::search_user,
    pub(crate) sessions: of::sessions,
    pub(crate) branches: of::branches,
    pub(crate) branch_name: of::branch_name,
    pub(crate) search_branch: of::search_branch,
    pub(crate) branch_children: of::branch_children,
    pub(crate) courses: of::courses,
    pub(crate) course_code: of::course_code,
    pub(crate) course_suffix: of::course_suffix,
    pub(crate) curricula: of::curricula,
    pub(crate) curriculum_name: of::curriculum_name,
    pub(crate) search_curriculum: of::search_curriculum,
    pub(crate) course_curricula: of::course_curricula,
    pub(crate) enrolments: of::enrolments,
    pub(crate) course_users: of::course_users,
    pub(crate) progress: of::progress,
    pub(crate) groups: of::groups,
    pub(crate) group_name: of::group_name,
    pub(crate) group_suffix: of::group_suffix,
    pub(crate) group_by_members: of::group_by_members,
    pub(crate) group_key: of::group_key,
    pub(crate) group_members: of::group_members,
    pub(crate) user_groups: of::user_groups,
    pub(crate) group_links: of::group_links,
    pub(crate) course_groups: of::course_groups,
    pub(crate) curriculum_groups: of::curriculum_groups,
    pub(crate) group_managers: of::group_managers,
    pub(crate) manager_groups: of::manager_groups,
    pub(crate) audit: of::audit,
    pub(crate) audit_index: of::audit_index,
    pub(crate) bulk_results: of::bulk_results,
    pub(crate) jobs: of::jobs,
    pub(crate) imports: of::imports,
    pub(crate) import_rows: of::import_rows,
    pub(crate) password_tokens: of::password_tokens,
    pub(crate) key_redemptions: of::key_redemptions,
    pub(crate) messages: of::messages,
    pub(crate) message_bodies: of::message_bodies,
    pub(crate) group_messages: of::group_messages,
    pub(crate) inbox: of::inbox,
    pub(crate) outbox: of::outbox,
    /// (user, course) pairs an enrolling job writes per step (see `mass.rs`).
    pub(crate) step_pairs: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    /// Writers share it, a backup holds it alone (see `backup.rs`).
    pub(crate) gate: backup::WriteGate,
    /// The holder id of the leases this store's job runner takes (see `jobs.rs`).
    pub(crate) runner: u64,
    /// The directory and cache size it was opened with (`None`: not opened from a directory
    /// by [`SledStore::open_with_cache`]).
    pub(crate) origin: Option<(PathBuf, u64)>,
}

/// sled's page cache by default, in MiB (`cache_mb`). sled's own default is 1 GiB, which a
/// server with 100,000 users grows into; BENCHMARKS.md ("sled cache size") has the figures this
/// was chosen from.
pub const DEFAULT_CACHE_MB: u64 = 64;

/// sled's log segment size, in bytes: sled 0.34's own default, written here because sled refuses
/// to open a directory with any other value than the one it was created with.
pub const SEGMENT_SIZE: usize = 512 * 1024;

/// The settings every store is opened with.
///
/// Measured at 100,000 users (4.43 million stored entries, BENCHMARKS.md "Memory", 2026-12-06):
/// sled holds about 140 MiB after opening whatever the settings, 224 bytes for each of its
/// 496,376 tree pages (a leaf splits above 16 entries, a constant in sled), so about 32 bytes per
/// stored entry. None of sled's settings lowers that:
/// - `segment_size` 128 KiB / 512 KiB / 2 MiB / 8 MiB: 139 / 139 / 141 / 150 MiB after opening;
///   and a directory opens only with the size it was written with, so it stays sled's default.
/// - `use_compression`: needs sled's `compression` feature (zstd, a C library) and is fixed at
///   creation like the segment size; it shrinks the disk, not the page table. Off.
/// - `snapshot_after_ops` and `mode` do nothing in sled 0.34 (deprecated, or read by nothing):
///   sled writes its snapshot when it opens, and replaying the log since the last one took
///   1–6 s and no lasting memory (142 MiB after opening with and without a snapshot).
/// - `cache_capacity` bounds the pages read since: it counts their size on disk, and they take
///   5–10 times that in memory (a read of every tree: 192 / 222 / 299 / 375 / 523 MiB with
///   4 / 8 / 16 / 32 / 64 MiB); `cache_mb`, see [`DEFAULT_CACHE_MB`].
///
/// What made the first start after `tessera seed` cost twice a restart (351 against 168 MiB)
/// was not sled but jobs the seed left pending (`seed.rs`).
pub(crate) fn sled_config(dir: &Path, cache_mb: u64) -> sled::Config {
    sled::Config::new()
        .path(dir)
        .cache_capacity(cache_mb.max(1) * 1024 * 1024)
        .segment_size(SEGMENT_SIZE)
        .use_compression(false)
}
/// The file beside the store in a data directory naming the schema it was last opened at, so
/// that `serve` learns whether a migration is due without opening the store ([`migration_due`]).
const SCHEMA_HINT: &str = "tessera-schema";

/// Whether the store in `dir` may be at an older schema: a store is there (sled's `conf`) and
/// its hint is absent (a directory from before the hint) or names another schema. A cheap look,
/// no open: `serve` then has the migration run in a process of its own (`tessera migrate`),
/// because a big migration leaves the process that ran it tens of MiB heavier for as long as it
/// lives (BENCHMARKS.md, "The server on jemalloc"). The hint is only ever a hint: every open
/// migrates whatever it finds, so a wrong one costs memory, never data.
pub fn migration_due(dir: &Path) -> bool {
    if !dir.join("conf").exists() {
        return false;
    }
    let hinted = std::fs::read_to_string(dir.join(SCHEMA_HINT))
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok());
    hinted != Some(SCHEMA_VERSION)
}

/// Writes `dir`'s schema hint after its store was brought up to [`SCHEMA_VERSION`] (nothing
/// when it says so already). A failure is logged and otherwise ignored: without the hint the
/// next start only looks once more (see [`migration_due`]).
pub(crate) fn write_schema_hint(dir: &Path) {
    let path = dir.join(SCHEMA_HINT);
    let text = format!("{SCHEMA_VERSION}\n");
    if std::fs::read_to_string(&path).is_ok_and(|s| s == text) {
        return;
    }
    if let Err(e) = std::fs::write(&path, text) {
        tracing::warn!(path = %path.display(), "the schema hint could not be written: {e}");
    }
}

impl SledStore {
    /// Opens (creating if needed) the store in `dir` with the default cache, then brings its
    /// schema up to date.
    pub fn open(dir: &Path) -> Result<SledStore, OpenError> {
        Self::open_with_cache(dir, DEFAULT_CACHE_MB)
    }

    /// Opens the store in `dir` with a page cache of `cache_mb` MiB.
    pub fn open_with_cache(dir: &Path, cache_mb: u64) -> Result<SledStore, OpenError> {
        let unreadable = |reason: String| OpenError::Unreadable {
            path: dir.display().to_string(),
            reason,
        };
        crate::server::data_dir::create_private(dir).map_err(|e| unreadable(e.to_string()))?;
        let db = sled_config(dir, cache_mb).open().map_err(|e| match e {
            sled::Error::Io(io) if io.to_string().contains("could not acquire lock") => {
                OpenError::Locked(dir.display().to_string())
            }
            other => unreadable(other.to_string()),
        })?;
        let store = SledStore::from_db(db, Some((dir.to_path_buf(), cache_mb)))
            .map_err(|e| unreadable(e.to_string()))?;
        store.migrate()?;
        write_schema_hint(dir);
        // One process opens a sled directory at a time: a lease in it is a gone process's.
        store.drop_leftover_leases().map_err(OpenError::Migration)?;
        Ok(store)
    }

    pub(crate) fn from_db(
        db: sled::Db,
        origin: Option<(PathBuf, u64)>,
    ) -> Result<SledStore, sled::Error> {
        Ok(SledStore(std::sync::Arc::new(Trees {
            origin,
            meta: db.open_tree("meta")?,
            users: From::from(db.open_tree("users")?),
            user_secrets: db.open_tree("user_secrets")?,
            login_user: db.open_tree("login_user")?,
            email_user: db.open_tree("email_user")?,
            search_user: db.open_tree("search_user")?,
            sessions: From::from(db.open_tree("sessions")?),
            branches: From::from(db.open_tree("branches")?),
            branch_name: db.open_tree("branch_name")?,
            search_branch: db.open_tree("search_branch")?,
            branch_children: db.open_tree("branch_children")?,
            courses: From::from(db.open_tree("courses")?),
            course_code: db.open_tree("course_code")?,
            course_suffix: db.open_tree("course_suffix")?,
            curricula: From::from(db.open_tree("curricula")?),
            curriculum_name: db.open_tree("curriculum_name")?,
            search_curriculum: db.open_tree("search_curriculum")?,
            course_curricula: db.open_tree("course_curricula")?,
            enrolments: From::from(db.open_tree("enrolments")?),
            course_users: db.open_tree("course_users")?,
            progress: From::from(db.open_tree("progress")?),
            groups: From::from(db.open_tree("groups")?),
            group_name: db.open_tree("group_name")?,
            group_suffix: db.open_tree("group_suffix")?,
            group_by_members: db.open_tree("group_by_members")?,
            group_key: db.open_tree("group_key")?,
            group_members: From::from(db.open_tree("group_members")?),
            user_groups: db.open_tree("user_groups")?,
            group_links: From::from(db.open_tree("group_links")?),
            course_groups: db.open_tree("course_groups")?,
            curriculum_groups: db.open_tree("curriculum_groups")?,
            group_managers: db.open_tree("group_managers")?,
            manager_groups: db.open_tree("manager_groups")?,
            audit: From::from(db.open_tree("audit")?),
            audit_index: db.open_tree("audit_index")?,
            bulk_results: From::from(db.open_tree("bulk_results")?),
            jobs: From::from(db.open_tree("jobs")?),
            imports: From::from(db.open_tree("imports")?),
            import_rows: From::from(db.open_tree("import_rows")?),
            password_tokens: From::from(db.open_tree("password_tokens")?),
            key_redemptions: From::from(db.open_tree("key_redemptions")?),
            messages: From::from(db.open_tree("messages")?),
            message_bodies: From::from(db.open_tree("message_bodies")?),
            group_messages: db.open_tree("group_messages")?,
            inbox: From::from(db.open_tree("inbox")?),
            outbox: From::from(db.open_tree("outbox")?),
            step_pairs: std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(
                mass::PAIRS_PER_STEP,
            )),
            gate: Default::default(),
            runner: rand::random(),
            db,
        })))
    }

    /// The sled database under this store, for the sled backend's own tests and benches
    /// (raw damage for `check`, the on-disk format); nothing else reaches past the seam.
    pub fn sled_db(&self) -> &sled::Db {
        &self.db
    }

    pub(crate) fn set_schema_version(&self, v: u32) -> Result<(), StoreError> {
        self.meta.insert(SCHEMA_KEY, &v.to_be_bytes())?;
        Ok(())
    }

    pub(crate) fn migrate(&self) -> Result<(), OpenError> {
        let found = self.schema_version().map_err(OpenError::Migration)?;
        let Some(mut version) = found else {
            self.set_schema_version(SCHEMA_VERSION)
                .map_err(OpenError::Migration)?;
            self.flush().map_err(|e| OpenError::Migration(e.into()))?;
            return Ok(());
        };
        if version > SCHEMA_VERSION {
            return Err(OpenError::NewerSchema {
                found: version,
                supported: SCHEMA_VERSION,
            });
        }
        while version < SCHEMA_VERSION {
            let step = MIGRATIONS
                .iter()
                .find(|(from, _)| *from == version)
                .ok_or_else(|| {
                    OpenError::Migration(StoreError::Corrupt {
                        tree: "meta",
                        key: "schema_version".into(),
                        reason: format!("no migration from version {version}"),
                    })
                })?;
            (step.1)(self).map_err(OpenError::Migration)?;
            version += 1;
            self.set_schema_version(version)
                .map_err(OpenError::Migration)?;
            self.flush().map_err(|e| OpenError::Migration(e.into()))?;
            tracing::info!(version, "migrated data directory");
        }
        Ok(())
    }
}

impl Core for SledStore {
    fn set_step_pairs(&self, n: usize) {
        self.step_pairs
            .store(n.max(1), std::sync::atomic::Ordering::Relaxed);
    }

    fn step_pairs(&self) -> usize {
        self.step_pairs.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn networked(&self) -> bool {
        false
    }

    fn origin(&self) -> Option<(PathBuf, u64)> {
        self.origin.clone()
    }

    fn flush(&self) -> Result<(), BackendError> {
        self.db.flush()?;
        Ok(())
    }

    fn new_id(&self) -> Result<u64, StoreError> {
        Ok(self.db.generate_id()?)
    }

    fn snapshot(&self) -> Result<Snapshot, StoreError> {
        let mut names = self.db.tree_names();
        names.sort();
        names
            .into_iter()
            .map(|name| {
                let rows = self
                    .db
                    .open_tree(&name)?
                    .iter()
                    .map(|kv| kv.map(|(k, v)| (k.to_vec(), v.to_vec())))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok((String::from_utf8_lossy(&name).into_owned(), rows))
            })
            .collect()
    }

    fn schema_version(&self) -> Result<Option<u32>, StoreError> {
        match self.meta.get(SCHEMA_KEY)? {
            None => Ok(None),
            Some(v) => <[u8; 4]>::try_from(v.as_ref())
                .map(|b| Some(u32::from_be_bytes(b)))
                .map_err(|_| StoreError::Corrupt {
                    tree: "meta",
                    key: "schema_version".into(),
                    reason: "not 4 bytes".into(),
                }),
        }
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}
/// Counters live in `meta` as `count/<name>` → `u64` big-endian, changed in the same transaction
/// as the records they count.
pub(crate) fn counter_key(name: &str) -> Vec<u8> {
    format!("count/{name}").into_bytes()
}

pub(crate) fn read_counter(bytes: Option<sled::IVec>) -> u64 {
    bytes
        .and_then(|b| <[u8; 8]>::try_from(b.as_ref()).ok())
        .map(u64::from_be_bytes)
        .unwrap_or(0)
}

/// Adds `delta` to a counter inside a transaction.
pub(crate) fn bump_counter(
    meta: &TransactionalTree,
    name: &str,
    delta: i64,
) -> Result<u64, ConflictableTransactionError<StoreError>> {
    let key = counter_key(name);
    let now = read_counter(meta.get(&key)?);
    let next = now.saturating_add_signed(delta);
    meta.insert(key, &next.to_be_bytes())?;
    Ok(next)
}

impl crate::server::store::Store {
    /// The sled store behind this handle, for the sled backend's own tests and tools (its
    /// trees, its files). Panics on a store of another backend.
    pub fn sled(&self) -> &SledStore {
        self.as_any()
            .downcast_ref::<SledStore>()
            .expect("a store on the sled backend")
    }
}

/// Everything the store's tests reach: the interface, the sled backend's helpers for the tests
/// of what only sled has, and the shared fixtures.
#[cfg(test)]
#[allow(unused_imports)]
pub(crate) mod test_prelude {
    pub(crate) use super::audit::*;
    pub(crate) use super::backup::*;
    pub(crate) use super::branches::*;
    pub(crate) use super::check::*;
    pub(crate) use super::courses::*;
    pub(crate) use super::curricula::*;
    pub(crate) use super::enrolments::*;
    pub(crate) use super::groups::delete::*;
    pub(crate) use super::groups::keys::*;
    pub(crate) use super::groups::links::*;
    pub(crate) use super::groups::list::*;
    pub(crate) use super::groups::managers::*;
    pub(crate) use super::groups::members::*;
    pub(crate) use super::groups::save::*;
    pub(crate) use super::groups::views::*;
    pub(crate) use super::groups::*;
    pub(crate) use super::imports::*;
    pub(crate) use super::jobs::*;
    pub(crate) use super::mass::*;
    pub(crate) use super::messages::*;
    pub(crate) use super::migrations;
    pub(crate) use super::reports::*;
    pub(crate) use super::search::*;
    pub(crate) use super::sessions::*;
    pub(crate) use super::settings::*;
    pub(crate) use super::tests::*;
    pub(crate) use super::users::*;
    pub(crate) use super::{
        abort, bump_counter, counter_key, read_counter, sled_config, SledStore, DEFAULT_CACHE_MB,
        SCHEMA_KEY,
    };
    pub(crate) use crate::server::store::restore;
    pub(crate) use crate::server::store::tests::prelude::*;
}

#[cfg(test)]
pub(crate) mod tests {
    use super::test_prelude::*;
    use std::path::Path;

    /// A sled store in a fresh temporary directory, for the tests of what only sled has (its
    /// trees, its files, damage written under the store): they run on sled in every run.
    pub fn sled_temp_store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(dir.path()).expect("open store");
        (dir, store)
    }

    #[test]
    fn newer_schema_is_refused_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path()).unwrap();
            store.sled().set_schema_version(SCHEMA_VERSION + 5).unwrap();
            store.flush().unwrap();
        }
        match reopen(dir.path()) {
            Err(OpenError::NewerSchema { found, supported }) => {
                assert_eq!((found, supported), (SCHEMA_VERSION + 5, SCHEMA_VERSION));
            }
            Err(other) => panic!("expected NewerSchema, got {other}"),
            Ok(_) => panic!("expected NewerSchema, got an open store"),
        }
        // The refusal wrote nothing: the version is still the newer one.
        let mut tries = 0;
        let db = loop {
            match ::sled::open(dir.path()) {
                Ok(db) => break db,
                // The refused open's flush thread may still hold the lock for a moment.
                Err(_) if tries < 100 => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                Err(e) => panic!("cannot open the data directory again: {e}"),
            }
        };
        let v = db
            .open_tree("meta")
            .unwrap()
            .get(SCHEMA_KEY)
            .unwrap()
            .unwrap();
        assert_eq!(v.as_ref(), &(SCHEMA_VERSION + 5).to_be_bytes());
    }

    /// The list pages' totals are stored counters, kept with every create and delete (sled's
    /// `Tree::len` would walk the whole tree on every page load).
    #[test]
    fn list_totals_are_counters_kept_in_step() {
        use super::branches::BranchFields;
        let (_d, s) = sled_temp_store();
        for i in 0..3 {
            let b = BranchFields {
                name: format!("B{i}"),
                description: String::new(),
                parent: None,
            };
            s.create_branch(&b, 0).unwrap();
            s.create_course(&course_fields(&format!("C{i}")), 0)
                .unwrap();
            s.create_curriculum(&format!("P{i}"), "", 0).unwrap();
        }
        let b = s.list_branches("", 1, 20).unwrap();
        s.delete_branch(b.0[0].id).unwrap();
        let c = s.list_courses("", 1, 20).unwrap();
        s.delete_course(c.0[0].id).unwrap();
        let p = s.list_curricula("", 1, 20).unwrap();
        s.delete_curriculum(p.0[0].id).unwrap();
        // A refused delete (a course with a learner) changes no count.
        assert_eq!(
            (
                s.branch_count().unwrap(),
                s.course_count().unwrap(),
                s.curriculum_count().unwrap()
            ),
            (2, 2, 2)
        );
        assert_eq!(s.list_branches("", 1, 20).unwrap().1, 2);
        assert_eq!(s.list_courses("", 1, 20).unwrap().1, 2);
        assert_eq!(s.list_curricula("", 1, 20).unwrap().1, 2);
        assert_eq!(
            s.sled()
                .meta
                .get(counter_key("courses"))
                .unwrap()
                .map(|v| v.len()),
            Some(8)
        );
    }

    #[test]
    fn the_store_opens_with_the_measured_settings() {
        let c = sled_config(Path::new("unused"), DEFAULT_CACHE_MB);
        assert_eq!(c.cache_capacity, DEFAULT_CACHE_MB * 1024 * 1024);
        assert_eq!(c.segment_size, 512 * 1024);
        assert!(!c.use_compression);
    }

    #[test]
    fn a_directory_sled_wrote_with_its_defaults_still_opens() {
        // Every directory before the settings were written out was created with sled's
        // defaults; sled refuses another segment size or compression setting on them.
        let dir = tempfile::tempdir().unwrap();
        let db = ::sled::Config::new().path(dir.path()).open().unwrap();
        db.insert("earlier", "yes").unwrap();
        db.flush().unwrap();
        drop(db);
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(
            store.sled().db.get("earlier").unwrap().as_deref(),
            Some(&b"yes"[..])
        );
    }
}
