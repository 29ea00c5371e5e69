//! Where a redirect may send a browser, and what its URL may say. A redirect target is made a
//! path on this site (anything else becomes `/`), so no form can be used as an open redirect;
//! the form-outcome parameters (`__path`, `__err`, `__sig`, `__done`) are read and removed
//! here, and a page asked for with a form error in its URL is sent to the same URL without it,
//! so nobody can put words of theirs on a page by a link.

use super::is_safe;
use axum::extract::Request;
use axum::http::Uri;
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

pub(super) const ERR_PARAMS: [&str; 3] = ["__path", "__err", "__sig"];

/// The parameter that tells a page a form posted from it just succeeded: the server function's
/// path (`__done=/api/update_group`), so the page can say "Changes saved." It says nothing a
/// visitor could choose the words of, so it needs no signature.
pub(super) const DONE_PARAM: &str = "__done";

pub(super) fn query_pairs(query: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

pub(super) fn encode_query(pairs: &[(String, String)]) -> String {
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
pub(super) fn this_site_path(location: &str, host: Option<&str>) -> Option<String> {
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
pub(super) fn without_error_params(url: &str) -> String {
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
pub(super) fn same_page(a: &str, b: &str) -> bool {
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
}
