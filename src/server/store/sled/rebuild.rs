//! Rebuilding everything derived from the record trees: the index trees, the counters in
//! `meta` and the default group pointer (what `check.rs` verifies against the records).
//!
//! A backup carries the derived trees too, but a store filled from another backend's rows
//! (a backup taken on PostgreSQL, `postgres/backup.rs`) has only its records: this writes the
//! rest exactly as the operations would have, so the file it becomes is the file the embedded
//! backend would have written for the same records, and passes `check`.
//!
//! What is derived (cleared and written again):
//! - index trees: [`DERIVED_TREES`];
//! - in `meta`: every `count/...` counter but a message's own (`count/msg/<id>/...`: how many of
//!   its e-mails were sent or failed is history no record keeps, so they are record data), and
//!   `default_group`.
//!
//! Kept as they are: every record tree, and in `meta` the schema version, the settings, the last
//! backup, the mass enrolment pointers (`mass_enrol/<group>`, `last_mass_enrol/<group>`) and a
//! message's counters.
//!
//! A counter that would be zero is not written: a missing counter reads as zero (`read_counter`),
//! and a store never written to by the operations has none. (The operations leave a counter at
//! zero when what it counted is gone; that is the one difference from such a store, and it
//! reads the same.)

#[allow(unused_imports)]
use crate::server::store::prelude::*;

use super::codec::{fold, id_key};
use super::enrolments::pair_key;
use super::{counter_key, search, SledStore, StoreError};
use crate::model::group::fold_key;
use std::collections::BTreeMap;

/// The index trees derived from the records (every tree of `tables::of` that is not a record
/// tree, `meta` or `user_secrets`).
pub(crate) const DERIVED_TREES: &[&str] = &[
    "login_user",
    "email_user",
    "search_user",
    "branch_name",
    "search_branch",
    "branch_children",
    "course_code",
    "course_suffix",
    "curriculum_name",
    "search_curriculum",
    "course_curricula",
    "course_users",
    "group_name",
    "group_suffix",
    "group_by_members",
    "group_key",
    "user_groups",
    "course_groups",
    "curriculum_groups",
    "manager_groups",
    "audit_index",
    "group_messages",
];

/// Whether `key` of `meta` is derived (see the module docs).
pub(crate) fn derived_meta_key(key: &[u8]) -> bool {
    key == super::groups::DEFAULT_GROUP
        || (key.starts_with(b"count/") && !key.starts_with(b"count/msg/"))
}

/// Entries written per batch.
const BATCH: usize = 10_000;

/// Batched writes into one tree.
struct Filler<'a> {
    tree: &'a sled::Tree,
    batch: sled::Batch,
    pending: usize,
}

impl<'a> Filler<'a> {
    fn new(tree: &'a sled::Tree) -> Self {
        Filler {
            tree,
            batch: sled::Batch::default(),
            pending: 0,
        }
    }

    fn put(&mut self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<(), StoreError> {
        self.batch.insert(key.as_ref(), value.as_ref());
        self.pending += 1;
        if self.pending == BATCH {
            self.tree.apply_batch(std::mem::take(&mut self.batch))?;
            self.pending = 0;
        }
        Ok(())
    }

    fn done(self) -> Result<(), StoreError> {
        self.tree.apply_batch(self.batch)?;
        Ok(())
    }
}

/// The counters being recounted, by name (`counter_key`'s argument).
#[derive(Default)]
struct Counts(BTreeMap<String, u64>);

impl Counts {
    fn add(&mut self, name: impl Into<String>) {
        *self.0.entry(name.into()).or_default() += 1;
    }
}

impl SledStore {
    /// Clears every derived tree and counter and writes them again from the record trees (see
    /// the module docs). Not atomic and takes no gate: for a store nothing else uses (one being
    /// filled for a backup, or a restore's before it opens). Returns the entries written.
    pub(crate) fn rebuild_derived(&self) -> Result<u64, StoreError> {
        for name in DERIVED_TREES {
            self.db.open_tree(name)?.clear()?;
        }
        let mut stale = sled::Batch::default();
        for key in self.meta.iter().keys() {
            let key = key?;
            if derived_meta_key(&key) {
                stale.remove(key);
            }
        }
        self.meta.apply_batch(stale)?;

        let mut counts = Counts::default();
        let mut n = self.rebuild_users(&mut counts)?;
        n += self.rebuild_catalogue(&mut counts)?;
        n += self.rebuild_groups(&mut counts)?;
        n += self.rebuild_messages(&mut counts)?;
        n += super::audit::build_index(self)? * 2;
        let mut meta = Filler::new(&self.meta);
        for (name, count) in counts.0 {
            meta.put(counter_key(&name), count.to_be_bytes())?;
            n += 1;
        }
        meta.done()?;
        Ok(n)
    }

    /// `login_user`, `email_user`, `search_user`; the users and active administrators counted.
    fn rebuild_users(&self, counts: &mut Counts) -> Result<u64, StoreError> {
        let mut logins = Filler::new(&self.login_user);
        let mut emails = Filler::new(&self.email_user);
        let mut terms = Filler::new(&self.search_user);
        let mut n = 0;
        for item in self.users.iter() {
            let (_, u) = self.users.decode_row(item)?;
            logins.put(fold(&u.login), id_key(u.id))?;
            emails.put(fold(&u.email), id_key(u.id))?;
            for t in super::users::search_terms(&u) {
                terms.put(search::key(&t, u.id), [])?;
                n += 1;
            }
            counts.add(super::users::COUNT_USERS);
            if u.is_active_admin() {
                counts.add(super::users::COUNT_ACTIVE_ADMINS);
            }
            n += 2;
        }
        logins.done()?;
        emails.done()?;
        terms.done()?;
        Ok(n)
    }

    /// Branches, courses, curricula and enrolments: their names, search terms and links.
    fn rebuild_catalogue(&self, counts: &mut Counts) -> Result<u64, StoreError> {
        let mut n = 0;
        let mut names = Filler::new(&self.branch_name);
        let mut terms = Filler::new(&self.search_branch);
        let mut children = Filler::new(&self.branch_children);
        for item in self.branches.iter() {
            let (_, b) = self.branches.decode_row(item)?;
            names.put(fold(&b.name), id_key(b.id))?;
            for t in search::terms(&[&b.name]) {
                terms.put(search::key(&t, b.id), [])?;
                n += 1;
            }
            if let Some(p) = b.parent {
                children.put(super::branches::child_key(p, b.id), [])?;
                counts.add(super::branches::children_counter(p));
                n += 1;
            }
            counts.add(super::branches::COUNT_BRANCHES);
            n += 1;
        }
        names.done()?;
        terms.done()?;
        children.done()?;

        let mut codes = Filler::new(&self.course_code);
        for item in self.courses.iter() {
            let (_, c) = self.courses.decode_row(item)?;
            codes.put(fold(&c.code), id_key(c.id))?;
            counts.add(super::courses::COUNT_COURSES);
            n += 1;
        }
        codes.done()?;
        self.rebuild_course_search()?;
        n += self.course_suffix.len() as u64;

        let mut names = Filler::new(&self.curriculum_name);
        let mut terms = Filler::new(&self.search_curriculum);
        let mut links = Filler::new(&self.course_curricula);
        for item in self.curricula.iter() {
            let (_, c) = self.curricula.decode_row(item)?;
            names.put(fold(&c.name), id_key(c.id))?;
            for t in search::terms(&[&c.name]) {
                terms.put(search::key(&t, c.id), [])?;
                n += 1;
            }
            for course in &c.courses {
                links.put(super::curricula::link_key(*course, c.id), [])?;
                n += 1;
            }
            counts.add(super::curricula::COUNT_CURRICULA);
            n += 1;
        }
        names.done()?;
        terms.done()?;
        links.done()?;

        let mut learners = Filler::new(&self.course_users);
        for key in self.enrolments.iter().keys() {
            let key = key?;
            let (user, course) = pair_ids("enrolments", &key)?;
            learners.put(pair_key(course, user), [])?;
            counts.add(super::courses::enrolled_counter(course));
            n += 1;
        }
        learners.done()?;
        Ok(n)
    }

    /// Groups: names, suffixes, member order, keys, the default; members, managers and links
    /// in reverse.
    fn rebuild_groups(&self, counts: &mut Counts) -> Result<u64, StoreError> {
        let mut n = 0;
        let mut names = Filler::new(&self.group_name);
        let mut suffixes = Filler::new(&self.group_suffix);
        let mut by_members = Filler::new(&self.group_by_members);
        let mut keys = Filler::new(&self.group_key);
        let mut meta = Filler::new(&self.meta);
        for item in self.groups.iter() {
            let (_, g) = self.groups.decode_row(item)?;
            names.put(fold(&g.name), id_key(g.id))?;
            for s in crate::server::store::groups::suffixes(&g.name) {
                suffixes.put(super::groups::suffix_key(&s, g.id), [])?;
                n += 1;
            }
            by_members.put(super::groups::members_key(g.members, g.id), [])?;
            if let Some(k) = &g.key.key {
                keys.put(fold_key(k), id_key(g.id))?;
                n += 1;
            }
            if g.is_default {
                meta.put(super::groups::DEFAULT_GROUP, id_key(g.id))?;
                n += 1;
            }
            if let Some(b) = g.branch {
                counts.add(super::groups::branch_counter(b));
            }
            counts.add(super::groups::COUNT_GROUPS);
            n += 2;
        }
        names.done()?;
        suffixes.done()?;
        by_members.done()?;
        keys.done()?;
        meta.done()?;

        for (forward, name, back) in [
            (&*self.group_members, "group_members", &self.user_groups),
            (&self.group_managers, "group_managers", &self.manager_groups),
        ] {
            let mut reverse = Filler::new(back);
            for key in forward.iter().keys() {
                let (group, user) = pair_ids(name, &key?)?;
                reverse.put(pair_key(user, group), [])?;
                n += 1;
            }
            reverse.done()?;
        }

        let mut courses = Filler::new(&self.course_groups);
        let mut curricula = Filler::new(&self.curriculum_groups);
        for item in self.group_links.iter() {
            let (key, links) = self.group_links.decode_row(item)?;
            let group = super::codec::read_id("group_links", &key, &key)?;
            for c in &links.courses {
                courses.put(pair_key(*c, group), [])?;
                n += 1;
            }
            for c in &links.curricula {
                curricula.put(pair_key(*c, group), [])?;
                n += 1;
            }
        }
        courses.done()?;
        curricula.done()?;
        Ok(n)
    }

    /// A group's sent messages; each user's inbox and unread counts.
    fn rebuild_messages(&self, counts: &mut Counts) -> Result<u64, StoreError> {
        let mut n = 0;
        let mut sent = Filler::new(&self.group_messages);
        for item in self.messages.iter() {
            let (key, m) = self.messages.decode_row(item)?;
            let id = super::codec::read_id("messages", &key, &key)?;
            sent.put(pair_key(m.group, id), [])?;
            counts.add(super::messages::sent_counter(m.group));
            n += 1;
        }
        sent.done()?;
        for item in self.inbox.iter() {
            let (key, entry) = self.inbox.decode_row(item)?;
            let (user, _) = pair_ids("inbox", &key)?;
            counts.add(super::messages::inbox_counter(user));
            if !entry.read {
                counts.add(super::messages::unread_counter(user));
            }
        }
        Ok(n)
    }
}

/// The two ids of a 16-byte key.
fn pair_ids(tree: &'static str, key: &[u8]) -> Result<(u64, u64), StoreError> {
    if key.len() != 16 {
        return Err(StoreError::Corrupt {
            tree,
            key: super::codec::show_key(key),
            reason: "not 16 bytes".into(),
        });
    }
    Ok((
        super::codec::read_id(tree, key, &key[..8])?,
        super::codec::read_id(tree, key, &key[8..])?,
    ))
}

#[cfg(test)]
pub(crate) mod tests;
