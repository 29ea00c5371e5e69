//! What a panicking handler answers: 500 with a log id (as the JSON of `AppError::Internal`)
//! and one log line carrying the same id, instead of a dropped connection with nothing to
//! quote to an administrator.

use super::error_response;
use crate::model::AppError;
use axum::body::Body;
use axum::response::Response;
use std::cell::RefCell;

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

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;

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
}
