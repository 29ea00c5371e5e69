//! The Messages tab: write to every member of the group (administrators and the group's
//! managers), and what was sent, with how many it reached and what became of the e-mails.

use super::*;
use crate::components::field::Field;
use crate::model::message::SentRow;

// The limits are SUBJECT_MAX and BODY_MAX (checked by the unit test below).
const SUBJECT_HINT: &str = "One line, up to 200 characters.";
const BODY_HINT: &str =
    "Plain text, up to 20,000 characters. Web addresses (https://…) become links.";

#[component]
pub(super) fn MessagesTab(g: GroupView) -> impl IntoView {
    let GroupCtx { a, messages, .. } = expect_context();
    let error = action_error(a.send);
    // Read once: the message this page was sent to after "Send".
    let just_sent: Option<u64> = crate::components::url::query_text("sent")().parse().ok();
    let members = g.members;
    view! {
        <section class="panel" aria-labelledby="write-title">
            <h2 id="write-title">"Message members"</h2>
            <p class="hint">
                {format!("Goes to the inbox of the group's {members} current member{}; people who join later do not get it.", if members == 1 { "" } else { "s" })}
            </p>
            <ActionForm action=a.send attr:class="stacked message-form" attr:novalidate=true>
                <input type="hidden" name="id" value=g.id />
                <FormError error fields=&["id"] />
                <Field label="Subject" name="subject" form="message" error hint=SUBJECT_HINT required=true />
                <Field label="Message" name="body" form="message" kind="textarea" error hint=BODY_HINT required=true />
                <button type="submit" class="primary">"Send to members"</button>
            </ActionForm>
        </section>
        <section class="panel" aria-labelledby="sent-title">
            <h2 id="sent-title">"Sent messages"</h2>
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    crate::components::layout::past_dry_run().await;
                    let page = match load(messages).await {
                        Ok(Some(p)) => p,
                        Ok(None) => return view! { <p class="loading">"…"</p> }.into_any(),
                        Err(e) => return view! { <ErrorBox error=e /> }.into_any(),
                    };
                    let running = page.rows.iter().any(|r| r.delivering || r.mail.is_some_and(|m| m.queued > 0));
                    let notice = just_sent
                        .and_then(|id| page.rows.iter().find(|r| r.id == id))
                        .map(|r| {
                            crate::model::message::Sent {
                                id: r.id,
                                recipients: r.recipients,
                                delivered: r.delivered,
                                delivering: r.delivering,
                                mailed: r.mail.is_some(),
                            }
                            .summary()
                        });
                    view! {
                        // Read again every second while messages are delivered or mailed (with
                        // JavaScript; without it, on reload).
                        <div id="messages-live" data-running=running.to_string()>
                        <div class="notices" role="status">
                            {notice.map(|n| view! { <p class="notice">{n}</p> })}
                        </div>
                        <DataTable
                            noun="messages"
                            class="stack"
                            caption="Sent messages"
                            base=format!("/groups/{}", page_group())
                            query=String::new()
                            page
                            params=vec![("tab", "messages".to_string())]
                            empty="No messages sent to this group yet."
                            head=|| view! {
                                <th scope="col" role="columnheader">"Sent"</th>
                                <th scope="col" role="columnheader">"Subject"</th>
                                <th scope="col" role="columnheader">"From"</th>
                                <th scope="col" role="columnheader">"Delivered"</th>
                                <th scope="col" role="columnheader">"E-mail"</th>
                            }
                            row=|r: SentRow| view! {
                                <tr role="row">
                                    <td role="cell" data-label="Sent">{date_time(r.sent_at)}</td>
                                    <td role="cell" data-label="Subject">{r.subject.clone()}</td>
                                    <td role="cell" data-label="From">{r.sender.clone()}</td>
                                    <td role="cell" data-label="Delivered">{delivered_text(&r)}</td>
                                    <td role="cell" data-label="E-mail">{mail_text(&r)}</td>
                                </tr>
                            }
                        />
                        </div>
                    }
                    .into_any()
                })}
            </Transition>
            <LiveRegion region="messages-live" reload_when_done=false />
        </section>
    }
}

fn page_group() -> u64 {
    crate::components::url::param_id("id")().unwrap_or(0)
}

fn delivered_text(r: &SentRow) -> String {
    if r.delivering {
        format!(
            "Delivering… {} of {}",
            count(r.delivered),
            count(r.recipients)
        )
    } else {
        format!(
            "{} member{}",
            r.delivered,
            if r.delivered == 1 { "" } else { "s" }
        )
    }
}

fn mail_text(r: &SentRow) -> String {
    let Some(m) = r.mail else {
        return "Not mailed".into();
    };
    let mut parts = vec![format!("{} sent", m.sent)];
    if m.failed > 0 {
        parts.push(format!("{} failed", m.failed));
    }
    if m.queued > 0 {
        parts.push(format!("{} waiting", m.queued));
    }
    parts.join(" · ")
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_hints_name_the_limits() {
        use crate::model::message::{BODY_MAX, SUBJECT_MAX};
        assert!(super::SUBJECT_HINT.contains(&SUBJECT_MAX.to_string()));
        assert!(super::BODY_HINT.contains("20,000") && BODY_MAX == 20_000);
    }
}
