//! Messages to a group, the members' inboxes and the e-mail outbox.
//!
//! Trees:
//! - `messages`: message id → [`MessageRecord`] (subject, who sent it to which group, whether
//!   it is still being delivered); written when sent and once more when delivered.
//! - `message_bodies`: message id → [`BodyRecord`] (up to 20,000 characters: kept apart so
//!   lists never read it).
//! - `group_messages`: group id ++ message id → nothing (a group's sent list, oldest first).
//! - `inbox`: user id ++ message id → [`InboxRecord`] (read or not; newest last).
//! - `outbox`: due time (ms) ++ message id ++ user id → [`OutboxRecord`]: e-mails waiting to be
//!   sent, the first due first. A failed attempt moves the entry to a later due time.
//! - `meta` counters, changed with what they count: `unread/<user>`, `inbox/<user>`,
//!   `group_messages/<group>`, and per message `msg/<id>/delivered` (inbox entries made) and
//!   `msg/<id>/queued`, `.../sent`, `.../failed` (its e-mails).
//!
//! Sending writes the message and a [`JobKind::DeliverMessage`] job in one transaction; the
//! job makes the inbox entries (and queues the e-mails) a bounded batch of members at a time,
//! so a group of 100,000 never holds one transaction for long. Only members who had
//! joined when the message was sent get it, however late their batch runs. The job's record
//! goes when it is done (a school sends many messages; finished ones would only slow the scan
//! for pending jobs).

use crate::server::store::StoreError;

use super::codec::Record;

use super::groups::Actor;
use crate::model::message::{InboxRow, MailCounts, MessageView, SentRow};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageRecord {
    pub group: u64,
    /// The group's and the sender's names when it was sent (the inbox shows them even after
    /// the group is deleted or renamed).
    pub group_name: String,
    pub sender: u64,
    pub sender_name: String,
    pub subject: String,
    pub sent_at: u64,
    /// Members when it was sent.
    pub recipients: u64,
    /// Whether members are mailed too (SMTP was configured when it was sent).
    pub mail: bool,
    /// Still being delivered by its job.
    pub delivering: bool,
}

impl Record for MessageRecord {
    const TREE: &'static str = "messages";
    const VERSION: u8 = 1;
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BodyRecord {
    pub body: String,
}

impl Record for BodyRecord {
    const TREE: &'static str = "message_bodies";
    const VERSION: u8 = 1;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboxRecord {
    pub read: bool,
}

impl Record for InboxRecord {
    const TREE: &'static str = "inbox";
    const VERSION: u8 = 1;
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxRecord {
    /// The address and name when the message was delivered.
    pub to: String,
    pub name: String,
    /// When it was queued (ms): how long it has waited decides when to give up.
    pub queued_at: u64,
    /// Attempts made so far.
    pub attempts: u32,
    /// Why the last attempt failed.
    pub last_error: String,
}

impl Record for OutboxRecord {
    const TREE: &'static str = "outbox";
    const VERSION: u8 = 1;
}

/// The store's operations on this area (see the contract in `store/mod.rs`).
pub trait Messages: Send + Sync {
    /// Sends a message to every current member of `group`: writes it with the job that
    /// delivers it (run it with [`Store::run_job_step`]) and an audit line, in one
    /// transaction. `mail`: also queue an e-mail per active member. Returns the message's and
    /// the job's ids. `NotFound` when the group or the sender does not exist. The caller has
    /// validated the subject and body.
    fn send_message(
        &self,
        actor: Actor,
        group: u64,
        subject: &str,
        body: &str,
        mail: bool,
    ) -> Result<(u64, u64), StoreError>;

    fn get_message(&self, id: u64) -> Result<Option<MessageRecord>, StoreError>;

    /// Inbox entries a message has made so far.
    fn message_delivered(&self, id: u64) -> Result<u64, StoreError>;

    /// What became of a message's e-mails so far.
    fn message_mail(&self, id: u64) -> Result<MailCounts, StoreError>;

    /// A user's unread messages.
    fn unread_count(&self, user: u64) -> Result<u64, StoreError>;

    /// A user's unread messages not counting message `opening`, read together (so a message
    /// opened at the same moment is not counted twice or missed).
    fn unread_count_besides(&self, user: u64, opening: u64) -> Result<u64, StoreError>;

    /// One page (from 1) of a user's inbox, newest first, with the number of messages in it.
    fn inbox(&self, user: u64, page: u32) -> Result<(Vec<InboxRow>, u64), StoreError>;

    /// Opens a message in `user`'s inbox and marks it read. `NotFound` when it is not in
    /// their inbox (whether or not it exists: nobody reads another's messages).
    fn open_message(&self, user: u64, id: u64) -> Result<MessageView, StoreError>;

    /// A message's text (the mailer's; `None` when it is gone).
    fn message_body(&self, id: u64) -> Result<Option<String>, StoreError>;

    /// Marks a message in `user`'s inbox read or unread (the unread count follows);
    /// `NotFound` when it is not in their inbox.
    fn set_message_read(&self, user: u64, id: u64, read: bool) -> Result<(), StoreError>;

    /// One page (from 1) of the messages sent to `group`, newest first, with their count.
    fn group_messages(&self, group: u64, page: u32) -> Result<(Vec<SentRow>, u64), StoreError>;

    /// Up to `limit` e-mails due by `now`, first due first.
    fn due_mail(&self, now: u64, limit: usize) -> Result<Vec<DueMail>, StoreError>;

    /// Takes `mail` (from [`Store::due_mail`]) for sending: its entry moves to `now +`
    /// [`MAIL_LEASE_MS`], so no other mailer on this store finds it due while this one sends
    /// it, and a mailer that dies before settling it leaves it due again when that time comes.
    /// Returns the mail under its new key (to settle it with), or `None` when another mailer
    /// took or settled it first.
    fn take_mail(&self, mail: &DueMail, now: u64) -> Result<Option<DueMail>, StoreError>;

    /// When the next e-mail is due, if any is waiting.
    fn next_mail_due(&self) -> Result<Option<u64>, StoreError>;

    /// E-mails waiting in the outbox.
    fn mail_waiting(&self) -> usize;

    /// Records what became of an attempt to send `mail`: sent (the entry goes, its message
    /// counts one sent), to be tried again (the entry moves to its new time with the attempt
    /// and the error), or failed for good (the entry goes, its message counts one failed).
    /// `Ok(false)` when the entry was settled already (by another run); nothing changes then.
    fn settle_mail(&self, mail: &DueMail, how: &Settle) -> Result<bool, StoreError>;

    /// Every e-mail still waiting fails with `reason` (the server no longer mails messages);
    /// returns how many.
    fn cancel_waiting_mail(&self, reason: &str) -> Result<u64, StoreError>;
}

/// An e-mail due to be sent, as [`SledStore::due_mail`] hands it out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueMail {
    /// The entry's outbox key (to settle it with).
    pub key: Vec<u8>,
    pub message: u64,
    pub user: u64,
    pub out: OutboxRecord,
}

/// What became of an attempt to send an e-mail (the mailer decides, [`SledStore::settle_mail`]
/// records).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settle {
    Sent,
    /// Not sent; try again at `at`.
    Retry {
        at: u64,
        error: String,
    },
    /// Not sent, and never will be.
    Failed {
        error: String,
    },
}

/// An outbox entry's key, `due ++ message ++ user`, all big-endian: sled's `outbox` key, and
/// what [`DueMail::key`] holds on every backend (the due time a mailer saw is its
/// compare-and-swap when it takes or settles the entry).
pub(crate) fn outbox_key(due: u64, message: u64, user: u64) -> [u8; 24] {
    let mut k = [0u8; 24];
    k[..8].copy_from_slice(&super::codec::id_key(due));
    k[8..16].copy_from_slice(&super::codec::id_key(message));
    k[16..].copy_from_slice(&super::codec::id_key(user));
    k
}

/// The audit line of a message: who sent which subject to how many members.
pub(crate) fn sent_detail(login: &str, subject: &str, members: u64) -> String {
    format!(
        "{login} sent \"{subject}\" to {members} member{}",
        if members == 1 { "" } else { "s" }
    )
}

/// How long a mailer holds an e-mail it took ([`SledStore::take_mail`]): far longer than one
/// attempt (its connection times out after 30 s).
pub const MAIL_LEASE_MS: u64 = 5 * 60 * 1000;

#[cfg(test)]
pub(crate) mod tests;
