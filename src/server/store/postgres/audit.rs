//! The audit trail on PostgreSQL (table `audit`; the interface: `crate::server::store::audit`,
//! the behaviour: `sled/audit.rs`): what writes it, and the Audit and Activity pages that read
//! it. Every group change writes its event in its own transaction with [`record`], as sled's
//! `tx_audit` does.
//!
//! **Reads.** sled's index families are indexes here: `T` (every event by time) is
//! `audit_time (at_ms, event_id)`, `A` (one actor's) is `audit_actor (actor, at_ms,
//! event_id)`, and a group's trail is `audit_group (group_id, event_id)`. A page walks the
//! family's index from its keyset place (`Toward`: older than a place, or at and newer than
//! one) within the filter's dates, through a portal fetched a chunk at a time, and the other
//! filters (kind, group) are applied to the entries as they come, as on sled: the page stops
//! when it is full or when it has looked at its budget of entries (`SCAN_BUDGET`), and the
//! interface's `older_page` / `newer_page` cut it, so its rows and links are sled's. A group's
//! page, when the group has no more events than the budget, reads the group's events through
//! `audit_group` and sorts them by time (ids are not quite in time order); a bigger group is a
//! filter over `T`, as on sled. `walk_audit` (the CSV export) goes in keyset batches of
//! [`WALK_BATCH`], each its own statement, so an export paced by its reader holds no
//! transaction open.
//!
//! Isolation: a page is one portal (one statement: one snapshot under `READ COMMITTED`), or, for
//! a group's page, two statements under `REPEATABLE READ`; reads only, so nothing is retried.

use super::super::audit::{
    activity_filter_of, newer_page, older_page, shown_actor, Audit, AuditFilter, AuditHit,
    AuditHits, SCAN_BUDGET,
};
use super::super::codec::fold;
use super::super::groups::{Actor, AuditKind, AuditRecord};
use super::{backend_error, PgError, PgStore};
use crate::model::activity::{ActivityList, ActivityQuery, ActivityRow, Place, Toward};
use crate::model::group::AuditAction;
use crate::model::AppError;
use crate::server::store::StoreError;
use postgres::types::ToSql;
use postgres::Transaction;

/// Events `walk_audit` reads per statement.
pub(crate) const WALK_BATCH: usize = 1_000;

/// The `audit.action` text of a kind (the schema's CHECK lists them).
pub(crate) fn kind_name(kind: AuditKind) -> &'static str {
    match kind {
        AuditKind::GroupCreated => "group_created",
        AuditKind::GroupChanged => "group_changed",
        AuditKind::GroupDeleted => "group_deleted",
        AuditKind::MembersAdded => "members_added",
        AuditKind::MembersRemoved => "members_removed",
        AuditKind::DefaultChanged => "default_changed",
        AuditKind::CoursesChanged => "courses_changed",
        AuditKind::ManagersChanged => "managers_changed",
        AuditKind::KeyRedeemed => "key_redeemed",
        AuditKind::KeyRefused => "key_refused",
        AuditKind::MassEnrolment => "mass_enrolment",
        AuditKind::MessageSent => "message_sent",
    }
}

/// The kind an `audit.action` text names, if any.
pub(crate) fn kind_of(name: &str) -> Option<AuditKind> {
    AuditKind::ALL.into_iter().find(|k| kind_name(*k) == name)
}

/// Appends event `event` (an id drawn before the transaction: a transaction may run again) to
/// group `group`'s trail, in the caller's transaction.
pub(crate) fn record(
    t: &mut postgres::Transaction<'_>,
    group: u64,
    event: u64,
    actor: Actor,
    action: AuditAction,
    detail: String,
) -> Result<(), postgres::Error> {
    t.execute(
        "INSERT INTO audit (event_id, group_id, at_ms, actor, action, detail) \
         VALUES ($1, $2, $3, $4, $5, $6)",
        &[
            &(event as i64),
            &(group as i64),
            &(actor.now as i64),
            &(actor.user as i64),
            &kind_name(action.into()),
            &detail,
        ],
    )?;
    Ok(())
}

/// An audit row (`at_ms, actor, action, detail` from column `first` on) as its record.
pub(crate) fn record_of(
    row: &postgres::Row,
    first: usize,
) -> Result<AuditRecord, super::super::StoreError> {
    let action: &str = row.get(first + 2);
    let kind = kind_of(action).ok_or_else(|| super::super::StoreError::Corrupt {
        tree: "audit",
        key: String::new(),
        reason: format!("unknown action {action}"),
    })?;
    Ok(AuditRecord {
        at: row.get::<_, i64>(first) as u64,
        actor: row.get::<_, i64>(first + 1) as u64,
        action: kind,
        detail: row.get(first + 3),
    })
}

/// The columns of `audit` that make an [`AuditHit`], in [`hit_of`]'s order.
const HIT_COLUMNS: &str = "event_id, group_id, at_ms, actor, action";

/// A row of [`HIT_COLUMNS`] as its index entry.
fn hit_of(row: &postgres::Row) -> Result<AuditHit, StoreError> {
    let u = |i: usize| row.get::<_, i64>(i) as u64;
    let action: &str = row.get(4);
    Ok(AuditHit {
        place: Place {
            at: u(2),
            event: u(0),
        },
        group: u(1),
        actor: u(3),
        kind: kind_of(action).ok_or_else(|| StoreError::Corrupt {
            tree: "audit",
            key: u(0).to_string(),
            reason: format!("unknown action {action}"),
        })?,
    })
}

/// A `u64` as a `bigint` bound: past `i64::MAX` is the largest a column holds.
fn big(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// A place as the `(at_ms, event_id)` pair it is compared with.
fn pair(p: Place) -> [i64; 2] {
    [big(p.at), big(p.event)]
}

/// The part of `f`'s family at or after `lo` and before `hi`, within `f`'s dates, as
/// `[from, to)` bounds on `(at_ms, event_id)`; `None` when it is empty (sled's `audit_range`).
fn span(f: &AuditFilter, lo: Option<Place>, hi: Option<Place>) -> Option<([i64; 2], [i64; 2])> {
    let from = f.from.map(|at| Place { at, event: 0 });
    let until = f.until.map(|at| Place { at, event: 0 });
    let lo = lo.max(from).unwrap_or(Place { at: 0, event: 0 });
    let hi = match (hi, until) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    if hi.is_some_and(|h| lo >= h) {
        return None;
    }
    Some((pair(lo), hi.map_or([i64::MAX, i64::MAX], pair)))
}

/// `ORDER BY` of a walk: newest first, or oldest first.
fn order(newest_first: bool) -> &'static str {
    if newest_first {
        "ORDER BY at_ms DESC, event_id DESC"
    } else {
        "ORDER BY at_ms, event_id"
    }
}

/// The entries of `f`'s family (an actor's events when it names one, else every event) in
/// `[from, to)`, at most `budget` of them, read lazily through a portal: a chunk of `first`
/// rows, then larger ones, so a page reads about what it uses.
struct Entries<'a, 'b> {
    t: &'a mut Transaction<'b>,
    portal: postgres::Portal,
    rows: std::vec::IntoIter<postgres::Row>,
    chunk: i32,
    most: i32,
    done: bool,
}

impl<'a, 'b> Entries<'a, 'b> {
    fn open(
        t: &'a mut Transaction<'b>,
        f: &AuditFilter,
        (from, to): ([i64; 2], [i64; 2]),
        newest_first: bool,
        first: usize,
        budget: usize,
    ) -> Result<Self, postgres::Error> {
        let actor = f.actor.map(big);
        // The budget as a LIMIT: the planner then walks the index from the place (planning
        // for every row of the family, it could rather read the table and sort it).
        let most_rows = big(budget as u64);
        let mut params: Vec<&(dyn ToSql + Sync)> =
            vec![&from[0], &from[1], &to[0], &to[1], &most_rows];
        let by_actor = match &actor {
            Some(a) => {
                params.push(a);
                "actor = $6 AND "
            }
            None => "",
        };
        let sql = format!(
            "SELECT {HIT_COLUMNS} FROM audit WHERE {by_actor}(at_ms, event_id) >= ($1, $2) \
             AND (at_ms, event_id) < ($3, $4) {} LIMIT $5",
            order(newest_first)
        );
        let portal = t.bind(sql.as_str(), &params)?;
        let most = budget.clamp(1, 1_000) as i32;
        Ok(Entries {
            t,
            portal,
            rows: Vec::new().into_iter(),
            chunk: (first.max(1) as i32).min(most),
            most,
            done: false,
        })
    }
}

impl Iterator for Entries<'_, '_> {
    type Item = Result<AuditHit, StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(row) = self.rows.next() {
                return Some(hit_of(&row));
            }
            if self.done {
                return None;
            }
            match self.t.query_portal(&self.portal, self.chunk) {
                Ok(rows) => {
                    self.done = rows.len() < self.chunk as usize;
                    self.chunk = self.chunk.saturating_mul(4).min(self.most);
                    self.rows = rows.into_iter();
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(StoreError::Backend(backend_error(&e))));
                }
            }
        }
    }
}

/// The events matching `f` in `[from, to)`, in time order, at most `limit`; every filter is a
/// condition here, since no budget counts what they pass over. `from_trail`: read the group's
/// events through `audit_group` first (a group known to have few), never a walk of the time
/// index looking for them.
fn filtered(
    t: &mut Transaction<'_>,
    f: &AuditFilter,
    (from, to): ([i64; 2], [i64; 2]),
    newest_first: bool,
    limit: usize,
    from_trail: bool,
) -> Result<Vec<AuditHit>, PgError> {
    let actor = f.actor.map(big);
    let group = f.group.map(big);
    let kind = f.kind.map(kind_name);
    let limit = big(limit as u64);
    let by_actor = if actor.is_some() {
        "actor = $5"
    } else {
        "$5::bigint IS NULL"
    };
    let source = if from_trail {
        "WITH trail AS MATERIALIZED (SELECT * FROM audit WHERE group_id = $6) \
         SELECT event_id, group_id, at_ms, actor, action FROM trail"
    } else {
        "SELECT event_id, group_id, at_ms, actor, action FROM audit"
    };
    let rows = t.query(
        &format!(
            "{source} WHERE {by_actor} \
             AND (at_ms, event_id) >= ($1, $2) AND (at_ms, event_id) < ($3, $4) \
             AND ($6::bigint IS NULL OR group_id = $6) AND ($7::text IS NULL OR action = $7) \
             {} LIMIT $8",
            order(newest_first)
        ),
        &[
            &from[0], &from[1], &to[0], &to[1], &actor, &group, &kind, &limit,
        ],
    )?;
    Ok(rows.iter().map(hit_of).collect::<Result<_, _>>()?)
}

/// Whether `f` is answered from its group's trail: it names a group and no actor, and the group
/// has at most `cap` events (sled's `group_trail`; a bigger group is a filter over time).
fn group_sized(t: &mut Transaction<'_>, f: &AuditFilter, cap: usize) -> Result<bool, PgError> {
    let (Some(group), None) = (f.group, f.actor) else {
        return Ok(false);
    };
    let n: i64 = t
        .query_one(
            "SELECT count(*) FROM (SELECT 1 FROM audit WHERE group_id = $1 LIMIT $2) e",
            &[&big(group), &big(cap as u64).saturating_add(1)],
        )?
        .get(0);
    Ok(n as u64 <= cap as u64)
}

impl Audit for PgStore {
    fn audit_page(
        &self,
        f: &AuditFilter,
        toward: Toward,
        limit: usize,
        budget: usize,
    ) -> Result<AuditHits, StoreError> {
        let (limit, budget) = (limit.max(1), budget.max(1));
        let before = match toward {
            Toward::Older(p) => p,
            Toward::Newer(_) => None,
        };
        self.page_tx(|t| {
            if group_sized(t, f, budget)? {
                // The group's events whole (within the budget): sorted by the database, cut
                // with no further budget, as sled cuts the trail it sorted.
                if let Toward::Newer(after) = toward {
                    if let Some(range) = span(f, Some(after), None) {
                        let hits = filtered(t, f, range, false, limit + 1, true)?;
                        let oldest_first = hits.into_iter().map(Ok);
                        if let Some(page) = newer_page(oldest_first, f, after, limit, usize::MAX)? {
                            return Ok(page);
                        }
                    }
                }
                let hits = match span(f, None, before) {
                    Some(range) => filtered(t, f, range, true, limit + 1, true)?,
                    None => Vec::new(),
                };
                return Ok(older_page(
                    hits.into_iter().map(Ok),
                    f,
                    before,
                    limit,
                    usize::MAX,
                )?);
            }
            if let Toward::Newer(after) = toward {
                if let Some(range) = span(f, Some(after), None) {
                    let hits = Entries::open(t, f, range, false, limit + 1, budget)?;
                    if let Some(page) = newer_page(hits, f, after, limit, budget)? {
                        return Ok(page);
                    }
                }
            }
            Ok(match span(f, None, before) {
                Some(range) => {
                    let hits = Entries::open(t, f, range, true, limit + 1, budget)?;
                    older_page(hits, f, before, limit, budget)?
                }
                None => older_page(std::iter::empty(), f, before, limit, budget)?,
            })
        })
    }

    fn walk_audit(
        &self,
        f: &AuditFilter,
        each: &mut dyn FnMut(AuditHit) -> Result<bool, StoreError>,
    ) -> Result<(), StoreError> {
        let Some((from, mut to)) = span(f, None, None) else {
            return Ok(());
        };
        loop {
            // Each batch a statement of its own, the callback outside it: the caller paces
            // the walk without holding a transaction open.
            let batch = self.page_tx(|t| {
                if group_sized(t, f, SCAN_BUDGET)? {
                    return Ok((filtered(t, f, (from, to), true, SCAN_BUDGET, true)?, true));
                }
                let hits = filtered(t, f, (from, to), true, WALK_BATCH, false)?;
                let last = hits.len() < WALK_BATCH;
                Ok((hits, last))
            })?;
            let (hits, last) = batch;
            for hit in &hits {
                if !each(*hit)? {
                    return Ok(());
                }
            }
            match hits.last() {
                Some(h) if !last => to = pair(h.place),
                _ => return Ok(()),
            }
        }
    }

    fn audit_event(&self, hit: &AuditHit) -> Result<AuditRecord, StoreError> {
        let row = self.read_tx(|t| {
            Ok(t.query_opt(
                "SELECT at_ms, actor, action, detail FROM audit \
                 WHERE event_id = $1 AND group_id = $2",
                &[&big(hit.place.event), &big(hit.group)],
            )?)
        })?;
        match row {
            Some(r) => record_of(&r, 0),
            None => Err(StoreError::Corrupt {
                tree: "audit",
                key: format!("group {} event {}", hit.group, hit.place.event),
                reason: "no such event".into(),
            }),
        }
    }

    fn actor_name(&self, actor: u64) -> Result<String, StoreError> {
        let login = if actor == 0 {
            None
        } else {
            self.read_tx(|t| {
                Ok(
                    t.query_opt("SELECT login FROM users WHERE id = $1", &[&big(actor)])?
                        .map(|r| r.get::<_, String>(0)),
                )
            })?
        };
        Ok(shown_actor(actor, login))
    }

    fn group_id_by_name(&self, name: &str) -> Result<Option<u64>, StoreError> {
        let folded = fold(name);
        self.read_tx(|t| {
            Ok(t.query_opt(
                "SELECT id FROM groups WHERE name_folded = $1 AND deleted_at_ms IS NULL",
                &[&folded],
            )?
            .map(|r| r.get::<_, i64>(0) as u64))
        })
    }

    fn activity_filter(
        &self,
        q: &ActivityQuery,
    ) -> Result<Result<(AuditFilter, Toward), Vec<AppError>>, StoreError> {
        activity_filter_of(self, q)
    }

    fn activity_page(&self, q: &ActivityQuery, limit: usize) -> Result<ActivityList, StoreError> {
        let (filter, toward) = match self.activity_filter(q)? {
            Ok(found) => found,
            Err(problems) => {
                return Ok(ActivityList {
                    problems,
                    ..Default::default()
                })
            }
        };
        let page = self.audit_page(&filter, toward, limit, SCAN_BUDGET)?;
        let events: Vec<i64> = page.hits.iter().map(|h| big(h.place.event)).collect();
        // The page's events with who did them and their group's name, in one statement
        // (rather than three lookups a row).
        let rows = self.read_tx(|t| {
            let rows = t.query(
                "SELECT a.event_id, a.group_id, a.at_ms, a.actor, a.action, a.detail, u.login, \
                 g.name FROM unnest($1::bigint[]) WITH ORDINALITY AS p(id, n) \
                 JOIN audit a ON a.event_id = p.id \
                 LEFT JOIN users u ON u.id = a.actor AND a.actor <> 0 \
                 LEFT JOIN groups g ON g.id = a.group_id AND g.deleted_at_ms IS NULL \
                 ORDER BY p.n",
                &[&events],
            )?;
            if rows.len() != events.len() {
                return Err(StoreError::Corrupt {
                    tree: "audit",
                    key: format!("{events:?}"),
                    reason: "an event of the page is gone".into(),
                }
                .into());
            }
            rows.iter()
                .map(|r| {
                    let hit = hit_of(r)?;
                    Ok(ActivityRow {
                        id: hit.place.event,
                        at: hit.place.at,
                        actor: shown_actor(hit.actor, r.get(6)),
                        group_id: hit.group,
                        group: r.get(7),
                        action: hit.kind.into(),
                        detail: r.get(5),
                    })
                })
                .collect::<Result<Vec<_>, PgError>>()
        })?;
        Ok(ActivityList {
            rows,
            newer: page.newer,
            older: page.older,
            searched_to: page.searched_to,
            problems: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::store::postgres::tests::temp_pg_store;
    use postgres::IsolationLevel;

    /// More events than several of `walk_audit`'s batches, three to a millisecond (so batches
    /// end inside a millisecond) and ids out of time order: the walk gives every match once,
    /// newest first, with a filter too, and stops when told. Paging older under a small budget
    /// reaches the same events.
    #[test]
    fn the_walk_goes_batch_after_batch_without_losing_or_repeating_an_event() {
        let Some((_db, pg)) = temp_pg_store() else {
            return;
        };
        let n = 2 * WALK_BATCH as u64 + 101;
        pg.tx(IsolationLevel::ReadCommitted, |t| {
            for i in 0..n {
                let actor = Actor {
                    user: i % 4,
                    now: 1_000 + i / 3,
                };
                let kind = AuditKind::ALL[(i % 3) as usize];
                let event = 10_000 + (i * 7_919) % n;
                record(t, 7 + i % 2, event, actor, kind.into(), String::new())?;
            }
            Ok(())
        })
        .unwrap();
        let walk = |f: &AuditFilter, stop: usize| {
            let mut seen = Vec::new();
            pg.walk_audit(f, &mut |h| {
                seen.push(h);
                Ok(seen.len() < stop)
            })
            .unwrap();
            seen
        };
        let all = walk(&AuditFilter::default(), usize::MAX);
        assert_eq!(all.len() as u64, n);
        assert!(
            all.windows(2).all(|w| w[0].place > w[1].place),
            "newest first, once"
        );
        let f = AuditFilter {
            kind: Some(AuditKind::ALL[1]),
            actor: Some(1),
            ..Default::default()
        };
        let want: Vec<AuditHit> = all.iter().copied().filter(|h| f.admits(h)).collect();
        assert!(!want.is_empty());
        assert_eq!(walk(&f, usize::MAX), want);
        assert_eq!(walk(&AuditFilter::default(), 1_500), all[..1_500].to_vec());
        let mut paged = Vec::new();
        let mut toward = Toward::Older(None);
        loop {
            let page = pg.audit_page(&f, toward, 50, 300).unwrap();
            paged.extend(page.hits);
            match page.older {
                Some(p) => toward = Toward::Older(Some(p)),
                None => break,
            }
        }
        assert_eq!(paged, want);
    }
}
