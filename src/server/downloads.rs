//! Files the server makes on request (not site files): the result of a user import as CSV.

use super::auth::user_of_session;
use super::state::AppState;
use crate::model::import::{password_link, ImportOutcome};
use crate::model::user::Role;
use crate::model::AppError;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use tower_sessions::Session;

/// Where this server is reached, for links handed to people: `public_url` when configured,
/// otherwise the scheme and host the request came with.
pub fn site_base(state: &AppState, headers: &HeaderMap) -> String {
    if let Some(url) = &state.config.public_url {
        let scheme = url.scheme_str().unwrap_or("https");
        let authority = url.authority().map_or("", |a| a.as_str());
        return format!("{scheme}://{authority}");
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        })
        .unwrap_or("localhost");
    let scheme = if state.config.secure_cookies {
        "https"
    } else {
        "http"
    };
    format!("{scheme}://{host}")
}

/// A cell a spreadsheet will not run as a formula: text starting with `=`, `+`, `-`, `@`, a
/// tab or a carriage return gets a leading `'` (the cells come from an uploaded file).
pub fn inert(cell: String) -> String {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}")
    } else {
        cell
    }
}

/// `GET /imports/{id}/result.csv`: every row of an import with its outcome and, for users
/// created without a password, their set-password link (administrators only).
pub async fn import_result(
    State(state): State<AppState>,
    Path(id): Path<u64>,
    session: Session,
    headers: HeaderMap,
) -> Response {
    match import_result_csv(&state, id, &session, &headers).await {
        Ok(body) => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"import-{id}-result.csv\""),
                ),
            ],
            body,
        )
            .into_response(),
        Err(e) => (e.status_code(), e.to_string()).into_response(),
    }
}

async fn import_result_csv(
    state: &AppState,
    id: u64,
    session: &Session,
    headers: &HeaderMap,
) -> Result<Vec<u8>, AppError> {
    let user = user_of_session(state, session)
        .await?
        .ok_or(AppError::Unauthenticated)?;
    if user.role() != Role::Admin {
        return Err(AppError::Forbidden);
    }
    let base = site_base(state, headers);
    state
        .read(move |s| {
            if s.get_import(id)?.is_none() {
                return Err(super::store::StoreError::NotFound("import"));
            }
            let mut w = csv::Writer::from_writer(Vec::new());
            let csv_err = |e: csv::Error| super::store::StoreError::Corrupt {
                tree: "import_rows",
                key: id.to_string(),
                reason: e.to_string(),
            };
            w.write_record([
                "line",
                "login",
                "email",
                "display name",
                "role",
                "groups",
                "result",
                "detail",
                "set-password link",
            ])
            .map_err(csv_err)?;
            s.import_rows_all(id, super::store::now_ms(), |row| {
                let link = match &row.outcome {
                    ImportOutcome::Created {
                        link: Some(token), ..
                    } => password_link(&base, token),
                    _ => String::new(),
                };
                let detail = match &row.outcome {
                    ImportOutcome::Created { .. } | ImportOutcome::Create => String::new(),
                    other => other.describe(),
                };
                w.write_record([
                    row.line.to_string(),
                    inert(row.login),
                    inert(row.email),
                    inert(row.display_name),
                    inert(row.role),
                    inert(row.groups.join("; ")),
                    row.outcome.kind().to_string(),
                    inert(detail),
                    link,
                ])
                .map_err(csv_err)
            })?;
            w.into_inner()
                .map_err(|e| super::store::StoreError::Corrupt {
                    tree: "import_rows",
                    key: id.to_string(),
                    reason: e.to_string(),
                })
        })
        .await
}
