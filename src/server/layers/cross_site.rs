//! Cross-site requests: a state-changing request, or a download (backup, CSV files), that a
//! browser marks as started by another site is refused, so a page elsewhere cannot act or
//! make files with a signed-in user's cookies (CSRF beyond what SameSite=Lax blocks).

use super::is_safe;
use crate::server::client::ClientInfo;
use crate::server::state::AppState;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The host name of a `Host` header or URL authority, without port or IPv6 brackets, lower case.
pub(super) fn host_name(authority: &str) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_lose_their_port() {
        assert_eq!(host_name("Example.org:3000"), "example.org");
        assert_eq!(host_name("[::1]:3000"), "::1");
        assert_eq!(host_name("127.0.0.1"), "127.0.0.1");
        assert_eq!(host_name("localhost"), "localhost");
    }
}
