//! Login sessions as opaque records with an expiry.
//!
//! `sessions` key: the session id as its text form; value: the versioned envelope of
//! [`SessionRecord`]. The store does not look inside `data` (the session layer owns its format).

use super::codec::{self, Record};
use super::{Store, StoreError};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    /// Unix seconds after which the session is gone.
    pub expires_at: i64,
    pub data: Vec<u8>,
}

impl Record for SessionRecord {
    const TREE: &'static str = "sessions";
    const VERSION: u8 = 1;
}

impl Store {
    /// Replaces a session that still exists; `false` (and nothing written) when it is gone, so
    /// a request that was under way when its session was ended cannot bring it back.
    pub fn save_session(&self, id: &str, record: &SessionRecord) -> Result<bool, StoreError> {
        let bytes = codec::encode(record)?;
        let mut found = false;
        self.sessions.update_and_fetch(id.as_bytes(), |old| {
            found = old.is_some();
            old.map(|_| bytes.clone())
        })?;
        Ok(found)
    }

    /// Stores a session only if no session has this id yet; false when the id was taken.
    pub fn create_session(&self, id: &str, record: &SessionRecord) -> Result<bool, StoreError> {
        let bytes = codec::encode(record)?;
        let swapped =
            self.sessions
                .compare_and_swap(id.as_bytes(), None as Option<&[u8]>, Some(bytes))?;
        Ok(swapped.is_ok())
    }

    /// The session with this id unless it has expired by `now` (Unix seconds).
    pub fn load_session(&self, id: &str, now: i64) -> Result<Option<SessionRecord>, StoreError> {
        let Some(bytes) = self.sessions.get(id.as_bytes())? else {
            return Ok(None);
        };
        let record: SessionRecord = codec::decode(id.as_bytes(), &bytes)?;
        Ok((record.expires_at > now).then_some(record))
    }

    pub fn delete_session(&self, id: &str) -> Result<(), StoreError> {
        self.sessions.remove(id.as_bytes())?;
        Ok(())
    }

    /// Removes every session expired by `now`; returns how many. Unreadable records go too.
    pub fn delete_expired_sessions(&self, now: i64) -> Result<usize, StoreError> {
        let mut removed = 0;
        for item in self.sessions.iter() {
            let (k, v) = item?;
            let expired = codec::decode::<SessionRecord>(&k, &v)
                .map(|r| r.expires_at <= now)
                .unwrap_or(true);
            if expired {
                self.sessions.remove(&k)?;
                removed += 1;
            }
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::store::tests::temp_store;

    #[test]
    fn sessions_save_load_expire_delete() {
        let (_d, store) = temp_store();
        let rec = SessionRecord {
            expires_at: 100,
            data: b"{}".to_vec(),
        };
        assert!(store.create_session("abc", &rec).unwrap());
        assert!(
            !store.create_session("abc", &rec).unwrap(),
            "ids are never reused"
        );
        assert_eq!(store.load_session("abc", 50).unwrap(), Some(rec.clone()));
        assert_eq!(store.load_session("abc", 100).unwrap(), None, "expired");
        let def = SessionRecord {
            expires_at: 500,
            data: vec![],
        };
        assert!(
            !store.save_session("def", &def).unwrap(),
            "saving never creates a session"
        );
        assert_eq!(store.load_session("def", 0).unwrap(), None);
        assert!(store.create_session("def", &def).unwrap());
        assert!(store.save_session("def", &def).unwrap());
        assert_eq!(store.delete_expired_sessions(200).unwrap(), 1);
        assert_eq!(
            store
                .load_session("def", 200)
                .unwrap()
                .map(|r| r.expires_at),
            Some(500)
        );
        store.delete_session("def").unwrap();
        assert_eq!(store.load_session("def", 0).unwrap(), None);
    }
}
