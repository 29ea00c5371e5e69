//! The sled backend's Checks (the interface: `crate::server::store::check`).

pub(crate) use crate::server::store::check::*;

#[allow(unused_imports)]
use crate::server::store::prelude::*;

use super::audit::{index_entries, read_entry};
use super::codec::{fold, id_key, read_id, show_key, Record};
use super::courses::{enrolled_counter, CourseRecord};
use super::enrolments::pair_key;
use super::groups::GroupRecord;
use super::jobs::{JobKind, JobRecord, JobState};
use super::messages::{inbox_counter, unread_counter};
use super::tables::{KeyLayout, Table};
use super::users::UserRecord;
use super::{counter_key, read_counter, SledStore, StoreError};
use crate::model::group::fold_key;
use std::collections::{BTreeMap, HashMap, HashSet};

/// The second id of a two-id key.
fn pair(tree: &'static str, k: &[u8]) -> Result<(u64, u64), StoreError> {
    if k.len() != 16 {
        return Err(StoreError::Corrupt {
            tree,
            key: show_key(k),
            reason: "not 16 bytes".into(),
        });
    }
    Ok((read_id(tree, k, &k[..8])?, read_id(tree, k, &k[8..])?))
}

impl Checks for SledStore {
    fn check(&self) -> Result<CheckReport, StoreError> {
        let mut r = CheckReport::default();

        // Every record decodes; the primary records are kept for the other rules.
        let users: HashMap<u64, UserRecord> = self.decode_all(&self.users, &mut r)?;
        let groups: HashMap<u64, GroupRecord> = self.decode_all(&self.groups, &mut r)?;
        let courses: HashMap<u64, CourseRecord> = self.decode_all(&self.courses, &mut r)?;
        let jobs: HashMap<u64, JobRecord> = self.decode_all(&self.jobs, &mut r)?;
        let messages: HashMap<u64, super::messages::MessageRecord> =
            self.decode_all(&self.messages, &mut r)?;
        self.decode_each(&self.branches, &mut r)?;
        self.decode_each(&self.curricula, &mut r)?;
        self.decode_each(&self.enrolments, &mut r)?;
        self.decode_each(&self.progress, &mut r)?;
        self.decode_each(&self.group_members, &mut r)?;
        self.decode_each(&self.group_links, &mut r)?;
        self.decode_each(&self.audit, &mut r)?;
        self.decode_each(&self.bulk_results, &mut r)?;
        self.decode_each(&self.key_redemptions, &mut r)?;
        self.decode_each(&self.imports, &mut r)?;
        self.decode_each(&self.import_rows, &mut r)?;
        self.decode_each(&self.password_tokens, &mut r)?;
        self.decode_each(&self.sessions, &mut r)?;
        self.decode_each(&self.message_bodies, &mut r)?;
        self.decode_each(&self.inbox, &mut r)?;
        self.decode_each(&self.outbox, &mut r)?;

        // Groups being swept after deletion still have memberships and managers.
        let sweeping: HashSet<u64> = jobs
            .values()
            .filter(|j| j.state == JobState::Pending)
            .filter_map(|j| match j.kind {
                JobKind::SweepGroup { group } => Some(group),
                _ => None,
            })
            .collect();
        let group_live = |g: u64| groups.contains_key(&g) || sweeping.contains(&g);

        // Logins and e-mails ↔ users.
        for (name, index, of) in [
            (
                "login_user",
                &self.login_user,
                (|u: &UserRecord| fold(&u.login)) as fn(&UserRecord) -> String,
            ),
            ("email_user", &self.email_user, |u: &UserRecord| {
                fold(&u.email)
            }),
        ] {
            let mut seen = HashSet::new();
            for item in index.iter() {
                let (k, v) = item?;
                let id = read_id(name, &k, &v)?;
                match users.get(&id) {
                    Some(u) if of(u).as_bytes() == k.as_ref() => {
                        seen.insert(id);
                    }
                    Some(u) => r.fail(
                        name,
                        format!("{} → user {id}, whose entry is {}", show_key(&k), of(u)),
                    ),
                    None => r.fail(
                        name,
                        format!("{} → user {id}, who does not exist", show_key(&k)),
                    ),
                }
            }
            for id in users.keys().filter(|id| !seen.contains(id)) {
                r.fail(name, format!("user {id} has no entry"));
            }
        }

        // Group names and keys ↔ groups; one default group.
        for (name, index, of) in [
            (
                "group_name",
                &self.group_name,
                (|g: &GroupRecord| Some(fold(&g.name))) as fn(&GroupRecord) -> Option<String>,
            ),
            ("group_key", &self.group_key, |g: &GroupRecord| {
                g.key.key.as_deref().map(fold_key)
            }),
        ] {
            let mut seen = HashSet::new();
            for item in index.iter() {
                let (k, v) = item?;
                let id = read_id(name, &k, &v)?;
                match groups.get(&id) {
                    Some(g) if of(g).is_some_and(|e| e.as_bytes() == k.as_ref()) => {
                        seen.insert(id);
                    }
                    Some(_) => r.fail(
                        name,
                        format!("{} → group {id}, whose entry differs", show_key(&k)),
                    ),
                    None => r.fail(
                        name,
                        format!("{} → group {id}, which does not exist", show_key(&k)),
                    ),
                }
            }
            for g in groups
                .values()
                .filter(|g| of(g).is_some() && !seen.contains(&g.id))
            {
                r.fail(name, format!("group {} has no entry", g.id));
            }
        }
        let defaults: Vec<u64> = groups
            .values()
            .filter(|g| g.is_default)
            .map(|g| g.id)
            .collect();
        let pointer = self.default_group()?;
        if defaults.len() > 1 || pointer != defaults.first().copied() {
            r.fail(
                "default_group",
                format!("groups flagged default: {defaults:?}; default_group names {pointer:?}"),
            );
        }

        // Memberships and managers, both ways, to live users and groups; member counts.
        let mut members: BTreeMap<u64, u64> = BTreeMap::new();
        for (rule, forward, back) in [
            ("group_members", &*self.group_members, &self.user_groups),
            ("group_managers", &self.group_managers, &self.manager_groups),
        ] {
            for k in forward.iter().keys() {
                let (g, u) = pair(rule, &k?)?;
                if back.get(pair_key(u, g))?.is_none() {
                    r.fail(rule, format!("group {g} user {u} has no reverse entry"));
                }
                if !users.contains_key(&u) || !group_live(g) {
                    r.fail(
                        rule,
                        format!("group {g} user {u}: the user or the group does not exist"),
                    );
                }
                if rule == "group_members" {
                    *members.entry(g).or_default() += 1;
                }
            }
            for k in back.iter().keys() {
                let (u, g) = pair(rule, &k?)?;
                if forward.get(pair_key(g, u))?.is_none() {
                    r.fail(rule, format!("user {u} group {g} (reverse) has no entry"));
                }
            }
        }
        for g in groups.values() {
            let counted = members.get(&g.id).copied().unwrap_or(0);
            if g.members != counted {
                r.fail(
                    "group members counter",
                    format!("group {}: says {}, has {counted}", g.id, g.members),
                );
            }
            let redeemed = self.key_redemptions.scan_prefix(id_key(g.id)).count() as u64;
            if u64::from(g.key_uses) > redeemed {
                r.fail(
                    "key uses",
                    format!(
                        "group {}: {} uses, {redeemed} redemptions recorded",
                        g.id, g.key_uses
                    ),
                );
            }
        }

        // Enrolments ↔ course_users, with sources, to live users and courses; course counters.
        let mut learners: BTreeMap<u64, u64> = BTreeMap::new();
        for item in self.enrolments.iter() {
            let (k, v) = item?;
            let (u, c) = pair("enrolments", &k)?;
            let e = self.enrolments.decode(&k, &v)?;
            if e.sources.is_empty() {
                r.fail("enrolments", format!("user {u} course {c} has no source"));
            }
            if self.course_users.get(pair_key(c, u))?.is_none() {
                r.fail(
                    "enrolments",
                    format!("user {u} course {c} has no course_users entry"),
                );
            }
            if !users.contains_key(&u) || !courses.contains_key(&c) {
                r.fail(
                    "enrolments",
                    format!("user {u} course {c}: the user or the course does not exist"),
                );
            }
        }
        for k in self.course_users.iter().keys() {
            let (c, u) = pair("course_users", &k?)?;
            *learners.entry(c).or_default() += 1;
            if self.enrolments.get(pair_key(u, c))?.is_none() {
                r.fail(
                    "course_users",
                    format!("course {c} user {u} has no enrolment"),
                );
            }
        }
        for c in courses.keys() {
            let said = read_counter(self.meta.get(counter_key(&enrolled_counter(*c)))?);
            let counted = learners.get(c).copied().unwrap_or(0);
            if said != counted {
                r.fail(
                    "course learners counter",
                    format!("course {c}: says {said}, has {counted}"),
                );
            }
        }

        self.check_audit_index(&mut r)?;

        // Inboxes: live users and messages; inbox and unread counters.
        let mut inbox: BTreeMap<u64, (u64, u64)> = BTreeMap::new();
        for item in self.inbox.iter() {
            let (k, v) = item?;
            let (u, m) = pair("inbox", &k)?;
            let entry = self.inbox.decode(&k, &v)?;
            let counts = inbox.entry(u).or_default();
            counts.0 += 1;
            counts.1 += u64::from(!entry.read);
            if !users.contains_key(&u) || !messages.contains_key(&m) {
                r.fail(
                    "inbox",
                    format!("user {u} message {m}: the user or the message does not exist"),
                );
            }
        }
        for u in users.keys() {
            let (entries, unread) = inbox.get(u).copied().unwrap_or((0, 0));
            let said_entries = read_counter(self.meta.get(counter_key(&inbox_counter(*u)))?);
            let said_unread = read_counter(self.meta.get(counter_key(&unread_counter(*u)))?);
            if (said_entries, said_unread) != (entries, unread) {
                r.fail(
                    "inbox counters",
                    format!("user {u}: say {said_entries} messages, {said_unread} unread; has {entries}, {unread}"),
                );
            }
        }
        Ok(r)
    }
}

impl SledStore {
    /// `audit` ↔ `audit_index`, both ways, one entry at a time (the trail can be long).
    pub(crate) fn check_audit_index(&self, r: &mut CheckReport) -> Result<(), StoreError> {
        const RULE: &str = "audit_index";
        for item in self.audit.iter() {
            let (k, v) = item?;
            let (group, event) = pair("audit", &k)?;
            let Ok(rec) = self.audit.decode(&k, &v) else {
                continue; // named by the record rule
            };
            let (keys, value) = index_entries(group, event, &rec);
            for key in keys {
                if self.audit_index.get(&key)?.as_deref() != Some(&value[..]) {
                    r.fail(
                        RULE,
                        format!(
                            "group {group} event {event}: entry {} missing or wrong",
                            show_key(&key)
                        ),
                    );
                }
            }
        }
        for item in self.audit_index.iter() {
            let (k, v) = item?;
            r.records += 1;
            let hit = match read_entry(&k, &v) {
                Ok(hit) => hit,
                Err(e) => {
                    r.fail(RULE, e.to_string());
                    continue;
                }
            };
            let key = pair_key(hit.group, hit.place.event);
            let ours = match self.audit.get(key)? {
                Some(b) => self
                    .audit
                    .decode(&key, &b)
                    .ok()
                    .map(|rec| index_entries(hit.group, hit.place.event, &rec)),
                None => None,
            };
            match ours {
                Some((keys, value))
                    if keys.iter().any(|x| x[..] == k[..]) && value[..] == v[..] => {}
                _ => r.fail(
                    RULE,
                    format!(
                        "{} → group {} event {}, which the trail does not have as indexed",
                        show_key(&k),
                        hit.group,
                        hit.place.event
                    ),
                ),
            }
        }
        Ok(())
    }

    /// Decodes every record of `tree`, keyed by the id its key holds.
    pub(crate) fn decode_all<K: KeyLayout, T: Record>(
        &self,
        tree: &Table<K, T>,
        r: &mut CheckReport,
    ) -> Result<HashMap<u64, T>, StoreError> {
        let mut out = HashMap::new();
        for item in tree.iter() {
            let (k, v) = item?;
            r.records += 1;
            match (read_id(T::TREE, &k, &k), tree.decode(&k, &v)) {
                (Ok(id), Ok(rec)) => {
                    out.insert(id, rec);
                }
                (Err(e), _) | (_, Err(e)) => r.fail("record", e.to_string()),
            }
        }
        Ok(out)
    }

    /// Decodes every record of `tree`.
    pub(crate) fn decode_each<K: KeyLayout, T: Record>(
        &self,
        tree: &Table<K, T>,
        r: &mut CheckReport,
    ) -> Result<(), StoreError> {
        for item in tree.iter() {
            let (k, v) = item?;
            r.records += 1;
            if let Err(e) = tree.decode(&k, &v) {
                r.fail("record", e.to_string());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[allow(unused_imports)]
    use crate::server::store::check::tests::*;
    #[allow(unused_imports)]
    use crate::server::store::sled::test_prelude::*;

    /// A store made by the store's own operations passes; each kind of damage is found and
    /// named.
    #[test]
    fn a_healthy_store_passes_and_damage_is_named() {
        let (_d, s) = sled_temp_store();
        let actor = Actor { user: 0, now: 1 };
        let g = plain_group(&s, "Physics");
        let u = learner(&s, "lee");
        let v = learner(&s, "ann");
        let c = crate::server::store::enrolments::tests_support::course(&s, "PHY");
        s.add_member(actor, g, u, JoinedHow::Manual).unwrap();
        s.add_member(actor, g, v, JoinedHow::Manual).unwrap();
        s.enrol(u, c, Source::Manual, 1).unwrap();
        s.set_group_manager(actor, g, v, true).unwrap();
        let (_, job) = s
            .send_message(Actor { user: u, now: 2 }, g, "S", "B", false)
            .unwrap();
        s.run_pending_jobs(3).unwrap();
        let _ = job;
        let report = s.check().unwrap();
        assert_eq!(report.violations, vec![], "a healthy store");
        assert!(report.records > 5);

        // Each damage, on a copy of the healthy state, is found by its rule.
        s.sled().user_groups.remove(pair_key(u, g)).unwrap();
        assert_eq!(rules(&s), vec!["group_members"]);
        s.sled().user_groups.insert(pair_key(u, g), &[]).unwrap();

        s.sled().course_users.remove(pair_key(c, u)).unwrap();
        assert_eq!(rules(&s), vec!["course learners counter", "enrolments"]);
        s.sled().course_users.insert(pair_key(c, u), &[]).unwrap();

        s.sled()
            .meta
            .insert(counter_key(&unread_counter(v)), &5u64.to_be_bytes())
            .unwrap();
        assert_eq!(rules(&s), vec!["inbox counters"]);
        s.sled()
            .meta
            .insert(counter_key(&unread_counter(v)), &1u64.to_be_bytes())
            .unwrap();

        s.sled().login_user.insert(b"ghost", &id_key(999)).unwrap();
        assert_eq!(rules(&s), vec!["login_user"]);
        s.sled().login_user.remove(b"ghost").unwrap();

        s.sled().meta.insert(b"default_group", &id_key(g)).unwrap();
        assert_eq!(rules(&s), vec!["default_group"]);
        s.sled().meta.remove(b"default_group").unwrap();

        s.sled()
            .inbox
            .put((u, 424242), &InboxRecord { read: true })
            .unwrap();
        assert_eq!(rules(&s), vec!["inbox", "inbox counters"]);
        s.sled().inbox.remove(pair_key(u, 424242)).unwrap();

        // The audit index: an entry gone, an entry for no event, an entry with the wrong kind,
        // an entry of a family schema 6 no longer keeps (by group, as schema 5 wrote it).
        let entries: Vec<_> = s.sled().audit_index.iter().map(|kv| kv.unwrap()).collect();
        assert!(entries.len() >= 2 * 5, "every event indexed two ways");
        let (k, v) = entries[0].clone();
        let (t, tv) = entries.iter().find(|(k, _)| k[0] == b'T').unwrap().clone();
        let by_group = [&b"G"[..], &t[17..], &t[1..]].concat();
        s.sled().audit_index.insert(&by_group, tv).unwrap();
        assert_eq!(rules(&s), vec!["audit_index"]);
        s.sled().audit_index.remove(&by_group).unwrap();
        s.sled().audit_index.remove(&k).unwrap();
        assert_eq!(rules(&s), vec!["audit_index"]);
        let mut stray = k.to_vec();
        let last = stray.len() - 1;
        stray[last] ^= 1;
        s.sled().audit_index.insert(&stray, v.clone()).unwrap();
        assert_eq!(rules(&s), vec!["audit_index"]);
        s.sled().audit_index.remove(&stray).unwrap();
        let mut wrong = v.to_vec();
        wrong[8] = (wrong[8] + 1) % 12;
        s.sled().audit_index.insert(&k, wrong).unwrap();
        assert_eq!(rules(&s), vec!["audit_index"]);
        s.sled().audit_index.insert(&k, v).unwrap();
        assert_eq!(s.check().unwrap().violations, vec![]);

        s.sled()
            .groups
            .insert(id_key(777), b"garbage".as_slice())
            .unwrap();
        assert!(rules(&s).contains(&"record"));
        s.sled().groups.remove(id_key(777)).unwrap();

        assert_eq!(s.check().unwrap().violations, vec![], "healthy again");
    }
}
