//! The audit trail across groups: an index of every event by time and by who did it, and the
//! Activity page's reads over it and over the trail.
//!
//! The trail itself (`audit`, group id ++ event id, see `groups/mod.rs`) is in id order per
//! group. Tree `audit_index` holds two families of keys; each key ends in
//! `at ++ event ++ group` (8 bytes big-endian each), so every family sorts by time, and each
//! value is `actor (8 bytes) ++ kind code (1)`, what the other filters look at: a filtered scan
//! of the index never reads the records it passes over.
//! - `T` ++ end: every event;
//! - `A` ++ actor ++ end: one user's (actor 0: Tessera itself, or a visitor without an account).
//!
//! Schemas 3 to 5 also kept a family per group (`G`) and per kind (`K`): two of every event's
//! four entries, a quarter of a big school's stored entries, each costing the embedded store
//! memory for as long as it runs. The schema 5 → 6 migration deletes them. A kind is a filter
//! over `T` (or `A`), bounded by [`SCAN_BUDGET`] like any filtered scan. A group's events
//! are its part of the trail; that is in id order, which is not quite time order (an event's
//! time is its request's clock, its id is drawn when it is written, so two requests at once, or
//! a clock set back, swap them), so a group's page reads the group's trail whole (a few
//! thousand decodes at most: [`SCAN_BUDGET`]) and sorts it; a group with more events than that
//! is answered as a filter over `T`, bounded the same way.
//!
//! One tree rather than two, so a transaction that writes an event opens one tree more, not
//! two. The entries are written in the event's transaction (`groups::tx_audit`), built for
//! older data by the schema 2 → 3 migration, and `tessera check` verifies them both ways.

#[allow(unused_imports)]
use crate::server::store::{Backend, StoreError};

use super::codec::id_key;

use super::groups::{AuditKind, AuditRecord};
use crate::model::activity::{
    unknown_actor, unknown_group, ActivityList, ActivityQuery, ActivityRow, Place, Toward,
};
use crate::model::AppError;
use std::collections::HashMap;

pub(crate) const TIME: u8 = b'T';

pub(crate) const ACTOR: u8 = b'A';

/// Index entries one page looks at, at most: a page of a rare combination of filters (one
/// user's events of one kind, say) answers with what it found so far and goes on from there.
pub const SCAN_BUDGET: usize = 5_000;

/// Names remembered while listing events; past this the memory starts again.
pub(crate) const NAMES_KEPT: usize = 10_000;

/// The Activity list's filters, with people and groups as ids.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub actor: Option<u64>,
    pub group: Option<u64>,
    pub kind: Option<AuditKind>,
    /// Events at or after this time (ms).
    pub from: Option<u64>,
    /// Events before this time (ms).
    pub until: Option<u64>,
}

/// One index entry: where an event is, and what the filters look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditHit {
    pub place: Place,
    pub group: u64,
    pub actor: u64,
    pub kind: AuditKind,
}

/// A page of index entries, newest first, with where the neighbouring pages start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditHits {
    pub hits: Vec<AuditHit>,
    /// Events at or after this place are newer than the page.
    pub newer: Option<Place>,
    /// Events before this place are older than the page.
    pub older: Option<Place>,
    /// The scan stopped at [`SCAN_BUDGET`] before the page was full, at this time.
    pub searched_to: Option<u64>,
}

/// The smallest key greater than every key starting with `prefix` (`None`: there is none).
pub(crate) fn past(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut p = prefix.to_vec();
    while let Some(last) = p.pop() {
        if last < u8::MAX {
            p.push(last + 1);
            return Some(p);
        }
    }
    None
}

impl AuditFilter {
    /// The key family that answers this filter with the fewest entries to pass over: a user's
    /// events when it names one, else all events (a group's come from the trail first, see the
    /// module).
    pub(crate) fn prefix(&self) -> Vec<u8> {
        match self.actor {
            Some(a) => [&[ACTOR][..], &id_key(a)].concat(),
            None => vec![TIME],
        }
    }

    /// Whether an event's time is within the filter's dates.
    pub(crate) fn in_dates(&self, at: u64) -> bool {
        self.from.is_none_or(|t| at >= t) && self.until.is_none_or(|t| at < t)
    }

    pub(crate) fn admits(&self, h: &AuditHit) -> bool {
        self.group.is_none_or(|g| g == h.group)
            && self.actor.is_none_or(|a| a == h.actor)
            && self.kind.is_none_or(|k| k == h.kind)
    }
}

/// Logins and group names for a run of events, each read once (within [`NAMES_KEPT`]).
#[derive(Default)]
pub struct AuditNames {
    pub(crate) users: HashMap<u64, String>,
    pub(crate) groups: HashMap<u64, Option<String>>,
}

/// The store's operations on this area (see the contract in `store/mod.rs`).
pub trait Audit: Send + Sync {
    /// A page of at most `limit` events matching `f`, newest first, going `toward` older or
    /// newer events from a place, looking at no more than `budget` index entries (for a group,
    /// first at most `budget` of its events in the trail). Going newer past the newest events
    /// gives the first page.
    fn audit_page(
        &self,
        f: &AuditFilter,
        toward: Toward,
        limit: usize,
        budget: usize,
    ) -> Result<AuditHits, StoreError>;

    /// Every event matching `f`, newest first, to `each` until it returns `false` (the CSV
    /// export: no page, no budget; the caller paces it).
    fn walk_audit(
        &self,
        f: &AuditFilter,
        each: &mut dyn FnMut(AuditHit) -> Result<bool, StoreError>,
    ) -> Result<(), StoreError>;

    /// The event an index entry leads to. The trail is never pruned and the entry was written
    /// with it, so a missing event is corruption.
    fn audit_event(&self, hit: &AuditHit) -> Result<AuditRecord, StoreError>;

    /// Who did an event, as lists show it: their login, "system" for Tessera itself (and for
    /// a visitor without an account), "user #id" for an id that names nobody.
    fn actor_name(&self, actor: u64) -> Result<String, StoreError>;

    /// A group's id by its name (ignoring case).
    fn group_id_by_name(&self, name: &str) -> Result<Option<u64>, StoreError>;

    /// The filters of an Activity query, with the actor (login or e-mail) and the group (name)
    /// looked up; `Err` with every field at fault (`Invalid` errors) instead.
    fn activity_filter(
        &self,
        q: &ActivityQuery,
    ) -> Result<Result<(AuditFilter, Toward), Vec<AppError>>, StoreError>;

    /// The Activity page for `q`: at most `limit` events across all groups, newest first, with
    /// who did them and their group, and where the neighbouring pages start. Filters at fault
    /// come back in `problems`, with no rows.
    fn activity_page(&self, q: &ActivityQuery, limit: usize) -> Result<ActivityList, StoreError>;
}

/// The page of the newest events matching `f` among `hits` (newest first, all before
/// `before`), looking at no more than `budget` of them. Every backend cuts its pages with it
/// (and [`newer_page`]) from the entries its index yields, so the pages and their links, the
/// budget's stop included, are the same on all.
pub(crate) fn older_page(
    hits: impl Iterator<Item = Result<AuditHit, StoreError>>,
    f: &AuditFilter,
    before: Option<Place>,
    limit: usize,
    budget: usize,
) -> Result<AuditHits, StoreError> {
    let mut out = AuditHits {
        hits: Vec::new(),
        newer: before,
        older: None,
        searched_to: None,
    };
    for (scanned, hit) in hits.enumerate() {
        let hit = hit?;
        if f.admits(&hit) {
            if out.hits.len() == limit {
                out.older = out.hits.last().map(|h| h.place);
                return Ok(out);
            }
            out.hits.push(hit);
        }
        if scanned + 1 >= budget {
            out.older = Some(hit.place);
            out.searched_to = (out.hits.len() < limit).then_some(hit.place.at);
            return Ok(out);
        }
    }
    Ok(out)
}

/// The page of the oldest events matching `f` among `hits` (oldest first, all at or after
/// `after`), looking at no more than `budget` of them; `None` when fewer than a page of them
/// are left (the caller shows the first page instead).
pub(crate) fn newer_page(
    hits: impl Iterator<Item = Result<AuditHit, StoreError>>,
    f: &AuditFilter,
    after: Place,
    limit: usize,
    budget: usize,
) -> Result<Option<AuditHits>, StoreError> {
    let mut found = Vec::new();
    let mut newer = None;
    let mut searched_to = None;
    for (scanned, hit) in hits.enumerate() {
        let hit = hit?;
        if f.admits(&hit) {
            if found.len() == limit {
                newer = found.last().map(|h: &AuditHit| h.place.next());
                break;
            }
            found.push(hit);
        }
        if scanned + 1 >= budget {
            newer = Some(hit.place.next());
            searched_to = (found.len() < limit).then_some(hit.place.at);
            break;
        }
    }
    if newer.is_none() && found.len() < limit {
        return Ok(None);
    }
    found.reverse();
    Ok(Some(AuditHits {
        hits: found,
        newer,
        older: Some(after),
        searched_to,
    }))
}

/// Who did an event, as lists show it, from their login (`None`: no such user): "system" for
/// Tessera itself (actor 0, also a visitor without an account), "user #id" for an id that
/// names nobody.
pub(crate) fn shown_actor(actor: u64, login: Option<String>) -> String {
    match (actor, login) {
        (0, _) => "system".into(),
        (_, Some(login)) => login,
        (_, None) => format!("user #{actor}"),
    }
}

/// [`Audit::activity_filter`] on any backend: the query's own checks, then its actor and group
/// looked up, every problem reported together.
pub(crate) fn activity_filter_of<S: Audit + super::groups::members::Memberships + ?Sized>(
    s: &S,
    q: &ActivityQuery,
) -> Result<Result<(AuditFilter, Toward), Vec<AppError>>, StoreError> {
    let parsed = q.parse();
    let mut problems = parsed.as_ref().err().cloned().unwrap_or_default();
    let actor = match q.actor.trim() {
        "" => None,
        raw => s.user_id_by_login_or_email(raw)?.or_else(|| {
            problems.push(unknown_actor(raw));
            None
        }),
    };
    let group = match q.group.trim() {
        "" => None,
        raw => s.group_id_by_name(raw)?.or_else(|| {
            problems.push(unknown_group(raw));
            None
        }),
    };
    let p = match parsed {
        Ok(p) if problems.is_empty() => p,
        _ => return Ok(Err(problems)),
    };
    let filter = AuditFilter {
        actor,
        group,
        kind: p.kind.map(AuditKind::from),
        from: p.from,
        until: p.until,
    };
    Ok(Ok((filter, p.toward)))
}

impl AuditNames {
    /// The event `h` leads to, as the Activity list shows it.
    pub fn row(&mut self, s: &dyn Backend, h: &AuditHit) -> Result<ActivityRow, StoreError> {
        if self.users.len() + self.groups.len() > NAMES_KEPT {
            *self = AuditNames::default();
        }
        let rec = s.audit_event(h)?;
        let actor = match self.users.get(&h.actor) {
            Some(n) => n.clone(),
            None => {
                let n = s.actor_name(h.actor)?;
                self.users.insert(h.actor, n.clone());
                n
            }
        };
        let group = match self.groups.get(&h.group) {
            Some(n) => n.clone(),
            None => {
                let n = s.get_group(h.group)?.map(|g| g.name);
                self.groups.insert(h.group, n.clone());
                n
            }
        };
        Ok(ActivityRow {
            id: h.place.event,
            at: rec.at,
            actor,
            group_id: h.group,
            group,
            action: rec.action.into(),
            detail: rec.detail,
        })
    }
}

#[cfg(test)]
pub(crate) mod tests;
