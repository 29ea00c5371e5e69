//! Reaching the database: the `database_url` read, TLS when the URL asks for it, and a pool of
//! a bounded number of connections.
//!
//! The URL is libpq's (`postgres://user:password@host:port/database?sslmode=verify-full`), with
//! `sslmode` and `sslrootcert` meaning what they mean to `psql`. TLS goes through rustls (the
//! server's own TLS stack, on ring):
//! - `disable`: no TLS, for a database on the same host or a private network;
//! - `prefer` (the default) and `require`: TLS when the server offers it (`require`: or no
//!   connection); the certificate is verified only against `sslrootcert` when one is given, as
//!   libpq does, so a server with its distribution's self-signed certificate still works;
//! - `verify-ca`: TLS, the certificate must chain to `sslrootcert` or a public root;
//!   `verify-full`: that and the certificate must name the host in the URL. Use one of these
//!   when the database is across a network you do not control.

use r2d2_postgres::PostgresConnectionManager;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use tokio_postgres_rustls::MakeRustlsConnect;

/// The connections the pool hands out.
pub(crate) type Manager = PostgresConnectionManager<MakeRustlsConnect>;
pub(crate) type Pool = r2d2::Pool<Manager>;

/// How long taking a connection from the pool may wait (every one busy, or the database
/// unreachable) before the operation fails with a backend error.
const CHECKOUT_TIMEOUT: Duration = Duration::from_secs(10);

/// Connections a server keeps at most unless configured: enough for the blocking pool's
/// concurrent operations on a small server, few enough that several servers stay inside
/// PostgreSQL's default `max_connections` (100).
pub const DEFAULT_POOL_SIZE: u32 = 16;

/// Why a database URL cannot be used (before any connection is tried).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UrlError {
    #[error("the database URL must start with postgres:// or postgresql://")]
    NotPostgres,
    #[error("the database URL is not valid: {0}")]
    Invalid(String),
    #[error("the database URL's sslrootcert file {path} cannot be used: {reason}")]
    RootCert { path: String, reason: String },
}

/// A parsed `database_url`: the client's settings and the TLS connector it asks for.
pub(crate) struct Target {
    pub(crate) config: postgres::Config,
    pub(crate) tls: MakeRustlsConnect,
    /// The URL without its password, for messages and logs.
    pub(crate) shown: String,
}

/// Whether `url` names a PostgreSQL database (rather than being a mistake for a directory).
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// The URL with its password replaced, safe to print.
pub fn shown_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            if u.password().is_some() {
                // Only fails for URLs that cannot have a password, which this one has.
                let _ = u.set_password(Some("***"));
            }
            u.to_string()
        }
        Err(_) => "(an unreadable URL)".to_string(),
    }
}

/// Whether `url` is a PostgreSQL URL this client can use (its TLS settings and root
/// certificate file included), without connecting: the configuration is checked at start-up.
pub fn check_url(url: &str) -> Result<(), UrlError> {
    target(url).map(drop)
}

/// Reads `url` (see the module header).
pub(crate) fn target(url: &str) -> Result<Target, UrlError> {
    if !is_postgres_url(url) {
        return Err(UrlError::NotPostgres);
    }
    let mut parsed = url::Url::parse(url).map_err(|e| UrlError::Invalid(e.to_string()))?;
    let mut root_cert = None;
    let mut verify = None;
    // The client library reads neither sslrootcert nor the verify modes: take them out, and
    // ask it for TLS (`require`) when a verify mode is given.
    let kept: Vec<(String, String)> = parsed
        .query_pairs()
        .filter_map(|(k, v)| match (&*k, &*v) {
            ("sslrootcert", _) => {
                root_cert = Some(v.into_owned());
                None
            }
            ("sslmode", "verify-ca" | "verify-full") => {
                verify = Some(v == "verify-full");
                Some((k.into_owned(), "require".to_string()))
            }
            _ => Some((k.into_owned(), v.into_owned())),
        })
        .collect();
    if kept.is_empty() {
        parsed.set_query(None);
    } else {
        parsed.query_pairs_mut().clear().extend_pairs(kept);
    }
    let config = postgres::Config::from_str(parsed.as_str())
        .map_err(|e| UrlError::Invalid(e.to_string()))?;
    if config.get_dbname().is_none() {
        return Err(UrlError::Invalid(
            "it names no database (postgres://user@host/DATABASE)".into(),
        ));
    }
    let check = match (verify, &root_cert) {
        (Some(name), _) => Check::Chain { name },
        (None, Some(_)) => Check::Chain { name: false },
        (None, None) => Check::Encrypt,
    };
    let tls = tls_connector(root_cert.as_deref(), check)?;
    Ok(Target {
        config,
        tls,
        shown: shown_url(url),
    })
}

/// How much of the server's certificate is checked (see the module header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    /// Encrypt only: the handshake's signature is checked, the certificate is not.
    Encrypt,
    /// The certificate chains to a trusted root; `name`: and names the host.
    Chain { name: bool },
}

/// rustls on ring (the server's own provider), checking as `check` says against the public
/// roots and `root_cert`'s when given.
fn tls_connector(root_cert: Option<&str>, check: Check) -> Result<MakeRustlsConnect, UrlError> {
    use rustls::pki_types::{pem::PemObject, CertificateDer};
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let mut pinned = Vec::new();
    if let Some(path) = root_cert {
        let refused = |reason: String| UrlError::RootCert {
            path: path.to_string(),
            reason,
        };
        let certs = CertificateDer::pem_file_iter(path)
            .map_err(|e| refused(e.to_string()))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| refused(e.to_string()))?;
        if certs.is_empty() {
            return Err(refused("it holds no PEM certificate".into()));
        }
        for cert in &certs {
            roots
                .add(cert.clone())
                .map_err(|e| refused(e.to_string()))?;
        }
        pinned = certs;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let chain = rustls::client::WebPkiServerVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()
    .map_err(|e| UrlError::Invalid(e.to_string()))?;
    let verifier = Arc::new(Verifier {
        chain,
        check,
        pinned,
    });
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| UrlError::Invalid(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

/// libpq's checks around rustls' own verifier (which checks the handshake's signatures in
/// every mode): none of the certificate for `prefer`/`require` without a root, its chain without
/// its name for `verify-ca` (and a root given to `require`), both for `verify-full`. A server
/// certificate that is itself in `sslrootcert` (a self-signed one, which rustls refuses as an
/// end entity when it is marked as a CA, as `openssl req -x509` and distributions make them) is
/// trusted as it is: the file names that exact certificate.
#[derive(Debug)]
struct Verifier {
    chain: Arc<rustls::client::WebPkiServerVerifier>,
    check: Check,
    pinned: Vec<rustls::pki_types::CertificateDer<'static>>,
}

impl rustls::client::danger::ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &rustls::pki_types::CertificateDer<'_>,
        intermediates: &[rustls::pki_types::CertificateDer<'_>],
        server_name: &rustls::pki_types::ServerName<'_>,
        ocsp_response: &[u8],
        now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        use rustls::{CertificateError, Error};
        let check_name = match self.check {
            Check::Encrypt => return Ok(rustls::client::danger::ServerCertVerified::assertion()),
            Check::Chain { name } => name,
        };
        if self
            .pinned
            .iter()
            .any(|p| p.as_ref() == end_entity.as_ref())
        {
            return Ok(rustls::client::danger::ServerCertVerified::assertion());
        }
        match self.chain.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Err(Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if !check_name => Ok(rustls::client::danger::ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.chain.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.chain.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.chain.supported_verify_schemes()
    }
}

/// A pool of at most `size` connections to `target`; fails when no connection can be made.
pub(crate) fn pool(target: Target, size: u32) -> Result<Pool, String> {
    let manager = PostgresConnectionManager::new(target.config, target.tls);
    r2d2::Pool::builder()
        .max_size(size.max(1))
        .min_idle(Some(1))
        .connection_timeout(CHECKOUT_TIMEOUT)
        .build(manager)
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use postgres::config::SslMode;

    #[test]
    fn only_postgres_urls_are_taken() {
        assert_eq!(
            target("mysql://x@h/db").err(),
            Some(UrlError::NotPostgres),
            "another database's URL"
        );
        assert_eq!(
            target("/var/lib/tessera").err(),
            Some(UrlError::NotPostgres)
        );
        assert!(matches!(
            target("postgres://x@h:notaport/db").err(),
            Some(UrlError::Invalid(_))
        ));
        assert!(matches!(
            target("postgres://x@h/db?nosuchsetting=1").err(),
            Some(UrlError::Invalid(_))
        ));
        let no_db = target("postgres://x@h").err();
        assert!(
            matches!(&no_db, Some(UrlError::Invalid(m)) if m.contains("names no database")),
            "{no_db:?}"
        );
    }

    #[test]
    fn the_url_is_read_as_libpq_reads_it() {
        let t = target("postgresql://tessera:s3cret@db.example:6543/school?sslmode=require")
            .expect("a valid URL");
        assert_eq!(t.config.get_user(), Some("tessera"));
        assert_eq!(t.config.get_password(), Some(&b"s3cret"[..]));
        assert_eq!(t.config.get_dbname(), Some("school"));
        assert_eq!(t.config.get_ports(), &[6543]);
        assert_eq!(t.config.get_ssl_mode(), SslMode::Require);
        assert!(!t.shown.contains("s3cret"), "{}", t.shown);
        assert!(t.shown.contains("db.example:6543/school"), "{}", t.shown);
        let clear = target("postgres://tessera@127.0.0.1/school?sslmode=disable").unwrap();
        assert_eq!(clear.config.get_ssl_mode(), SslMode::Disable);
    }

    #[test]
    fn a_root_certificate_file_is_read_and_taken_out_of_the_url() {
        let dir = tempfile::tempdir().unwrap();
        let cert = rcgen::generate_simple_self_signed(vec!["db.example".into()]).unwrap();
        let pem = dir.path().join("ca.pem");
        std::fs::write(&pem, cert.cert.pem()).unwrap();
        let url = format!(
            "postgres://t@db.example/school?sslmode=require&sslrootcert={}",
            pem.display()
        );
        let t = target(&url).expect("the client library never sees sslrootcert");
        assert_eq!(t.config.get_ssl_mode(), SslMode::Require);

        let missing = format!(
            "postgres://t@h/school?sslrootcert={}",
            dir.path().join("no").display()
        );
        assert!(matches!(
            target(&missing).err(),
            Some(UrlError::RootCert { .. })
        ));
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let url = format!("postgres://t@h/school?sslrootcert={}", empty.display());
        match target(&url).err() {
            Some(UrlError::RootCert { reason, .. }) => {
                assert!(reason.contains("no PEM"), "{reason}")
            }
            other => panic!("expected RootCert, got {other:?}"),
        }
    }
}
