//! The PostgreSQL backend, for a school that outgrows one machine or runs several Tessera
//! servers: the store in a PostgreSQL database (`database_url`), shared by every server on it.
//!
//! What is here so far: reaching the database (`connect.rs`: the URL, TLS, a bounded pool),
//! the schema and its versioned migrations (`migrations/`, run by refinery at start-up under an
//! advisory lock, so two servers starting together never both migrate), transactions with the
//! isolation an operation asks for and their serialization failures retried ([`PgStore::tx`]),
//! and what every backend does besides the areas ([`Core`]: ids from a sequence, the schema
//! version, a snapshot for the tests). Areas written, one file each: settings, sessions, users,
//! branches, courses, curricula (with `search.rs`, the term tables' prefix search shared by
//! them), the group areas (`groups/`, with `audit.rs`: an audit row written in another
//! operation's transaction, and the Audit area's pages read from them), jobs (`jobs.rs`:
//! enqueueing in another operation's transaction, the leased runner, and the steps of every
//! kind), messages (`messages.rs`: inboxes, the outbox shared by every server, the delivery
//! step), mass enrolments (`mass.rs`, with its job kind's steps), reports (`reports.rs`),
//! imports (`imports.rs`, with its job kind's steps), backups (`backup.rs`: the portable file
//! from one snapshot, and a restore into an empty database), checks (`check.rs`) and the
//! shared throttles (`throttles.rs`). Each area is checked by the conformance suite.
//!
//! ## How it keeps the store's contract (`store/mod.rs`)
//! - **Atomic, serializable operations.** An operation is one transaction. Operations whose
//!   rules span rows (unique names, a key's use limit, one default group) run `SERIALIZABLE`
//!   or lock the one row the rule hangs on (`SELECT … FOR UPDATE` on a group key); a
//!   serialization failure or deadlock (SQLSTATE 40001, 40P01) runs the operation again,
//!   up to [`MAX_ATTEMPTS`] times, which is why an operation's body must be safe to run twice
//!   (it only touches the database, never the outside world).
//! - **Durable on acknowledgement.** A commit returns once PostgreSQL has made it durable
//!   (its `synchronous_commit`, on by default), so [`Core::flush`] has nothing left to do.
//! - **Ids** come from the sequence `ids`: unique, increasing, gaps allowed; a restore sets it
//!   past the backup's id mark.
//! - **Reads** run `READ COMMITTED` (one statement sees one committed state) or, for a page's
//!   rows with its total, `REPEATABLE READ` (one snapshot for the transaction).

pub(crate) mod audit;
pub mod backup;
mod branches;
mod check;
pub mod connect;
mod courses;
mod curricula;
mod default_join;
mod enrolments;
pub(crate) mod groups;
mod imports;
pub(crate) mod jobs;
mod mass;
mod messages;
mod reports;
mod search;
mod sessions;
mod settings;
mod throttles;
mod users;

use super::{BackendError, Core, OpenError, Snapshot, StoreError, SCHEMA_VERSION};
use connect::Pool;
use postgres::IsolationLevel;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

mod embedded {
    refinery::embed_migrations!("src/server/store/postgres/migrations");
}

/// How many times an operation runs before a serialization failure is reported as an error.
pub(crate) const MAX_ATTEMPTS: u32 = 30;

/// The pause before attempt `attempt + 1`: random within [half, all] of 2^attempt ms, at most
/// 256 ms. A pause that grows lets the operations that keep colliding spread out: with a short
/// fixed one, four writers on the same rows (a group's members, the users' total) could starve
/// one of them through every attempt (seen with four threads adding members at once). The
/// pauses of all attempts add up to about 6 s at most.
fn retry_pause(attempt: u32) -> std::time::Duration {
    let full = 1u64 << attempt.min(8);
    let pause = full / 2 + rand::random::<u64>() % (full / 2 + 1);
    std::time::Duration::from_millis(pause.max(1))
}

/// The advisory lock a server holds while it migrates the schema (an arbitrary constant:
/// "TESS" in ASCII), so servers starting together migrate one after another.
const MIGRATION_LOCK: i64 = 0x5445_5353;

/// A Tessera store in a PostgreSQL database.
pub struct PgStore {
    /// Always `Some` but while the store is dropped (see its `Drop`).
    pool: Option<Pool>,
    /// The URL without its password, for messages.
    shown: String,
    step_pairs: AtomicUsize,
    /// This opening's job runner id (`Jobs::runner_id`): random, so servers sharing the
    /// database hold leases under different ids.
    runner: u64,
}

/// The client closes a connection by driving a runtime of its own, which tokio refuses on a
/// thread that drives the server's runtime (where the last handle to the store may go, when
/// the runtime shuts down): there the pool is closed on a thread of its own.
impl Drop for PgStore {
    fn drop(&mut self) {
        let Some(pool) = self.pool.take() else {
            return;
        };
        if tokio::runtime::Handle::try_current().is_ok() {
            let _ = std::thread::spawn(move || drop(pool)).join();
        }
    }
}

/// What an operation's body may fail with: the database, or the store's own refusal (which
/// ends the operation: it is never retried).
#[derive(Debug)]
pub(crate) enum PgError {
    Db(postgres::Error),
    Store(StoreError),
}

impl From<postgres::Error> for PgError {
    fn from(e: postgres::Error) -> Self {
        PgError::Db(e)
    }
}

impl From<StoreError> for PgError {
    fn from(e: StoreError) -> Self {
        PgError::Store(e)
    }
}

impl From<PgError> for StoreError {
    fn from(e: PgError) -> Self {
        match e {
            PgError::Db(e) => StoreError::Backend(backend_error(&e)),
            PgError::Store(e) => e,
        }
    }
}

/// A failure of the database or of the connection to it, as the store reports it: lost
/// connections and I/O as their I/O kind (the server pauses writes on some), the rest with
/// PostgreSQL's SQLSTATE and message.
pub(crate) fn backend_error(e: &postgres::Error) -> BackendError {
    if let Some(db) = e.as_db_error() {
        return BackendError::Other(format!("PostgreSQL {}: {}", db.code().code(), db.message()));
    }
    let io = std::error::Error::source(e).and_then(|s| s.downcast_ref::<std::io::Error>());
    match io {
        Some(io) => BackendError::Io {
            kind: io.kind(),
            message: format!("PostgreSQL connection: {io}"),
        },
        None if e.is_closed() => BackendError::Io {
            kind: std::io::ErrorKind::ConnectionAborted,
            message: "PostgreSQL connection closed".into(),
        },
        None => BackendError::Other(format!("PostgreSQL: {e}")),
    }
}

/// Whether running the transaction again may succeed: a serialization failure or a deadlock.
fn retryable(e: &postgres::Error) -> bool {
    use postgres::error::SqlState;
    matches!(
        e.code(),
        Some(c) if *c == SqlState::T_R_SERIALIZATION_FAILURE || *c == SqlState::T_R_DEADLOCK_DETECTED
    )
}

/// Whether `e` is a unique violation (SQLSTATE 23505) of the index or constraint `name`: the
/// schema's unique indexes are the last word on uniqueness, and each maps to the `Invalid` the
/// operation's own check gives.
pub(crate) fn unique_violation(e: &PgError, name: &str) -> bool {
    match e {
        PgError::Db(e) => e.as_db_error().is_some_and(|db| {
            *db.code() == postgres::error::SqlState::UNIQUE_VIOLATION
                && db.constraint() == Some(name)
        }),
        PgError::Store(_) => false,
    }
}

/// Refuses text holding U+0000, which a PostgreSQL `text` column cannot store (the embedded
/// backend could): a typed refusal on `field` before anything is written, never a database
/// error. The forms refuse every control character already; this holds for any other caller.
pub(crate) fn refuse_nul(field: &'static str, text: &str) -> Result<(), StoreError> {
    if text.contains('\0') {
        return Err(StoreError::invalid(
            field,
            "Remove line breaks, tabs and other control characters.",
        ));
    }
    Ok(())
}

impl PgStore {
    /// Connects to the database at `url` with at most `pool_size` connections, then brings
    /// its schema up to date.
    pub fn connect(url: &str, pool_size: u32) -> Result<PgStore, OpenError> {
        let target = connect::target(url).map_err(|e| OpenError::Unreachable {
            url: connect::shown_url(url),
            reason: e.to_string(),
        })?;
        let shown = target.shown.clone();
        let pool = connect::pool(target, pool_size).map_err(|reason| OpenError::Unreachable {
            url: shown.clone(),
            reason,
        })?;
        let store = PgStore {
            pool: Some(pool),
            shown,
            step_pairs: AtomicUsize::new(super::mass::PAIRS_PER_STEP),
            runner: rand::random(),
        };
        store.migrate()?;
        Ok(store)
    }

    /// The database's URL without its password.
    pub fn shown_url(&self) -> &str {
        &self.shown
    }

    /// A connection from the pool (waiting for one, up to the pool's timeout).
    pub(crate) fn conn(&self) -> Result<r2d2::PooledConnection<connect::Manager>, StoreError> {
        let pool = self.pool.as_ref().ok_or_else(|| {
            StoreError::Backend(BackendError::Other(
                "the PostgreSQL store is closing".into(),
            ))
        })?;
        pool.get().map_err(|e| {
            StoreError::Backend(BackendError::Io {
                kind: std::io::ErrorKind::TimedOut,
                message: format!("no PostgreSQL connection: {e}"),
            })
        })
    }

    /// Runs `body` in one transaction at `isolation` and commits it; a serialization failure
    /// or deadlock (in the body or at the commit) runs it again, up to [`MAX_ATTEMPTS`] times
    /// after a random pause that doubles each time ([`retry_pause`]). A [`StoreError`] from the
    /// body rolls everything back.
    pub(crate) fn tx<T>(
        &self,
        isolation: IsolationLevel,
        mut body: impl FnMut(&mut postgres::Transaction<'_>) -> Result<T, PgError>,
    ) -> Result<T, StoreError> {
        let mut conn = self.conn()?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let outcome = (|| {
                let mut t = conn
                    .build_transaction()
                    .isolation_level(isolation)
                    .start()?;
                let value = body(&mut t)?;
                t.commit()?;
                Ok(value)
            })();
            match outcome {
                Ok(value) => return Ok(value),
                Err(PgError::Db(e)) if retryable(&e) && attempt < MAX_ATTEMPTS => {
                    std::thread::sleep(retry_pause(attempt));
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Runs the schema's migrations that this database has not had yet, one server at a
    /// time, and records the store's schema version (`store_info`) in a new database: the version of
    /// the records it holds, which a backup carries, while refinery's history is the DDL's.
    fn migrate(&self) -> Result<(), OpenError> {
        let failed = |e: &dyn std::fmt::Display| {
            OpenError::Migration(StoreError::Backend(BackendError::Other(e.to_string())))
        };
        let mut conn = self.conn().map_err(|e| failed(&e))?;
        conn.execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
            .map_err(|e| failed(&backend_error(&e)))?;
        let ran = embedded::migrations::runner()
            .set_abort_divergent(true)
            .run(&mut *conn)
            .map_err(|e| failed(&e))
            .and_then(|_| {
                conn.execute(
                    "INSERT INTO store_info (schema_version, created_at_ms) VALUES ($1, $2) \
                     ON CONFLICT (only_row) DO NOTHING",
                    &[&(SCHEMA_VERSION as i32), &(super::now_ms() as i64)],
                )
                .map_err(|e| failed(&backend_error(&e)))
            });
        let unlocked = conn
            .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
            .map_err(|e| failed(&backend_error(&e)));
        // Back to the pool before the version is read (a pool of one has no other).
        drop(conn);
        ran?;
        unlocked?;
        let found = self.schema_version().map_err(OpenError::Migration)?;
        match found {
            Some(v) if v > SCHEMA_VERSION => Err(OpenError::NewerSchema {
                found: v,
                supported: SCHEMA_VERSION,
            }),
            _ => Ok(()),
        }
    }
}

impl Core for PgStore {
    fn flush(&self) -> Result<(), BackendError> {
        Ok(())
    }

    fn new_id(&self) -> Result<u64, StoreError> {
        let row = self
            .conn()?
            .query_one("SELECT nextval('ids')", &[])
            .map_err(|e| StoreError::Backend(backend_error(&e)))?;
        Ok(row.get::<_, i64>(0) as u64)
    }

    fn snapshot(&self) -> Result<Snapshot, StoreError> {
        self.tx(IsolationLevel::RepeatableRead, |t| {
            let tables: Vec<String> = t
                .query(
                    "SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema() \
                     AND tablename <> 'refinery_schema_history' ORDER BY tablename",
                    &[],
                )?
                .iter()
                .map(|r| r.get(0))
                .collect();
            let mut snapshot = Vec::with_capacity(tables.len());
            for table in tables {
                // A row's text form is its every column: two equal snapshots hold equal rows.
                let quoted = format!("\"{}\"", table.replace('"', "\"\""));
                let rows = t
                    .query(&format!("SELECT r::text FROM {quoted} r ORDER BY 1"), &[])?
                    .iter()
                    .map(|r| (r.get::<_, String>(0).into_bytes(), Vec::new()))
                    .collect();
                snapshot.push((table, rows));
            }
            Ok(snapshot)
        })
    }

    fn schema_version(&self) -> Result<Option<u32>, StoreError> {
        let row = self
            .conn()?
            .query_opt("SELECT schema_version FROM store_info", &[])
            .map_err(|e| StoreError::Backend(backend_error(&e)))?;
        row.map(|r| {
            let v: i32 = r.get(0);
            u32::try_from(v).map_err(|_| StoreError::Corrupt {
                tree: "store_info",
                key: "schema_version".into(),
                reason: format!("{v} is not a schema version"),
            })
        })
        .transpose()
    }

    fn set_step_pairs(&self, n: usize) {
        self.step_pairs.store(n.max(1), Ordering::Relaxed);
    }

    fn step_pairs(&self) -> usize {
        self.step_pairs.load(Ordering::Relaxed)
    }

    fn networked(&self) -> bool {
        true
    }

    fn origin(&self) -> Option<(PathBuf, u64)> {
        None
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

#[cfg(test)]
pub(crate) mod tests;
