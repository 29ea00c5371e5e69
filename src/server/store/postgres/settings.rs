//! The PostgreSQL backend's Settings (the interface: `crate::server::store::settings`): the one
//! row of `settings`, and the signing secret in `secrets`.

use super::{PgError, PgStore};
use crate::server::store::settings::{Settings, StoredSettings};
use crate::server::store::StoreError;
use postgres::IsolationLevel;

/// The corrupt-secret error, as sled reports it.
fn corrupt() -> StoreError {
    StoreError::Corrupt {
        tree: "secrets",
        key: "signing".into(),
        reason: "not 32 bytes".into(),
    }
}

impl Settings for PgStore {
    fn settings(&self) -> Result<StoredSettings, StoreError> {
        self.tx(IsolationLevel::ReadCommitted, |t| {
            let row = t.query_opt("SELECT self_registration FROM settings", &[])?;
            Ok(StoredSettings {
                self_registration: row.and_then(|r| r.get(0)),
            })
        })
    }

    /// One row, one statement: READ COMMITTED (the last writer wins, as on sled).
    fn set_self_registration(&self, on: bool) -> Result<(), StoreError> {
        self.tx(IsolationLevel::ReadCommitted, |t| {
            t.execute(
                "INSERT INTO settings (only_row, self_registration) VALUES (true, $1) \
                 ON CONFLICT (only_row) DO UPDATE SET self_registration = EXCLUDED.self_registration",
                &[&on],
            )?;
            Ok(())
        })
    }

    /// Made once by whichever server inserts first (`ON CONFLICT DO NOTHING`), then read back:
    /// every server on the database signs with the same secret. A commit is durable, so there
    /// is nothing to flush.
    fn signing_secret(&self) -> Result<[u8; 32], StoreError> {
        let fresh: [u8; 32] = rand::random();
        self.tx(IsolationLevel::ReadCommitted, |t| {
            t.execute(
                "INSERT INTO secrets (name, value) VALUES ('signing', $1) \
                 ON CONFLICT (name) DO NOTHING",
                &[&&fresh[..]],
            )?;
            let row = t.query_one("SELECT value FROM secrets WHERE name = 'signing'", &[])?;
            let value: Vec<u8> = row.get(0);
            <[u8; 32]>::try_from(value.as_slice()).map_err(|_| PgError::Store(corrupt()))
        })
    }
}
