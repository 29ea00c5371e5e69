//! The mailer: sends the e-mails waiting in the store's outbox (`store/messages.rs`) through
//! the configured SMTP server, one at a time on its own task, so no request ever waits for a
//! mail server.
//!
//! The outbox lives in the data directory: an e-mail queued before a crash or restart is sent
//! after it. What a failure means depends on what failed:
//! - the server refused this address for good (a 5.5.x reply: no such mailbox, say): the
//!   e-mail fails at once;
//! - anything else (the server is down or unreachable, a timeout, a temporary refusal, a
//!   failed login): it is tried again later, after `retry_after`, then twice as long each time
//!   up to an hour, and fails only once it has waited `give_up_after` (a day by default), so
//!   an outage of a few hours loses nothing. While the server cannot be reached the mailer
//!   pauses (growing the same way) instead of trying every waiting e-mail in turn.
//!
//! An e-mail whose attempt was made but whose outcome could not be written yet is not sent
//! again by this run; one sent just before a crash may be sent again after it (at least once,
//! never lost).
//!
//! Without SMTP configured, e-mails still waiting (queued while it was) fail with a reason
//! instead of waiting for ever.

use super::config::MailConfig;
use super::flusher::Flusher;
use super::store::messages::{DueMail, Settle};
use super::store::{now_ms, Store};
use super::store_cell::StoreCell;
use lettre::message::{header::ContentType, Mailbox};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// E-mails read from the outbox at a time.
const BATCH: usize = 32;
/// The longest wait between two attempts at one e-mail, and the longest pause.
const MAX_WAIT: Duration = Duration::from_secs(3600);

/// Handle to the mailer; cheap to clone.
#[derive(Clone)]
pub struct Mailer {
    wake: Arc<Notify>,
    pub enabled: bool,
}

impl Mailer {
    /// Starts the mailer on the current tokio runtime: sending when `config` is set, otherwise
    /// failing whatever is left in the outbox.
    pub fn start(store: StoreCell, flusher: Flusher, config: Option<MailConfig>) -> Mailer {
        let wake = Arc::new(Notify::new());
        let enabled = config.is_some();
        let w = wake.clone();
        match config {
            Some(config) => tokio::spawn(async move { run(store, flusher, config, w).await }),
            None => tokio::spawn(async move { drain(store, flusher, w).await }),
        };
        Mailer { wake, enabled }
    }

    /// Tells the mailer there may be new e-mails.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// What [`Mailer::wake`] notifies, for the job runner (deliveries queue e-mails).
    pub fn notifier(&self) -> Arc<Notify> {
        self.wake.clone()
    }
}

/// Without SMTP: fails every waiting e-mail, now and whenever woken (a delivery that was
/// under way when mail was switched off may queue more).
async fn drain(cell: StoreCell, flusher: Flusher, wake: Arc<Notify>) {
    loop {
        // While nothing can be saved, wait: the recovery wakes the mailer.
        if let (Ok(()), Ok(store)) = (cell.writable(), cell.store()) {
            let s = store.clone();
            let n = tokio::task::spawn_blocking(move || {
                s.cancel_waiting_mail("e-mail is no longer configured on this server")
            })
            .await;
            match n {
                Ok(Ok(0)) => {}
                Ok(Ok(n)) => {
                    tracing::warn!(
                        emails = n,
                        "e-mails were waiting but SMTP is not configured: marked failed"
                    );
                    let _ = flusher.flush(&store).await;
                }
                other => tracing::error!(error = ?other.err(), "cannot read the e-mail queue"),
            }
        }
        tokio::select! {
            _ = wake.notified() => {}
            _ = tokio::time::sleep(Duration::from_secs(60)) => {}
        }
    }
}

/// What one attempt came to.
enum Attempt {
    Sent,
    /// This address will never work.
    Rejected(String),
    /// Worth trying again later; `server` when the server itself failed (down, unreachable,
    /// timed out, refused the login): no point trying the next e-mail now.
    Later {
        error: String,
        server: bool,
    },
}

async fn run(cell: StoreCell, flusher: Flusher, config: MailConfig, wake: Arc<Notify>) {
    let transport = match AsyncSmtpTransport::<Tokio1Executor>::from_url(&config.url) {
        Ok(t) => t.timeout(Some(Duration::from_secs(30))).build(),
        Err(e) => {
            // Checked when the configuration was read; kept as a log line, not a panic.
            tracing::error!(error = %e, "the SMTP address cannot be used; no e-mail is sent");
            return;
        }
    };
    // Sent, but the outcome is not written yet: never sent again by this run.
    let mut unrecorded: Vec<DueMail> = Vec::new();
    let mut pause = Duration::ZERO;
    loop {
        // While nothing can be saved, send nothing (an outcome could not be recorded): the
        // recovery wakes the mailer. The store is held for one round only, so that a store
        // being opened again is not kept waiting.
        let store = match (cell.writable(), cell.store()) {
            (Ok(()), Ok(store)) => store,
            _ => {
                tokio::select! {
                    _ = wake.notified() => {}
                    _ = tokio::time::sleep(Duration::from_secs(60)) => {}
                }
                continue;
            }
        };
        if !unrecorded.is_empty() {
            let s = store.clone();
            let pending = std::mem::take(&mut unrecorded);
            let left = tokio::task::spawn_blocking(move || {
                pending
                    .into_iter()
                    .filter(|m| s.settle_mail(m, &Settle::Sent).is_err())
                    .collect::<Vec<_>>()
            })
            .await
            .unwrap_or_default();
            unrecorded = left;
            let _ = flusher.flush(&store).await;
        }
        let due = {
            let store = store.clone();
            tokio::task::spawn_blocking(move || store.due_mail(now_ms(), BATCH)).await
        };
        let due = match due {
            Ok(Ok(d)) => d,
            other => {
                tracing::error!(error = ?other.err(), "cannot read the e-mail queue");
                tokio::time::sleep(Duration::from_secs(5)).await;
                continue;
            }
        };
        let skip: HashSet<Vec<u8>> = unrecorded.iter().map(|m| m.key.clone()).collect();
        let due: Vec<DueMail> = due.into_iter().filter(|m| !skip.contains(&m.key)).collect();
        if due.is_empty() {
            let wait = if !unrecorded.is_empty() {
                Duration::from_secs(1)
            } else {
                let store = store.clone();
                let next = tokio::task::spawn_blocking(move || store.next_mail_due())
                    .await
                    .ok()
                    .and_then(Result::ok)
                    .flatten();
                next.map_or(Duration::from_secs(60), |at| {
                    Duration::from_millis(at.saturating_sub(now_ms()).clamp(10, 60_000))
                })
            };
            drop(store);
            tokio::select! {
                _ = wake.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
            continue;
        }
        for mail in due {
            // Taken first, so that another server's mailer on the same store leaves it alone.
            let taken = {
                let (store, mail) = (store.clone(), mail.clone());
                tokio::task::spawn_blocking(move || store.take_mail(&mail, now_ms())).await
            };
            let mail = match taken {
                Ok(Ok(Some(mail))) => mail,
                Ok(Ok(None)) => continue,
                other => {
                    tracing::error!(error = ?other, "cannot take an e-mail from the queue");
                    break;
                }
            };
            let attempt = send_one(&store, &transport, &config, &mail).await;
            let now = now_ms();
            let waited = Duration::from_millis(now.saturating_sub(mail.out.queued_at));
            let (how, server_down) = match attempt {
                Attempt::Sent => (Settle::Sent, false),
                Attempt::Rejected(error) => {
                    tracing::warn!(error, "an e-mail address was refused; not trying again");
                    (Settle::Failed { error }, false)
                }
                Attempt::Later { error, server } if waited >= config.give_up_after => {
                    tracing::error!(
                        error,
                        "an e-mail could not be sent in time; giving up on it"
                    );
                    (Settle::Failed { error }, server)
                }
                Attempt::Later { error, server } => {
                    tracing::warn!(error, "an e-mail could not be sent; it will be tried again");
                    let wait = grown(config.retry_after, mail.out.attempts);
                    let at = now + wait.as_millis() as u64;
                    (Settle::Retry { at, error }, server)
                }
            };
            let recorded = {
                let (store, mail, how) = (store.clone(), mail.clone(), how.clone());
                tokio::task::spawn_blocking(move || store.settle_mail(&mail, &how)).await
            };
            if !matches!(recorded, Ok(Ok(_))) {
                tracing::error!(error = ?recorded, "cannot record an e-mail's outcome");
                if let Ok(Err(super::store::StoreError::Backend(e))) = &recorded {
                    cell.note(e);
                }
                if how == Settle::Sent {
                    unrecorded.push(mail);
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
                break;
            }
            // Each outcome on disk before the next e-mail: a crash resends at most one.
            if let Err(e) = flusher.flush(&store).await {
                tracing::error!(error = %e, "cannot flush the e-mail queue");
                if let super::store::StoreError::Backend(e) = &e {
                    cell.note(e);
                }
            }
            if server_down {
                pause = if pause.is_zero() {
                    config.retry_after
                } else {
                    (pause * 2).min(MAX_WAIT)
                };
                drop(store);
                tokio::select! {
                    _ = wake.notified() => {}
                    _ = tokio::time::sleep(pause) => {}
                }
                break;
            }
            pause = Duration::ZERO;
        }
    }
}

/// `first`, doubled `times` times, at most [`MAX_WAIT`].
fn grown(first: Duration, times: u32) -> Duration {
    first.saturating_mul(1u32 << times.min(16)).min(MAX_WAIT)
}

/// Sends one e-mail.
async fn send_one(
    store: &Store,
    transport: &AsyncSmtpTransport<Tokio1Executor>,
    config: &MailConfig,
    mail: &DueMail,
) -> Attempt {
    let message = {
        let store = store.clone();
        let id = mail.message;
        tokio::task::spawn_blocking(move || {
            Ok::<_, super::store::StoreError>(match store.get_message(id)? {
                Some(m) => Some((m, store.message_body(id)?.unwrap_or_default())),
                None => None,
            })
        })
        .await
    };
    let (m, body) = match message {
        Ok(Ok(Some(found))) => found,
        Ok(Ok(None)) => return Attempt::Rejected("the message is gone".into()),
        other => {
            return Attempt::Later {
                error: format!("the message cannot be read: {:?}", other.err()),
                server: false,
            }
        }
    };
    let email = match build(config, mail, &m, &body) {
        Ok(e) => e,
        Err(e) => return Attempt::Rejected(e),
    };
    match transport.send(email).await {
        Ok(_) => Attempt::Sent,
        Err(e) => {
            let mailbox_refused = e.is_permanent()
                && e.status().is_some_and(|c| {
                    c.category == lettre::transport::smtp::response::Category::MailSystem
                });
            if mailbox_refused {
                Attempt::Rejected(e.to_string())
            } else {
                Attempt::Later {
                    error: e.to_string(),
                    server: !e.is_response() || !e.is_transient(),
                }
            }
        }
    }
}

fn build(
    config: &MailConfig,
    mail: &DueMail,
    m: &super::store::messages::MessageRecord,
    body: &str,
) -> Result<lettre::Message, String> {
    let to = Mailbox::new(
        Some(mail.out.name.clone()),
        mail.out
            .to
            .parse()
            .map_err(|e| format!("the address {} cannot be used: {e}", mail.out.to))?,
    );
    let text = format!(
        "{body}\n\n-- \n{} wrote this to the members of {} in Tessera; it is in your inbox there too.\n",
        m.sender_name, m.group_name
    );
    lettre::Message::builder()
        .from(config.from.clone())
        .to(to)
        .subject(m.subject.clone())
        .header(ContentType::TEXT_PLAIN)
        .body(text)
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    #[test]
    fn waits_grow_to_an_hour() {
        use std::time::Duration;
        let s = Duration::from_secs(30);
        assert_eq!(super::grown(s, 0), s);
        assert_eq!(super::grown(s, 3), Duration::from_secs(240));
        assert_eq!(super::grown(s, 40), super::MAX_WAIT);
    }
}
