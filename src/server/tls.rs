//! HTTPS served directly: rustls with the certificate chain and key from the configured PEM
//! files, read again on SIGHUP and whenever the files change (a certificate renewed by certbot
//! is picked up without a restart; a broken renewal keeps the certificate in use and logs why),
//! and an optional plain-HTTP port that redirects every request to HTTPS.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::ServerConfig;

/// How often the certificate files are looked at for changes.
const WATCH_EVERY: Duration = Duration::from_secs(30);

/// The certificate chain and private key files (PEM).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Reads the files into a rustls configuration (HTTP/2 and HTTP/1.1 offered).
pub fn load(files: &TlsFiles) -> Result<Arc<ServerConfig>, String> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .map_err(|e| format!("{}: {e}", files.cert.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: {e}", files.cert.display()))?;
    if certs.is_empty() {
        return Err(format!("{}: no certificate in it", files.cert.display()));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .map_err(|e| format!("{}: no private key could be read: {e}", files.key.display()))?;
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("the certificate and the key do not go together: {e}"))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The configuration in use, replaced whole when the files are read again.
#[derive(Clone)]
pub struct Reloadable(Arc<RwLock<Arc<ServerConfig>>>);

impl Reloadable {
    /// Starts with `config`.
    pub fn new(config: Arc<ServerConfig>) -> Self {
        Reloadable(Arc::new(RwLock::new(config)))
    }

    /// The configuration new connections are served with.
    pub fn current(&self) -> Arc<ServerConfig> {
        match self.0.read() {
            Ok(c) => c.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Reads the files again; on failure the configuration in use stays.
    pub fn reload(&self, files: &TlsFiles) -> Result<(), String> {
        let fresh = load(files)?;
        match self.0.write() {
            Ok(mut c) => *c = fresh,
            Err(poisoned) => *poisoned.into_inner() = fresh,
        }
        Ok(())
    }
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// Reads the files again on SIGHUP, and when either file's modification time changes.
pub fn spawn_reloader(files: TlsFiles, config: Reloadable) {
    tokio::spawn(async move {
        #[cfg(unix)]
        let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
        let mut seen = (modified(&files.cert), modified(&files.key));
        loop {
            #[cfg(unix)]
            let signalled = async {
                match hup.as_mut() {
                    Some(h) => {
                        h.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            #[cfg(not(unix))]
            let signalled = std::future::pending::<()>();
            let why = tokio::select! {
                _ = signalled => "SIGHUP",
                _ = tokio::time::sleep(WATCH_EVERY) => "the files changed",
            };
            let now = (modified(&files.cert), modified(&files.key));
            if why != "SIGHUP" && now == seen {
                continue;
            }
            seen = now;
            match config.reload(&files) {
                Ok(()) => tracing::info!(why, "the TLS certificate was read again"),
                Err(e) => tracing::error!(
                    why,
                    error = %e,
                    "the TLS certificate could not be read again; the one in use stays"
                ),
            }
        }
    });
}

/// Where a plain-HTTP request is sent: the same host and path on HTTPS (`https_port`, left
/// out when 443). A missing or malformed Host becomes `localhost`.
pub fn redirect_target(host: Option<&str>, path_and_query: &str, https_port: u16) -> String {
    let host = host
        .filter(|h| {
            !h.is_empty()
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        })
        .unwrap_or("localhost");
    // Without its port (an IPv6 literal keeps its brackets).
    let name = match host.rfind(':') {
        Some(i) if !host[i..].contains(']') => &host[..i],
        _ => host,
    };
    let port = if https_port == 443 {
        String::new()
    } else {
        format!(":{https_port}")
    };
    let path = if path_and_query.starts_with('/') {
        path_and_query
    } else {
        "/"
    };
    format!("https://{name}{port}{path}")
}

/// The plain-HTTP app: every request is redirected to HTTPS (308, so a form post stays a post).
pub fn redirect_app(https_port: u16) -> axum::Router {
    axum::Router::new().fallback(move |req: axum::extract::Request| async move {
        let host = req
            .headers()
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok());
        let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
        let target = redirect_target(host, path, https_port);
        (
            http::StatusCode::PERMANENT_REDIRECT,
            [(http::header::LOCATION, target)],
        )
    })
}

#[cfg(test)]
mod tests {
    use super::redirect_target;

    #[test]
    fn redirects_keep_host_and_path() {
        assert_eq!(
            redirect_target(Some("lms.example.org"), "/groups?page=2", 443),
            "https://lms.example.org/groups?page=2"
        );
        assert_eq!(
            redirect_target(Some("lms.example.org:8080"), "/", 8443),
            "https://lms.example.org:8443/"
        );
        assert_eq!(
            redirect_target(Some("[::1]:80"), "/login", 443),
            "https://[::1]/login"
        );
        assert_eq!(
            redirect_target(Some("evil.test/x?"), "/", 443),
            "https://localhost/"
        );
        assert_eq!(redirect_target(None, "*", 443), "https://localhost/");
    }
}
