//! A new user joining the default group in the transaction that creates them (sled:
//! `groups/members.rs`, `tx_join_default`). It belongs to the group areas (memberships,
//! enrolments, audit), written on their own branch; until then a default group cannot be set
//! on PostgreSQL (`GroupEdits` is not written), so there is none to join.

use super::PgError;
use crate::server::store::{BackendError, StoreError};
use postgres::Transaction;

/// Inside the transaction creating user `user` (`login`): joins the default group, if one is
/// set, and enrols in the courses it gives (`event`: the audit event id, drawn before).
pub(crate) fn tx_join_default(
    t: &mut Transaction<'_>,
    user: u64,
    login: &str,
    event: u64,
    now: u64,
) -> Result<(), PgError> {
    let _ = (user, login, event, now);
    let default = t.query_opt(
        "SELECT id FROM groups WHERE is_default AND deleted_at_ms IS NULL",
        &[],
    )?;
    match default {
        None => Ok(()),
        // Refused rather than a user left outside the default group: never reached before the
        // group areas are written.
        Some(_) => Err(PgError::Store(StoreError::Backend(BackendError::Other(
            "joining the default group is not written for PostgreSQL yet".into(),
        )))),
    }
}
