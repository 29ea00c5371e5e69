//! Backups of the running server, and the `tessera backup` / `tessera restore` commands.
//!
//! A backup is written to a temporary file in the data directory (the store's write gate is
//! held only while the snapshot is written, at disk speed), then handed to whoever asked: an
//! administrator's browser (`GET /backup/download`) or `tessera backup` through the control
//! socket. One process at a time may open a data directory, so while the server runs the command
//! asks it, over `control/tessera.sock` in the data directory (in a directory only the server's
//! user can enter).

use super::store::backup::{BackupError, BackupSummary, BackupVia};
use super::store::backup::{LastBackupRecord, RestoreSummary};
use super::store::{now_ms, Store, StorePlace};
use super::store_cell::StoreCell;
use std::io::{BufRead, Read, Write};
use std::path::{Path, PathBuf};

/// The control socket's place in the data directory.
pub fn socket_path(data_dir: &Path) -> PathBuf {
    data_dir.join("control").join("tessera.sock")
}

/// Temporary backup files start with this (left over only by a crash; removed at start).
const TEMP_PREFIX: &str = ".backup-";

/// Writes a backup of `store` into a new temporary file in `data_dir` and records it as the
/// last backup. The file is already unlinked: reading the returned handle is the only way to
/// it, and its space is freed when the handle closes, whatever happens to the reader.
pub fn backup_to_temp(
    store: &Store,
    data_dir: &Path,
    via: BackupVia,
) -> Result<(std::fs::File, BackupSummary), BackupError> {
    let temp = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .tempfile_in(data_dir)?;
    let summary = store.backup(&mut temp.as_file(), now_ms())?;
    temp.as_file().sync_all()?;
    let file = temp.reopen()?;
    drop(temp);
    store.record_backup(&LastBackupRecord {
        at_ms: now_ms(),
        bytes: summary.bytes,
        via,
    })?;
    Ok((file, summary))
}

/// Removes temporary backup files a crash left behind.
fn remove_leftovers(data_dir: &Path) {
    let Ok(entries) = std::fs::read_dir(data_dir) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The control socket, server side.

/// How long a client of the control socket has to say what it wants.
const REQUEST_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Listens on the control socket (see the module docs) until the process ends. A socket that
/// cannot be made is logged: the server runs on, and `tessera backup` says it got no answer.
pub fn spawn_control(store: StoreCell, data_dir: PathBuf) {
    remove_leftovers(&data_dir);
    let path = socket_path(&data_dir);
    let listener = match bind_control(&path) {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!(socket = %path.display(), error = %e,
                "no control socket: `tessera backup` cannot reach this server");
            return;
        }
    };
    tokio::spawn(async move {
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    tokio::spawn(answer(stream, store.clone(), data_dir.clone()));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "control socket accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                }
            }
        }
    });
}

fn bind_control(path: &Path) -> std::io::Result<tokio::net::UnixListener> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    // This process holds the data directory's lock: a socket file here is a dead server's.
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    tokio::net::UnixListener::bind(path)
}

/// One request: the line `backup`, answered with `ok <bytes>` and the file, or `error <why>`.
async fn answer(stream: tokio::net::UnixStream, cell: StoreCell, data_dir: PathBuf) {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
    let (read, mut write) = stream.into_split();
    let mut line = String::new();
    let mut read = tokio::io::BufReader::new(read.take(64));
    let asked = tokio::time::timeout(REQUEST_WAIT, read.read_line(&mut line)).await;
    if !matches!(asked, Ok(Ok(_))) || line.trim_end() != "backup" {
        let _ = write.write_all(b"error unknown request\n").await;
        return;
    }
    let store = match cell.store() {
        Ok(store) => store,
        Err(e) => {
            let _ = write
                .write_all(format!("error {}\n", one_line(&e.to_string())).as_bytes())
                .await;
            return;
        }
    };
    let made =
        tokio::task::spawn_blocking(move || backup_to_temp(&store, &data_dir, BackupVia::Command))
            .await;
    let (file, summary) = match made {
        Ok(Ok(done)) => done,
        Ok(Err(e)) => {
            tracing::error!(error = %e, "a backup for `tessera backup` failed");
            let _ = write
                .write_all(format!("error {}\n", one_line(&e.to_string())).as_bytes())
                .await;
            return;
        }
        Err(_) => {
            let _ = write.write_all(b"error the backup stopped\n").await;
            return;
        }
    };
    tracing::info!(bytes = summary.bytes, "backup handed to `tessera backup`");
    let mut file = tokio::fs::File::from_std(file);
    let header = format!(
        "ok {} {} {} {}\n",
        summary.bytes, summary.schema, summary.trees, summary.entries
    );
    if write.write_all(header.as_bytes()).await.is_ok() {
        let _ = tokio::io::copy(&mut file, &mut write).await;
        let _ = write.shutdown().await;
    }
}

fn one_line(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

// ---------------------------------------------------------------------------------------------
// The commands.

/// What `tessera backup` or `tessera restore` could not do, each with its exit code.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error("{0}")]
    Open(#[from] super::store::OpenError),
    #[error("{0}")]
    Backup(#[from] BackupError),
    #[error("the running server answered: {0}")]
    Server(String),
    #[error("cannot write {path}: {reason}")]
    Output { path: String, reason: String },
    #[error("cannot read {path}: {reason}")]
    Input { path: String, reason: String },
    #[error(
        "the data directory {0} is held by a running Tessera that did not answer on its control \
         socket (an older version, or a socket path over 107 bytes); stop it and run again"
    )]
    NoAnswer(String),
}

impl CommandError {
    /// The exit code: as `serve` for a directory that cannot be opened (4-7); 9 a read error;
    /// 10 the output cannot be written or the restore target is not empty; 11 not a backup
    /// or a damaged one.
    pub fn exit_code(&self) -> u8 {
        use super::store::OpenError;
        match self {
            CommandError::Open(OpenError::Locked(_)) | CommandError::NoAnswer(_) => 4,
            CommandError::Open(OpenError::Unreadable { .. } | OpenError::Unreachable { .. }) => 5,
            CommandError::Open(OpenError::NewerSchema { .. }) => 6,
            CommandError::Open(OpenError::Migration(_)) => 7,
            CommandError::Backup(BackupError::NotAStore(_)) => 5,
            CommandError::Backup(BackupError::NewerSchema { .. }) => 6,
            CommandError::Backup(BackupError::Open(_)) => 7,
            CommandError::Output { .. }
            | CommandError::Backup(
                BackupError::TargetNotEmpty(_) | BackupError::DatabaseNotEmpty(_),
            ) => 10,
            CommandError::Backup(
                BackupError::NotABackup | BackupError::Damaged(_) | BackupError::NewerFormat { .. },
            ) => 11,
            _ => 9,
        }
    }
}

/// Where a backup was taken from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The running server made it.
    Server,
    /// The directory was not in use: this process read it.
    Directory,
    /// This process read the database, in one snapshot, while its servers ran on.
    Database,
}

/// `tessera backup`: writes a backup of the store at `place` to `out` (`-`: standard
/// output): for a data directory through the running server when there is one, for a
/// database by reading it directly (its backend takes one consistent snapshot). The file
/// appears whole or not at all (it is written beside `out` and renamed).
pub fn backup_command(
    place: &StorePlace,
    out: &Path,
) -> Result<(BackupSummary, Source), CommandError> {
    let data_dir = match place {
        StorePlace::Directory { dir, .. } => dir,
        StorePlace::Database { .. } => {
            let store = Store::open_at(place)?;
            let sink = Output::create(out)?;
            let summary = sink.write_with(|w| Ok(store.backup(w, now_ms())?))?;
            store
                .record_backup(&LastBackupRecord {
                    at_ms: now_ms(),
                    bytes: summary.bytes,
                    via: BackupVia::Command,
                })
                .map_err(BackupError::from)?;
            return Ok((summary, Source::Database));
        }
    };
    if !data_dir.join("db").is_file() {
        return Err(BackupError::NotAStore(data_dir.display().to_string()).into());
    }
    let sink = Output::create(out)?;
    match std::os::unix::net::UnixStream::connect(socket_path(data_dir)) {
        Ok(stream) => {
            let summary = from_server(stream, sink)?;
            Ok((summary, Source::Server))
        }
        Err(_) => {
            let dir = super::store::IdleDirectory::open(data_dir)?
                .ok_or_else(|| CommandError::NoAnswer(data_dir.display().to_string()))?;
            let summary = sink.write_with(|w| Ok(dir.backup(w, now_ms())?))?;
            dir.record_backup(&LastBackupRecord {
                at_ms: now_ms(),
                bytes: summary.bytes,
                via: BackupVia::Command,
            })?;
            Ok((summary, Source::Directory))
        }
    }
}

fn from_server(
    stream: std::os::unix::net::UnixStream,
    sink: Output,
) -> Result<BackupSummary, CommandError> {
    let server_err = |e: std::io::Error| CommandError::Server(e.to_string());
    (&stream).write_all(b"backup\n").map_err(server_err)?;
    let mut reader = std::io::BufReader::with_capacity(1 << 16, &stream);
    let mut line = String::new();
    reader
        .by_ref()
        .take(4096)
        .read_line(&mut line)
        .map_err(server_err)?;
    let line = line.trim_end();
    let Some(figures) = line.strip_prefix("ok ") else {
        return Err(CommandError::Server(
            line.strip_prefix("error ").unwrap_or(line).to_string(),
        ));
    };
    let n: Vec<u64> = figures
        .split(' ')
        .map(str::parse)
        .collect::<Result<_, _>>()
        .map_err(|_| CommandError::Server(format!("an unexpected answer: {line}")))?;
    let [bytes, schema, trees, entries] = n[..] else {
        return Err(CommandError::Server(format!(
            "an unexpected answer: {line}"
        )));
    };
    sink.write_with(|w| {
        let copied = std::io::copy(&mut reader, w).map_err(server_err)?;
        if copied != bytes {
            return Err(CommandError::Server(format!(
                "the backup ended after {copied} of {bytes} bytes"
            )));
        }
        Ok(BackupSummary {
            schema: u32::try_from(schema).unwrap_or(u32::MAX),
            trees,
            entries,
            bytes,
        })
    })
}

/// Where a backup goes: standard output, or a temporary file beside the target, renamed over
/// it once complete.
struct Output {
    path: PathBuf,
    temp: Option<tempfile::NamedTempFile>,
}

impl Output {
    fn create(out: &Path) -> Result<Output, CommandError> {
        if out.as_os_str() == "-" {
            return Ok(Output {
                path: out.into(),
                temp: None,
            });
        }
        let fail = |e: std::io::Error| CommandError::Output {
            path: out.display().to_string(),
            reason: e.to_string(),
        };
        if out.is_dir() {
            return Err(fail(std::io::Error::other("it is a directory")));
        }
        let dir = match out.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let temp = tempfile::Builder::new()
            .prefix(".tessera-backup-")
            .tempfile_in(dir)
            .map_err(fail)?;
        Ok(Output {
            path: out.into(),
            temp: Some(temp),
        })
    }

    /// Runs `write` on the output, then makes it durable and puts it in place.
    fn write_with<T>(
        self,
        write: impl FnOnce(&mut dyn Write) -> Result<T, CommandError>,
    ) -> Result<T, CommandError> {
        let fail = |e: std::io::Error| CommandError::Output {
            path: self.path.display().to_string(),
            reason: e.to_string(),
        };
        match self.temp {
            None => {
                let stdout = std::io::stdout();
                let mut lock = stdout.lock();
                let t = write(&mut lock)?;
                lock.flush().map_err(fail)?;
                Ok(t)
            }
            Some(mut temp) => {
                let t = write(temp.as_file_mut())?;
                temp.as_file().sync_all().map_err(fail)?;
                temp.persist(&self.path).map_err(|e| fail(e.error))?;
                Ok(t)
            }
        }
    }
}

/// `tessera restore`: restores the backup in `input` (`-`: standard input) into the store at
/// `place`: a data directory that must be missing or empty, or a database that must hold no
/// school yet.
pub fn restore_command(input: &Path, place: &StorePlace) -> Result<RestoreSummary, CommandError> {
    let fail = |e: std::io::Error| CommandError::Input {
        path: input.display().to_string(),
        reason: e.to_string(),
    };
    let reader: Box<dyn Read> = if input.as_os_str() == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::fs::File::open(input).map_err(fail)?)
    };
    Ok(super::store::restore_at(reader, place)?.1)
}
