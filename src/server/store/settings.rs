//! Administrator settings, kept in `meta` under `setting/<name>`.

use super::{Store, StoreError};

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

#[cfg(test)]
mod tests {
    use crate::server::store::tests::temp_store;

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
