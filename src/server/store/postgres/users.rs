//! DEVELOPMENT SCAFFOLDING (branch only): the two functions of the users area that signing up
//! with a group key calls, until that area (written on its own branch) is merged and replaces
//! this file. Creating an account here is refused as a backend error, never half done.

use super::PgError;
use crate::server::store::users::{PasswordHash, StoredRole, UserFields, UserRecord};
use crate::server::store::{BackendError, StoreError};

/// Stand-in for the users area's `tx_create_user`: refuses.
pub(crate) fn tx_create_user(
    _t: &mut postgres::Transaction<'_>,
    _u: &UserRecord,
    _hash: &PasswordHash,
    _first_admin: bool,
    _event: u64,
    _now: u64,
) -> Result<(), PgError> {
    Err(PgError::Store(StoreError::Backend(BackendError::Other(
        "creating users is not written for PostgreSQL yet".into(),
    ))))
}

/// A new user's record (as sled's `new_user` makes it).
pub(crate) fn new_record(id: u64, fields: &UserFields, first_admin: bool, now: u64) -> UserRecord {
    UserRecord {
        id,
        login: fields.login.clone(),
        email: fields.email.clone(),
        display_name: fields.display_name.clone(),
        role: if first_admin {
            StoredRole::Admin
        } else {
            fields.role.into()
        },
        active: true,
        created_at: now,
        auth_epoch: 0,
    }
}
