//! The PostgreSQL backend's Groups (the interface: `crate::server::store::groups`; the
//! behaviour to reproduce: `sled/groups/`). A group is a row of `groups` with its counts and
//! key inline; a deleted group is a tombstone (`deleted_at_ms`) until its sweep job deletes
//! the row, so every read here says `deleted_at_ms IS NULL`.
//!
//! Isolation: every operation that writes runs `SERIALIZABLE` and first locks the group's row
//! (`FOR UPDATE`), the row every change of a group's members, links, key or flags writes
//! anyway: concurrent changes of one group queue on it instead of failing at commit. The one
//! exception is redeeming a key (`keys.rs`).

pub(crate) use crate::server::store::groups::*;

use super::super::codec::fold;
use super::{PgError, PgStore};
use crate::model::group::{fold_key, BulkResult, GroupSort, JoinedHow};
use crate::server::store::courses::CourseRecord;
use crate::server::store::StoreError;
use crate::server::store::TOTAL_CAP;
use postgres::{GenericClient, IsolationLevel};

pub(crate) mod delete;
pub(crate) mod keys;
pub(crate) mod links;
pub(crate) mod list;
pub(crate) mod managers;
pub(crate) mod members;
pub(crate) mod save;
pub(crate) mod views;

/// The columns of `groups` that make a [`GroupRecord`], in [`group_of`]'s order.
pub(crate) const GROUP_COLUMNS: &str = "id, name, description, branch_id, key, key_max_uses, \
     key_valid_from_ms, key_valid_until_ms, key_enabled, key_uses, is_default, members, courses, \
     curricula, created_at_ms, managers_regenerate_key";

/// A row of [`GROUP_COLUMNS`] as its record.
pub(crate) fn group_of(row: &postgres::Row) -> GroupRecord {
    let u = |i: usize| row.get::<_, i64>(i) as u64;
    let opt = |i: usize| row.get::<_, Option<i64>>(i).map(|v| v as u64);
    GroupRecord {
        id: u(0),
        name: row.get(1),
        description: row.get(2),
        branch: opt(3),
        key: KeyRecord {
            key: row.get(4),
            max_uses: u(5) as u32,
            valid_from: opt(6),
            valid_until: opt(7),
            enabled: row.get(8),
        },
        key_uses: u(9) as u32,
        is_default: row.get(10),
        members: u(11),
        courses: u(12) as u32,
        curricula: u(13) as u32,
        created_at: u(14),
        managers_regenerate_key: row.get(15),
    }
}

/// A live group (`None`: none, or deleted), its row locked for the transaction with `lock`.
pub(crate) fn get(
    c: &mut impl GenericClient,
    id: u64,
    lock: bool,
) -> Result<Option<GroupRecord>, postgres::Error> {
    let sql = format!(
        "SELECT {GROUP_COLUMNS} FROM groups WHERE id = $1 AND deleted_at_ms IS NULL{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    Ok(c.query_opt(&sql, &[&(id as i64)])?.map(|r| group_of(&r)))
}

/// [`get`], `NotFound` when there is no such group.
pub(crate) fn must(
    c: &mut impl GenericClient,
    id: u64,
    lock: bool,
) -> Result<GroupRecord, PgError> {
    get(c, id, lock)?.ok_or(PgError::Store(StoreError::NotFound("group")))
}

/// Writes every field of `rec` to its (existing) row.
pub(crate) fn put(c: &mut impl GenericClient, rec: &GroupRecord) -> Result<(), postgres::Error> {
    let key_folded = rec.key.key.as_deref().map(fold_key);
    c.execute(
        "UPDATE groups SET name = $2, name_folded = $3, description = $4, branch_id = $5, \
         key = $6, key_folded = $7, key_max_uses = $8, key_valid_from_ms = $9, \
         key_valid_until_ms = $10, key_enabled = $11, key_uses = $12, is_default = $13, \
         members = $14, courses = $15, curricula = $16, managers_regenerate_key = $17 \
         WHERE id = $1",
        &[
            &(rec.id as i64),
            &rec.name,
            &fold(&rec.name),
            &rec.description,
            &rec.branch.map(|b| b as i64),
            &rec.key.key,
            &key_folded,
            &i64::from(rec.key.max_uses),
            &rec.key.valid_from.map(|v| v as i64),
            &rec.key.valid_until.map(|v| v as i64),
            &rec.key.enabled,
            &i64::from(rec.key_uses),
            &rec.is_default,
            &(rec.members as i64),
            &i64::from(rec.courses),
            &i64::from(rec.curricula),
            &rec.managers_regenerate_key,
        ],
    )?;
    Ok(())
}

/// Inserts the row of a new group `rec`.
pub(crate) fn insert(c: &mut impl GenericClient, rec: &GroupRecord) -> Result<(), postgres::Error> {
    c.execute(
        "INSERT INTO groups (id, name, name_folded, description, key_enabled, key_max_uses, \
         key_uses, is_default, members, courses, curricula, created_at_ms, \
         managers_regenerate_key) VALUES ($1, '', '', '', false, 0, 0, false, 0, 0, 0, $2, false)",
        &[&(rec.id as i64), &(rec.created_at as i64)],
    )?;
    put(c, rec)
}

/// Adds `delta` to a store-wide total (`totals`), in the slot of record `id`.
pub(crate) fn bump_total(
    c: &mut impl GenericClient,
    name: &str,
    id: u64,
    delta: i64,
) -> Result<(), postgres::Error> {
    c.execute(
        "UPDATE totals SET n = n + $3 WHERE name = $1 AND slot = $2",
        &[&name, &((id % 16) as i16), &delta],
    )?;
    Ok(())
}

/// A store-wide total: the sum of its slots.
pub(crate) fn read_total(c: &mut impl GenericClient, name: &str) -> Result<u64, postgres::Error> {
    let n: i64 = c
        .query_one(
            "SELECT coalesce(sum(n), 0)::bigint FROM totals WHERE name = $1",
            &[&name],
        )?
        .get(0);
    Ok(n.max(0) as u64)
}

/// A user's login name (audit details name people, not ids); `NotFound` when there is none.
pub(crate) fn user_login(c: &mut impl GenericClient, user: u64) -> Result<String, PgError> {
    c.query_opt("SELECT login FROM users WHERE id = $1", &[&(user as i64)])?
        .map(|r| r.get(0))
        .ok_or(PgError::Store(StoreError::NotFound("user")))
}

/// Rows `skip ..` of a page: as sled's `search::window` (pages from 1, 1 to 100 rows).
pub(crate) fn window(page: u32, per_page: u32) -> (usize, usize) {
    let per_page = per_page.clamp(1, 100) as usize;
    ((page.max(1) as usize - 1) * per_page, per_page)
}

impl PgStore {
    /// A read in a transaction of its own at `READ COMMITTED` (one statement, one state).
    pub(crate) fn read_tx<T>(
        &self,
        body: impl FnMut(&mut postgres::Transaction<'_>) -> Result<T, PgError>,
    ) -> Result<T, StoreError> {
        self.tx(IsolationLevel::ReadCommitted, body)
    }

    /// Reads that must see one state together (a page and its total): `REPEATABLE READ`.
    pub(crate) fn page_tx<T>(
        &self,
        body: impl FnMut(&mut postgres::Transaction<'_>) -> Result<T, PgError>,
    ) -> Result<T, StoreError> {
        self.tx(IsolationLevel::RepeatableRead, body)
    }

    /// A write: `SERIALIZABLE`, retried on serialization failures.
    pub(crate) fn write_tx<T>(
        &self,
        body: impl FnMut(&mut postgres::Transaction<'_>) -> Result<T, PgError>,
    ) -> Result<T, StoreError> {
        self.tx(IsolationLevel::Serializable, body)
    }
}

impl Groups for PgStore {
    fn get_group(&self, id: u64) -> Result<Option<GroupRecord>, StoreError> {
        self.read_tx(|t| Ok(get(t, id, false)?))
    }

    fn group_count(&self) -> Result<u64, StoreError> {
        self.read_tx(|t| Ok(read_total(t, "groups")?))
    }

    fn default_group(&self) -> Result<Option<u64>, StoreError> {
        self.read_tx(|t| {
            Ok(t.query_opt(
                "SELECT id FROM groups WHERE is_default AND deleted_at_ms IS NULL",
                &[],
            )?
            .map(|r| r.get::<_, i64>(0) as u64))
        })
    }

    fn generate_group_key(&self) -> Result<String, StoreError> {
        loop {
            let k = random_key();
            let folded = fold_key(&k);
            let taken = self.read_tx(|t| {
                Ok(
                    t.query_opt("SELECT 1 FROM groups WHERE key_folded = $1", &[&folded])?
                        .is_some(),
                )
            })?;
            if !taken {
                return Ok(k);
            }
        }
    }
}
