//! The site's files (wasm, js, css, public/) served from inside the binary (`embed` feature), or
//! from `target/site` on disk during development. A binary with embedded files never looks at
//! the disk: whatever lies in its working directory is not served.
//!
//! The embedded build serves its wasm, JavaScript and CSS under `/pkg/<build id>/` (the id is
//! made of the files' own hashes), so their addresses change whenever their contents do: they
//! are sent `immutable` with a year's max-age, and a returning visitor downloads nothing until
//! an upgrade. Everything else is sent `no-cache` with an ETag (a 304 when unchanged).

use super::state::AppState;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::Uri;
#[cfg(feature = "embed")]
use axum::response::IntoResponse;
use axum::response::Response;

/// Where pages load the wasm, JavaScript and CSS from (Leptos' `site_pkg_dir`): `pkg/<build
/// id>` in the embedded build, `pkg` during development.
pub fn pkg_dir() -> String {
    #[cfg(feature = "embed")]
    return format!("pkg/{}", embedded::build_id());
    #[cfg(not(feature = "embed"))]
    "pkg".to_string()
}

/// Router fallback: an embedded file when there is one, else the app's own 404 page.
#[cfg(feature = "embed")]
pub async fn fallback(uri: Uri, state: State<AppState>, req: Request<Body>) -> Response {
    if let Some(res) = embedded::serve(&uri, req.headers()) {
        return res;
    }
    let ctx_state = state.0.clone();
    let render = leptos_axum::render_app_to_stream_with_context(
        move || leptos::prelude::provide_context(ctx_state.clone()),
        {
            let options = state.0.leptos_options.clone();
            move || crate::app::shell(options.clone())
        },
    );
    render(req).await.into_response()
}

/// Router fallback: a file of `target/site` when there is one, else the app's own 404 page.
#[cfg(not(feature = "embed"))]
pub async fn fallback(uri: Uri, state: State<AppState>, req: Request<Body>) -> Response {
    let ctx_state = state.0.clone();
    let handler = leptos_axum::file_and_error_handler_with_context::<AppState, _>(
        move || leptos::prelude::provide_context(ctx_state.clone()),
        crate::app::shell,
    );
    handler(uri, state, req).await
}

#[cfg(feature = "embed")]
mod embedded {
    use axum::body::Body;
    use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
    use axum::response::Response;
    use rust_embed::RustEmbed;

    /// `target/site` as built by `cargo leptos build --release --precompress`, which writes `.br`
    /// and `.gz` companions next to each file.
    #[derive(RustEmbed)]
    #[folder = "target/site"]
    struct Site;

    /// Sixteen hex digits from the hashes of the wasm, its JavaScript and the stylesheet:
    /// changes whenever one of them does.
    pub fn build_id() -> &'static str {
        static ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        ID.get_or_init(|| {
            [
                ("pkg/tessera.wasm", 3),
                ("pkg/tessera.js", 3),
                ("pkg/tessera.css", 2),
            ]
            .iter()
            .flat_map(|(file, n)| {
                let hash = Site::get(file).map_or([0; 32], |f| f.metadata.sha256_hash());
                hash.into_iter().take(*n)
            })
            .map(|b| format!("{b:02x}"))
            .collect()
        })
    }

    /// `path` without its build id, and whether it had the current one; `None` for a build id
    /// that is not this build's (a page of an older version: its files are gone).
    fn unversioned(path: &str) -> Option<(String, bool)> {
        if let Some((id, file)) = path.strip_prefix("pkg/").and_then(|r| r.split_once('/')) {
            if id == build_id() {
                return Some((format!("pkg/{file}"), true));
            }
            if id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
        }
        Some((path.to_string(), false))
    }

    pub fn serve(uri: &Uri, headers: &HeaderMap) -> Option<Response> {
        let path = uri.path().trim_start_matches('/');
        if path.is_empty() {
            return None;
        }
        let (path, versioned) = unversioned(path)?;
        let path = path.as_str();
        let original = Site::get(path)?;
        let accepts = headers
            .get(header::ACCEPT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let accepts = |enc: &str| {
            accepts
                .split(',')
                .any(|part| part.trim().split(';').next() == Some(enc))
        };
        let (file, encoding) = if let Some(br) = accepts("br")
            .then(|| Site::get(&format!("{path}.br")))
            .flatten()
        {
            (br, Some("br"))
        } else if let Some(gz) = accepts("gzip")
            .then(|| Site::get(&format!("{path}.gz")))
            .flatten()
        {
            (gz, Some("gzip"))
        } else {
            (original.clone(), None)
        };
        let etag = format!(
            "\"{}{}\"",
            original
                .metadata
                .sha256_hash()
                .iter()
                .take(12)
                .map(|b| format!("{b:02x}"))
                .collect::<String>(),
            encoding.unwrap_or("")
        );
        let mime = original.metadata.mimetype().to_string();
        let mut res = if headers
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            == Some(etag.as_str())
        {
            Response::builder()
                .status(StatusCode::NOT_MODIFIED)
                .body(Body::empty())
        } else {
            Response::builder()
                .status(StatusCode::OK)
                .body(Body::from(file.data.into_owned()))
        }
        .ok()?;
        let h = res.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_str(&mime).ok()?);
        h.insert(header::ETAG, HeaderValue::from_str(&etag).ok()?);
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static(if versioned {
                // The address changes with the contents (see the module text).
                "public, max-age=31536000, immutable"
            } else {
                // Same address for new contents: browsers revalidate (a 304 on a match).
                "no-cache"
            }),
        );
        h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
        if let Some(enc) = encoding {
            h.insert(header::CONTENT_ENCODING, HeaderValue::from_static(enc));
        }
        Some(res)
    }
}
