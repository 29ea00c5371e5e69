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
//! Keys and values are sled's bytes as they are (records in their versioned envelopes), so a
//! restore followed by the start-up migrations reads a backup made by any earlier version. Login
//! sessions are left out: a backup file never carries a live session, and a restored server
//! asks everyone to sign in again. So is the signing secret (`secrets`, see `settings.rs`).

use super::codec::{self, Record};
use super::{Store, StoreError, SCHEMA_KEY, SCHEMA_VERSION};
use serde::{Deserialize, Serialize};
use std::cell::Cell;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::Path;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

/// The file format this build writes and the newest it reads.
pub const BACKUP_FORMAT: u32 = 1;
const MAGIC: &str = "tessera-backup";
/// Trees a backup leaves out (see the module docs).
const LEFT_OUT: &[&[u8]] = &[b"sessions", super::settings::SECRETS.as_bytes()];
/// Bounds a damaged file cannot make the reader exceed.
const MAX_NAME: u32 = 1024;
const MAX_KEY: u32 = 1 << 20;
const MAX_VALUE: u32 = 256 << 20;
/// sled's id counter never gets this far in a real store; a larger mark is damage.
const MAX_ID_MARK: u64 = 1 << 40;
/// Entries per batch when restoring.
const RESTORE_BATCH: usize = 10_000;

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
    #[error("the restored store could not be opened: {0}")]
    Open(super::OpenError),
}

impl From<sled::Error> for BackupError {
    fn from(e: sled::Error) -> Self {
        BackupError::Backend(e.into())
    }
}

// ---------------------------------------------------------------------------------------------
// The last backup, shown on the Backup page.

/// Who asked for a backup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BackupVia {
    /// An administrator downloaded it from the Backup page.
    Download { by: u64 },
    /// `tessera backup` (through the running server, or on a stopped one's directory).
    Command,
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

const LAST_BACKUP: &[u8] = b"backup/last";

/// A data directory no server has open, read by `tessera backup` itself.
pub struct IdleDirectory(sled::Db);

impl IdleDirectory {
    /// Opens `dir` as it is (no migration: a backup copies). `Ok(None)`: another process has
    /// it open (a server whose control socket did not answer).
    pub fn open(dir: &Path) -> Result<Option<IdleDirectory>, BackupError> {
        match sled::Config::new()
            .path(dir)
            .cache_capacity(16 << 20)
            .open()
        {
            Ok(db) => Ok(Some(IdleDirectory(db))),
            Err(sled::Error::Io(io)) if io.to_string().contains("could not acquire lock") => {
                Ok(None)
            }
            Err(other) => Err(other.into()),
        }
    }

    /// Writes a backup of the directory to `out` (nothing else writes to it meanwhile).
    pub fn backup(&self, out: impl Write, now_ms: u64) -> Result<BackupSummary, BackupError> {
        write_backup(&self.0, out, now_ms)
    }

    /// Records `rec` as the directory's last backup, on disk when this returns.
    pub fn record_backup(&self, rec: &LastBackupRecord) -> Result<(), BackupError> {
        self.0
            .open_tree("meta")?
            .insert(LAST_BACKUP, codec::encode(rec)?)?;
        self.0.flush()?;
        Ok(())
    }
}

impl Store {
    /// Records `rec` as the newest backup.
    pub fn record_backup(&self, rec: &LastBackupRecord) -> Result<(), StoreError> {
        let _w = self.writing();
        self.meta.insert(LAST_BACKUP, codec::encode(rec)?)?;
        Ok(())
    }

    /// The newest backup made, if any.
    pub fn last_backup(&self) -> Result<Option<LastBackupRecord>, StoreError> {
        self.meta
            .get(LAST_BACKUP)?
            .map(|v| codec::decode(LAST_BACKUP, &v))
            .transpose()
    }
}

// ---------------------------------------------------------------------------------------------
// The write gate.

/// Shared by every writing operation, held alone by a backup (see the module docs).
#[derive(Default)]
pub(crate) struct WriteGate(RwLock<()>);

thread_local! {
    /// How many `Writing` guards this thread holds: an operation that calls another takes the
    /// gate once (a second shared lock could wait behind a queued backup and deadlock).
    static HELD: Cell<u32> = const { Cell::new(0) };
}

/// A writing operation's share of the gate, released on drop.
pub(crate) struct Writing<'a>(#[allow(dead_code)] Option<RwLockReadGuard<'a, ()>>);

impl Drop for Writing<'_> {
    fn drop(&mut self) {
        HELD.with(|h| h.set(h.get() - 1));
    }
}

impl WriteGate {
    fn shared(&self) -> Writing<'_> {
        let outer = HELD.with(|h| {
            let n = h.get();
            h.set(n + 1);
            n == 0
        });
        Writing(outer.then(|| self.0.read().unwrap_or_else(|e| e.into_inner())))
    }

    fn alone(&self) -> RwLockWriteGuard<'_, ()> {
        self.0.write().unwrap_or_else(|e| e.into_inner())
    }
}

impl Store {
    /// Held by every operation that writes, for its whole length (see the module docs).
    pub(crate) fn writing(&self) -> Writing<'_> {
        self.gate.shared()
    }

    /// Writes a backup of the whole store to `out`: a consistent snapshot (writers wait while
    /// it is read; readers do not). Returns what it wrote.
    pub fn backup(&self, out: impl Write, now_ms: u64) -> Result<BackupSummary, BackupError> {
        let _alone = self.gate.alone();
        write_backup(&self.db, out, now_ms)
    }
}

// ---------------------------------------------------------------------------------------------
// Writing.

/// Counts the bytes written through it.
struct Counting<W> {
    inner: W,
    bytes: u64,
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

/// Reads the schema version a database records.
fn schema_of(db: &sled::Db) -> Result<Option<u32>, BackupError> {
    let meta = db.open_tree("meta")?;
    match meta.get(SCHEMA_KEY)? {
        None => Ok(None),
        Some(v) => <[u8; 4]>::try_from(v.as_ref())
            .map(|b| Some(u32::from_be_bytes(b)))
            .map_err(|_| {
                StoreError::Corrupt {
                    tree: "meta",
                    key: "schema_version".into(),
                    reason: "not 4 bytes".into(),
                }
                .into()
            }),
    }
}

/// Writes a backup of `db` to `out` without taking any gate: the caller makes sure nothing
/// writes meanwhile (a store's gate, or a database this process alone has open).
pub fn write_backup(
    db: &sled::Db,
    out: impl Write,
    now_ms: u64,
) -> Result<BackupSummary, BackupError> {
    let schema = schema_of(db)?.ok_or_else(|| BackupError::NotAStore("the database".into()))?;
    let header = BackupHeader {
        schema,
        created_ms: now_ms,
        id_mark: db.generate_id()? + 1,
        tessera: env!("CARGO_PKG_VERSION").to_string(),
    };
    let mut file = Counting {
        inner: BufWriter::with_capacity(1 << 16, out),
        bytes: 0,
    };
    writeln!(file, "{MAGIC} {BACKUP_FORMAT}")?;
    let mut z = BufWriter::with_capacity(
        1 << 16,
        flate2::write::GzEncoder::new(&mut file, flate2::Compression::new(6)),
    );
    serde_json::to_writer(&mut z, &header)
        .map_err(|e| BackupError::Io(std::io::Error::other(e)))?;
    z.write_all(b"\n")?;
    let mut names = db.tree_names();
    names.sort();
    let (mut trees, mut entries) = (0u64, 0u64);
    for name in names {
        if LEFT_OUT.contains(&name.as_ref()) {
            continue;
        }
        let tree = db.open_tree(&name)?;
        z.write_all(b"T")?;
        put_bytes(&mut z, &name)?;
        let mut n = 0u64;
        for kv in tree.iter() {
            let (k, v) = kv?;
            z.write_all(b"E")?;
            put_bytes(&mut z, &k)?;
            put_bytes(&mut z, &v)?;
            n += 1;
        }
        z.write_all(b"t")?;
        z.write_all(&n.to_le_bytes())?;
        trees += 1;
        entries += n;
    }
    z.write_all(b"Z")?;
    z.write_all(&trees.to_le_bytes())?;
    z.write_all(&entries.to_le_bytes())?;
    z.into_inner()
        .map_err(|e| BackupError::Io(e.into_error()))?
        .finish()?;
    file.flush()?;
    Ok(BackupSummary {
        schema,
        trees,
        entries,
        bytes: file.bytes,
    })
}

fn put_bytes(z: &mut impl Write, bytes: &[u8]) -> std::io::Result<()> {
    let len = u32::try_from(bytes.len())
        .map_err(|_| std::io::Error::other("a key or value over 4 GiB"))?;
    z.write_all(&len.to_le_bytes())?;
    z.write_all(bytes)
}

// ---------------------------------------------------------------------------------------------
// Reading.

/// Reads a backup's first line and header without restoring anything.
pub fn read_header(input: impl Read) -> Result<BackupHeader, BackupError> {
    let mut r = Reader::open(input)?;
    r.header()
}

/// The decompressing reader, past the magic line.
struct Reader<R: Read> {
    z: BufReader<flate2::bufread::GzDecoder<BufReader<R>>>,
}

impl<R: Read> Reader<R> {
    fn open(input: R) -> Result<Self, BackupError> {
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

    fn header(&mut self) -> Result<BackupHeader, BackupError> {
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

    fn tag(&mut self) -> Result<u8, BackupError> {
        let mut b = [0u8; 1];
        self.z.read_exact(&mut b).map_err(damaged)?;
        Ok(b[0])
    }

    fn u64(&mut self) -> Result<u64, BackupError> {
        let mut b = [0u8; 8];
        self.z.read_exact(&mut b).map_err(damaged)?;
        Ok(u64::from_le_bytes(b))
    }

    fn bytes(&mut self, max: u32, what: &str) -> Result<Vec<u8>, BackupError> {
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
    fn end(&mut self) -> Result<(), BackupError> {
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
fn damaged(e: std::io::Error) -> BackupError {
    match e.kind() {
        std::io::ErrorKind::UnexpectedEof => BackupError::Damaged("it is cut short".into()),
        std::io::ErrorKind::InvalidInput | std::io::ErrorKind::InvalidData => {
            BackupError::Damaged(e.to_string())
        }
        _ => BackupError::Io(e),
    }
}

/// Restores the backup read from `input` into `dir`, which must be missing or empty; then runs
/// the start-up migrations and `check` on the result. On any failure, what it wrote in `dir` is
/// removed again (a directory it made is removed too), so nothing half-restored is left.
pub fn restore(input: impl Read, dir: &Path) -> Result<(Store, RestoreSummary), BackupError> {
    let existed = match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(BackupError::TargetNotEmpty(dir.display().to_string()));
            }
            true
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) => return Err(BackupError::Io(e)),
    };
    // The file is read (its first line) before anything is created.
    let reader = Reader::open(input)?;
    match restore_into(reader, dir) {
        Ok(done) => Ok(done),
        Err(e) => {
            undo(dir, existed);
            Err(e)
        }
    }
}

fn undo(dir: &Path, existed: bool) {
    if !existed {
        let _ = std::fs::remove_dir_all(dir);
        return;
    }
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let p = entry.path();
            let _ = if p.is_dir() {
                std::fs::remove_dir_all(&p)
            } else {
                std::fs::remove_file(&p)
            };
        }
    }
}

fn restore_into<R: Read>(
    mut r: Reader<R>,
    dir: &Path,
) -> Result<(Store, RestoreSummary), BackupError> {
    let header = r.header()?;
    crate::server::data_dir::create_private(dir)?;
    let db = sled::Config::new().path(dir).open()?;
    let (mut trees, mut entries) = (0u64, 0u64);
    loop {
        match r.tag()? {
            b'T' => {
                let name = r.bytes(MAX_NAME, "tree name")?;
                if LEFT_OUT.contains(&name.as_slice()) {
                    return Err(BackupError::Damaged(
                        "it holds a tree backups leave out".into(),
                    ));
                }
                let tree = db.open_tree(&name)?;
                if !tree.is_empty() {
                    return Err(BackupError::Damaged(format!(
                        "tree {} appears twice",
                        super::codec::show_key(&name)
                    )));
                }
                let n = restore_tree(&mut r, &tree)?;
                trees += 1;
                entries += n;
            }
            b'Z' => {
                let (t, e) = (r.u64()?, r.u64()?);
                if (t, e) != (trees, entries) {
                    return Err(BackupError::Damaged(format!(
                        "it says {t} trees and {e} entries but holds {trees} and {entries}"
                    )));
                }
                r.end()?;
                break;
            }
            other => {
                return Err(BackupError::Damaged(format!(
                    "unexpected byte {other:#04x} where a tree should start"
                )))
            }
        }
    }
    if schema_of(&db)? != Some(header.schema) {
        return Err(BackupError::Damaged(
            "its schema version disagrees with its header".into(),
        ));
    }
    // Ids continue past every id the backed-up store handed out.
    while db.generate_id()? < header.id_mark {}
    db.flush()?;
    let store = Store::from_db(db, None)?;
    store.migrate().map_err(BackupError::Open)?;
    store.flush()?;
    let report = store.check()?;
    let summary = RestoreSummary {
        schema: store.schema_version()?.unwrap_or(0),
        backup: header,
        trees,
        entries,
        violations: report.violations.iter().map(|v| v.to_string()).collect(),
    };
    Ok((store, summary))
}

/// One tree's entries, in batches, up to its `t` count.
fn restore_tree<R: Read>(r: &mut Reader<R>, tree: &sled::Tree) -> Result<u64, BackupError> {
    let mut batch = sled::Batch::default();
    let (mut in_batch, mut n) = (0usize, 0u64);
    loop {
        match r.tag()? {
            b'E' => {
                let k = r.bytes(MAX_KEY, "key")?;
                let v = r.bytes(MAX_VALUE, "value")?;
                batch.insert(k, v);
                in_batch += 1;
                n += 1;
                if in_batch == RESTORE_BATCH {
                    tree.apply_batch(std::mem::take(&mut batch))?;
                    in_batch = 0;
                }
            }
            b't' => {
                tree.apply_batch(batch)?;
                let said = r.u64()?;
                if said != n || tree.len() as u64 != n {
                    return Err(BackupError::Damaged(format!(
                        "a tree says {said} entries but holds {n} distinct ones"
                    )));
                }
                return Ok(n);
            }
            other => {
                return Err(BackupError::Damaged(format!(
                    "unexpected byte {other:#04x} inside a tree"
                )))
            }
        }
    }
}

#[cfg(test)]
mod tests;
