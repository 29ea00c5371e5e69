//! The audit trail on PostgreSQL (table `audit`): what writes it. Every group change writes
//! its event in its own transaction with [`record`], as sled's `tx_audit` does.

use super::super::groups::{Actor, AuditKind, AuditRecord};
use crate::model::group::AuditAction;

/// The `audit.action` text of a kind (the schema's CHECK lists them).
pub(crate) fn kind_name(kind: AuditKind) -> &'static str {
    match kind {
        AuditKind::GroupCreated => "group_created",
        AuditKind::GroupChanged => "group_changed",
        AuditKind::GroupDeleted => "group_deleted",
        AuditKind::MembersAdded => "members_added",
        AuditKind::MembersRemoved => "members_removed",
        AuditKind::DefaultChanged => "default_changed",
        AuditKind::CoursesChanged => "courses_changed",
        AuditKind::ManagersChanged => "managers_changed",
        AuditKind::KeyRedeemed => "key_redeemed",
        AuditKind::KeyRefused => "key_refused",
        AuditKind::MassEnrolment => "mass_enrolment",
        AuditKind::MessageSent => "message_sent",
    }
}

/// The kind an `audit.action` text names, if any.
pub(crate) fn kind_of(name: &str) -> Option<AuditKind> {
    AuditKind::ALL.into_iter().find(|k| kind_name(*k) == name)
}

/// Appends event `event` (an id drawn before the transaction: a transaction may run again) to
/// group `group`'s trail, in the caller's transaction.
pub(crate) fn record(
    t: &mut postgres::Transaction<'_>,
    group: u64,
    event: u64,
    actor: Actor,
    action: AuditAction,
    detail: String,
) -> Result<(), postgres::Error> {
    t.execute(
        "INSERT INTO audit (event_id, group_id, at_ms, actor, action, detail) \
         VALUES ($1, $2, $3, $4, $5, $6)",
        &[
            &(event as i64),
            &(group as i64),
            &(actor.now as i64),
            &(actor.user as i64),
            &kind_name(action.into()),
            &detail,
        ],
    )?;
    Ok(())
}

/// An audit row (`at_ms, actor, action, detail` from column `first` on) as its record.
pub(crate) fn record_of(
    row: &postgres::Row,
    first: usize,
) -> Result<AuditRecord, super::super::StoreError> {
    let action: &str = row.get(first + 2);
    let kind = kind_of(action).ok_or_else(|| super::super::StoreError::Corrupt {
        tree: "audit",
        key: String::new(),
        reason: format!("unknown action {action}"),
    })?;
    Ok(AuditRecord {
        at: row.get::<_, i64>(first) as u64,
        actor: row.get::<_, i64>(first + 1) as u64,
        action: kind,
        detail: row.get(first + 3),
    })
}
