//! Password hashing on a fixed pool of worker threads, each with one reusable argon2 buffer.
//!
//! Why a pool and not `spawn_blocking`: argon2id with the OWASP parameters needs a 19 MiB
//! working area per hash. The argon2 crate allocates it afresh for every hash, 64-byte aligned.
//! glibc serves the first such block with `mmap`, and freeing it raises its dynamic mmap
//! threshold to 19 MiB; from then on every block is carved from the calling thread's arena, and
//! an aligned request (`posix_memalign` asks for the block plus padding) does not fit the hole a
//! freed block of the same size leaves, so each hash grows the arena by another 19 MiB that is
//! never used again (measured: ten hashes in a row on one thread left 173 MB resident; the same
//! blocks unaligned left 20 MB). On tokio's blocking threads, one arena per thread, memory grew
//! without bound with every login.
//!
//! Here each worker allocates its buffer at its first job and hashes into it for as long as it
//! is busy, so the memory hashing costs is at most `workers × 19 MiB`, whatever the traffic. A
//! worker idle for [`IDLE_RELEASE`] frees its buffer and asks the allocator to return free pages
//! to the system at once (the `tessera` binary's jemalloc would otherwise hold them for its
//! decay time, about 10 s; glibc's malloc, in the library's tests, trims its arenas with
//! `malloc_trim`, which also returns free pages inside an arena). A quiet server holds none of
//! it, and a new buffer is made at most once per busy spell, not once per hash. Requests reach
//! the workers through a bounded queue; when it is full the caller gets [`HashError::Busy`] at
//! once (served as 503 with `Retry-After`) instead of the server queueing, or allocating,
//! without limit.

use super::store::users::PasswordHash;
use argon2::password_hash::{
    self, rand_core::OsRng, Output, ParamsString, PasswordHash as Phc, SaltString,
};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

/// argon2id memory in KiB (OWASP: 19 MiB), passes and lanes.
pub const M_COST: u32 = 19 * 1024;
pub const T_COST: u32 = 2;
pub const P_COST: u32 = 1;

/// What a caller is told when hashing cannot be done.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HashError {
    /// Every worker is busy and the queue is full: try again shortly.
    #[error("the password hashing queue is full")]
    Busy,
    /// The pool has stopped, or argon2 refused its input (never for hashes this server made).
    #[error("password hashing failed: {0}")]
    Failed(String),
}

enum Task {
    Hash(String),
    Verify(String, PasswordHash),
    /// The work of a verification, for accounts that do not exist (no enumeration by timing).
    VerifyNothing(String),
}

enum Outcome {
    Hashed(PasswordHash),
    Verified(bool),
}

struct Job {
    task: Task,
    reply: oneshot::Sender<Result<Outcome, HashError>>,
}

/// Handle to the hashing workers; cheap to clone. The workers stop when the last handle is gone.
#[derive(Clone)]
pub struct HashPool {
    queue: SyncSender<Job>,
    workers: usize,
    capacity: usize,
    /// Hashes computed since start (hashes and verifications alike).
    done: Arc<std::sync::atomic::AtomicU64>,
    /// Workers holding their buffer now.
    held: Arc<std::sync::atomic::AtomicUsize>,
}

impl std::fmt::Debug for HashPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HashPool")
            .field("workers", &self.workers)
            .field("capacity", &self.capacity)
            .finish()
    }
}

/// How long a worker waits without a job before it gives its buffer back.
pub const IDLE_RELEASE: std::time::Duration = std::time::Duration::from_secs(30);

/// The worker count that suits this machine: one per core.
pub fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

impl HashPool {
    /// Starts `workers` threads (at least one) fed by a queue holding at most `capacity` waiting
    /// requests (at least one). Each worker allocates its 19 MiB buffer at its first job.
    pub fn start(workers: usize, capacity: usize) -> HashPool {
        Self::start_releasing_after(workers, capacity, IDLE_RELEASE)
    }

    /// [`HashPool::start`], with idle workers giving their buffers back after `idle`.
    pub fn start_releasing_after(
        workers: usize,
        capacity: usize,
        idle: std::time::Duration,
    ) -> HashPool {
        let workers = workers.max(1);
        let capacity = capacity.max(1);
        let (queue, jobs) = sync_channel::<Job>(capacity);
        let jobs = Arc::new(Mutex::new(jobs));
        let done = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let held = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        for n in 0..workers {
            let jobs = Arc::clone(&jobs);
            let counter = Arc::clone(&done);
            let held = Arc::clone(&held);
            let spawned = std::thread::Builder::new()
                .name(format!("tessera-hash-{n}"))
                .spawn(move || work(&jobs, &counter, &held, idle));
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start a password hashing worker");
            }
        }
        HashPool {
            queue,
            workers,
            capacity,
            done,
            held,
        }
    }

    /// Workers holding their 19 MiB buffer now.
    pub fn buffers_held(&self) -> usize {
        self.held.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Hashes computed since start.
    pub fn hashes_done(&self) -> u64 {
        self.done.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn workers(&self) -> usize {
        self.workers
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    async fn submit(&self, task: Task) -> Result<Outcome, HashError> {
        let (reply, answer) = oneshot::channel();
        match self.queue.try_send(Job { task, reply }) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => return Err(HashError::Busy),
            Err(TrySendError::Disconnected(_)) => {
                return Err(HashError::Failed("the hashing workers have stopped".into()))
            }
        }
        answer
            .await
            .map_err(|_| HashError::Failed("a hashing worker stopped mid-job".into()))?
    }

    /// Hashes a new password with a fresh random salt (argon2id, OWASP parameters).
    pub async fn hash(&self, password: String) -> Result<PasswordHash, HashError> {
        match self.submit(Task::Hash(password)).await? {
            Outcome::Hashed(h) => Ok(h),
            Outcome::Verified(_) => Err(HashError::Failed("unexpected answer".into())),
        }
    }

    /// Checks a password against a stored hash. A hash this server cannot read counts as a
    /// mismatch (and is logged).
    pub async fn verify(&self, password: String, hash: PasswordHash) -> Result<bool, HashError> {
        match self.submit(Task::Verify(password, hash)).await? {
            Outcome::Verified(ok) => Ok(ok),
            Outcome::Hashed(_) => Err(HashError::Failed("unexpected answer".into())),
        }
    }

    /// Does the work of a verification and answers `false`: for logins to accounts that do not
    /// exist, so they take as long to refuse as wrong passwords.
    pub async fn verify_nothing(&self, password: String) -> Result<bool, HashError> {
        self.submit(Task::VerifyNothing(password)).await?;
        Ok(false)
    }
}

/// One worker: takes jobs until every handle is dropped. Its buffer lives while it is busy and
/// is given back after `idle` without a job.
fn work(
    jobs: &Mutex<Receiver<Job>>,
    done: &std::sync::atomic::AtomicU64,
    held: &std::sync::atomic::AtomicUsize,
    idle: std::time::Duration,
) {
    use std::sync::atomic::Ordering::Relaxed;
    let mut memory: Vec<Block> = Vec::new();
    loop {
        let job = {
            let queue = jobs.lock().unwrap_or_else(|p| p.into_inner());
            queue.recv_timeout(idle)
        };
        let job = match job {
            Ok(job) => job,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                if !memory.is_empty() {
                    memory = Vec::new();
                    held.fetch_sub(1, Relaxed);
                    give_back_free_memory();
                }
                continue;
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return,
        };
        if memory.is_empty() {
            memory = vec![Block::new(); M_COST as usize];
            held.fetch_add(1, Relaxed);
        }
        let outcome = run(job.task, &mut memory);
        done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        // The caller may have gone away (request cancelled); nothing to do then.
        let _ = job.reply.send(outcome);
    }
}

/// Asks the allocator to return free memory to the system now: jemalloc (the `tessera`
/// binary's allocator) purges the unused pages of every arena, which its background thread
/// would otherwise do only after its decay time; glibc's malloc (the library's tests) trims
/// its arenas.
fn give_back_free_memory() {
    // SAFETY: `arena.4096.purge` (4096 is MALLCTL_ARENAS_ALL) takes no value and returns none,
    // so every pointer is null and the length 0; it only releases pages no allocation uses.
    // The result is ignored: a purge that fails leaves the pages to the background thread.
    unsafe {
        tikv_jemalloc_sys::mallctl(
            c"arena.4096.purge".as_ptr(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            0,
        );
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim takes no pointer and only releases memory no allocation uses.
    unsafe {
        libc::malloc_trim(0);
    }
}

fn params() -> Params {
    // The constants are valid argon2 parameters; a unit test builds them.
    Params::new(M_COST, T_COST, P_COST, None).unwrap_or_default()
}

fn run(task: Task, memory: &mut [Block]) -> Result<Outcome, HashError> {
    match task {
        Task::Hash(password) => hash_into(password.as_bytes(), memory).map(Outcome::Hashed),
        Task::Verify(password, stored) => Ok(Outcome::Verified(verify_into(
            password.as_bytes(),
            &stored,
            memory,
        ))),
        Task::VerifyNothing(password) => {
            hash_into(password.as_bytes(), memory)?;
            Ok(Outcome::Verified(false))
        }
    }
}

fn failed(e: impl std::fmt::Display) -> HashError {
    HashError::Failed(e.to_string())
}

/// Hashes with a new salt into the worker's memory and returns the PHC string.
fn hash_into(password: &[u8], memory: &mut [Block]) -> Result<PasswordHash, HashError> {
    let params = params();
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let salt = SaltString::generate(&mut OsRng);
    let mut salt_bytes = [0u8; 64];
    let salt_raw = salt.decode_b64(&mut salt_bytes).map_err(failed)?;
    let output = Output::init_with(Params::DEFAULT_OUTPUT_LEN, |out| {
        argon
            .hash_password_into_with_memory(password, salt_raw, out, &mut *memory)
            .map_err(|_| password_hash::Error::Crypto)
    })
    .map_err(failed)?;
    let phc = Phc {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(failed)?,
        salt: Some(salt.as_salt()),
        hash: Some(output),
    };
    Ok(PasswordHash::from_phc(phc.to_string()))
}

/// Recomputes the stored hash's output with its own parameters, in the worker's memory, and
/// compares in constant time. Hashes needing more memory than the worker owns are refused.
fn verify_into(password: &[u8], stored: &PasswordHash, memory: &mut [Block]) -> bool {
    let checked = (|| {
        let phc = Phc::new(stored.as_phc()).map_err(failed)?;
        let algorithm = Algorithm::try_from(phc.algorithm).map_err(failed)?;
        let version = phc
            .version
            .map(Version::try_from)
            .transpose()
            .map_err(failed)?
            .unwrap_or_default();
        let params = Params::try_from(&phc).map_err(failed)?;
        if params.block_count() > memory.len() {
            return Err(HashError::Failed(format!(
                "the stored hash needs {} KiB, more than the {} KiB a worker has",
                params.m_cost(),
                memory.len()
            )));
        }
        let (Some(salt), Some(expected)) = (phc.salt, phc.hash) else {
            return Err(HashError::Failed(
                "the stored hash has no salt or output".into(),
            ));
        };
        let mut salt_bytes = [0u8; 64];
        let salt_raw = salt.decode_b64(&mut salt_bytes).map_err(failed)?;
        let argon = Argon2::new(algorithm, version, params);
        let actual = Output::init_with(expected.len(), |out| {
            argon
                .hash_password_into_with_memory(password, salt_raw, out, &mut *memory)
                .map_err(|_| password_hash::Error::Crypto)
        })
        .map_err(failed)?;
        // `Output`'s equality is constant-time.
        Ok(actual == expected)
    })();
    checked.unwrap_or_else(|e| {
        tracing::error!(error = %e, "stored password hash cannot be checked");
        false
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::{PasswordHasher, PasswordVerifier};

    #[test]
    fn the_parameters_are_owasps() {
        let p = Params::new(M_COST, T_COST, P_COST, None).unwrap();
        assert_eq!((p.m_cost(), p.t_cost(), p.p_cost()), (19 * 1024, 2, 1));
    }

    #[tokio::test]
    async fn hashes_verify_here_and_with_the_argon2_crate_both_ways() {
        let pool = HashPool::start(2, 8);
        let ours = pool.hash("correct horse".into()).await.unwrap();
        assert!(ours.as_phc().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(pool
            .verify("correct horse".into(), ours.clone())
            .await
            .unwrap());
        assert!(!pool
            .verify("wrong horse".into(), ours.clone())
            .await
            .unwrap());
        // What the crate's own verifier says of our hash, and we of its hash.
        let parsed = Phc::new(ours.as_phc()).unwrap();
        assert!(Argon2::default()
            .verify_password(b"correct horse", &parsed)
            .is_ok());
        let salt = SaltString::generate(&mut OsRng);
        let theirs = Argon2::new(Algorithm::Argon2id, Version::V0x13, params())
            .hash_password(b"battery staple", &salt)
            .unwrap()
            .to_string();
        let theirs = PasswordHash::from_phc(theirs);
        assert!(pool
            .verify("battery staple".into(), theirs.clone())
            .await
            .unwrap());
        assert!(!pool.verify("battery".into(), theirs).await.unwrap());
        assert!(!pool.verify_nothing("anything".into()).await.unwrap());
    }

    #[tokio::test]
    async fn unreadable_or_oversized_hashes_are_mismatches() {
        let pool = HashPool::start(1, 4);
        for bad in [
            String::new(),
            "not a hash".to_string(),
            "$argon2id$v=19$m=65536,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA"
                .to_string(),
        ] {
            let verified = pool.verify("pw".into(), PasswordHash::from_phc(bad)).await;
            assert_eq!(verified, Ok(false));
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn more_concurrent_hashes_than_workers_all_complete_and_verify() {
        let pool = HashPool::start(2, 32);
        let tasks: Vec<_> = (0..12)
            .map(|i| {
                let pool = pool.clone();
                tokio::spawn(async move {
                    let password = format!("password number {i}");
                    let hash = pool.hash(password.clone()).await.unwrap();
                    (password, hash)
                })
            })
            .collect();
        let mut seen = std::collections::HashSet::new();
        for t in tasks {
            let (password, hash) = t.await.unwrap();
            assert!(seen.insert(hash.as_phc().to_string()), "salts are fresh");
            assert!(pool.verify(password, hash).await.unwrap());
        }
        assert_eq!(seen.len(), 12);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_queue_answers_busy_instead_of_queueing_more() {
        // One worker and room for two waiting jobs: of 8 submitted at once, at most 3 are taken
        // (one running, two queued) and the rest are refused at once.
        let pool = HashPool::start(1, 2);
        let answers = futures_join_all(
            (0..8)
                .map(|i| {
                    let pool = pool.clone();
                    async move { pool.hash(format!("pw {i}")).await }
                })
                .collect(),
        )
        .await;
        let busy = answers
            .iter()
            .filter(|a| **a == Err(HashError::Busy))
            .count();
        let done = answers.iter().filter(|a| a.is_ok()).count();
        assert_eq!(busy + done, 8);
        assert!(busy >= 5, "busy {busy}");
        assert!(done >= 1);
        // Once the queue drains the pool takes work again.
        assert!(pool.hash("later".into()).await.is_ok());
    }

    /// Submits every future before awaiting any (all reach `try_send` in the same instant).
    async fn futures_join_all<F>(futures: Vec<F>) -> Vec<F::Output>
    where
        F: std::future::Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let mut futures: Vec<_> = futures.into_iter().map(Box::pin).collect();
        let mut out: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
        std::future::poll_fn(|cx| {
            let mut pending = false;
            for (f, slot) in futures.iter_mut().zip(out.iter_mut()) {
                if slot.is_none() {
                    match f.as_mut().poll(cx) {
                        std::task::Poll::Ready(v) => *slot = Some(v),
                        std::task::Poll::Pending => pending = true,
                    }
                }
            }
            if pending {
                std::task::Poll::Pending
            } else {
                std::task::Poll::Ready(())
            }
        })
        .await;
        out.into_iter().flatten().collect()
    }

    #[tokio::test]
    async fn idle_workers_give_their_buffers_back_and_busy_ones_make_them_again() {
        let pool = HashPool::start_releasing_after(2, 8, std::time::Duration::from_millis(200));
        assert_eq!(pool.buffers_held(), 0, "no buffer before the first job");
        let (a, b) = tokio::join!(
            pool.hash("first-password".into()),
            pool.hash("second-password".into())
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        assert!(pool.buffers_held() >= 1);
        // Idle: every worker lets go (within a few idle periods: they take turns waiting).
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while pool.buffers_held() > 0 {
            assert!(std::time::Instant::now() < deadline, "buffers kept");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        // Busy again: a buffer is made and the stored hashes still verify.
        assert!(pool.verify("first-password".into(), a).await.unwrap());
        assert!(!pool.verify("first-password".into(), b).await.unwrap());
        assert!(pool.buffers_held() >= 1);
    }
}
