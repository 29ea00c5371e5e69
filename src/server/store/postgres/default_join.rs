//! A new user joining the default group in the transaction that creates them (sled:
//! `groups/members.rs`, `tx_join_default`): the group areas' [`join_default`], for the users
//! area's account creation.

use super::groups::members::join_default;
use super::PgError;
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
    join_default(t, user, login, event, now).map(|_| ())
}
