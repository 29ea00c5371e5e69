//! The state every handler and server function gets.

use super::config::Config;
use super::flusher::Flusher;
use super::hashing::HashPool;
use super::jobs::JobRunner;
use super::store::{Store, StoreError};
use super::throttle::LoginThrottle;
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
    pub store: Store,
    pub flusher: Flusher,
    pub config: Arc<Config>,
    pub throttle: Arc<LoginThrottle>,
    /// Wrong group keys, per user and per client address.
    pub key_throttle: Arc<LoginThrottle>,
    /// The password hashing workers (fixed memory, bounded queue).
    pub hasher: HashPool,
    /// Runs the store's background jobs (see `jobs.rs`).
    pub jobs: JobRunner,
    pub mailer: super::mail::Mailer,
    /// Reports walking whole groups (the Report tab, the Reports list, the CSV export) at
    /// once: one per core, so they never take every thread from the pages.
    pub reports: Arc<tokio::sync::Semaphore>,
    /// Store reads (and writes) run through [`AppState::read`] since start: lets tests see
    /// what a request costs.
    pub store_calls: Arc<AtomicU64>,
    /// Session records written (created or saved) since start: lets tests see that an active
    /// session is not rewritten on every request.
    pub session_writes: Arc<AtomicU64>,
    /// Key of the signatures on form errors carried in redirect URLs; new at every start.
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
        let flusher = Flusher::spawn(store.db().clone());
        let mailer =
            super::mail::Mailer::start(store.clone(), flusher.clone(), config.mail.clone());
        AppState(Arc::new(Shared {
            leptos_options,
            jobs: JobRunner::start_waking(store.clone(), flusher.clone(), mailer.notifier()),
            mailer,
            reports: Arc::new(tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(2, |n| n.get()),
            )),
            flusher,
            hasher: HashPool::start(config.hash_workers, config.hash_queue),
            store,
            config: Arc::new(config),
            throttle: Arc::new(LoginThrottle::new()),
            key_throttle: Arc::new(LoginThrottle::for_group_keys()),
            store_calls: Arc::default(),
            session_writes: Arc::default(),
            url_key: Arc::new(rand::random()),
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
    /// blocking thread costs more than the read, which sled answers from its cache (a miss
    /// reads one page). Scans and anything longer go through [`AppState::read`].
    pub fn read_now<T>(
        &self,
        f: impl FnOnce(&Store) -> Result<T, StoreError>,
    ) -> Result<T, AppError> {
        self.store_calls.fetch_add(1, Ordering::Relaxed);
        f(&self.store).map_err(AppError::from)
    }

    /// Runs a read on a blocking thread.
    pub async fn read<T, F>(&self, f: F) -> Result<T, AppError>
    where
        T: Send + 'static,
        F: FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    {
        let store = self.store.clone();
        self.store_calls.fetch_add(1, Ordering::Relaxed);
        tokio::task::spawn_blocking(move || f(&store))
            .await
            .map_err(|e| super::internal(&e))?
            .map_err(AppError::from)
    }

    /// Runs a write on a blocking thread and returns once it is on disk (group commit), so a
    /// success the caller reports survives a crash. The flush happens on failure too: an
    /// operation done in several transactions may have committed some before it failed.
    pub async fn write<T, F>(&self, f: F) -> Result<T, AppError>
    where
        T: Send + 'static,
        F: FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    {
        let out = self.read(f).await;
        self.flusher
            .flush()
            .await
            .map_err(|e| super::internal(&e))?;
        out
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
