//! The sled backend's Backups (the interface: `crate::server::store::backup`).

pub(crate) use crate::server::store::backup::*;

#[allow(unused_imports)]
use crate::server::store::prelude::*;

use super::tables::Slot;
use super::{SledStore, StoreError, SCHEMA_KEY};
use std::cell::Cell;
use std::io::{BufWriter, Read, Write};
use std::path::Path;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Trees a backup leaves out (see the module docs).
const LEFT_OUT: &[&[u8]] = &[b"sessions", super::settings::SECRETS.as_bytes()];

// ---------------------------------------------------------------------------------------------
// The last backup, shown on the Backup page.

/// In `meta`, beside the counters and settings.
pub(crate) const LAST_BACKUP: Slot<LastBackupRecord> = Slot::new(b"backup/last");

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
        LAST_BACKUP.put(&self.0.open_tree("meta")?, rec)?;
        self.0.flush()?;
        Ok(())
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

// ---------------------------------------------------------------------------------------------
// Writing.

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
    let id_mark = db.generate_id()? + 1;
    write_backup_marked(db, out, now_ms, id_mark)
}

/// [`write_backup`] with the id mark given: a store filled from another backend's rows (see
/// `postgres/backup.rs`) carries that backend's mark, not its own counter's.
pub(crate) fn write_backup_marked(
    db: &sled::Db,
    out: impl Write,
    now_ms: u64,
    id_mark: u64,
) -> Result<BackupSummary, BackupError> {
    let schema = schema_of(db)?.ok_or_else(|| BackupError::NotAStore("the database".into()))?;
    let header = BackupHeader {
        schema,
        created_ms: now_ms,
        id_mark,
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

// ---------------------------------------------------------------------------------------------
// Reading.

/// Restores the backup read from `input` into `dir`, which must be missing or empty; then runs
/// the start-up migrations and `check` on the result. On any failure, what it wrote in `dir` is
/// removed again (a directory it made is removed too), so nothing half-restored is left.
pub fn restore(input: impl Read, dir: &Path) -> Result<(SledStore, RestoreSummary), BackupError> {
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
) -> Result<(SledStore, RestoreSummary), BackupError> {
    let header = r.header()?;
    crate::server::data_dir::create_private(dir)?;
    // The store's own settings, its page cache bounded as a server's.
    let db = super::sled_config(dir, super::DEFAULT_CACHE_MB).open()?;
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
    let store = SledStore::from_db(db, None)?;
    store.migrate().map_err(BackupError::Open)?;
    store.flush()?;
    super::write_schema_hint(dir);
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

/// One tree's entries, up to its `t` count. Entry by entry, not in batches: sled holds a big
/// batch's pages in memory past its cache bound (a restore of 100,000 users in batches of
/// 10,000 peaked at 3.5 GiB; BENCHMARKS.md, "Backup and restore"), and a restore is not atomic
/// anyway (a failed one removes what it wrote).
fn restore_tree<R: Read>(r: &mut Reader<R>, tree: &sled::Tree) -> Result<u64, BackupError> {
    let mut n = 0u64;
    loop {
        match r.tag()? {
            b'E' => {
                let k = r.bytes(MAX_KEY, "key")?;
                let v = r.bytes(MAX_VALUE, "value")?;
                tree.insert(k, v)?;
                n += 1;
            }
            b't' => {
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

impl Backups for SledStore {
    fn record_backup(&self, rec: &LastBackupRecord) -> Result<(), StoreError> {
        let _w = self.writing();
        LAST_BACKUP.put(&self.meta, rec)?;
        Ok(())
    }

    fn last_backup(&self) -> Result<Option<LastBackupRecord>, StoreError> {
        LAST_BACKUP.get(&self.meta)
    }

    fn backup(&self, out: &mut dyn Write, now_ms: u64) -> Result<BackupSummary, BackupError> {
        let _alone = self.gate.alone();
        write_backup(&self.db, out, now_ms)
    }
}

impl SledStore {
    /// Held by every operation that writes, for its whole length (see the module docs).
    pub(crate) fn writing(&self) -> Writing<'_> {
        self.gate.shared()
    }
}

impl From<sled::Error> for BackupError {
    fn from(e: sled::Error) -> Self {
        BackupError::Backend(e.into())
    }
}

#[cfg(test)]
mod tests;
