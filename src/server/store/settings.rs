//! Administrator settings, kept in `meta` under `setting/<name>`; and the server's signing
//! secret, in a tree of its own.
//!
//! `secrets` key: `signing`; value: 32 random bytes, made once and never changed. Backups leave
//! the tree out (as they leave out sessions): a restored server makes a new secret, so what the
//! old one signed (device cookies, form-error marks) no longer counts, and a backup file cannot
//! be used to forge them.

use crate::server::store::StoreError;

/// The tree holding the server's secrets (left out of backups, see `backup.rs`).
pub const SECRETS: &str = "secrets";

/// Settings as stored; `None` means the administrator never changed it (the configured default
/// applies).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StoredSettings {
    pub self_registration: Option<bool>,
}

/// The store's operations on this area (see the contract in `store/mod.rs`).
pub trait Settings: Send + Sync {
    /// Reads the administrator settings.
    fn settings(&self) -> Result<StoredSettings, StoreError>;

    /// Turns self-registration on or off (administrators only; the caller checks).
    fn set_self_registration(&self, on: bool) -> Result<(), StoreError>;

    /// The server's signing secret (device cookies, form-error marks): the stored one, or a new
    /// random one stored and flushed first. Kept in the store so that it outlives a restart and
    /// every server on one store signs alike. Fails when nothing can be written (the caller may
    /// then sign with a secret of its own for this run).
    fn signing_secret(&self) -> Result<[u8; 32], StoreError>;
}

#[cfg(test)]
mod tests {
    #[allow(unused_imports)]
    use crate::server::store::tests::prelude::*;
    use crate::server::store::tests::temp_store;

    #[test]
    fn the_signing_secret_is_made_once_and_kept_across_a_reopening() {
        let (place, store) = temp_store();
        let first = store.signing_secret().unwrap();
        assert_eq!(
            store.signing_secret().unwrap(),
            first,
            "the same while open"
        );
        drop(store);
        // A restarted server (or, on a database, another server on it).
        let store = place.reopen();
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
