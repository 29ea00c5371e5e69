//! Group commit: one task flushes the store for every writer that registered before the flush
//! began.
//!
//! An asynchronous flush per request stalls under concurrency on the embedded store, and a
//! blocking flush per request wastes the disk (TOOLCHAIN.md and BENCHMARKS.md have the
//! figures); here writers queue a waiter, the task drains the queue, runs one `flush()` on a
//! blocking thread and answers everyone who was queued.

use super::store::{BackendError, Store, StoreError};
use tokio::sync::{mpsc, oneshot};

/// What a flusher flushes: the store (a bench flushes a bare database).
pub trait Flushable: Clone + Send + 'static {
    /// Makes everything written so far durable (blocking).
    fn flush_now(&self) -> Result<(), BackendError>;
    /// Whether `other` is a handle to the same database.
    fn same_as(&self, other: &Self) -> bool;
}

impl Flushable for Store {
    fn flush_now(&self) -> Result<(), BackendError> {
        self.flush()
    }

    fn same_as(&self, other: &Self) -> bool {
        Store::same_as(self, other)
    }
}

/// A writer waiting for the store it wrote to to be flushed.
struct Waiter<T> {
    store: T,
    answer: oneshot::Sender<Result<(), StoreError>>,
}

pub struct Flusher<T: Flushable = Store> {
    tx: mpsc::UnboundedSender<Waiter<T>>,
}

impl<T: Flushable> Clone for Flusher<T> {
    fn clone(&self) -> Self {
        Flusher {
            tx: self.tx.clone(),
        }
    }
}

fn stopped() -> StoreError {
    StoreError::Backend(BackendError::Other("the flusher has stopped".into()))
}

impl<T: Flushable> Flusher<T> {
    /// Starts the flusher task on the current tokio runtime.
    pub fn spawn() -> Flusher<T> {
        let (tx, mut rx) = mpsc::unbounded_channel::<Waiter<T>>();
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut waiters = vec![first];
                while let Ok(w) = rx.try_recv() {
                    waiters.push(w);
                }
                // Almost always one store; two only around a reopening (`store_cell.rs`), and
                // each writer is answered for the store it wrote to.
                let mut stores: Vec<T> = Vec::new();
                for w in &waiters {
                    if !stores.iter().any(|s| s.same_as(&w.store)) {
                        stores.push(w.store.clone());
                    }
                }
                let results = tokio::task::spawn_blocking(move || {
                    stores
                        .into_iter()
                        .map(|s| {
                            let r = s.flush_now();
                            (s, r)
                        })
                        .collect::<Vec<_>>()
                })
                .await;
                for w in waiters {
                    let result = match &results {
                        Ok(results) => results
                            .iter()
                            .find(|(s, _)| s.same_as(&w.store))
                            .map_or_else(
                                || Err(stopped()),
                                |(_, r)| r.clone().map_err(StoreError::Backend),
                            ),
                        Err(e) => Err(StoreError::Backend(BackendError::Other(e.to_string()))),
                    };
                    let _ = w.answer.send(result);
                }
            }
        });
        Flusher { tx }
    }

    /// Waits until everything written to `store` before this call is on disk.
    pub async fn flush(&self, store: &T) -> Result<(), StoreError> {
        let (answer, rx) = oneshot::channel();
        self.tx
            .send(Waiter {
                store: store.clone(),
                answer,
            })
            .map_err(|_| stopped())?;
        rx.await.map_err(|_| stopped())?
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::store::branches::BranchFields;

    #[tokio::test]
    async fn many_writers_all_get_flushed() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let flusher = Flusher::spawn();
        let mut tasks = Vec::new();
        for i in 0u32..64 {
            let (store, flusher) = (store.clone(), flusher.clone());
            tasks.push(tokio::spawn(async move {
                let branch = BranchFields {
                    name: format!("Branch {i}"),
                    description: String::new(),
                    parent: None,
                };
                store.create_branch(&branch, 0).unwrap();
                flusher.flush(&store).await
            }));
        }
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        drop(store);
        drop(flusher);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let store = crate::server::store::tests::reopen(dir.path()).unwrap();
        assert_eq!(store.branch_count().unwrap(), 64);
    }
}
