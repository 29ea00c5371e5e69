//! The middleware around every route: what protects the app before a handler runs and what
//! every response carries, one concern a file. `router::with_layers` puts them in order.
//!
//! - [`headers`]: CSP (pages set their own with the render's nonce), no framing, nosniff,
//!   referrer policy, `no-store` on anything not a site file, HSTS when serving HTTPS.
//! - [`panics`]: a handler that panics answers 500 with a log id and writes one log line,
//!   instead of dropping the connection.
//! - [`body_checks`]: bodies are read up to [`BODY_LIMIT`] (413 beyond, chunked or not); form
//!   and JSON bodies must be UTF-8; multipart bodies must name their boundary.
//! - [`cross_site`]: state-changing requests and downloads that another site starts are refused.
//! - [`setup_host`]: while no account exists, only known host names may reach the server (a
//!   DNS-rebinding page cannot create the first administrator).
//! - [`safe_redirects`]: redirect targets stay on this site, and no form error is ever taken
//!   from a URL.
//! - [`request_limits`]: a request timeout and a cap on the requests handled at once, so no
//!   slow handler or flood holds every thread.
//! - [`form_replay`]: a form posted without JavaScript and refused gets its page rendered again
//!   with what was typed and every error; one that succeeded goes back to its page, told so.

pub mod body_checks;
pub mod cross_site;
pub mod form_replay;
pub mod headers;
pub mod panics;
pub mod request_limits;
pub mod safe_redirects;
pub mod setup_host;

pub use body_checks::{
    body_limit, check_body, too_large_back_to_form, BODY_LIMIT, IMPORT_BODY_LIMIT, MULTIPART_PATHS,
};
pub use cross_site::{download_from_other_site, refuse_cross_site, refuse_cross_site_download};
pub use form_replay::{form_redirects, FormPages};
pub use headers::{page_csp, with_security_headers};
pub use panics::{install_panic_hook, panic_response};
pub use request_limits::{concurrency_limit, time_limit};
pub use safe_redirects::{drop_url_errors, same_origin_path};
pub use setup_host::{host_allowed_before_setup, host_check_before_setup};

use crate::model::AppError;
use axum::http::{header, HeaderValue, Method};
use axum::response::{IntoResponse, Response};

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// A response carrying `err` as the server functions' clients expect it: its status and the
/// error as JSON.
pub fn error_response(err: AppError) -> Response {
    let body = serde_json::to_string(&err).unwrap_or_default();
    let mut res = (err.status_code(), body).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res
}
