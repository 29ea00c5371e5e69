//! Server functions: public HTTP endpoints under `/api/`, one file per area. Each starts with
//! its guard, calls one store operation and maps the error.

pub mod auth;
pub mod branches;
pub mod courses;
pub mod curricula;
pub mod groups;
pub mod imports;
pub mod keys;
pub mod learning;
pub mod settings;
pub mod users;

/// Validates the fields every account form has, with the role given.
#[cfg(feature = "ssr")]
fn user_fields(
    login: &str,
    email: &str,
    display_name: &str,
    role: crate::model::user::Role,
) -> Result<crate::server::store::users::UserFields, crate::model::AppError> {
    use crate::model::user::{validate_display_name, validate_email, validate_login};
    Ok(crate::server::store::users::UserFields {
        login: validate_login(login)?,
        email: validate_email(email)?,
        display_name: validate_display_name(display_name)?,
        role,
    })
}

/// Checks a new password typed twice and hashes it (on a blocking thread).
#[cfg(feature = "ssr")]
async fn new_password_hash(
    password: String,
    confirm: &str,
) -> Result<crate::server::store::users::PasswordHash, crate::model::AppError> {
    crate::model::user::validate_new_password(&password, confirm, "password")?;
    crate::server::auth::hash_password(password).await
}

/// Wraps a store page result for the browser.
#[cfg(feature = "ssr")]
fn paged<T>(rows: Vec<T>, total: u64, capped: bool, page: u32) -> crate::model::Paged<T> {
    crate::model::Paged {
        rows,
        total,
        total_is_capped: capped,
        page: page.max(1),
        per_page: crate::model::user::PER_PAGE,
    }
}

/// Parses an optional id from a form's `<select>` (empty = none).
#[cfg(feature = "ssr")]
fn optional_id(field: &str, raw: &str) -> Result<Option<u64>, crate::model::AppError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    raw.parse()
        .map(Some)
        .map_err(|_| crate::model::AppError::invalid(field, "Choose one of the listed options."))
}
