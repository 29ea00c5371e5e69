//! `/inbox` (the signed-in user's messages, newest first, a page at a time) and `/inbox/:id`
//! (one message, marked read by opening it).

use crate::api::messages::{inbox, open_message, MarkMessageUnread};
use crate::components::data_table::DataTable;
use crate::components::field::{action_error, FormError};
use crate::components::layout::{show, Access, Page};
use crate::components::url::{param_id, query_page};
use crate::components::widgets::date_time;
use crate::model::message::{linkify, InboxRow, MessageView, Segment};
use crate::model::AppError;
use leptos::prelude::*;
use leptos_router::components::A;

#[component]
pub fn InboxPage() -> impl IntoView {
    view! {
        <Page title="Inbox" access=Access::SignedIn>
            <InboxList />
        </Page>
    }
}

#[component]
fn InboxList() -> impl IntoView {
    let page = query_page();
    let rows = Resource::new(page, inbox);
    view! {
        <div class="page-head">
            <h1>"Inbox"</h1>
        </div>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                show(rows.await, |page| view! {
                    <DataTable
                        noun="messages"
                        caption="Messages"
                        base="/inbox"
                        query=String::new()
                        page
                        empty="No messages yet. Messages to your groups appear here."
                        class="inbox"
                        head=|| view! {
                            <th scope="col"><span class="visually-hidden">"Read"</span></th>
                            <th scope="col">"Subject"</th>
                            <th scope="col">"From"</th>
                            <th scope="col">"Group"</th>
                            <th scope="col">"Sent"</th>
                        }
                        row=|r: InboxRow| view! {
                            <tr class:unread=!r.read>
                                <td>{(!r.read).then(|| view! { <span class="dot" aria-hidden="true"></span><span class="visually-hidden">"Unread"</span> })}</td>
                                <td><A href=format!("/inbox/{}", r.id)>{r.subject.clone()}</A></td>
                                <td>{r.sender.clone()}</td>
                                <td>{r.group.clone()}</td>
                                <td>{date_time(r.sent_at)}</td>
                            </tr>
                        }
                    />
                })
            })}
        </Transition>
    }
}

#[component]
pub fn MessagePage() -> impl IntoView {
    view! {
        <Page title="Message" access=Access::SignedIn>
            <Message />
        </Page>
    }
}

#[component]
fn Message() -> impl IntoView {
    let id = param_id("id");
    let message = Resource::new(id, |id| async move {
        match id {
            Some(id) => open_message(id).await,
            None => Err(AppError::not_found("Message")),
        }
    });
    let unread = ServerAction::<MarkMessageUnread>::new();
    let error = action_error(unread);
    view! {
        <p class="breadcrumb"><A href="/inbox">"← Inbox"</A></p>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                show(message.await, move |m: MessageView| view! {
                    <article class="message" aria-labelledby="message-subject">
                        <div class="page-head">
                            <h1 id="message-subject">{m.subject.clone()}</h1>
                            <ActionForm action=unread>
                                <input type="hidden" name="id" value=m.id />
                                <button type="submit">"Mark unread"</button>
                            </ActionForm>
                        </div>
                        <FormError error fields=&["id"] />
                        <p class="message-meta">
                            "From " <strong>{m.sender.clone()}</strong> " to the members of "
                            <strong>{m.group.clone()}</strong> " · " {date_time(m.sent_at)}
                        </p>
                        <div class="message-body">
                            {linkify(&m.body)
                                .into_iter()
                                .map(|s| match s {
                                    Segment::Text(t) => t.into_any(),
                                    Segment::Link(href) => {
                                        let text = href.clone();
                                        view! {
                                            <a href=href rel="noopener noreferrer nofollow">{text}</a>
                                        }
                                        .into_any()
                                    }
                                })
                                .collect_view()}
                        </div>
                    </article>
                })
            })}
        </Transition>
    }
}
