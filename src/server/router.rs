//! The axum router: Leptos pages and server functions, site files, and the layers that protect
//! them (see `layers/`: security headers, panics, body checks, cross-site refusal, host check
//! before set-up, form redirects), sessions, the page gate, error statuses and the request log.

use super::client::{client_info, ClientInfo};
use super::layers;
use super::session_guards::{user_of_session, CheckedUser, StoredSessions};
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
use std::sync::atomic::Ordering;
use std::sync::OnceLock;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, Session, SessionManagerLayer};
use tracing::Level;

pub use layers::BODY_LIMIT;
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

/// Builds the whole application router on `state`: the pages, server functions and site files,
/// inside [`with_layers`].
pub fn build(state: AppState) -> Router {
    let routes = route_list();
    let ctx_state = state.clone();
    let app = Router::new()
        .leptos_routes_with_context(
            &state,
            routes,
            move || provide_context(ctx_state.clone()),
            {
                let options = state.leptos_options.clone();
                move || shell(options.clone())
            },
        )
        .merge(downloads(&state))
        .fallback(super::assets::fallback);
    with_layers(state, app)
}

/// The files the server makes on request, every one refused when another site starts it
/// ([`layers::refuse_cross_site_download`]).
pub fn downloads(state: &AppState) -> Router<AppState> {
    use super::downloads::{activity_csv, backup_download, group_report_csv, import_result};
    use axum::routing::get;
    Router::new()
        .route(DOWNLOAD_ROUTES[0], get(import_result))
        .route(DOWNLOAD_ROUTES[1], get(group_report_csv))
        .route(DOWNLOAD_ROUTES[2], get(backup_download))
        .route(DOWNLOAD_ROUTES[3], get(activity_csv))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            layers::refuse_cross_site_download,
        ))
}

/// The download routes (axum paths), for [`downloads`] and the tests that walk them.
pub const DOWNLOAD_ROUTES: [&str; 4] = [
    "/imports/{id}/result.csv",
    "/groups/{id}/report.csv",
    "/backup/download",
    "/activity.csv",
];

/// Wraps `app` in every layer the application runs behind. Layers listed later wrap those
/// before them, so a request meets them bottom-up: client address, request log, security
/// headers, panic catcher, request timeout, concurrency limit, form redirects, cross-site
/// refusal, host check before set-up, size limit back to the form, body checks, sessions, URL
/// error removal, page gate, error statuses.
pub fn with_layers(state: AppState, app: Router<AppState>) -> Router {
    let idle = time::Duration::seconds(state.config.session_idle.as_secs() as i64);
    let sessions = StoredSessions::new(
        state.storage.clone(),
        state.flusher.clone(),
        state.session_writes.clone(),
    );
    let session_layer = SessionManagerLayer::new(sessions)
        .with_name(SESSION_COOKIE)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(state.config.secure_cookies)
        .with_expiry(Expiry::OnInactivity(idle));
    let trusted = state.config.trusted_proxies.clone();
    let inner = app
        .layer(middleware::from_fn(api_error_status))
        .layer(middleware::from_fn_with_state(state.clone(), page_gate))
        .layer(middleware::from_fn(layers::drop_url_errors))
        .layer(session_layer)
        .layer(middleware::from_fn(layers::check_body))
        .layer(middleware::from_fn(layers::too_large_back_to_form))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            layers::host_check_before_setup,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            layers::refuse_cross_site,
        ));
    // What a refused form's page is rendered again by: everything under the form redirects.
    let forms = layers::FormPages {
        pages: inner.clone().with_state(state.clone()),
        secure_cookies: state.config.secure_cookies,
    };
    let limits = state.config.limits;
    let app = inner
        .layer(middleware::from_fn_with_state(
            forms,
            layers::form_redirects,
        ))
        // Two layers, the limit inside: a request waiting for its turn is timed too.
        .layer(layers::concurrency_limit(limits.max_requests))
        .layer(middleware::from_fn_with_state(
            limits.request_timeout,
            layers::time_limit,
        ))
        .layer(CatchPanicLayer::custom(layers::panic_response));
    layers::with_security_headers(app, state.config.tls.is_some())
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request| {
                    let client = req
                        .extensions()
                        .get::<ClientInfo>()
                        .and_then(|c| c.ip)
                        .map(|ip| ip.to_string())
                        .unwrap_or_default();
                    tracing::info_span!(
                        "request",
                        method = %req.method(),
                        // The path only: a query may carry a set-password token.
                        path = %req.uri().path(),
                        client,
                    )
                })
                .on_request(())
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .layer(middleware::from_fn(move |req: Request, next: Next| {
            client_info(trusted.clone(), req, next)
        }))
        .with_state(state)
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Paths a visitor may open without being signed in.
const PUBLIC_PAGES: &[&str] = &["/login", "/signup"];
/// Pages for anyone, signed in or not.
const OPEN_PAGES: &[&str] = &["/set-password"];

/// Whole-page requests go where they belong before anything renders: to set-up while there are
/// no users, away from set-up afterwards, to the login page when not signed in. Works without
/// JavaScript; the pages check again on the client.
async fn page_gate(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    let is_page = is_safe(req.method())
        && !path.starts_with("/api/")
        && !path.starts_with("/pkg/")
        && !path.rsplit('/').next().unwrap_or("").contains('.');
    if !is_page {
        return next.run(req).await;
    }
    // Once the store has an account it never has none again (`Shared::set_up`, which the host
    // check sets): no read per page after that.
    let set_up = state.set_up.load(Ordering::Relaxed)
        || match state.read_now(|s| s.user_count()) {
            Ok(n) => n > 0,
            Err(e) => return error_response(e),
        };
    if !set_up {
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
            Ok(Some(user)) => {
                // The page's own server functions take the user from here (see CheckedUser).
                req.extensions_mut().insert(CheckedUser(user));
                true
            }
            Ok(None) => false,
            Err(e) => return error_response(e),
        },
        None => false,
    };
    if OPEN_PAGES.contains(&path.as_str()) {
        return next.run(req).await;
    }
    let public = PUBLIC_PAGES.contains(&path.as_str());
    match (signed_in, public) {
        (false, false) => Redirect::to(&login_then(req.uri())).into_response(),
        (true, true) => Redirect::to("/").into_response(),
        _ => next.run(req).await,
    }
}

/// The login page, with the page the visitor wanted as `next` (not for the home page).
pub fn login_then(uri: &axum::http::Uri) -> String {
    let wanted = uri.path_and_query().map_or("/", |p| p.as_str());
    if wanted == "/" {
        return "/login".into();
    }
    let next: String = url::form_urlencoded::byte_serialize(wanted.as_bytes()).collect();
    format!("/login?next={next}")
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
        | AppError::Busy { retry_after_secs }
        | AppError::CannotSave {
            retry_after_secs, ..
        } = err
        {
            if let Ok(v) = retry_after_secs.to_string().parse() {
                parts.headers.insert(header::RETRY_AFTER, v);
            }
        }
    }
    Response::from_parts(parts, Body::from(bytes))
}
