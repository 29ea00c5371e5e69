//! The sled backend's GroupKeys (the interface: `crate::server::store::groups::keys`).

pub(crate) use crate::server::store::groups::keys::*;

#[allow(unused_imports)]
use crate::server::store::prelude::*;

use super::members::{tx_join_new_user, DefaultJoinTrees, DefaultJoinTx, NewMember};
use super::*;
use crate::model::group::KeyStatus;
use crate::model::user::UserView;
use crate::server::store::sled::enrolments::Source;
use crate::server::store::sled::tx::tree_set;
use crate::server::store::sled::users::{tx_create_user, NewUserTx, PasswordHash, UserFields};

/// The trees a redemption reads and writes beyond the join trees.
struct KeyTrees<'a> {
    keys: &'a TransactionalTree,
    redemptions: TxOf<'a, of::key_redemptions>,
}

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

/// Inside a transaction: the refusal, if any, for `r` redeeming folded key `key` of `group`
/// (read again here: the key may have changed since it was looked up). Reads only.
fn tx_refusal(
    joins: &DefaultJoinTrees<'_>,
    k: &KeyTrees<'_>,
    key: &str,
    group: u64,
    user: u64,
    now: u64,
) -> Tx<Option<KeyRefusal>> {
    match k.keys.get(key.as_bytes())? {
        Some(v) if v.as_ref() == id_key(group) => {}
        _ => return Ok(Some(KeyRefusal::Unknown)),
    }
    let rec = tx_get(joins.groups, group)?;
    if joins.members.get(pair_key(group, user))?.is_some() {
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
fn tx_refused(
    joins: &DefaultJoinTrees<'_>,
    group: u64,
    r: &Redeemer<'_>,
    refusal: &KeyRefusal,
) -> Tx<()> {
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
    tx_audit(
        joins.audit,
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

/// Inside a transaction, after [`tx_refusal`] found nothing to refuse: the user joins, is
/// enrolled (source "group key"), the use is counted and the redemption recorded.
fn tx_redeem(
    joins: &DefaultJoinTrees<'_>,
    k: &KeyTrees<'_>,
    group: u64,
    r: &Redeemer<'_>,
) -> Tx<Redemption> {
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
    let counts = tx_join_new_user(joins, &joined, |n| {
        format!(
            "{} joined with the group key; enrolled in {n} course(s).",
            r.login
        )
    })?
    .unwrap_or_default();
    let mut rec = tx_get(joins.groups, group)?;
    rec.key_uses = rec.key_uses.saturating_add(1);
    tx_put(joins.groups, &rec)?;
    let record = RedemptionRecord {
        user: r.user,
        key: rec.key.key.clone().unwrap_or_default(),
        at: r.now,
        client: r.client.clone(),
    };
    k.redemptions.put((group, r.event), &record)?;
    tx_joined(joins, &rec, counts.enrolled)
}

/// The redemption's answer for a member of `rec`: the group and the courses it gives.
fn tx_joined(joins: &DefaultJoinTrees<'_>, rec: &GroupRecord, enrolled: u64) -> Tx<Redemption> {
    let given = links::tx_group_courses(joins.links, joins.curricula, joins.courses, rec.id)?;
    Ok(Redemption {
        group: rec.id,
        name: rec.name.clone(),
        courses: given.into_iter().filter(|c| !c.archived).collect(),
        enrolled,
    })
}

tree_set! {
    /// The trees redeeming a key writes: the join, the key and its redemptions.
    struct RedeemTx { group_key, key_redemptions; join: DefaultJoinTx }
}

tree_set! {
    /// The trees signing up with a key writes: the new account (with its default group), the
    /// key and its redemptions.
    struct SignupTx { group_key, key_redemptions; new_user: NewUserTx }
}

impl GroupKeys for SledStore {
    fn key_owner(&self, raw: &str) -> Result<Result<(String, u64), KeyRefusal>, StoreError> {
        let key = fold_key(raw);
        if key.is_empty() {
            return Ok(Err(KeyRefusal::Blank));
        }
        let Some(found) = self.group_key.get(key.as_bytes())? else {
            return Ok(Err(KeyRefusal::Unknown));
        };
        let group = read_id("group_key", key.as_bytes(), &found)?;
        Ok(Ok((key, group)))
    }

    fn redeem_key(
        &self,
        user: u64,
        login: &str,
        raw: &str,
        client: Option<String>,
        now: u64,
    ) -> Result<Result<Redemption, KeyRefusal>, StoreError> {
        let _w = self.writing();
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
        let out = RedeemTx::run(self, |t| {
            let joins = t.join.view();
            let k = KeyTrees {
                keys: t.group_key,
                redemptions: t.key_redemptions,
            };
            if let Some(refusal) = tx_refusal(&joins, &k, &key, group, user, now)? {
                tx_refused(&joins, group, &r, &refusal)?;
                return Ok(Err(refusal));
            }
            tx_redeem(&joins, &k, group, &r).map(Ok)
        })?;
        Ok(out)
    }

    fn signup_with_key(
        &self,
        fields: &UserFields,
        hash: &PasswordHash,
        raw: &str,
        client: Option<String>,
        now: u64,
    ) -> Result<Result<(UserView, Redemption), KeyRefusal>, StoreError> {
        let _w = self.writing();
        let (key, group) = match self.key_owner(raw)? {
            Ok(found) => found,
            Err(refusal) => return Ok(Err(refusal)),
        };
        let new = self.new_user(fields, hash, false, now)?;
        let default_event = self.new_id()?;
        let r = Redeemer {
            user: new.record.id,
            login: &new.record.login,
            signing_up: true,
            client,
            now,
            event: self.new_id()?,
        };
        let out = SignupTx::run(self, |t| {
            let k = KeyTrees {
                keys: t.group_key,
                redemptions: t.key_redemptions,
            };
            // Refused before the account exists: nothing but the audit line is written.
            let early = t.new_user.join.view();
            if let Some(refusal) = tx_refusal(&early, &k, &key, group, r.user, now)? {
                tx_refused(&early, group, &r, &refusal)?;
                return Ok(Err(refusal));
            }
            let joins = tx_create_user(&t.new_user, &new, false, default_event, now)?;
            if joins.members.get(pair_key(group, r.user))?.is_some() {
                // The key's group is the default group, which the account has just joined.
                let rec = tx_get(joins.groups, group)?;
                return tx_joined(&joins, &rec, 0).map(Ok);
            }
            tx_redeem(&joins, &k, group, &r).map(Ok)
        })?;
        Ok(out.map(|redemption| (new.record.view(), redemption)))
    }

    fn change_key(
        &self,
        actor: Actor,
        group: u64,
        change: KeyChange,
    ) -> Result<GroupRecord, StoreError> {
        let _w = self.writing();
        // A fresh key collides with another group's only by a very unlikely chance: then
        // another is drawn.
        for _ in 0..8 {
            let fresh = random_key();
            let folded = fold_key(&fresh);
            let event = self.new_id()?;
            let out = (
                &*self.groups,
                &self.group_key,
                &*self.audit,
                &self.audit_index,
            )
                .transaction(|(groups, keys, trail, index)| {
                    let mut rec = tx_get(groups, group)?;
                    if let Some(refusal) = key_change_refusal(&rec, change) {
                        return abort(refusal);
                    }
                    if change.regenerates() {
                        if keys.get(folded.as_bytes())?.is_some() {
                            return Ok(None);
                        }
                        if let Some(old) = rec.key.key.as_deref() {
                            keys.remove(fold_key(old).as_bytes())?;
                        }
                        keys.insert(folded.as_bytes(), &id_key(group))?;
                    }
                    let Some(detail) = apply_key_change(&mut rec, change, &fresh) else {
                        return Ok(Some(rec));
                    };
                    tx_put(groups, &rec)?;
                    tx_audit(
                        AuditTrees { trail, index },
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
        let range = pair_key(group, 0)..=pair_key(group, u64::MAX);
        let total = self.key_redemptions.range(range.clone()).count() as u64;
        let skip = (page.max(1) as usize - 1) * per_page as usize;
        let rows = self
            .key_redemptions
            .range(range)
            .rev()
            .skip(skip)
            .take(per_page as usize)
            .map(|item| {
                let (k, v) = item?;
                let id = read_id("key_redemptions", &k, &k[8..])?;
                Ok((id, self.key_redemptions.decode(&k, &v)?))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok((rows, total))
    }
}
