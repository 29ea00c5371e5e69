//! Administrator settings, kept in `meta` under `setting/<name>`; and the server's signing
//! secret, in a tree of its own.
//!
//! `secrets` key: `signing`; value: 32 random bytes, made once and never changed. Backups leave
//! the tree out (as they leave out sessions): a restored server makes a new secret, so what the
//! old one signed (device cookies, form-error marks) no longer counts, and a backup file cannot
//! be used to forge them.

use super::{Store, StoreError};

/// The tree holding the server's secrets (left out of backups, see `backup.rs`).
pub const SECRETS: &str = "secrets";
const SIGNING_SECRET: &[u8] = b"signing";

const SELF_REGISTRATION: &[u8] = b"setting/self_registration";

/// Settings as stored; `None` means the administrator never changed it (the configured default
/// applies).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StoredSettings {
    pub self_registration: Option<bool>,
}

impl Store {
    /// Reads the administrator settings.
    pub fn settings(&self) -> Result<StoredSettings, StoreError> {
        let self_registration = match self.meta.get(SELF_REGISTRATION)? {
            None => None,
            Some(v) if v.as_ref() == [1] => Some(true),
            Some(v) if v.as_ref() == [0] => Some(false),
            Some(_) => {
                return Err(StoreError::Corrupt {
                    tree: "meta",
                    key: "setting/self_registration".into(),
                    reason: "not a boolean".into(),
                })
            }
        };
        Ok(StoredSettings { self_registration })
    }

    /// Turns self-registration on or off (administrators only; the caller checks).
    pub fn set_self_registration(&self, on: bool) -> Result<(), StoreError> {
        let _w = self.writing();
        self.meta.insert(SELF_REGISTRATION, &[u8::from(on)])?;
        Ok(())
    }
}

impl Store {
    /// The server's signing secret (device cookies, form-error marks): the stored one, or a new
    /// random one stored and flushed first. Kept in the store so that it outlives a restart and
    /// every server on one store signs alike. Fails when nothing can be written (the caller may
    /// then sign with a secret of its own for this run).
    pub fn signing_secret(&self) -> Result<[u8; 32], StoreError> {
        let tree = self.db.open_tree(SECRETS)?;
        let corrupt = || StoreError::Corrupt {
            tree: "secrets",
            key: "signing".into(),
            reason: "not 32 bytes".into(),
        };
        if let Some(v) = tree.get(SIGNING_SECRET)? {
            return <[u8; 32]>::try_from(v.as_ref()).map_err(|_| corrupt());
        }
        let fresh: [u8; 32] = rand::random();
        let _w = self.writing();
        match tree.compare_and_swap(SIGNING_SECRET, None as Option<&[u8]>, Some(&fresh[..]))? {
            Ok(()) => {
                self.flush()?;
                Ok(fresh)
            }
            // Another opener made it first: use theirs.
            Err(cas) => cas
                .current
                .and_then(|v| <[u8; 32]>::try_from(v.as_ref()).ok())
                .ok_or_else(corrupt),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::server::store::tests::temp_store;

    #[test]
    fn the_signing_secret_is_made_once_and_kept_across_a_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let first = {
            let store = crate::server::store::Store::open(dir.path()).unwrap();
            let a = store.signing_secret().unwrap();
            assert_eq!(store.signing_secret().unwrap(), a, "the same while open");
            a
        };
        let store = crate::server::store::Store::open(dir.path()).unwrap();
        assert_eq!(
            store.signing_secret().unwrap(),
            first,
            "the same after reopening"
        );
        let (_d, other) = temp_store();
        assert_ne!(other.signing_secret().unwrap(), first, "each store its own");
    }

    #[test]
    fn self_registration_round_trip() {
        let (_d, store) = temp_store();
        assert_eq!(store.settings().unwrap().self_registration, None);
        store.set_self_registration(true).unwrap();
        assert_eq!(store.settings().unwrap().self_registration, Some(true));
        store.set_self_registration(false).unwrap();
        assert_eq!(store.settings().unwrap().self_registration, Some(false));
    }
}
