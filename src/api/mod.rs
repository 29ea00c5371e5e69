//! Server functions: public HTTP endpoints under `/api/`, one file per area. Each starts with
//! its guard, calls one store operation and maps the error.

pub mod activity;
pub mod backup;
pub mod branches;
pub mod courses;
pub mod curricula;
pub mod groups;
pub mod imports;
pub mod keys;
pub mod learning;
pub mod messages;
pub mod reports;
pub mod settings;
pub mod sign_in;
pub mod users;

/// Validates the fields every account form has, with the role given.
#[cfg(feature = "ssr")]
fn user_fields(
    login: &str,
    email: &str,
    display_name: &str,
    role: Result<crate::model::user::Role, crate::model::AppError>,
    password: Option<(&str, &str)>,
) -> Result<crate::server::store::users::UserFields, crate::model::AppError> {
    use crate::model::error::Every;
    use crate::model::user::{
        validate_display_name, validate_email, validate_login, validate_new_password,
    };
    let password = match password {
        Some((password, confirm)) => validate_new_password(password, confirm, "password"),
        None => Ok(()),
    };
    let (login, email, display_name, role, ()) = (
        validate_login(login),
        validate_email(email),
        validate_display_name(display_name),
        role,
        password,
    )
        .every()?;
    Ok(crate::server::store::users::UserFields {
        login,
        email,
        display_name,
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
    crate::server::session_guards::hash_password(password).await
}

/// A multipart form read by [`read_upload`]: its text fields and its `file` field.
#[cfg(feature = "ssr")]
struct Upload {
    fields: std::collections::HashMap<String, String>,
    file_name: String,
    file: Vec<u8>,
}

/// Reads a multipart form: every text field, and the `file` field's name and bytes, refusing a
/// file over `max` bytes with `too_large` on the `file` field (read as it streams in, so a
/// larger one is never held whole).
#[cfg(feature = "ssr")]
async fn read_upload(
    data: leptos::server_fn::codec::MultipartData,
    max: usize,
    too_large: &str,
) -> Result<Upload, crate::model::AppError> {
    use crate::model::AppError;
    fn bad(e: impl std::fmt::Display) -> AppError {
        AppError::Request(format!("the upload could not be read: {e}"))
    }
    let mut form = data
        .into_inner()
        .ok_or_else(|| AppError::Request("expected a form upload".into()))?;
    let mut up = Upload {
        fields: std::collections::HashMap::new(),
        file_name: String::new(),
        file: Vec::new(),
    };
    while let Some(mut field) = form.next_field().await.map_err(bad)? {
        let name = field.name().unwrap_or("").to_string();
        if name != "file" {
            let text = field.text().await.map_err(bad)?;
            up.fields.insert(name, text);
            continue;
        }
        up.file_name = field.file_name().unwrap_or("").to_string();
        while let Some(chunk) = field.chunk().await.map_err(bad)? {
            if up.file.len() + chunk.len() > max {
                return Err(AppError::invalid("file", too_large));
            }
            up.file.extend_from_slice(&chunk);
        }
    }
    Ok(up)
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
