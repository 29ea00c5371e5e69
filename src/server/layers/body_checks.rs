//! Request bodies, read and checked before any decoder sees them: a size limit per path (413
//! beyond it, declared or chunked), UTF-8 for forms and JSON (percent-escapes included), a
//! boundary for multipart bodies; and an over-large form post without JavaScript goes back to
//! its page with the error instead of a bare 413. Guards the server's memory and keeps the
//! decoders from storing or choking on malformed text.

use super::{error_response, is_safe};
use crate::model::AppError;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Largest request body accepted, in bytes.
pub const BODY_LIMIT: usize = 1024 * 1024;

/// Server functions whose argument is a multipart body (server_fn's decoder needs a boundary).
pub const MULTIPART_PATHS: &[&str] = &["/api/bulk_upload_group_members", "/api/upload_user_import"];

/// The user import takes files of up to 16 MB (50,000 rows); its request may be this large.
pub const IMPORT_BODY_LIMIT: usize = 17 * 1024 * 1024;

/// The most a request to `path` may send.
pub fn body_limit(path: &str) -> usize {
    if path == "/api/upload_user_import" {
        IMPORT_BODY_LIMIT
    } else {
        BODY_LIMIT
    }
}

fn content_type(headers: &HeaderMap) -> &str {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// Reads the body of every request that has one, up to [`BODY_LIMIT`]: a larger body is 413
/// whether its length was declared or it came chunked. Form and JSON bodies must be UTF-8, and
/// multipart bodies (required where a server function takes one) must name a boundary: each is
/// a 400 that says so. Checked here so no decoder further in sees a body it could choke on.
pub async fn check_body(req: Request, next: Next) -> Response {
    let limit = body_limit(req.uri().path());
    let too_large = || {
        error_response(AppError::TooLarge {
            limit_mib: (limit / (1024 * 1024)) as u64,
        })
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return too_large();
    }
    let path = req.uri().path();
    let kind = content_type(req.headers()).to_ascii_lowercase();
    let multipart_fn = MULTIPART_PATHS.contains(&path);
    if multipart_fn || kind.starts_with("multipart/") {
        let good = kind.starts_with("multipart/form-data")
            && multer::parse_boundary(content_type(req.headers())).is_ok_and(|b| !b.is_empty());
        if !good && (multipart_fn || !is_safe(req.method())) {
            return error_response(AppError::Request(
                "This form must be sent as multipart/form-data with a boundary.".into(),
            ));
        }
    }
    if is_safe(req.method()) && declared.unwrap_or(0) == 0 {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    if limit > BODY_LIMIT {
        // A large upload is not read here: the server function checks its caller first and
        // then streams it, so no visitor can make the server hold 17 MiB. Still capped.
        let limited = Body::new(http_body_util::Limited::new(body, limit));
        return next.run(Request::from_parts(parts, limited)).await;
    }
    let bytes = match axum::body::to_bytes(body, limit).await {
        Ok(b) => b,
        Err(e) => {
            // The limit is the usual reason; a broken connection ends here too.
            let limited = std::error::Error::source(&e)
                .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
            return if limited || e.to_string().contains("length limit") {
                too_large()
            } else {
                error_response(AppError::Request(
                    "The request body could not be read.".into(),
                ))
            };
        }
    };
    let textual = kind.starts_with("application/x-www-form-urlencoded")
        || kind.starts_with("application/json")
        || kind.starts_with("text/");
    if textual && std::str::from_utf8(&bytes).is_err() {
        return error_response(AppError::Request(
            "The request body is not valid UTF-8 text.".into(),
        ));
    }
    // A form's decoder turns percent-escapes that are not UTF-8 (`%C0%80`) into U+FFFD, so a
    // name would be stored with replacement characters: refuse them here instead. The
    // separators (`&`, `=`, `+`) are ASCII and cannot complete a sequence, so the whole body
    // decodes to UTF-8 exactly when every name and value does.
    if kind.starts_with("application/x-www-form-urlencoded")
        && percent_encoding::percent_decode(&bytes)
            .decode_utf8()
            .is_err()
    {
        return error_response(AppError::Request(
            "The form's percent-encoded text (%XX) is not valid UTF-8.".into(),
        ));
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// A form posted without JavaScript (a file upload, in practice) that is over the size limit
/// goes back to its page with the error in the URL, shown there like any other form error,
/// instead of a bare 413 page.
pub async fn too_large_back_to_form(req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    let form_post = req.method() == Method::POST
        && path.starts_with("/api/")
        && req
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.contains("text/html"));
    let referer = req
        .headers()
        .get(header::REFERER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let res = next.run(req).await;
    if !form_post || res.status() != StatusCode::PAYLOAD_TOO_LARGE {
        return res;
    }
    let Some(referer) = referer else {
        return res;
    };
    let mb = body_limit(&path) / (1024 * 1024);
    let error = AppError::invalid(
        "form",
        format!("What you sent is larger than {mb} MB. Split the file into smaller ones."),
    );
    match leptos::server_fn::error::ServerFnUrlError::new(&path, error).to_url(&referer) {
        Ok(url) => (StatusCode::FOUND, [(header::LOCATION, url.to_string())]).into_response(),
        Err(_) => res,
    }
}
