//! Group keys from the learner's side: joining a group with its key.

use crate::model::group::JoinedGroup;
use crate::model::AppError;
use leptos::prelude::*;

/// The signed-in user joins the group whose key is `key` (compared without surrounding spaces
/// and ignoring case) and is enrolled in the courses it gives; the browser goes to the join
/// page, which shows them. Every refusal is an error on the `key` field that says why (blank,
/// unknown, disabled, not yet valid, expired, used up, already a member: naming the group) and
/// changes nothing.
#[server(endpoint = "redeem_group_key")]
pub async fn redeem_group_key(key: String) -> Result<JoinedGroup, AppError> {
    let user = crate::server::auth::require_user().await?;
    let state = crate::server::state::app_state()?;
    let client = crate::server::auth::client_ip()
        .await
        .map(|ip| ip.to_string());
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
        Err(refusal) => Err(AppError::invalid("key", refusal.message())),
    }
}

/// A group the signed-in user is a member of, with the courses it gives (the join page's
/// success panel); `NotFound` for any other group.
#[server(endpoint = "joined_group_courses")]
pub async fn joined_group_courses(id: u64) -> Result<JoinedGroup, AppError> {
    let user = crate::server::auth::require_user().await?;
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
