//! The `tessera` binary: parse the configuration, open the store, serve.

/// The server allocates and frees many small buffers per page from two or more tokio
/// workers; glibc's malloc spent more than a quarter of the server's CPU on them (arena locks,
/// consolidating free chunks), jemalloc a fraction of that (BENCHMARKS.md, "Page throughput").
/// Its background thread returns freed memory to the system after a few idle seconds; an idle
/// password-hashing worker asks for its buffer's pages back at once (`server/hashing.rs`).
/// Only this binary: the library's tests run on the system's allocator.
#[cfg(feature = "ssr")]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[cfg(feature = "ssr")]
#[tokio::main]
async fn main() -> std::process::ExitCode {
    use clap::Parser;
    use tessera::server;
    use tessera::server::config::{Cli, Command, Config};

    // Before anything is created: the data directory, backups and the control socket are for
    // this account only, whatever umask the process was started with.
    server::data_dir::restrict_umask();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sled=warn,tower_sessions=warn".into()),
        )
        // Standard error, as README says: `tessera backup --out -` writes the backup itself to
        // standard output, which a log line (a migration at open, a warning) would corrupt.
        .with_writer(std::io::stderr)
        .init();
    // A panic is one log line with a log id; the request that hit it gets a 500 with that id.
    server::layers::install_panic_hook();

    let cli = Cli::parse();
    // The store's operations block (on the disk, or on the database: its client drives a
    // runtime of its own, which may not be started on a thread that drives this one), so the
    // commands run off the async thread.
    let config = cli.config.clone();
    use tokio::task::block_in_place as off;
    let args = match cli.command {
        Command::Serve(args) => args,
        Command::Check(check) => return off(|| check_data_dir(config.as_deref(), check)),
        Command::Migrate(args) => return off(|| migrate(config.as_deref(), args)),
        Command::Backup(args) => return off(|| backup(config.as_deref(), args)),
        Command::Restore(args) => return off(|| restore(args)),
        Command::Seed(args) => return seed(config.as_deref(), args).await,
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
    let place = config.place();
    if let server::store::StorePlace::Directory { dir, .. } = &place {
        if let Some(warning) = server::data_dir::permission_warning(dir) {
            tracing::warn!("{warning}");
        }
    }
    if place.migration_due() {
        if let Some(failed) = migrate_apart(cli.config.as_deref(), &place) {
            return failed;
        }
    }
    let store = match tokio::task::block_in_place(|| server::store::Store::open_at(&place)) {
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
        OpenError::Unreadable { .. } | OpenError::Unreachable { .. } => 5,
        OpenError::NewerSchema { .. } => 6,
        OpenError::Migration(_) => 7,
    };
    std::process::ExitCode::from(code)
}

/// Warns on standard error (standard output may be carrying a backup) when accounts other
/// than this one can read the data directory `dir`.
#[cfg(feature = "ssr")]
fn warn_if_readable(dir: &std::path::Path) {
    if let Some(warning) = tessera::server::data_dir::permission_warning(dir) {
        eprintln!("warning: {warning}");
    }
}

/// The store a command works on (`config::command_place`); exit code 3 when the
/// configuration file or the database URL is bad. A data directory others can read is warned
/// about.
#[cfg(feature = "ssr")]
fn place_of(
    config: Option<&std::path::Path>,
    data_dir: Option<std::path::PathBuf>,
    database_url: Option<String>,
) -> Result<tessera::server::store::StorePlace, std::process::ExitCode> {
    use tessera::server::config::{command_place, Config};
    let place = Config::load_file(config)
        .and_then(|file| command_place(&file, data_dir, database_url))
        .map_err(|e| {
            eprintln!("error: {e}");
            std::process::ExitCode::from(3)
        })?;
    if let tessera::server::store::StorePlace::Directory { dir, .. } = &place {
        warn_if_readable(dir);
    }
    Ok(place)
}

/// `tessera seed`: 0 when the school is written; 3 for a bad configuration, 4–7 when the
/// directory cannot be opened (as `serve`), 12 for a plan or password refused or a directory
/// that has accounts already (nothing written), 13 when a write failed.
#[cfg(feature = "ssr")]
async fn seed(
    config: Option<&std::path::Path>,
    args: tessera::server::config::SeedArgs,
) -> std::process::ExitCode {
    use tessera::server::seed::{SeedError, SeedPlan};
    let place = match place_of(config, args.data_dir, args.database_url) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let plan = SeedPlan {
        users: args.users,
        groups: args.groups,
        courses: args.courses,
        courses_per_group: args.courses_per_group,
    };
    let checked = plan.validate().map_err(|e| e.to_string()).and_then(|()| {
        tessera::model::user::validate_new_password(&args.password, &args.password, "password")
            .map_err(|e| format!("--password: {e}"))
    });
    if let Err(e) = checked {
        eprintln!("error: {e}");
        return std::process::ExitCode::from(12);
    }
    let store = match tokio::task::block_in_place(|| tessera::server::store::Store::open_at(&place))
    {
        Ok(s) => s,
        Err(e) => return open_failed(e),
    };
    let hash = match tessera::server::hashing::HashPool::start(1, 1)
        .hash(args.password.clone())
        .await
    {
        Ok(h) => h,
        Err(e) => {
            eprintln!("error: the password could not be hashed: {e}");
            return std::process::ExitCode::from(13);
        }
    };
    let written = tokio::task::spawn_blocking(move || {
        tessera::server::seed::seed(&store, plan, &hash, |what| eprintln!("writing {what}…"))
    })
    .await;
    match written {
        Ok(Ok(s)) => {
            println!(
                "{}: {} learners, {} groups, {} courses, {} enrolments, {} lessons done, in {:.1} s",
                place.shown(),
                s.users,
                s.groups,
                s.courses,
                s.enrolments,
                s.completions,
                s.seconds
            );
            println!(
                "Log in as admin (or learner1 … learner{}) with the password {:?}.",
                s.users, args.password
            );
            std::process::ExitCode::SUCCESS
        }
        Ok(Err(e @ (SeedError::Plan(_) | SeedError::NotEmpty))) => {
            eprintln!("error: {e}");
            std::process::ExitCode::from(12)
        }
        Ok(Err(e)) => {
            eprintln!("error: writing the school failed: {e}");
            std::process::ExitCode::from(13)
        }
        Err(e) => {
            eprintln!("error: writing the school stopped: {e}");
            std::process::ExitCode::from(13)
        }
    }
}

/// `tessera check`: 0 when every invariant holds, 1 when any is broken (each printed), 3 for a
/// bad configuration, 4–7 when the directory cannot be opened (as `serve`), 9 on a read error.
#[cfg(feature = "ssr")]
fn check_data_dir(
    config: Option<&std::path::Path>,
    args: tessera::server::config::CheckArgs,
) -> std::process::ExitCode {
    let (place, store) = match open_for(config, args) {
        Ok(opened) => opened,
        Err(code) => return code,
    };
    match store.check() {
        Ok(report) if report.violations.is_empty() => {
            println!(
                "{}: {} records checked, every invariant holds",
                place.shown(),
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
                place.shown(),
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

/// `tessera migrate`: 0 when the store is at this version's schema (migrated or already
/// there), 3 for a bad configuration, 4–7 when it cannot be opened or migrated (as `serve`).
#[cfg(feature = "ssr")]
fn migrate(
    config: Option<&std::path::Path>,
    args: tessera::server::config::CheckArgs,
) -> std::process::ExitCode {
    match open_for(config, args) {
        Ok((place, _)) => {
            println!("{}: the schema is up to date", place.shown());
            std::process::ExitCode::SUCCESS
        }
        Err(code) => code,
    }
}

/// Opens (so migrates) the store a `check` or `migrate` names; the exit code when it cannot.
#[cfg(feature = "ssr")]
fn open_for(
    config: Option<&std::path::Path>,
    args: tessera::server::config::CheckArgs,
) -> Result<
    (
        tessera::server::store::StorePlace,
        tessera::server::store::Store,
    ),
    std::process::ExitCode,
> {
    let place = place_of(config, args.data_dir, args.database_url)?;
    let store = tessera::server::store::Store::open_at(&place).map_err(open_failed)?;
    Ok((place, store))
}

/// Before `serve` opens a directory whose schema may be older: runs `tessera migrate` on it in
/// a process of its own and waits, so that what a big migration leaves allocated goes with that
/// process, not into the server's resident memory (`StorePlace::migration_due`). `Some(code)`
/// when the migration failed (the child said why on standard error): the server stops with the
/// child's code. `None` when it succeeded, or when the child could not be started; the server's
/// own open then migrates whatever is left.
#[cfg(feature = "ssr")]
fn migrate_apart(
    config: Option<&std::path::Path>,
    place: &tessera::server::store::StorePlace,
) -> Option<std::process::ExitCode> {
    use std::process::Stdio;
    let tessera::server::store::StorePlace::Directory { dir, .. } = place else {
        return None;
    };
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => {
            tracing::warn!("cannot find this binary to migrate apart ({e}); migrating in-process");
            return None;
        }
    };
    tracing::info!(
        dir = %dir.display(),
        "the data directory may be at an older schema: running `tessera migrate` first"
    );
    let mut child = std::process::Command::new(exe);
    child
        .arg("migrate")
        .arg("--data-dir")
        .arg(dir)
        // The directory named above, whatever the environment names.
        .env_remove("TESSERA_DATABASE_URL")
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    if let Some(config) = config {
        child.arg("--config").arg(config);
    }
    match child.status() {
        Ok(status) if status.success() => {
            tracing::info!("`tessera migrate` brought the data directory up to date");
            None
        }
        Ok(status) => {
            eprintln!("error: `tessera migrate` failed ({status}); the server is not started");
            let code = status
                .code()
                .and_then(|c| u8::try_from(c).ok())
                .unwrap_or(7);
            Some(std::process::ExitCode::from(code))
        }
        Err(e) => {
            tracing::warn!("`tessera migrate` could not be started ({e}); migrating in-process");
            None
        }
    }
}

/// `tessera backup`: 0 when the file is written; otherwise the codes of
/// [`tessera::server::backup_control::CommandError::exit_code`] (3 for a bad configuration).
#[cfg(feature = "ssr")]
fn backup(
    config: Option<&std::path::Path>,
    args: tessera::server::config::BackupArgs,
) -> std::process::ExitCode {
    use tessera::server::backup_control::{backup_command, Source};
    let place = match place_of(config, args.data_dir, args.database_url) {
        Ok(p) => p,
        Err(code) => return code,
    };
    match backup_command(&place, &args.out) {
        Ok((made, from)) => {
            let how = match from {
                Source::Server => "taken by the running server",
                Source::Directory => "read from the directory",
                Source::Database => "read from the database in one snapshot",
            };
            eprintln!(
                "backup of {} ({how}) written to {}: {} bytes, schema {}, {} trees, {} entries",
                place.shown(),
                args.out.display(),
                made.bytes,
                made.schema,
                made.trees,
                made.entries
            );
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::from(e.exit_code())
        }
    }
}

/// `tessera restore`: 0 when restored and every invariant holds, 1 when restored but `check`
/// found violations (each printed); otherwise the codes of
/// [`tessera::server::backup_control::CommandError::exit_code`].
#[cfg(feature = "ssr")]
fn restore(args: tessera::server::config::RestoreArgs) -> std::process::ExitCode {
    let place = match args.place() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return std::process::ExitCode::from(3);
        }
    };
    match tessera::server::backup_control::restore_command(&args.input, &place) {
        Ok(done) => {
            // A new directory is private; an empty one given to restore into keeps its mode.
            if let tessera::server::store::StorePlace::Directory { dir, .. } = &place {
                warn_if_readable(dir);
            }
            for v in &done.violations {
                println!("{v}");
            }
            eprintln!(
                "restored {} (taken {} by Tessera {}, schema {}) into {}: {} trees, {} entries, \
                 schema now {}; {}",
                args.input.display(),
                tessera::components::widgets::date_time(done.backup.created_ms),
                done.backup.tessera,
                done.backup.schema,
                place.shown(),
                done.trees,
                done.entries,
                done.schema,
                if done.violations.is_empty() {
                    "every invariant holds".to_string()
                } else {
                    format!("{} violation(s)", done.violations.len())
                }
            );
            if done.violations.is_empty() {
                std::process::ExitCode::SUCCESS
            } else {
                std::process::ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::from(e.exit_code())
        }
    }
}

#[cfg(not(feature = "ssr"))]
pub fn main() {
    // The browser build has no binary; cargo-leptos builds the library to wasm.
}
