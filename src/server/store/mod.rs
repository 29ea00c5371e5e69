//! The store: Tessera's data behind domain operations (`create_group`, `redeem_key`,
//! `start_mass_enrolment`, ...), grouped by area in the files below. Nothing above this module
//! sees how data is kept: the server gets records, views and [`StoreError`]s, with failures of
//! the backend itself as a [`BackendError`] (an I/O kind and a message), never a backend's
//! own error type.
//!
//! ## What a backend guarantees (the contract the conformance suite checks)
//! - **Atomic operations.** Each operation that writes is all or nothing: a refusal (an
//!   `Invalid`, `NotFound`, `Forbidden`, a key refused) leaves the store exactly as it was
//!   ([`Store::snapshot`] before and after is how the suite shows it). Rules that span records
//!   (a key's use limit, one default group, unique login, e-mail, group name and key, the
//!   counters behind every list total) hold under any number of concurrent callers: every
//!   operation is serializable against every other. sled gets that from its transactions,
//!   which take a global lock; a SQL backend from `SERIALIZABLE` (or row locks where they
//!   suffice), retrying serialization failures.
//! - **Durable on acknowledgement.** An operation returns before its writes are durable; the
//!   caller acknowledges nothing until [`Store::flush`] (through the server's shared flusher,
//!   group commit) has returned. A backend whose commits are durable may make `flush` free.
//! - **Ids.** [`Store::new_id`]: unique in the store for ever (restores included), increasing,
//!   one space for every record kind, gaps allowed; drawn before the transaction that uses it.
//! - **Big work in bounded steps.** Work too big for one transaction is a background job
//!   (`jobs.rs`): each step commits its effects with the job's cursor and the runner's lease,
//!   so a job survives a crash, resumes where it was, is advanced by one runner at a time
//!   across servers, and no step is done twice. The e-mail queue is shared the same way.
//! - **Reads see committed data only**, and a page's rows and its total come from one
//!   consistent state.
//!
//! ## Sync, on blocking threads
//! Operations are synchronous. The server runs each on tokio's blocking pool
//! (`AppState::read`/`write`), never on the async worker threads, so a backend may block on
//! disk or on a network round trip (a PostgreSQL client driven from the blocking thread) without
//! stalling other requests. Only reads of a few keys that the embedded backend answers from
//! memory run inline (`AppState::read_now`); a networked backend's reads always hop. An async
//! interface would spread `.await` through every store caller for no gain on the embedded
//! backend, whose work is CPU and page-cache bound.
//!
//! ## The sled backend (the embedded default)
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
//! - `audit_index`: every audit event by time, group, actor and kind (`audit.rs`).
//!
//! Every operation that writes holds the write gate shared for its length, so that a backup
//! (`backup.rs`), which holds it alone, is a consistent snapshot.
//!
//! Records are the store's own types, pinned by `golden.rs`; `migrations.rs` brings older
//! databases up to [`SCHEMA_VERSION`] at start-up. A transaction over several trees declares
//! them by name (`tx.rs`).
//!
//! What is not done yet: the operations are still inherent methods of this sled-backed
//! `Store`, and the sled code still lives beside the interface in these files; the next step
//! is one trait per area with the sled implementation in its own folder (see the notes on
//! issue 27).

pub mod audit;
pub mod backup;
pub mod branches;
pub mod check;
pub mod codec;
pub mod courses;
pub mod curricula;
pub mod enrolments;
#[cfg(test)]
mod golden;
pub mod groups;
pub mod imports;
pub mod jobs;
pub mod mass;
pub mod messages;
mod migrations;
pub mod reports;
pub mod search;
pub mod sessions;
pub mod settings;
pub(crate) mod tx;
pub mod users;

use sled::transaction::{ConflictableTransactionError, TransactionError, TransactionalTree};
use std::path::{Path, PathBuf};

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

/// The schema this build writes. Bump it together with a new entry in `migrations.rs`.
pub const SCHEMA_VERSION: u32 = 5;

use migrations::MIGRATIONS;

const SCHEMA_KEY: &[u8] = b"schema_version";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A domain rule refused the operation; `field` names the form field at fault.
    #[error("{message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("the first administrator already exists")]
    AlreadySetUp,
    /// The caller may not do this (a rule the store holds, such as a group setting).
    #[error("not allowed")]
    Forbidden,
    #[error("corrupt record in {tree} at key {key}: {reason}")]
    Corrupt {
        tree: &'static str,
        key: String,
        reason: String,
    },
    /// The backend itself failed (I/O, a lost connection, a bug it reports): not a refusal.
    #[error("storage error: {0}")]
    Backend(#[from] BackendError),
}

/// A failure of the storage backend, in terms every backend can give: the server decides from
/// its kind whether writes must pause (see `store_cell.rs`), never from a backend's own error type.
#[derive(Debug, Clone, thiserror::Error)]
pub enum BackendError {
    /// Reading or writing the backend's files (or its connection) failed with this I/O error.
    #[error("{message}")]
    Io {
        kind: std::io::ErrorKind,
        message: String,
    },
    /// Anything else the backend reports: an operation it does not support, a bug it found.
    #[error("{0}")]
    Other(String),
}

impl BackendError {
    /// The I/O error kind, when this is an I/O failure.
    pub fn io_kind(&self) -> Option<std::io::ErrorKind> {
        match self {
            BackendError::Io { kind, .. } => Some(*kind),
            BackendError::Other(_) => None,
        }
    }
}

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

impl StoreError {
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        StoreError::Invalid {
            field,
            message: message.into(),
        }
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

/// Why a data directory could not be opened. Each has its own exit code in `main`.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("the data directory {0} is in use by another running Tessera (its lock is held)")]
    Locked(String),
    #[error("the data directory {path} cannot be opened: {reason}")]
    Unreadable { path: String, reason: String },
    #[error(
        "the data directory was written by a newer Tessera (schema {found}; this build knows up \
         to {supported}); upgrade Tessera instead of downgrading"
    )]
    NewerSchema { found: u32, supported: u32 },
    #[error("the data directory could not be upgraded: {0}")]
    Migration(StoreError),
}

/// The store: cheap to clone (one reference count: handlers clone it on every request).
#[derive(Clone)]
pub struct Store(std::sync::Arc<Trees>);

impl std::ops::Deref for Store {
    type Target = Trees;

    fn deref(&self) -> &Trees {
        &self.0
    }
}

/// The store's sled handles (see [`Store`]).
pub struct Trees {
    db: sled::Db,
    meta: sled::Tree,
    users: sled::Tree,
    user_secrets: sled::Tree,
    login_user: sled::Tree,
    email_user: sled::Tree,
    search_user: sled::Tree,
    sessions: sled::Tree,
    branches: sled::Tree,
    branch_name: sled::Tree,
    search_branch: sled::Tree,
    branch_children: sled::Tree,
    courses: sled::Tree,
    course_code: sled::Tree,
    course_suffix: sled::Tree,
    curricula: sled::Tree,
    curriculum_name: sled::Tree,
    search_curriculum: sled::Tree,
    course_curricula: sled::Tree,
    enrolments: sled::Tree,
    course_users: sled::Tree,
    progress: sled::Tree,
    groups: sled::Tree,
    group_name: sled::Tree,
    group_suffix: sled::Tree,
    group_by_members: sled::Tree,
    group_key: sled::Tree,
    group_members: sled::Tree,
    user_groups: sled::Tree,
    group_links: sled::Tree,
    course_groups: sled::Tree,
    curriculum_groups: sled::Tree,
    group_managers: sled::Tree,
    manager_groups: sled::Tree,
    audit: sled::Tree,
    audit_index: sled::Tree,
    bulk_results: sled::Tree,
    jobs: sled::Tree,
    imports: sled::Tree,
    import_rows: sled::Tree,
    password_tokens: sled::Tree,
    key_redemptions: sled::Tree,
    messages: sled::Tree,
    message_bodies: sled::Tree,
    group_messages: sled::Tree,
    inbox: sled::Tree,
    outbox: sled::Tree,
    /// (user, course) pairs an enrolling job writes per step (see `mass.rs`).
    step_pairs: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    /// Writers share it, a backup holds it alone (see `backup.rs`).
    gate: backup::WriteGate,
    /// The holder id of the leases this store's job runner takes (see `jobs.rs`).
    runner: u64,
    /// The directory and cache size it was opened with (`None`: not opened from a directory
    /// by [`Store::open_with_cache`]).
    origin: Option<(PathBuf, u64)>,
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

impl Store {
    /// Opens (creating if needed) the store in `dir` with the default cache, then brings its
    /// schema up to date.
    pub fn open(dir: &Path) -> Result<Store, OpenError> {
        Self::open_with_cache(dir, DEFAULT_CACHE_MB)
    }

    /// Opens the store in `dir` with a page cache of `cache_mb` MiB.
    pub fn open_with_cache(dir: &Path, cache_mb: u64) -> Result<Store, OpenError> {
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
        let store = Store::from_db(db, Some((dir.to_path_buf(), cache_mb)))
            .map_err(|e| unreadable(e.to_string()))?;
        store.migrate()?;
        // One process opens a sled directory at a time: a lease in it is a gone process's.
        store.drop_leftover_leases().map_err(OpenError::Migration)?;
        Ok(store)
    }

    fn from_db(db: sled::Db, origin: Option<(PathBuf, u64)>) -> Result<Store, sled::Error> {
        Ok(Store(std::sync::Arc::new(Trees {
            origin,
            meta: db.open_tree("meta")?,
            users: db.open_tree("users")?,
            user_secrets: db.open_tree("user_secrets")?,
            login_user: db.open_tree("login_user")?,
            email_user: db.open_tree("email_user")?,
            search_user: db.open_tree("search_user")?,
            sessions: db.open_tree("sessions")?,
            branches: db.open_tree("branches")?,
            branch_name: db.open_tree("branch_name")?,
            search_branch: db.open_tree("search_branch")?,
            branch_children: db.open_tree("branch_children")?,
            courses: db.open_tree("courses")?,
            course_code: db.open_tree("course_code")?,
            course_suffix: db.open_tree("course_suffix")?,
            curricula: db.open_tree("curricula")?,
            curriculum_name: db.open_tree("curriculum_name")?,
            search_curriculum: db.open_tree("search_curriculum")?,
            course_curricula: db.open_tree("course_curricula")?,
            enrolments: db.open_tree("enrolments")?,
            course_users: db.open_tree("course_users")?,
            progress: db.open_tree("progress")?,
            groups: db.open_tree("groups")?,
            group_name: db.open_tree("group_name")?,
            group_suffix: db.open_tree("group_suffix")?,
            group_by_members: db.open_tree("group_by_members")?,
            group_key: db.open_tree("group_key")?,
            group_members: db.open_tree("group_members")?,
            user_groups: db.open_tree("user_groups")?,
            group_links: db.open_tree("group_links")?,
            course_groups: db.open_tree("course_groups")?,
            curriculum_groups: db.open_tree("curriculum_groups")?,
            group_managers: db.open_tree("group_managers")?,
            manager_groups: db.open_tree("manager_groups")?,
            audit: db.open_tree("audit")?,
            audit_index: db.open_tree("audit_index")?,
            bulk_results: db.open_tree("bulk_results")?,
            jobs: db.open_tree("jobs")?,
            imports: db.open_tree("imports")?,
            import_rows: db.open_tree("import_rows")?,
            password_tokens: db.open_tree("password_tokens")?,
            key_redemptions: db.open_tree("key_redemptions")?,
            messages: db.open_tree("messages")?,
            message_bodies: db.open_tree("message_bodies")?,
            group_messages: db.open_tree("group_messages")?,
            inbox: db.open_tree("inbox")?,
            outbox: db.open_tree("outbox")?,
            step_pairs: std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(
                mass::PAIRS_PER_STEP,
            )),
            gate: Default::default(),
            runner: rand::random(),
            db,
        })))
    }

    /// Pairs an enrolling job writes per step (at least 1). Smaller steps: shorter pauses for
    /// other writers; larger: a faster job.
    pub fn set_step_pairs(&self, n: usize) {
        self.step_pairs
            .store(n.max(1), std::sync::atomic::Ordering::Relaxed);
    }

    pub fn step_pairs(&self) -> usize {
        self.step_pairs.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// How many handles to this open store exist (the reopening waits for its own to be the
    /// last, see `store_cell.rs`).
    pub fn holders(&self) -> usize {
        std::sync::Arc::strong_count(&self.0)
    }

    /// The directory and page cache (MiB) this store was opened with, to open it again.
    pub fn origin(&self) -> Option<(PathBuf, u64)> {
        self.origin.clone()
    }

    /// Whether `other` is a handle to this same open store.
    pub fn same_as(&self, other: &Store) -> bool {
        std::sync::Arc::ptr_eq(&self.0, &other.0)
    }

    /// Makes everything written so far durable (blocking). Request handlers use the shared
    /// flusher instead (group commit).
    pub fn flush(&self) -> Result<(), BackendError> {
        self.db.flush()?;
        Ok(())
    }

    /// A new id, never given before in this store (restores included: a backup carries the
    /// mark ids continue from). Ids are one space for every kind of record and increase, so
    /// sorting by id is sorting by creation; they may have gaps (an id drawn for a
    /// transaction that then failed is not reused). sled draws them from its own counter, a
    /// SQL backend from a sequence. Drawn before the transaction that uses them, since a
    /// transaction may run again.
    pub fn new_id(&self) -> Result<u64, StoreError> {
        Ok(self.db.generate_id()?)
    }

    /// Everything the store holds, table by table in name order, each row as its key and value
    /// in the backend's own encoding. Two snapshots of one store are equal when nothing changed
    /// between them: the tests use it to show that a refused operation wrote nothing.
    pub fn snapshot(&self) -> Result<Snapshot, StoreError> {
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

    /// The sled database under this store, for the sled backend's own tests and benches
    /// (raw damage for `check`, the on-disk format); nothing else reaches past the seam.
    pub fn sled_db(&self) -> &sled::Db {
        &self.db
    }

    /// The schema version recorded in the database (`None` for a brand-new one).
    pub fn schema_version(&self) -> Result<Option<u32>, StoreError> {
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

    fn set_schema_version(&self, v: u32) -> Result<(), StoreError> {
        self.meta.insert(SCHEMA_KEY, &v.to_be_bytes())?;
        Ok(())
    }

    fn migrate(&self) -> Result<(), OpenError> {
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

/// What [`Store::snapshot`] returns: (table, rows of (key, value)), tables in name order.
pub type Snapshot = Vec<(String, Vec<(Vec<u8>, Vec<u8>)>)>;

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The backends the conformance suite runs on. The suite is every store test that opens
    /// its store with [`temp_store`]: it states what a backend must do, through the store's
    /// operations only. A new backend is one more line here (and its arm in
    /// [`TestBackend::temp_store`]); `the_conformance_suite_passes_on_every_backend` then runs
    /// the suite on it in every `cargo test`.
    pub const BACKENDS: &[TestBackend] = &[TestBackend::Sled];

    /// A storage backend the suite can run on.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum TestBackend {
        Sled,
    }

    /// Names the backend a run of the suite is on (unset: the first in [`BACKENDS`]).
    const BACKEND_VAR: &str = "TESSERA_TEST_BACKEND";

    impl TestBackend {
        pub fn name(self) -> &'static str {
            match self {
                TestBackend::Sled => "sled",
            }
        }

        /// The backend this run is on.
        pub fn current() -> TestBackend {
            match std::env::var(BACKEND_VAR) {
                Err(_) => BACKENDS[0],
                Ok(name) => *BACKENDS
                    .iter()
                    .find(|b| b.name() == name)
                    .unwrap_or_else(|| panic!("{BACKEND_VAR}={name} is not in {BACKENDS:?}")),
            }
        }

        /// A new, empty store on this backend (kept alive by the returned guard).
        pub fn temp_store(self) -> (tempfile::TempDir, Store) {
            match self {
                TestBackend::Sled => sled_temp_store(),
            }
        }
    }

    /// A new, empty store on the backend this run of the suite is on.
    pub fn temp_store() -> (tempfile::TempDir, Store) {
        TestBackend::current().temp_store()
    }

    /// A sled store in a fresh temporary directory, for the tests of what only sled has (its
    /// trees, its files, damage written under the store): they run on sled in every run.
    pub fn sled_temp_store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(dir.path()).expect("open store");
        (dir, store)
    }

    /// This run is on the first backend: the suite runs again, in a process of its own, on
    /// every other one.
    #[test]
    fn the_conformance_suite_passes_on_every_backend() {
        if std::env::var_os(BACKEND_VAR).is_some() {
            return;
        }
        let me = std::env::current_exe().expect("the test binary");
        for backend in &BACKENDS[1..] {
            let out = std::process::Command::new(&me)
                .args(["server::store::", "--skip", "conformance_suite_passes"])
                .env(BACKEND_VAR, backend.name())
                .output()
                .expect("run the suite");
            assert!(
                out.status.success(),
                "the conformance suite fails on {}:\n{}",
                backend.name(),
                String::from_utf8_lossy(&out.stdout)
            );
        }
    }

    #[test]
    fn the_suite_runs_on_the_first_backend_unless_told() {
        if std::env::var_os(BACKEND_VAR).is_none() {
            assert_eq!(TestBackend::current(), BACKENDS[0]);
        }
    }

    /// Everything the store holds: a failed operation must leave all of it as it was.
    pub type Dump = Snapshot;

    pub fn dump(s: &Store) -> Dump {
        s.snapshot().expect("snapshot")
    }

    #[test]
    fn new_database_gets_current_schema() {
        let (_dir, store) = temp_store();
        assert_eq!(store.schema_version().unwrap(), Some(SCHEMA_VERSION));
    }

    /// Opens `dir` again after a store on it was dropped. sled's background flush thread can
    /// hold the directory's lock for a moment after the last handle goes, so wait for it.
    pub fn reopen(dir: &Path) -> Result<Store, OpenError> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            match Store::open(dir) {
                Err(OpenError::Locked(_)) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(50))
                }
                other => return other,
            }
        }
    }

    #[test]
    fn reopening_keeps_data_and_schema() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path()).unwrap();
            store.set_self_registration(true).unwrap();
            store.flush().unwrap();
        }
        let store = reopen(dir.path()).unwrap();
        assert_eq!(store.settings().unwrap().self_registration, Some(true));
        assert_eq!(store.schema_version().unwrap(), Some(SCHEMA_VERSION));
    }

    #[test]
    fn newer_schema_is_refused_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path()).unwrap();
            store.set_schema_version(SCHEMA_VERSION + 5).unwrap();
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
            match sled::open(dir.path()) {
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
        use super::courses::tests::course_fields;
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
            s.meta.get(counter_key("courses")).unwrap().map(|v| v.len()),
            Some(8)
        );
    }

    #[test]
    fn locked_directory_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let _first = Store::open(dir.path()).unwrap();
        match Store::open(dir.path()) {
            Err(OpenError::Locked(path)) => assert!(path.contains(&*dir.path().to_string_lossy())),
            Err(other) => panic!("expected Locked, got {other}"),
            Ok(_) => panic!("a second open of a held data directory must fail"),
        }
    }

    #[test]
    fn unreadable_directory_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("not-a-dir");
        std::fs::write(&file, b"x").unwrap();
        match Store::open(&file) {
            Err(OpenError::Unreadable { .. }) => {}
            Err(other) => panic!("expected Unreadable, got {other}"),
            Ok(_) => panic!("a file is not a data directory"),
        }
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
        let db = sled::Config::new().path(dir.path()).open().unwrap();
        db.insert("earlier", "yes").unwrap();
        db.flush().unwrap();
        drop(db);
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(
            store.db.get("earlier").unwrap().as_deref(),
            Some(&b"yes"[..])
        );
    }
}
