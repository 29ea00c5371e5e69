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
//!   operation is serializable against every other. The embedded backend gets that from its transactions,
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
//! - **Totals** (a list's total, a group's members, a course's learners, a user's unread
//!   messages) change in the transaction that changes what they count. How a backend keeps them
//!   is its own: the embedded one keeps a counter per total in its `meta` tree (it serializes
//!   writers anyway); a SQL backend counts through an index or keeps the count in the row it
//!   belongs to (a group's members in the group's row), so no single row is written by every
//!   operation.
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
//! ## The interface
//! One trait per area ([`users::Users`], [`groups::Groups`], [`groups::keys::GroupKeys`],
//! [`enrolments::Enrolments`], [`messages::Messages`], [`jobs::Jobs`], ...), declared in the
//! area's file beside the records, views and field types it speaks in; [`Backend`] is all of
//! them, and [`Store`] is a cheap handle to one. A backend lives in its own folder and
//! implements every trait: the embedded default is `sled/` (its module header describes its
//! trees). Nothing outside that folder names the backend but its selection here: the
//! constructors ([`Store::open`], [`restore`], [`IdleDirectory`] for `tessera backup` on a
//! stopped server, [`open_archive`] and [`new_archive`] for the portable backup format, which
//! is its dump), its page cache setting ([`DEFAULT_CACHE_MB`]) and the suite's list of
//! backends (`tests::BACKENDS`). A second backend adds its folder, a constructor and a line in
//! that list.
//!
//! Operations that call other operations (a backend's own code) reach them through
//! [`prelude`], which names every area's trait.
//!
//! Records are the store's own types, pinned byte for byte by `golden.rs` in the encoding
//! `codec.rs` gives them, which is also the portable backup format's.

pub mod archive;
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
pub mod postgres;
pub mod reports;
pub mod sessions;
pub mod settings;
pub mod sled;
pub mod throttles;
pub mod users;

use std::path::{Path, PathBuf};

pub use self::sled::backup::IdleDirectory;
pub use self::sled::DEFAULT_CACHE_MB;
// What the configuration needs of the PostgreSQL backend: the pool's default size, and the
// check of a database URL made at start-up, without connecting.
pub use self::postgres::connect::{check_url as check_database_url, DEFAULT_POOL_SIZE};

/// The schema this build writes. Bump it together with a new entry in `migrations.rs`.
pub const SCHEMA_VERSION: u32 = 6;

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
impl StoreError {
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        StoreError::Invalid {
            field,
            message: message.into(),
        }
    }
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
    /// The database named by `database_url` could not be reached or used.
    #[error("the database {url} cannot be used: {reason}")]
    Unreachable { url: String, reason: String },
}
/// What every backend does besides the areas: durability, ids, a snapshot for the tests.
pub trait Core: Send + Sync + 'static {
    /// Makes everything written so far durable (blocking). Request handlers use the shared
    /// flusher instead (group commit).
    fn flush(&self) -> Result<(), BackendError>;

    /// A new id, never given before in this store (restores included: a backup carries the
    /// mark ids continue from). Ids are one space for every kind of record and increase, so
    /// sorting by id is sorting by creation; they may have gaps (an id drawn for a
    /// transaction that then failed is not reused). The embedded backend draws them from its own counter, a
    /// SQL backend from a sequence. Drawn before the transaction that uses them, since a
    /// transaction may run again.
    fn new_id(&self) -> Result<u64, StoreError>;

    /// Everything the store holds, table by table in name order, each row as its key and value
    /// in the backend's own encoding. Two snapshots of one store are equal when nothing changed
    /// between them: the tests use it to show that a refused operation wrote nothing.
    fn snapshot(&self) -> Result<Snapshot, StoreError>;

    /// The schema version recorded in the store (`None` for a brand-new one).
    fn schema_version(&self) -> Result<Option<u32>, StoreError>;

    /// Pairs an enrolling job writes per step (at least 1). Smaller steps: shorter pauses for
    /// other writers; larger: a faster job.
    fn set_step_pairs(&self, n: usize);

    /// Pairs an enrolling job writes per step.
    fn step_pairs(&self) -> usize;

    /// The directory and page cache (MiB) this store was opened with, to open it again
    /// (`None`: a store that is not reopened from a directory).
    fn origin(&self) -> Option<(PathBuf, u64)>;

    /// Whether the store's reads wait on a network (a database server) rather than being
    /// answered from memory or the local disk: the server never runs those on an async worker
    /// thread (`AppState::read_now`), and a lost connection is not a broken disk
    /// (`StoreCell::note`).
    fn networked(&self) -> bool;

    /// The backend itself, for its own tests and tools to reach what only it has.
    fn as_any(&self) -> &dyn std::any::Any;
}

/// Declares [`Backend`] as every area's trait (and [`Core`]), implements it for whatever
/// implements them all, and names them all in [`prelude`]: the list is written once.
macro_rules! backend {
    ($($area:ident in $($module:ident)::+),+ $(,)?) => {
        /// A storage backend: every area's operations.
        pub trait Backend: Core $(+ $($module)::+::$area)+ {}

        impl<T: Core $(+ $($module)::+::$area)+> Backend for T {}

        /// Every area's trait, for code that calls operations on a backend itself rather than
        /// through a [`Store`] (a backend's own files).
        pub mod prelude {
            pub use super::Core as _;
            $(pub use super::$($module)::+::$area as _;)+
        }
    };
}

backend! {
    Audit in audit,
    Backups in backup,
    Branches in branches,
    Checks in check,
    Courses in courses,
    Curricula in curricula,
    Enrolments in enrolments,
    GroupDeletion in groups::delete,
    GroupKeys in groups::keys,
    GroupLinks in groups::links,
    GroupLists in groups::list,
    GroupManagers in groups::managers,
    Memberships in groups::members,
    GroupEdits in groups::save,
    GroupViews in groups::views,
    Groups in groups,
    Imports in imports,
    Jobs in jobs,
    MassEnrolments in mass,
    Messages in messages,
    Reports in reports,
    Sessions in sessions,
    Settings in settings,
    Throttles in throttles,
    Users in users,
}

/// The store: a handle to the backend, cheap to clone (one reference count: handlers clone it
/// on every request). Its operations are the [`Backend`]'s, called through it.
#[derive(Clone)]
pub struct Store(std::sync::Arc<dyn Backend>);

impl std::ops::Deref for Store {
    type Target = dyn Backend;

    fn deref(&self) -> &(dyn Backend + 'static) {
        &*self.0
    }
}

/// Where a store lives: the embedded store in a directory (the default), or a PostgreSQL
/// database (`database_url`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StorePlace {
    /// The embedded store in `dir`, with a page cache of `cache_mb` MiB.
    Directory { dir: PathBuf, cache_mb: u64 },
    /// The PostgreSQL database at `url`, through at most `pool_size` connections.
    Database { url: String, pool_size: u32 },
}

impl StorePlace {
    /// The place as a person reads it: the directory, or the URL without its password.
    pub fn shown(&self) -> String {
        match self {
            StorePlace::Directory { dir, .. } => dir.display().to_string(),
            StorePlace::Database { url, .. } => postgres::connect::shown_url(url),
        }
    }

    /// Whether opening the store here may first migrate it to a newer schema, found without
    /// opening it; `serve` then runs `tessera migrate` in a process of its own before it opens
    /// the store (the embedded store's migrations leave their process heavier: see
    /// `sled::migration_due`). Never on PostgreSQL, whose migrations are the database's work.
    pub fn migration_due(&self) -> bool {
        match self {
            StorePlace::Directory { dir, .. } => self::sled::migration_due(dir),
            StorePlace::Database { .. } => false,
        }
    }
}

impl Store {
    /// Opens the store at `place` (creating it if needed) and brings its schema up to date.
    pub fn open_at(place: &StorePlace) -> Result<Store, OpenError> {
        match place {
            StorePlace::Directory { dir, cache_mb } => Self::open_with_cache(dir, *cache_mb),
            StorePlace::Database { url, pool_size } => {
                self::postgres::PgStore::connect(url, *pool_size).map(Store::new)
            }
        }
    }

    /// A handle to `backend`.
    pub fn new(backend: impl Backend) -> Store {
        Store(std::sync::Arc::new(backend))
    }

    /// Opens (creating if needed) the embedded store in `dir` with the default cache, then
    /// brings its schema up to date.
    pub fn open(dir: &Path) -> Result<Store, OpenError> {
        Self::open_with_cache(dir, DEFAULT_CACHE_MB)
    }

    /// Opens the embedded store in `dir` with a page cache of `cache_mb` MiB.
    pub fn open_with_cache(dir: &Path, cache_mb: u64) -> Result<Store, OpenError> {
        self::sled::SledStore::open_with_cache(dir, cache_mb).map(Store::new)
    }

    /// How many handles to this open store exist (the reopening waits for its own to be the
    /// last, see `store_cell.rs`).
    pub fn holders(&self) -> usize {
        std::sync::Arc::strong_count(&self.0)
    }

    /// Whether `other` is a handle to this same open store.
    pub fn same_as(&self, other: &Store) -> bool {
        std::sync::Arc::ptr_eq(&self.0, &other.0)
    }
}

/// Restores the backup read from `input` into the embedded store's directory `dir` (see
/// `backup.rs`), and opens it.
pub fn restore(
    input: impl std::io::Read,
    dir: &Path,
) -> Result<(Store, backup::RestoreSummary), backup::BackupError> {
    self::sled::backup::restore(input, dir).map(|(s, r)| (Store::new(s), r))
}

/// Opens the backup read from `input` as an archive of records (see `archive.rs`), through a
/// temporary embedded store: the portable format is its dump, and its restore checks the file
/// and runs the migrations of an older schema first. Returns the records and the restore's
/// figures with the `check` verdict on them.
pub fn open_archive(
    input: impl std::io::Read,
) -> Result<(Box<dyn archive::ArchiveRead>, backup::RestoreSummary), backup::BackupError> {
    let (scratch, summary) = self::sled::archive::Scratch::restore(input)?;
    Ok((Box::new(scratch), summary))
}

/// A new, empty archive to fill with records and write as a backup file (see `archive.rs`),
/// in a temporary embedded store.
pub fn new_archive() -> Result<Box<dyn archive::ArchiveWrite>, backup::BackupError> {
    Ok(Box::new(self::sled::archive::Scratch::empty()?))
}

/// Restores the backup read from `input` (made on either backend) into the store at `place`:
/// a directory that must be new or empty, or a database that must hold no school yet
/// (`BackupError::DatabaseNotEmpty`, see `postgres/backup.rs`). Returns the store and the
/// backup's figures with the `check` verdict on the result.
pub fn restore_at(
    input: impl std::io::Read,
    place: &StorePlace,
) -> Result<(Store, backup::RestoreSummary), backup::BackupError> {
    match place {
        StorePlace::Directory { dir, .. } => restore(input, dir),
        StorePlace::Database { url, pool_size } => {
            let store =
                postgres::PgStore::connect(url, *pool_size).map_err(backup::BackupError::Open)?;
            let summary = postgres::backup::restore(input, &store)?;
            Ok((Store::new(store), summary))
        }
    }
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

/// Searches count matches up to this many, then report "more than": counting every match of
/// a common prefix among 100,000 users would cost more than the page itself.
pub const TOTAL_CAP: u64 = 1_000;

/// The terms a record is found by in a search: each field folded, and each word of each field,
/// sorted, without repeats or empty ones. Both backends index these.
pub fn search_terms(fields: &[&str]) -> Vec<String> {
    let mut terms = Vec::new();
    for f in fields {
        let folded = codec::fold(f);
        terms.extend(folded.split_whitespace().map(str::to_string));
        terms.push(folded);
    }
    terms.retain(|t| !t.is_empty());
    terms.sort();
    terms.dedup();
    terms
}

/// `(skip, take)` for page `page` (from 1) of `per_page` rows (1 to 100).
pub fn page_window(page: u32, per_page: u32) -> (usize, usize) {
    let per_page = per_page.clamp(1, 100) as usize;
    ((page.max(1) as usize - 1) * per_page, per_page)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// What the store's tests reach: the interface and its types, the model, the fixtures.
    #[allow(unused_imports)]
    pub(crate) mod prelude {
        pub(crate) use super::*;
        pub(crate) use crate::model::activity::*;
        pub(crate) use crate::model::catalog::*;
        pub(crate) use crate::model::group::*;
        pub(crate) use crate::model::import::*;
        pub(crate) use crate::model::message::*;
        pub(crate) use crate::model::report::*;
        pub(crate) use crate::model::user::*;
        pub(crate) use crate::server::store::audit::*;
        pub(crate) use crate::server::store::backup::*;
        pub(crate) use crate::server::store::branches::*;
        pub(crate) use crate::server::store::check::*;
        pub(crate) use crate::server::store::codec::{self, *};
        pub(crate) use crate::server::store::courses::tests::{add_lesson, course_fields};
        pub(crate) use crate::server::store::courses::*;
        pub(crate) use crate::server::store::curricula::*;
        pub(crate) use crate::server::store::enrolments::tests_support::*;
        pub(crate) use crate::server::store::enrolments::*;
        pub(crate) use crate::server::store::groups::delete::*;
        pub(crate) use crate::server::store::groups::keys::*;
        pub(crate) use crate::server::store::groups::links::*;
        pub(crate) use crate::server::store::groups::list::*;
        pub(crate) use crate::server::store::groups::managers::*;
        pub(crate) use crate::server::store::groups::members::*;
        pub(crate) use crate::server::store::groups::save::*;
        pub(crate) use crate::server::store::groups::views::*;
        pub(crate) use crate::server::store::groups::*;
        pub(crate) use crate::server::store::imports::*;
        pub(crate) use crate::server::store::jobs::*;
        pub(crate) use crate::server::store::mass::*;
        pub(crate) use crate::server::store::messages::*;
        pub(crate) use crate::server::store::reports::*;
        pub(crate) use crate::server::store::sessions::*;
        pub(crate) use crate::server::store::settings::*;
        pub(crate) use crate::server::store::users::*;
        pub(crate) use crate::server::store::{
            now_ms, restore, Backend, OpenError, Store, StoreError, SCHEMA_VERSION, TOTAL_CAP,
        };
        pub(crate) use std::collections::{HashMap, HashSet};
    }
    #[allow(unused_imports)]
    use crate::server::store::tests::prelude::*;

    /// The backends the conformance suite runs on. The suite is every store test that opens
    /// its store with [`temp_store`]: it states what a backend must do, through the store's
    /// operations only. A new backend is one more line here (and its arm in
    /// [`TestBackend::temp_store`]); `the_conformance_suite_passes_on_every_backend` then runs
    /// the suite on it in every `cargo test`.
    pub const BACKENDS: &[TestBackend] = &[TestBackend::Sled, TestBackend::Postgres];

    /// A storage backend the suite can run on.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum TestBackend {
        Sled,
        Postgres,
    }

    /// What keeps a test's store alive and is cleaned up after it: the embedded store's
    /// directory, or the PostgreSQL test database.
    pub enum TestPlace {
        Dir(tempfile::TempDir),
        Database(super::postgres::tests::TestDatabase),
    }

    impl TestPlace {
        /// The embedded store's directory (tests that reopen or damage files are sled's).
        pub fn path(&self) -> &Path {
            match self {
                TestPlace::Dir(d) => d.path(),
                TestPlace::Database(_) => panic!("a PostgreSQL test store has no directory"),
            }
        }

        /// A new store on this place once the one on it is dropped: the embedded store's
        /// directory opened again, or a new connection to the test database (a restarted
        /// server, or another one).
        pub fn reopen(&self) -> Store {
            match self {
                TestPlace::Dir(d) => reopen(d.path()).expect("reopen the store"),
                TestPlace::Database(db) => Store::new(
                    super::postgres::PgStore::connect(&db.url, 8).expect("connect again"),
                ),
            }
        }
    }

    /// Names the backend a run of the suite is on (unset: the first in [`BACKENDS`]).
    const BACKEND_VAR: &str = "TESSERA_TEST_BACKEND";

    impl TestBackend {
        pub fn name(self) -> &'static str {
            match self {
                TestBackend::Sled => "sled",
                TestBackend::Postgres => "postgres",
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
        pub fn temp_store(self) -> (TestPlace, Store) {
            match self {
                TestBackend::Sled => {
                    let dir = tempfile::tempdir().expect("temp dir");
                    let store = Store::open(dir.path()).expect("open store");
                    (TestPlace::Dir(dir), store)
                }
                TestBackend::Postgres => {
                    let db = super::postgres::tests::TestDatabase::new()
                        .expect("the PostgreSQL run of the suite needs TESSERA_TEST_DATABASE_URL");
                    let store = super::postgres::PgStore::connect(&db.url, 8)
                        .expect("connect to the test database");
                    (TestPlace::Database(db), Store::new(store))
                }
            }
        }
    }

    /// A new, empty store on the backend this run of the suite is on.
    pub fn temp_store() -> (TestPlace, Store) {
        TestBackend::current().temp_store()
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
            // A developer's `cargo test` without a cluster: PostgreSQL's run is skipped, loudly
            // (in CI the test database's own check fails instead).
            if *backend == TestBackend::Postgres
                && super::postgres::tests::TestDatabase::new().is_none()
            {
                continue;
            }
            let out = std::process::Command::new(&me)
                .args(["server::store::", "--skip", "conformance_suite_passes"])
                .args(["--skip", "server::store::sled::"])
                .args(["--skip", "server::store::postgres::"])
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

    /// Opens `dir` again after a store on it was dropped. The embedded backend's flush thread can
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
}
