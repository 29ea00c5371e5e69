//! The portable backup file's contents, record by record: what a backend that keeps its data in
//! its own shape (PostgreSQL's tables, `postgres/backup.rs`) reads out of a backup it restores
//! and hands over to make one, without knowing how the file is laid out.
//!
//! An archive holds the records of every kind ([`ArchiveRead`] to read one, [`ArchiveWrite`] to
//! fill a new one), in the store's record types, with the ids of a record's key decoded (a
//! membership's `(group, user)`, not its 16-byte key), plus the few values that are kept beside
//! the records: the settings, the last backup, a group's mass enrolment jobs, a message's
//! counters and the schema version. What can be derived from the records (indexes, totals, the
//! default group pointer) is not part of it: a writer works it out when it is finished, a
//! reader leaves it to the backend that restores.
//!
//! Which backend's files these are is chosen in `store/mod.rs` ([`super::open_archive`],
//! [`super::new_archive`]): one format for every backend, so a school moves between them with
//! a backup and a restore, and a backup of any age restores on any.
//!
//! Pairs of ids are given in the order of the record's key, named beside each method.

use super::backup::{BackupError, BackupSummary, LastBackupRecord};
use super::branches::BranchRecord;
use super::courses::CourseRecord;
use super::curricula::CurriculumRecord;
use super::enrolments::{EnrolmentRecord, ProgressRecord};
use super::groups::keys::RedemptionRecord;
use super::groups::{AuditRecord, BulkResultRecord, GroupLinksRecord, GroupRecord, MemberRecord};
use super::imports::{ImportRecord, ImportRowRecord, TokenRecord};
use super::jobs::JobRecord;
use super::messages::{BodyRecord, InboxRecord, MessageRecord, OutboxRecord};
use super::users::UserRecord;
use super::StoreError;
use std::io::Write;

/// The records of one kind, in the archive's order, each read (and decoded) as it comes.
pub type Items<'a, T> = Box<dyn Iterator<Item = Result<T, StoreError>> + 'a>;

/// Two ids of a record's key, in the key's order.
pub type Pair = (u64, u64);

/// A group's mass enrolment jobs: the one running, and the last one started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MassJobs {
    pub running: Option<u64>,
    pub last: Option<u64>,
}

/// A message's own counts: history no other record keeps (how many of its e-mails were sent
/// or failed), so they travel with it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MessageCounts {
    pub delivered: u64,
    pub mail_queued: u64,
    pub mail_sent: u64,
    pub mail_failed: u64,
}

/// An outbox entry's key: when it is due, the message, the member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboxEntry {
    pub due: u64,
    pub message: u64,
    pub user: u64,
}

/// A message with its id, counts and body (a message whose body was swept has none).
pub type ArchivedMessage = (u64, MessageRecord, MessageCounts, Option<BodyRecord>);

/// A backup opened for reading, after the checks and migrations of a restore: every record is
/// in this build's schema. A damaged record is a `Corrupt` error with its key.
pub trait ArchiveRead {
    /// The self-registration setting, if it was ever set.
    fn self_registration(&self) -> Result<Option<bool>, StoreError>;
    fn last_backup(&self) -> Result<Option<LastBackupRecord>, StoreError>;
    /// Each user with their password hash, if they have one.
    fn users(&self) -> Items<'_, (UserRecord, Option<String>)>;
    fn branches(&self) -> Items<'_, BranchRecord>;
    fn courses(&self) -> Items<'_, CourseRecord>;
    fn curricula(&self) -> Items<'_, CurriculumRecord>;
    /// `(user, course)`.
    fn enrolments(&self) -> Items<'_, (Pair, EnrolmentRecord)>;
    /// `(user, course)`.
    fn progress(&self) -> Items<'_, (Pair, ProgressRecord)>;
    fn jobs(&self) -> Items<'_, JobRecord>;
    /// Each group with its mass enrolment jobs (which may name jobs no longer kept).
    fn groups(&self) -> Items<'_, (GroupRecord, MassJobs)>;
    /// By group.
    fn group_links(&self) -> Items<'_, (u64, GroupLinksRecord)>;
    /// `(group, user)`.
    fn members(&self) -> Items<'_, (Pair, MemberRecord)>;
    /// `(group, user)`.
    fn managers(&self) -> Items<'_, Pair>;
    /// `(group, user)`: the last bulk add a manager made to a group.
    fn bulk_results(&self) -> Items<'_, (Pair, BulkResultRecord)>;
    /// `(group, event)`.
    fn redemptions(&self) -> Items<'_, (Pair, RedemptionRecord)>;
    /// `(group, event)`.
    fn audit(&self) -> Items<'_, (Pair, AuditRecord)>;
    fn imports(&self) -> Items<'_, ImportRecord>;
    /// `(import, row index)`.
    fn import_rows(&self) -> Items<'_, (Pair, ImportRowRecord)>;
    /// By the hash of the token.
    fn password_tokens(&self) -> Items<'_, (Vec<u8>, TokenRecord)>;
    fn messages(&self) -> Items<'_, ArchivedMessage>;
    /// `(user, message)`.
    fn inbox(&self) -> Items<'_, (Pair, InboxRecord)>;
    fn outbox(&self) -> Items<'_, (OutboxEntry, OutboxRecord)>;
}

/// A new backup being filled, record by record, in any order; [`ArchiveWrite::finish`] works
/// out what is derived and writes the file. Keys are as [`ArchiveRead`] gives them; a record
/// put twice under one key keeps the last.
pub trait ArchiveWrite {
    /// The schema the records are in (this build's, or the file is refused by a restore).
    fn put_schema(&mut self, schema: u32) -> Result<(), StoreError>;
    fn put_self_registration(&mut self, on: bool) -> Result<(), StoreError>;
    fn put_last_backup(&mut self, rec: &LastBackupRecord) -> Result<(), StoreError>;
    fn put_user(&mut self, rec: &UserRecord, hash: Option<&str>) -> Result<(), StoreError>;
    fn put_branch(&mut self, rec: &BranchRecord) -> Result<(), StoreError>;
    fn put_course(&mut self, rec: &CourseRecord) -> Result<(), StoreError>;
    fn put_curriculum(&mut self, rec: &CurriculumRecord) -> Result<(), StoreError>;
    fn put_enrolment(&mut self, key: Pair, rec: &EnrolmentRecord) -> Result<(), StoreError>;
    fn put_progress(&mut self, key: Pair, rec: &ProgressRecord) -> Result<(), StoreError>;
    fn put_job(&mut self, rec: &JobRecord) -> Result<(), StoreError>;
    fn put_group(&mut self, rec: &GroupRecord, mass: MassJobs) -> Result<(), StoreError>;
    fn put_group_links(&mut self, group: u64, rec: &GroupLinksRecord) -> Result<(), StoreError>;
    fn put_member(&mut self, key: Pair, rec: &MemberRecord) -> Result<(), StoreError>;
    fn put_manager(&mut self, key: Pair) -> Result<(), StoreError>;
    fn put_bulk_result(&mut self, key: Pair, rec: &BulkResultRecord) -> Result<(), StoreError>;
    fn put_redemption(&mut self, key: Pair, rec: &RedemptionRecord) -> Result<(), StoreError>;
    fn put_audit(&mut self, key: Pair, rec: &AuditRecord) -> Result<(), StoreError>;
    fn put_import(&mut self, rec: &ImportRecord) -> Result<(), StoreError>;
    fn put_import_row(&mut self, key: Pair, rec: &ImportRowRecord) -> Result<(), StoreError>;
    fn put_password_token(&mut self, key: &[u8], rec: &TokenRecord) -> Result<(), StoreError>;
    fn put_message(
        &mut self,
        id: u64,
        rec: &MessageRecord,
        counts: MessageCounts,
        body: Option<&BodyRecord>,
    ) -> Result<(), StoreError>;
    fn put_inbox(&mut self, key: Pair, rec: &InboxRecord) -> Result<(), StoreError>;
    fn put_outbox(&mut self, key: OutboxEntry, rec: &OutboxRecord) -> Result<(), StoreError>;
    /// Works out what is derived from the records, then writes the file to `out`, marked as
    /// taken at `now_ms`, with `id_mark` above every id the backed-up store handed out.
    fn finish(
        self: Box<Self>,
        out: &mut dyn Write,
        now_ms: u64,
        id_mark: u64,
    ) -> Result<BackupSummary, BackupError>;
}

#[cfg(test)]
pub(crate) mod tests;
