//! The axum router: Leptos pages and server functions, site files, and the layers that protect
//! them (size limit, cross-site refusal, sessions, the page gate, error statuses, request log).

use super::auth::{user_of_session, SledSessionStore};
use super::state::AppState;
use crate::app::{shell, App};
use crate::model::AppError;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Router;
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, AxumRouteListing, LeptosRoutes};
use std::sync::OnceLock;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::trace::{DefaultMakeSpan, DefaultOnResponse, TraceLayer};
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, Session, SessionManagerLayer};
use tracing::Level;

/// Largest request body accepted (uploads will get their own, larger limit).
pub const BODY_LIMIT: usize = 1024 * 1024;
/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "tessera_session";

/// The app's route table, worked out once per process. Working it out renders the app with
/// resource loading switched off through a process-wide flag, so doing it while another router
/// serves pages (several test apps in one process) could leave their data resources unloaded
/// and those pages hanging; once, before any router exists, it cannot.
fn route_list() -> Vec<AxumRouteListing> {
    static ROUTES: OnceLock<Vec<AxumRouteListing>> = OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(App)).clone()
}

/// Builds the whole application router on `state`.
pub fn build(state: AppState) -> Router {
    let routes = route_list();
    let ctx_state = state.clone();
    let idle = time::Duration::seconds(state.config.session_idle.as_secs() as i64);
    let sessions = SledSessionStore::new(state.store.clone());
    let session_layer = SessionManagerLayer::new(sessions)
        .with_name(SESSION_COOKIE)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(state.config.secure_cookies)
        .with_expiry(Expiry::OnInactivity(idle));

    Router::new()
        .leptos_routes_with_context(
            &state,
            routes,
            move || provide_context(ctx_state.clone()),
            {
                let options = state.leptos_options.clone();
                move || shell(options.clone())
            },
        )
        .fallback(super::assets::fallback)
        .layer(middleware::from_fn(api_error_status))
        .layer(middleware::from_fn_with_state(state.clone(), page_gate))
        .layer(session_layer)
        .layer(RequestBodyLimitLayer::new(BODY_LIMIT))
        .layer(middleware::from_fn(too_large_back_to_form))
        .layer(middleware::from_fn(refuse_cross_site))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(DefaultMakeSpan::new().level(Level::INFO))
                .on_request(())
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .with_state(state)
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Refuses state-changing requests that a browser marks as coming from another site: by
/// `Sec-Fetch-Site` when present, else by comparing `Origin` with `Host`. Requests with neither
/// header are not from a browser page and carry no ambient cookies of a victim's browser beyond
/// what SameSite=Lax already blocks.
async fn refuse_cross_site(req: Request, next: Next) -> Response {
    if !is_safe(req.method()) {
        let headers = req.headers();
        let fetch_site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
        let refused = match fetch_site {
            Some(site) => !matches!(site, "same-origin" | "none"),
            None => match (headers.get(header::ORIGIN), headers.get(header::HOST)) {
                (Some(origin), Some(host)) => {
                    let origin = origin.to_str().unwrap_or("");
                    let origin_host = origin.split_once("://").map(|(_, rest)| rest).unwrap_or("");
                    origin == "null"
                        || !origin_host.eq_ignore_ascii_case(host.to_str().unwrap_or("-"))
                }
                (Some(_), None) => true,
                _ => false,
            },
        };
        if refused {
            tracing::warn!(path = %req.uri().path(), "cross-site request refused");
            return (
                StatusCode::FORBIDDEN,
                "Cross-site requests are not allowed.",
            )
                .into_response();
        }
    }
    next.run(req).await
}

/// Paths a visitor may open without being signed in.
const PUBLIC_PAGES: &[&str] = &["/login", "/signup"];

/// Whole-page requests go where they belong before anything renders: to set-up while there are
/// no users, away from set-up afterwards, to the login page when not signed in. Works without
/// JavaScript; the pages check again on the client.
async fn page_gate(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    let is_page = is_safe(req.method())
        && !path.starts_with("/api/")
        && !path.starts_with("/pkg/")
        && !path.rsplit('/').next().unwrap_or("").contains('.');
    if !is_page {
        return next.run(req).await;
    }
    let users = match state.read(|s| s.user_count()).await {
        Ok(n) => n,
        Err(e) => return error_response(e),
    };
    if users == 0 {
        return if path == "/setup" {
            next.run(req).await
        } else {
            Redirect::to("/setup").into_response()
        };
    }
    if path == "/setup" {
        return Redirect::to("/").into_response();
    }
    let signed_in = match req.extensions().get::<Session>().cloned() {
        Some(session) => match user_of_session(&state, &session).await {
            Ok(user) => user.is_some(),
            Err(e) => return error_response(e),
        },
        None => false,
    };
    let public = PUBLIC_PAGES.contains(&path.as_str());
    match (signed_in, public) {
        (false, false) => Redirect::to("/login").into_response(),
        (true, true) => Redirect::to("/").into_response(),
        _ => next.run(req).await,
    }
}

/// A form posted without JavaScript (a file upload, in practice) that is over the request
/// size limit goes back to its page with the error in the URL, shown there like any other
/// form error, instead of a bare 413 page.
async fn too_large_back_to_form(req: Request, next: Next) -> Response {
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
    let error = AppError::invalid(
        "form",
        "What you sent is larger than 1 MB. Split the file into smaller ones.",
    );
    match leptos::server_fn::error::ServerFnUrlError::new(&path, error).to_url(&referer) {
        Ok(url) => (StatusCode::FOUND, [(header::LOCATION, url.to_string())]).into_response(),
        Err(_) => res,
    }
}

fn error_response(e: AppError) -> Response {
    (e.status_code(), e.to_string()).into_response()
}

/// Server functions answer every error with 500; this gives each typed error its own status
/// (401, 403, 404, 422, 429, ...) so clients and logs see what happened. Form posts without
/// JavaScript are redirects and pass untouched.
async fn api_error_status(req: Request, next: Next) -> Response {
    let is_api = req.uri().path().starts_with("/api/");
    let res = next.run(req).await;
    if !is_api || res.status() != StatusCode::INTERNAL_SERVER_ERROR {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let bytes = match axum::body::to_bytes(body, 64 * 1024).await {
        Ok(b) => b,
        Err(_) => return (StatusCode::INTERNAL_SERVER_ERROR, "").into_response(),
    };
    if let Ok(err) = serde_json::from_slice::<AppError>(&bytes) {
        parts.status = err.status_code();
        if let AppError::TooManyAttempts { retry_after_secs }
        | AppError::Busy { retry_after_secs } = err
        {
            if let Ok(v) = retry_after_secs.to_string().parse() {
                parts.headers.insert(header::RETRY_AFTER, v);
            }
        }
    }
    Response::from_parts(parts, Body::from(bytes))
}
