//! Everything that runs only on the server.

pub mod assets;
pub mod backup_control;
pub mod client;
pub mod config;
pub mod csv_input;
pub mod data_dir;
pub mod downloads;
pub mod flusher;
pub mod hashing;
pub mod job_runner;
pub mod layers;
pub mod listen;
pub mod mail;
pub mod router;
pub mod seed;
pub mod session_guards;
pub mod signing;
pub mod state;
pub mod store;
pub mod store_cell;
pub mod throttle;
pub mod tls;

use crate::model::AppError;
use store::StoreError;

/// Maps a store failure to what the caller may see. Internal failures are logged with a fresh id
/// and reach the browser only as that id.
impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Invalid { field, message } => AppError::Invalid {
                field: field.to_string(),
                message,
            },
            StoreError::NotFound(what) => AppError::not_found(capitalise(what)),
            StoreError::AlreadySetUp => AppError::AlreadySetUp,
            StoreError::Forbidden => AppError::Forbidden,
            other => internal(&other),
        }
    }
}

/// Logs `err` under a new log id and returns the opaque error for the browser.
pub fn internal(err: &dyn std::fmt::Display) -> AppError {
    let log_id = format!("{:08x}", rand::random::<u32>());
    tracing::error!(log_id, error = %err, "internal error");
    AppError::Internal { log_id }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// The Leptos settings the server renders with. Fixed here (not read from Cargo.toml at run
/// time) so the binary runs alone in any directory.
pub fn leptos_options(addr: std::net::SocketAddr) -> leptos::config::LeptosOptions {
    leptos::config::LeptosOptions::builder()
        .output_name("tessera")
        .site_root(std::env::var("LEPTOS_SITE_ROOT").unwrap_or_else(|_| "target/site".into()))
        .site_pkg_dir(assets::pkg_dir())
        .site_addr(addr)
        .build()
}

/// Serves until Ctrl-C or SIGTERM, then flushes the store.
pub async fn serve(config: config::Config, store: store::Store) -> std::io::Result<()> {
    // Before any connection: descriptors are what silent clients would exhaust first.
    if let Some((before, after)) = listen::raise_open_files_limit() {
        tracing::info!(
            before,
            after,
            "raised the open-files limit to the hard limit"
        );
    }
    let listener = tokio::net::TcpListener::bind(config.addr).await?;
    let addr = listener.local_addr()?;
    let state = state::AppState::new(leptos_options(addr), store, config.clone());
    session_guards::StoredSessions::new(
        state.storage.clone(),
        state.flusher.clone(),
        state.session_writes.clone(),
    )
    .spawn_cleanup(std::time::Duration::from_secs(3600));
    // The control socket answers `tessera backup` for a data directory the server holds; a
    // database is backed up by the command itself (`tessera backup --database-url`).
    if config.database_url.is_none() {
        backup_control::spawn_control(state.storage.clone(), config.data_dir.clone());
    }
    let store_at = config.place().shown();
    let storage = state.storage.clone();
    let app = router::build(state);
    // One count per client address across both ports.
    let per_address = listen::PerAddress::new(&config.limits, config.trusted_proxies.clone());
    let tls = match &config.tls {
        Some(files) => {
            let tls = tls::Reloadable::new(tls::load(files).map_err(std::io::Error::other)?);
            tls::spawn_reloader(files.clone(), tls.clone());
            if let Some(plain) = config.tls_redirect_addr {
                let redirect = tokio::net::TcpListener::bind(plain).await?;
                tracing::info!(%plain, "plain HTTP is redirected to HTTPS");
                tokio::spawn(listen::serve(
                    redirect,
                    tls::redirect_app(addr.port()),
                    None,
                    config.limits,
                    per_address.clone(),
                    shutdown_signal(),
                ));
            }
            tracing::info!(%addr, store = %store_at, "Tessera is listening on https://{addr}");
            Some(tls)
        }
        None => {
            tracing::info!(%addr, store = %store_at, "Tessera is listening on http://{addr}");
            None
        }
    };
    listen::serve(
        listener,
        app,
        tls,
        config.limits,
        per_address,
        shutdown_signal(),
    )
    .await;
    match storage.store() {
        Ok(store) => store.flush().map_err(std::io::Error::other)?,
        Err(e) => tracing::warn!(error = %e, "stopped without a last flush"),
    }
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
