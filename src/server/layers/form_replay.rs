//! Forms posted without JavaScript, after their server function ran. A refused form's page is
//! rendered again in place with what was typed (passwords left out) and every error, answered
//! with the error's status; a form that succeeded goes back to the page it was on with
//! `__done=<function path>` so that page can say so. Redirect targets stay on this site
//! ([`super::safe_redirects`]), so the round trip can neither leave the site nor carry words
//! a visitor chose.

use super::safe_redirects::{
    encode_query, query_pairs, same_origin_path, same_page, this_site_path, without_error_params,
    DONE_PARAM,
};
use crate::model::AppError;
use crate::server::client::ClientInfo;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

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
        let page = crate::server::signing::request_cookie(req.headers(), &back_cookie(&endpoint))
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
            let remember = crate::server::signing::set_cookie(
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
