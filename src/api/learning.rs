//! The learner's own courses and progress. Any signed-in user, for their own enrolments only.

use crate::model::catalog::{LearnerCourse, MyCourse, Progress};
use crate::model::AppError;
use leptos::prelude::*;

/// The caller's courses with progress, each with the curriculum it came from.
#[server(endpoint = "my_courses")]
pub async fn my_courses() -> Result<Vec<MyCourse>, AppError> {
    let me = crate::server::session_guards::require_user().await?;
    let state = crate::server::state::app_state()?;
    state
        .read(move |s| {
            let mut out = Vec::new();
            for e in s.enrolments_of_user(me.id)? {
                let Some(c) = s.get_course(e.course_id)? else {
                    continue;
                };
                let curriculum = match e.via_curriculum {
                    Some(id) => s.get_curriculum(id)?.map(|cur| (id, cur.name)),
                    None => None,
                };
                out.push(MyCourse {
                    course_id: c.id,
                    code: c.code,
                    title: c.title,
                    progress: e.progress,
                    curriculum,
                });
            }
            Ok(out)
        })
        .await
}

/// A course the caller is enrolled in, with their progress; `NotFound` otherwise (the same
/// answer for courses that do not exist, so nothing is revealed).
#[server(endpoint = "course_for_learner")]
pub async fn course_for_learner(id: u64) -> Result<LearnerCourse, AppError> {
    let me = crate::server::session_guards::require_user().await?;
    let state = crate::server::state::app_state()?;
    state
        .read(move |s| {
            let Some(e) = s.enrolment(me.id, id)? else {
                return Ok(None);
            };
            let Some(c) = s.get_course(id)? else {
                return Ok(None);
            };
            let done = s.done_lessons(me.id, id)?;
            let view = c.view(0);
            Ok(Some(LearnerCourse {
                id,
                code: view.code,
                title: view.title,
                description: view.description,
                lessons: view.lessons,
                done,
                progress: e.progress,
            }))
        })
        .await?
        .ok_or_else(|| AppError::not_found("Course"))
}

/// Marks one of the caller's lessons done or not done; returns their progress in the course.
#[server(endpoint = "mark_lesson")]
pub async fn mark_lesson(course: u64, lesson: u64, done: bool) -> Result<Progress, AppError> {
    let me = crate::server::session_guards::require_user().await?;
    let state = crate::server::state::app_state()?;
    state
        .write(move |s| s.mark_lesson(me.id, course, lesson, done, crate::server::store::now_ms()))
        .await
        .map_err(|e| match e {
            AppError::NotFound { .. } => AppError::not_found("Course"),
            other => other,
        })
}
