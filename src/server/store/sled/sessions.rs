//! The sled backend's Sessions (the interface: `crate::server::store::sessions`).

pub(crate) use crate::server::store::sessions::*;

#[allow(unused_imports)]
use crate::server::store::prelude::*;

use super::{SledStore, StoreError};

impl Sessions for SledStore {
    fn save_session(&self, id: &str, record: &SessionRecord) -> Result<bool, StoreError> {
        let bytes = self.sessions.encode(record)?;
        let mut found = false;
        self.sessions.update_and_fetch(session_key(id), |old| {
            found = old.is_some();
            old.map(|_| bytes.clone())
        })?;
        Ok(found)
    }

    fn create_session(&self, id: &str, record: &SessionRecord) -> Result<bool, StoreError> {
        let bytes = self.sessions.encode(record)?;
        let swapped =
            self.sessions
                .compare_and_swap(session_key(id), None as Option<&[u8]>, Some(bytes))?;
        Ok(swapped.is_ok())
    }

    fn load_session(&self, id: &str, now: i64) -> Result<Option<SessionRecord>, StoreError> {
        let record = self.sessions.row(&session_key(id))?;
        Ok(record.filter(|r| r.expires_at > now))
    }

    fn delete_session(&self, id: &str) -> Result<(), StoreError> {
        self.sessions.remove(session_key(id))?;
        Ok(())
    }

    fn delete_expired_sessions(&self, now: i64) -> Result<usize, StoreError> {
        let mut removed = 0;
        for item in self.sessions.iter() {
            let (k, v) = item?;
            let expired = (self.sessions.decode(&k, &v))
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
    #[allow(unused_imports)]
    use crate::server::store::sled::test_prelude::*;
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
        for kv in store.sled().sessions.iter() {
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
        assert!(store.sled().sessions.is_empty());
    }
}
