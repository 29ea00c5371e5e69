//! Group keys: a user who knows a group's key joins the group and is enrolled in what it gives
//! (see [`Store::redeem_key`]).

use crate::server::store::StoreError;

use super::*;
use crate::model::user::UserView;
use crate::server::store::codec::Record;
use crate::server::store::users::{PasswordHash, UserFields};
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

    /// The HTTP status of the answer, one per reason, so a client can tell them apart.
    pub fn http_status(&self) -> u16 {
        match self {
            KeyRefusal::Blank => 422,
            KeyRefusal::Unknown => 404,
            KeyRefusal::AlreadyMember { .. } => 409,
            KeyRefusal::Disabled => 423,
            KeyRefusal::NotYetValid => 425,
            KeyRefusal::Expired => 410,
            KeyRefusal::UsedUp => 403,
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

/// What the group page's key buttons do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyChange {
    /// A new random key replaces the old one (which stops working at once); its uses start
    /// again at 0. Members who joined with the old key stay.
    Regenerate,
    /// [`KeyChange::Regenerate`] asked by one of the group's managers: done only while the
    /// group lets its managers regenerate its key, `Forbidden` otherwise (checked in the
    /// transaction that changes the key, so an administrator turning the setting off wins).
    RegenerateAsManager,
    Disable,
    Enable,
}

impl KeyChange {
    /// Whether the change draws a new key (which the backend must index in its place).
    pub fn regenerates(self) -> bool {
        matches!(self, KeyChange::Regenerate | KeyChange::RegenerateAsManager)
    }
}

/// Why [`GroupKeys::change_key`] refuses `change` to group `rec`, checked in the transaction
/// that would make it: a manager's regenerate while the group does not allow it
/// (`Forbidden`), or disabling / enabling a key the group does not have.
pub fn key_change_refusal(rec: &GroupRecord, change: KeyChange) -> Option<StoreError> {
    match change {
        KeyChange::RegenerateAsManager if !rec.managers_regenerate_key => {
            Some(StoreError::Forbidden)
        }
        KeyChange::Disable | KeyChange::Enable if rec.key.key.is_none() => Some(
            StoreError::invalid("key", "This group has no key. Generate one first."),
        ),
        _ => None,
    }
}

/// Makes `change` (not refused by [`key_change_refusal`]) in the group's record, `fresh` being
/// the new key of a regenerate (the backend has checked it is free and indexed it). Returns
/// the audit line, or `None` when the key is already so (a second click, a stale page):
/// nothing to write or record.
pub fn apply_key_change(
    rec: &mut GroupRecord,
    change: KeyChange,
    fresh: &str,
) -> Option<&'static str> {
    match change {
        KeyChange::Regenerate | KeyChange::RegenerateAsManager => {
            if rec.key.key.is_none() {
                rec.key.enabled = true;
            }
            rec.key.key = Some(fresh.to_string());
            rec.key_uses = 0;
            Some("New key generated: the old key no longer works; members stay.")
        }
        KeyChange::Disable | KeyChange::Enable => {
            let enable = change == KeyChange::Enable;
            if rec.key.enabled == enable {
                return None;
            }
            rec.key.enabled = enable;
            Some(if enable {
                "Key enabled."
            } else {
                "Key disabled: it is refused until enabled again."
            })
        }
    }
}

/// The store's operations on this area (see the contract in `store/mod.rs`).
pub trait GroupKeys: Send + Sync {
    /// The group whose key is `raw` (folded), or the refusal for a blank or unknown key (a
    /// point read: callers check it before costlier work).
    fn key_owner(&self, raw: &str) -> Result<Result<(String, u64), KeyRefusal>, StoreError>;

    /// User `user` (login `login`) redeems `raw` (compared without surrounding spaces and
    /// ignoring case). The key's validity and limit, the membership, the enrolments (source
    /// "group key"), the use counter and the redemption record are one transaction: a use is
    /// counted only when it makes a membership, and a key with a maximum of N uses makes at
    /// most N however many redeem at once. A refusal for a known key is an audit event of its
    /// group and changes nothing else.
    fn redeem_key(
        &self,
        user: u64,
        login: &str,
        raw: &str,
        client: Option<String>,
        now: u64,
    ) -> Result<Result<Redemption, KeyRefusal>, StoreError>;

    /// A visitor signs up with a group key: the account (joining the default group as every
    /// new user does) and the key's redemption are one transaction. When the key is refused,
    /// no account is made and no use is counted (the refusal is an audit event of a known key's
    /// group). When the key's group is the default group, the account joins it as the default
    /// and no use is counted. `Invalid` for a login or e-mail in use, as `create_user`.
    fn signup_with_key(
        &self,
        fields: &UserFields,
        hash: &PasswordHash,
        raw: &str,
        client: Option<String>,
        now: u64,
    ) -> Result<Result<(UserView, Redemption), KeyRefusal>, StoreError>;

    /// Regenerates, disables or enables group `group`'s key (see [`KeyChange`]); an audit
    /// event of the group. Disabling or enabling a group without a key is `Invalid` on `key`.
    fn change_key(
        &self,
        actor: Actor,
        group: u64,
        change: KeyChange,
    ) -> Result<GroupRecord, StoreError>;

    /// A page (newest first, from 1) of who redeemed group `group`'s key, with the total.
    fn key_redemptions(
        &self,
        group: u64,
        page: u32,
        per_page: u32,
    ) -> Result<(Vec<(u64, RedemptionRecord)>, u64), StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::catalog::EnrolSource;
    use crate::server::store::enrolments::tests_support::{course, learner};
    #[allow(unused_imports)]
    use crate::server::store::tests::prelude::*;
    use crate::server::store::tests::{dump, temp_store, Dump, TestBackend};
    use proptest::prelude::*;

    /// The tables (sled: trees) that hold the audit trail and its indexes, on any backend:
    /// sled keeps the trail and an index tree, PostgreSQL one table with its indexes.
    const AUDIT_TABLES: &[&str] = &["audit", "audit_index"];

    /// Asserts that between `before` and `after` only the audit trail changed, by one new
    /// refused-key event of group `g`: what a refusal writes and nothing else.
    fn only_a_refusal_was_audited(s: &Store, g: u64, before: &Dump, events_before: usize) {
        let after = dump(s);
        let changed: Vec<&str> = before
            .iter()
            .zip(&after)
            .filter(|(x, y)| x != y)
            .map(|(x, _)| x.0.as_str())
            .collect();
        assert!(
            !changed.is_empty() && changed.iter().all(|t| AUDIT_TABLES.contains(t)),
            "a refusal writes its audit event only: {changed:?}"
        );
        let events = s.group_activity(g, usize::MAX).unwrap();
        assert_eq!(events.len(), events_before + 1);
        assert_eq!(events[0].1.action, AuditKind::KeyRefused);
    }

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
        let events = s.group_activity(g, usize::MAX).unwrap().len();
        let before = dump(&s);
        assert_eq!(
            redeem(&s, c2, "PHYS-2026", 8).unwrap_err(),
            KeyRefusal::UsedUp
        );
        only_a_refusal_was_audited(&s, g, &before, events);
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
                ..key("OFF-KEY-42", 0)
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
            redeem(&s, c2, "off-key-42", 5).unwrap_err(),
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
    /// exactly 10 join, the counter says 10, and 190 are told it is used up. `TESSERA_KEY_ROUNDS`
    /// rounds: by default 100 on sled and 25 on PostgreSQL, where a round takes half a second
    /// of the test command's time; the long run is `TESSERA_KEY_ROUNDS=1000` (BENCHMARKS.md,
    /// "Group key redemptions under load").
    #[test]
    fn a_limited_key_is_never_over_redeemed() {
        const LEARNERS: usize = 200;
        let rounds: usize = std::env::var("TESSERA_KEY_ROUNDS")
            .ok()
            .and_then(|r| r.parse().ok())
            .unwrap_or(match TestBackend::current() {
                TestBackend::Sled => 100,
                TestBackend::Postgres => 25,
            });
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

    fn fields_of(s: &Store, g: u64) -> GroupFields {
        let rec = s.get_group(g).unwrap().unwrap();
        GroupFields {
            name: rec.name,
            description: rec.description,
            branch: rec.branch,
            key: KeySettings::from(&rec.key),
            is_default: rec.is_default,
        }
    }

    const ADMIN: Actor = Actor { user: 0, now: 1 };

    #[test]
    fn regenerate_disable_and_enable() {
        let (_d, s) = temp_store();
        let g = keyed(&s, "Physics", key("PHYS-2026", 0));
        let other = keyed(&s, "Chemistry", key("CHEM-2026", 0));
        let a = learner(&s, "a");
        redeem(&s, a, "PHYS-2026", 5).unwrap();

        let rec = s.change_key(ADMIN, g, KeyChange::Regenerate).unwrap();
        let fresh = rec.key.key.clone().unwrap();
        assert_ne!(fresh, "PHYS-2026");
        assert!(fresh.len() >= 12, "12 characters of 25: 55 bits");
        assert!(fresh
            .bytes()
            .all(|c| c == b'-' || crate::model::group::KEY_ALPHABET.contains(&c)));
        assert_eq!(rec.key_uses, 0, "uses start again with a new key");
        assert!(s.membership(g, a).unwrap().is_some(), "members stay");
        let b = learner(&s, "b");
        assert_eq!(
            redeem(&s, b, "phys-2026", 6).unwrap_err(),
            KeyRefusal::Unknown,
            "the old key no longer works"
        );
        assert_eq!(redeem(&s, b, &fresh, 6).unwrap().group, g);

        s.change_key(ADMIN, g, KeyChange::Disable).unwrap();
        let before = dump(&s);
        s.change_key(ADMIN, g, KeyChange::Disable).unwrap();
        assert_eq!(before, dump(&s), "disabling a disabled key changes nothing");
        let c = learner(&s, "c");
        assert_eq!(redeem(&s, c, &fresh, 7).unwrap_err(), KeyRefusal::Disabled);
        s.change_key(ADMIN, g, KeyChange::Enable).unwrap();
        assert!(redeem(&s, c, &fresh, 8).is_ok());
        assert_eq!(s.get_group(g).unwrap().unwrap().key_uses, 2);

        // A group without a key: disabling says so and changes nothing; regenerating makes one.
        let bare = keyed(&s, "Bare", KeySettings::default());
        let before = dump(&s);
        let e = s.change_key(ADMIN, bare, KeyChange::Disable).unwrap_err();
        assert!(matches!(e, StoreError::Invalid { field: "key", .. }));
        assert_eq!(before, dump(&s));
        let made = s.change_key(ADMIN, bare, KeyChange::Regenerate).unwrap();
        assert!(made.key.enabled && made.key.key.is_some());
        assert!(matches!(
            s.change_key(ADMIN, 999_999, KeyChange::Regenerate),
            Err(StoreError::NotFound("group"))
        ));
        // The other group's key is untouched and still unique.
        assert_eq!(
            s.get_group(other).unwrap().unwrap().key.key.as_deref(),
            Some("CHEM-2026")
        );
        let e = s
            .update_group(
                ADMIN,
                other,
                &GroupFields {
                    key: key(&fresh.to_lowercase(), 0),
                    ..fields_of(&s, other)
                },
            )
            .unwrap_err();
        assert!(matches!(e, StoreError::Invalid { field: "key", .. }));
    }

    #[test]
    fn lowering_the_maximum_below_the_uses_stops_further_uses() {
        let (_d, s) = temp_store();
        let g = keyed(&s, "Physics", key("PHYS-2026", 5));
        let [a, b, c] = ["a", "b", "c"].map(|l| learner(&s, l));
        redeem(&s, a, "PHYS-2026", 5).unwrap();
        redeem(&s, b, "PHYS-2026", 5).unwrap();
        let f = fields_of(&s, g);
        s.update_group(
            ADMIN,
            g,
            &GroupFields {
                key: KeySettings {
                    max_uses: 1,
                    ..f.key.clone()
                },
                ..f
            },
        )
        .unwrap();
        let rec = s.get_group(g).unwrap().unwrap();
        assert_eq!((rec.key_uses, rec.members), (2, 2), "members stay");
        assert_eq!(
            redeem(&s, c, "PHYS-2026", 6).unwrap_err(),
            KeyRefusal::UsedUp
        );
    }

    fn new_fields(login: &str) -> UserFields {
        UserFields {
            login: login.into(),
            email: format!("{login}@x.org"),
            display_name: login.into(),
            role: crate::model::user::Role::Learner,
        }
    }

    #[test]
    fn signing_up_with_a_key_makes_the_account_and_the_membership_together() {
        let (_d, s) = temp_store();
        let c = course(&s, "PHY-1");
        let g = keyed(&s, "Physics", key("PHYS-2026", 1));
        s.link_group_course(ADMIN, g, c, true).unwrap();
        let hash = PasswordHash::from_phc("$x".into());

        // Refusals make no account and use nothing (a known key's group gets its audit line).
        let before = dump(&s);
        for (raw, want) in [
            ("  ", KeyRefusal::Blank),
            ("NOPE-9999", KeyRefusal::Unknown),
        ] {
            let r = s
                .signup_with_key(&new_fields("ann"), &hash, raw, None, 5)
                .unwrap();
            assert_eq!(r.unwrap_err(), want);
        }
        assert_eq!(before, dump(&s), "blank and unknown keys write nothing");

        let (user, joined) = s
            .signup_with_key(&new_fields("ann"), &hash, " phys-2026 ", None, 5)
            .unwrap()
            .unwrap();
        assert_eq!((joined.group, joined.enrolled), (g, 1));
        assert_eq!(joined.courses.iter().map(|c| c.id).collect::<Vec<_>>(), [c]);
        assert!(s.membership(g, user.id).unwrap().is_some());
        assert_eq!(
            s.enrolment(user.id, c).unwrap().unwrap().source,
            EnrolSource::GroupKey
        );
        assert_eq!(s.get_group(g).unwrap().unwrap().key_uses, 1);
        assert_eq!(s.key_redemptions(g, 1, 10).unwrap().1, 1);

        // Used up: no account, no use; only the group's audit line is new.
        let users = s.user_count().unwrap();
        let events = s.group_activity(g, usize::MAX).unwrap().len();
        let before = dump(&s);
        let r = s
            .signup_with_key(&new_fields("bob"), &hash, "PHYS-2026", None, 6)
            .unwrap();
        assert_eq!(r.unwrap_err(), KeyRefusal::UsedUp);
        assert_eq!(s.user_count().unwrap(), users);
        assert!(s.find_for_login("bob").unwrap().is_none());
        only_a_refusal_was_audited(&s, g, &before, events);
        let (_, line) = s.group_activity(g, 1).unwrap().remove(0);
        assert_eq!(line.actor, 0, "no account to name");
        assert!(
            line.detail.starts_with("A visitor signing up as \"bob\""),
            "{}",
            line.detail
        );

        // A login in use is the usual field error, and the key is not used.
        let free = keyed(&s, "Open", key("OPEN-2026", 0));
        let e = s
            .signup_with_key(&new_fields("ann"), &hash, "OPEN-2026", None, 7)
            .unwrap_err();
        assert!(matches!(e, StoreError::Invalid { field: "login", .. }));
        assert_eq!(s.get_group(free).unwrap().unwrap().key_uses, 0);
    }

    #[test]
    fn signing_up_with_the_default_groups_key_joins_once_and_uses_nothing() {
        let (_d, s) = temp_store();
        let g = keyed(&s, "Everyone", key("ALL-2026-X", 0));
        let f = fields_of(&s, g);
        s.update_group(
            ADMIN,
            g,
            &GroupFields {
                is_default: true,
                ..f
            },
        )
        .unwrap();
        let hash = PasswordHash::from_phc("$x".into());
        let (user, joined) = s
            .signup_with_key(&new_fields("dee"), &hash, "all-2026-x", None, 5)
            .unwrap()
            .unwrap();
        assert_eq!(joined.group, g);
        let rec = s.get_group(g).unwrap().unwrap();
        assert_eq!((rec.members, rec.key_uses), (1, 0));
        assert_eq!(
            s.membership(g, user.id).unwrap().unwrap().how,
            JoinedHow::Default.into()
        );
    }

    /// One step of the interleaving test.
    #[derive(Debug, Clone)]
    enum Op {
        /// Learner `0` redeems the current key, or (when `1`) the key before the last change.
        Redeem(usize, bool),
        Regenerate,
        Disable,
        Enable,
        ChangeMax(u32),
        Remove(usize),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            6 => (0..5usize, prop::bool::weighted(0.15)).prop_map(|(u, old)| Op::Redeem(u, old)),
            1 => Just(Op::Regenerate),
            1 => Just(Op::Disable),
            1 => Just(Op::Enable),
            1 => (0..4u32).prop_map(Op::ChangeMax),
            2 => (0..5usize).prop_map(Op::Remove),
        ]
    }

    /// What a group key should do, kept by hand.
    struct Model {
        key: String,
        old: Option<String>,
        enabled: bool,
        max: u32,
        uses: u32,
        members: std::collections::BTreeSet<usize>,
        redemptions: u64,
    }

    impl Model {
        fn redeem(&mut self, u: usize, old: bool) -> Result<(), KeyRefusal> {
            if old {
                return Err(KeyRefusal::Unknown);
            }
            if self.members.contains(&u) {
                return Err(KeyRefusal::AlreadyMember {
                    group: 0,
                    name: String::new(),
                });
            }
            if !self.enabled {
                return Err(KeyRefusal::Disabled);
            }
            if self.max > 0 && self.uses >= self.max {
                return Err(KeyRefusal::UsedUp);
            }
            self.members.insert(u);
            self.uses += 1;
            self.redemptions += 1;
            Ok(())
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
        /// Random interleavings of redeem / regenerate / disable / enable / change the maximum /
        /// remove a member agree with the model at every step: outcome, uses, members and
        /// redemption records.
        #[test]
        fn key_operations_agree_with_a_model(ops in proptest::collection::vec(op(), 1..40)) {
            let (_d, s) = temp_store();
            let g = keyed(&s, "Physics", key("PHYS-2026", 2));
            let users: Vec<u64> = (0..5).map(|i| learner(&s, &format!("m{i}"))).collect();
            let mut m = Model {
                key: "PHYS-2026".into(),
                old: None,
                enabled: true,
                max: 2,
                uses: 0,
                members: Default::default(),
                redemptions: 0,
            };
            for (step, op) in ops.iter().enumerate() {
                match op {
                    Op::Redeem(u, old) => {
                        let typed = if *old { m.old.clone().unwrap_or_else(|| "NEVER-SET-1".into()) } else { m.key.to_lowercase() };
                        let got = redeem(&s, users[*u], &typed, 10).map(|_| ());
                        let want = m.redeem(*u, *old);
                        let got = got.map_err(|e| match e {
                            KeyRefusal::AlreadyMember { group, .. } => {
                                assert_eq!(group, g);
                                KeyRefusal::AlreadyMember { group: 0, name: String::new() }
                            }
                            other => other,
                        });
                        prop_assert_eq!(got, want, "step {} {:?}", step, op);
                    }
                    Op::Regenerate => {
                        let rec = s.change_key(ADMIN, g, KeyChange::Regenerate).unwrap();
                        m.old = Some(std::mem::replace(&mut m.key, rec.key.key.unwrap()));
                        m.uses = 0;
                    }
                    Op::Disable | Op::Enable => {
                        let on = matches!(op, Op::Enable);
                        s.change_key(ADMIN, g, if on { KeyChange::Enable } else { KeyChange::Disable }).unwrap();
                        m.enabled = on;
                    }
                    Op::ChangeMax(n) => {
                        let f = fields_of(&s, g);
                        let f = GroupFields { key: KeySettings { max_uses: *n, ..f.key.clone() }, ..f };
                        s.update_group(ADMIN, g, &f).unwrap();
                        m.max = *n;
                    }
                    Op::Remove(u) => {
                        let r = s.remove_member(ADMIN, g, users[*u], false);
                        if m.members.remove(u) {
                            r.unwrap();
                        } else {
                            prop_assert!(matches!(r, Err(StoreError::NotFound("member"))));
                        }
                    }
                }
                let rec = s.get_group(g).unwrap().unwrap();
                prop_assert_eq!(rec.key_uses, m.uses, "uses after step {} {:?}", step, op);
                prop_assert_eq!(rec.members, m.members.len() as u64);
                prop_assert_eq!(rec.key.enabled, m.enabled);
                prop_assert_eq!(rec.key.max_uses, m.max);
                for (i, &u) in users.iter().enumerate() {
                    prop_assert_eq!(s.membership(g, u).unwrap().is_some(), m.members.contains(&i));
                }
                prop_assert_eq!(s.key_redemptions(g, 1, 1).unwrap().1, m.redemptions);
            }
        }
    }
}
