//! The open store, and what happens when the disk under it stops taking writes.
//!
//! After an I/O error (a full disk, a data directory turned read-only) the embedded store
//! fails every later write until it is opened again, while its reads still answer from the
//! open files (see `Store::open_with_cache`). So the server keeps its store in a
//! [`StoreCell`]:
//! - a write that meets an I/O error marks the cell unwritable and is answered
//!   [`AppError::CannotSave`] (503, with the cause); every later write is refused the same way
//!   before it reaches the store, and pages go on being read from the open store;
//! - a task tries every `storage_retry` whether the data directory takes a write and a flush
//!   again (a probe file); once it does, it takes the store out of the cell, waits for the
//!   requests still holding it, closes it and opens the directory again. The store recovers to
//!   its last flush, which every acknowledged write had reached (a write is acknowledged only after
//!   its flush), and saving resumes. While the store is out of the cell (usually milliseconds)
//!   requests are answered 503 "reopening".

use super::store::{BackendError, Store, StoreError};
use crate::model::AppError;
use std::io::ErrorKind;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// Why the store cannot write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trouble {
    /// No space (or quota) left on the data directory's disk.
    Full,
    /// The data directory's file system is read-only (or refuses Tessera's writes).
    ReadOnly,
    /// Any other I/O error.
    Failing,
    /// The database server (a networked backend) cannot be reached or stopped answering.
    Unreachable,
}

impl Trouble {
    fn of(kind: ErrorKind) -> Trouble {
        match kind {
            ErrorKind::StorageFull | ErrorKind::QuotaExceeded => Trouble::Full,
            ErrorKind::ReadOnlyFilesystem | ErrorKind::PermissionDenied => Trouble::ReadOnly,
            _ => Trouble::Failing,
        }
    }

    /// The cause, as the sentence part people read.
    pub fn reason(self) -> &'static str {
        match self {
            Trouble::Full => "the server's disk is full",
            Trouble::ReadOnly => "the server's data directory has become read-only",
            Trouble::Failing => "the server cannot write to its data directory",
            Trouble::Unreachable => "the server cannot reach its database",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Health {
    Writable,
    /// Writes are refused; the store still serves reads.
    Failed(Trouble),
    /// The store is out of the cell, being closed and opened again.
    Reopening(Trouble),
}

/// The store the server runs on (see the module text). Cheap to clone.
#[derive(Clone)]
pub struct StoreCell(Arc<Inner>);

struct Inner {
    current: RwLock<Option<Store>>,
    health: Mutex<Health>,
    /// Woken when the store fails (the recovery task waits on it).
    failed: Notify,
    /// Where the store is opened again from, and with how much page cache.
    dir: PathBuf,
    cache_mb: u64,
    /// The store is a database server's (see [`StoreCell::note`]).
    networked: bool,
    /// The job step size set on the store, set again on the one opened anew.
    step_pairs: std::sync::atomic::AtomicUsize,
    retry: Duration,
}

/// How long the reopening waits for requests still holding the old store before it gives up
/// (and tries again at the next round).
const DRAIN_WAIT: Duration = Duration::from_secs(30);

impl StoreCell {
    /// A cell holding `store` (opened again the way it was opened); `retry` is how often a
    /// failed store tries writing again.
    pub fn new(store: Store, retry: Duration) -> StoreCell {
        // A store not opened from a directory (none is served) cannot be opened again; its
        // recovery rounds find no directory to probe and end there.
        let (dir, cache_mb) = store
            .origin()
            .unwrap_or_else(|| (PathBuf::from("/nonexistent"), 8));
        let step_pairs = std::sync::atomic::AtomicUsize::new(store.step_pairs());
        StoreCell(Arc::new(Inner {
            networked: store.networked(),
            step_pairs,
            current: RwLock::new(Some(store)),
            health: Mutex::new(Health::Writable),
            failed: Notify::new(),
            dir,
            cache_mb,
            retry,
        }))
    }

    fn health(&self) -> Health {
        *self.0.health.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn set_health(&self, h: Health) {
        *self.0.health.lock().unwrap_or_else(|e| e.into_inner()) = h;
    }

    fn refused(&self, trouble: Trouble) -> AppError {
        AppError::CannotSave {
            reason: trouble.reason().to_string(),
            retry_after_secs: self.0.retry.as_secs().max(1),
        }
    }

    /// The open store, for a read (or a write that has passed [`StoreCell::writable`]).
    pub fn store(&self) -> Result<Store, AppError> {
        if let Some(s) = self
            .0
            .current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
        {
            return Ok(s.clone());
        }
        Err(match self.health() {
            Health::Reopening(_) => AppError::Busy {
                retry_after_secs: 1,
            },
            // Not reached: the store is only ever out of the cell while reopening.
            Health::Failed(t) => self.refused(t),
            Health::Writable => self.refused(Trouble::Failing),
        })
    }

    /// `Ok` when writes are being taken; otherwise why not (nothing should be written).
    pub fn writable(&self) -> Result<(), AppError> {
        match self.health() {
            Health::Writable => Ok(()),
            Health::Failed(t) | Health::Reopening(t) => Err(self.refused(t)),
        }
    }

    /// Why saving is paused, for the banner every signed-in page shows; `None` when it is not.
    pub fn trouble(&self) -> Option<Trouble> {
        match self.health() {
            Health::Writable => None,
            Health::Failed(t) | Health::Reopening(t) => Some(t),
        }
    }

    /// Notes a backend failure: an I/O error marks the store unwritable (once; logged) and
    /// wakes the recovery. Returns the trouble when it was one.
    ///
    /// A database server's store is the exception: a lost connection or a database that does
    /// not answer is that one operation's failure ([`Trouble::Unreachable`], logged), not a
    /// broken disk. Nothing is marked: the next operation takes a fresh connection from the
    /// pool, and no directory is there to reopen.
    pub fn note(&self, e: &BackendError) -> Option<Trouble> {
        let kind = e.io_kind()?;
        if self.0.networked {
            tracing::error!(error = %e, "the database could not be reached");
            return Some(Trouble::Unreachable);
        }
        let trouble = Trouble::of(kind);
        let mut health = self.0.health.lock().unwrap_or_else(|e| e.into_inner());
        if *health == Health::Writable {
            *health = Health::Failed(trouble);
            tracing::error!(
                error = %e,
                data_dir = %self.0.dir.display(),
                "the store cannot write ({}); writes are refused until it can, pages are still served",
                trouble.reason()
            );
            self.0.failed.notify_one();
        }
        Some(trouble)
    }

    /// The error a caller sees for `e`: an I/O error is [`AppError::CannotSave`] (and marks
    /// the store unwritable); anything else as [`From<StoreError>`] maps it.
    pub fn error(&self, e: StoreError) -> AppError {
        match &e {
            StoreError::Backend(failure) => match self.note(failure) {
                Some(trouble) => self.refused(trouble),
                None => AppError::from(e),
            },
            _ => AppError::from(e),
        }
    }

    /// Starts the task that brings a failed store back (see the module text). `recovered` runs
    /// after each successful reopening (the job runner and the mailer have work again).
    pub fn spawn_recovery(&self, recovered: impl Fn() + Send + Sync + 'static) {
        let cell = self.clone();
        tokio::spawn(async move {
            loop {
                cell.0.failed.notified().await;
                while cell.trouble().is_some() {
                    tokio::time::sleep(cell.0.retry).await;
                    if cell.try_reopen().await {
                        recovered();
                    }
                }
            }
        });
    }

    /// One round of recovery: `true` once the store is open again and writable.
    async fn try_reopen(&self) -> bool {
        let dir = self.0.dir.clone();
        let probe = tokio::task::spawn_blocking(move || probe_writes(&dir)).await;
        match probe {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::info!(error = %e, "the data directory still takes no writes");
                return false;
            }
            Err(e) => {
                tracing::error!(error = %e, "the write probe stopped");
                return false;
            }
        }
        let Some(trouble) = self.trouble() else {
            return true;
        };
        let old = {
            let mut current = self.0.current.write().unwrap_or_else(|e| e.into_inner());
            self.set_health(Health::Reopening(trouble));
            current.take()
        };
        if let Some(old) = old {
            // Requests and background work hold clones for the length of one operation.
            let deadline = Instant::now() + DRAIN_WAIT;
            while old.holders() > 1 {
                if Instant::now() > deadline {
                    tracing::warn!(
                        holders = old.holders() - 1,
                        "the failed store is still in use; reopening it later"
                    );
                    *self.0.current.write().unwrap_or_else(|e| e.into_inner()) = Some(old);
                    self.set_health(Health::Failed(trouble));
                    return false;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            self.0
                .step_pairs
                .store(old.step_pairs(), std::sync::atomic::Ordering::Relaxed);
            drop(old);
        }
        // Opened here, or by a later round if this fails (the store stays out of the cell and
        // requests get 503 meanwhile); an earlier round may have closed it and failed so.
        let (dir, cache_mb) = (self.0.dir.clone(), self.0.cache_mb);
        match tokio::task::spawn_blocking(move || Store::open_with_cache(&dir, cache_mb)).await {
            Ok(Ok(store)) => {
                store.set_step_pairs(self.0.step_pairs.load(std::sync::atomic::Ordering::Relaxed));
                *self.0.current.write().unwrap_or_else(|e| e.into_inner()) = Some(store);
            }
            Ok(Err(e)) => {
                tracing::error!(error = %e, "the store could not be opened again; retrying");
                return false;
            }
            Err(e) => {
                tracing::error!(error = %e, "opening the store again stopped");
                return false;
            }
        }
        self.set_health(Health::Writable);
        tracing::warn!("the store is open again after the write failure; saving resumes");
        true
    }
}

/// Writes, syncs and removes a small file in `dir`: whether the directory takes writes now.
/// The store writes in segments of 512 KiB (`store::SEGMENT_SIZE`), so the probe asks for as
/// much.
fn probe_writes(dir: &std::path::Path) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let path = dir.join(".write-probe");
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&path)?;
        f.write_all(&vec![0u8; 512 * 1024])?;
        f.sync_all()
    })();
    let _ = std::fs::remove_file(&path);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell() -> (tempfile::TempDir, StoreCell) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let cell = StoreCell::new(store, Duration::from_secs(1));
        (dir, cell)
    }

    fn io(kind: ErrorKind) -> StoreError {
        StoreError::Backend(BackendError::Io {
            kind,
            message: "injected".into(),
        })
    }

    #[test]
    fn each_cause_has_its_own_words_and_refuses_later_writes() {
        for (kind, words) in [
            (ErrorKind::StorageFull, "the server's disk is full"),
            (
                ErrorKind::ReadOnlyFilesystem,
                "the server's data directory has become read-only",
            ),
            (
                ErrorKind::Other,
                "the server cannot write to its data directory",
            ),
        ] {
            let (_dir, cell) = cell();
            assert!(cell.writable().is_ok());
            let e = cell.error(io(kind));
            assert!(matches!(e, AppError::CannotSave { .. }), "{e:?}");
            assert!(e.to_string().contains(words), "{e}");
            assert!(e.to_string().starts_with("Nothing was saved"), "{e}");
            assert_eq!(e.status_code(), http::StatusCode::SERVICE_UNAVAILABLE);
            // Later writes are refused before they start; reads still get the store.
            assert_eq!(cell.writable().unwrap_err().to_string(), e.to_string());
            assert!(cell.store().is_ok());
            assert_eq!(cell.trouble().map(Trouble::reason), Some(words));
        }
    }

    #[test]
    fn the_first_cause_is_kept_and_other_errors_do_not_stop_writes() {
        let (_dir, cell) = cell();
        // A domain error and a backend error that is not I/O are not storage trouble.
        let e = cell.error(StoreError::invalid("name", "Give the group a name."));
        assert!(matches!(e, AppError::Invalid { .. }));
        let e = cell.error(StoreError::Backend(BackendError::Other("x".into())));
        assert!(matches!(e, AppError::Internal { .. }), "{e:?}");
        assert!(cell.writable().is_ok());
        cell.error(io(ErrorKind::StorageFull));
        cell.error(io(ErrorKind::ReadOnlyFilesystem));
        assert_eq!(cell.trouble(), Some(Trouble::Full));
    }

    #[test]
    fn a_lost_database_connection_fails_the_operation_not_the_store() {
        let Some((_db, pg)) = crate::server::store::postgres::tests::temp_pg_store() else {
            return;
        };
        let cell = StoreCell::new(Store::new(pg), Duration::from_secs(1));
        for kind in [ErrorKind::ConnectionAborted, ErrorKind::TimedOut] {
            let e = cell.error(io(kind));
            assert!(matches!(e, AppError::CannotSave { .. }), "{e:?}");
            assert!(
                e.to_string()
                    .contains("the server cannot reach its database"),
                "{e}"
            );
            // Nothing is marked: the next operation takes a fresh connection and writes.
            assert!(cell.writable().is_ok());
            assert_eq!(cell.trouble(), None);
        }
        assert!(cell.store().unwrap().networked());
        assert_eq!(cell.store().unwrap().user_count().unwrap(), 0);
    }

    #[tokio::test]
    async fn a_failed_store_is_reopened_once_the_directory_takes_writes() {
        let (_dir, cell) = cell();
        let store = cell.store().unwrap();
        store.set_step_pairs(7);
        let before = store.user_count().unwrap();
        drop(store);
        cell.error(io(ErrorKind::StorageFull));
        let held = cell.store().unwrap();
        // A request still holds the old store: the reopening waits for it.
        let reopen = {
            let cell = cell.clone();
            tokio::spawn(async move { cell.try_reopen().await })
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!reopen.is_finished());
        assert!(matches!(cell.store(), Err(AppError::Busy { .. })));
        assert!(cell.writable().is_err());
        drop(held);
        assert!(reopen.await.unwrap());
        assert!(cell.writable().is_ok());
        let store = cell.store().unwrap();
        assert_eq!(store.step_pairs(), 7);
        assert_eq!(store.user_count().unwrap(), before);
    }
}
