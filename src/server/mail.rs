//! The mailer: sends the e-mails waiting in the store's outbox (`store/messages.rs`) through
//! the configured SMTP server, one at a time on its own task, so no request ever waits for a
//! mail server.
//!
//! The outbox lives in the data directory: an e-mail queued before a crash or restart is sent
//! after it. A failed attempt is tried again after `retry_after`, then twice as long each time,
//! until the last of `attempts` counts it failed on its message. An e-mail whose attempt was
//! made but not yet recorded when the server stopped is sent again (at least once, never lost).

use super::config::MailConfig;
use super::flusher::Flusher;
use super::store::messages::{DueMail, MailOutcome};
use super::store::{now_ms, Store};
use lettre::message::{header::ContentType, Mailbox};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// E-mails read from the outbox at a time.
const BATCH: usize = 32;

/// Handle to the mailer; cheap to clone. Without SMTP configured it does nothing.
#[derive(Clone)]
pub struct Mailer {
    wake: Arc<Notify>,
    pub enabled: bool,
}

impl Mailer {
    /// Starts the mailer on the current tokio runtime when `config` is set.
    pub fn start(store: Store, flusher: Flusher, config: Option<MailConfig>) -> Mailer {
        let wake = Arc::new(Notify::new());
        let enabled = config.is_some();
        if let Some(config) = config {
            let w = wake.clone();
            tokio::spawn(async move { run(store, flusher, config, w).await });
        }
        Mailer { wake, enabled }
    }

    /// Tells the mailer there are new e-mails.
    pub fn wake(&self) {
        self.wake.notify_one();
    }
}

async fn run(store: Store, flusher: Flusher, config: MailConfig, wake: Arc<Notify>) {
    let transport = match AsyncSmtpTransport::<Tokio1Executor>::from_url(&config.url) {
        Ok(t) => t.timeout(Some(Duration::from_secs(30))).build(),
        Err(e) => {
            // Checked when the configuration was read; kept as a log line, not a panic.
            tracing::error!(error = %e, "the SMTP address cannot be used; no e-mail is sent");
            return;
        }
    };
    loop {
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
        if due.is_empty() {
            let next = {
                let store = store.clone();
                tokio::task::spawn_blocking(move || store.next_mail_due())
                    .await
                    .ok()
                    .and_then(Result::ok)
                    .flatten()
            };
            let wait = next.map_or(Duration::from_secs(60), |at| {
                Duration::from_millis(at.saturating_sub(now_ms()).clamp(10, 60_000))
            });
            tokio::select! {
                _ = wake.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
            continue;
        }
        for mail in due {
            send_one(&store, &transport, &config, mail).await;
        }
        if let Err(e) = flusher.flush().await {
            tracing::error!(error = %e, "cannot flush the e-mail queue");
        }
    }
}

/// Sends one e-mail and records the outcome.
async fn send_one(
    store: &Store,
    transport: &AsyncSmtpTransport<Tokio1Executor>,
    config: &MailConfig,
    mail: DueMail,
) {
    let message = {
        let store = store.clone();
        let id = mail.message;
        tokio::task::spawn_blocking(move || store.get_message(id))
            .await
            .ok()
            .and_then(Result::ok)
            .flatten()
    };
    let (result, attempts) = match message.map(|m| build(config, &mail, &m)) {
        None => (Err("the message is gone".to_string()), 0),
        // An address the mail library refuses will not get better: no retries.
        Some(Err(e)) => (Err(e), 0),
        Some(Ok(email)) => (
            transport
                .send(email)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string()),
            config.attempts,
        ),
    };
    let factor = 1u32 << mail.out.attempts.min(16);
    let retry_at = now_ms() + (config.retry_after * factor).as_millis() as u64;
    let recorded = {
        let store = store.clone();
        let r = result.clone();
        tokio::task::spawn_blocking(move || {
            store.mail_attempted(
                &mail,
                r.as_ref().map(|_| ()).map_err(String::as_str),
                attempts,
                retry_at,
            )
        })
        .await
    };
    match (recorded, result) {
        (Ok(Ok(MailOutcome::Sent)), _) => tracing::debug!("e-mail sent"),
        (Ok(Ok(MailOutcome::Retry { .. })), Err(e)) => {
            tracing::warn!(error = %e, "an e-mail could not be sent; it will be tried again")
        }
        (Ok(Ok(_)), Err(e)) => {
            tracing::error!(error = %e, "an e-mail could not be sent; giving up on it")
        }
        (Ok(Ok(_)), Ok(())) => {}
        (other, _) => tracing::error!(error = ?other.err(), "cannot record an e-mail's outcome"),
    }
}

fn build(
    config: &MailConfig,
    mail: &DueMail,
    m: &super::store::messages::MessageRecord,
) -> Result<lettre::Message, String> {
    let to = Mailbox::new(
        Some(mail.out.name.clone()),
        mail.out
            .to
            .parse()
            .map_err(|e| format!("the address {} cannot be used: {e}", mail.out.to))?,
    );
    let body = format!(
        "{}\n\n-- \n{} wrote this to the members of {} in Tessera; it is in your inbox there too.\n",
        m.body, m.sender_name, m.group_name
    );
    lettre::Message::builder()
        .from(config.from.clone())
        .to(to)
        .subject(m.subject.clone())
        .header(ContentType::TEXT_PLAIN)
        .body(body)
        .map_err(|e| e.to_string())
}
