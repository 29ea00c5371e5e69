//! Bounds on the work in progress: at most `max_concurrent_requests` requests are handled at
//! once (the rest wait their turn), and each has `request_timeout_secs` to get its response
//! head, the wait for its turn included. Guards against a slow handler or a flood of requests
//! holding every blocking thread and the memory behind them: a request out of time answers
//! 503 with `Retry-After` and the typed `TimedOut` error (what it asked may still be done: a
//! store write already handed to a blocking thread finishes).
//!
//! The timeout covers the response head only, not the body: streamed downloads (the CSV
//! exports) send their head at once and then take as long as the client needs, bounded by the
//! listener's `body_timeout` instead (see `listen.rs`). Two kinds of request are not timed at
//! all, because their work before the head is long by design: the multipart uploads
//! ([`MULTIPART_PATHS`]: a 17 MB import read at the pace of the client's connection, again
//! bounded by `body_timeout`), and the backup download, which writes the whole store to a
//! file before it can say how long the file is.

use super::{error_response, MULTIPART_PATHS};
use crate::model::AppError;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use std::time::Duration;
use tower::limit::GlobalConcurrencyLimitLayer;
use tower::timeout::Timeout;
use tower::ServiceExt;

/// The paths [`time_limit`] lets run past the request timeout (see the module header).
pub const UNTIMED_PATHS: &[&str] = &["/backup/download"];

/// Whether a request to `path` is held to the request timeout.
pub fn is_timed(path: &str) -> bool {
    !MULTIPART_PATHS.contains(&path) && !UNTIMED_PATHS.contains(&path)
}

/// At most `max` requests handled at once, in every route together (one semaphore for the
/// whole router; tower's per-service `ConcurrencyLimitLayer` would give each route its own).
/// A request beyond that waits for a turn: axum calls a route only once it is ready, inside
/// the request's future, so the wait counts against [`time_limit`] placed outside this.
pub fn concurrency_limit(max: usize) -> GlobalConcurrencyLimitLayer {
    GlobalConcurrencyLimitLayer::new(max)
}

/// Answers 503 (`AppError::TimedOut`, with `Retry-After`) when the layers and handler inside
/// take longer than `limit` to produce a response head; requests not [`is_timed`] pass
/// untouched. tower's `Timeout` drops the inner future at the deadline.
pub async fn time_limit(State(limit): State<Duration>, req: Request, next: Next) -> Response {
    if !is_timed(req.uri().path()) {
        return next.run(req).await;
    }
    let path = req.uri().path().to_string();
    match Timeout::new(next, limit).oneshot(req).await {
        Ok(res) => res,
        // `Next` never fails, so the only error is the elapsed deadline.
        Err(_) => {
            let secs = limit.as_secs().max(1);
            tracing::warn!(path, secs, "request timed out");
            let mut res = error_response(AppError::TimedOut { secs });
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs.min(30)));
            res
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uploads_and_the_backup_download_are_not_timed() {
        assert!(is_timed("/api/create_group"));
        assert!(is_timed("/groups/3/report.csv"));
        assert!(!is_timed("/api/upload_user_import"));
        assert!(!is_timed("/api/bulk_upload_group_members"));
        assert!(!is_timed("/backup/download"));
    }

    /// One slot, held by a request whose handler waits: a request to any other route gets no
    /// turn before its timeout, and gets one once the slot is free.
    #[tokio::test]
    async fn the_limit_is_shared_by_every_route() {
        use axum::routing::post;
        let release = std::sync::Arc::new(tokio::sync::Notify::new());
        let (entered_tx, entered_rx) = tokio::sync::oneshot::channel::<()>();
        let entered = std::sync::Arc::new(std::sync::Mutex::new(Some(entered_tx)));
        let hold = {
            let release = release.clone();
            move || async move {
                if let Some(tx) = entered.lock().ok().and_then(|mut e| e.take()) {
                    let _ = tx.send(());
                }
                release.notified().await;
                "held"
            }
        };
        let app: axum::Router = axum::Router::new()
            // Not timed (see `UNTIMED_PATHS`), so it holds its slot until released.
            .route("/backup/download", post(hold))
            .route("/quick", post(|| async { "quick" }))
            .layer(concurrency_limit(1))
            .layer(axum::middleware::from_fn_with_state(
                Duration::from_millis(200),
                time_limit,
            ));
        let send = |path: &'static str| {
            let app = app.clone();
            async move {
                let req = Request::post(path).body(axum::body::Body::empty()).unwrap();
                app.oneshot(req).await.unwrap().status()
            }
        };
        let holder = tokio::spawn(send("/backup/download"));
        entered_rx.await.unwrap();
        assert_eq!(
            send("/quick").await,
            axum::http::StatusCode::SERVICE_UNAVAILABLE
        );
        release.notify_one();
        assert_eq!(holder.await.unwrap(), axum::http::StatusCode::OK);
        assert_eq!(send("/quick").await, axum::http::StatusCode::OK);
    }
}
