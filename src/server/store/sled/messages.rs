//! The sled backend's Messages (the interface: `crate::server::store::messages`).

pub(crate) use crate::server::store::messages::*;

#[allow(unused_imports)]
use crate::server::store::prelude::*;
use crate::server::store::sled::tables::{of, TxOf};

use super::codec::{self, id_key};
use super::enrolments::pair_key;
use super::groups::{tx_audit, Actor, AuditTrees};
use super::jobs::{
    tx_put_job, tx_step_job, FailJobTx, JobKind, JobRecord, JobSteps, Step, STEP_BATCH,
};
use super::users::UserRecord;
use super::{bump_counter, counter_key, read_counter, SledStore, StoreError};
use crate::model::group::AuditAction;
use crate::model::message::{InboxRow, MailCounts, MessageView, SentRow};
use crate::model::user::PER_PAGE;
use sled::transaction::{ConflictableTransactionError, TransactionalTree};
use sled::Transactional;

type Tx<T> = Result<T, ConflictableTransactionError<StoreError>>;

pub(crate) fn unread_counter(user: u64) -> String {
    format!("unread/{user}")
}

pub(crate) fn inbox_counter(user: u64) -> String {
    format!("inbox/{user}")
}

pub(crate) fn sent_counter(group: u64) -> String {
    format!("group_messages/{group}")
}

/// A message's own counters: `delivered`, `queued`, `sent`, `failed`.
pub(crate) fn message_counter(message: u64, what: &str) -> String {
    format!("msg/{message}/{what}")
}

fn tx_message(messages: &TransactionalTree, id: u64) -> Tx<MessageRecord> {
    TxOf::<of::messages>::from(messages).must(id, "message")
}

fn tx_put_message(messages: &TransactionalTree, id: u64, rec: &MessageRecord) -> Tx<()> {
    TxOf::<of::messages>::from(messages).put(id, rec)?;
    Ok(())
}

fn tx_user(users: &TransactionalTree, id: u64) -> Tx<UserRecord> {
    TxOf::<of::users>::from(users).must(id, "user")
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
    fn step(
        &self,
        store: &SledStore,
        job: &JobRecord,
        now: u64,
    ) -> Option<Result<Step, StoreError>> {
        let JobKind::DeliverMessage { message } = job.kind else {
            return None;
        };
        Some(store.deliver_step(job, message, now))
    }

    fn failed(&self, t: &FailJobTx<'_>, job: &JobRecord, _: &str, _: u64) -> Option<Tx<()>> {
        let JobKind::DeliverMessage { message } = job.kind else {
            return None;
        };
        Some(tx_delivery_failed(&t.messages, message))
    }
}

impl Messages for SledStore {
    fn send_message(
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
        let body = self.message_bodies.encode(&BodyRecord {
            body: body.to_string(),
        })?;
        (
            &*self.groups,
            &*self.users,
            &*self.messages,
            &*self.message_bodies,
            &self.group_messages,
            &*self.jobs,
            &*self.audit,
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
                        sent_detail(&sender.login, subject, g.members),
                    )
                },
            )?;
        Ok((id, job))
    }

    fn get_message(&self, id: u64) -> Result<Option<MessageRecord>, StoreError> {
        self.messages.row(id)
    }

    fn message_delivered(&self, id: u64) -> Result<u64, StoreError> {
        self.counter(&message_counter(id, "delivered"))
    }

    fn message_mail(&self, id: u64) -> Result<MailCounts, StoreError> {
        Ok(MailCounts {
            queued: self.counter(&message_counter(id, "queued"))?,
            sent: self.counter(&message_counter(id, "sent"))?,
            failed: self.counter(&message_counter(id, "failed"))?,
        })
    }

    fn unread_count(&self, user: u64) -> Result<u64, StoreError> {
        self.counter(&unread_counter(user))
    }

    fn unread_count_besides(&self, user: u64, opening: u64) -> Result<u64, StoreError> {
        // Every page's top bar asks with no message open (0: an id is never 0, something is
        // always made before the first message): the counter is one key, read as it is. A
        // sled transaction, even one that only reads, appends a batch marker to the log when
        // it commits, and writing that log out took a sixth of the server's time under page
        // load (BENCHMARKS.md, "Page throughput").
        if opening == 0 {
            return self.unread_count(user);
        }
        let _w = self.writing();
        let n = (&*self.inbox, &self.meta).transaction(|(inbox, meta)| {
            let unread = read_counter(meta.get(counter_key(&unread_counter(user)))?);
            let opening_unread = TxOf::<of::inbox>::from(inbox)
                .row((user, opening))?
                .is_some_and(|e| !e.read);
            Ok(unread.saturating_sub(u64::from(opening_unread)))
        });
        match n.map_err(StoreError::from) {
            // sled refuses every transaction, reads too, once it cannot write (`store_cell.rs`);
            // no writer runs then, so plain reads cannot see half of a change.
            Err(StoreError::Backend(_)) => {
                let unread = read_counter(self.meta.get(counter_key(&unread_counter(user)))?);
                let opening_unread = self.inbox.row((user, opening))?.is_some_and(|e| !e.read);
                Ok(unread.saturating_sub(u64::from(opening_unread)))
            }
            other => other,
        }
    }

    fn inbox(&self, user: u64, page: u32) -> Result<(Vec<InboxRow>, u64), StoreError> {
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
            let (k, entry) = self.inbox.decode_row(item)?;
            let id = codec::read_id("inbox", &k, &k[8..])?;
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

    fn open_message(&self, user: u64, id: u64) -> Result<MessageView, StoreError> {
        self.set_message_read(user, id, true)?;
        let m = self
            .get_message(id)?
            .ok_or(StoreError::NotFound("message"))?;
        let body = self
            .message_bodies
            .row(id)?
            .map(|b| b.body)
            .unwrap_or_default();
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

    fn message_body(&self, id: u64) -> Result<Option<String>, StoreError> {
        Ok(self.message_bodies.row(id)?.map(|b| b.body))
    }

    fn set_message_read(&self, user: u64, id: u64, read: bool) -> Result<(), StoreError> {
        let _w = self.writing();
        (&*self.inbox, &self.meta).transaction(|(inbox, meta)| {
            let inbox = TxOf::<of::inbox>::from(inbox);
            let mut entry = inbox.must((user, id), "message")?;
            if entry.read != read {
                entry.read = read;
                inbox.put((user, id), &entry)?;
                bump_counter(meta, &unread_counter(user), if read { -1 } else { 1 })?;
            }
            Ok(())
        })?;
        Ok(())
    }

    fn group_messages(&self, group: u64, page: u32) -> Result<(Vec<SentRow>, u64), StoreError> {
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

    fn due_mail(&self, now: u64, limit: usize) -> Result<Vec<DueMail>, StoreError> {
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
                out: self.outbox.decode(&k, &v)?,
            });
        }
        Ok(out)
    }

    fn take_mail(&self, mail: &DueMail, now: u64) -> Result<Option<DueMail>, StoreError> {
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

    fn next_mail_due(&self) -> Result<Option<u64>, StoreError> {
        match self.outbox.first()? {
            Some((k, _)) => Ok(Some(codec::read_id("outbox", &k, &k[..8.min(k.len())])?)),
            None => Ok(None),
        }
    }

    fn mail_waiting(&self) -> usize {
        self.outbox.len()
    }

    fn settle_mail(&self, mail: &DueMail, how: &Settle) -> Result<bool, StoreError> {
        let _w = self.writing();
        let settled = (&*self.outbox, &self.meta).transaction(|(outbox, meta)| {
            let outbox = TxOf::<of::outbox>::from(outbox);
            let Some(mut out) = outbox.row(&mail.key)? else {
                return Ok(false);
            };
            outbox.remove(mail.key.as_slice())?;
            out.attempts += 1;
            let counted = match how {
                Settle::Sent => "sent",
                Settle::Failed { .. } => "failed",
                Settle::Retry { at, error } => {
                    out.last_error = error.clone();
                    outbox.put(&outbox_key(*at, mail.message, mail.user), &out)?;
                    return Ok(true);
                }
            };
            bump_counter(meta, &message_counter(mail.message, "queued"), -1)?;
            bump_counter(meta, &message_counter(mail.message, counted), 1)?;
            Ok(true)
        })?;
        Ok(settled)
    }

    fn cancel_waiting_mail(&self, reason: &str) -> Result<u64, StoreError> {
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

impl SledStore {
    pub(crate) fn counter(&self, name: &str) -> Result<u64, StoreError> {
        Ok(read_counter(self.meta.get(counter_key(name))?))
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
            let (k, member) = self.group_members.decode_row(item)?;
            let user = codec::read_id("group_members", &k, &k[8..])?;
            batch.push((user, member.joined_at <= msg.sent_at));
        }
        let last = batch.last().map(|(u, _)| *u);
        let finished = (
            &*self.inbox,
            &self.meta,
            &*self.messages,
            &*self.jobs,
            &*self.outbox,
            &*self.users,
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
                    TxOf::<of::inbox>::from(inbox)
                        .put((*user, message), &InboxRecord { read: false })?;
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
                            TxOf::<of::outbox>::from(outbox)
                                .put(&outbox_key(now, message, *user), &out)?;
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
}

#[cfg(test)]
mod tests;
