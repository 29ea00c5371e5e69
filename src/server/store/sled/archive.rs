//! The portable backup format's records (`crate::server::store::archive`) read from and
//! written into a temporary embedded store.
//!
//! The portable format is this backend's dump (`backup.rs`): its trees, key and value bytes as
//! they are, behind a header. There is one format for both backends, so a school moves between
//! them with a backup and a restore, and the embedded restore (its checks and the start-up
//! migrations) is the one reader of files of every age: a backup written by any earlier version
//! restores on PostgreSQL as it does here. So another backend's backup and restore go through a
//! [`Scratch`] store, in a directory of its own removed when it is dropped:
//! - **reading** ([`Scratch::restore`]): the file restored into it, then its record trees read
//!   and their keys decoded;
//! - **writing** ([`Scratch::empty`]): the records put into its record trees and `meta`, then
//!   the derived trees and counters rebuilt from them (`rebuild.rs`) and the file written by
//!   the embedded writer, with the other backend's id mark.
//!
//! What this guarantees, as any implementation of the archive traits must: the file a writer
//! makes is the one this backend would have written for the same records (same trees, same
//! bytes, a `check` with nothing to report), and a reader gives back every record the file
//! holds, once, each decoded with its key (a damaged one is a `Corrupt` error naming it).

use super::super::archive::{
    ArchiveRead, ArchiveWrite, ArchivedMessage, Items, MassJobs, MessageCounts, OutboxEntry, Pair,
};
use super::backup::{
    write_backup_marked, BackupError, BackupSummary, LastBackupRecord, RestoreSummary, LAST_BACKUP,
};
use super::codec::{id_key, read_id, show_key, Record};
use super::enrolments::pair_key;
use super::mass::{last_key, running_key};
use super::messages::message_counter;
use super::tables::{KeyLayout, Table};
use super::{counter_key, read_counter, SledStore, StoreError, DEFAULT_CACHE_MB};
use crate::server::store::branches::BranchRecord;
use crate::server::store::courses::CourseRecord;
use crate::server::store::curricula::CurriculumRecord;
use crate::server::store::enrolments::{EnrolmentRecord, ProgressRecord};
use crate::server::store::groups::keys::RedemptionRecord;
use crate::server::store::groups::{
    AuditRecord, BulkResultRecord, GroupLinksRecord, GroupRecord, MemberRecord,
};
use crate::server::store::imports::{ImportRecord, ImportRowRecord, TokenRecord};
use crate::server::store::jobs::JobRecord;
use crate::server::store::messages::{
    outbox_key, BodyRecord, InboxRecord, MessageRecord, OutboxRecord,
};
#[allow(unused_imports)]
use crate::server::store::prelude::*;
use crate::server::store::users::UserRecord;
use std::io::{Read, Write};

/// A temporary embedded store (and the directory it lives in, removed on drop).
pub(crate) struct Scratch {
    store: SledStore,
    _dir: tempfile::TempDir,
}

impl Scratch {
    /// A new, empty one, to be filled and written as a backup.
    pub(crate) fn empty() -> Result<Scratch, BackupError> {
        let dir = tempfile::Builder::new()
            .prefix("tessera-backup-")
            .tempdir()?;
        // The embedded store's own settings (its page cache bounded), not the library's defaults.
        let db = super::sled_config(&dir.path().join("store"), DEFAULT_CACHE_MB).open()?;
        Ok(Scratch {
            store: SledStore::from_db(db, None)?,
            _dir: dir,
        })
    }

    /// The backup read from `input`, restored by the embedded restore (which checks it, runs
    /// the migrations of an older schema and `check`), with the restore's summary.
    pub(crate) fn restore(input: impl Read) -> Result<(Scratch, RestoreSummary), BackupError> {
        let dir = tempfile::Builder::new()
            .prefix("tessera-restore-")
            .tempdir()?;
        let (store, summary) = super::backup::restore(input, &dir.path().join("store"))?;
        Ok((Scratch { store, _dir: dir }, summary))
    }
}

/// The two ids of a record's 16-byte key.
fn pair_of(tree: &'static str, key: &[u8]) -> Result<Pair, StoreError> {
    if key.len() != 16 {
        return Err(StoreError::Corrupt {
            tree,
            key: show_key(key),
            reason: "not 16 bytes".into(),
        });
    }
    Ok((
        read_id(tree, key, &key[..8])?,
        read_id(tree, key, &key[8..])?,
    ))
}

/// An id stored as a `meta` value.
fn meta_id(s: &SledStore, key: &[u8]) -> Result<Option<u64>, StoreError> {
    s.meta
        .get(key)?
        .map(|v| read_id("meta", key, &v))
        .transpose()
}

/// A `meta` counter (zero when missing).
fn meta_count(s: &SledStore, name: &str) -> Result<u64, StoreError> {
    Ok(read_counter(s.meta.get(counter_key(name))?))
}

/// A message's own counters (`count/msg/<id>/...`), in [`MessageCounts`]' order.
const MESSAGE_COUNTERS: [&str; 4] = ["delivered", "queued", "sent", "failed"];

/// Every record of `table`, decoded, handed to `each` with its key.
fn rows<'a, K: KeyLayout, R: Record + 'a, T>(
    table: &'a Table<K, R>,
    each: impl Fn(sled::IVec, R) -> Result<T, StoreError> + 'a,
) -> Items<'a, T> {
    Box::new(table.iter().map(move |item| {
        let (key, rec) = table.decode_row(item)?;
        each(key, rec)
    }))
}

/// Every record of a table keyed by two ids, with them.
fn pairs<'a, K: KeyLayout, R: Record + 'a>(
    tree: &'static str,
    table: &'a Table<K, R>,
) -> Items<'a, (Pair, R)> {
    rows(table, move |key, rec| Ok((pair_of(tree, &key)?, rec)))
}

/// Every record of a table whose records carry their own id.
fn records<'a, K: KeyLayout, R: Record + 'a>(table: &'a Table<K, R>) -> Items<'a, R> {
    rows(table, |_, rec| Ok(rec))
}

impl ArchiveRead for Scratch {
    fn self_registration(&self) -> Result<Option<bool>, StoreError> {
        Ok(self.store.settings()?.self_registration)
    }

    fn last_backup(&self) -> Result<Option<LastBackupRecord>, StoreError> {
        LAST_BACKUP.get(&self.store.meta)
    }

    fn users(&self) -> Items<'_, (UserRecord, Option<String>)> {
        let s = &self.store;
        rows(&s.users, move |_, u| {
            let hash = match s.user_secrets.get(id_key(u.id))? {
                Some(hash) => {
                    Some(
                        String::from_utf8(hash.to_vec()).map_err(|_| StoreError::Corrupt {
                            tree: "user_secrets",
                            key: u.id.to_string(),
                            reason: "not UTF-8".into(),
                        })?,
                    )
                }
                None => None,
            };
            Ok((u, hash))
        })
    }

    fn branches(&self) -> Items<'_, BranchRecord> {
        records(&self.store.branches)
    }

    fn courses(&self) -> Items<'_, CourseRecord> {
        records(&self.store.courses)
    }

    fn curricula(&self) -> Items<'_, CurriculumRecord> {
        records(&self.store.curricula)
    }

    fn enrolments(&self) -> Items<'_, (Pair, EnrolmentRecord)> {
        pairs("enrolments", &self.store.enrolments)
    }

    fn progress(&self) -> Items<'_, (Pair, ProgressRecord)> {
        pairs("progress", &self.store.progress)
    }

    fn jobs(&self) -> Items<'_, JobRecord> {
        records(&self.store.jobs)
    }

    fn groups(&self) -> Items<'_, (GroupRecord, MassJobs)> {
        let s = &self.store;
        rows(&s.groups, move |_, g| {
            let mass = MassJobs {
                running: meta_id(s, &running_key(g.id))?,
                last: meta_id(s, &last_key(g.id))?,
            };
            Ok((g, mass))
        })
    }

    fn group_links(&self) -> Items<'_, (u64, GroupLinksRecord)> {
        rows(&self.store.group_links, |key, links| {
            Ok((read_id("group_links", &key, &key)?, links))
        })
    }

    fn members(&self) -> Items<'_, (Pair, MemberRecord)> {
        pairs("group_members", &self.store.group_members)
    }

    fn managers(&self) -> Items<'_, Pair> {
        Box::new(
            self.store
                .group_managers
                .iter()
                .keys()
                .map(|key| pair_of("group_managers", &key?)),
        )
    }

    fn bulk_results(&self) -> Items<'_, (Pair, BulkResultRecord)> {
        pairs("bulk_results", &self.store.bulk_results)
    }

    fn redemptions(&self) -> Items<'_, (Pair, RedemptionRecord)> {
        pairs("key_redemptions", &self.store.key_redemptions)
    }

    fn audit(&self) -> Items<'_, (Pair, AuditRecord)> {
        pairs("audit", &self.store.audit)
    }

    fn imports(&self) -> Items<'_, ImportRecord> {
        records(&self.store.imports)
    }

    fn import_rows(&self) -> Items<'_, (Pair, ImportRowRecord)> {
        pairs("import_rows", &self.store.import_rows)
    }

    fn password_tokens(&self) -> Items<'_, (Vec<u8>, TokenRecord)> {
        rows(&self.store.password_tokens, |key, tok| {
            Ok((key.to_vec(), tok))
        })
    }

    fn messages(&self) -> Items<'_, ArchivedMessage> {
        let s = &self.store;
        rows(&s.messages, move |key, m| {
            let id = read_id("messages", &key, &key)?;
            let [delivered, mail_queued, mail_sent, mail_failed] =
                MESSAGE_COUNTERS.map(|what| meta_count(s, &message_counter(id, what)));
            let counts = MessageCounts {
                delivered: delivered?,
                mail_queued: mail_queued?,
                mail_sent: mail_sent?,
                mail_failed: mail_failed?,
            };
            Ok((id, m, counts, s.message_bodies.row(id)?))
        })
    }

    fn inbox(&self) -> Items<'_, (Pair, InboxRecord)> {
        pairs("inbox", &self.store.inbox)
    }

    fn outbox(&self) -> Items<'_, (OutboxEntry, OutboxRecord)> {
        rows(&self.store.outbox, |key, o| {
            if key.len() != 24 {
                return Err(StoreError::Corrupt {
                    tree: "outbox",
                    key: show_key(&key),
                    reason: "not 24 bytes".into(),
                });
            }
            let due = read_id("outbox", &key, &key[..8])?;
            let (message, user) = pair_of("outbox", &key[8..])?;
            Ok((OutboxEntry { due, message, user }, o))
        })
    }
}

impl ArchiveWrite for Scratch {
    fn put_schema(&mut self, schema: u32) -> Result<(), StoreError> {
        self.store.set_schema_version(schema)
    }

    fn put_self_registration(&mut self, on: bool) -> Result<(), StoreError> {
        self.store.set_self_registration(on)
    }

    fn put_last_backup(&mut self, rec: &LastBackupRecord) -> Result<(), StoreError> {
        LAST_BACKUP.put(&self.store.meta, rec)
    }

    fn put_user(&mut self, rec: &UserRecord, hash: Option<&str>) -> Result<(), StoreError> {
        let s = &self.store;
        s.users.put(rec.id, rec)?;
        if let Some(hash) = hash {
            s.user_secrets.insert(id_key(rec.id), hash.as_bytes())?;
        }
        Ok(())
    }

    fn put_branch(&mut self, rec: &BranchRecord) -> Result<(), StoreError> {
        self.store.branches.put(rec.id, rec)
    }

    fn put_course(&mut self, rec: &CourseRecord) -> Result<(), StoreError> {
        self.store.courses.put(rec.id, rec)
    }

    fn put_curriculum(&mut self, rec: &CurriculumRecord) -> Result<(), StoreError> {
        self.store.curricula.put(rec.id, rec)
    }

    fn put_enrolment(&mut self, key: Pair, rec: &EnrolmentRecord) -> Result<(), StoreError> {
        self.store.enrolments.put(key, rec)
    }

    fn put_progress(&mut self, key: Pair, rec: &ProgressRecord) -> Result<(), StoreError> {
        self.store.progress.put(key, rec)
    }

    fn put_job(&mut self, rec: &JobRecord) -> Result<(), StoreError> {
        self.store.jobs.put(rec.id, rec)
    }

    fn put_group(&mut self, rec: &GroupRecord, mass: MassJobs) -> Result<(), StoreError> {
        let s = &self.store;
        s.groups.put(rec.id, rec)?;
        for (key, job) in [
            (running_key(rec.id), mass.running),
            (last_key(rec.id), mass.last),
        ] {
            if let Some(job) = job {
                s.meta.insert(key, &id_key(job))?;
            }
        }
        Ok(())
    }

    fn put_group_links(&mut self, group: u64, rec: &GroupLinksRecord) -> Result<(), StoreError> {
        self.store.group_links.put(group, rec)
    }

    fn put_member(&mut self, key: Pair, rec: &MemberRecord) -> Result<(), StoreError> {
        self.store.group_members.put(key, rec)
    }

    fn put_manager(&mut self, (group, user): Pair) -> Result<(), StoreError> {
        self.store
            .group_managers
            .insert(pair_key(group, user), &[])?;
        Ok(())
    }

    fn put_bulk_result(&mut self, key: Pair, rec: &BulkResultRecord) -> Result<(), StoreError> {
        self.store.bulk_results.put(key, rec)
    }

    fn put_redemption(&mut self, key: Pair, rec: &RedemptionRecord) -> Result<(), StoreError> {
        self.store.key_redemptions.put(key, rec)
    }

    fn put_audit(&mut self, key: Pair, rec: &AuditRecord) -> Result<(), StoreError> {
        self.store.audit.put(key, rec)
    }

    fn put_import(&mut self, rec: &ImportRecord) -> Result<(), StoreError> {
        self.store.imports.put(rec.id, rec)
    }

    fn put_import_row(&mut self, key: Pair, rec: &ImportRowRecord) -> Result<(), StoreError> {
        self.store.import_rows.put(key, rec)
    }

    fn put_password_token(&mut self, key: &[u8], rec: &TokenRecord) -> Result<(), StoreError> {
        self.store.password_tokens.put(key, rec)
    }

    fn put_message(
        &mut self,
        id: u64,
        rec: &MessageRecord,
        counts: MessageCounts,
        body: Option<&BodyRecord>,
    ) -> Result<(), StoreError> {
        let s = &self.store;
        s.messages.put(id, rec)?;
        if let Some(body) = body {
            s.message_bodies.put(id, body)?;
        }
        let MessageCounts {
            delivered,
            mail_queued,
            mail_sent,
            mail_failed,
        } = counts;
        let values = [delivered, mail_queued, mail_sent, mail_failed];
        // A counter at zero is not written: a missing one reads as zero (see `rebuild.rs`).
        for (what, count) in MESSAGE_COUNTERS.iter().zip(values) {
            if count > 0 {
                let name = message_counter(id, what);
                s.meta.insert(counter_key(&name), &count.to_be_bytes())?;
            }
        }
        Ok(())
    }

    fn put_inbox(&mut self, key: Pair, rec: &InboxRecord) -> Result<(), StoreError> {
        self.store.inbox.put(key, rec)
    }

    fn put_outbox(&mut self, key: OutboxEntry, rec: &OutboxRecord) -> Result<(), StoreError> {
        let key = outbox_key(key.due, key.message, key.user);
        self.store.outbox.put(&key[..], rec)
    }

    fn finish(
        self: Box<Self>,
        out: &mut dyn Write,
        now_ms: u64,
        id_mark: u64,
    ) -> Result<BackupSummary, BackupError> {
        self.store.rebuild_derived()?;
        write_backup_marked(&self.store.db, out, now_ms, id_mark)
    }
}
