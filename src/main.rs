//! The `tessera` binary: parse the configuration, open the store, serve.

#[cfg(feature = "ssr")]
#[tokio::main]
async fn main() -> std::process::ExitCode {
    use clap::Parser;
    use tessera::server::config::{Cli, Command, Config};
    use tessera::server::{self, store::OpenError};

    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sled=warn,tower_sessions=warn".into()),
        )
        .init();
    // A panic is one log line with a log id; the request that hit it gets a 500 with that id.
    server::layers::install_panic_hook();

    let cli = Cli::parse();
    let Command::Serve(args) = cli.command;
    let config = match Config::load_file(cli.config.as_deref())
        .and_then(|file| Config::resolve(args, file))
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return std::process::ExitCode::from(3);
        }
    };
    let store = match server::store::Store::open_with_cache(&config.data_dir, config.cache_mb) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            let code = match e {
                OpenError::Locked(_) => 4,
                OpenError::Unreadable { .. } => 5,
                OpenError::NewerSchema { .. } => 6,
                OpenError::Migration(_) => 7,
            };
            return std::process::ExitCode::from(code);
        }
    };
    store.set_step_pairs(config.job_step_pairs);
    match server::serve(config, store).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::from(8)
        }
    }
}

#[cfg(not(feature = "ssr"))]
pub fn main() {
    // The browser build has no binary; cargo-leptos builds the library to wasm.
}
