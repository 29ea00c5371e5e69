//! The Activity page: every audit event across groups (administrators).

use crate::model::activity::ActivityList;
use crate::model::AppError;
use leptos::prelude::*;

/// A page of audit events across all groups, newest first, filtered by who did it (`actor`: a
/// login name or e-mail), the group (`group`: its name), the kind (`kind`: an
/// `AuditAction::key`) and the days `from` and `to` (`YYYY-MM-DD`, UTC, both included), going
/// older than `before` or newer from `after` (places from an earlier page). Administrators
/// only. Filters at fault come back in the page's `problems` (every one of them, for the
/// fields of the GET form), not as an error.
#[server(endpoint = "activity")]
pub async fn activity(
    actor: String,
    group: String,
    kind: String,
    from: String,
    to: String,
    before: String,
    after: String,
) -> Result<ActivityList, AppError> {
    crate::server::session_guards::require_admin().await?;
    let state = crate::server::state::app_state()?;
    let q = crate::model::activity::ActivityQuery {
        actor,
        group,
        kind,
        from,
        to,
        before,
        after,
    };
    let per_page = crate::model::user::PER_PAGE as usize;
    state.read(move |s| s.activity_page(&q, per_page)).await
}
