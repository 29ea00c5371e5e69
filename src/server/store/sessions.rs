//! Login sessions as opaque records with an expiry.
//!
//! `sessions` key: BLAKE2b-256 of the session id's text form ([`session_key`]), never the id
//! itself: the id is the cookie's value, a bearer secret, and whoever can read the database
//! must not be able to sign in with what they find there. Value: the versioned envelope of
//! [`SessionRecord`]. The store does not look inside `data` (the session layer owns its format).
//! Schema 3 and older keyed the tree by the id's text; `migrations.rs` re-keys those.

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

/// The key the session with id `id` (its text form, as in the cookie) is stored under.
pub fn session_key(id: &str) -> [u8; 32] {
    codec::secret_key(id.as_bytes())
}

impl Store {
    /// Replaces a session that still exists; `false` (and nothing written) when it is gone, so
    /// a request that was under way when its session was ended cannot bring it back.
    pub fn save_session(&self, id: &str, record: &SessionRecord) -> Result<bool, StoreError> {
        let bytes = codec::encode(record)?;
        let mut found = false;
        self.sessions.update_and_fetch(session_key(id), |old| {
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
                .compare_and_swap(session_key(id), None as Option<&[u8]>, Some(bytes))?;
        Ok(swapped.is_ok())
    }

    /// The session with this id unless it has expired by `now` (Unix seconds).
    pub fn load_session(&self, id: &str, now: i64) -> Result<Option<SessionRecord>, StoreError> {
        let key = session_key(id);
        let Some(bytes) = self.sessions.get(key)? else {
            return Ok(None);
        };
        let record: SessionRecord = codec::decode(&key, &bytes)?;
        Ok((record.expires_at > now).then_some(record))
    }

    /// Removes the session with this id, if there is one.
    pub fn delete_session(&self, id: &str) -> Result<(), StoreError> {
        self.sessions.remove(session_key(id))?;
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
    use crate::server::store::tests::{sled_temp_store, temp_store};

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

    /// Whoever reads the database finds no session id: not in the `sessions` tree's keys or
    /// values, nor anywhere else in the store. The session still loads, saves and ends by its id.
    #[test]
    fn the_session_id_is_stored_nowhere_yet_the_session_loads_by_it() {
        let (_d, store) = sled_temp_store();
        let id = tower_sessions::session::Id::default().to_string();
        let rec = SessionRecord {
            expires_at: 100,
            data: br#"{"user_id":1}"#.to_vec(),
        };
        assert!(store.create_session(&id, &rec).unwrap());
        store.flush().unwrap();
        let mut entries = 0;
        for kv in store.sessions.iter() {
            let (k, v) = kv.unwrap();
            entries += 1;
            for bytes in [k.as_ref(), v.as_ref()] {
                assert!(
                    !bytes.windows(id.len()).any(|w| w == id.as_bytes()),
                    "the raw id is in the sessions tree"
                );
            }
            assert_eq!(k.as_ref(), session_key(&id), "keyed by the id's hash");
        }
        assert_eq!(entries, 1);
        for (tree, kvs) in crate::server::store::tests::dump(&store) {
            for (k, v) in kvs {
                for bytes in [k, v] {
                    assert!(
                        !bytes.windows(id.len()).any(|w| w == id.as_bytes()),
                        "the raw id is in tree {tree}"
                    );
                }
            }
        }
        assert_eq!(store.load_session(&id, 50).unwrap(), Some(rec.clone()));
        let later = SessionRecord {
            expires_at: 200,
            ..rec
        };
        assert!(store.save_session(&id, &later).unwrap());
        assert_eq!(store.load_session(&id, 150).unwrap(), Some(later));
        store.delete_session(&id).unwrap();
        assert!(store.sessions.is_empty());
    }
}
