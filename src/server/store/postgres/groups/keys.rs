//! The PostgreSQL backend's GroupKeys (the interface: `crate::server::store::groups::keys`;
//! the behaviour: `sled/groups/keys.rs`).
//!
//! A redemption never goes over a key's limit: before it counts the use, its transaction locks
//! the group's row (`SELECT … FOR UPDATE`) and checks the key again on what the lock shows, and
//! every change of a group's members or key writes that row, so redemptions of one key (and
//! joins of its group) queue on the lock and each sees the count the one before it left. That
//! lock is what keeps the rule, so a redemption runs at `READ COMMITTED` (after the lock each
//! statement sees the latest commits): 200 learners redeeming one key at once wait their turn
//! instead of failing at commit and retrying.
//!
//! The lock is taken last. Every redemption of a key writes the same rows (its group's counts,
//! its courses' learner counts), and a row lock is held until the commit, so what a redemption
//! does while holding it is what limits how many a second one key takes. The membership, the
//! enrolments, the audit line and the redemption record are written first (rows of the learner's
//! own); then the group's row is locked, the key checked, the use and the member counted, the
//! courses' new learners counted: four statements and the commit under the lock (the links read again among them), where taking
//! it first held it for about fifteen round trips (144 redemptions a second on the keys bench
//! against 1,539 on sled). When the check under the lock refuses (another redemption took the
//! last use meanwhile), everything the redemption wrote is rolled back to a savepoint taken
//! before it, and the refusal is written instead.

use super::members::{count_learners, enrol_courses_uncounted, join};
use super::*;
use crate::model::group::{AuditAction, KeySettings, KeyStatus};
use crate::model::user::UserView;
use crate::server::store::enrolments::{EnrolCounts, Source};
use crate::server::store::groups::keys::*;
use crate::server::store::postgres::{audit, users};
use crate::server::store::prelude::*;
use crate::server::store::users::{PasswordHash, UserFields};
use postgres::IsolationLevel;

/// Who redeems which key, and from where.
struct Redeemer<'a> {
    user: u64,
    login: &'a str,
    /// A visitor signing up: the account does not exist yet (and may never).
    signing_up: bool,
    client: Option<String>,
    now: u64,
    event: u64,
}

/// Inside a transaction: the refusal, if any, for `user` redeeming folded key `key` of
/// `group` (the key may have changed since it was looked up), on the group's row as last
/// committed, or locked with `lock`.
fn refusal(
    t: &mut postgres::Transaction<'_>,
    key: &str,
    group: u64,
    user: u64,
    now: u64,
    lock: bool,
) -> Result<Option<KeyRefusal>, PgError> {
    let Some(rec) = get(t, group, lock)? else {
        return Ok(Some(KeyRefusal::Unknown));
    };
    if rec.key.key.as_deref().map(fold_key).as_deref() != Some(key) {
        return Ok(Some(KeyRefusal::Unknown));
    }
    let member = t
        .query_opt(
            "SELECT 1 FROM group_members WHERE group_id = $1 AND user_id = $2",
            &[&(group as i64), &(user as i64)],
        )?
        .is_some();
    if member {
        return Ok(Some(KeyRefusal::AlreadyMember {
            group,
            name: rec.name,
        }));
    }
    Ok(key_refusal(&rec, key, now))
}

/// The refusal, if any, of folded key `key` for a newcomer to group `rec`.
fn key_refusal(rec: &GroupRecord, key: &str, now: u64) -> Option<KeyRefusal> {
    if rec.key.key.as_deref().map(fold_key).as_deref() != Some(key) {
        return Some(KeyRefusal::Unknown);
    }
    match KeySettings::from(&rec.key).status(rec.key_uses, now) {
        KeyStatus::Active => None,
        KeyStatus::None => Some(KeyRefusal::Unknown),
        KeyStatus::Disabled => Some(KeyRefusal::Disabled),
        KeyStatus::NotYetValid => Some(KeyRefusal::NotYetValid),
        KeyStatus::Expired => Some(KeyRefusal::Expired),
        KeyStatus::UsedUp => Some(KeyRefusal::UsedUp),
    }
}

/// Inside a transaction: the group's audit line for a refused attempt.
fn refused(
    t: &mut postgres::Transaction<'_>,
    group: u64,
    r: &Redeemer<'_>,
    refusal: &KeyRefusal,
) -> Result<(), postgres::Error> {
    let why = match refusal {
        KeyRefusal::AlreadyMember { .. } => "already a member",
        KeyRefusal::Disabled => "key disabled",
        KeyRefusal::NotYetValid => "key not yet valid",
        KeyRefusal::Expired => "key expired",
        KeyRefusal::UsedUp => "key used up",
        KeyRefusal::Blank | KeyRefusal::Unknown => "unknown key",
    };
    // A refused sign-up names what the visitor typed, as theirs: no account was made.
    let (actor, who) = if r.signing_up {
        (0, format!("A visitor signing up as \"{}\"", r.login))
    } else {
        (r.user, r.login.to_string())
    };
    audit::record(
        t,
        group,
        r.event,
        Actor {
            user: actor,
            now: r.now,
        },
        AuditAction::KeyRefused,
        format!("{who} was refused the group key: {why}."),
    )
}

/// Inside a transaction, after [`refusal`] found nothing to refuse: the user joins, is
/// enrolled (source "group key") and the redemption recorded; then the group's row is locked,
/// the key checked again and the use, the member and the courses' new learners counted (see
/// the module header). A refusal under the lock comes back as `Ok(Err(..))` with the
/// redemption's writes still in the transaction: the caller rolls them back to the savepoint
/// it took before.
fn redeem(
    t: &mut postgres::Transaction<'_>,
    key: &str,
    group: u64,
    r: &Redeemer<'_>,
) -> Result<Result<Redemption, KeyRefusal>, PgError> {
    let mut rec = must(t, group, false)?;
    if !join(t, &mut rec, r.user, JoinedHow::Key, r.now)? {
        // Joined by a request of the same learner's that committed since the check.
        return Ok(Err(KeyRefusal::AlreadyMember {
            group,
            name: rec.name,
        }));
    }
    let links = links::links_of(t, group)?;
    let mut courses = links::courses_of_links(t, links.clone())?;
    let mut counts = EnrolCounts::default();
    let mut new_learners = enrol_courses_uncounted(
        t,
        &mut counts,
        r.user,
        &courses,
        Source::GroupKey(group),
        r.now,
    )?;
    audit::record(
        t,
        group,
        r.event,
        Actor {
            user: r.user,
            now: r.now,
        },
        AuditAction::MembersAdded,
        joined_detail(r, counts.enrolled),
    )?;
    t.execute(
        "INSERT INTO key_redemptions (group_id, event_id, user_id, key, at_ms, client) \
         VALUES ($1, $2, $3, $4, $5, $6)",
        &[
            &(group as i64),
            &(r.event as i64),
            &(r.user as i64),
            &rec.key.key.clone().unwrap_or_default(),
            &(r.now as i64),
            &r.client,
        ],
    )?;
    // The lock, and what needs it.
    let Some(locked) = get(t, group, true)? else {
        return Ok(Err(KeyRefusal::Unknown));
    };
    if let Some(refusal) = key_refusal(&locked, key, r.now) {
        return Ok(Err(refusal));
    }
    // A course attached since the links were read: its enrolment of the group's members did
    // not see this (uncommitted) member, so the redemption enrols it (a change of the links
    // writes the group's row, so under the lock they are the ones the next change will see).
    let links_now = links::links_of(t, group)?;
    if links_now != links {
        courses = links::courses_of_links(t, links_now)?;
        let mut more = EnrolCounts::default();
        new_learners.extend(enrol_courses_uncounted(
            t,
            &mut more,
            r.user,
            &courses,
            Source::GroupKey(group),
            r.now,
        )?);
        counts.enrolled += more.enrolled;
        // The audit line (this transaction's own, seen by nobody yet) says so too.
        t.execute(
            "UPDATE audit SET detail = $2 WHERE event_id = $1",
            &[&(r.event as i64), &joined_detail(r, counts.enrolled)],
        )?;
    }
    t.execute(
        "UPDATE groups SET key_uses = least(key_uses + 1, 4294967295), members = members + 1 \
         WHERE id = $1",
        &[&(group as i64)],
    )?;
    count_learners(t, &new_learners)?;
    Ok(Ok(Redemption {
        group,
        name: locked.name,
        courses: courses.into_iter().filter(|c| !c.archived).collect(),
        enrolled: counts.enrolled,
    }))
}

/// The audit line of a redemption that enrolled the learner in `enrolled` courses.
fn joined_detail(r: &Redeemer<'_>, enrolled: u64) -> String {
    format!(
        "{} joined with the group key; enrolled in {enrolled} course(s).",
        r.login
    )
}

/// The savepoint a redemption's caller takes before it, to undo it when refused under the lock.
const BEFORE_REDEMPTION: &str = "SAVEPOINT before_redemption";
const UNDO_REDEMPTION: &str = "ROLLBACK TO SAVEPOINT before_redemption";

/// The redemption's answer for a member of `rec`: the group and the courses it gives.
fn joined_answer(
    t: &mut postgres::Transaction<'_>,
    rec: &GroupRecord,
    enrolled: u64,
) -> Result<Redemption, PgError> {
    let given = links::group_courses(t, rec.id)?;
    Ok(Redemption {
        group: rec.id,
        name: rec.name.clone(),
        courses: given.into_iter().filter(|c| !c.archived).collect(),
        enrolled,
    })
}

impl GroupKeys for PgStore {
    fn key_owner(&self, raw: &str) -> Result<Result<(String, u64), KeyRefusal>, StoreError> {
        let key = fold_key(raw);
        if key.is_empty() {
            return Ok(Err(KeyRefusal::Blank));
        }
        let found = self.read_tx(|t| {
            Ok(
                t.query_opt("SELECT id FROM groups WHERE key_folded = $1", &[&key])?
                    .map(|r| r.get::<_, i64>(0) as u64),
            )
        })?;
        Ok(match found {
            Some(group) => Ok((key, group)),
            None => Err(KeyRefusal::Unknown),
        })
    }

    fn redeem_key(
        &self,
        user: u64,
        login: &str,
        raw: &str,
        client: Option<String>,
        now: u64,
    ) -> Result<Result<Redemption, KeyRefusal>, StoreError> {
        let (key, group) = match self.key_owner(raw)? {
            Ok(found) => found,
            Err(refusal) => return Ok(Err(refusal)),
        };
        let r = Redeemer {
            user,
            login,
            signing_up: false,
            client,
            now,
            event: self.new_id()?,
        };
        self.tx(IsolationLevel::ReadCommitted, |t| {
            if let Some(refusal) = refusal(t, &key, group, user, now, false)? {
                refused(t, group, &r, &refusal)?;
                return Ok(Err(refusal));
            }
            t.batch_execute(BEFORE_REDEMPTION)?;
            let out = redeem(t, &key, group, &r)?;
            if let Err(refusal) = &out {
                t.batch_execute(UNDO_REDEMPTION)?;
                refused(t, group, &r, refusal)?;
            }
            Ok(out)
        })
    }

    fn signup_with_key(
        &self,
        fields: &UserFields,
        hash: &PasswordHash,
        raw: &str,
        client: Option<String>,
        now: u64,
    ) -> Result<Result<(UserView, Redemption), KeyRefusal>, StoreError> {
        let (key, group) = match self.key_owner(raw)? {
            Ok(found) => found,
            Err(refusal) => return Ok(Err(refusal)),
        };
        let new = users::new_record(self.new_id()?, fields, false, now);
        let default_event = self.new_id()?;
        let r = Redeemer {
            user: new.id,
            login: &new.login,
            signing_up: true,
            client,
            now,
            event: self.new_id()?,
        };
        let out = self.write_tx(|t| {
            // Refused before the account exists: nothing but the audit line is written.
            // The group's row is locked from here, so the check under the lock in `redeem`
            // sees the same key and count.
            if let Some(refusal) = refusal(t, &key, group, r.user, now, true)? {
                refused(t, group, &r, &refusal)?;
                return Ok(Err(refusal));
            }
            t.batch_execute(BEFORE_REDEMPTION)?;
            users::tx_create_user(t, &new, hash, false, default_event, now)?;
            let member = t
                .query_opt(
                    "SELECT 1 FROM group_members WHERE group_id = $1 AND user_id = $2",
                    &[&(group as i64), &(r.user as i64)],
                )?
                .is_some();
            if member {
                // The key's group is the default group, which the account has just joined.
                let rec = must(t, group, false)?;
                return joined_answer(t, &rec, 0).map(Ok);
            }
            let out = redeem(t, &key, group, &r)?;
            if let Err(refusal) = &out {
                t.batch_execute(UNDO_REDEMPTION)?;
                refused(t, group, &r, refusal)?;
            }
            Ok(out)
        })?;
        Ok(out.map(|redemption| (new.view(), redemption)))
    }

    fn change_key(
        &self,
        actor: Actor,
        group: u64,
        change: KeyChange,
    ) -> Result<GroupRecord, StoreError> {
        // A fresh key collides with another group's only by a very unlikely chance: then
        // another is drawn.
        for _ in 0..8 {
            let fresh = random_key();
            let folded = fold_key(&fresh);
            let event = self.new_id()?;
            let out = self.write_tx(|t| {
                let mut rec = must(t, group, true)?;
                if change == KeyChange::RegenerateAsManager && !rec.managers_regenerate_key {
                    return Err(StoreError::Forbidden.into());
                }
                let detail = match change {
                    KeyChange::Regenerate | KeyChange::RegenerateAsManager => {
                        if t.query_opt("SELECT 1 FROM groups WHERE key_folded = $1", &[&folded])?
                            .is_some()
                        {
                            return Ok(None);
                        }
                        if rec.key.key.is_none() {
                            rec.key.enabled = true;
                        }
                        rec.key.key = Some(fresh.clone());
                        rec.key_uses = 0;
                        "New key generated: the old key no longer works; members stay."
                    }
                    KeyChange::Disable | KeyChange::Enable => {
                        if rec.key.key.is_none() {
                            return Err(StoreError::invalid(
                                "key",
                                "This group has no key. Generate one first.",
                            )
                            .into());
                        }
                        if rec.key.enabled == (change == KeyChange::Enable) {
                            // Already so (a second click, a stale page): nothing to record.
                            return Ok(Some(rec));
                        }
                        rec.key.enabled = change == KeyChange::Enable;
                        if rec.key.enabled {
                            "Key enabled."
                        } else {
                            "Key disabled: it is refused until enabled again."
                        }
                    }
                };
                put(t, &rec)?;
                audit::record(
                    t,
                    group,
                    event,
                    actor,
                    AuditAction::GroupChanged,
                    detail.into(),
                )?;
                Ok(Some(rec))
            })?;
            if let Some(rec) = out {
                return Ok(rec);
            }
        }
        Err(StoreError::invalid(
            "key",
            "No unused key could be generated. Please try again.",
        ))
    }

    fn key_redemptions(
        &self,
        group: u64,
        page: u32,
        per_page: u32,
    ) -> Result<(Vec<(u64, RedemptionRecord)>, u64), StoreError> {
        let skip = (page.max(1) as i64 - 1) * i64::from(per_page);
        let g = group as i64;
        self.page_tx(|t| {
            let total: i64 = t
                .query_one(
                    "SELECT count(*) FROM key_redemptions WHERE group_id = $1",
                    &[&g],
                )?
                .get(0);
            let rows = t
                .query(
                    "SELECT event_id, user_id, key, at_ms, client FROM key_redemptions \
                     WHERE group_id = $1 ORDER BY event_id DESC OFFSET $2 LIMIT $3",
                    &[&g, &skip, &i64::from(per_page)],
                )?
                .iter()
                .map(|r| {
                    (
                        r.get::<_, i64>(0) as u64,
                        RedemptionRecord {
                            user: r.get::<_, i64>(1) as u64,
                            key: r.get(2),
                            at: r.get::<_, i64>(3) as u64,
                            client: r.get(4),
                        },
                    )
                })
                .collect();
            Ok((rows, total as u64))
        })
    }
}
