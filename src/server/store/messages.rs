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
//! so a group of 100,000 never holds sled's transaction lock for long. Only members who had
//! joined when the message was sent get it, however late their batch runs. The job's record
//! goes when it is done (a school sends many messages; finished ones would only slow the scan
//! for pending jobs).

use super::codec::{self, id_key, Record};
use super::enrolments::pair_key;
use super::groups::{tx_audit, Actor, AuditTrees, MemberRecord};
use super::jobs::{
    tx_put_job, tx_step_job, FailJobTx, JobKind, JobRecord, JobSteps, Step, STEP_BATCH,
};
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

/// How long a mailer holds an e-mail it took ([`Store::take_mail`]): far longer than one
/// attempt (its connection times out after 30 s).
pub const MAIL_LEASE_MS: u64 = 5 * 60 * 1000;

/// An outbox key: `due ++ message ++ user`, all big-endian.
fn outbox_key(due: u64, message: u64, user: u64) -> [u8; 24] {
    let mut k = [0u8; 24];
    k[..8].copy_from_slice(&id_key(due));
    k[8..].copy_from_slice(&pair_key(message, user));
    k
}

pub(crate) fn unread_counter(user: u64) -> String {
    format!("unread/{user}")
}

pub(crate) fn inbox_counter(user: u64) -> String {
    format!("inbox/{user}")
}

fn sent_counter(group: u64) -> String {
    format!("group_messages/{group}")
}

/// A message's own counters: `delivered`, `queued`, `sent`, `failed`.
fn message_counter(message: u64, what: &str) -> String {
    format!("msg/{message}/{what}")
}

/// An e-mail due to be sent, as [`Store::due_mail`] hands it out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueMail {
    /// The entry's outbox key (to settle it with).
    pub key: Vec<u8>,
    pub message: u64,
    pub user: u64,
    pub out: OutboxRecord,
}

/// What became of an attempt to send an e-mail (the mailer decides, [`Store::settle_mail`]
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

/// Inside a transaction: a delivery job failed for good; its message stops saying
/// "delivering" (what was delivered stays).
pub(crate) fn tx_delivery_failed(messages: &TransactionalTree, message: u64) -> Tx<()> {
    if messages.get(id_key(message))?.is_some() {
        let mut m = tx_message(messages, message)?;
        m.delivering = false;
        tx_put_message(messages, message, &m)?;
    }
    Ok(())
}

/// Rows to skip for page `page` (from 1); `None` when the page is past the end.
fn page_start(page: u32, total: u64) -> Option<usize> {
    let skip = (page.max(1) as u64 - 1) * PER_PAGE as u64;
    (skip < total || skip == 0).then_some(skip as usize)
}

/// Delivering a message to its group's members ([`JobKind::DeliverMessage`]).
pub(crate) struct DeliveryJob;

impl JobSteps for DeliveryJob {
    fn step(&self, store: &Store, job: &JobRecord, now: u64) -> Option<Result<Step, StoreError>> {
        let JobKind::DeliverMessage { message } = job.kind else {
            return None;
        };
        Some(store.deliver_step(job, message, now))
    }

    fn failed(&self, t: &FailJobTx<'_>, job: &JobRecord, _: &str, _: u64) -> Option<Tx<()>> {
        let JobKind::DeliverMessage { message } = job.kind else {
            return None;
        };
        Some(tx_delivery_failed(t.messages, message))
    }
}

impl Store {
    fn counter(&self, name: &str) -> Result<u64, StoreError> {
        Ok(read_counter(self.meta.get(counter_key(name))?))
    }

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
        let _w = self.writing();
        let id = self.new_id()? + 1;
        let job = self.new_job_id()?;
        let event = self.new_id()?;
        let body = codec::encode(&BodyRecord {
            body: body.to_string(),
        })?;
        (
            &self.groups,
            &self.users,
            &self.messages,
            &self.message_bodies,
            &self.group_messages,
            &self.jobs,
            &self.audit,
            &self.audit_index,
            &self.meta,
        )
            .transaction(
                |(groups, users, messages, bodies, group_messages, jobs, trail, index, meta)| {
                    let g = super::groups::tx_get(groups, group)?;
                    let sender = tx_user(users, actor.user)?;
                    let rec = MessageRecord {
                        group,
                        group_name: g.name.clone(),
                        sender: actor.user,
                        sender_name: sender.display_name.clone(),
                        subject: subject.to_string(),
                        sent_at: actor.now,
                        recipients: g.members,
                        mail,
                        delivering: true,
                    };
                    tx_put_message(messages, id, &rec)?;
                    bodies.insert(&id_key(id), body.as_slice())?;
                    group_messages.insert(&pair_key(group, id), &[])?;
                    bump_counter(meta, &sent_counter(group), 1)?;
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
                        AuditTrees { trail, index },
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
                },
            )?;
        Ok((id, job))
    }

    /// One step of a message's delivery: the next [`STEP_BATCH`] members of its group (from
    /// the job's cursor) who had joined by the time it was sent get an inbox entry, and, when
    /// it is mailed, an e-mail in the outbox. Entries, counters and the cursor change in one
    /// transaction; an entry already made is never made twice. The last step marks the
    /// message delivered and removes the job.
    pub(crate) fn deliver_step(
        &self,
        job: &JobRecord,
        message: u64,
        now: u64,
    ) -> Result<Step, StoreError> {
        let _w = self.writing();
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
        let finished = (
            &self.inbox,
            &self.meta,
            &self.messages,
            &self.jobs,
            &self.outbox,
            &self.users,
        )
            .transaction(|(inbox, meta, messages, jobs, outbox, users)| {
                let Some(mut rec) = tx_step_job(jobs, job)? else {
                    // Done by another run of this step already, or taken over.
                    return Ok(false);
                };
                let Some(last) = last else {
                    let mut m = tx_message(messages, message)?;
                    m.delivering = false;
                    tx_put_message(messages, message, &m)?;
                    jobs.remove(&id_key(job.id))?;
                    return Ok(true);
                };
                let (mut delivered, mut queued) = (0i64, 0i64);
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
                    delivered += 1;
                    if msg.mail {
                        let u = tx_user(users, *user)?;
                        if u.active {
                            let out = OutboxRecord {
                                to: u.email,
                                name: u.display_name,
                                queued_at: now,
                                attempts: 0,
                                last_error: String::new(),
                            };
                            outbox.insert(
                                &outbox_key(now, message, *user),
                                codec::encode(&out).or_else(abort)?,
                            )?;
                            queued += 1;
                        }
                    }
                }
                bump_counter(meta, &message_counter(message, "delivered"), delivered)?;
                if queued > 0 {
                    bump_counter(meta, &message_counter(message, "queued"), queued)?;
                }
                rec.done += batch.len() as u64;
                rec.cursor = last;
                tx_put_job(jobs, &rec)?;
                Ok(false)
            })?;
        let finished = finished || self.get_job(job.id)?.is_none();
        Ok(if finished { Step::Finished } else { Step::More })
    }

    pub fn get_message(&self, id: u64) -> Result<Option<MessageRecord>, StoreError> {
        let key = id_key(id);
        self.messages
            .get(key)?
            .map(|b| codec::decode(&key, &b))
            .transpose()
    }

    /// Inbox entries a message has made so far.
    pub fn message_delivered(&self, id: u64) -> Result<u64, StoreError> {
        self.counter(&message_counter(id, "delivered"))
    }

    /// What became of a message's e-mails so far.
    pub fn message_mail(&self, id: u64) -> Result<MailCounts, StoreError> {
        Ok(MailCounts {
            queued: self.counter(&message_counter(id, "queued"))?,
            sent: self.counter(&message_counter(id, "sent"))?,
            failed: self.counter(&message_counter(id, "failed"))?,
        })
    }

    /// A user's unread messages.
    pub fn unread_count(&self, user: u64) -> Result<u64, StoreError> {
        self.counter(&unread_counter(user))
    }

    /// A user's unread messages not counting message `opening`, read together (so a message
    /// opened at the same moment is not counted twice or missed).
    pub fn unread_count_besides(&self, user: u64, opening: u64) -> Result<u64, StoreError> {
        let _w = self.writing();
        let key = pair_key(user, opening);
        let n = (&self.inbox, &self.meta).transaction(|(inbox, meta)| {
            let unread = read_counter(meta.get(counter_key(&unread_counter(user)))?);
            let opening_unread = match inbox.get(key)? {
                Some(b) => !codec::decode::<InboxRecord>(&key, &b).or_else(abort)?.read,
                None => false,
            };
            Ok(unread.saturating_sub(u64::from(opening_unread)))
        });
        match n.map_err(StoreError::from) {
            // sled refuses every transaction, reads too, once it cannot write (`store_cell.rs`);
            // no writer runs then, so plain reads cannot see half of a change.
            Err(StoreError::Backend(_)) => {
                let unread = read_counter(self.meta.get(counter_key(&unread_counter(user)))?);
                let opening_unread = match self.inbox.get(key)? {
                    Some(b) => !codec::decode::<InboxRecord>(&key, &b)?.read,
                    None => false,
                };
                Ok(unread.saturating_sub(u64::from(opening_unread)))
            }
            other => other,
        }
    }

    /// One page (from 1) of a user's inbox, newest first, with the number of messages in it.
    pub fn inbox(&self, user: u64, page: u32) -> Result<(Vec<InboxRow>, u64), StoreError> {
        let total = self.counter(&inbox_counter(user))?;
        let Some(skip) = page_start(page, total) else {
            return Ok((Vec::new(), total));
        };
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
        let key = id_key(id);
        let body = match self.message_bodies.get(key)? {
            Some(b) => codec::decode::<BodyRecord>(&key, &b)?.body,
            None => String::new(),
        };
        Ok(MessageView {
            id,
            subject: m.subject,
            body,
            sender: m.sender_name,
            group_id: m.group,
            group: m.group_name,
            sent_at: m.sent_at,
            read: true,
        })
    }

    /// A message's text (the mailer's; `None` when it is gone).
    pub fn message_body(&self, id: u64) -> Result<Option<String>, StoreError> {
        let key = id_key(id);
        self.message_bodies
            .get(key)?
            .map(|b| codec::decode::<BodyRecord>(&key, &b).map(|r| r.body))
            .transpose()
    }

    /// Marks a message in `user`'s inbox read or unread (the unread count follows);
    /// `NotFound` when it is not in their inbox.
    pub fn set_message_read(&self, user: u64, id: u64, read: bool) -> Result<(), StoreError> {
        let _w = self.writing();
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
        let total = self.counter(&sent_counter(group))?;
        let Some(skip) = page_start(page, total) else {
            return Ok((Vec::new(), total));
        };
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
                delivered: self.message_delivered(id)?,
                delivering: m.delivering,
                mail: if m.mail {
                    Some(self.message_mail(id)?)
                } else {
                    None
                },
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

    /// Takes `mail` (from [`Store::due_mail`]) for sending: its entry moves to `now +`
    /// [`MAIL_LEASE_MS`], so no other mailer on this store finds it due while this one sends
    /// it, and a mailer that dies before settling it leaves it due again when that time comes.
    /// Returns the mail under its new key (to settle it with), or `None` when another mailer
    /// took or settled it first.
    pub fn take_mail(&self, mail: &DueMail, now: u64) -> Result<Option<DueMail>, StoreError> {
        let _w = self.writing();
        let held = outbox_key(now.saturating_add(MAIL_LEASE_MS), mail.message, mail.user);
        let taken = self.outbox.transaction(|outbox| {
            let Some(bytes) = outbox.remove(mail.key.as_slice())? else {
                return Ok(false);
            };
            outbox.insert(held.as_slice(), bytes)?;
            Ok(true)
        })?;
        Ok(taken.then(|| DueMail {
            key: held.to_vec(),
            ..mail.clone()
        }))
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

    /// Records what became of an attempt to send `mail`: sent (the entry goes, its message
    /// counts one sent), to be tried again (the entry moves to its new time with the attempt
    /// and the error), or failed for good (the entry goes, its message counts one failed).
    /// `Ok(false)` when the entry was settled already (by another run); nothing changes then.
    pub fn settle_mail(&self, mail: &DueMail, how: &Settle) -> Result<bool, StoreError> {
        let _w = self.writing();
        let settled = (&self.outbox, &self.meta).transaction(|(outbox, meta)| {
            let Some(bytes) = outbox.remove(mail.key.as_slice())? else {
                return Ok(false);
            };
            let mut out: OutboxRecord = codec::decode(&mail.key, &bytes).or_else(abort)?;
            out.attempts += 1;
            let counted = match how {
                Settle::Sent => "sent",
                Settle::Failed { .. } => "failed",
                Settle::Retry { at, error } => {
                    out.last_error = error.clone();
                    outbox.insert(
                        &outbox_key(*at, mail.message, mail.user),
                        codec::encode(&out).or_else(abort)?,
                    )?;
                    return Ok(true);
                }
            };
            bump_counter(meta, &message_counter(mail.message, "queued"), -1)?;
            bump_counter(meta, &message_counter(mail.message, counted), 1)?;
            Ok(true)
        })?;
        Ok(settled)
    }

    /// Every e-mail still waiting fails with `reason` (the server no longer mails messages);
    /// returns how many.
    pub fn cancel_waiting_mail(&self, reason: &str) -> Result<u64, StoreError> {
        let _w = self.writing();
        let mut n = 0;
        loop {
            let batch = self.due_mail(u64::MAX, STEP_BATCH)?;
            if batch.is_empty() {
                return Ok(n);
            }
            for mail in &batch {
                let how = Settle::Failed {
                    error: reason.to_string(),
                };
                n += u64::from(self.settle_mail(mail, &how)?);
            }
        }
    }
}

#[cfg(test)]
mod tests;
