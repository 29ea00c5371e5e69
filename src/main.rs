//! The `tessera` binary: parse the configuration, open the store, serve.

#[cfg(feature = "ssr")]
#[tokio::main]
async fn main() -> std::process::ExitCode {
    use clap::Parser;
    use tessera::server;
    use tessera::server::config::{Cli, Command, Config};

    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sled=warn,tower_sessions=warn".into()),
        )
        .init();
    // A panic is one log line with a log id; the request that hit it gets a 500 with that id.
    server::layers::install_panic_hook();

    let cli = Cli::parse();
    let args = match cli.command {
        Command::Serve(args) => args,
        Command::Check(check) => return check_data_dir(cli.config.as_deref(), check),
    };
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
        Err(e) => return open_failed(e),
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

/// Why the data directory could not be opened, with its own exit code.
#[cfg(feature = "ssr")]
fn open_failed(e: tessera::server::store::OpenError) -> std::process::ExitCode {
    use tessera::server::store::OpenError;
    eprintln!("error: {e}");
    let code = match e {
        OpenError::Locked(_) => 4,
        OpenError::Unreadable { .. } => 5,
        OpenError::NewerSchema { .. } => 6,
        OpenError::Migration(_) => 7,
    };
    std::process::ExitCode::from(code)
}

/// `tessera check`: 0 when every invariant holds, 1 when any is broken (each printed), 3 for a
/// bad configuration, 4–7 when the directory cannot be opened (as `serve`), 9 on a read error.
#[cfg(feature = "ssr")]
fn check_data_dir(
    config: Option<&std::path::Path>,
    args: tessera::server::config::CheckArgs,
) -> std::process::ExitCode {
    use tessera::server::config::{Config, DEFAULT_DATA_DIR};
    let file = match Config::load_file(config) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return std::process::ExitCode::from(3);
        }
    };
    let dir = args
        .data_dir
        .or(file.data_dir)
        .unwrap_or_else(|| DEFAULT_DATA_DIR.into());
    let store = match tessera::server::store::Store::open(&dir) {
        Ok(s) => s,
        Err(e) => return open_failed(e),
    };
    match store.check() {
        Ok(report) if report.violations.is_empty() => {
            println!(
                "{}: {} records checked, every invariant holds",
                dir.display(),
                report.records
            );
            std::process::ExitCode::SUCCESS
        }
        Ok(report) => {
            for v in &report.violations {
                println!("{v}");
            }
            println!(
                "{}: {} records checked, {} violation(s)",
                dir.display(),
                report.records,
                report.violations.len()
            );
            std::process::ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("error: the store could not be read to the end: {e}");
            std::process::ExitCode::from(9)
        }
    }
}

#[cfg(not(feature = "ssr"))]
pub fn main() {
    // The browser build has no binary; cargo-leptos builds the library to wasm.
}
