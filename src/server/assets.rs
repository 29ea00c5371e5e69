//! The site's files (wasm, js, css, public/) served from inside the binary (`embed` feature), or
//! from `target/site` on disk during development. A binary with embedded files never looks at
//! the disk: whatever lies in its working directory is not served.

use super::state::AppState;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::Uri;
#[cfg(feature = "embed")]
use axum::response::IntoResponse;
use axum::response::Response;

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

    pub fn serve(uri: &Uri, headers: &HeaderMap) -> Option<Response> {
        let path = uri.path().trim_start_matches('/');
        if path.is_empty() {
            return None;
        }
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
        // File names carry no hash, so browsers must revalidate (cheap: 304 on a match).
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
        if let Some(enc) = encoding {
            h.insert(header::CONTENT_ENCODING, HeaderValue::from_static(enc));
        }
        Some(res)
    }
}
