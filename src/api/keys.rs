//! Group keys: a learner joins a group with its key; an administrator regenerates, disables
//! or enables a group's key.

use crate::model::group::JoinedGroup;
use crate::model::AppError;
use leptos::prelude::*;

/// A refused key as the error on the `key` field, with the reason's own HTTP status: blank 422,
/// unknown 404, already a member 409, disabled 423, not yet valid 425, expired 410, used up 403.
#[cfg(feature = "ssr")]
pub(crate) fn refused(r: &crate::server::store::groups::keys::KeyRefusal) -> AppError {
    AppError::Refused {
        field: "key".into(),
        message: r.message(),
        status: r.http_status(),
    }
}

/// Counts a wrong key against the user's (or the visitor's) bucket and the client address:
/// `TooManyAttempts` once either has run out.
#[cfg(feature = "ssr")]
pub(crate) fn count_wrong_key(
    state: &crate::server::state::AppState,
    bucket: &str,
    ip: Option<std::net::IpAddr>,
) -> Result<(), AppError> {
    state
        .key_throttle
        .record_failure(bucket, ip)
        .map_err(too_many)
}

/// Before a key is tried: `TooManyAttempts` while the bucket or the address is blocked.
#[cfg(feature = "ssr")]
pub(crate) fn key_allowed(
    state: &crate::server::state::AppState,
    bucket: &str,
    ip: Option<std::net::IpAddr>,
) -> Result<(), AppError> {
    state.key_throttle.check(bucket, ip).map_err(too_many)
}

#[cfg(feature = "ssr")]
fn too_many(wait: std::time::Duration) -> AppError {
    AppError::TooManyAttempts {
        retry_after_secs: wait.as_secs().max(1),
    }
}

/// The signed-in user joins the group whose key is `key` (compared without surrounding spaces
/// and ignoring case) and is enrolled in the courses it gives; the browser goes to the join
/// page, which shows them. Every refusal is an error on the `key` field that says why (blank,
/// unknown, disabled, not yet valid, expired, used up, already a member: naming the group),
/// with its own status (see [`refused`]), and changes nothing.
#[server(endpoint = "redeem_group_key")]
pub async fn redeem_group_key(key: String) -> Result<JoinedGroup, AppError> {
    let user = crate::server::session_guards::require_user().await?;
    let state = crate::server::state::app_state()?;
    let ip = crate::server::session_guards::client_ip().await;
    let client = ip.map(|ip| ip.to_string());
    let bucket = format!("user:{}", user.id);
    key_allowed(&state, &bucket, ip)?;
    let now = crate::server::store::now_ms();
    let (id, login) = (user.id, user.login.clone());
    let outcome = state
        .write(move |s| s.redeem_key(id, &login, &key, client, now))
        .await?;
    match outcome {
        Ok(r) => {
            tracing::info!(user_id = user.id, group = r.group, "group key redeemed");
            leptos_axum::redirect(&format!("/join?joined={}", r.group));
            Ok(JoinedGroup {
                id: r.group,
                name: r.name,
                courses: r
                    .courses
                    .into_iter()
                    .map(|c| (c.id, c.code, c.title))
                    .collect(),
            })
        }
        Err(refusal) => {
            // Wrong keys are guesses: counted, and throttled per user and per address.
            if refusal == crate::server::store::groups::keys::KeyRefusal::Unknown {
                count_wrong_key(&state, &bucket, ip)?;
            }
            Err(refused(&refusal))
        }
    }
}

/// A group the signed-in user is a member of, with the courses it gives (the join page's
/// success panel); `NotFound` for any other group.
#[server(endpoint = "joined_group_courses")]
pub async fn joined_group_courses(id: u64) -> Result<JoinedGroup, AppError> {
    let user = crate::server::session_guards::require_user().await?;
    let state = crate::server::state::app_state()?;
    let uid = user.id;
    state
        .read(move |s| {
            if s.membership(id, uid)?.is_none() {
                return Err(crate::server::store::StoreError::NotFound("group"));
            }
            let g = s
                .get_group(id)?
                .ok_or(crate::server::store::StoreError::NotFound("group"))?;
            let courses = s
                .group_course_records(id)?
                .into_iter()
                .filter(|c| !c.archived)
                .map(|c| (c.id, c.code, c.title))
                .collect();
            Ok(JoinedGroup {
                id,
                name: g.name,
                courses,
            })
        })
        .await
}

/// A page (newest first, from 1) of who joined group `id` with its key. Administrators and the
/// group's managers.
#[server(endpoint = "group_key_redemptions")]
pub async fn group_key_redemptions(
    id: u64,
    page: u32,
) -> Result<crate::model::Paged<crate::model::group::RedemptionView>, AppError> {
    use crate::model::group::RedemptionView;
    crate::server::session_guards::require_group_reader(id).await?;
    let state = crate::server::state::app_state()?;
    let per_page = crate::model::user::PER_PAGE;
    state
        .read(move |s| {
            let (rows, total) = s.key_redemptions(id, page, per_page)?;
            let rows = rows
                .into_iter()
                .map(|(event, r)| {
                    let user = s.get_user(r.user)?;
                    Ok(RedemptionView {
                        id: event,
                        login: user
                            .as_ref()
                            .map_or_else(|| format!("user #{}", r.user), |u| u.login.clone()),
                        display_name: user.map(|u| u.display_name).unwrap_or_default(),
                        key: r.key,
                        at: r.at,
                        client: r.client.unwrap_or_default(),
                    })
                })
                .collect::<Result<Vec<_>, crate::server::store::StoreError>>()?;
            Ok(crate::model::Paged {
                rows,
                total,
                total_is_capped: false,
                page: page.max(1),
                per_page,
            })
        })
        .await
}

/// What an administrator does to group `id`'s key with the buttons on its page: `op` is
/// "regenerate" (a new random key; the old one stops working, its members stay, uses start
/// again at 0), "disable" or "enable".
#[server(endpoint = "change_group_key")]
pub async fn change_group_key(id: u64, op: String) -> Result<(), AppError> {
    use crate::server::store::groups::keys::KeyChange;
    let caller = crate::server::session_guards::require_group_admin().await?;
    let state = crate::server::state::app_state()?;
    let change = match op.as_str() {
        "regenerate" => KeyChange::Regenerate,
        "disable" => KeyChange::Disable,
        "enable" => KeyChange::Enable,
        _ => return Err(AppError::invalid("op", "Unknown key action.")),
    };
    let actor = caller.actor();
    state
        .write(move |s| s.change_key(actor, id, change))
        .await?;
    tracing::info!(group = id, ?change, "group key changed");
    Ok(())
}

/// Regenerates group `id`'s key: a new random key replaces the old one, which stops working;
/// its members stay and uses start again at 0. Administrators always; the group's managers
/// only while the group's "managers may regenerate the key" setting is on (`Forbidden`
/// otherwise, the key unchanged). The same as `change_group_key` with `op=regenerate`, as its
/// own endpoint so that the page it sends the browser back to can say "New key made" (the
/// `__done` mark names the function, not its arguments).
#[server(endpoint = "regenerate_group_key")]
pub async fn regenerate_group_key(id: u64) -> Result<(), AppError> {
    use crate::server::store::groups::keys::KeyChange;
    let caller = crate::server::session_guards::require_group_manager(id).await?;
    let state = crate::server::state::app_state()?;
    let actor = caller.actor();
    let change = if caller.admin {
        KeyChange::Regenerate
    } else {
        KeyChange::RegenerateAsManager
    };
    state
        .write(move |s| s.change_key(actor, id, change))
        .await?;
    tracing::info!(group = id, "group key regenerated");
    Ok(())
}
