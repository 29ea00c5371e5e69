//! Messages: administrators and a group's managers write to all its members; everyone reads
//! their own inbox.

use crate::model::message::{InboxRow, MessageView, Sent, SentRow};
use crate::model::{AppError, Paged};
use leptos::prelude::*;

/// How long sending delivers in the request itself before leaving the rest of a large group to
/// the job runner (the sender is told it is still going).
#[cfg(feature = "ssr")]
const DELIVER_IN_REQUEST: std::time::Duration = std::time::Duration::from_millis(1500);

/// Sends a message to every current member of group `id` (one inbox entry each; members who
/// join later do not get it) and, when the server mails messages, queues an e-mail to each
/// active member. Administrators and the group's managers; others `Forbidden`. A blank or too
/// long subject or body is an error on its field and sends nothing. The browser goes to the
/// group's Messages tab, which says how many members it reached.
#[server(endpoint = "send_group_message")]
pub async fn send_group_message(id: u64, subject: String, body: String) -> Result<Sent, AppError> {
    let caller = crate::server::session_guards::require_group_reader(id).await?;
    let state = crate::server::state::app_state()?;
    use crate::model::error::Every;
    let (subject, body) = (
        crate::model::message::validate_subject(&subject),
        crate::model::message::validate_body(&body),
    )
        .every()?;
    let actor = caller.actor();
    let mail = state.mailer.enabled;
    let (message, job) = state
        .write(move |s| s.send_message(actor, id, &subject, &body, mail))
        .await?;
    // Sent: from here on, a failure only delays delivery (the job runner finishes it).
    let delivered = state
        .write(move |s| {
            let started = std::time::Instant::now();
            while started.elapsed() < DELIVER_IN_REQUEST
                && s.run_job_step(job, crate::server::store::now_ms())?
                    == crate::server::store::jobs::Step::More
            {}
            let m = s
                .get_message(message)?
                .ok_or(crate::server::store::StoreError::NotFound("message"))?;
            Ok((m.recipients, s.message_delivered(message)?, m.delivering))
        })
        .await;
    let sent = match delivered {
        Ok((recipients, delivered, delivering)) => Sent {
            id: message,
            recipients,
            delivered,
            delivering,
            mailed: mail,
        },
        Err(e) => {
            tracing::error!(error = %e, message, "delivering a sent message failed; the job runner goes on");
            Sent {
                id: message,
                recipients: 0,
                delivered: 0,
                delivering: true,
                mailed: mail,
            }
        }
    };
    if sent.delivering {
        state.jobs.wake();
    }
    if sent.mailed {
        state.mailer.wake();
    }
    leptos_axum::redirect(&format!("/groups/{id}?tab=messages&sent={}", sent.id));
    Ok(sent)
}

/// One page (from 1) of the messages sent to group `id`, newest first, with their delivery and
/// e-mail counts. Administrators and the group's managers; others `Forbidden`.
#[server(endpoint = "group_messages")]
pub async fn group_messages(id: u64, page: u32) -> Result<Paged<SentRow>, AppError> {
    crate::server::session_guards::require_group_reader(id).await?;
    let state = crate::server::state::app_state()?;
    let (rows, total) = state.read(move |s| s.group_messages(id, page)).await?;
    Ok(super::paged(rows, total, false, page))
}

/// One page (from 1) of the signed-in user's inbox, newest first.
#[server(endpoint = "inbox")]
pub async fn inbox(page: u32) -> Result<Paged<InboxRow>, AppError> {
    let user = crate::server::session_guards::require_user().await?;
    let state = crate::server::state::app_state()?;
    let uid = user.id;
    let (rows, total) = state.read(move |s| s.inbox(uid, page)).await?;
    Ok(super::paged(rows, total, false, page))
}

/// The signed-in user's unread messages, not counting message `opening` (the one the page
/// being shown opens, which is read by the time they see the count; 0 = none).
#[server(endpoint = "unread_count")]
pub async fn unread_count(opening: u64) -> Result<u64, AppError> {
    let user = crate::server::session_guards::require_user().await?;
    let state = crate::server::state::app_state()?;
    let uid = user.id;
    state.read_now(|s| s.unread_count_besides(uid, opening))
}

/// Opens message `id` of the signed-in user's inbox and marks it read. `NotFound` when it is
/// not in their inbox.
#[server(endpoint = "open_message")]
pub async fn open_message(id: u64) -> Result<MessageView, AppError> {
    let user = crate::server::session_guards::require_user().await?;
    let state = crate::server::state::app_state()?;
    let uid = user.id;
    state
        .write(move |s| s.open_message(uid, id))
        .await
        .map_err(|e| match e {
            AppError::NotFound { .. } => AppError::not_found("Message"),
            other => other,
        })
}

/// Marks message `id` of the signed-in user's inbox unread again; the browser goes back to
/// the inbox. `NotFound` when it is not in their inbox.
#[server(endpoint = "mark_message_unread")]
pub async fn mark_message_unread(id: u64) -> Result<(), AppError> {
    let user = crate::server::session_guards::require_user().await?;
    let state = crate::server::state::app_state()?;
    let uid = user.id;
    state
        .write(move |s| s.set_message_read(uid, id, false))
        .await?;
    leptos_axum::redirect("/inbox");
    Ok(())
}
