//! Administering curricula. Administrators only.

#[cfg(feature = "ssr")]
use crate::model::catalog::{validate_description, validate_title};
use crate::model::catalog::{CurriculumDetail, CurriculumView, EnrolSummary};
#[cfg(feature = "ssr")]
use crate::model::error::Every;
use crate::model::{AppError, Paged};
#[cfg(feature = "ssr")]
use crate::server::store::curricula::CurriculumChange;
use leptos::prelude::*;

/// One page (from 1) of curricula, optionally filtered by a name prefix.
#[server(endpoint = "list_curricula")]
pub async fn list_curricula(query: String, page: u32) -> Result<Paged<CurriculumView>, AppError> {
    crate::server::session_guards::require_admin().await?;
    let state = crate::server::state::app_state()?;
    let (rows, total, capped) = state
        .read(move |s| s.list_curricula(&query, page, crate::model::user::PER_PAGE))
        .await?;
    Ok(super::paged(rows, total, capped, page))
}

/// A curriculum with its courses in order, or `NotFound`.
#[server(endpoint = "get_curriculum")]
pub async fn get_curriculum(id: u64) -> Result<CurriculumDetail, AppError> {
    crate::server::session_guards::require_admin().await?;
    let state = crate::server::state::app_state()?;
    state
        .read(move |s| {
            let Some(cur) = s.get_curriculum(id)? else {
                return Ok(None);
            };
            let mut courses = Vec::new();
            for c in &cur.courses {
                if let Some(rec) = s.get_course(*c)? {
                    courses.push(rec.row(s.enrolled_count(*c)?));
                }
            }
            Ok(Some(CurriculumDetail {
                curriculum: cur.view(),
                courses,
            }))
        })
        .await?
        .ok_or_else(|| AppError::not_found("Curriculum"))
}

/// Creates an empty curriculum and opens its page. The name must be unused.
#[server(endpoint = "create_curriculum")]
pub async fn create_curriculum(
    name: String,
    description: String,
) -> Result<CurriculumView, AppError> {
    crate::server::session_guards::require_admin().await?;
    let state = crate::server::state::app_state()?;
    let (name, description) = (
        validate_title("name", &name, "name"),
        validate_description(&description),
    )
        .every()?;
    let cur = state
        .write(move |s| s.create_curriculum(&name, &description, crate::server::store::now_ms()))
        .await?;
    leptos_axum::redirect(&format!("/curricula/{}", cur.id));
    Ok(cur)
}

/// Renames a curriculum or changes its description.
#[server(endpoint = "update_curriculum")]
pub async fn update_curriculum(
    id: u64,
    name: String,
    description: String,
) -> Result<CurriculumView, AppError> {
    crate::server::session_guards::require_admin().await?;
    let state = crate::server::state::app_state()?;
    let (name, description) = (
        validate_title("name", &name, "name"),
        validate_description(&description),
    )
        .every()?;
    state
        .write(move |s| s.update_curriculum(id, &name, &description))
        .await
}

/// Deletes a curriculum; enrolments made through it stay.
#[server(endpoint = "delete_curriculum")]
pub async fn delete_curriculum(id: u64) -> Result<(), AppError> {
    crate::server::session_guards::require_admin().await?;
    let state = crate::server::state::app_state()?;
    state
        .write_and_wake(move |s| s.delete_curriculum(id))
        .await?;
    leptos_axum::redirect("/curricula");
    Ok(())
}

/// Adds (`add`), removes (`remove`) or moves (`up`, `down`) a course in the curriculum.
#[server(endpoint = "change_curriculum_course")]
pub async fn change_curriculum_course(
    id: u64,
    course: u64,
    op: String,
) -> Result<CurriculumView, AppError> {
    crate::server::session_guards::require_admin().await?;
    let state = crate::server::state::app_state()?;
    let change = match op.as_str() {
        "add" => CurriculumChange::Add(course),
        "remove" => CurriculumChange::Remove(course),
        "up" => CurriculumChange::Move(course, -1),
        "down" => CurriculumChange::Move(course, 1),
        _ => return Err(AppError::Request("unknown curriculum change".into())),
    };
    state.write(move |s| s.change_curriculum(id, change)).await
}

/// Enrols a user in every course of the curriculum (one transaction); returns what happened.
#[server(endpoint = "enrol_in_curriculum")]
pub async fn enrol_in_curriculum(id: u64, user: u64) -> Result<EnrolSummary, AppError> {
    crate::server::session_guards::require_admin().await?;
    let state = crate::server::state::app_state()?;
    state
        .write(move |s| s.enrol_curriculum(user, id, crate::server::store::now_ms()))
        .await
}
