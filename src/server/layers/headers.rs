//! The security headers every response carries: a Content-Security-Policy (pages set their own
//! with the render's nonce, everything else gets one under which nothing runs), no framing,
//! no MIME sniffing, a same-origin referrer policy, `no-store` on anything that is not a site
//! file (pages and API answers may hold personal data), and HSTS when Tessera serves HTTPS
//! itself. They guard against clickjacking, script injection and data left in shared caches.

use axum::http::{header, HeaderValue};
use axum::Router;
use tower::ServiceBuilder;
use tower_http::set_header::SetResponseHeaderLayer;

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

/// HSTS: browsers use nothing but HTTPS for this host for a year.
const HSTS: &str = "max-age=31536000";

/// Wraps `router` so that every response carries the security headers (one layer, so each
/// route is boxed once more, not once per header). All of them are static, set with
/// tower-http's `SetResponseHeaderLayer`: `if_not_present` where a response may set its own
/// (a page's CSP, a site file's caching), `overriding` elsewhere. The one header that depends on
/// the request is a page's CSP, whose nonce is made per render: the page sets it while
/// rendering (see [`page_csp`]) and the default here leaves it alone. HSTS is sent when
/// Tessera serves HTTPS itself (`https`), which the configuration decides once.
pub fn with_security_headers<S>(router: Router<S>, https: bool) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let hsts = https.then(|| HeaderValue::from_static(HSTS));
    router.layer(
        ServiceBuilder::new()
            .layer(SetResponseHeaderLayer::if_not_present(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(DEFAULT_CSP),
            ))
            .layer(SetResponseHeaderLayer::overriding(
                header::X_FRAME_OPTIONS,
                HeaderValue::from_static("DENY"),
            ))
            .layer(SetResponseHeaderLayer::overriding(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ))
            .layer(SetResponseHeaderLayer::overriding(
                header::REFERRER_POLICY,
                HeaderValue::from_static("same-origin"),
            ))
            // Site files set their own caching; pages and API answers may hold personal data.
            .layer(SetResponseHeaderLayer::if_not_present(
                header::CACHE_CONTROL,
                HeaderValue::from_static("no-store"),
            ))
            .layer(SetResponseHeaderLayer::overriding(
                header::STRICT_TRANSPORT_SECURITY,
                hsts,
            )),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_policy_carries_the_nonce_and_allows_wasm() {
        let csp = page_csp("abc123");
        assert!(csp.contains("'nonce-abc123'"));
        assert!(csp.contains("'wasm-unsafe-eval'"));
        assert!(csp.contains("frame-ancestors 'none'"));
        assert!(!csp.contains("unsafe-inline"));
    }
}
