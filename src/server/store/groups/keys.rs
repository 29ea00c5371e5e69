//! Group keys: a user who knows a group's key joins the group and is enrolled in what it gives
//! (see [`Store::redeem_key`]).

use super::members::{tx_join_new_user, DefaultJoinTrees, NewMember};
use super::*;
use crate::model::group::KeyStatus;
use crate::server::store::codec::Record;
use crate::server::store::enrolments::Source;
use serde::{Deserialize, Serialize};

/// Why a key was refused. A refusal changes nothing but the group's audit trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRefusal {
    Blank,
    Unknown,
    /// The user is a member of the key's group already (no use is counted).
    AlreadyMember {
        group: u64,
        name: String,
    },
    Disabled,
    NotYetValid,
    Expired,
    UsedUp,
}

impl KeyRefusal {
    /// What the learner is told.
    pub fn message(&self) -> String {
        match self {
            KeyRefusal::Blank => "Type the group key you were given.".into(),
            KeyRefusal::Unknown => {
                "No group has this key. Check it for typing mistakes, or ask who gave it to you."
                    .into()
            }
            KeyRefusal::AlreadyMember { name, .. } => {
                format!("You are already a member of {name}. Nothing was changed.")
            }
            KeyRefusal::Disabled => "This key has been turned off by an administrator.".into(),
            KeyRefusal::NotYetValid => "This key cannot be used yet.".into(),
            KeyRefusal::Expired => "This key has expired.".into(),
            KeyRefusal::UsedUp => "This key has been used as many times as it may be.".into(),
        }
    }
}

/// A key redeemed: the group joined and the courses it gives (archived ones left out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redemption {
    pub group: u64,
    pub name: String,
    pub courses: Vec<CourseRecord>,
    /// New enrolments made.
    pub enrolled: u64,
}

/// Who joined a group with its key. Only ever append fields through a new `VERSION`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedemptionRecord {
    pub user: u64,
    /// The key as it was set on the group then.
    pub key: String,
    pub at: u64,
    /// The client's address, when known.
    pub client: Option<String>,
}

impl Record for RedemptionRecord {
    const TREE: &'static str = "key_redemptions";
    const VERSION: u8 = 1;
}

impl Store {
    /// User `user` (login `login`) redeems `raw` (compared without surrounding spaces and
    /// ignoring case). The key's validity and limit, the membership, the enrolments (source
    /// "group key"), the use counter and the redemption record are one transaction: a use is
    /// counted only when it makes a membership, and a key with a maximum of N uses makes at
    /// most N however many redeem at once. A refusal for a known key is an audit event of its
    /// group and changes nothing else.
    pub fn redeem_key(
        &self,
        user: u64,
        login: &str,
        raw: &str,
        client: Option<String>,
        now: u64,
    ) -> Result<Result<Redemption, KeyRefusal>, StoreError> {
        let key = fold_key(raw);
        if key.is_empty() {
            return Ok(Err(KeyRefusal::Blank));
        }
        let Some(found) = self.group_key.get(key.as_bytes())? else {
            return Ok(Err(KeyRefusal::Unknown));
        };
        let group = read_id("group_key", key.as_bytes(), &found)?;
        let event = self.db.generate_id()?;
        let mut trees: Vec<&sled::Tree> = self.join_trees().to_vec();
        trees.extend([&self.group_key, &self.key_redemptions]);
        let r = trees.as_slice().transaction(|t| {
            let joins = DefaultJoinTrees::of(t);
            let [keys, redemptions] = &t[11..] else {
                unreachable!("two trees follow the join trees")
            };
            let (groups, members, audit) = (joins.groups, joins.members, joins.audit);
            // Read again inside: the key may have been changed since.
            match keys.get(key.as_bytes())? {
                Some(v) if v.as_ref() == id_key(group) => {}
                _ => return Ok(Err(KeyRefusal::Unknown)),
            }
            let rec = tx_get(groups, group)?;
            let actor = Actor { user, now };
            let refusal = if members.get(pair_key(group, user))?.is_some() {
                Some(KeyRefusal::AlreadyMember {
                    group,
                    name: rec.name.clone(),
                })
            } else {
                match KeySettings::from(&rec.key).status(rec.key_uses, now) {
                    KeyStatus::Active => None,
                    KeyStatus::None => Some(KeyRefusal::Unknown),
                    KeyStatus::Disabled => Some(KeyRefusal::Disabled),
                    KeyStatus::NotYetValid => Some(KeyRefusal::NotYetValid),
                    KeyStatus::Expired => Some(KeyRefusal::Expired),
                    KeyStatus::UsedUp => Some(KeyRefusal::UsedUp),
                }
            };
            if let Some(refusal) = refusal {
                let why = match &refusal {
                    KeyRefusal::AlreadyMember { .. } => "already a member",
                    KeyRefusal::Disabled => "key disabled",
                    KeyRefusal::NotYetValid => "key not yet valid",
                    KeyRefusal::Expired => "key expired",
                    KeyRefusal::UsedUp => "key used up",
                    KeyRefusal::Blank | KeyRefusal::Unknown => "unknown key",
                };
                tx_audit(
                    audit,
                    group,
                    event,
                    actor,
                    AuditAction::KeyRefused,
                    format!("{login} was refused the group key: {why}."),
                )?;
                return Ok(Err(refusal));
            }
            let joined = NewMember {
                group,
                user,
                how: JoinedHow::Key,
                source: Source::GroupKey(group),
                actor,
                event,
            };
            let counts = tx_join_new_user(&joins, &joined, |n| {
                format!("{login} joined with the group key; enrolled in {n} course(s).")
            })?
            .unwrap_or_default();
            let mut rec = tx_get(groups, group)?;
            rec.key_uses = rec.key_uses.saturating_add(1);
            tx_put(groups, &rec)?;
            let r = RedemptionRecord {
                user,
                key: rec.key.key.clone().unwrap_or_default(),
                at: now,
                client: client.clone(),
            };
            redemptions.insert(&pair_key(group, event), codec::encode(&r).or_else(abort)?)?;
            let given =
                links::tx_group_courses(joins.links, joins.curricula, joins.courses, group)?;
            Ok(Ok(Redemption {
                group,
                name: rec.name.clone(),
                courses: given.into_iter().filter(|c| !c.archived).collect(),
                enrolled: counts.enrolled,
            }))
        })?;
        Ok(r)
    }

    /// A page (newest first, from 1) of who redeemed group `group`'s key, with the total.
    pub fn key_redemptions(
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
                Ok((id, codec::decode::<RedemptionRecord>(&k, &v)?))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok((rows, total))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::catalog::EnrolSource;
    use crate::server::store::enrolments::tests_support::{course, learner};
    use crate::server::store::tests::{dump, temp_store};
    use proptest::prelude::*;

    const DAY: u64 = 86_400_000;

    fn keyed(s: &Store, name: &str, key: KeySettings) -> u64 {
        let f = GroupFields {
            name: name.into(),
            description: String::new(),
            branch: None,
            key,
            is_default: false,
        };
        s.create_group(Actor { user: 0, now: 1 }, &f).unwrap().0.id
    }

    fn key(k: &str, max_uses: u32) -> KeySettings {
        KeySettings {
            key: Some(k.into()),
            max_uses,
            enabled: true,
            ..KeySettings::default()
        }
    }

    fn redeem(s: &Store, user: u64, raw: &str, now: u64) -> Result<Redemption, KeyRefusal> {
        s.redeem_key(user, "someone", raw, Some("127.0.0.1".into()), now)
            .unwrap()
    }

    #[test]
    fn each_outcome_and_only_success_changes_anything() {
        let (_d, s) = temp_store();
        let c = course(&s, "PHY-1");
        let g = keyed(&s, "Physics", key("PHYS-2026", 2));
        s.link_group_course(Actor { user: 0, now: 1 }, g, c, true)
            .unwrap();
        let [a, b, c2] = ["a", "b", "c"].map(|l| learner(&s, l));

        assert_eq!(redeem(&s, a, "  \u{a0}", 5).unwrap_err(), KeyRefusal::Blank);
        assert_eq!(
            redeem(&s, a, "NOPE-1234", 5).unwrap_err(),
            KeyRefusal::Unknown
        );
        let joined = redeem(&s, a, "\u{a0} phys-2026\u{200b} ", 5).unwrap();
        assert_eq!(
            (joined.group, joined.name.as_str(), joined.enrolled),
            (g, "Physics", 1)
        );
        assert_eq!(
            joined.courses.iter().map(|c| c.id).collect::<Vec<_>>(),
            vec![c]
        );
        let e = s.enrolment(a, c).unwrap().unwrap();
        assert_eq!(e.source, EnrolSource::GroupKey);
        assert_eq!(s.get_group(g).unwrap().unwrap().key_uses, 1);
        // Already a member: names the group, uses nothing.
        assert_eq!(
            redeem(&s, a, "PHYS-2026", 6).unwrap_err(),
            KeyRefusal::AlreadyMember {
                group: g,
                name: "Physics".into()
            }
        );
        assert_eq!(s.get_group(g).unwrap().unwrap().key_uses, 1);
        redeem(&s, b, "PHYS-2026", 7).unwrap();
        let before = dump(&s);
        assert_eq!(
            redeem(&s, c2, "PHYS-2026", 8).unwrap_err(),
            KeyRefusal::UsedUp
        );
        let after = dump(&s);
        let changed: Vec<String> = before
            .iter()
            .zip(&after)
            .filter(|(x, y)| x != y)
            .map(|(x, _)| String::from_utf8_lossy(&x.0).into_owned())
            .collect();
        assert_eq!(changed, ["audit"], "a refusal writes its audit event only");
        let (rows, total) = s.key_redemptions(g, 1, 10).unwrap();
        assert_eq!(total, 2);
        assert_eq!(rows.iter().map(|(_, r)| r.user).collect::<Vec<_>>(), [b, a]);
        assert_eq!(rows[0].1.key, "PHYS-2026");

        // Disabled, not yet valid, expired.
        let d = keyed(
            &s,
            "Off",
            KeySettings {
                enabled: false,
                ..key("OFF-KEY-1", 0)
            },
        );
        let soon = keyed(
            &s,
            "Soon",
            KeySettings {
                valid_from: Some(10 * DAY),
                ..key("SOON-KEY-1", 0)
            },
        );
        let past = keyed(
            &s,
            "Past",
            KeySettings {
                valid_until: Some(0),
                ..key("PAST-KEY-1", 0)
            },
        );
        assert_eq!(
            redeem(&s, c2, "off-key-1", 5).unwrap_err(),
            KeyRefusal::Disabled
        );
        assert_eq!(
            redeem(&s, c2, "soon-key-1", DAY).unwrap_err(),
            KeyRefusal::NotYetValid
        );
        assert_eq!(
            redeem(&s, c2, "past-key-1", 2 * DAY).unwrap_err(),
            KeyRefusal::Expired
        );
        assert!(
            redeem(&s, c2, "soon-key-1", 10 * DAY).is_ok(),
            "valid from its first day"
        );
        for g in [d, past] {
            assert!(s.membership(g, c2).unwrap().is_none());
        }
        assert_eq!(s.get_group(soon).unwrap().unwrap().key_uses, 1);
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
        /// Any mix of case and Unicode spaces around the key finds the group.
        #[test]
        fn keys_match_ignoring_case_and_surrounding_spaces(
            upper in proptest::collection::vec(any::<bool>(), 9),
            before in proptest::collection::vec(prop::sample::select(vec![' ', '\u{a0}', '\t', '\u{2007}', '\u{202f}', '\u{3000}', '\u{200b}', '\u{feff}', '\n']), 0..4),
            after in proptest::collection::vec(prop::sample::select(vec![' ', '\u{a0}', '\t', '\u{2009}', '\u{200b}', '\r']), 0..4),
        ) {
            let typed: String = "phys-2026"
                .chars()
                .zip(&upper)
                .map(|(c, u)| if *u { c.to_ascii_uppercase() } else { c })
                .collect();
            let raw: String = before.iter().chain(std::iter::once(&'|')).chain(after.iter()).collect::<String>().replace('|', &typed);
            prop_assert_eq!(fold_key(&raw), "PHYS-2026");
        }
    }

    /// 200 distinct learners redeem a key with a maximum of 10 uses at the same instant:
    /// exactly 10 join, the counter says 10, and 190 are told it is used up. Several rounds.
    #[test]
    fn a_limited_key_is_never_over_redeemed() {
        const LEARNERS: usize = 200;
        let rounds: usize = std::env::var("TESSERA_KEY_ROUNDS")
            .ok()
            .and_then(|r| r.parse().ok())
            .unwrap_or(100);
        let (_d, s) = temp_store();
        let users: Vec<u64> = (0..LEARNERS)
            .map(|i| learner(&s, &format!("l{i}")))
            .collect();
        for round in 0..rounds {
            let g = keyed(
                &s,
                &format!("Round {round}"),
                key(&format!("ROUND-{round:04}"), 10),
            );
            let barrier = std::sync::Arc::new(std::sync::Barrier::new(LEARNERS));
            let results: Vec<Result<Redemption, KeyRefusal>> = std::thread::scope(|scope| {
                let handles: Vec<_> = users
                    .iter()
                    .map(|&u| {
                        let (s, barrier) = (s.clone(), barrier.clone());
                        let k = format!("round-{round:04}");
                        scope.spawn(move || {
                            barrier.wait();
                            s.redeem_key(u, "l", &k, None, 5).unwrap()
                        })
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap()).collect()
            });
            let ok = results.iter().filter(|r| r.is_ok()).count();
            let used_up = results
                .iter()
                .filter(|r| matches!(r, Err(KeyRefusal::UsedUp)))
                .count();
            assert_eq!((ok, used_up), (10, 190), "round {round}");
            let rec = s.get_group(g).unwrap().unwrap();
            assert_eq!((rec.key_uses, rec.members), (10, 10), "round {round}");
            assert_eq!(s.key_redemptions(g, 1, 50).unwrap().1, 10);
        }
    }
}
