//! Administering courses, their lessons and their enrolments. Administrators only.

#[cfg(feature = "ssr")]
use crate::model::catalog::{
    validate_code, validate_description, validate_lesson_text, validate_title,
};
use crate::model::catalog::{CourseRow, CourseView, EnrolmentRow, LessonView};
#[cfg(feature = "ssr")]
use crate::model::error::Every;
use crate::model::{AppError, Paged};
#[cfg(feature = "ssr")]
use crate::server::store::courses::{CourseFields, LessonChange};
use leptos::prelude::*;

/// One page (from 1) of courses, optionally filtered by a code or title prefix.
#[server(endpoint = "list_courses")]
pub async fn list_courses(query: String, page: u32) -> Result<Paged<CourseRow>, AppError> {
    crate::server::session_guards::require_admin().await?;
    let state = crate::server::state::app_state()?;
    let (rows, total, capped) = state
        .read(move |s| s.list_courses(&query, page, crate::model::user::PER_PAGE))
        .await?;
    Ok(super::paged(rows, total, capped, page))
}

/// One course with its lessons, or `NotFound`.
#[server(endpoint = "get_course")]
pub async fn get_course(id: u64) -> Result<CourseView, AppError> {
    crate::server::session_guards::require_admin().await?;
    let state = crate::server::state::app_state()?;
    state
        .read(move |s| {
            Ok(s.get_course(id)?
                .map(|c| (c, s.enrolled_count(id)))
                .map(|(c, n)| n.map(|n| c.view(n))))
        })
        .await?
        .transpose()?
        .ok_or_else(|| AppError::not_found("Course"))
}

/// Creates an active course with no lessons and opens its page. The code must be unused.
#[server(endpoint = "create_course")]
pub async fn create_course(
    code: String,
    title: String,
    description: String,
) -> Result<CourseView, AppError> {
    crate::server::session_guards::require_admin().await?;
    let state = crate::server::state::app_state()?;
    let (code, title, description) = (
        validate_code(&code),
        validate_title("title", &title, "title"),
        validate_description(&description),
    )
        .every()?;
    let f = CourseFields {
        code,
        title,
        description,
        archived: false,
    };
    let course = state
        .write(move |s| s.create_course(&f, crate::server::store::now_ms()))
        .await?;
    leptos_axum::redirect(&format!("/courses/{}", course.id));
    Ok(course)
}

/// Changes a course's code, title, description and status (an unticked "archived" is absent).
#[server(endpoint = "update_course")]
pub async fn update_course(
    id: u64,
    code: String,
    title: String,
    description: String,
    archived: Option<String>,
) -> Result<CourseView, AppError> {
    crate::server::session_guards::require_admin().await?;
    let state = crate::server::state::app_state()?;
    let (code, title, description) = (
        validate_code(&code),
        validate_title("title", &title, "title"),
        validate_description(&description),
    )
        .every()?;
    let f = CourseFields {
        code,
        title,
        description,
        archived: archived.is_some(),
    };
    state.write(move |s| s.update_course(id, &f)).await
}

/// Deletes a course nobody is enrolled in (and takes it out of its curricula).
#[server(endpoint = "delete_course")]
pub async fn delete_course(id: u64) -> Result<(), AppError> {
    crate::server::session_guards::require_admin().await?;
    let state = crate::server::state::app_state()?;
    state.write_and_wake(move |s| s.delete_course(id)).await?;
    leptos_axum::redirect("/courses");
    Ok(())
}

/// Adds, edits, moves (`by` = -1 up, +1 down) or removes a lesson, as `op` says
/// (`add`, `edit`, `move`, `remove`). Returns the lessons in their new order.
#[server(endpoint = "change_lesson")]
pub async fn change_lesson(
    course: u64,
    op: String,
    lesson: Option<u64>,
    title: Option<String>,
    text: Option<String>,
    by: Option<i32>,
) -> Result<Vec<LessonView>, AppError> {
    crate::server::session_guards::require_admin().await?;
    let state = crate::server::state::app_state()?;
    let need_lesson = || lesson.ok_or_else(|| AppError::not_found("Lesson"));
    let title_text = || -> Result<(String, String), AppError> {
        (
            validate_title("title", title.as_deref().unwrap_or(""), "lesson title"),
            validate_lesson_text(text.as_deref().unwrap_or("")),
        )
            .every()
    };
    let change = match op.as_str() {
        "add" => {
            let (title, text) = title_text()?;
            LessonChange::Add { title, text }
        }
        "edit" => {
            let (title, text) = title_text()?;
            LessonChange::Edit {
                lesson: need_lesson()?,
                title,
                text,
            }
        }
        "move" => LessonChange::Move {
            lesson: need_lesson()?,
            by: by.unwrap_or(0).clamp(-1, 1),
        },
        "remove" => LessonChange::Remove {
            lesson: need_lesson()?,
        },
        _ => return Err(AppError::Request("unknown lesson change".into())),
    };
    let (lessons, job) = state
        .write(move |s| s.change_lessons(course, change))
        .await?;
    if job.is_some() {
        state.jobs.wake();
    }
    Ok(lessons)
}

/// One page (from 1) of a course's enrolments with each learner's progress.
#[server(endpoint = "course_enrolments")]
pub async fn course_enrolments(course: u64, page: u32) -> Result<Paged<EnrolmentRow>, AppError> {
    crate::server::session_guards::require_admin().await?;
    let state = crate::server::state::app_state()?;
    let (rows, total) = state
        .read(move |s| {
            let (views, total) =
                s.enrolments_of_course(course, page, crate::model::user::PER_PAGE)?;
            let mut rows = Vec::with_capacity(views.len());
            for e in views {
                let Some(u) = s.get_user(e.user_id)? else {
                    continue;
                };
                rows.push(EnrolmentRow {
                    user_id: u.id,
                    login: u.login,
                    display_name: u.display_name,
                    source: e.source,
                    enrolled_at: e.enrolled_at,
                    progress: e.progress,
                });
            }
            Ok((rows, total))
        })
        .await?;
    Ok(super::paged(rows, total, false, page))
}

/// Enrols a user in the course (manual); enrolling again changes nothing. Returns whether the
/// enrolment is new.
#[server(endpoint = "enrol_user")]
pub async fn enrol_user(course: u64, user: u64) -> Result<bool, AppError> {
    crate::server::session_guards::require_admin().await?;
    let state = crate::server::state::app_state()?;
    state
        .write(move |s| {
            s.enrol(
                user,
                course,
                crate::server::store::enrolments::Source::Manual,
                crate::server::store::now_ms(),
            )
        })
        .await
}

/// Unenrols a user; their progress stays unless `delete_progress` is ticked.
#[server(endpoint = "unenrol_user")]
pub async fn unenrol_user(
    course: u64,
    user: u64,
    delete_progress: Option<String>,
) -> Result<(), AppError> {
    crate::server::session_guards::require_admin().await?;
    let state = crate::server::state::app_state()?;
    let delete = delete_progress.is_some();
    state.write(move |s| s.unenrol(user, course, delete)).await
}
