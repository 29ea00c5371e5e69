//! The job runner: does the store's background jobs (`store/jobs.rs`) one step at a time on a
//! blocking thread, so no request waits for them and none is slowed for long.
//!
//! It starts with the server and first finishes whatever an earlier run left unfinished (a job
//! is written in the same transaction as the change that needs it, so a crash cannot lose one);
//! afterwards it sleeps until [`JobRunner::wake`] is called or a minute passes. Pending jobs take
//! turns, one step each; each step is flushed before the next, so a step done is a step that
//! survives `kill -9`. A storage error is retried (while the disk takes no writes, the runner
//! waits for the store to be opened again, see `store_cell.rs`); a step that fails otherwise (or
//! keeps panicking) marks its job failed, logged with the reason, instead of retrying it for
//! ever.

use super::flusher::Flusher;
use super::store::jobs::Step;
use super::store::{now_ms, Store, StoreError};
use super::store_cell::StoreCell;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// Handle to the runner; cheap to clone.
#[derive(Clone)]
pub struct JobRunner {
    wake: Arc<Notify>,
    idle: Arc<Notify>,
}

impl JobRunner {
    /// Starts the runner on the current tokio runtime.
    pub fn start(store: StoreCell, flusher: Flusher) -> JobRunner {
        Self::start_waking(store, flusher, Arc::new(Notify::new()))
    }

    /// Starts the runner, notifying `after_step` after each step it runs (the mailer: a
    /// message's delivery queues e-mails).
    pub fn start_waking(store: StoreCell, flusher: Flusher, after_step: Arc<Notify>) -> JobRunner {
        let runner = JobRunner {
            wake: Arc::new(Notify::new()),
            idle: Arc::new(Notify::new()),
        };
        let (wake, idle) = (runner.wake.clone(), runner.idle.clone());
        // Work queued on this server wakes the runner; on a shared database other servers
        // queue work too (and one of them may die holding a job), which only a look finds.
        let look_every = match store.store() {
            Ok(s) if s.networked() => SHARED_LOOK,
            _ => Duration::from_secs(60),
        };
        tokio::spawn(async move {
            let mut panics = HashMap::new();
            loop {
                run_all(&store, &flusher, &mut panics, &after_step).await;
                idle.notify_waiters();
                tokio::select! {
                    _ = wake.notified() => {}
                    _ = tokio::time::sleep(look_every) => {}
                }
            }
        });
        runner
    }

    /// Tells the runner there is new work.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Waits until the runner has nothing left to do (tests).
    pub async fn wait_idle(&self, store: &Store) {
        loop {
            let idle = self.idle.notified();
            let pending = {
                let store = store.clone();
                tokio::task::spawn_blocking(move || store.pending_jobs())
                    .await
                    .ok()
                    .and_then(Result::ok)
                    .unwrap_or_default()
            };
            if pending.is_empty() {
                return;
            }
            self.wake();
            let _ = tokio::time::timeout(Duration::from_millis(200), idle).await;
        }
    }
}

/// How often an idle runner on a shared database looks for jobs another server queued or
/// left behind.
const SHARED_LOOK: Duration = Duration::from_secs(5);

/// How often a job's step may panic before the job is failed (it would panic for ever).
const PANICS_ALLOWED: u32 = 3;

/// Runs every pending job to its end, one step of each in turn (a long mass enrolment does not
/// hold up a group sweep). A storage error is retried a second later, or once the store is
/// opened again when the disk takes no writes; any other error fails the job (logged with the
/// reason); a step that keeps panicking fails its job too.
async fn run_all(
    cell: &StoreCell,
    flusher: &Flusher,
    panics: &mut HashMap<u64, u32>,
    after_step: &Notify,
) {
    loop {
        // Nothing can be saved: the recovery wakes the runner once it can.
        if cell.writable().is_err() {
            return;
        }
        let Ok(store) = cell.store() else {
            return;
        };
        let store = &store;
        let pending = {
            let store = store.clone();
            tokio::task::spawn_blocking(move || store.pending_jobs()).await
        };
        let pending = match pending {
            Ok(Ok(p)) => p,
            Ok(Err(e)) => {
                tracing::error!(error = %e, "cannot read the pending jobs");
                return;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot read the pending jobs");
                return;
            }
        };
        if pending.is_empty() {
            return;
        }
        let mut waiting = false;
        for id in pending {
            let step = {
                let store = store.clone();
                tokio::task::spawn_blocking(move || store.run_job_step(id, now_ms())).await
            };
            if let Err(e) = flusher.flush(store).await {
                tracing::error!(error = %e, job = id, "cannot flush a job's step");
                if let StoreError::Backend(e) = &e {
                    cell.note(e);
                }
            }
            after_step.notify_one();
            let failure = match step {
                Ok(Ok(Step::More)) => None,
                // Another server is advancing it: look again after a pause.
                Ok(Ok(Step::Held)) => {
                    waiting = true;
                    None
                }
                Ok(Ok(Step::Finished)) => {
                    tracing::debug!(job = id, "job finished");
                    panics.remove(&id);
                    None
                }
                Ok(Err(StoreError::Backend(e))) => {
                    tracing::warn!(error = %e, job = id, "job step failed on storage; retrying");
                    if cell.note(&e).is_some() {
                        return;
                    }
                    waiting = true;
                    None
                }
                Ok(Err(e)) => Some(e.to_string()),
                Err(e) => {
                    let n = panics.entry(id).or_insert(0);
                    *n += 1;
                    tracing::error!(error = %e, job = id, times = *n, "job step panicked");
                    (*n >= PANICS_ALLOWED).then(|| format!("it failed {n} times: {e}"))
                }
            };
            if let Some(reason) = failure {
                tracing::error!(job = id, reason, "job failed");
                let s = store.clone();
                let _ =
                    tokio::task::spawn_blocking(move || s.fail_job(id, &reason, now_ms())).await;
                let _ = flusher.flush(store).await;
                panics.remove(&id);
            }
        }
        if waiting {
            tokio::time::sleep(Duration::from_secs(1)).await;
        } else {
            tokio::task::yield_now().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::group::KeySettings;
    use crate::server::store::groups::{Actor, GroupFields};
    use crate::server::store::jobs::JobState;

    /// Jobs left pending by an earlier run (here: never run) are done as soon as the runner
    /// starts, without being woken.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_runner_finishes_what_an_earlier_run_left() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let actor = Actor { user: 0, now: 1 };
        let f = GroupFields {
            name: "Left over".into(),
            description: String::new(),
            branch: None,
            key: KeySettings::default(),
            is_default: false,
        };
        let g = store.create_group(actor, &f).unwrap().0.id;
        let job = store.delete_group(actor, g).unwrap();
        assert_eq!(store.pending_jobs().unwrap(), vec![job]);
        let cell = StoreCell::new(store.clone(), Duration::from_secs(1));
        let runner = JobRunner::start(cell, Flusher::spawn());
        tokio::time::timeout(Duration::from_secs(20), runner.wait_idle(&store))
            .await
            .expect("the runner finished the job");
        assert_eq!(store.get_job(job).unwrap().unwrap().state, JobState::Done);
    }
}
