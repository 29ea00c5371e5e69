//! The state every handler and server function gets.

use super::config::Config;
use super::flusher::Flusher;
use super::hashing::HashPool;
use super::job_runner::JobRunner;
use super::store::{Store, StoreError};
use super::store_cell::StoreCell;
use super::throttle::{DeviceCookies, LoginThrottle};
use crate::model::AppError;
use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// Cheap to clone (one reference count: middleware and server functions clone it on every
/// request).
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What [`AppState`] holds.
pub struct Shared {
    pub leptos_options: LeptosOptions,
    /// The open store; see [`AppState::store`] and `store_cell.rs` (a store whose disk fails is
    /// opened again once it can write).
    pub storage: StoreCell,
    pub flusher: Flusher,
    pub config: Arc<Config>,
    pub throttle: Arc<LoginThrottle>,
    /// Wrong group keys, per user and per client address.
    pub key_throttle: Arc<LoginThrottle>,
    /// Sign-ups refused because the login name or e-mail is taken, per client address and
    /// per login name tried.
    pub signup_throttle: Arc<LoginThrottle>,
    /// Signs and reads the device cookies of browsers that signed in before (see
    /// `throttle.rs`); its key is derived from `url_key`.
    pub device_cookies: DeviceCookies,
    /// The password hashing workers (fixed memory, bounded queue).
    pub hasher: HashPool,
    /// Runs the store's background jobs (see `job_runner.rs`).
    pub jobs: JobRunner,
    pub mailer: super::mail::Mailer,
    /// Reports walking whole groups (the Report tab, the Reports list, the CSV export) at
    /// once: one per core, so they never take every thread from the pages.
    pub reports: Arc<tokio::sync::Semaphore>,
    /// Store reads (and writes) run through [`AppState::read`] since start: lets tests see
    /// what a request costs.
    pub store_calls: Arc<AtomicU64>,
    /// Of those, the reads handed to a blocking thread ([`AppState::read`]): lets tests see
    /// that a page's short reads stay on the request's task.
    pub blocking_reads: Arc<AtomicU64>,
    /// Session records written (created or saved) since start: lets tests see that an active
    /// session is not rewritten on every request.
    pub session_writes: Arc<AtomicU64>,
    /// The server's secret, kept in the store (`Store::signing_secret`): the keys of the signatures on form errors
    /// carried in redirect URLs and on device cookies are derived from it (`signing.rs`).
    pub url_key: Arc<[u8; 32]>,
    /// Set once the store has an account (it never goes back to none).
    pub set_up: Arc<AtomicBool>,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

impl AppState {
    pub fn new(leptos_options: LeptosOptions, store: Store, config: Config) -> AppState {
        // The signing secret outlives restarts (a device cookie is good for 180 days); when the
        // store cannot write at start, this run signs with a secret of its own.
        let url_key: [u8; 32] = match off_the_worker(|| store.signing_secret()) {
            Ok(secret) => secret,
            Err(e) => {
                tracing::warn!(
                    "the signing secret could not be read or stored ({e}): device cookies and \
                     form-error marks signed now stop counting at the next restart"
                );
                rand::random()
            }
        };
        let storage = StoreCell::new(store, config.storage_retry);
        let throttle = shared_throttle(LoginThrottle::new(), &storage);
        let key_throttle = shared_throttle(LoginThrottle::for_group_keys(), &storage);
        let signup_throttle = shared_throttle(LoginThrottle::for_signups(), &storage);
        let flusher = Flusher::spawn();
        let mailer =
            super::mail::Mailer::start(storage.clone(), flusher.clone(), config.mail.clone());
        let jobs = JobRunner::start_waking(storage.clone(), flusher.clone(), mailer.notifier());
        {
            // Work put off while nothing could be saved goes on once it can.
            let (jobs, mail) = (jobs.clone(), mailer.notifier());
            storage.spawn_recovery(move || {
                jobs.wake();
                mail.notify_one();
            });
        }
        AppState(Arc::new(Shared {
            leptos_options,
            jobs,
            mailer,
            reports: Arc::new(tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(2, |n| n.get()),
            )),
            flusher,
            hasher: HashPool::start(config.hash_workers, config.hash_queue),
            storage,
            config: Arc::new(config),
            throttle,
            key_throttle,
            signup_throttle,
            device_cookies: DeviceCookies::new(&url_key),
            store_calls: Arc::default(),
            blocking_reads: Arc::default(),
            session_writes: Arc::default(),
            url_key: Arc::new(url_key),
            set_up: Arc::default(),
        }))
    }

    /// The state's parts to change before anything shares it (tests swap in a short
    /// throttle); `None` once it is shared.
    /// A turn to walk a whole group for a report: waits up to 10 s for one, then `Busy`.
    pub async fn report_turn(&self) -> Result<tokio::sync::OwnedSemaphorePermit, AppError> {
        let wait = tokio::time::timeout(
            std::time::Duration::from_secs(10),
            self.reports.clone().acquire_owned(),
        );
        match wait.await {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(AppError::Busy {
                retry_after_secs: 5,
            }),
        }
    }

    pub fn parts_mut(&mut self) -> Option<&mut Shared> {
        Arc::get_mut(&mut self.0)
    }

    /// Runs a read of a few keys (a user, a session) on the calling task: handing it to a
    /// blocking thread costs more than the read, which the embedded store answers from its
    /// cache (a miss reads one page). Scans and anything longer go through [`AppState::read`].
    /// A page makes several such reads; each hop to a blocking thread is two thread switches,
    /// which were 13% of the server's time under load (BENCHMARKS.md, "Page throughput").
    /// Every read made on the task goes through here. A backend whose reads wait on a network
    /// (PostgreSQL) is read the same way but with the worker thread handed over first
    /// (`block_in_place`: tokio moves the worker's other tasks to another thread for the
    /// length of the read), so a slow database never stalls the requests queued behind it.
    pub fn read_now<T>(
        &self,
        f: impl FnOnce(&Store) -> Result<T, StoreError>,
    ) -> Result<T, AppError> {
        self.store_calls.fetch_add(1, Ordering::Relaxed);
        let store = self.storage.store()?;
        let read = || f(&store).map_err(|e| self.storage.error(e));
        if store.networked() {
            off_the_worker(read)
        } else {
            read()
        }
    }

    /// The open store, for work that holds it longer than one call (a streamed download).
    pub fn store(&self) -> Result<Store, AppError> {
        self.storage.store()
    }

    /// Runs a read on a blocking thread.
    pub async fn read<T, F>(&self, f: F) -> Result<T, AppError>
    where
        T: Send + 'static,
        F: FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    {
        let store = self.storage.store()?;
        self.store_calls.fetch_add(1, Ordering::Relaxed);
        self.blocking_reads.fetch_add(1, Ordering::Relaxed);
        tokio::task::spawn_blocking(move || f(&store))
            .await
            .map_err(|e| super::internal(&e))?
            .map_err(|e| self.storage.error(e))
    }

    /// Runs a write on a blocking thread and returns once it is on disk (group commit), so a
    /// success the caller reports survives a crash. The flush happens on failure too: an
    /// operation done in several transactions may have committed some before it failed.
    /// While the store cannot write (disk full, read-only) it is refused before it starts.
    pub async fn write<T, F>(&self, f: F) -> Result<T, AppError>
    where
        T: Send + 'static,
        F: FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    {
        self.storage.writable()?;
        let store = self.storage.store()?;
        self.store_calls.fetch_add(1, Ordering::Relaxed);
        let out = {
            let store = store.clone();
            tokio::task::spawn_blocking(move || f(&store))
                .await
                .map_err(|e| super::internal(&e))?
        };
        // The same store the write went to: never one opened again meanwhile.
        let flushed = self.flusher.flush(&store).await;
        drop(store);
        match (out, flushed) {
            (Ok(v), Ok(())) => Ok(v),
            (Ok(_), Err(e)) => Err(self.storage.error(e)),
            (Err(e), flushed) => {
                if let Err(f) = flushed {
                    // Noted (it may mark the store unwritable); the write's own error is
                    // the one to show.
                    let _ = self.storage.error(f);
                }
                Err(self.storage.error(e))
            }
        }
    }

    /// [`AppState::write`], then wakes the job runner: for writes that record a job.
    pub async fn write_and_wake<T, F>(&self, f: F) -> Result<T, AppError>
    where
        T: Send + 'static,
        F: FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    {
        let out = self.write(f).await;
        self.jobs.wake();
        out
    }
}

/// The app state from the server function's context (provided by the router).
#[track_caller]
pub fn app_state() -> Result<AppState, AppError> {
    let caller = std::panic::Location::caller();
    leptos::prelude::use_context::<AppState>()
        .ok_or_else(|| super::internal(&format!("AppState missing from context (at {caller})")))
}

/// `throttle`, counting in the store's buckets when it keeps them (several servers).
fn shared_throttle(throttle: LoginThrottle, storage: &StoreCell) -> Arc<LoginThrottle> {
    throttle.share_through(storage);
    Arc::new(throttle)
}

/// Runs `f`, which waits on the network (a database), handing the async worker thread it is
/// called on over first (`block_in_place`: tokio moves the worker's other tasks to another
/// thread meanwhile). Outside a multi-threaded runtime (a single-threaded one, as some tests
/// use, has no other worker; a plain thread has none) `f` simply runs.
pub(crate) fn off_the_worker<T>(f: impl FnOnce() -> T) -> T {
    let multi = tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
    if multi {
        tokio::task::block_in_place(f)
    } else {
        f()
    }
}
