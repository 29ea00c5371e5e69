//! Groups: the table, the add / edit form, members, courses, managers and activity.
//!
//! Administrators may do everything. A group manager may read the groups they manage (their
//! table, page with its key, members, courses, managers and activity) and change one thing
//! here: who is a member (adding by exact login or e-mail from a pasted list, removing); anyone
//! else gets `Forbidden`. Asking about a group one may not see is `Forbidden` whether it exists or
//! not, so ids cannot be probed.

use crate::model::group::{
    AuditView, BulkResult, GroupLinks, GroupRow, GroupView, ManagerRow, MassEnrolView, MemberRow,
};
use crate::model::{AppError, Paged};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::server::session_guards::{
    require_group_admin, require_group_manager, require_group_reader, GroupCaller,
};

/// Parses and validates the add / edit group form.
#[cfg(feature = "ssr")]
#[allow(clippy::too_many_arguments)]
fn group_fields(
    name: &str,
    description: &str,
    branch: &str,
    key: &str,
    max_uses: &str,
    valid_from: &str,
    valid_until: &str,
    key_enabled: bool,
    is_default: bool,
) -> Result<crate::server::store::groups::GroupFields, AppError> {
    use crate::model::error::Every;
    use crate::model::group::{key_settings, validate_group_description, validate_group_name};
    let (name, description, branch, key) = (
        validate_group_name(name),
        validate_group_description(description),
        super::optional_id("branch", branch),
        key_settings(key, max_uses, valid_from, valid_until, key_enabled),
    )
        .every()?;
    Ok(crate::server::store::groups::GroupFields {
        name,
        description,
        branch,
        key,
        is_default,
    })
}

/// Pages of a list, from the first, that are read without a search on the request's own
/// task (see [`crate::server::state::AppState::read_now`]): each skips at most
/// `(SHORT_PAGES - 1) × 20` index entries.
#[cfg(feature = "ssr")]
const SHORT_PAGES: u32 = 3;

/// One page (from 1) of the groups table: `query` matches any part of a name (ignoring case),
/// `sort` is `name`, `members` or `created`, `-` first for descending. Administrators see every
/// group; a group manager the groups they manage; others get `Forbidden`.
#[server(endpoint = "list_groups")]
pub async fn list_groups(
    query: String,
    sort: String,
    page: u32,
) -> Result<Paged<GroupRow>, AppError> {
    let user = crate::server::session_guards::require_user().await?;
    let state = crate::server::state::app_state()?;
    let admin = user.role() == crate::model::user::Role::Admin;
    let (sort, desc) = crate::model::group::parse_sort(&sort);
    let uid = user.id;
    let q = crate::server::store::groups::GroupQuery {
        query,
        sort,
        desc,
        page,
        per_page: crate::model::user::PER_PAGE,
    };
    // The first pages without a search walk a sort index a few dozen entries deep and read
    // 20 groups (about 15 µs with 100,000 groups, BENCHMARKS "Groups table"): less than the
    // hop to a blocking thread costs. A search, or a page far down, may read thousands of
    // entries: that goes to a blocking thread.
    let short = q.query.is_empty() && page <= SHORT_PAGES;
    let found = if short {
        state.read_now(|s| s.group_rows(uid, admin, &q))?
    } else {
        state.read(move |s| s.group_rows(uid, admin, &q)).await?
    };
    let (rows, total, capped) = found.ok_or(AppError::Forbidden)?;
    Ok(super::paged(rows, total, capped, page))
}

/// A group with its key and counts. Administrators and the group's managers, who hand the key
/// out; nobody else (a member included) gets this, so never the key.
#[server(endpoint = "get_group")]
pub async fn get_group(id: u64) -> Result<GroupView, AppError> {
    let caller = require_group_reader(id).await?;
    let state = crate::server::state::app_state()?;
    let (viewer, admin) = (caller.user.id, caller.admin);
    // A few keys: the group, its branch, the manager index.
    state
        .read_now(|s| s.group_view(id, viewer, admin))?
        .ok_or_else(|| AppError::not_found("Group"))
}

pub use save::{create_group, update_group, CreateGroup, UpdateGroup};

/// The add / edit form's server functions: one argument per form field.
mod save {
    #![allow(clippy::too_many_arguments)]
    #[cfg(feature = "ssr")]
    use super::group_fields;
    use crate::model::group::GroupSaved;
    use crate::model::AppError;
    #[cfg(feature = "ssr")]
    use crate::server::session_guards::require_group_admin;
    use leptos::prelude::*;

    /// Creates a group and opens its page (administrators). Unticked checkboxes are absent;
    /// `managers_regenerate_key` ticked lets the group's managers regenerate its key.
    #[server(endpoint = "create_group")]
    pub async fn create_group(
        name: String,
        description: String,
        branch: String,
        key: String,
        max_uses: String,
        valid_from: String,
        valid_until: String,
        key_enabled: Option<String>,
        is_default: Option<String>,
        managers_regenerate_key: Option<String>,
    ) -> Result<GroupSaved, AppError> {
        let caller = require_group_admin().await?;
        let state = crate::server::state::app_state()?;
        let f = group_fields(
            &name,
            &description,
            &branch,
            &key,
            &max_uses,
            &valid_from,
            &valid_until,
            key_enabled.is_some(),
            is_default.is_some(),
        )?;
        let actor = caller.actor();
        let regen = managers_regenerate_key.is_some();
        let saved = state
            .write(move |s| s.create_group_saved(actor, &f, regen))
            .await?;
        leptos_axum::redirect(&format!("/groups/{}", saved.group.id));
        Ok(saved)
    }

    /// Changes a group's fields and settings (administrators). Returns the group that stopped
    /// being the default, if this one became it.
    #[server(endpoint = "update_group")]
    pub async fn update_group(
        id: u64,
        name: String,
        description: String,
        branch: String,
        key: String,
        max_uses: String,
        valid_from: String,
        valid_until: String,
        key_enabled: Option<String>,
        is_default: Option<String>,
        managers_regenerate_key: Option<String>,
    ) -> Result<GroupSaved, AppError> {
        let caller = require_group_admin().await?;
        let state = crate::server::state::app_state()?;
        let f = group_fields(
            &name,
            &description,
            &branch,
            &key,
            &max_uses,
            &valid_from,
            &valid_until,
            key_enabled.is_some(),
            is_default.is_some(),
        )?;
        let actor = caller.actor();
        let regen = managers_regenerate_key.is_some();
        state
            .write(move |s| s.update_group_saved(actor, id, &f, regen))
            .await
    }
}

/// Deletes a group at once (it leaves every list, its name and key are free); its memberships
/// are removed by a background job. Enrolments and progress stay (administrators). `back` is
/// where to go next without JavaScript (a page of this site).
#[server(endpoint = "delete_group")]
pub async fn delete_group(id: u64, back: String) -> Result<(), AppError> {
    let caller = require_group_admin().await?;
    let state = crate::server::state::app_state()?;
    let actor = caller.actor();
    state
        .write_and_wake(move |s| s.delete_group(actor, id))
        .await?;
    let back = if back.starts_with("/groups") && back.chars().all(|c| c.is_ascii_graphic()) {
        back
    } else {
        "/groups".into()
    };
    leptos_axum::redirect(&back);
    Ok(())
}

/// The current default group, as (id, name), for the form's hint (administrators).
#[server(endpoint = "current_default_group")]
pub async fn current_default_group() -> Result<Option<(u64, String)>, AppError> {
    require_group_admin().await?;
    let state = crate::server::state::app_state()?;
    state.read(|s| s.default_group_name()).await
}

/// A fresh random group key no group holds (administrators), for the "Generate" button.
#[server(endpoint = "generate_group_key")]
pub async fn generate_group_key() -> Result<String, AppError> {
    require_group_admin().await?;
    let state = crate::server::state::app_state()?;
    state.read(|s| s.generate_group_key()).await
}

/// One page (from 1) of a group's members, optionally searched by login / e-mail / name
/// prefix. Administrators and the group's managers.
#[server(endpoint = "list_group_members")]
pub async fn list_group_members(
    id: u64,
    query: String,
    page: u32,
) -> Result<Paged<MemberRow>, AppError> {
    require_group_reader(id).await?;
    let state = crate::server::state::app_state()?;
    let per_page = crate::model::user::PER_PAGE;
    // Without a search, a first page is a short prefix scan and 20 users (see SHORT_PAGES).
    let (rows, total, capped) = if query.is_empty() && page <= SHORT_PAGES {
        state.read_now(|s| s.member_rows(id, &query, page, per_page))?
    } else {
        state
            .read(move |s| s.member_rows(id, &query, page, per_page))
            .await?
    };
    Ok(super::paged(rows, total, capped, page))
}

/// Adds a user to the group by hand (administrators). Already a member: `Invalid` on `user`.
#[server(endpoint = "add_group_member")]
pub async fn add_group_member(id: u64, user: u64) -> Result<(), AppError> {
    let caller = require_group_admin().await?;
    let state = crate::server::state::app_state()?;
    let actor = caller.actor();
    let added = state
        .write(move |s| s.add_member(actor, id, user, crate::model::group::JoinedHow::Manual))
        .await?;
    if !added {
        return Err(AppError::invalid("user", "This user is already a member."));
    }
    Ok(())
}

/// Removes a member (administrators and the group's managers). Their enrolments stay unless
/// `unenrol` is ticked; then those in the group's courses end (progress is kept). Returns how
/// many ended.
#[server(endpoint = "remove_group_member")]
pub async fn remove_group_member(
    id: u64,
    user: u64,
    unenrol: Option<String>,
) -> Result<u32, AppError> {
    let caller = require_group_manager(id).await?;
    let state = crate::server::state::app_state()?;
    let actor = caller.actor();
    let unenrol = unenrol.is_some();
    state
        .write(move |s| s.remove_member(actor, id, user, unenrol))
        .await
}

/// Adds the users listed in `text` (pasted or uploaded: one login name or e-mail per line,
/// first CSV column; up to 10,000 rows) and reports each row (administrators and the group's
/// managers). Only an exact login or e-mail finds a user; anything else, an account that
/// exists or not, is the same `UnknownUser` ("No such user" to a manager), so a manager
/// cannot explore the user directory through it. The report is also kept for
/// [`last_bulk_result`], and the browser is sent to the page showing it.
#[server(endpoint = "bulk_add_group_members")]
pub async fn bulk_add_group_members(id: u64, text: String) -> Result<BulkResult, AppError> {
    let caller = require_group_manager(id).await?;
    bulk_add(caller, id, &text, "text").await
}

/// Largest file accepted by [`bulk_upload_group_members`] (about 25 bytes a row for 10,000
/// rows leaves plenty of room; the whole request is capped at the router's 1 MiB).
pub const BULK_FILE_MAX: usize = 1_000_000;

/// The same as [`bulk_add_group_members`] for a CSV or text file sent as a form upload
/// (fields `id` and `file`), so uploading works without JavaScript too. The file must be
/// UTF-8 text of at most [`BULK_FILE_MAX`] bytes; errors name the `file` field. Administrators
/// only: a manager pastes the list instead.
#[server(endpoint = "bulk_upload_group_members", input = leptos::server_fn::codec::MultipartFormData)]
pub async fn bulk_upload_group_members(
    data: leptos::server_fn::codec::MultipartData,
) -> Result<BulkResult, AppError> {
    let caller = require_group_admin().await?;
    let up = super::read_upload(
        data,
        BULK_FILE_MAX,
        "This file is larger than 1 MB. Split the list into smaller files.",
    )
    .await?;
    let id: u64 = up
        .fields
        .get("id")
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| AppError::Request("the group is missing".into()))?;
    let bytes = up.file;
    if bytes.is_empty() {
        return Err(AppError::invalid("file", "Choose a file to upload."));
    }
    let text = String::from_utf8(bytes).map_err(|_| {
        AppError::invalid(
            "file",
            "This file is not UTF-8 text. Save it as \"CSV UTF-8\" or plain text and try again.",
        )
    })?;
    bulk_add(caller, id, text.trim_start_matches('\u{feff}'), "file").await
}

/// Adds the users listed in `text` to group `id` for [`bulk_add_group_members`] and
/// [`bulk_upload_group_members`]; a list error names `field`.
#[cfg(feature = "ssr")]
async fn bulk_add(
    caller: GroupCaller,
    id: u64,
    text: &str,
    field: &str,
) -> Result<BulkResult, AppError> {
    let state = crate::server::state::app_state()?;
    let entries = crate::server::csv_input::bulk_entries(text).map_err(|e| match e {
        AppError::Invalid { message, .. } => AppError::invalid(field, message),
        other => other,
    })?;
    let actor = caller.actor();
    let result = state
        .write(move |s| {
            let result = s.bulk_add_members(actor, id, &entries)?;
            s.save_bulk_result(id, actor.user, &result)?;
            Ok(result)
        })
        .await?;
    // The report is kept, so the page that follows (with or without JavaScript) can show it.
    leptos_axum::redirect(&format!("/groups/{id}?tab=users&bulk=1"));
    Ok(result)
}

/// The caller's last bulk add to this group, with its per-row report (administrators and the
/// group's managers).
#[server(endpoint = "last_bulk_result")]
pub async fn last_bulk_result(id: u64) -> Result<Option<BulkResult>, AppError> {
    let caller = require_group_manager(id).await?;
    let state = crate::server::state::app_state()?;
    let uid = caller.user.id;
    state.read(move |s| s.last_bulk_result(id, uid)).await
}

/// The group's courses and curricula. Administrators and the group's managers.
#[server(endpoint = "get_group_links")]
pub async fn get_group_links(id: u64) -> Result<GroupLinks, AppError> {
    require_group_reader(id).await?;
    let state = crate::server::state::app_state()?;
    state.read(move |s| s.group_link_views(id)).await
}

/// Attaches (`op` = `add`) or detaches (`remove`) a course or curriculum (`kind` = `course` /
/// `curriculum`) (administrators).
#[server(endpoint = "change_group_link")]
pub async fn change_group_link(
    id: u64,
    kind: String,
    target: u64,
    op: String,
) -> Result<bool, AppError> {
    let caller = require_group_admin().await?;
    let state = crate::server::state::app_state()?;
    let add = match op.as_str() {
        "add" => true,
        "remove" => false,
        _ => return Err(AppError::Request("unknown link change".into())),
    };
    let actor = caller.actor();
    let changed = match kind.as_str() {
        "course" => {
            state
                .write(move |s| s.link_group_course(actor, id, target, add))
                .await?
        }
        "curriculum" => {
            state
                .write(move |s| s.link_group_curriculum(actor, id, target, add))
                .await?
        }
        _ => return Err(AppError::Request("unknown link kind".into())),
    };
    // After attaching, the Courses tab asks whether to enrol the current members now.
    if add && changed {
        leptos_axum::redirect(&format!("/groups/{id}?tab=courses&added=1"));
    }
    Ok(changed)
}

/// One page (from 1) of the courses not yet attached to group `id`, for the Courses tab's
/// checklist: in code order, or those with `query` in any part of their code or title
/// (ignoring case). Administrators.
#[server(endpoint = "courses_to_attach")]
pub async fn courses_to_attach(
    id: u64,
    query: String,
    page: u32,
) -> Result<Paged<crate::model::catalog::CourseRow>, AppError> {
    require_group_admin().await?;
    let state = crate::server::state::app_state()?;
    let (rows, total, capped) = state
        .read(move |s| s.courses_to_attach(id, &query, page, crate::model::user::PER_PAGE))
        .await?;
    Ok(super::paged(rows, total, capped, page))
}

/// One page (from 1) of the curricula not yet attached to group `id`, in name order or
/// searched by the start of a word of their name. Administrators.
#[server(endpoint = "curricula_to_attach")]
pub async fn curricula_to_attach(
    id: u64,
    query: String,
    page: u32,
) -> Result<Paged<crate::model::catalog::CurriculumView>, AppError> {
    require_group_admin().await?;
    let state = crate::server::state::app_state()?;
    let (rows, total, capped) = state
        .read(move |s| s.curricula_to_attach(id, &query, page, crate::model::user::PER_PAGE))
        .await?;
    Ok(super::paged(rows, total, capped, page))
}

/// Attaches the ticked courses and curricula (`courses[]`, `curricula[]`: ids, from a plain
/// form's checkboxes) to group `id` at once, all or none (administrators); returns how many
/// were attached (those already attached are passed over). Nothing ticked, more than
/// `ATTACH_MAX`, or an id that is no course or curriculum: `Invalid`, nothing changed. After
/// attaching, the Courses tab asks whether to enrol the current members now.
#[server(endpoint = "attach_group_links")]
pub async fn attach_group_links(
    id: u64,
    courses: Option<Vec<u64>>,
    curricula: Option<Vec<u64>>,
) -> Result<u32, AppError> {
    let caller = require_group_admin().await?;
    let state = crate::server::state::app_state()?;
    let actor = caller.actor();
    let (courses, curricula) = (courses.unwrap_or_default(), curricula.unwrap_or_default());
    let n = state
        .write(move |s| s.attach_links(actor, id, &courses, &curricula))
        .await?;
    if n > 0 {
        leptos_axum::redirect(&format!("/groups/{id}?tab=courses&added=1"));
    }
    Ok(n)
}

/// Starts enrolling every member of the group in every course it gives (its own and its
/// curricula's) as a background job (administrators). Refused with `Invalid` on `group` while
/// one runs for this group. The browser goes back to the group's Courses tab, where the
/// progress shows.
#[server(endpoint = "start_mass_enrolment")]
pub async fn start_mass_enrolment(id: u64) -> Result<u64, AppError> {
    let caller = require_group_admin().await?;
    let state = crate::server::state::app_state()?;
    let actor = caller.actor();
    let job = state
        .write_and_wake(move |s| s.start_mass_enrolment(actor, id))
        .await?;
    leptos_axum::redirect(&format!("/groups/{id}?tab=courses"));
    Ok(job)
}

/// The group's latest mass enrolment: its progress while it runs, its summary after.
/// Administrators and the group's managers.
#[server(endpoint = "mass_enrolment_status")]
pub async fn mass_enrolment_status(id: u64) -> Result<Option<MassEnrolView>, AppError> {
    require_group_reader(id).await?;
    let state = crate::server::state::app_state()?;
    state.read(move |s| s.mass_enrolment_view(id)).await
}

/// The group's managers. Administrators and the group's managers.
#[server(endpoint = "list_group_managers")]
pub async fn list_group_managers(id: u64) -> Result<Vec<ManagerRow>, AppError> {
    require_group_reader(id).await?;
    let state = crate::server::state::app_state()?;
    state.read(move |s| s.manager_rows(id)).await
}

/// Makes a user a manager of the group (`op` = `add`) or not (`remove`) (administrators).
#[server(endpoint = "change_group_manager")]
pub async fn change_group_manager(id: u64, user: u64, op: String) -> Result<bool, AppError> {
    let caller = require_group_admin().await?;
    let state = crate::server::state::app_state()?;
    let add = match op.as_str() {
        "add" => true,
        "remove" => false,
        _ => return Err(AppError::Request("unknown manager change".into())),
    };
    let actor = caller.actor();
    state
        .write(move |s| s.set_group_manager(actor, id, user, add))
        .await
}

/// The group's newest 50 audit events. Administrators and the group's managers.
#[server(endpoint = "group_activity")]
pub async fn group_activity(id: u64) -> Result<Vec<AuditView>, AppError> {
    require_group_reader(id).await?;
    let state = crate::server::state::app_state()?;
    state.read(move |s| s.activity_views(id, 50)).await
}
