//! The PostgreSQL backend's Sessions (the interface: `crate::server::store::sessions`): the
//! `sessions` table, keyed by the id's hash ([`session_key`]), shared by every server.
//!
//! Each operation is one statement on one row, so READ COMMITTED gives sled's
//! compare-and-swap semantics: `INSERT ... ON CONFLICT DO NOTHING` creates only a new id, and
//! `UPDATE ... WHERE key_hash = $1` replaces only a session that still exists.

use super::PgStore;
use crate::server::store::sessions::{session_key, SessionRecord, Sessions};
use crate::server::store::StoreError;
use postgres::IsolationLevel;

impl Sessions for PgStore {
    fn save_session(&self, id: &str, record: &SessionRecord) -> Result<bool, StoreError> {
        let key = session_key(id);
        self.tx(IsolationLevel::ReadCommitted, |t| {
            let n = t.execute(
                "UPDATE sessions SET expires_at_s = $2, data = $3 WHERE key_hash = $1",
                &[&&key[..], &record.expires_at, &record.data],
            )?;
            Ok(n > 0)
        })
    }

    fn create_session(&self, id: &str, record: &SessionRecord) -> Result<bool, StoreError> {
        let key = session_key(id);
        self.tx(IsolationLevel::ReadCommitted, |t| {
            let n = t.execute(
                "INSERT INTO sessions (key_hash, expires_at_s, data) VALUES ($1, $2, $3) \
                 ON CONFLICT (key_hash) DO NOTHING",
                &[&&key[..], &record.expires_at, &record.data],
            )?;
            Ok(n == 1)
        })
    }

    fn load_session(&self, id: &str, now: i64) -> Result<Option<SessionRecord>, StoreError> {
        let key = session_key(id);
        self.tx(IsolationLevel::ReadCommitted, |t| {
            let row = t.query_opt(
                "SELECT expires_at_s, data FROM sessions WHERE key_hash = $1 AND expires_at_s > $2",
                &[&&key[..], &now],
            )?;
            Ok(row.map(|r| SessionRecord {
                expires_at: r.get(0),
                data: r.get(1),
            }))
        })
    }

    fn delete_session(&self, id: &str) -> Result<(), StoreError> {
        let key = session_key(id);
        self.tx(IsolationLevel::ReadCommitted, |t| {
            t.execute("DELETE FROM sessions WHERE key_hash = $1", &[&&key[..]])?;
            Ok(())
        })
    }

    /// One DELETE over `sessions_expiry`. A row always reads (typed columns), so the "unreadable
    /// records go too" of the embedded backend has no counterpart here.
    fn delete_expired_sessions(&self, now: i64) -> Result<usize, StoreError> {
        self.tx(IsolationLevel::ReadCommitted, |t| {
            let n = t.execute("DELETE FROM sessions WHERE expires_at_s <= $1", &[&now])?;
            Ok(n as usize)
        })
    }
}
