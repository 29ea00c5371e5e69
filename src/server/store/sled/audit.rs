//! The sled backend's Audit (the interface: `crate::server::store::audit`).

pub(crate) use crate::server::store::audit::*;

#[allow(unused_imports)]
use crate::server::store::prelude::*;

use super::codec::{fold, id_key, read_id, show_key};
use super::enrolments::pair_key;
use super::groups::{AuditKind, AuditRecord};
use super::{SledStore, StoreError};
use crate::model::activity::{ActivityList, ActivityQuery, Place, Toward};
use crate::model::AppError;
use sled::transaction::{ConflictableTransactionError, TransactionalTree};
use std::ops::Bound;

/// `at ++ event ++ group`.
const END: usize = 24;

fn place_bytes(p: Place) -> [u8; 16] {
    pair_key(p.at, p.event)
}

/// An event's index keys, by time and by actor (see the module), and their common value.
pub(crate) fn index_entries(group: u64, event: u64, rec: &AuditRecord) -> ([Vec<u8>; 2], [u8; 9]) {
    let mut end = Vec::with_capacity(END);
    end.extend_from_slice(&place_bytes(Place { at: rec.at, event }));
    end.extend_from_slice(&id_key(group));
    let key = |prefix: &[u8]| [prefix, &end].concat();
    let code = rec.action.code();
    let mut value = [0u8; 9];
    value[..8].copy_from_slice(&id_key(rec.actor));
    value[8] = code;
    (
        [
            key(&[TIME]),
            key(&[&[ACTOR][..], &id_key(rec.actor)].concat()),
        ],
        value,
    )
}

/// Inside the event's transaction: its index entries.
pub(crate) fn tx_index(
    index: &TransactionalTree,
    group: u64,
    event: u64,
    rec: &AuditRecord,
) -> Result<(), ConflictableTransactionError<StoreError>> {
    let (keys, value) = index_entries(group, event, rec);
    for k in keys {
        index.insert(k, &value[..])?;
    }
    Ok(())
}

/// Reads an index entry back (any family).
pub(crate) fn read_entry(key: &[u8], value: &[u8]) -> Result<AuditHit, StoreError> {
    let corrupt = |reason: &str| StoreError::Corrupt {
        tree: "audit_index",
        key: show_key(key),
        reason: reason.into(),
    };
    let prefix = match key.first() {
        Some(&TIME) => 1,
        Some(&ACTOR) => 9,
        _ => return Err(corrupt("unknown key family")),
    };
    if key.len() != prefix + END {
        return Err(corrupt("wrong key length"));
    }
    if value.len() != 9 {
        return Err(corrupt("value is not actor ++ kind"));
    }
    let id = |b: &[u8]| read_id("audit_index", key, b);
    Ok(AuditHit {
        place: Place {
            at: id(&key[prefix..prefix + 8])?,
            event: id(&key[prefix + 8..prefix + 16])?,
        },
        group: id(&key[prefix + 16..])?,
        actor: id(&value[..8])?,
        kind: AuditKind::from_code(value[8]).ok_or_else(|| corrupt("unknown kind"))?,
    })
}

/// A trail key's group and event.
fn trail_key(k: &[u8]) -> Result<(u64, u64), StoreError> {
    if k.len() != 16 {
        return Err(StoreError::Corrupt {
            tree: "audit",
            key: show_key(k),
            reason: "not a 16-byte group ++ event key".into(),
        });
    }
    Ok((read_id("audit", k, &k[..8])?, read_id("audit", k, &k[8..])?))
}

/// Builds the index from the trail (the schema 2 → 3 migration), in batches. Entries are
/// derived from the events alone, so running it again writes the same entries.
pub(crate) fn build_index(s: &SledStore) -> Result<u64, StoreError> {
    let mut batch = sled::Batch::default();
    let (mut pending, mut events) = (0, 0u64);
    for item in s.audit.iter() {
        let (k, v) = item?;
        let (group, event) = trail_key(&k)?;
        let rec = s.audit.decode(&k, &v)?;
        let (keys, value) = index_entries(group, event, &rec);
        for key in keys {
            batch.insert(key, &value[..]);
        }
        events += 1;
        pending += 1;
        if pending == 1_000 {
            s.audit_index.apply_batch(std::mem::take(&mut batch))?;
            pending = 0;
        }
    }
    s.audit_index.apply_batch(batch)?;
    Ok(events)
}

impl Audit for SledStore {
    fn audit_page(
        &self,
        f: &AuditFilter,
        toward: Toward,
        limit: usize,
        budget: usize,
    ) -> Result<AuditHits, StoreError> {
        let (limit, budget) = (limit.max(1), budget.max(1));
        if let Some(all) = self.group_trail(f, budget)? {
            // Read whole already: the page is cut from it with no further budget.
            let newest_first = |before: Option<Place>| {
                all.iter()
                    .filter(move |h| before.is_none_or(|b| h.place < b))
                    .map(|h| Ok(*h))
            };
            if let Toward::Newer(after) = toward {
                let oldest_first = all
                    .iter()
                    .rev()
                    .filter(|h| h.place >= after)
                    .map(|h| Ok(*h));
                if let Some(page) = newer_page(oldest_first, f, after, limit, usize::MAX)? {
                    return Ok(page);
                }
            }
            let before = match toward {
                Toward::Older(p) => p,
                Toward::Newer(_) => None,
            };
            return older_page(newest_first(before), f, before, limit, usize::MAX);
        }
        if let Toward::Newer(after) = toward {
            if let Some(range) = self.audit_range(f, Some(after), None) {
                if let Some(page) = newer_page(entries(range), f, after, limit, budget)? {
                    return Ok(page);
                }
            }
        }
        let before = match toward {
            Toward::Older(p) => p,
            Toward::Newer(_) => None,
        };
        match self.audit_range(f, None, before) {
            Some(range) => older_page(entries(range.rev()), f, before, limit, budget),
            None => older_page(std::iter::empty(), f, before, limit, budget),
        }
    }

    fn walk_audit(
        &self,
        f: &AuditFilter,
        each: &mut dyn FnMut(AuditHit) -> Result<bool, StoreError>,
    ) -> Result<(), StoreError> {
        if let Some(all) = self.group_trail(f, SCAN_BUDGET)? {
            for hit in all {
                if !each(hit)? {
                    break;
                }
            }
            return Ok(());
        }
        let Some(range) = self.audit_range(f, None, None) else {
            return Ok(());
        };
        for hit in entries(range.rev()) {
            let hit = hit?;
            if f.admits(&hit) && !each(hit)? {
                break;
            }
        }
        Ok(())
    }

    fn audit_event(&self, hit: &AuditHit) -> Result<AuditRecord, StoreError> {
        match self.audit.row((hit.group, hit.place.event))? {
            Some(rec) => Ok(rec),
            None => Err(StoreError::Corrupt {
                tree: "audit_index",
                key: format!("group {} event {}", hit.group, hit.place.event),
                reason: "the index names an event the trail does not have".into(),
            }),
        }
    }

    fn actor_name(&self, actor: u64) -> Result<String, StoreError> {
        let login = if actor == 0 {
            None
        } else {
            self.get_user(actor)?.map(|u| u.login)
        };
        Ok(shown_actor(actor, login))
    }

    fn group_id_by_name(&self, name: &str) -> Result<Option<u64>, StoreError> {
        let folded = fold(name);
        self.group_name
            .get(folded.as_bytes())?
            .map(|b| read_id("group_name", folded.as_bytes(), &b))
            .transpose()
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
        let mut names = AuditNames::default();
        let rows = page
            .hits
            .iter()
            .map(|h| names.row(self, h))
            .collect::<Result<_, _>>()?;
        Ok(ActivityList {
            rows,
            newer: page.newer,
            older: page.older,
            searched_to: page.searched_to,
            problems: Vec::new(),
        })
    }
}

impl SledStore {
    /// The index entries of `f`'s family at or after `lo` and before `hi`, within `f`'s dates;
    /// `None` when that span is empty.
    pub(crate) fn audit_range(
        &self,
        f: &AuditFilter,
        lo: Option<Place>,
        hi: Option<Place>,
    ) -> Option<sled::Iter> {
        let prefix = f.prefix();
        let from = f.from.map(|at| Place { at, event: 0 });
        let until = f.until.map(|at| Place { at, event: 0 });
        let lo = lo.max(from);
        let hi = match (hi, until) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if let (Some(l), Some(h)) = (lo, hi) {
            if l >= h {
                return None;
            }
        }
        let at = |p: Place| [&prefix[..], &place_bytes(p)].concat();
        let start = lo.map_or_else(|| prefix.clone(), at);
        let end = match hi {
            Some(h) => Bound::Excluded(at(h)),
            None => past(&prefix).map_or(Bound::Unbounded, Bound::Excluded),
        };
        Some(self.audit_index.range((Bound::Included(start), end)))
    }

    /// A group's events matching `f` (nothing else asked of the index: no actor), newest
    /// first, read from the trail and sorted (see the module); `None` when `f` names no group
    /// or an actor, or the group has more than `cap` events (then the index answers).
    pub(crate) fn group_trail(
        &self,
        f: &AuditFilter,
        cap: usize,
    ) -> Result<Option<Vec<AuditHit>>, StoreError> {
        let (Some(group), None) = (f.group, f.actor) else {
            return Ok(None);
        };
        let mut all = Vec::new();
        for (read, item) in self.audit.scan_prefix(id_key(group)).enumerate() {
            if read == cap {
                return Ok(None);
            }
            let (k, v) = item?;
            let (_, event) = trail_key(&k)?;
            let rec = self.audit.decode(&k, &v)?;
            let hit = AuditHit {
                place: Place { at: rec.at, event },
                group,
                actor: rec.actor,
                kind: rec.action,
            };
            if f.admits(&hit) && f.in_dates(hit.place.at) {
                all.push(hit);
            }
        }
        all.sort_unstable_by_key(|h| std::cmp::Reverse(h.place));
        Ok(Some(all))
    }
}

/// Index entries read back, in the range's order.
fn entries(
    range: impl Iterator<Item = sled::Result<(sled::IVec, sled::IVec)>>,
) -> impl Iterator<Item = Result<AuditHit, StoreError>> {
    range.map(|item| {
        let (k, v) = item?;
        read_entry(&k, &v)
    })
}

#[cfg(test)]
mod tests;
