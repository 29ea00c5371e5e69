//! The sled backend's Settings (the interface: `crate::server::store::settings`).

pub(crate) use crate::server::store::settings::*;

#[allow(unused_imports)]
use crate::server::store::prelude::*;

use super::{SledStore, StoreError};

const SIGNING_SECRET: &[u8] = b"signing";

const SELF_REGISTRATION: &[u8] = b"setting/self_registration";

impl Settings for SledStore {
    fn settings(&self) -> Result<StoredSettings, StoreError> {
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

    fn set_self_registration(&self, on: bool) -> Result<(), StoreError> {
        let _w = self.writing();
        self.meta.insert(SELF_REGISTRATION, &[u8::from(on)])?;
        Ok(())
    }

    fn signing_secret(&self) -> Result<[u8; 32], StoreError> {
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
