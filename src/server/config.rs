//! Runtime configuration: command-line flag > environment variable > `Leptos.toml` > default.
//!
//! `Leptos.toml` (in the working directory, or the file given by `--config` / `TESSERA_CONFIG`)
//! is the server's configuration file; cargo-leptos does not read it (its build settings live in
//! Cargo.toml). Every key is optional; unknown keys are an error so typos do not go unnoticed.

use super::client::{parse_proxy, ProxyHeader, TrustedProxies};
use super::store::StorePlace;
use super::store::DEFAULT_POOL_SIZE;
use clap::{Args, Parser, Subcommand};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const DEFAULT_ADDR: &str = "127.0.0.1:3000";
pub const DEFAULT_DATA_DIR: &str = "./tessera-data";
pub const DEFAULT_IDLE_MINUTES: u64 = 60;
pub const DEFAULT_ABSOLUTE_HOURS: u64 = 12;
pub const DEFAULT_HASH_QUEUE: usize = 64;
/// Seconds between tries to write again while the data directory cannot be written.
pub const DEFAULT_STORAGE_RETRY_SECS: u64 = 10;
pub const CONFIG_FILE: &str = "Leptos.toml";

/// Tessera: a self-hosted learning-management server built around groups.
///
/// Every setting can come from a flag, an environment variable or the configuration file
/// (Leptos.toml in the working directory, or --config); a flag beats the variable, the variable
/// beats the file, and the file beats the built-in default.
#[derive(Debug, Parser)]
#[command(name = "tessera", version, about, long_about)]
pub struct Cli {
    /// Configuration file (default: Leptos.toml in the working directory, if present).
    #[arg(long, env = "TESSERA_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

// Parsed once at start-up and taken apart at once: the size of the largest variant costs
// nothing worth a box.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the web server.
    Serve(ServeArgs),
    /// Verify every invariant of a data directory (with the server stopped: it holds the
    /// directory's lock); prints each violation and exits with 1 when there is any.
    Check(CheckArgs),
    /// Bring a data directory's (or database's) schema up to this version's and exit. `serve`
    /// does it by itself at start; this runs it ahead, e.g. in an upgrade script.
    Migrate(CheckArgs),
    /// Write a backup of a data directory to a file: through the running server when one holds
    /// the directory (a consistent snapshot; writes wait while it is taken), otherwise by
    /// reading the directory. Login sessions are left out.
    Backup(BackupArgs),
    /// Rebuild a data directory from a backup file; the directory must be new or empty.
    /// Migrates a backup made by an older version, then verifies every invariant as `check`.
    Restore(RestoreArgs),
    /// Fill a new data directory with a realistic school, to try Tessera at scale: an
    /// administrator `admin`, learners `learner1`…, courses, groups with members and courses,
    /// the enrolments those give, and some progress. Everyone gets the same password.
    Seed(SeedArgs),
}

#[derive(Debug, Clone, Args)]
pub struct SeedArgs {
    /// Directory to fill: new, or without accounts [default: ./tessera-data; file key: data_dir].
    #[arg(long, env = "TESSERA_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// PostgreSQL database to use instead of the embedded store in the data directory, e.g.
    /// postgres://tessera:PASSWORD@db.example.org/tessera?sslmode=verify-full [file key:
    /// database_url].
    #[arg(long, env = "TESSERA_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Learners (1 to 1,000,000).
    #[arg(long, default_value_t = 1_000)]
    pub users: u64,
    /// Groups; the learners are spread evenly over them (1 to 100,000, at most --users).
    #[arg(long, default_value_t = 100)]
    pub groups: u64,
    /// Courses, of three lessons each (1 to 10,000).
    #[arg(long, default_value_t = 20)]
    pub courses: u64,
    /// Courses each group gives its members, who are enrolled in them: the enrolments are
    /// users × this (0 to 100, at most --courses).
    #[arg(long, default_value_t = 5)]
    pub courses_per_group: u64,
    /// Everyone's password, the administrator's included (8 to 128 characters).
    #[arg(long, env = "TESSERA_SEED_PASSWORD", default_value = "seed-password-1")]
    pub password: String,
}

#[derive(Debug, Clone, Args)]
pub struct BackupArgs {
    /// Directory holding the database [default: ./tessera-data; file key: data_dir].
    #[arg(long, env = "TESSERA_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// PostgreSQL database to use instead of the embedded store in the data directory, e.g.
    /// postgres://tessera:PASSWORD@db.example.org/tessera?sslmode=verify-full [file key:
    /// database_url].
    #[arg(long, env = "TESSERA_DATABASE_URL")]
    pub database_url: Option<String>,
    /// File to write (replaced whole once complete); `-` writes to standard output.
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Debug, Clone, Args)]
pub struct RestoreArgs {
    /// The backup file; `-` reads standard input.
    #[arg(long = "in")]
    pub input: PathBuf,
    /// The new data directory: it must not exist yet, or be empty.
    #[arg(
        long,
        required_unless_present = "database_url",
        conflicts_with = "database_url"
    )]
    pub data_dir: Option<PathBuf>,
    /// Or the PostgreSQL database to restore into, which must hold no school yet (an empty
    /// database, or one whose schema Tessera made but nothing else). No variable or file key:
    /// where a restore writes is always spelled out.
    #[arg(long)]
    pub database_url: Option<String>,
}

impl RestoreArgs {
    /// Where the restore writes: the database or the directory given.
    pub fn place(&self) -> Result<StorePlace, ConfigError> {
        match (database_url(self.database_url.clone())?, &self.data_dir) {
            (Some(url), _) => Ok(StorePlace::Database {
                url,
                pool_size: COMMAND_POOL_SIZE,
            }),
            (None, Some(dir)) => Ok(StorePlace::Directory {
                dir: dir.clone(),
                cache_mb: super::store::DEFAULT_CACHE_MB,
            }),
            (None, None) => Err(ConfigError::Value(
                "restore needs --data-dir or --database-url".into(),
            )),
        }
    }
}

#[derive(Debug, Clone, Default, Args)]
pub struct CheckArgs {
    /// Directory holding the database [default: ./tessera-data; file key: data_dir].
    #[arg(long, env = "TESSERA_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// PostgreSQL database to use instead of the embedded store in the data directory, e.g.
    /// postgres://tessera:PASSWORD@db.example.org/tessera?sslmode=verify-full [file key:
    /// database_url].
    #[arg(long, env = "TESSERA_DATABASE_URL")]
    pub database_url: Option<String>,
}

#[derive(Debug, Clone, Default, Args)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:3000; file key: addr].
    #[arg(long, env = "TESSERA_ADDR")]
    pub addr: Option<SocketAddr>,
    /// Directory holding the database; created if missing [default: ./tessera-data; file key:
    /// data_dir].
    #[arg(long, env = "TESSERA_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// PostgreSQL database to use instead of the embedded store in the data directory, e.g.
    /// postgres://tessera:PASSWORD@db.example.org/tessera?sslmode=verify-full [file key:
    /// database_url].
    #[arg(long, env = "TESSERA_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Most connections to the database this server opens (with database_url) [default: 16;
    /// file key: database_pool_size].
    #[arg(long, env = "TESSERA_DATABASE_POOL_SIZE")]
    pub database_pool_size: Option<u32>,
    /// Minutes without activity after which a login session ends [default: 60; file key:
    /// session_idle_minutes].
    #[arg(long, env = "TESSERA_SESSION_IDLE_MINUTES")]
    pub session_idle_minutes: Option<u64>,
    /// Hours after logging in after which a session ends however active [default: 12; file key:
    /// session_absolute_hours].
    #[arg(long, env = "TESSERA_SESSION_ABSOLUTE_HOURS")]
    pub session_absolute_hours: Option<u64>,
    /// Mark session cookies Secure; use when Tessera is reached over HTTPS [default: false; file
    /// key: secure_cookies].
    #[arg(long, env = "TESSERA_SECURE_COOKIES", num_args = 0..=1, default_missing_value = "true")]
    pub secure_cookies: Option<bool>,
    /// Whether people may create their own learner account until an administrator changes it on
    /// the Settings page [default: false; file key: self_registration].
    #[arg(long, env = "TESSERA_SELF_REGISTRATION", num_args = 0..=1, default_missing_value = "true")]
    pub self_registration: Option<bool>,
    /// Threads that hash and check passwords, each holding 19 MiB while logins come in (given
    /// back after 30 s without one)
    /// [default: one per CPU core; file key: hash_workers].
    #[arg(long, env = "TESSERA_HASH_WORKERS")]
    pub hash_workers: Option<usize>,
    /// Password checks that may wait for a hashing thread; beyond that a login is answered
    /// "busy, try again" (503) [default: 64; file key: hash_queue].
    #[arg(long, env = "TESSERA_HASH_QUEUE")]
    pub hash_queue: Option<usize>,
    /// The address people use to reach Tessera, e.g. https://lms.example.org; its scheme and
    /// host are trusted for cross-site checks and set-up [file key: public_url].
    #[arg(long, env = "TESSERA_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Host names that may open the first-start set-up besides IP addresses and localhost,
    /// comma-separated [file key: allowed_hosts].
    #[arg(long, env = "TESSERA_ALLOWED_HOSTS", value_delimiter = ',')]
    pub allowed_hosts: Option<Vec<String>>,
    /// Reverse proxies (addresses or networks like 10.0.0.0/8, comma-separated) whose
    /// X-Forwarded-For / Forwarded headers name the client; empty: those headers are ignored
    /// [file key: trusted_proxies].
    #[arg(long, env = "TESSERA_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Option<Vec<String>>,
    /// The header the trusted proxies write: x-forwarded-for (with X-Forwarded-Proto) or
    /// forwarded (RFC 7239) [default: x-forwarded-for; file key: proxy_header].
    #[arg(long, env = "TESSERA_PROXY_HEADER")]
    pub proxy_header: Option<String>,
    /// Memory for the database's page cache, in MiB [default: 64; file key: cache_mb].
    #[arg(long, env = "TESSERA_CACHE_MB")]
    pub cache_mb: Option<u64>,
    /// Enrolments a background job (such as a group's mass enrolment) writes per step: smaller
    /// steps pause other writers for less time, larger ones finish sooner [default: 2000; file
    /// key: job_step_pairs].
    #[arg(long, env = "TESSERA_JOB_STEP_PAIRS")]
    pub job_step_pairs: Option<usize>,
    /// While the data directory cannot be written (disk full, read-only), how often to try
    /// writing again; once that works the store is reopened and saving resumes [default: 10;
    /// file key: storage_retry_secs].
    #[arg(long, env = "TESSERA_STORAGE_RETRY_SECS")]
    pub storage_retry_secs: Option<u64>,
    /// Mail group messages through this SMTP server too: smtp://host:port?tls=required
    /// (STARTTLS), ?tls=opportunistic (STARTTLS when offered), smtps://host:port (TLS from the
    /// start), plain smtp://host:port only for a relay on the same machine; credentials as
    /// smtp://user:password@host [file key: smtp_url].
    #[arg(long, env = "TESSERA_SMTP_URL")]
    pub smtp_url: Option<String>,
    /// The sender of those e-mails, e.g. "Tessera <lms@example.org>"; required with smtp_url
    /// [file key: smtp_from].
    #[arg(long, env = "TESSERA_SMTP_FROM")]
    pub smtp_from: Option<String>,
    /// Serve HTTPS with this certificate chain (PEM), read again on SIGHUP and when the file
    /// changes; needs --tls-key [file key: tls_cert].
    #[arg(long, env = "TESSERA_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM) [file key: tls_key].
    #[arg(long, env = "TESSERA_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// With HTTPS: also listen for plain HTTP here and redirect every request to HTTPS, e.g.
    /// 0.0.0.0:80 [file key: tls_redirect_addr].
    #[arg(long, env = "TESSERA_TLS_REDIRECT_ADDR")]
    pub tls_redirect_addr: Option<SocketAddr>,
    /// Seconds a new connection has for its TLS handshake and first request head, and any
    /// request head once begun [default: 10; file key: header_timeout_secs].
    #[arg(long, env = "TESSERA_HEADER_TIMEOUT_SECS")]
    pub header_timeout_secs: Option<u64>,
    /// Seconds a connection may stay open with no request in progress [default: 60; file key:
    /// idle_timeout_secs].
    #[arg(long, env = "TESSERA_IDLE_TIMEOUT_SECS")]
    pub idle_timeout_secs: Option<u64>,
    /// Seconds a request body may pause, or a client not take a response; a body must be
    /// complete within ten times this [default: 30; file key: body_timeout_secs].
    #[arg(long, env = "TESSERA_BODY_TIMEOUT_SECS")]
    pub body_timeout_secs: Option<u64>,
    /// Connections one client address may hold at once; trusted proxies are not capped
    /// [default: 256; file key: max_connections_per_address].
    #[arg(long, env = "TESSERA_MAX_CONNECTIONS_PER_ADDRESS")]
    pub max_connections_per_address: Option<usize>,
    /// Seconds a request has to get its response head, the wait for its turn included; uploads
    /// and the backup download are not timed [default: 30; file key: request_timeout_secs].
    #[arg(long, env = "TESSERA_REQUEST_TIMEOUT_SECS")]
    pub request_timeout_secs: Option<u64>,
    /// Requests handled at once; more wait their turn [default: 512; file key:
    /// max_concurrent_requests].
    #[arg(long, env = "TESSERA_MAX_CONCURRENT_REQUESTS")]
    pub max_concurrent_requests: Option<usize>,
}

/// The keys of the configuration file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub addr: Option<SocketAddr>,
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
    pub database_pool_size: Option<u32>,
    pub session_idle_minutes: Option<u64>,
    pub session_absolute_hours: Option<u64>,
    pub secure_cookies: Option<bool>,
    pub self_registration: Option<bool>,
    pub hash_workers: Option<usize>,
    pub hash_queue: Option<usize>,
    pub public_url: Option<String>,
    pub allowed_hosts: Option<Vec<String>>,
    pub trusted_proxies: Option<Vec<String>>,
    pub proxy_header: Option<String>,
    pub cache_mb: Option<u64>,
    pub job_step_pairs: Option<usize>,
    pub storage_retry_secs: Option<u64>,
    pub smtp_url: Option<String>,
    pub smtp_from: Option<String>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub tls_redirect_addr: Option<SocketAddr>,
    pub header_timeout_secs: Option<u64>,
    pub idle_timeout_secs: Option<u64>,
    pub body_timeout_secs: Option<u64>,
    pub max_connections_per_address: Option<usize>,
    pub request_timeout_secs: Option<u64>,
    pub max_concurrent_requests: Option<usize>,
}

/// The settings the server runs with.
#[derive(Debug, Clone)]
pub struct Config {
    pub addr: SocketAddr,
    /// The embedded store's directory (not used when the store is in a database).
    pub data_dir: PathBuf,
    /// The PostgreSQL database the store is in, when configured (instead of `data_dir`).
    pub database_url: Option<String>,
    /// Most connections to the database.
    pub database_pool_size: u32,
    pub session_idle: Duration,
    pub session_absolute: Duration,
    pub secure_cookies: bool,
    /// Self-registration until an administrator sets it in the store.
    pub self_registration: bool,
    /// Password hashing threads and the queue in front of them.
    pub hash_workers: usize,
    pub hash_queue: usize,
    /// Where people reach Tessera (scheme and authority), when configured.
    pub public_url: Option<http::Uri>,
    /// Host names (lower case, no port) allowed to reach the set-up besides IPs and localhost.
    pub allowed_hosts: Vec<String>,
    pub trusted_proxies: TrustedProxies,
    /// sled's page cache, MiB.
    pub cache_mb: u64,
    /// Enrolments per step of a background job.
    pub job_step_pairs: usize,
    /// While the store cannot write: how often to try again.
    pub storage_retry: Duration,
    /// Where group messages are mailed, when configured.
    pub mail: Option<MailConfig>,
    /// HTTPS served directly, when configured.
    pub tls: Option<super::tls::TlsFiles>,
    /// With HTTPS: where plain HTTP is redirected from.
    pub tls_redirect_addr: Option<SocketAddr>,
    /// Connection timeouts and the per-address cap.
    pub limits: super::listen::Limits,
}

/// How long an e-mail may wait for the SMTP server before it counts as failed.
pub const MAIL_GIVE_UP: Duration = Duration::from_secs(24 * 3600);

/// The SMTP server group messages are mailed through.
#[derive(Clone)]
pub struct MailConfig {
    /// `smtp://` or `smtps://` URL, credentials included (never logged).
    pub url: String,
    pub from: lettre::message::Mailbox,
    /// The wait after an e-mail's first failed attempt (doubled after each, up to an hour).
    pub retry_after: Duration,
    /// How long an e-mail may wait before it counts as failed.
    pub give_up_after: Duration,
}

impl std::fmt::Debug for MailConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = match url::Url::parse(&self.url) {
            Ok(u) => format!(
                "{}://{}:{}",
                u.scheme(),
                u.host_str().unwrap_or(""),
                u.port().unwrap_or(0)
            ),
            Err(_) => "(invalid)".into(),
        };
        f.debug_struct("MailConfig")
            .field("url", &shown)
            .field("from", &self.from.to_string())
            .field("retry_after", &self.retry_after)
            .field("give_up_after", &self.give_up_after)
            .finish()
    }
}

/// `smtp_url` and `smtp_from`: both or neither.
fn mail_config(
    url: Option<String>,
    from: Option<String>,
) -> Result<Option<MailConfig>, ConfigError> {
    let url = url.map(|u| u.trim().to_string()).filter(|u| !u.is_empty());
    let from = from.map(|f| f.trim().to_string()).filter(|f| !f.is_empty());
    let (url, from) = match (url, from) {
        (None, None) => return Ok(None),
        (Some(_), None) => {
            return Err(ConfigError::Value(
                "smtp_from: set the sender address (e.g. \"Tessera <lms@example.org>\") to go with smtp_url".into(),
            ))
        }
        (None, Some(_)) => {
            return Err(ConfigError::Value(
                "smtp_url: set the SMTP server (e.g. smtp://mail.example.org:587) to go with smtp_from".into(),
            ))
        }
        (Some(u), Some(f)) => (u, f),
    };
    let bad_url = || {
        ConfigError::Value(
            "smtp_url: not an address like smtp://mail.example.org:587 or smtps://user:password@mail.example.org".into(),
        )
    };
    let parsed = url::Url::parse(&url).map_err(|_| bad_url())?;
    if !matches!(parsed.scheme(), "smtp" | "smtps") || parsed.host_str().is_none_or(str::is_empty) {
        return Err(bad_url());
    }
    lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::from_url(&url).map_err(|_| bad_url())?;
    let tls = parsed.scheme() == "smtps"
        || parsed
            .query_pairs()
            .any(|(k, v)| k == "tls" && (v == "required" || v == "opportunistic"));
    let loopback = match parsed.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    };
    if parsed.password().is_some() && !tls && !loopback {
        return Err(ConfigError::Value(
            "smtp_url: the password would cross the network unencrypted; add ?tls=required or use smtps://".into(),
        ));
    }
    let from = from.parse().map_err(|_| {
        ConfigError::Value(format!(
            "smtp_from: \"{from}\" is not an address like lms@example.org or \"Tessera <lms@example.org>\""
        ))
    })?;
    Ok(Some(MailConfig {
        url,
        from,
        retry_after: Duration::from_secs(30),
        give_up_after: MAIL_GIVE_UP,
    }))
}

impl Default for Config {
    fn default() -> Self {
        Config::resolve(ServeArgs::default(), FileConfig::default()).expect("defaults are valid")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the configuration file {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("the configuration file {path} is not valid: {reason}")]
    Parse { path: String, reason: String },
    #[error("{0}")]
    Value(String),
}

impl Config {
    /// Reads the configuration file (the given one must exist; the default one may be absent).
    pub fn load_file(explicit: Option<&Path>) -> Result<FileConfig, ConfigError> {
        let (path, required) = match explicit {
            Some(p) => (p.to_path_buf(), true),
            None => (PathBuf::from(CONFIG_FILE), false),
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(FileConfig::default())
            }
            Err(e) => {
                return Err(ConfigError::Read {
                    path: path.display().to_string(),
                    reason: e.to_string(),
                })
            }
        };
        toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.display().to_string(),
            reason: e.to_string(),
        })
    }

    /// Merges flags and environment (already merged by clap) over the file over the defaults.
    pub fn resolve(args: ServeArgs, file: FileConfig) -> Result<Config, ConfigError> {
        let limits = connection_limits(&args, &file)?;
        let idle = args
            .session_idle_minutes
            .or(file.session_idle_minutes)
            .unwrap_or(DEFAULT_IDLE_MINUTES);
        let absolute = args
            .session_absolute_hours
            .or(file.session_absolute_hours)
            .unwrap_or(DEFAULT_ABSOLUTE_HOURS);
        if idle == 0 || idle > 60 * 24 * 30 {
            return Err(ConfigError::Value(
                "session_idle_minutes must be between 1 and 43200".into(),
            ));
        }
        if absolute == 0 || absolute > 24 * 365 {
            return Err(ConfigError::Value(
                "session_absolute_hours must be between 1 and 8760".into(),
            ));
        }
        let hash_workers = args
            .hash_workers
            .or(file.hash_workers)
            .unwrap_or_else(super::hashing::default_workers);
        if !(1..=64).contains(&hash_workers) {
            return Err(ConfigError::Value(
                "hash_workers must be between 1 and 64".into(),
            ));
        }
        let hash_queue = args
            .hash_queue
            .or(file.hash_queue)
            .unwrap_or(DEFAULT_HASH_QUEUE);
        if !(1..=10_000).contains(&hash_queue) {
            return Err(ConfigError::Value(
                "hash_queue must be between 1 and 10000".into(),
            ));
        }
        let public_url = match args.public_url.or(file.public_url) {
            None => None,
            Some(raw) if raw.trim().is_empty() => None,
            Some(raw) => Some(parse_public_url(raw.trim())?),
        };
        let allowed_hosts = args
            .allowed_hosts
            .or(file.allowed_hosts)
            .unwrap_or_default()
            .into_iter()
            .map(|h| h.trim().to_ascii_lowercase())
            .filter(|h| !h.is_empty())
            .collect::<Vec<_>>();
        if let Some(bad) = allowed_hosts.iter().find(|h| {
            !h.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-'))
        }) {
            return Err(ConfigError::Value(format!(
                "allowed_hosts: \"{bad}\" is not a host name (no scheme, port or path)"
            )));
        }
        let trusted_proxies = args
            .trusted_proxies
            .or(file.trusted_proxies)
            .unwrap_or_default()
            .iter()
            .filter(|e| !e.trim().is_empty())
            .map(|e| parse_proxy(e))
            .collect::<Result<Vec<_>, _>>()
            .map_err(ConfigError::Value)?;
        let proxy_header = match args.proxy_header.or(file.proxy_header) {
            None => ProxyHeader::default(),
            Some(raw) => raw.parse().map_err(ConfigError::Value)?,
        };
        let cache_mb = args
            .cache_mb
            .or(file.cache_mb)
            .unwrap_or(super::store::DEFAULT_CACHE_MB);
        if !(8..=65_536).contains(&cache_mb) {
            return Err(ConfigError::Value(
                "cache_mb must be between 8 and 65536".into(),
            ));
        }
        let job_step_pairs = args
            .job_step_pairs
            .or(file.job_step_pairs)
            .unwrap_or(super::store::mass::PAIRS_PER_STEP);
        if !(1..=super::store::enrolments::MAX_BATCH_PAIRS).contains(&job_step_pairs) {
            return Err(ConfigError::Value(format!(
                "job_step_pairs must be between 1 and {}",
                super::store::enrolments::MAX_BATCH_PAIRS
            )));
        }
        let storage_retry_secs = args
            .storage_retry_secs
            .or(file.storage_retry_secs)
            .unwrap_or(DEFAULT_STORAGE_RETRY_SECS);
        if !(1..=3600).contains(&storage_retry_secs) {
            return Err(ConfigError::Value(
                "storage_retry_secs must be between 1 and 3600".into(),
            ));
        }
        let tls = match (
            args.tls_cert.or(file.tls_cert),
            args.tls_key.or(file.tls_key),
        ) {
            (None, None) => None,
            (Some(cert), Some(key)) => {
                let files = super::tls::TlsFiles { cert, key };
                super::tls::load(&files)
                    .map_err(|e| ConfigError::Value(format!("tls_cert / tls_key: {e}")))?;
                Some(files)
            }
            _ => {
                return Err(ConfigError::Value(
                    "tls_cert and tls_key go together: set both or neither".into(),
                ))
            }
        };
        let tls_redirect_addr = args.tls_redirect_addr.or(file.tls_redirect_addr);
        if tls_redirect_addr.is_some() && tls.is_none() {
            return Err(ConfigError::Value(
                "tls_redirect_addr redirects to HTTPS: set tls_cert and tls_key too".into(),
            ));
        }
        // Cookies are Secure by default when Tessera serves HTTPS itself.
        let secure_cookies = args
            .secure_cookies
            .or(file.secure_cookies)
            .unwrap_or(tls.is_some());
        let database_url = database_url(args.database_url.or(file.database_url))?;
        let database_pool_size = match args.database_pool_size.or(file.database_pool_size) {
            None => DEFAULT_POOL_SIZE,
            Some(n) if (1..=MAX_POOL_SIZE).contains(&n) => n,
            Some(_) => {
                return Err(ConfigError::Value(format!(
                    "database_pool_size must be between 1 and {MAX_POOL_SIZE}"
                )))
            }
        };
        Ok(Config {
            database_url,
            database_pool_size,
            limits,
            tls,
            tls_redirect_addr,
            secure_cookies,
            mail: mail_config(
                args.smtp_url.or(file.smtp_url),
                args.smtp_from.or(file.smtp_from),
            )?,
            cache_mb,
            job_step_pairs,
            storage_retry: Duration::from_secs(storage_retry_secs),
            hash_workers,
            hash_queue,
            public_url,
            allowed_hosts,
            trusted_proxies: TrustedProxies::with_header(trusted_proxies, proxy_header),
            addr: args
                .addr
                .or(file.addr)
                .unwrap_or_else(|| DEFAULT_ADDR.parse().expect("valid default address")),
            data_dir: args
                .data_dir
                .or(file.data_dir)
                .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR)),
            session_idle: Duration::from_secs(idle * 60),
            session_absolute: Duration::from_secs(absolute * 3600),
            self_registration: args
                .self_registration
                .or(file.self_registration)
                .unwrap_or(false),
        })
    }
}

impl Config {
    /// Where the server's store is: the database when `database_url` is set, else the data
    /// directory.
    pub fn place(&self) -> StorePlace {
        match &self.database_url {
            Some(url) => StorePlace::Database {
                url: url.clone(),
                pool_size: self.database_pool_size,
            },
            None => StorePlace::Directory {
                dir: self.data_dir.clone(),
                cache_mb: self.cache_mb,
            },
        }
    }
}

/// Most connections a server may open to its database: PostgreSQL's own default limit is 100
/// for every client together.
pub const MAX_POOL_SIZE: u32 = 1_000;

/// Reads `database_url`: `None` when absent or empty (the embedded store), a PostgreSQL URL
/// whose settings (sslmode, sslrootcert, ...) all make sense, or why not.
pub fn database_url(url: Option<String>) -> Result<Option<String>, ConfigError> {
    let Some(url) = url.filter(|u| !u.trim().is_empty()) else {
        return Ok(None);
    };
    match super::store::check_database_url(&url) {
        Ok(()) => Ok(Some(url)),
        Err(e) => Err(ConfigError::Value(format!("database_url: {e}"))),
    }
}

/// The store a command (`seed`, `check`, `backup`) works on: its `--database-url` flag (or
/// variable), else the file's `database_url`, else its `--data-dir`, the file's `data_dir` or
/// the default directory. The command's flags beat the file; a flag naming a directory beats a
/// database in the file.
pub fn command_place(
    file: &FileConfig,
    data_dir: Option<PathBuf>,
    url: Option<String>,
) -> Result<StorePlace, ConfigError> {
    let url = match (url, &data_dir) {
        (Some(url), _) => Some(url),
        (None, Some(_)) => None,
        (None, None) => file.database_url.clone(),
    };
    Ok(match database_url(url)? {
        Some(url) => StorePlace::Database {
            url,
            pool_size: COMMAND_POOL_SIZE,
        },
        None => StorePlace::Directory {
            dir: data_dir
                .or_else(|| file.data_dir.clone())
                .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR)),
            cache_mb: super::store::DEFAULT_CACHE_MB,
        },
    })
}

/// Connections a command opens to the database: it runs one operation at a time.
const COMMAND_POOL_SIZE: u32 = 2;

/// The connection and request timeouts and the caps, each within a range that still serves people.
fn connection_limits(
    args: &ServeArgs,
    file: &FileConfig,
) -> Result<super::listen::Limits, ConfigError> {
    let default = super::listen::Limits::default();
    let secs = |given: Option<u64>, key: &str, fallback: Duration, max: u64| match given {
        None => Ok(fallback),
        Some(s) if (1..=max).contains(&s) => Ok(Duration::from_secs(s)),
        Some(_) => Err(ConfigError::Value(format!(
            "{key} must be between 1 and {max}"
        ))),
    };
    let per_address = args
        .max_connections_per_address
        .or(file.max_connections_per_address)
        .unwrap_or(default.per_address);
    if !(1..=1_000_000).contains(&per_address) {
        return Err(ConfigError::Value(
            "max_connections_per_address must be between 1 and 1000000".into(),
        ));
    }
    let max_requests = args
        .max_concurrent_requests
        .or(file.max_concurrent_requests)
        .unwrap_or(default.max_requests);
    if !(1..=1_000_000).contains(&max_requests) {
        return Err(ConfigError::Value(
            "max_concurrent_requests must be between 1 and 1000000".into(),
        ));
    }
    Ok(super::listen::Limits {
        header_timeout: secs(
            args.header_timeout_secs.or(file.header_timeout_secs),
            "header_timeout_secs",
            default.header_timeout,
            300,
        )?,
        idle_timeout: secs(
            args.idle_timeout_secs.or(file.idle_timeout_secs),
            "idle_timeout_secs",
            default.idle_timeout,
            3600,
        )?,
        body_timeout: secs(
            args.body_timeout_secs.or(file.body_timeout_secs),
            "body_timeout_secs",
            default.body_timeout,
            600,
        )?,
        request_timeout: secs(
            args.request_timeout_secs.or(file.request_timeout_secs),
            "request_timeout_secs",
            default.request_timeout,
            3600,
        )?,
        per_address,
        max_requests,
    })
}

/// `public_url`: an absolute http(s) URL; only its scheme and authority are used.
fn parse_public_url(raw: &str) -> Result<http::Uri, ConfigError> {
    let bad = || {
        ConfigError::Value(format!(
            "public_url: \"{raw}\" is not an address like https://lms.example.org"
        ))
    };
    let uri: http::Uri = raw.parse().map_err(|_| bad())?;
    match (uri.scheme_str(), uri.authority()) {
        (Some("http" | "https"), Some(a)) if !a.host().is_empty() => http::Uri::builder()
            .scheme(uri.scheme_str().unwrap_or("https"))
            .authority(a.as_str())
            .path_and_query("/")
            .build()
            .map_err(|_| bad()),
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_beats_file_beats_default() {
        let file: FileConfig = toml::from_str(
            "addr = \"127.0.0.1:4000\"\ndata_dir = \"/srv/t\"\nself_registration = true\n",
        )
        .unwrap();
        let args = ServeArgs {
            addr: Some("127.0.0.1:5000".parse().unwrap()),
            ..Default::default()
        };
        let c = Config::resolve(args, file).unwrap();
        assert_eq!(c.addr.port(), 5000);
        assert_eq!(c.data_dir, PathBuf::from("/srv/t"));
        assert!(c.self_registration);
        assert_eq!(c.session_idle, Duration::from_secs(3600));
        let d = Config::default();
        assert_eq!(d.addr.to_string(), DEFAULT_ADDR);
        assert!(!d.secure_cookies);
    }

    #[test]
    fn env_beats_file() {
        // clap merges flag and environment; the variable arrives in ServeArgs like a flag.
        std::env::set_var("TESSERA_SESSION_IDLE_MINUTES", "7");
        let cli = Cli::try_parse_from(["tessera", "serve"]).unwrap();
        std::env::remove_var("TESSERA_SESSION_IDLE_MINUTES");
        let Command::Serve(args) = cli.command else {
            panic!("serve")
        };
        let file: FileConfig = toml::from_str("session_idle_minutes = 30").unwrap();
        assert_eq!(
            Config::resolve(args, file).unwrap().session_idle,
            Duration::from_secs(7 * 60)
        );
    }

    #[test]
    fn bad_files_and_values_are_clear_errors() {
        assert!(toml::from_str::<FileConfig>("adress = \"x\"")
            .unwrap_err()
            .to_string()
            .contains("adress"));
        let err = Config::resolve(
            ServeArgs {
                session_idle_minutes: Some(0),
                ..Default::default()
            },
            FileConfig::default(),
        );
        assert!(err
            .unwrap_err()
            .to_string()
            .contains("session_idle_minutes"));
        let missing = Config::load_file(Some(Path::new("/nonexistent/tessera.toml"))).unwrap_err();
        assert!(matches!(missing, ConfigError::Read { .. }));
    }

    #[test]
    fn the_database_url_chooses_the_store_with_flag_over_file() {
        // Absent (or empty): the embedded store in the data directory, as before.
        let c = Config::resolve(ServeArgs::default(), FileConfig::default()).unwrap();
        assert_eq!(
            c.place(),
            StorePlace::Directory {
                dir: PathBuf::from(DEFAULT_DATA_DIR),
                cache_mb: c.cache_mb
            }
        );
        let file: FileConfig = toml::from_str(
            "database_url = \"postgres://t:secret@db.example.org/school\"\n\
             database_pool_size = 40\n",
        )
        .unwrap();
        let c = Config::resolve(ServeArgs::default(), file).unwrap();
        assert_eq!(
            c.place(),
            StorePlace::Database {
                url: "postgres://t:secret@db.example.org/school".into(),
                pool_size: 40
            }
        );
        // The password never shows where the place is printed.
        assert_eq!(c.place().shown(), "postgres://t:***@db.example.org/school");
        // The flag (or its variable) beats the file; the pool defaults to 16.
        std::env::set_var("TESSERA_DATABASE_URL", "postgresql://other/db2");
        let cli = Cli::try_parse_from(["tessera", "serve"]).unwrap();
        std::env::remove_var("TESSERA_DATABASE_URL");
        let Command::Serve(args) = cli.command else {
            panic!("serve")
        };
        let file: FileConfig = toml::from_str("database_url = \"postgres://x/y\"").unwrap();
        assert_eq!(
            Config::resolve(args, file).unwrap().place(),
            StorePlace::Database {
                url: "postgresql://other/db2".into(),
                pool_size: DEFAULT_POOL_SIZE
            }
        );
    }

    #[test]
    fn a_bad_database_url_or_pool_size_is_a_clear_error() {
        for (url, words) in [
            ("mysql://db/x", "must start with postgres://"),
            ("/srv/tessera-data", "must start with postgres://"),
            (
                "postgres://db/x?sslmode=sometimes",
                "the database URL is not valid",
            ),
            (
                "postgres://db/x?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem",
                "sslrootcert file /nonexistent/ca.pem cannot be used",
            ),
        ] {
            let err = Config::resolve(
                ServeArgs {
                    database_url: Some(url.into()),
                    ..Default::default()
                },
                FileConfig::default(),
            )
            .unwrap_err()
            .to_string();
            assert!(err.starts_with("database_url: "), "{url}: {err}");
            assert!(err.contains(words), "{url}: {err}");
        }
        for n in [0, MAX_POOL_SIZE + 1] {
            let err = Config::resolve(
                ServeArgs {
                    database_pool_size: Some(n),
                    ..Default::default()
                },
                FileConfig::default(),
            )
            .unwrap_err()
            .to_string();
            assert_eq!(err, "database_pool_size must be between 1 and 1000");
        }
    }

    #[test]
    fn a_command_works_on_the_store_its_flags_name_then_the_files() {
        let file: FileConfig =
            toml::from_str("data_dir = \"/srv/t\"\ndatabase_url = \"postgres://db/school\"\n")
                .unwrap();
        let db = |url: &str| StorePlace::Database {
            url: url.into(),
            pool_size: COMMAND_POOL_SIZE,
        };
        let dir = |d: &str| StorePlace::Directory {
            dir: PathBuf::from(d),
            cache_mb: crate::server::store::DEFAULT_CACHE_MB,
        };
        // The file's database, unless a flag names a store.
        assert_eq!(
            command_place(&file, None, None).unwrap(),
            db("postgres://db/school")
        );
        assert_eq!(
            command_place(&file, Some("/tmp/d".into()), None).unwrap(),
            dir("/tmp/d")
        );
        assert_eq!(
            command_place(&file, None, Some("postgres://db/other".into())).unwrap(),
            db("postgres://db/other")
        );
        // Without a database anywhere: the flag's directory, the file's, the default.
        let plain: FileConfig = toml::from_str("data_dir = \"/srv/t\"").unwrap();
        assert_eq!(command_place(&plain, None, None).unwrap(), dir("/srv/t"));
        assert_eq!(
            command_place(&FileConfig::default(), None, None).unwrap(),
            dir(DEFAULT_DATA_DIR)
        );
        assert!(command_place(&plain, None, Some("sqlite:x".into()))
            .unwrap_err()
            .to_string()
            .contains("must start with postgres://"));
    }

    #[test]
    fn hosts_proxies_and_public_url() {
        let file: FileConfig = toml::from_str(
            "public_url = \"https://LMS.example.org/\"\nallowed_hosts = [\"Lms.Example.org\"]\n\
             trusted_proxies = [\"10.0.0.0/8\", \"127.0.0.1\"]\n",
        )
        .unwrap();
        let c = Config::resolve(ServeArgs::default(), file).unwrap();
        assert_eq!(
            c.public_url.unwrap().to_string(),
            "https://LMS.example.org/"
        );
        assert_eq!(c.allowed_hosts, vec!["lms.example.org".to_string()]);
        assert!(c.trusted_proxies.contains("10.9.8.7".parse().unwrap()));
        assert!(!c.trusted_proxies.contains("11.0.0.1".parse().unwrap()));
        let cli = Cli::try_parse_from([
            "tessera",
            "serve",
            "--trusted-proxies",
            "::1,192.168.0.0/16",
        ])
        .unwrap();
        let Command::Serve(args) = cli.command else {
            panic!("serve")
        };
        let c = Config::resolve(args, FileConfig::default()).unwrap();
        assert!(c.trusted_proxies.contains("192.168.4.4".parse().unwrap()));
        for (key, value) in [
            ("public_url", "\"lms.example.org\""),
            ("public_url", "\"ftp://lms.example.org\""),
            ("allowed_hosts", "[\"https://lms.example.org\"]"),
            ("trusted_proxies", "[\"proxy.local\"]"),
            ("proxy_header", "\"x-real-ip\""),
            ("smtp_url", "\"mail.example.org\"\nsmtp_from = \"a@b.org\""),
            (
                "smtp_url",
                "\"http://mail.example.org\"\nsmtp_from = \"a@b.org\"",
            ),
            (
                "smtp_from",
                "\"not an address\"\nsmtp_url = \"smtp://m.org\"",
            ),
            ("smtp_from", "\"\"\nsmtp_url = \"smtp://m.org\""),
            ("smtp_url", "\"\"\nsmtp_from = \"a@b.org\""),
            (
                "smtp_url",
                "\"smtp://u:p@mail.example.org\"\nsmtp_from = \"a@b.org\"",
            ),
            (
                "tls_cert",
                "\"/nonexistent/cert.pem\"\ntls_key = \"/nonexistent/key.pem\"",
            ),
            ("tls_cert", "\"/nonexistent/cert.pem\""),
            ("tls_redirect_addr", "\"127.0.0.1:80\""),
            ("header_timeout_secs", "0"),
            ("idle_timeout_secs", "3601"),
            ("body_timeout_secs", "0"),
            ("max_connections_per_address", "0"),
            ("request_timeout_secs", "0"),
            ("max_concurrent_requests", "0"),
        ] {
            let file: FileConfig = toml::from_str(&format!("{key} = {value}")).unwrap();
            let err = Config::resolve(ServeArgs::default(), file).unwrap_err();
            assert!(err.to_string().contains(key), "{err}");
        }
    }

    #[test]
    fn request_limits_come_from_the_file_and_flags() {
        assert_eq!(
            Config::default().limits.request_timeout,
            Duration::from_secs(30)
        );
        assert_eq!(Config::default().limits.max_requests, 512);
        let file: FileConfig =
            toml::from_str("request_timeout_secs = 5\nmax_concurrent_requests = 8").unwrap();
        let args = ServeArgs {
            max_concurrent_requests: Some(9),
            ..ServeArgs::default()
        };
        let limits = Config::resolve(args, file).unwrap().limits;
        assert_eq!(limits.request_timeout, Duration::from_secs(5));
        assert_eq!(limits.max_requests, 9, "a flag wins over the file");
    }

    #[test]
    fn smtp_settings() {
        let file: FileConfig = toml::from_str(
            "smtp_url = \"smtp://user:secret@mail.example.org:587?tls=required\"\n\
             smtp_from = \"Tessera <lms@example.org>\"\n",
        )
        .unwrap();
        let c = Config::resolve(ServeArgs::default(), file).unwrap();
        let mail = c.mail.clone().expect("mail configured");
        assert_eq!(mail.from.email.to_string(), "lms@example.org");
        let shown = format!("{c:?}");
        assert!(
            shown.contains("mail.example.org") && !shown.contains("secret"),
            "{shown}"
        );
        assert!(Config::default().mail.is_none());
    }

    #[test]
    fn the_shipped_example_file_is_valid() {
        let text = include_str!("../../Leptos.example.toml");
        let file: FileConfig = toml::from_str(text).unwrap();
        assert!(Config::resolve(ServeArgs::default(), file).is_ok());
    }
}
