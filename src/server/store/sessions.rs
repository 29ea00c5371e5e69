//! Login sessions as opaque records with an expiry.
//!
//! `sessions` key: BLAKE2b-256 of the session id's text form ([`session_key`]), never the id
//! itself: the id is the cookie's value, a bearer secret, and whoever can read the database
//! must not be able to sign in with what they find there. Value: the versioned envelope of
//! [`SessionRecord`]. The store does not look inside `data` (the session layer owns its format).
//! Schema 3 and older keyed the tree by the id's text; `migrations.rs` re-keys those.

use crate::server::store::StoreError;

use super::codec::{self, Record};
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

/// The store's operations on this area (see the contract in `store/mod.rs`).
pub trait Sessions: Send + Sync {
    /// Replaces a session that still exists; `false` (and nothing written) when it is gone, so
    /// a request that was under way when its session was ended cannot bring it back.
    fn save_session(&self, id: &str, record: &SessionRecord) -> Result<bool, StoreError>;

    /// Stores a session only if no session has this id yet; false when the id was taken.
    fn create_session(&self, id: &str, record: &SessionRecord) -> Result<bool, StoreError>;

    /// The session with this id unless it has expired by `now` (Unix seconds).
    fn load_session(&self, id: &str, now: i64) -> Result<Option<SessionRecord>, StoreError>;

    /// Removes the session with this id, if there is one.
    fn delete_session(&self, id: &str) -> Result<(), StoreError>;

    /// Removes every session expired by `now`; returns how many. Unreadable records go too.
    fn delete_expired_sessions(&self, now: i64) -> Result<usize, StoreError>;
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[allow(unused_imports)]
    use crate::server::store::tests::prelude::*;

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
