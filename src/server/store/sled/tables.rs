//! Typed tables: a record tree that knows its record type and its key layout.
//!
//! Every tree of records is declared once, in [`of`], as a
//! [`Table<K, R>`]: `K` says how its keys are laid out ([`Id`], [`Pair`], or [`Bytes`] for keys
//! built elsewhere, such as a secret's hash), `R` which [`Record`] its values are. Reads and
//! writes through it take the key's parts and the record, and do the encoding and decoding
//! (with the versioned envelope of `codec.rs`) in one place: a caller never writes
//! `codec::decode(&key, &bytes)` by hand, and cannot decode one tree's bytes as another's record.
//!
//! Inside a transaction the same tree is a [`TxTable`] (the fields of a `tree_set!`), with the
//! same typed reads and writes returning the transaction's error type. Both dereference to sled's
//! own tree for what is not about one record: scans over index prefixes, counts, batches.
//! Index trees (a folded name → an id, a search term → nothing) stay plain sled trees: their
//! values are ids or empty, read with `codec::read_id`. A record kept under one fixed key of
//! such a tree (`meta`'s last backup) is a [`Slot`].

use super::tx::Tx;
use super::{abort, StoreError};
use crate::server::store::codec::{self, id_key, Record};
use sled::transaction::TransactionalTree;
use std::marker::PhantomData;

/// How a table lays out its keys.
pub(crate) trait KeyLayout {
    /// What a caller gives to name a row.
    type Parts<'k>: Copy;
    /// The key's bytes.
    type Bytes<'k>: AsRef<[u8]>;

    fn bytes<'k>(parts: Self::Parts<'k>) -> Self::Bytes<'k>;
}

/// One id, 8 bytes big-endian (so byte order is id order).
pub(crate) struct Id;

impl KeyLayout for Id {
    type Parts<'k> = u64;
    type Bytes<'k> = [u8; 8];

    fn bytes<'k>(id: Self::Parts<'k>) -> Self::Bytes<'k> {
        id_key(id)
    }
}

/// Two ids, 16 bytes (the first id's rows together, in the second id's order).
pub(crate) struct Pair;

impl KeyLayout for Pair {
    type Parts<'k> = (u64, u64);
    type Bytes<'k> = [u8; 16];

    fn bytes<'k>((a, b): Self::Parts<'k>) -> Self::Bytes<'k> {
        super::enrolments::pair_key(a, b)
    }
}

/// Keys built by the caller (a secret's hash, a composite of three parts).
pub(crate) struct Bytes;

impl KeyLayout for Bytes {
    type Parts<'k> = &'k [u8];
    type Bytes<'k> = &'k [u8];

    fn bytes<'k>(key: Self::Parts<'k>) -> Self::Bytes<'k> {
        key
    }
}

/// A tree of `R` records keyed as `K` says (see the module).
pub(crate) struct Table<K, R> {
    tree: sled::Tree,
    layout: PhantomData<fn() -> (K, R)>,
}

impl<K, R> Table<K, R> {
    /// The table over `tree`, which must be the tree `R` lives in.
    pub(crate) fn new(tree: sled::Tree) -> Self {
        Table {
            tree,
            layout: PhantomData,
        }
    }
}

impl<K, R> std::ops::Deref for Table<K, R> {
    type Target = sled::Tree;

    fn deref(&self) -> &sled::Tree {
        &self.tree
    }
}

impl<K: KeyLayout, R: Record> Table<K, R> {
    /// The record at `key`, if any.
    pub(crate) fn row(&self, key: K::Parts<'_>) -> Result<Option<R>, StoreError> {
        let key = K::bytes(key);
        match self.tree.get(key.as_ref())? {
            Some(bytes) => codec::decode(key.as_ref(), &bytes).map(Some),
            None => Ok(None),
        }
    }

    /// Writes `rec` at `key` (outside a transaction: migrations and single-record writes).
    pub(crate) fn put(&self, key: K::Parts<'_>, rec: &R) -> Result<(), StoreError> {
        self.tree
            .insert(K::bytes(key).as_ref(), codec::encode(rec)?)?;
        Ok(())
    }

    /// Decodes a row read from this table by a scan (`iter`, `range`, `scan_prefix`).
    pub(crate) fn decode_row(
        &self,
        row: sled::Result<(sled::IVec, sled::IVec)>,
    ) -> Result<(sled::IVec, R), StoreError> {
        let (k, v) = row?;
        let rec = self.decode(&k, &v)?;
        Ok((k, rec))
    }

    /// Decodes the value `bytes` stored at `key` in this table.
    pub(crate) fn decode(&self, key: &[u8], bytes: &[u8]) -> Result<R, StoreError> {
        codec::decode(key, bytes)
    }

    /// The bytes this table stores for `rec` (for sled's compare-and-swap and batches).
    pub(crate) fn encode(&self, rec: &R) -> Result<Vec<u8>, StoreError> {
        codec::encode(rec)
    }
}

/// A table inside a transaction (see the module).
pub(crate) struct TxTable<'a, K, R> {
    tree: &'a TransactionalTree,
    layout: PhantomData<fn() -> (K, R)>,
}

impl<'a, K, R> TxTable<'a, K, R> {
    /// The transaction's view of the table.
    pub(crate) fn new(tree: &'a TransactionalTree) -> Self {
        TxTable {
            tree,
            layout: PhantomData,
        }
    }
}

impl<'a, K, R> TxTable<'a, K, R> {
    /// sled's view of the tree, for a set of trees that passes it on untyped.
    pub(crate) fn raw(self) -> &'a TransactionalTree {
        self.tree
    }
}

impl<K, R> Clone for TxTable<'_, K, R> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<K, R> Copy for TxTable<'_, K, R> {}

impl<K, R> std::ops::Deref for TxTable<'_, K, R> {
    type Target = TransactionalTree;

    fn deref(&self) -> &TransactionalTree {
        self.tree
    }
}

impl<K: KeyLayout, R: Record> TxTable<'_, K, R> {
    /// The record at `key`, if any.
    pub(crate) fn row(&self, key: K::Parts<'_>) -> Tx<Option<R>> {
        let key = K::bytes(key);
        match self.tree.get(key.as_ref())? {
            Some(bytes) => codec::decode(key.as_ref(), &bytes).map(Some).or_else(abort),
            None => Ok(None),
        }
    }

    /// The record at `key`; `NotFound(what)` when there is none.
    pub(crate) fn must(&self, key: K::Parts<'_>, what: &'static str) -> Tx<R> {
        match self.row(key)? {
            Some(rec) => Ok(rec),
            None => abort(StoreError::NotFound(what)),
        }
    }

    /// Writes `rec` at `key`.
    pub(crate) fn put(&self, key: K::Parts<'_>, rec: &R) -> Tx<()> {
        let bytes = codec::encode(rec).or_else(abort)?;
        self.tree.insert(K::bytes(key).as_ref(), bytes)?;
        Ok(())
    }
}

/// One record kept under a fixed key of a tree that holds other things beside it (`meta`'s
/// last backup, among counters and settings), in the same envelope as a table's rows.
pub(crate) struct Slot<R> {
    key: &'static [u8],
    record: PhantomData<fn() -> R>,
}

impl<R: Record> Slot<R> {
    /// The record kept at `key`.
    pub(crate) const fn new(key: &'static [u8]) -> Self {
        Slot {
            key,
            record: PhantomData,
        }
    }

    /// The record in `tree`, if any.
    pub(crate) fn get(&self, tree: &sled::Tree) -> Result<Option<R>, StoreError> {
        tree.get(self.key)?
            .map(|bytes| codec::decode(self.key, &bytes))
            .transpose()
    }

    /// Writes `rec` into `tree`.
    pub(crate) fn put(&self, tree: &sled::Tree, rec: &R) -> Result<(), StoreError> {
        tree.insert(self.key, codec::encode(rec)?)?;
        Ok(())
    }
}

impl<K, R> From<sled::Tree> for Table<K, R> {
    fn from(tree: sled::Tree) -> Self {
        Table::new(tree)
    }
}

impl<'a, K, R> From<&'a TransactionalTree> for TxTable<'a, K, R> {
    fn from(tree: &'a TransactionalTree) -> Self {
        TxTable::new(tree)
    }
}

/// What a tree is inside a transaction: a [`TxTable`] for a table, sled's view for an index.
pub(crate) trait InTx<'a> {
    type View: From<&'a TransactionalTree>;
}

impl<'a, K: 'a, R: 'a> InTx<'a> for Table<K, R> {
    type View = TxTable<'a, K, R>;
}

impl<'a> InTx<'a> for sled::Tree {
    type View = &'a TransactionalTree;
}

/// A tree of [`of`] as a transaction sees it (`TxOf<'_, of::users>`).
pub(crate) type TxOf<'a, T> = <T as InTx<'a>>::View;

/// Every tree of the store and what it holds, named as [`SledStore`]'s fields (which have these
/// types) and the `tree_set!` fields (which have their [`InTx`] views). A record tree is a
/// [`Table`]; an index tree (keys → an id or nothing), `meta` and `secrets` are sled's trees.
#[allow(non_camel_case_types)]
pub(crate) mod of {
    use super::{Bytes, Id, Pair, Table};
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
    use crate::server::store::messages::{BodyRecord, InboxRecord, MessageRecord, OutboxRecord};
    use crate::server::store::sessions::SessionRecord;
    use crate::server::store::users::UserRecord;

    pub(crate) type users = Table<Id, UserRecord>;
    pub(crate) type sessions = Table<Bytes, SessionRecord>;
    pub(crate) type branches = Table<Id, BranchRecord>;
    pub(crate) type courses = Table<Id, CourseRecord>;
    pub(crate) type curricula = Table<Id, CurriculumRecord>;
    pub(crate) type enrolments = Table<Pair, EnrolmentRecord>;
    pub(crate) type progress = Table<Pair, ProgressRecord>;
    pub(crate) type groups = Table<Id, GroupRecord>;
    pub(crate) type group_links = Table<Id, GroupLinksRecord>;
    pub(crate) type group_members = Table<Pair, MemberRecord>;
    pub(crate) type audit = Table<Pair, AuditRecord>;
    pub(crate) type bulk_results = Table<Pair, BulkResultRecord>;
    pub(crate) type jobs = Table<Id, JobRecord>;
    pub(crate) type imports = Table<Id, ImportRecord>;
    pub(crate) type import_rows = Table<Pair, ImportRowRecord>;
    pub(crate) type password_tokens = Table<Bytes, TokenRecord>;
    pub(crate) type key_redemptions = Table<Pair, RedemptionRecord>;
    pub(crate) type messages = Table<Id, MessageRecord>;
    pub(crate) type message_bodies = Table<Id, BodyRecord>;
    pub(crate) type inbox = Table<Pair, InboxRecord>;
    pub(crate) type outbox = Table<Bytes, OutboxRecord>;
    pub(crate) type meta = sled::Tree;
    pub(crate) type user_secrets = sled::Tree;
    pub(crate) type login_user = sled::Tree;
    pub(crate) type email_user = sled::Tree;
    pub(crate) type search_user = sled::Tree;
    pub(crate) type branch_name = sled::Tree;
    pub(crate) type search_branch = sled::Tree;
    pub(crate) type branch_children = sled::Tree;
    pub(crate) type course_code = sled::Tree;
    pub(crate) type course_suffix = sled::Tree;
    pub(crate) type curriculum_name = sled::Tree;
    pub(crate) type search_curriculum = sled::Tree;
    pub(crate) type course_curricula = sled::Tree;
    pub(crate) type course_users = sled::Tree;
    pub(crate) type group_name = sled::Tree;
    pub(crate) type group_suffix = sled::Tree;
    pub(crate) type group_by_members = sled::Tree;
    pub(crate) type group_key = sled::Tree;
    pub(crate) type user_groups = sled::Tree;
    pub(crate) type course_groups = sled::Tree;
    pub(crate) type curriculum_groups = sled::Tree;
    pub(crate) type group_managers = sled::Tree;
    pub(crate) type manager_groups = sled::Tree;
    pub(crate) type audit_index = sled::Tree;
    pub(crate) type group_messages = sled::Tree;
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    fn sources(dir: &Path, into: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                sources(&path, into);
            } else if path.extension().is_some_and(|e| e == "rs") {
                into.push(path);
            }
        }
    }

    /// Every read and write of a record in the sled backend goes through its table: no file of
    /// the backend but this one calls the codec's `encode` or `decode` itself, where a record
    /// could be decoded as another tree's kind.
    #[test]
    fn no_file_of_the_backend_encodes_or_decodes_records_by_hand() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/server/store/sled");
        let mut files = Vec::new();
        sources(&dir, &mut files);
        assert!(files.len() > 20, "the backend's files were found");
        let mut by_hand = Vec::new();
        for file in files.iter().filter(|f| !f.ends_with("tables.rs")) {
            let text = std::fs::read_to_string(file).unwrap();
            for (n, line) in text.lines().enumerate() {
                if line.contains("codec::") && (line.contains("encode") || line.contains("decode"))
                {
                    by_hand.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
                }
            }
        }
        assert_eq!(by_hand, Vec::<String>::new());
    }
}
