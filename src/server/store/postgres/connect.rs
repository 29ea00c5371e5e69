//! Reaching the database: the `database_url` read, TLS when the URL asks for it, and a pool of
//! a bounded number of connections.
//!
//! The URL is libpq's (`postgres://user:password@host:port/database?sslmode=require`), as the
//! PostgreSQL client library reads it, with one addition the client library does not read
//! itself: `sslrootcert=FILE`, a PEM file of the certificate authorities to trust besides the
//! public ones (a school's own CA). TLS goes through rustls, the server's own TLS stack, and
//! always verifies the server's certificate and name when it is used: `sslmode=require` is
//! stricter than libpq's (which encrypts without verifying); `disable` (or no TLS offered by
//! the server under the default `prefer`) sends in clear, for a database on the same host or a
//! private network.

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

/// Reads `url` (see the module header).
pub(crate) fn target(url: &str) -> Result<Target, UrlError> {
    if !is_postgres_url(url) {
        return Err(UrlError::NotPostgres);
    }
    let mut parsed = url::Url::parse(url).map_err(|e| UrlError::Invalid(e.to_string()))?;
    let mut root_cert = None;
    let kept: Vec<(String, String)> = parsed
        .query_pairs()
        .filter_map(|(k, v)| {
            if k == "sslrootcert" {
                root_cert = Some(v.into_owned());
                None
            } else {
                Some((k.into_owned(), v.into_owned()))
            }
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
    let tls = tls_connector(root_cert.as_deref())?;
    Ok(Target {
        config,
        tls,
        shown: shown_url(url),
    })
}

/// rustls on ring (the server's own provider), the public roots, and `root_cert`'s when given.
fn tls_connector(root_cert: Option<&str>) -> Result<MakeRustlsConnect, UrlError> {
    use rustls::pki_types::{pem::PemObject, CertificateDer};
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
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
        for cert in certs {
            roots.add(cert).map_err(|e| refused(e.to_string()))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| UrlError::Invalid(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
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
