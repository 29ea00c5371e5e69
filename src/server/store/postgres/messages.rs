//! The PostgreSQL backend's Messages (the interface: `crate::server::store::messages`; the
//! behaviour: `sled/messages.rs`): `messages` with their `message_bodies`, the members'
//! `inbox` rows, the e-mail `outbox`, and the delivery job's step.
//!
//! **Totals.** A user's inbox and unread messages are counted through `inbox`'s primary key
//! and its partial index `inbox_unread` (one user's messages: hundreds); a group's sent
//! messages through `messages_group`; a message's delivered and e-mail counts are columns of
//! its own row. No row is written by every sender or every reader.
//!
//! **Isolation.** Sending runs `SERIALIZABLE` with the group's row locked (the recipients
//! count is its members at that moment, and joins queue behind the send). Everything else
//! changes one row, or one message's rows, in single conditional statements under
//! `READ COMMITTED` with row locks: marking read, taking and settling an e-mail. A page with its
//! total reads one snapshot (`REPEATABLE READ`).
//!
//! **Delivery.** [`deliver_step`] is the `deliver_message` kind's step in the job runner
//! (`jobs.rs`): the next [`STEP_BATCH`] members by user id after the job's cursor who had
//! joined by the time the message was sent get an inbox row (and, when mailed and active, an
//! outbox row), with the counts and the cursor, in the one transaction that first checks the
//! job row is still this runner's at this cursor. A step of a runner whose lease was taken
//! over writes nothing, and the rows' primary keys (`ON CONFLICT DO NOTHING`) make a second
//! entry for one member impossible anyway. The last step clears `delivering` and deletes the
//! job, as on sled; a job failed for good clears `delivering` too ([`delivery_failed`]).
//!
//! **The outbox, shared by every server.** An entry is due at `due_ms`. [`Messages::take_mail`]
//! moves it to `now +` [`MAIL_LEASE_MS`] in one `UPDATE` whose condition is the due time the
//! mailer saw (the compare-and-swap sled's key gives): of two servers that saw it due, one
//! takes it, the other gets `None`. Settling checks the same due time, so a mailer whose lease
//! ran out and was taken over settles nothing. A server that dies while holding a mail leaves
//! it due again when the lease expires, and another sends it. Duplicates are bounded to that
//! case: an e-mail goes out twice only when its mailer handed it to the SMTP server and then
//! died (or stalled past the five-minute lease, ten times its connection timeout) before its
//! settling committed, once per such death.

pub(crate) use crate::server::store::messages::*;

use super::groups::{must as must_group, user_login};
use super::jobs::{self as pg_jobs, Advance};
use super::{refuse_nul, PgError, PgStore};
use crate::model::group::AuditAction;
use crate::model::message::{InboxRow, MailCounts, MessageView, SentRow};
use crate::model::user::PER_PAGE;
use crate::server::store::codec::read_id;
use crate::server::store::groups::Actor;
use crate::server::store::jobs::{JobKind, JobRecord, Step, STEP_BATCH};
use crate::server::store::{Core, StoreError};
use postgres::{GenericClient, IsolationLevel, Transaction};

/// The columns of `messages` that make a [`MessageRecord`], in [`message_of`]'s order.
const MESSAGE_COLUMNS: &str = "group_id, group_name, sender, sender_name, subject, sent_at_ms, \
     recipients, mail, delivering";

/// A row of [`MESSAGE_COLUMNS`] (from column `first` on) as its record.
fn message_of(row: &postgres::Row, first: usize) -> MessageRecord {
    let u = |i: usize| row.get::<_, i64>(first + i) as u64;
    MessageRecord {
        group: u(0),
        group_name: row.get(first + 1),
        sender: u(2),
        sender_name: row.get(first + 3),
        subject: row.get(first + 4),
        sent_at: u(5),
        recipients: u(6),
        mail: row.get(first + 7),
        delivering: row.get(first + 8),
    }
}

/// The columns of `outbox` that make a [`DueMail`], in [`mail_of`]'s order.
const MAIL_COLUMNS: &str = "due_ms, message_id, user_id, \"to\", name, queued_at_ms, attempts, \
     last_error";

/// A row of [`MAIL_COLUMNS`] as the mail a mailer is handed.
fn mail_of(row: &postgres::Row) -> DueMail {
    let u = |i: usize| row.get::<_, i64>(i) as u64;
    DueMail {
        key: outbox_key(u(0), u(1), u(2)).to_vec(),
        message: u(1),
        user: u(2),
        out: OutboxRecord {
            to: row.get(3),
            name: row.get(4),
            queued_at: u(5),
            attempts: u(6) as u32,
            last_error: row.get(7),
        },
    }
}

/// A time (ms) as a `bigint`: `u64::MAX` ("whenever") and anything past `i64::MAX` is the
/// latest time the column holds.
fn ms(t: u64) -> i64 {
    i64::try_from(t).unwrap_or(i64::MAX)
}

/// The due time a mailer saw, from its mail's key.
fn seen_due(mail: &DueMail) -> Result<i64, StoreError> {
    let due = mail.key.get(..8).unwrap_or(&mail.key);
    Ok(ms(read_id("outbox", &mail.key, due)?))
}

/// Rows to skip for page `page` (from 1) of [`PER_PAGE`].
fn offset(page: u32) -> i64 {
    (i64::from(page.max(1)) - 1) * i64::from(PER_PAGE)
}

/// What a message's e-mails came to (zeros for a message that does not exist, as sled's
/// counters give).
fn mail_counts(c: &mut impl GenericClient, id: u64) -> Result<MailCounts, postgres::Error> {
    let row = c.query_opt(
        "SELECT mail_queued, mail_sent, mail_failed FROM messages WHERE id = $1",
        &[&(id as i64)],
    )?;
    Ok(row.map_or(MailCounts::default(), |r| MailCounts {
        queued: r.get::<_, i64>(0) as u64,
        sent: r.get::<_, i64>(1) as u64,
        failed: r.get::<_, i64>(2) as u64,
    }))
}

/// Inside `fail_job`'s transaction: when job `job` delivers a message, the message stops saying
/// "delivering" (what was delivered stays).
pub(crate) fn delivery_failed(t: &mut Transaction<'_>, job: u64) -> Result<(), postgres::Error> {
    t.execute(
        "UPDATE messages SET delivering = false WHERE id = (SELECT target_id FROM jobs \
         WHERE id = $1 AND kind = 'deliver_message')",
        &[&(job as i64)],
    )?;
    Ok(())
}

/// One step of a message's delivery (see the module text), run by the runner holding `job`.
pub(crate) fn deliver_step(store: &PgStore, job: &JobRecord, now: u64) -> Result<Step, StoreError> {
    let JobKind::DeliverMessage { message } = job.kind else {
        return Err(StoreError::Corrupt {
            tree: "jobs",
            key: job.id.to_string(),
            reason: "not a message delivery".into(),
        });
    };
    let (mid, jid) = (message as i64, job.id as i64);
    // As sled's cursor: the last member handled, 0 before the first step.
    let start = job.cursor.saturating_add(u64::from(job.cursor != 0)) as i64;
    store.step_tx(job, now, |t| {
        let msg = t
            .query_opt(
                "SELECT group_id, sent_at_ms, mail FROM messages WHERE id = $1",
                &[&mid],
            )?
            .ok_or(PgError::Store(StoreError::NotFound("message")))?;
        let (group, sent_at, mail): (i64, i64, bool) = (msg.get(0), msg.get(1), msg.get(2));
        let batch: Vec<(i64, bool)> = t
            .query(
                "SELECT user_id, joined_at_ms <= $3 FROM group_members \
                 WHERE group_id = $1 AND user_id >= $2 ORDER BY user_id LIMIT $4",
                &[&group, &start, &sent_at, &(STEP_BATCH as i64)],
            )?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        let Some(&(last, _)) = batch.last() else {
            t.execute(
                "UPDATE messages SET delivering = false WHERE id = $1",
                &[&mid],
            )?;
            // A finished delivery leaves no job behind (as on sled): the runner's own update
            // of the row then finds none.
            t.execute("DELETE FROM jobs WHERE id = $1", &[&jid])?;
            return Ok(Advance::Finished { handled: 0 });
        };
        let members: Vec<i64> = batch.iter().filter(|(_, m)| *m).map(|(u, _)| *u).collect();
        let delivered: Vec<i64> = t
            .query(
                "INSERT INTO inbox (user_id, message_id, read) \
                 SELECT u, $2, false FROM unnest($1::bigint[]) AS u \
                 ON CONFLICT DO NOTHING RETURNING user_id",
                &[&members, &mid],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let queued = if mail && !delivered.is_empty() {
            t.execute(
                "INSERT INTO outbox (message_id, user_id, due_ms, \"to\", name, queued_at_ms, \
                 attempts, last_error) \
                 SELECT $1, id, $3, email, display_name, $3, 0, '' FROM users \
                 WHERE id = ANY($2) AND active ON CONFLICT DO NOTHING",
                &[&mid, &delivered, &ms(now)],
            )? as i64
        } else {
            0
        };
        t.execute(
            "UPDATE messages SET delivered = delivered + $2, mail_queued = mail_queued + $3 \
             WHERE id = $1",
            &[&mid, &(delivered.len() as i64), &queued],
        )?;
        Ok(Advance::More {
            handled: batch.len() as u64,
            cursor: last as u64,
        })
    })
}

impl Messages for PgStore {
    fn send_message(
        &self,
        actor: Actor,
        group: u64,
        subject: &str,
        body: &str,
        mail: bool,
    ) -> Result<(u64, u64), StoreError> {
        refuse_nul("subject", subject)?;
        refuse_nul("body", body)?;
        let id = self.new_id()?;
        let job = self.new_id()?;
        let event = self.new_id()?;
        self.tx(IsolationLevel::Serializable, |t| {
            let g = must_group(t, group, true)?;
            let login = user_login(t, actor.user)?;
            let sender: String = t
                .query_one(
                    "SELECT display_name FROM users WHERE id = $1",
                    &[&(actor.user as i64)],
                )?
                .get(0);
            t.execute(
                "INSERT INTO messages (id, group_id, group_name, sender, sender_name, subject, \
                 sent_at_ms, recipients, mail, delivering) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, true)",
                &[
                    &(id as i64),
                    &(group as i64),
                    &g.name,
                    &(actor.user as i64),
                    &sender,
                    &subject,
                    &ms(actor.now),
                    &(g.members as i64),
                    &mail,
                ],
            )?;
            t.execute(
                "INSERT INTO message_bodies (message_id, body) VALUES ($1, $2)",
                &[&(id as i64), &body],
            )?;
            pg_jobs::insert(
                t,
                &JobRecord::new(
                    job,
                    JobKind::DeliverMessage { message: id },
                    g.members,
                    actor.user,
                    actor.now,
                ),
            )?;
            super::audit::record(
                t,
                group,
                event,
                actor,
                AuditAction::MessageSent,
                sent_detail(&login, subject, g.members),
            )?;
            Ok(())
        })?;
        Ok((id, job))
    }

    fn get_message(&self, id: u64) -> Result<Option<MessageRecord>, StoreError> {
        self.read_tx(|t| {
            let row = t.query_opt(
                &format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = $1"),
                &[&(id as i64)],
            )?;
            Ok(row.map(|r| message_of(&r, 0)))
        })
    }

    fn message_delivered(&self, id: u64) -> Result<u64, StoreError> {
        self.read_tx(|t| {
            let row = t.query_opt(
                "SELECT delivered FROM messages WHERE id = $1",
                &[&(id as i64)],
            )?;
            Ok(row.map_or(0, |r| r.get::<_, i64>(0) as u64))
        })
    }

    fn message_mail(&self, id: u64) -> Result<MailCounts, StoreError> {
        self.read_tx(|t| Ok(mail_counts(t, id)?))
    }

    fn unread_count(&self, user: u64) -> Result<u64, StoreError> {
        self.unread_count_besides(user, u64::MAX)
    }

    fn unread_count_besides(&self, user: u64, opening: u64) -> Result<u64, StoreError> {
        // One statement: one committed state, so a message opened at this moment is counted
        // once or not at all.
        self.read_tx(|t| {
            let n: i64 = t
                .query_one(
                    "SELECT count(*) FROM inbox WHERE user_id = $1 AND NOT read \
                     AND message_id <> $2",
                    &[&(user as i64), &ms(opening)],
                )?
                .get(0);
            Ok(n as u64)
        })
    }

    fn inbox(&self, user: u64, page: u32) -> Result<(Vec<InboxRow>, u64), StoreError> {
        self.page_tx(|t| {
            let total: i64 = t
                .query_one(
                    "SELECT count(*) FROM inbox WHERE user_id = $1",
                    &[&(user as i64)],
                )?
                .get(0);
            let rows = t
                .query(
                    "WITH page AS MATERIALIZED (SELECT message_id, read FROM inbox \
                     WHERE user_id = $1 ORDER BY message_id DESC LIMIT $2 OFFSET $3) \
                     SELECT p.message_id, p.read, m.subject, m.sender_name, m.group_name, \
                     m.sent_at_ms FROM page p JOIN messages m ON m.id = p.message_id \
                     ORDER BY p.message_id DESC",
                    &[&(user as i64), &i64::from(PER_PAGE), &offset(page)],
                )?
                .iter()
                .map(|r| InboxRow {
                    id: r.get::<_, i64>(0) as u64,
                    read: r.get(1),
                    subject: r.get(2),
                    sender: r.get(3),
                    group: r.get(4),
                    sent_at: r.get::<_, i64>(5) as u64,
                })
                .collect();
            Ok((rows, total as u64))
        })
    }

    fn open_message(&self, user: u64, id: u64) -> Result<MessageView, StoreError> {
        self.tx(IsolationLevel::ReadCommitted, |t| {
            let marked = t.execute(
                "UPDATE inbox SET read = true WHERE user_id = $1 AND message_id = $2",
                &[&(user as i64), &(id as i64)],
            )?;
            if marked == 0 {
                return Err(StoreError::NotFound("message").into());
            }
            let r = t
                .query_opt(
                    &format!(
                        "SELECT {MESSAGE_COLUMNS}, coalesce(b.body, '') FROM messages m \
                         LEFT JOIN message_bodies b ON b.message_id = m.id WHERE m.id = $1"
                    ),
                    &[&(id as i64)],
                )?
                .ok_or(PgError::Store(StoreError::NotFound("message")))?;
            let m = message_of(&r, 0);
            Ok(MessageView {
                id,
                subject: m.subject,
                body: r.get(9),
                sender: m.sender_name,
                group_id: m.group,
                group: m.group_name,
                sent_at: m.sent_at,
                read: true,
            })
        })
    }

    fn message_body(&self, id: u64) -> Result<Option<String>, StoreError> {
        self.read_tx(|t| {
            let row = t.query_opt(
                "SELECT body FROM message_bodies WHERE message_id = $1",
                &[&(id as i64)],
            )?;
            Ok(row.map(|r| r.get(0)))
        })
    }

    fn set_message_read(&self, user: u64, id: u64, read: bool) -> Result<(), StoreError> {
        self.tx(IsolationLevel::ReadCommitted, |t| {
            // The unread count is counted through `inbox_unread`: the row is all there is.
            let n = t.execute(
                "UPDATE inbox SET read = $3 WHERE user_id = $1 AND message_id = $2",
                &[&(user as i64), &(id as i64), &read],
            )?;
            if n == 0 {
                return Err(StoreError::NotFound("message").into());
            }
            Ok(())
        })
    }

    fn group_messages(&self, group: u64, page: u32) -> Result<(Vec<SentRow>, u64), StoreError> {
        self.page_tx(|t| {
            let total: i64 = t
                .query_one(
                    "SELECT count(*) FROM messages WHERE group_id = $1",
                    &[&(group as i64)],
                )?
                .get(0);
            let rows = t
                .query(
                    &format!(
                        "SELECT {MESSAGE_COLUMNS}, id, delivered, mail_queued, mail_sent, \
                         mail_failed FROM messages WHERE group_id = $1 \
                         ORDER BY id DESC LIMIT $2 OFFSET $3"
                    ),
                    &[&(group as i64), &i64::from(PER_PAGE), &offset(page)],
                )?
                .iter()
                .map(|r| {
                    let m = message_of(r, 0);
                    let u = |i: usize| r.get::<_, i64>(i) as u64;
                    SentRow {
                        id: u(9),
                        subject: m.subject,
                        sender: m.sender_name,
                        sent_at: m.sent_at,
                        recipients: m.recipients,
                        delivered: u(10),
                        delivering: m.delivering,
                        mail: m.mail.then(|| MailCounts {
                            queued: u(11),
                            sent: u(12),
                            failed: u(13),
                        }),
                    }
                })
                .collect();
            Ok((rows, total as u64))
        })
    }

    fn due_mail(&self, now: u64, limit: usize) -> Result<Vec<DueMail>, StoreError> {
        self.read_tx(|t| {
            let rows = t.query(
                &format!(
                    "SELECT {MAIL_COLUMNS} FROM outbox WHERE due_ms <= $1 \
                     ORDER BY due_ms, message_id, user_id LIMIT $2"
                ),
                &[&ms(now), &(limit.min(i64::MAX as usize) as i64)],
            )?;
            Ok(rows.iter().map(mail_of).collect())
        })
    }

    fn take_mail(&self, mail: &DueMail, now: u64) -> Result<Option<DueMail>, StoreError> {
        let seen = seen_due(mail)?;
        let until = ms(now.saturating_add(MAIL_LEASE_MS));
        self.tx(IsolationLevel::ReadCommitted, |t| {
            // The row lock makes a racing server wait, then re-check `due_ms = seen` against
            // the winner's new due time: one of them takes it.
            let row = t.query_opt(
                &format!(
                    "UPDATE outbox SET due_ms = $4, lease_holder = $5 WHERE message_id = $1 \
                     AND user_id = $2 AND due_ms = $3 RETURNING {MAIL_COLUMNS}"
                ),
                &[
                    &(mail.message as i64),
                    &(mail.user as i64),
                    &seen,
                    &until,
                    &(self.runner as i64),
                ],
            )?;
            Ok(row.map(|r| mail_of(&r)))
        })
    }

    fn next_mail_due(&self) -> Result<Option<u64>, StoreError> {
        self.read_tx(|t| {
            let row = t.query_one("SELECT min(due_ms) FROM outbox", &[])?;
            Ok(row.get::<_, Option<i64>>(0).map(|d| d as u64))
        })
    }

    fn mail_waiting(&self) -> usize {
        let n = self.read_tx(|t| {
            let n: i64 = t
                .query_one(
                    "SELECT coalesce(sum(mail_queued), 0)::bigint FROM messages \
                     WHERE mail_queued > 0",
                    &[],
                )?
                .get(0);
            Ok(n)
        });
        match n {
            Ok(n) => n.max(0) as usize,
            Err(e) => {
                // The interface has no error here (a figure on the status page): say why it
                // shows nothing.
                tracing::warn!(error = %e, "counting waiting e-mails failed");
                0
            }
        }
    }

    fn settle_mail(&self, mail: &DueMail, how: &Settle) -> Result<bool, StoreError> {
        let seen = seen_due(mail)?;
        let (mid, uid) = (mail.message as i64, mail.user as i64);
        self.tx(IsolationLevel::ReadCommitted, |t| {
            let counted = match how {
                Settle::Retry { at, error } => {
                    // An SMTP server's reply is not ours to refuse: a NUL in it is dropped.
                    let error = error.replace('\0', "");
                    let n = t.execute(
                        "UPDATE outbox SET due_ms = $4, attempts = least(attempts + 1, \
                         4294967295), last_error = $5 WHERE message_id = $1 AND user_id = $2 \
                         AND due_ms = $3",
                        &[&mid, &uid, &seen, &ms(*at), &error],
                    )?;
                    return Ok(n == 1);
                }
                Settle::Sent => "mail_sent",
                Settle::Failed { .. } => "mail_failed",
            };
            let n = t.execute(
                "DELETE FROM outbox WHERE message_id = $1 AND user_id = $2 AND due_ms = $3",
                &[&mid, &uid, &seen],
            )?;
            if n == 0 {
                return Ok(false);
            }
            t.execute(
                &format!(
                    "UPDATE messages SET mail_queued = mail_queued - 1, \
                     {counted} = {counted} + 1 WHERE id = $1"
                ),
                &[&mid],
            )?;
            Ok(true)
        })
    }

    fn cancel_waiting_mail(&self, _reason: &str) -> Result<u64, StoreError> {
        let mut n = 0;
        loop {
            // A batch a transaction, as sled settles them, so a big queue never holds one
            // long transaction.
            let gone: i64 = self.tx(IsolationLevel::ReadCommitted, |t| {
                Ok(t.query_one(
                    "WITH gone AS (DELETE FROM outbox WHERE (message_id, user_id) IN \
                       (SELECT message_id, user_id FROM outbox \
                        ORDER BY due_ms, message_id, user_id LIMIT $1 FOR UPDATE) \
                       RETURNING message_id), \
                     counts AS (SELECT message_id, count(*) AS c FROM gone GROUP BY message_id), \
                     counted AS (UPDATE messages m SET mail_queued = m.mail_queued - c.c, \
                       mail_failed = m.mail_failed + c.c FROM counts c WHERE m.id = c.message_id) \
                     SELECT count(*) FROM gone",
                    &[&(STEP_BATCH as i64)],
                )?
                .get(0))
            })?;
            if gone == 0 {
                return Ok(n);
            }
            n += gone as u64;
        }
    }
}

#[cfg(test)]
mod tests;
