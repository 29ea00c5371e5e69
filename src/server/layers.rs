//! The middleware around every route: what protects the app before a handler runs and what
//! every response carries. `router::build` puts them in order.
//!
//! - [`security_headers`]: CSP (pages set their own with the render's nonce), no framing,
//!   nosniff, referrer policy, `no-store` on anything not a site file.
//! - [`panic_response`] with [`install_panic_hook`]: a handler that panics answers 500 with a log
//!   id and writes one log line, instead of dropping the connection.
//! - [`check_body`]: bodies are read here, up to [`BODY_LIMIT`] (413 beyond, chunked or not);
//!   form and JSON bodies must be UTF-8 (a form's percent-escapes too); multipart bodies must
//!   name their boundary.
//! - [`refuse_cross_site`]: state-changing requests from other sites are refused.
//! - [`refuse_cross_site_download`]: so are downloads (backup, CSV files) another site starts.
//! - [`host_check_before_setup`]: while no account exists, only known host names may reach
//!   the server (a DNS-rebinding page cannot create the first administrator).
//! - [`form_redirects`] and [`verify_url_errors`]: the redirect after a form post without
//!   JavaScript stays on this site, and the error it carries in the URL is signed for the
//!   browser that posted it and for ten minutes, so a link with a forged error, or with a
//!   genuine one sent to someone else or opened later, shows nothing.

use super::client::ClientInfo;
use super::state::AppState;
use crate::model::AppError;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use std::cell::RefCell;
use std::sync::atomic::Ordering;

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

// ---------------------------------------------------------------------------------------------
// Security headers

/// The Content-Security-Policy of a page rendered with `nonce`: scripts only from this site or
/// carrying the nonce (Leptos puts it on its hydration and streaming scripts), WebAssembly
/// allowed, no plugins, no framing, forms post only here.
pub fn page_csp(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; \
         object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// For responses that set no policy of their own (JSON, files, errors): nothing may run.
const DEFAULT_CSP: &str =
    "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; form-action 'self'; \
     frame-ancestors 'none'";

/// Adds the security headers to every response; pages keep the CSP they set while rendering.
pub async fn security_headers(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(DEFAULT_CSP),
        );
    }
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    // Site files set their own caching; pages and API answers may hold personal data.
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    res
}

/// With HTTPS served directly: browsers are told to use nothing else for this host for a year.
pub async fn strict_transport(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    if state.config.tls.is_some() {
        res.headers_mut().insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    res
}

// ---------------------------------------------------------------------------------------------
// Panics

thread_local! {
    /// The log id of the last panic on this thread, for the 500 response that follows it.
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Logs every panic as one line with a fresh log id (no backtrace unless `RUST_BACKTRACE` is
/// set), and remembers the id for [`panic_response`] on the same thread. Where no log
/// subscriber is active (tests), the standard hook prints the panic as usual after the id.
/// Installing it more than once has no further effect.
pub fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let standard = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let log_id = format!("{:08x}", rand::random::<u32>());
            LAST_PANIC.with(|p| *p.borrow_mut() = Some(log_id.clone()));
            let logging =
                tracing::dispatcher::get_default(|d| !d.is::<tracing::subscriber::NoSubscriber>());
            if !logging {
                eprintln!("panic (log id {log_id}):");
                standard(info);
                return;
            }
            log_panic(&log_id, info);
        }));
    });
}

fn log_panic(log_id: &str, info: &std::panic::PanicHookInfo<'_>) {
    let message = info
        .payload()
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| info.payload().downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into());
    let at = info
        .location()
        .map(|l| format!("{}:{}", l.file(), l.line()))
        .unwrap_or_default();
    let thread = std::thread::current();
    let thread = thread.name().unwrap_or("unnamed");
    if std::env::var_os("RUST_BACKTRACE").is_some_and(|v| v != "0") {
        let trace = std::backtrace::Backtrace::force_capture().to_string();
        let trace = trace.replace('\n', " | ");
        tracing::error!(log_id, at, thread, %message, %trace, "panic");
    } else {
        tracing::error!(log_id, at, thread, %message, "panic");
    }
}

/// The answer to a request whose handler panicked: 500 with the panic's log id, as the JSON of
/// `AppError::Internal` (what server functions' clients decode; a browser shows it as text).
pub fn panic_response(_payload: Box<dyn std::any::Any + Send + 'static>) -> Response<Body> {
    let log_id = LAST_PANIC
        .with(|p| p.borrow_mut().take())
        .unwrap_or_else(|| "-".into());
    error_response(AppError::Internal { log_id })
}

// ---------------------------------------------------------------------------------------------
// Bodies

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

// ---------------------------------------------------------------------------------------------
// Origins and hosts

/// The host name of a `Host` header or URL authority, without port or IPv6 brackets, lower case.
fn host_name(authority: &str) -> String {
    let a = authority.trim();
    let name = if let Some(rest) = a.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        a.rsplit_once(':')
            .filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit()))
            .map_or(a, |(h, _)| h)
    };
    name.to_ascii_lowercase()
}

/// The scheme browsers use to reach this server: the configured public URL's when the request
/// came by its host, else what a trusted proxy reported, else `https` when cookies are marked
/// Secure (HTTPS in front), else `http`.
fn expected_scheme(state: &AppState, headers: &HeaderMap, client: Option<&ClientInfo>) -> String {
    if let Some(public) = &state.config.public_url {
        let host = headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if public
            .authority()
            .is_some_and(|a| a.as_str().eq_ignore_ascii_case(host))
        {
            return public.scheme_str().unwrap_or("http").to_string();
        }
    }
    if let Some(proto) = client.and_then(|c| c.forwarded_proto.clone()) {
        return proto;
    }
    if state.config.secure_cookies {
        "https".into()
    } else {
        "http".into()
    }
}

/// Refuses state-changing requests that a browser marks as coming from another site: by
/// `Sec-Fetch-Site` when present, else by comparing `Origin` (scheme and host) with this
/// server's. Requests with neither header are not from a browser page and carry no ambient
/// cookies of a victim's browser beyond what SameSite=Lax already blocks.
pub async fn refuse_cross_site(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    if !is_safe(req.method()) {
        let headers = req.headers();
        let fetch_site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
        let refused = match fetch_site {
            Some(site) => !matches!(site, "same-origin" | "none"),
            None => match (headers.get(header::ORIGIN), own_origin(&state, &req)) {
                (Some(origin), Some(expected)) => !origin
                    .to_str()
                    .unwrap_or("")
                    .eq_ignore_ascii_case(&expected),
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

/// This server's origin (`scheme://host`) as the request names it, for comparing with `Origin`
/// and `Referer`; `None` without a host. HTTP/2 names the host in the URI instead of a Host
/// header.
fn own_origin(state: &AppState, req: &Request) -> Option<String> {
    let headers = req.headers();
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .or_else(|| req.uri().authority().map(|a| a.to_string()))?;
    let client = req.extensions().get::<ClientInfo>();
    let scheme = expected_scheme(state, headers, client);
    Some(format!("{scheme}://{host}"))
}

/// Whether a download request was started by another site. A download is a GET, so the
/// cross-site check of [`refuse_cross_site`] lets it by; but a signed-in administrator's
/// browser, sent to it by another site's link or script, would save the file (and a backup
/// records who made it). `Sec-Fetch-Site` decides when present: `same-origin` (a link on
/// Tessera's pages) and `none` (a typed address or a bookmark) pass, `same-site` and
/// `cross-site` do not. Without it (old browsers), `Origin`, else `Referer`, must be this
/// server's when sent; a request with none of the three passes.
pub fn download_from_other_site(state: &AppState, req: &Request) -> bool {
    let headers = req.headers();
    if let Some(site) = headers.get("sec-fetch-site") {
        return !matches!(site.to_str(), Ok("same-origin" | "none"));
    }
    let sender = match (headers.get(header::ORIGIN), headers.get(header::REFERER)) {
        (Some(origin), _) => origin.to_str().ok().map(str::to_string),
        (None, Some(referer)) => referer
            .to_str()
            .ok()
            .and_then(|r| r.parse::<Uri>().ok())
            .and_then(|u| Some(format!("{}://{}", u.scheme_str()?, u.authority()?))),
        (None, None) => return false,
    };
    match (sender, own_origin(state, req)) {
        (Some(sender), Some(own)) => !sender.eq_ignore_ascii_case(&own),
        _ => true,
    }
}

/// The page a download started by another site gets (403), instead of the file.
const DOWNLOAD_REFUSED_PAGE: &str =
    "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<title>Download refused - Tessera</title></head><body><h1>Download refused</h1>\
<p>This download was started by another site, so Tessera did not make the file.</p>\
<p>To download it, use the link on Tessera's own page, or type the address yourself.</p>\
<p><a href=\"/\">Go to Tessera</a></p></body></html>";

/// Refuses downloads started by another site (see [`download_from_other_site`]) with 403 and
/// a short page, before the handler makes the file or records anything.
pub async fn refuse_cross_site_download(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    if download_from_other_site(&state, &req) {
        tracing::warn!(path = %req.uri().path(), "cross-site download refused");
        return (
            StatusCode::FORBIDDEN,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            DOWNLOAD_REFUSED_PAGE,
        )
            .into_response();
    }
    next.run(req).await
}

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

// ---------------------------------------------------------------------------------------------
// The error round trip of forms posted without JavaScript

const ERR_PARAMS: [&str; 3] = ["__path", "__err", "__sig"];

/// The parameter that tells a page a form posted from it just succeeded: the server function's
/// path (`__done=/api/update_group`), so the page can say "Changes saved." It says nothing a
/// visitor could choose the words of, so it needs no signature.
const DONE_PARAM: &str = "__done";

fn query_pairs(query: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn encode_query(pairs: &[(String, String)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .finish()
}

/// Makes a redirect target safe: a path on this site stays (normalised and percent-encoded as
/// a URL parser reads it, so what the browser follows is what was checked); an absolute URL on
/// this host becomes its path; anything else (another site, `//host`, backslashes, control
/// characters or spaces that browsers drop or rewrite) becomes `/`.
pub fn same_origin_path(location: &str, host: Option<&str>) -> String {
    this_site_path(location, host).unwrap_or_else(|| "/".to_string())
}

/// The path [`same_origin_path`] makes of a location on this site; `None` for any other.
fn this_site_path(location: &str, host: Option<&str>) -> Option<String> {
    const BASE: &str = "http://tessera.invalid/";

    if location.is_empty()
        || location
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || c == '\\')
    {
        return None;
    }
    let Ok(base) = url::Url::parse(BASE) else {
        return None;
    };
    let candidate = if location.starts_with('/') && !location.starts_with("//") {
        location.to_string()
    } else {
        // An absolute URL counts only when it names this very host.
        let Ok(uri) = location.parse::<Uri>() else {
            return None;
        };
        let same_host = matches!(uri.scheme_str(), Some("http" | "https"))
            && uri
                .authority()
                .zip(host)
                .is_some_and(|(a, h)| a.as_str().eq_ignore_ascii_case(h));
        if !same_host {
            return None;
        }
        uri.path_and_query().map_or("/", |p| p.as_str()).to_string()
    };
    match base.join(&candidate) {
        Ok(url) if url.host_str() == Some("tessera.invalid") && url.scheme() == "http" => {
            let path = url.path();
            if path.starts_with("//") {
                return None;
            }
            Some(match url.query() {
                Some(q) => format!("{path}?{q}"),
                None => path.to_string(),
            })
        }
        _ => None,
    }
}

/// Removes the form-outcome parameters (an error, or `__done`) from a URL's query (raw segments
/// otherwise untouched).
fn without_error_params(url: &str) -> String {
    let Some((path, query)) = url.split_once('?') else {
        return url.to_string();
    };
    let kept: Vec<&str> = query
        .split('&')
        .filter(|seg| {
            let key = seg.split('=').next().unwrap_or("");
            let key = url::form_urlencoded::parse(key.as_bytes())
                .next()
                .map(|(k, _)| k.into_owned())
                .unwrap_or_default();
            !seg.is_empty() && !ERR_PARAMS.contains(&key.as_str()) && key != DONE_PARAM
        })
        .collect();
    if kept.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{}", kept.join("&"))
    }
}

/// Whether two paths on this site name the same page: the same path and the same query
/// parameters (decoded, in order), form-outcome parameters aside. server_fn re-encodes the
/// `Referer` it sends a form back to, so the two are not compared as text.
fn same_page(a: &str, b: &str) -> bool {
    let parts = |u: &str| {
        let (path, query) = u.split_once('?').unwrap_or((u, ""));
        let pairs: Vec<_> = query_pairs(query)
            .into_iter()
            .filter(|(k, _)| !ERR_PARAMS.contains(&k.as_str()) && k != DONE_PARAM)
            .collect();
        (path.to_string(), pairs)
    };
    parts(a) == parts(b)
}

/// What [`form_redirects`] renders a refused form's page again with: the part of the router
/// under it.
#[derive(Clone)]
pub struct FormPages {
    pub pages: axum::Router,
    /// Whether cookies are marked `Secure`.
    pub secure_cookies: bool,
}

/// The cookie naming the page a refused form of function `endpoint` was shown again on (its
/// address is the function's, `/api/<endpoint>`), so forms posted from there go back to it.
fn back_cookie(endpoint: &str) -> String {
    let name: String = endpoint
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    format!("tessera_back_{name}")
}

/// The most of a plain form's fields kept to fill the form again (larger posts are passed on
/// untouched and their page shows the errors without the values).
const REPLAY_LIMIT: usize = 256 * 1024;

/// Reads the fields of a plain form post (`application/x-www-form-urlencoded`, up to
/// [`REPLAY_LIMIT`]) and gives the request back with the same body; passwords are left out
/// of what is kept. Any other request comes back untouched with no fields.
async fn keep_form_fields(req: Request) -> Result<(Request, Vec<(String, String)>), Response> {
    let plain_form = req.method() == Method::POST
        && req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"));
    let length = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .or_else(|| axum::body::HttpBody::size_hint(req.body()).exact());
    let small = length.is_some_and(|n| n <= REPLAY_LIMIT as u64);
    if !plain_form || !small {
        return Ok((req, Vec::new()));
    }
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, REPLAY_LIMIT).await {
        Ok(b) => b,
        Err(_) => {
            return Err((
                StatusCode::BAD_REQUEST,
                "The form could not be read completely. Please try again.",
            )
                .into_response())
        }
    };
    let fields = url::form_urlencoded::parse(&bytes)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .filter(|(k, _)| !crate::components::field::FormReplay::is_secret(k))
        .collect();
    Ok((Request::from_parts(parts, Body::from(bytes)), fields))
}

/// The request headers a page rendered again for a refused form keeps from the post: who is
/// asking (cookies: the session) and for what host and language.
fn request_headers_kept(from: &HeaderMap) -> HeaderMap {
    headers_named(
        from,
        &[
            header::COOKIE,
            header::HOST,
            header::USER_AGENT,
            header::ACCEPT_LANGUAGE,
        ],
    )
}

/// The headers of `from` with these names (every value of each).
fn headers_named(from: &HeaderMap, names: &[header::HeaderName]) -> HeaderMap {
    let mut kept = HeaderMap::new();
    for name in names {
        for v in from.get_all(name) {
            kept.append(name.clone(), v.clone());
        }
    }
    kept
}

/// The page a refused form was on, and the post's client, to render that page again.
struct Replay {
    page: String,
    headers: HeaderMap,
    client: Option<ClientInfo>,
    connect: Option<axum::extract::ConnectInfo<std::net::SocketAddr>>,
}

/// Renders `again.page` with `replay` in the request, for the browser that posted the form:
/// the page with the form filled in as typed and every problem listed, answered with the
/// error's status and any cookie the refusal set (`refused`). `None` when that page does not
/// render as a page (it redirects, or fails): the caller then sends the browser back with the
/// error in the URL, as before.
async fn render_again(
    pages: &axum::Router,
    again: Replay,
    replay: crate::components::field::FormReplay,
    refused: HeaderMap,
) -> Option<Response> {
    use tower::ServiceExt;
    let status = replay.error.status_code();
    let mut req = Request::get(&again.page).body(Body::empty()).ok()?;
    *req.headers_mut() = again.headers;
    if let Some(client) = again.client {
        req.extensions_mut().insert(client);
    }
    if let Some(connect) = again.connect {
        req.extensions_mut().insert(connect);
    }
    req.extensions_mut().insert(replay);
    let mut page = pages.clone().oneshot(req).await.ok()?;
    if page.status() != StatusCode::OK {
        return None;
    }
    *page.status_mut() = status;
    for (name, value) in &refused {
        page.headers_mut().append(name.clone(), value.clone());
    }
    Some(page)
}

/// The headers of a function's refusal that its page rendered again keeps: the cookies it set
/// and, for a refusal to wait out, for how long (`Retry-After`).
fn refusal_headers(from: &HeaderMap) -> HeaderMap {
    headers_named(from, &[header::SET_COOKIE, header::RETRY_AFTER])
}

/// After a server function: a redirect (to the form's page, from `Referer`) is kept on this
/// site, and the error it carries in its URL gets a signature that [`verify_url_errors`]
/// checks before the page shows it. The request's `Referer` loses any outcome parameters
/// first, so the only error that can be signed is the one this call produced. A plain form
/// post that succeeded and goes back to its page gets `__done=<function path>` instead.
pub async fn form_redirects(
    State(forms): State<FormPages>,
    mut req: Request,
    next: Next,
) -> Response {
    if !req.uri().path().starts_with("/api/") {
        return next.run(req).await;
    }
    // A plain form's fields, kept to fill the form again should the function refuse them.
    let (req_back, posted) = match keep_form_fields(req).await {
        Ok(kept) => kept,
        Err(res) => return res,
    };
    req = req_back;
    let client = req.extensions().get::<ClientInfo>().cloned();
    let connect = req
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .cloned();
    let replay_headers = request_headers_kept(req.headers());
    let referer = req
        .headers()
        .get(header::REFERER)
        .map(|v| v.to_str().map(without_error_params));
    match referer {
        Some(Ok(clean)) => match HeaderValue::from_str(&clean) {
            Ok(v) => {
                req.headers_mut().insert(header::REFERER, v);
            }
            Err(_) => {
                req.headers_mut().remove(header::REFERER);
            }
        },
        Some(Err(_)) => {
            req.headers_mut().remove(header::REFERER);
        }
        None => {}
    }
    // A form on a page shown in place after a refusal was posted from the function's own
    // address: the page it belongs to is the one that address showed (its cookie says which).
    let shown_at = req
        .headers()
        .get(header::REFERER)
        .and_then(|v| v.to_str().ok())
        .and_then(|r| url::Url::parse(r).ok())
        .filter(|u| u.path().starts_with("/api/"));
    if let Some(shown_at) = shown_at {
        let endpoint = shown_at.path().trim_start_matches("/api/").to_string();
        let page = super::signing::request_cookie(req.headers(), &back_cookie(&endpoint))
            .and_then(|v| {
                percent_encoding::percent_decode_str(&v)
                    .decode_utf8()
                    .ok()
                    .map(|p| p.into_owned())
            })
            .filter(|p| p.starts_with('/') && !p.starts_with("//") && !p.starts_with("/api/"))
            .and_then(|p| shown_at.join(&p).ok())
            .and_then(|u| HeaderValue::from_str(u.as_str()).ok());
        match page {
            Some(v) => {
                req.headers_mut().insert(header::REFERER, v);
            }
            None => {
                req.headers_mut().remove(header::REFERER);
            }
        }
    }
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| req.uri().authority().map(|a| a.to_string()));
    let fn_path = req.uri().path().to_string();
    let back = req.headers().get(header::REFERER).cloned();
    let mut res = next.run(req).await;
    let Some(location) = res.headers().get(header::LOCATION) else {
        return res;
    };
    // A Location that is not plain text is not followed anywhere but home.
    let location = location.to_str().unwrap_or("").to_string();
    let mut target = same_origin_path(&location, host.as_deref());
    // The function failed when its Location carries an error, even one dropped with an
    // off-site Location.
    let failed = location
        .split_once('?')
        .is_some_and(|(_, q)| query_pairs(q).iter().any(|(k, _)| k == "__err"));
    // Refused: the form's page again, with what was typed and every problem, when it renders.
    if failed {
        let page = back
            .as_ref()
            .and_then(|b| b.to_str().ok())
            .filter(|b| b.starts_with("http://") || b.starts_with("https://"))
            .and_then(|b| this_site_path(b, host.as_deref()));
        let err = location
            .split_once('?')
            .map(|(_, q)| query_pairs(q))
            .and_then(|pairs| pairs.into_iter().find(|(k, _)| k == "__err"))
            .map(|(_, v)| v);
        if let (Some(page), Some(encoded)) = (page, err) {
            let replay = crate::components::field::FormReplay {
                error: leptos::server_fn::error::ServerFnUrlError::<AppError>::decode_err(&encoded),
                fn_path: fn_path.clone(),
                encoded,
                values: posted,
            };
            let again = Replay {
                page,
                headers: replay_headers,
                client,
                connect,
            };
            let refused = refusal_headers(res.headers());
            let endpoint = fn_path.trim_start_matches("/api/").to_string();
            let remember = super::signing::set_cookie(
                &back_cookie(&endpoint),
                &percent_encoding::utf8_percent_encode(
                    &again.page,
                    percent_encoding::NON_ALPHANUMERIC,
                )
                .to_string(),
                "Strict",
                Some(3600),
                forms.secure_cookies,
            );
            let mut refused = refused;
            if let Ok(v) = HeaderValue::from_str(&remember) {
                refused.append(header::SET_COOKIE, v);
            }
            if let Some(page) = render_again(&forms.pages, again, replay, refused).await {
                return page;
            }
        }
    }
    // Back to the page the form was on (not to a page the function chose).
    let went_back = !failed
        && back
            .as_ref()
            .and_then(|b| b.to_str().ok())
            // A browser's Referer is absolute; server_fn cannot put an error on a relative one,
            // so a failure would look like a success.
            .filter(|b| b.starts_with("http://") || b.starts_with("https://"))
            .and_then(|b| this_site_path(b, host.as_deref()))
            .is_some_and(|b| same_page(&b, &target));
    // To a page the function chose (a new group's): told there when the function has words.
    // Never to the form's own page by any other way (a relative Referer, which server_fn
    // cannot put an error on, so a failure would look like a success).
    let chose = !failed
        && back
            .as_ref()
            .and_then(|b| b.to_str().ok())
            .and_then(|b| this_site_path(b, host.as_deref()))
            .is_none_or(|b| !same_page(&b, &target))
        && crate::components::field::done_message(&fn_path).is_some();
    let tells = went_back || chose;
    if tells && !target.contains('?') {
        target.push('?');
    }
    if let Some((path, query)) = target.split_once('?') {
        let pairs = query_pairs(query);
        let all = |name: &str| {
            pairs
                .iter()
                .filter(|(k, _)| k == name)
                .map(|p| p.1.as_str())
                .collect::<Vec<_>>()
        };
        let (fn_paths, errs) = (all("__path"), all("__err"));
        let mut query = without_error_params(&format!("?{query}"))
            .trim_start_matches('?')
            .to_string();
        let succeeded = fn_paths.is_empty() && errs.is_empty();
        if tells && succeeded && res.status().is_redirection() {
            if !query.is_empty() {
                query.push('&');
            }
            query.push_str(&encode_query(&[(DONE_PARAM.to_string(), fn_path.clone())]));
        }
        // An error that could not be shown on its page again is not carried in the URL
        // either (the page, say the login page after a session ended, says what to do).
        target = if query.is_empty() {
            path.to_string()
        } else {
            format!("{path}?{query}")
        };
    }
    let value = HeaderValue::from_str(&target).unwrap_or_else(|_| HeaderValue::from_static("/"));
    res.headers_mut().insert(header::LOCATION, value);
    res
}

/// A page whose URL carries a form error (`__path`, `__err`, `__sig`: what server_fn would put
/// there, and the Leptos router would show) is sent to the same URL without it: refused forms
/// are answered with their page rendered again ([`form_redirects`]), so no genuine error is
/// ever in a URL, and nobody can put words of theirs on a page by a link.
pub async fn drop_url_errors(req: Request, next: Next) -> Response {
    let uri = req.uri();
    if !is_safe(req.method()) || uri.path().starts_with("/api/") {
        return next.run(req).await;
    }
    let Some(query) = uri.query() else {
        return next.run(req).await;
    };
    if !query_pairs(query)
        .iter()
        .any(|(k, _)| ERR_PARAMS.contains(&k.as_str()))
    {
        return next.run(req).await;
    }
    tracing::info!(path = %uri.path(), "form error in the URL dropped");
    let clean = without_error_params(&format!("{}?{query}", uri.path()));
    Redirect::to(&same_origin_path(&clean, None)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_way_back_to_a_form_is_told_apart_from_other_redirects() {
        assert!(same_page("/groups/3/edit", "/groups/3/edit?"));
        assert!(same_page(
            "/groups/3?tab=users&q=a+b",
            "/groups/3?tab=users&q=a%20b"
        ));
        assert!(same_page(
            "/groups/3?tab=users",
            "/groups/3?tab=users&__done=%2Fapi%2Fx"
        ));
        assert!(!same_page("/groups/3/edit", "/groups/3"));
        assert!(!same_page("/groups/3?tab=users", "/groups/3?tab=courses"));
        assert!(!same_page("/groups?page=2", "/groups"));
    }

    #[test]
    fn redirects_stay_on_this_site() {
        let host = Some("lms.example.org:3000");
        for (location, expected) in [
            ("/groups?x=1", "/groups?x=1"),
            ("http://lms.example.org:3000/users?q=a", "/users?q=a"),
            ("https://LMS.example.org:3000/users", "/users"),
            ("https://evil.example/phish", "/"),
            ("//evil.example/phish", "/"),
            ("/\\evil.example", "/"),
            ("javascript:alert(1)", "/"),
            ("http://lms.example.org:3000//evil.example", "/"),
            ("", "/"),
            ("/\t/evil.example", "/"),
            ("/%09/evil.example", "/%09/evil.example"),
            ("/\n", "/"),
            ("/a b", "/"),
            ("/groups/../users", "/users"),
            ("/%2F%2Fevil.example", "/%2F%2Fevil.example"),
            ("/./\u{0}", "/"),
            ("/caf\u{e9}", "/caf%C3%A9"),
            ("https://lms.example.org:3000", "/"),
        ] {
            assert_eq!(same_origin_path(location, host), expected, "{location}");
        }
        assert_eq!(same_origin_path("http://x.org/a", None), "/");
    }

    #[test]
    fn host_names_lose_their_port() {
        assert_eq!(host_name("Example.org:3000"), "example.org");
        assert_eq!(host_name("[::1]:3000"), "::1");
        assert_eq!(host_name("127.0.0.1"), "127.0.0.1");
        assert_eq!(host_name("localhost"), "localhost");
    }

    /// A panic under a log subscriber is one line carrying the log id the response gets.
    #[test]
    fn a_panic_is_one_log_line_with_its_log_id() {
        #[derive(Clone, Default)]
        struct Lines(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
        impl std::io::Write for Lines {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        install_panic_hook();
        let out = Lines::default();
        let writer = out.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        let response = tracing::subscriber::with_default(subscriber, || {
            let payload = std::panic::catch_unwind(|| panic!("couldn't parse boundary"))
                .expect_err("it panicked");
            panic_response(payload)
        });
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(text.contains("couldn't parse boundary"), "{text}");
        let log_id = text
            .split("log_id=")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .expect("log id in the line")
            .trim_matches('"')
            .to_string();
        assert_eq!(log_id.len(), 8, "{text}");
        let body = futures_executor(axum::body::to_bytes(response.into_body(), 1024)).unwrap();
        let err: AppError = serde_json::from_slice(&body).unwrap();
        assert_eq!(err, AppError::Internal { log_id });
    }

    fn futures_executor<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn page_policy_carries_the_nonce_and_allows_wasm() {
        let csp = page_csp("abc123");
        assert!(csp.contains("'nonce-abc123'"));
        assert!(csp.contains("'wasm-unsafe-eval'"));
        assert!(csp.contains("frame-ancestors 'none'"));
        assert!(!csp.contains("unsafe-inline"));
    }
}
