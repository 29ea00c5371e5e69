//! The host check before set-up: while no account exists, a request by an unknown host name
//! is refused (421), so a page that rebinds its own DNS name to this server cannot run the
//! first-start set-up and make itself administrator.

use super::cross_site::host_name;
use super::error_response;
use crate::server::state::AppState;
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::atomic::Ordering;

/// Whether `host` (a Host header) may reach a server that has no accounts yet: IP addresses
/// (a DNS-rebinding page always comes by a name), `localhost`, the configured `allowed_hosts`
/// and the host of `public_url`.
pub fn host_allowed_before_setup(state: &AppState, host: &str) -> bool {
    let name = host_name(host);
    if name.is_empty() {
        return false;
    }
    if name.parse::<std::net::IpAddr>().is_ok()
        || name == "localhost"
        || name.ends_with(".localhost")
    {
        return true;
    }
    let public = state
        .config
        .public_url
        .as_ref()
        .and_then(|u| u.host())
        .map(str::to_ascii_lowercase);
    public.as_deref() == Some(name.as_str())
        || state
            .config
            .allowed_hosts
            .iter()
            .any(|h| h.eq_ignore_ascii_case(&name))
}

/// While no account exists, requests by an unknown host name are refused (421), so a page that
/// rebinds its own name to this server cannot run the first-start set-up.
pub async fn host_check_before_setup(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    if !state.set_up.load(Ordering::Relaxed) {
        match state.read(|s| s.user_count()).await {
            Ok(n) if n > 0 => state.set_up.store(true, Ordering::Relaxed),
            Ok(_) => {
                // HTTP/2 names the host in the URI instead of a Host header.
                let host = req
                    .headers()
                    .get(header::HOST)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string)
                    .or_else(|| req.uri().authority().map(|a| a.to_string()))
                    .unwrap_or_default();
                let host = host.as_str();
                if !host_allowed_before_setup(&state, host) {
                    tracing::warn!(
                        host,
                        "request by an unknown host name before set-up refused"
                    );
                    return (
                        StatusCode::MISDIRECTED_REQUEST,
                        "This server is not set up yet and does not answer to this host name. \
                         Open it by its IP address or localhost, or add the name to allowed_hosts \
                         (or public_url) in its configuration.",
                    )
                        .into_response();
                }
            }
            Err(e) => return error_response(e),
        }
    }
    next.run(req).await
}
