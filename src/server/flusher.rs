//! Group commit: one task flushes sled for every writer that registered before the flush began.
//!
//! `flush_async` per request stalls under concurrency on sled 0.34 and a blocking flush per
//! request wastes the disk; here writers queue a waiter, the task drains the queue, runs one
//! `flush()` on a blocking thread and answers everyone who was queued.

use tokio::sync::{mpsc, oneshot};

type Waiter = oneshot::Sender<Result<(), String>>;

#[derive(Clone)]
pub struct Flusher {
    tx: mpsc::UnboundedSender<Waiter>,
}

impl Flusher {
    /// Starts the flusher task on the current tokio runtime.
    pub fn spawn(db: sled::Db) -> Flusher {
        let (tx, mut rx) = mpsc::unbounded_channel::<Waiter>();
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut waiters = vec![first];
                while let Ok(w) = rx.try_recv() {
                    waiters.push(w);
                }
                let db = db.clone();
                let result = tokio::task::spawn_blocking(move || {
                    db.flush().map(drop).map_err(|e| e.to_string())
                })
                .await
                .unwrap_or_else(|e| Err(e.to_string()));
                for w in waiters {
                    let _ = w.send(result.clone());
                }
            }
        });
        Flusher { tx }
    }

    /// Waits until everything written before this call is on disk.
    pub async fn flush(&self) -> Result<(), String> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(tx)
            .map_err(|_| "the flusher has stopped".to_string())?;
        rx.await
            .map_err(|_| "the flusher has stopped".to_string())?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn many_writers_all_get_flushed() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::open(dir.path()).unwrap();
        let flusher = Flusher::spawn(db.clone());
        let mut tasks = Vec::new();
        for i in 0u32..64 {
            let (db, flusher) = (db.clone(), flusher.clone());
            tasks.push(tokio::spawn(async move {
                db.insert(i.to_be_bytes(), &[1]).unwrap();
                flusher.flush().await
            }));
        }
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        drop(db);
        drop(flusher);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let db = sled::open(dir.path()).unwrap();
        assert_eq!(db.len(), 64);
    }
}
