//! The sled backend's Jobs (the interface: `crate::server::store::jobs`).

pub(crate) use crate::server::store::jobs::*;

#[allow(unused_imports)]
use crate::server::store::prelude::*;
use crate::server::store::sled::tables::{of, TxOf};

use super::codec::read_id;
use super::enrolments::pair_key;
use super::tx::tree_set;
use super::{SledStore, StoreError};
use sled::transaction::{ConflictableTransactionError, TransactionalTree};

type Tx<T> = Result<T, ConflictableTransactionError<StoreError>>;

/// How one kind of job does its work, implemented by the module that enqueues that kind and
/// listed in `JOB_STEPS` (`store/mod.rs`). Each method answers `None` for a kind it does not do.
pub(crate) trait JobSteps: Sync {
    /// Runs one bounded step of `job`, which this runner holds (see the module text). Its
    /// transactions check the hold with [`tx_step_job`]; it ends the job with [`SledStore::finish_job`]
    /// or in a transaction of its own.
    fn step(
        &self,
        store: &SledStore,
        job: &JobRecord,
        now: u64,
    ) -> Option<Result<Step, StoreError>>;

    /// Inside the transaction that marks `job` failed: lets go of what it holds (a running
    /// mark, an import's state). Kinds that hold nothing keep this default.
    fn failed(&self, t: &FailJobTx<'_>, job: &JobRecord, reason: &str, now: u64) -> Option<Tx<()>> {
        let _ = (t, job, reason, now);
        None
    }
}

tree_set! {
    /// The trees failing a job writes: the job, and what its kind lets go of.
    pub(crate) struct FailJobTx { jobs, meta, imports, messages }
}

/// Inside a step's transaction: the job as it is now, when it is still as the step read it
/// (`job`): pending, at the same cursor, held by the same runner. `None`: this step ran
/// already, or another runner took the job over after the lease ran out; the step then writes
/// nothing.
pub(crate) fn tx_step_job(jobs: &TransactionalTree, job: &JobRecord) -> Tx<Option<JobRecord>> {
    let rec = tx_job(jobs, job.id)?;
    let holder = |r: &JobRecord| r.lease.map(|l| l.holder);
    Ok(
        (rec.state == JobState::Pending && rec.cursor == job.cursor && holder(&rec) == holder(job))
            .then_some(rec),
    )
}

/// Inside a transaction: adds a pending job; its id was drawn before the transaction.
pub(crate) fn tx_enqueue(jobs: &TransactionalTree, id: u64, kind: JobKind, now: u64) -> Tx<()> {
    tx_put_job(jobs, &JobRecord::new(id, kind, 0, 0, now))
}

pub(crate) fn tx_job(jobs: &TransactionalTree, id: u64) -> Tx<JobRecord> {
    TxOf::<of::jobs>::from(jobs).must(id, "job")
}

pub(crate) fn tx_put_job(jobs: &TransactionalTree, rec: &JobRecord) -> Tx<()> {
    TxOf::<of::jobs>::from(jobs).put(rec.id, rec)
}

/// The second ids of the first `limit` keys `prefix ++ id` of an index tree, from `after`
/// (exclusive) on.
pub(crate) fn ids_after(
    tree: &sled::Tree,
    name: &'static str,
    prefix: u64,
    after: u64,
    limit: usize,
) -> Result<Vec<u64>, StoreError> {
    let start = pair_key(prefix, after.saturating_add(u64::from(after != 0)));
    let end = pair_key(prefix, u64::MAX);
    let mut out = Vec::new();
    for item in tree.range(start..=end).take(limit) {
        let (k, _) = item?;
        out.push(read_id(name, &k, &k[8..])?);
    }
    Ok(out)
}

impl Jobs for SledStore {
    fn get_job(&self, id: u64) -> Result<Option<JobRecord>, StoreError> {
        self.jobs.row(id)
    }

    fn pending_jobs(&self) -> Result<Vec<u64>, StoreError> {
        let mut out = Vec::new();
        for item in self.jobs.iter() {
            match self.jobs.decode_row(item) {
                Ok((_, rec)) if rec.state == JobState::Pending => out.push(rec.id),
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "a job record cannot be read; skipped"),
            }
        }
        Ok(out)
    }

    fn runner_id(&self) -> u64 {
        self.runner
    }

    fn take_job(&self, id: u64, runner: u64, now: u64) -> Result<Option<JobRecord>, StoreError> {
        let _w = self.writing();
        let taken = self.jobs.transaction(|jobs| {
            let Some(mut rec) = TxOf::<of::jobs>::from(jobs).row(id)? else {
                return Ok(None);
            };
            let free = rec
                .lease
                .is_none_or(|l| l.holder == runner || l.until <= now);
            if rec.state != JobState::Pending || !free {
                return Ok(None);
            }
            rec.lease = Some(Lease {
                holder: runner,
                until: now.saturating_add(LEASE_MS),
            });
            tx_put_job(jobs, &rec)?;
            Ok(Some(rec))
        })?;
        Ok(taken)
    }

    fn fail_job(&self, id: u64, reason: &str, now: u64) -> Result<(), StoreError> {
        let _w = self.writing();
        FailJobTx::run(self, |t| {
            let mut rec = tx_job(&t.jobs, id)?;
            rec.state = JobState::Failed(reason.to_string());
            rec.finished_at = Some(now);
            super::JOB_STEPS
                .iter()
                .find_map(|kind| kind.failed(t, &rec, reason, now))
                .unwrap_or(Ok(()))?;
            tx_put_job(&t.jobs, &rec)
        })
    }

    fn run_job_step(&self, id: u64, now: u64) -> Result<Step, StoreError> {
        self.run_job_step_as(self.runner, id, now)
    }

    fn run_job_step_as(&self, runner: u64, id: u64, now: u64) -> Result<Step, StoreError> {
        // A job whose record is gone was finished (delivery jobs remove theirs).
        let Some(rec) = self.get_job(id)? else {
            return Ok(Step::Finished);
        };
        if rec.state != JobState::Pending {
            return Ok(Step::Finished);
        }
        // A lease of this runner's with more than half its time left is used as it is: taking
        // it again each step would be one more transaction per step for nothing.
        let held = rec
            .lease
            .is_some_and(|l| l.holder == runner && l.until.saturating_sub(now) > LEASE_MS / 2);
        let rec = if held {
            rec
        } else {
            match self.take_job(id, runner, now)? {
                Some(rec) => rec,
                None => {
                    return Ok(match self.get_job(id)? {
                        Some(r) if r.state == JobState::Pending => Step::Held,
                        _ => Step::Finished,
                    })
                }
            }
        };
        super::JOB_STEPS
            .iter()
            .find_map(|kind| kind.step(self, &rec, now))
            .unwrap_or_else(|| {
                Err(StoreError::Corrupt {
                    tree: "jobs",
                    key: id.to_string(),
                    reason: format!("no job step does {:?}", rec.kind),
                })
            })
    }

    fn run_pending_jobs(&self, now: u64) -> Result<(), StoreError> {
        for id in self.pending_jobs()? {
            while self.run_job_step(id, now)? == Step::More {}
        }
        Ok(())
    }
}

impl SledStore {
    /// Draws an id for a job to enqueue in a transaction (closures may re-run: ids are drawn
    /// outside them).
    pub(crate) fn new_job_id(&self) -> Result<u64, StoreError> {
        Ok(self.new_id()? + 1)
    }

    /// Drops every lease the jobs hold: for a backend only one process opens (sled), whose
    /// leases found at start were left by a process that has gone.
    pub(crate) fn drop_leftover_leases(&self) -> Result<(), StoreError> {
        for item in self.jobs.iter() {
            let Ok((_, mut rec)) = self.jobs.decode_row(item) else {
                continue; // `pending_jobs` reports it
            };
            if rec.lease.take().is_some() {
                self.jobs.put(rec.id, &rec)?;
            }
        }
        Ok(())
    }

    /// Ends `job` as done, `handled` more entries counted, unless another runner has it now.
    pub(crate) fn finish_job(
        &self,
        job: &JobRecord,
        handled: u64,
        now: u64,
    ) -> Result<Step, StoreError> {
        let _w = self.writing();
        self.jobs.transaction(|jobs| {
            let Some(mut rec) = tx_step_job(jobs, job)? else {
                return Ok(());
            };
            rec.done += handled;
            rec.state = JobState::Done;
            rec.finished_at = Some(now);
            tx_put_job(jobs, &rec)
        })?;
        Ok(Step::Finished)
    }
}

#[cfg(test)]
mod tests {
    #[allow(unused_imports)]
    use crate::server::store::jobs::tests::{keyed_group, learners, ACTOR};
    #[allow(unused_imports)]
    use crate::server::store::sled::test_prelude::*;

    /// Deleting a big group is one small transaction (the group, its name and key gone at
    /// once); the memberships follow in bounded steps, and a step interrupted by a restart is
    /// picked up where it was.
    #[test]
    fn a_big_group_goes_at_once_and_its_memberships_in_steps_across_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let members = STEP_BATCH * 2 + 17;
        let (g, users, job) = {
            let s = Store::open(dir.path()).unwrap();
            let users = learners(&s, members);
            let g = keyed_group(&s, "Big Group");
            let entries: Vec<(u32, String)> = (0..members)
                .map(|i| (i as u32 + 1, format!("l{i}")))
                .collect();
            assert_eq!(
                s.bulk_add_members(ACTOR, g, &entries).unwrap().added as usize,
                members
            );
            s.set_group_manager(ACTOR, g, users[0], true).unwrap();
            let job = s.delete_group(ACTOR, g).unwrap();
            // Gone from every read at once; its name and key can be used again.
            assert_eq!(s.get_group(g).unwrap(), None);
            assert_eq!(s.default_group().unwrap(), None);
            assert!(s.groups_of_user(users[5]).unwrap().is_empty());
            assert!(!s.manages_any_group(users[0]).unwrap());
            let again = keyed_group(&s, "big group");
            s.delete_group(ACTOR, again).unwrap();
            // The memberships are still there for the job; one step takes one batch.
            assert_eq!(
                s.sled().group_members.scan_prefix(id_key(g)).count(),
                members
            );
            assert_eq!(s.run_job_step(job, 2).unwrap(), Step::More);
            assert_eq!(
                s.sled().group_members.scan_prefix(id_key(g)).count(),
                members - STEP_BATCH
            );
            let rec = s.get_job(job).unwrap().unwrap();
            assert_eq!(
                (rec.state.clone(), rec.done),
                (JobState::Pending, STEP_BATCH as u64)
            );
            s.flush().unwrap();
            (g, users, job)
        };
        // A restart: the job is still pending and finishes.
        let s = reopen(dir.path()).unwrap();
        assert!(s.pending_jobs().unwrap().contains(&job));
        s.run_pending_jobs(3).unwrap();
        let rec = s.get_job(job).unwrap().unwrap();
        assert_eq!((rec.state, rec.done), (JobState::Done, members as u64));
        assert!(s
            .sled()
            .group_members
            .scan_prefix(id_key(g))
            .next()
            .is_none());
        for u in &users {
            assert!(s
                .sled()
                .user_groups
                .scan_prefix(id_key(*u))
                .next()
                .is_none());
        }
        assert!(s
            .sled()
            .group_managers
            .scan_prefix(id_key(g))
            .next()
            .is_none());
        assert!(s.pending_jobs().unwrap().is_empty());
        // A finished job run again does nothing.
        assert_eq!(s.run_job_step(job, 4).unwrap(), Step::Finished);
    }

    /// A deleted group's managers go too, however many.
    #[test]
    fn the_sweep_takes_every_manager() {
        let (_d, s) = sled_temp_store();
        let users = learners(&s, STEP_BATCH + 3);
        let g = keyed_group(&s, "Managed");
        for u in &users {
            s.set_group_manager(ACTOR, g, *u, true).unwrap();
        }
        s.delete_group(ACTOR, g).unwrap();
        s.run_pending_jobs(2).unwrap();
        assert!(s
            .sled()
            .group_managers
            .scan_prefix(id_key(g))
            .next()
            .is_none());
        for u in &users {
            assert!(s
                .sled()
                .manager_groups
                .scan_prefix(id_key(*u))
                .next()
                .is_none());
        }
    }
}
