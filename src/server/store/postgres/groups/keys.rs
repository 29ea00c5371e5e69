//! The PostgreSQL backend's GroupKeys (the interface: `crate::server::store::groups::keys`;
//! the behaviour: `sled/groups/keys.rs`).
//!
//! A redemption never goes over a key's limit: its transaction locks the group's row
//! (`SELECT … FOR UPDATE`) before it reads the use count and the membership, and every change
//! of a group's members or key writes that row, so redemptions of one key (and joins of its
//! group) queue on the lock and each sees the count the one before it left. That lock is what
//! keeps the rule, so a redemption runs at `READ COMMITTED` (after the lock each statement sees
//! the latest commits): 200 learners redeeming one key at once wait their turn instead of
//! failing at commit and retrying.

use super::members::{join_new_user, NewMember};
use super::*;
use crate::model::group::{AuditAction, KeySettings, KeyStatus};
use crate::model::user::UserView;
use crate::server::store::enrolments::Source;
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
/// `group`, whose row it locks (the key may have changed since it was looked up).
fn refusal(
    t: &mut postgres::Transaction<'_>,
    key: &str,
    group: u64,
    user: u64,
    now: u64,
) -> Result<Option<KeyRefusal>, PgError> {
    let Some(rec) = get(t, group, true)? else {
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
    Ok(
        match KeySettings::from(&rec.key).status(rec.key_uses, now) {
            KeyStatus::Active => None,
            KeyStatus::None => Some(KeyRefusal::Unknown),
            KeyStatus::Disabled => Some(KeyRefusal::Disabled),
            KeyStatus::NotYetValid => Some(KeyRefusal::NotYetValid),
            KeyStatus::Expired => Some(KeyRefusal::Expired),
            KeyStatus::UsedUp => Some(KeyRefusal::UsedUp),
        },
    )
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
/// enrolled (source "group key"), the use is counted and the redemption recorded.
fn redeem(
    t: &mut postgres::Transaction<'_>,
    group: u64,
    r: &Redeemer<'_>,
) -> Result<Redemption, PgError> {
    let joined = NewMember {
        group,
        user: r.user,
        how: JoinedHow::Key,
        source: Source::GroupKey(group),
        actor: Actor {
            user: r.user,
            now: r.now,
        },
        event: r.event,
    };
    let counts = join_new_user(t, &joined, |n| {
        format!(
            "{} joined with the group key; enrolled in {n} course(s).",
            r.login
        )
    })?
    .unwrap_or_default();
    let row = t.query_one(
        &format!(
            "UPDATE groups SET key_uses = least(key_uses + 1, 4294967295) WHERE id = $1 \
             RETURNING {GROUP_COLUMNS}"
        ),
        &[&(group as i64)],
    )?;
    let rec = group_of(&row);
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
    joined_answer(t, &rec, counts.enrolled)
}

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
            if let Some(refusal) = refusal(t, &key, group, user, now)? {
                refused(t, group, &r, &refusal)?;
                return Ok(Err(refusal));
            }
            redeem(t, group, &r).map(Ok)
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
            if let Some(refusal) = refusal(t, &key, group, r.user, now)? {
                refused(t, group, &r, &refusal)?;
                return Ok(Err(refusal));
            }
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
            redeem(t, group, &r).map(Ok)
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
                if let Some(refusal) = key_change_refusal(&rec, change) {
                    return Err(refusal.into());
                }
                if change.regenerates()
                    && t.query_opt("SELECT 1 FROM groups WHERE key_folded = $1", &[&folded])?
                        .is_some()
                {
                    return Ok(None);
                }
                let Some(detail) = apply_key_change(&mut rec, change, &fresh) else {
                    return Ok(Some(rec));
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
