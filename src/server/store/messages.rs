//! Messages to a group, the members' inboxes and the e-mail outbox.
//!
//! Trees:
//! - `messages`: message id → [`MessageRecord`] (subject, body, who sent it to which group, and
//!   what became of it: inbox entries made, e-mails sent and failed).
//! - `group_messages`: group id ++ message id → nothing (a group's sent list, oldest first).
//! - `inbox`: user id ++ message id → [`InboxRecord`] (read or not; newest last).
//! - `outbox`: due time (ms) ++ message id ++ user id → [`OutboxRecord`]: e-mails waiting to be
//!   sent, the first due first. A failed attempt moves the entry to a later due time.
//! - `meta`: `count/unread/<user>` and `count/inbox/<user>`, changed with the inbox entries.
//!
//! Sending writes the message and a [`JobKind::DeliverMessage`] job in one transaction; the
//! job makes the inbox entries (and queues the e-mails) a bounded batch of members at a time,
//! so a group of 100,000 never holds sled's transaction lock for long. Only members who had
//! joined when the message was sent get it, however late their batch runs.

use super::codec::{self, id_key, Record};
use super::enrolments::pair_key;
use super::groups::{tx_audit, Actor, MemberRecord};
use super::jobs::{tx_job, tx_put_job, JobKind, JobRecord, JobState, Step, STEP_BATCH};
use super::users::UserRecord;
use super::{abort, bump_counter, counter_key, read_counter, Store, StoreError};
use crate::model::group::AuditAction;
use crate::model::message::{InboxRow, MailCounts, MessageView, SentRow};
use crate::model::user::PER_PAGE;
use serde::{Deserialize, Serialize};
use sled::transaction::{ConflictableTransactionError, TransactionalTree};
use sled::Transactional;

type Tx<T> = Result<T, ConflictableTransactionError<StoreError>>;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageRecord {
    pub group: u64,
    /// The group's and the sender's names when it was sent (the inbox shows them even after
    /// the group is deleted or renamed).
    pub group_name: String,
    pub sender: u64,
    pub sender_name: String,
    pub subject: String,
    pub body: String,
    pub sent_at: u64,
    /// Members when it was sent.
    pub recipients: u64,
    /// Inbox entries made so far.
    pub delivered: u64,
    /// Still being delivered by its job.
    pub delivering: bool,
    /// Whether members are mailed too (SMTP was configured when it was sent).
    pub mail: bool,
    pub mail_queued: u64,
    pub mail_sent: u64,
    pub mail_failed: u64,
}

impl Record for MessageRecord {
    const TREE: &'static str = "messages";
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
    /// Attempts made so far.
    pub attempts: u32,
    /// Why the last attempt failed.
    pub last_error: String,
}

impl Record for OutboxRecord {
    const TREE: &'static str = "outbox";
    const VERSION: u8 = 1;
}

/// An outbox key: `due ++ message ++ user`, all big-endian.
fn outbox_key(due: u64, message: u64, user: u64) -> [u8; 24] {
    let mut k = [0u8; 24];
    k[..8].copy_from_slice(&id_key(due));
    k[8..].copy_from_slice(&pair_key(message, user));
    k
}

fn unread_counter(user: u64) -> String {
    format!("unread/{user}")
}

fn inbox_counter(user: u64) -> String {
    format!("inbox/{user}")
}

/// An e-mail due to be sent, as [`Store::due_mail`] hands it out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueMail {
    /// The entry's outbox key (to report the outcome with).
    pub key: Vec<u8>,
    pub message: u64,
    pub user: u64,
    pub out: OutboxRecord,
}

/// What happened to one e-mail attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailOutcome {
    Sent,
    /// Failed; tried again at `retry_at`.
    Retry {
        retry_at: u64,
    },
    /// Failed for the last time.
    GaveUp,
}

fn tx_message(messages: &TransactionalTree, id: u64) -> Tx<MessageRecord> {
    let key = id_key(id);
    match messages.get(key)? {
        Some(b) => codec::decode(&key, &b).or_else(abort),
        None => abort(StoreError::NotFound("message")),
    }
}

fn tx_put_message(messages: &TransactionalTree, id: u64, rec: &MessageRecord) -> Tx<()> {
    messages.insert(&id_key(id), codec::encode(rec).or_else(abort)?)?;
    Ok(())
}

fn tx_user(users: &TransactionalTree, id: u64) -> Tx<UserRecord> {
    let key = id_key(id);
    match users.get(key)? {
        Some(b) => codec::decode(&key, &b).or_else(abort),
        None => abort(StoreError::NotFound("user")),
    }
}

impl Store {
    /// Sends a message to every current member of `group`: writes it with the job that
    /// delivers it (run it with [`Store::run_job_step`]) and an audit line, in one
    /// transaction. `mail`: also queue an e-mail per active member. Returns the message's and
    /// the job's ids. `NotFound` when the group or the sender does not exist. The caller has
    /// validated the subject and body.
    pub fn send_message(
        &self,
        actor: Actor,
        group: u64,
        subject: &str,
        body: &str,
        mail: bool,
    ) -> Result<(u64, u64), StoreError> {
        let id = self.db.generate_id()? + 1;
        let job = self.new_job_id()?;
        let event = self.db.generate_id()?;
        (
            &self.groups,
            &self.users,
            &self.messages,
            &self.group_messages,
            &self.jobs,
            &self.audit,
        )
            .transaction(|(groups, users, messages, group_messages, jobs, audit)| {
                let g = super::groups::tx_get(groups, group)?;
                let sender = tx_user(users, actor.user)?;
                let rec = MessageRecord {
                    group,
                    group_name: g.name.clone(),
                    sender: actor.user,
                    sender_name: sender.display_name.clone(),
                    subject: subject.to_string(),
                    body: body.to_string(),
                    sent_at: actor.now,
                    recipients: g.members,
                    delivered: 0,
                    delivering: true,
                    mail,
                    mail_queued: 0,
                    mail_sent: 0,
                    mail_failed: 0,
                };
                tx_put_message(messages, id, &rec)?;
                group_messages.insert(&pair_key(group, id), &[])?;
                tx_put_job(
                    jobs,
                    &JobRecord::new(
                        job,
                        JobKind::DeliverMessage { message: id },
                        g.members,
                        actor.user,
                        actor.now,
                    ),
                )?;
                tx_audit(
                    audit,
                    group,
                    event,
                    actor,
                    AuditAction::MessageSent,
                    format!(
                        "{} sent \"{}\" to {} member{}",
                        sender.login,
                        subject,
                        g.members,
                        if g.members == 1 { "" } else { "s" }
                    ),
                )
            })?;
        Ok((id, job))
    }

    /// One step of a message's delivery: the next [`STEP_BATCH`] members of its group (from
    /// the job's cursor) who had joined by the time it was sent get an inbox entry, and, when
    /// it is mailed, an e-mail in the outbox. Entries, counters, the message's counts and the
    /// cursor change in one transaction; an entry already made is never made twice.
    pub(crate) fn deliver_step(
        &self,
        job: &JobRecord,
        message: u64,
        now: u64,
    ) -> Result<Step, StoreError> {
        let msg = self
            .get_message(message)?
            .ok_or(StoreError::NotFound("message"))?;
        let start = pair_key(
            msg.group,
            job.cursor.saturating_add(u64::from(job.cursor != 0)),
        );
        let end = pair_key(msg.group, u64::MAX);
        let mut batch = Vec::new();
        for item in self.group_members.range(start..=end).take(STEP_BATCH) {
            let (k, v) = item?;
            let user = codec::read_id("group_members", &k, &k[8..])?;
            let member: MemberRecord = codec::decode(&k, &v)?;
            batch.push((user, member.joined_at <= msg.sent_at));
        }
        let last = batch.last().map(|(u, _)| *u);
        (
            &self.inbox,
            &self.meta,
            &self.messages,
            &self.jobs,
            &self.outbox,
            &self.users,
        )
            .transaction(|(inbox, meta, messages, jobs, outbox, users)| {
                let mut rec = tx_job(jobs, job.id)?;
                if rec.cursor != job.cursor || rec.state != JobState::Pending {
                    // Done by another run of this step already.
                    return Ok(());
                }
                let mut m = tx_message(messages, message)?;
                let Some(last) = last else {
                    m.delivering = false;
                    tx_put_message(messages, message, &m)?;
                    rec.state = JobState::Done;
                    rec.finished_at = Some(now);
                    return tx_put_job(jobs, &rec);
                };
                for (user, joined_before) in &batch {
                    let key = pair_key(*user, message);
                    if !joined_before || inbox.get(key)?.is_some() {
                        continue;
                    }
                    inbox.insert(
                        &key,
                        codec::encode(&InboxRecord { read: false }).or_else(abort)?,
                    )?;
                    bump_counter(meta, &unread_counter(*user), 1)?;
                    bump_counter(meta, &inbox_counter(*user), 1)?;
                    m.delivered += 1;
                    if m.mail {
                        let u = tx_user(users, *user)?;
                        if u.active {
                            let out = OutboxRecord {
                                to: u.email,
                                name: u.display_name,
                                attempts: 0,
                                last_error: String::new(),
                            };
                            outbox.insert(
                                &outbox_key(now, message, *user),
                                codec::encode(&out).or_else(abort)?,
                            )?;
                            m.mail_queued += 1;
                        }
                    }
                }
                tx_put_message(messages, message, &m)?;
                rec.done += batch.len() as u64;
                rec.cursor = last;
                tx_put_job(jobs, &rec)
            })?;
        let finished = self
            .get_job(job.id)?
            .is_none_or(|j| j.state != JobState::Pending);
        Ok(if finished { Step::Finished } else { Step::More })
    }

    pub fn get_message(&self, id: u64) -> Result<Option<MessageRecord>, StoreError> {
        let key = id_key(id);
        self.messages
            .get(key)?
            .map(|b| codec::decode(&key, &b))
            .transpose()
    }

    /// A user's unread messages.
    pub fn unread_count(&self, user: u64) -> Result<u64, StoreError> {
        Ok(read_counter(
            self.meta.get(counter_key(&unread_counter(user)))?,
        ))
    }

    /// Whether message `id` is in `user`'s inbox and unread.
    pub fn message_unread(&self, user: u64, id: u64) -> Result<bool, StoreError> {
        let key = pair_key(user, id);
        match self.inbox.get(key)? {
            Some(b) => Ok(!codec::decode::<InboxRecord>(&key, &b)?.read),
            None => Ok(false),
        }
    }

    /// One page (from 1) of a user's inbox, newest first, with the number of messages in it.
    pub fn inbox(&self, user: u64, page: u32) -> Result<(Vec<InboxRow>, u64), StoreError> {
        let total = read_counter(self.meta.get(counter_key(&inbox_counter(user)))?);
        let skip = (page.max(1) as usize - 1) * PER_PAGE as usize;
        let mut rows = Vec::new();
        for item in self
            .inbox
            .scan_prefix(id_key(user))
            .rev()
            .skip(skip)
            .take(PER_PAGE as usize)
        {
            let (k, v) = item?;
            let id = codec::read_id("inbox", &k, &k[8..])?;
            let entry: InboxRecord = codec::decode(&k, &v)?;
            let m = self.get_message(id)?.ok_or_else(|| StoreError::Corrupt {
                tree: "inbox",
                key: codec::show_key(&k),
                reason: "its message is missing".into(),
            })?;
            rows.push(InboxRow {
                id,
                subject: m.subject,
                sender: m.sender_name,
                group: m.group_name,
                sent_at: m.sent_at,
                read: entry.read,
            });
        }
        Ok((rows, total))
    }

    /// Opens a message in `user`'s inbox and marks it read. `NotFound` when it is not in
    /// their inbox (whether or not it exists: nobody reads another's messages).
    pub fn open_message(&self, user: u64, id: u64) -> Result<MessageView, StoreError> {
        self.set_message_read(user, id, true)?;
        let m = self
            .get_message(id)?
            .ok_or(StoreError::NotFound("message"))?;
        Ok(MessageView {
            id,
            subject: m.subject,
            body: m.body,
            sender: m.sender_name,
            group_id: m.group,
            group: m.group_name,
            sent_at: m.sent_at,
            read: true,
        })
    }

    /// Marks a message in `user`'s inbox read or unread (the unread count follows);
    /// `NotFound` when it is not in their inbox.
    pub fn set_message_read(&self, user: u64, id: u64, read: bool) -> Result<(), StoreError> {
        let key = pair_key(user, id);
        (&self.inbox, &self.meta).transaction(|(inbox, meta)| {
            let Some(bytes) = inbox.get(key)? else {
                return abort(StoreError::NotFound("message"));
            };
            let mut entry: InboxRecord = codec::decode(&key, &bytes).or_else(abort)?;
            if entry.read != read {
                entry.read = read;
                inbox.insert(&key, codec::encode(&entry).or_else(abort)?)?;
                bump_counter(meta, &unread_counter(user), if read { -1 } else { 1 })?;
            }
            Ok(())
        })?;
        Ok(())
    }

    /// One page (from 1) of the messages sent to `group`, newest first, with their count.
    pub fn group_messages(&self, group: u64, page: u32) -> Result<(Vec<SentRow>, u64), StoreError> {
        let skip = (page.max(1) as usize - 1) * PER_PAGE as usize;
        let total = self.group_messages.scan_prefix(id_key(group)).count() as u64;
        let mut rows = Vec::new();
        for item in self
            .group_messages
            .scan_prefix(id_key(group))
            .keys()
            .rev()
            .skip(skip)
            .take(PER_PAGE as usize)
        {
            let k = item?;
            let id = codec::read_id("group_messages", &k, &k[8..])?;
            let Some(m) = self.get_message(id)? else {
                continue;
            };
            rows.push(SentRow {
                id,
                subject: m.subject,
                sender: m.sender_name,
                sent_at: m.sent_at,
                recipients: m.recipients,
                delivered: m.delivered,
                delivering: m.delivering,
                mail: m.mail.then_some(MailCounts {
                    queued: m.mail_queued,
                    sent: m.mail_sent,
                    failed: m.mail_failed,
                }),
            });
        }
        Ok((rows, total))
    }

    /// Up to `limit` e-mails due by `now`, first due first.
    pub fn due_mail(&self, now: u64, limit: usize) -> Result<Vec<DueMail>, StoreError> {
        let end = outbox_key(now, u64::MAX, u64::MAX);
        let mut out = Vec::new();
        for item in self.outbox.range(..=end.as_slice()).take(limit) {
            let (k, v) = item?;
            if k.len() != 24 {
                return Err(StoreError::Corrupt {
                    tree: "outbox",
                    key: codec::show_key(&k),
                    reason: "not 24 bytes".into(),
                });
            }
            let message = codec::read_id("outbox", &k, &k[8..16])?;
            let user = codec::read_id("outbox", &k, &k[16..])?;
            out.push(DueMail {
                key: k.to_vec(),
                message,
                user,
                out: codec::decode(&k, &v)?,
            });
        }
        Ok(out)
    }

    /// When the next e-mail is due, if any is waiting.
    pub fn next_mail_due(&self) -> Result<Option<u64>, StoreError> {
        match self.outbox.first()? {
            Some((k, _)) => Ok(Some(codec::read_id("outbox", &k, &k[..8.min(k.len())])?)),
            None => Ok(None),
        }
    }

    /// E-mails waiting in the outbox.
    pub fn mail_waiting(&self) -> usize {
        self.outbox.len()
    }

    /// Records what an attempt to send `mail` did: sent (the entry goes, the message counts
    /// one sent), failed with `error` (tried again at `retry_at` unless it was the last of
    /// `attempts`; then the message counts one failed). An entry already settled by another
    /// run is left alone.
    pub fn mail_attempted(
        &self,
        mail: &DueMail,
        result: Result<(), &str>,
        attempts: u32,
        retry_at: u64,
    ) -> Result<MailOutcome, StoreError> {
        let outcome = (&self.outbox, &self.messages).transaction(|(outbox, messages)| {
            let Some(bytes) = outbox.remove(mail.key.as_slice())? else {
                return Ok(None);
            };
            let mut out: OutboxRecord = codec::decode(&mail.key, &bytes).or_else(abort)?;
            out.attempts += 1;
            let outcome = match result {
                Ok(()) => MailOutcome::Sent,
                Err(_) if out.attempts < attempts => MailOutcome::Retry { retry_at },
                Err(_) => MailOutcome::GaveUp,
            };
            if let MailOutcome::Retry { retry_at } = outcome {
                out.last_error = result.err().unwrap_or_default().to_string();
                outbox.insert(
                    &outbox_key(retry_at, mail.message, mail.user),
                    codec::encode(&out).or_else(abort)?,
                )?;
                return Ok(Some(outcome));
            }
            let mut m = tx_message(messages, mail.message)?;
            m.mail_queued = m.mail_queued.saturating_sub(1);
            if outcome == MailOutcome::Sent {
                m.mail_sent += 1;
            } else {
                m.mail_failed += 1;
            }
            tx_put_message(messages, mail.message, &m)?;
            Ok(Some(outcome))
        })?;
        // Settled by someone else: as good as sent for the caller.
        Ok(outcome.unwrap_or(MailOutcome::Sent))
    }
}

#[cfg(test)]
mod tests;
