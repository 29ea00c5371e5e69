//! `/backup`: download a backup of the whole store, see when the last one was made, and how to
//! restore one (administrators).

use crate::api::backup::get_backup_status;
use crate::components::layout::{show, Access, Page};
use crate::components::widgets::date_time;
use crate::model::backup::{size_label, BackupStatus};
use leptos::prelude::*;

#[component]
pub fn BackupPage() -> impl IntoView {
    view! {
        <Page title="Backup" access=Access::Admin>
            <BackupPanel />
        </Page>
    }
}

#[component]
fn BackupPanel() -> impl IntoView {
    let status = Resource::new(|| (), |_| get_backup_status());
    view! {
        <div class="page-head">
            <h1>"Backup"</h1>
        </div>
        <section class="panel" aria-labelledby="backup-download-title">
            <h2 id="backup-download-title">"Download a backup"</h2>
            <p class="hint">
                "One file with every user, group, course, curriculum, enrolment, message, import and setting. "
                "Login sessions are left out: after a restore everyone signs in again. "
                "Changes wait while the backup is taken (several seconds for a school of 100,000 users); pages keep working."
            </p>
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    show(status.await, |s: BackupStatus| last_backup(&s))
                })}
            </Transition>
            <p>
                <a class="button primary" href="/backup/download" download="" rel="external">
                    "Download a backup"
                </a>
            </p>
            <p class="hint">
                "The file holds personal data and password hashes: keep it as safe as the server."
            </p>
        </section>
        <section class="panel" aria-labelledby="backup-command-title">
            <h2 id="backup-command-title">"Backups from the command line"</h2>
            <p>
                "On the server, for example every night from cron (it works while Tessera runs):"
            </p>
            <pre><code>"tessera backup --data-dir /var/lib/tessera --out /backups/tessera-$(date +%F).tessera-backup"</code></pre>
        </section>
        <section class="panel" aria-labelledby="backup-restore-title">
            <h2 id="backup-restore-title">"Restoring a backup"</h2>
            <ol class="steps">
                <li>
                    "Restore it into a new, empty directory (a backup made by an older Tessera is upgraded, then every record is checked):"
                    <pre><code>"tessera restore --in FILE --data-dir /var/lib/tessera-restored"</code></pre>
                </li>
                <li>"Stop Tessera, and start it again with " <code>"--data-dir /var/lib/tessera-restored"</code> "."</li>
            </ol>
        </section>
    }
}

fn last_backup(s: &BackupStatus) -> AnyView {
    match &s.last {
        None => {
            view! { <p data-testid="last-backup">"No backup has been made yet."</p> }.into_any()
        }
        Some(b) => {
            let how = match &b.downloaded_by {
                Some(name) => format!("downloaded by {name}"),
                None => "made by the tessera backup command".to_string(),
            };
            view! {
                <p data-testid="last-backup">
                    "Last backup: " <strong>{date_time(b.at_ms)}</strong> ", "
                    {size_label(b.bytes)} ", " {how} "."
                </p>
            }
            .into_any()
        }
    }
}
