//! Backups: the whole store as one portable, versioned, compressed file, taken while the server
//! runs, and restoring one into a new data directory.
//!
//! Consistency: every store operation that writes holds the store's write gate shared
//! ([`Store::writing`]); a backup holds it alone while it reads the trees, so it sees no half of
//! any operation (the trees of one transaction, a job's step and its cursor, a record and its
//! counters). Writers wait for the backup, readers do not.
//!
//! The file, byte for byte:
//! - a text line `tessera-backup <format>\n` (format [`BACKUP_FORMAT`]), so `head -1` tells;
//! - then one gzip stream (its CRC-32 guards everything in it) holding:
//!   - a JSON line: [`BackupHeader`] (schema version, when, the id mark, the Tessera version);
//!   - per tree: `T`, name length (u32 LE), name; per entry `E`, key length (u32 LE), key,
//!     value length (u32 LE), value; then `t` and the tree's entry count (u64 LE);
//!   - `Z`, the number of trees and of entries (u64 LE each).
//!
//! Keys and values are the embedded store's bytes as they are (records in their versioned
//! envelopes, `codec.rs`), the portable layout every backend writes and reads, so a
//! restore followed by the start-up migrations reads a backup made by any earlier version. Login
//! sessions are left out: a backup file never carries a live session, and a restored server
//! asks everyone to sign in again. So is the signing secret (`secrets`, see `settings.rs`).

use crate::server::store::StoreError;

use super::codec::Record;
use super::SCHEMA_VERSION;
use serde::{Deserialize, Serialize};
use std::io::{BufRead, BufReader, Read, Write};

/// The file format this build writes and the newest it reads.
pub const BACKUP_FORMAT: u32 = 1;

pub(crate) const MAGIC: &str = "tessera-backup";

/// The line after the magic one, inside the compressed stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupHeader {
    /// The store's schema version when the backup was taken.
    pub schema: u32,
    /// When the backup was taken (ms since the Unix epoch).
    pub created_ms: u64,
    /// Above every id the store had handed out: a restored store's ids continue past it.
    pub id_mark: u64,
    /// The Tessera version that wrote it.
    pub tessera: String,
}

/// What a backup or a restore moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackupSummary {
    pub schema: u32,
    pub trees: u64,
    pub entries: u64,
    /// Size of the file in bytes.
    pub bytes: u64,
}

/// What a restore did: the backup's figures, and the `tessera check` verdict on the result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreSummary {
    pub backup: BackupHeader,
    pub trees: u64,
    pub entries: u64,
    /// The schema after the start-up migrations ran.
    pub schema: u32,
    /// Invariant violations `check` found in the restored store (none expected).
    pub violations: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("storage error: {0}")]
    Backend(#[from] super::BackendError),
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("this is not a Tessera backup file (it does not start with \"{MAGIC}\")")]
    NotABackup,
    #[error(
        "the backup was written in format {found} by a newer Tessera (this build reads up to \
         {supported}); restore it with that version or newer"
    )]
    NewerFormat { found: u32, supported: u32 },
    #[error(
        "the backup holds schema {found}, newer than this build knows ({supported}); restore it \
         with the Tessera that made it or newer"
    )]
    NewerSchema { found: u32, supported: u32 },
    #[error("the backup file is damaged: {0}")]
    Damaged(String),
    #[error("{0} is not a Tessera data directory (no schema version in it)")]
    NotAStore(String),
    #[error("{0} is not empty: restore into a new or empty directory, so nothing is overwritten")]
    TargetNotEmpty(String),
    /// A restore into a database (PostgreSQL) that already holds a school: nothing is
    /// overwritten or merged.
    #[error(
        "the database {0} already holds data: restore into a new, empty database, so nothing is \
         overwritten"
    )]
    DatabaseNotEmpty(String),
    #[error("the restored store could not be opened: {0}")]
    Open(super::OpenError),
}

/// The newest backup made, kept in `meta` under `backup/last`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastBackupRecord {
    pub at_ms: u64,
    pub bytes: u64,
    pub via: BackupVia,
}

impl Record for LastBackupRecord {
    const TREE: &'static str = "meta";
    const VERSION: u8 = 1;
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

pub(crate) fn put_bytes(z: &mut impl Write, bytes: &[u8]) -> std::io::Result<()> {
    let len = u32::try_from(bytes.len())
        .map_err(|_| std::io::Error::other("a key or value over 4 GiB"))?;
    z.write_all(&len.to_le_bytes())?;
    z.write_all(bytes)
}

/// The decompressing reader, past the magic line.
pub(crate) struct Reader<R: Read> {
    pub(crate) z: BufReader<flate2::bufread::GzDecoder<BufReader<R>>>,
}

impl<R: Read> Reader<R> {
    pub(crate) fn open(input: R) -> Result<Self, BackupError> {
        let mut raw = BufReader::with_capacity(1 << 16, input);
        let mut line = Vec::new();
        raw.by_ref().take(64).read_until(b'\n', &mut line)?;
        let text = std::str::from_utf8(&line).map_err(|_| BackupError::NotABackup)?;
        let format = text
            .strip_suffix('\n')
            .and_then(|t| t.strip_prefix(MAGIC))
            .and_then(|t| t.strip_prefix(' '))
            .ok_or(BackupError::NotABackup)?;
        let format: u32 = format.parse().map_err(|_| BackupError::NotABackup)?;
        if format > BACKUP_FORMAT {
            return Err(BackupError::NewerFormat {
                found: format,
                supported: BACKUP_FORMAT,
            });
        }
        if format == 0 {
            return Err(BackupError::NotABackup);
        }
        Ok(Reader {
            z: BufReader::with_capacity(1 << 16, flate2::bufread::GzDecoder::new(raw)),
        })
    }

    pub(crate) fn header(&mut self) -> Result<BackupHeader, BackupError> {
        let mut line = Vec::new();
        self.z
            .by_ref()
            .take(4096)
            .read_until(b'\n', &mut line)
            .map_err(damaged)?;
        if line.last() != Some(&b'\n') {
            return Err(BackupError::Damaged("its header line is cut short".into()));
        }
        let header: BackupHeader = serde_json::from_slice(&line)
            .map_err(|e| BackupError::Damaged(format!("its header does not read: {e}")))?;
        if header.schema > SCHEMA_VERSION {
            return Err(BackupError::NewerSchema {
                found: header.schema,
                supported: SCHEMA_VERSION,
            });
        }
        if header.id_mark > MAX_ID_MARK {
            return Err(BackupError::Damaged(format!(
                "its id mark {} is out of range",
                header.id_mark
            )));
        }
        Ok(header)
    }

    pub(crate) fn tag(&mut self) -> Result<u8, BackupError> {
        let mut b = [0u8; 1];
        self.z.read_exact(&mut b).map_err(damaged)?;
        Ok(b[0])
    }

    pub(crate) fn u64(&mut self) -> Result<u64, BackupError> {
        let mut b = [0u8; 8];
        self.z.read_exact(&mut b).map_err(damaged)?;
        Ok(u64::from_le_bytes(b))
    }

    pub(crate) fn bytes(&mut self, max: u32, what: &str) -> Result<Vec<u8>, BackupError> {
        let mut b = [0u8; 4];
        self.z.read_exact(&mut b).map_err(damaged)?;
        let len = u32::from_le_bytes(b);
        if len > max {
            return Err(BackupError::Damaged(format!(
                "a {what} of {len} bytes (at most {max} are possible)"
            )));
        }
        let mut out = Vec::with_capacity((len as usize).min(1 << 16));
        self.z
            .by_ref()
            .take(u64::from(len))
            .read_to_end(&mut out)
            .map_err(damaged)?;
        if out.len() != len as usize {
            return Err(BackupError::Damaged("it ends inside a record".into()));
        }
        Ok(out)
    }

    /// After `Z`: nothing may follow, in the stream or after it; reading the stream to its
    /// end checks the gzip CRC.
    pub(crate) fn end(&mut self) -> Result<(), BackupError> {
        let mut rest = [0u8; 1];
        let inside = self.z.read(&mut rest).map_err(damaged)?;
        let after = self.z.get_mut().get_mut().read(&mut rest)?;
        match (inside, after) {
            (0, 0) => Ok(()),
            _ => Err(BackupError::Damaged("data follows its end".into())),
        }
    }
}

/// A read error inside the compressed stream: truncation and checksum failures are damage.
pub(crate) fn damaged(e: std::io::Error) -> BackupError {
    match e.kind() {
        std::io::ErrorKind::UnexpectedEof => BackupError::Damaged("it is cut short".into()),
        std::io::ErrorKind::InvalidInput | std::io::ErrorKind::InvalidData => {
            BackupError::Damaged(e.to_string())
        }
        _ => BackupError::Io(e),
    }
}

/// The store's operations on this area (see the contract in `store/mod.rs`).
pub trait Backups: Send + Sync {
    /// Records `rec` as the newest backup.
    fn record_backup(&self, rec: &LastBackupRecord) -> Result<(), StoreError>;

    /// The newest backup made, if any.
    fn last_backup(&self) -> Result<Option<LastBackupRecord>, StoreError>;

    /// Writes a backup of the whole store to `out`: a consistent snapshot (writers wait while
    /// it is read; readers do not). Returns what it wrote.
    fn backup(&self, out: &mut dyn Write, now_ms: u64) -> Result<BackupSummary, BackupError>;
}

/// Bounds a damaged file cannot make the reader exceed.
pub(crate) const MAX_NAME: u32 = 1024;

pub(crate) const MAX_KEY: u32 = 1 << 20;

pub(crate) const MAX_VALUE: u32 = 256 << 20;

/// The id counter never gets this far in a real store; a larger mark is damage.
pub(crate) const MAX_ID_MARK: u64 = 1 << 40;

/// Who asked for a backup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BackupVia {
    /// An administrator downloaded it from the Backup page.
    Download { by: u64 },
    /// `tessera backup` (through the running server, or on a stopped one's directory).
    Command,
}

/// Counts the bytes written through it.
pub(crate) struct Counting<W> {
    pub(crate) inner: W,
    pub(crate) bytes: u64,
}

/// Reads a backup's first line and header without restoring anything.
pub fn read_header(input: impl Read) -> Result<BackupHeader, BackupError> {
    let mut r = Reader::open(input)?;
    r.header()
}

#[cfg(test)]
pub(crate) mod tests;
