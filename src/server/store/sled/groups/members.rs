//! The sled backend's Memberships (the interface: `crate::server::store::groups::members`).

pub(crate) use crate::server::store::groups::members::*;

#[allow(unused_imports)]
use crate::server::store::prelude::*;

use super::*;
use crate::server::store::sled::enrolments::{tx_enrol_courses, EnrolCounts, Source};
use crate::server::store::sled::tx::tree_set;

/// The trees a new user's joining of the default group writes (see [`tx_join_default`]), as
/// [`DefaultJoinTx::view`] gives them.
pub(crate) struct DefaultJoinTrees<'a> {
    pub meta: &'a TransactionalTree,
    pub groups: &'a TransactionalTree,
    pub members: &'a TransactionalTree,
    pub user_groups: &'a TransactionalTree,
    pub by_members: &'a TransactionalTree,
    pub audit: AuditTrees<'a>,
    pub links: &'a TransactionalTree,
    pub curricula: &'a TransactionalTree,
    pub courses: &'a TransactionalTree,
    pub enrolments: &'a TransactionalTree,
    pub course_users: &'a TransactionalTree,
}

tree_set! {
    /// The trees joining a group (the default group, a key's group) writes, for transactions
    /// that hold them with more; [`DefaultJoinTx::view`] names them for the join functions.
    pub(crate) struct DefaultJoinTx {
        meta, groups, group_members, user_groups, group_by_members, audit, audit_index,
        group_links, curricula, courses, enrolments, course_users,
    }
}

/// Inside the transaction that creates user `user` (login `login`): when there is a default
/// group, the user joins it and is enrolled in the courses it gives (its own and its
/// curricula's; archived ones skipped), source "default group". `event` is an audit event id
/// drawn before the transaction. Returns the group and what the enrolment did.
pub(crate) fn tx_join_default(
    t: &DefaultJoinTrees<'_>,
    user: u64,
    login: &str,
    event: u64,
    now: u64,
) -> Tx<Option<(u64, EnrolCounts)>> {
    let Some(raw) = t.meta.get(DEFAULT_GROUP)? else {
        return Ok(None);
    };
    let group = read_id("meta", DEFAULT_GROUP, &raw).or_else(abort)?;
    if t.groups.get(id_key(group))?.is_none() {
        return Ok(None);
    }
    let joined = NewMember {
        group,
        user,
        how: JoinedHow::Default,
        source: Source::DefaultGroup(group),
        actor: Actor { user: 0, now },
        event,
    };
    Ok(tx_join_new_user(t, &joined, |n| {
        format!("{login} joined as a new user (default group); enrolled in {n} course(s).")
    })?
    .map(|counts| (group, counts)))
}

/// A user joining a group in the transaction that creates them (see [`tx_join_new_user`]).
pub(crate) struct NewMember {
    pub group: u64,
    pub user: u64,
    pub how: JoinedHow,
    /// The source of the enrolments the group gives.
    pub source: Source,
    pub actor: Actor,
    /// Audit event id, drawn before the transaction.
    pub event: u64,
}

/// Inside a transaction: `m.user` joins `m.group` and is enrolled in every course the group
/// gives (archived ones skipped), with an audit line saying `detail(courses enrolled)`.
/// `None` when already a member (nothing written).
pub(crate) fn tx_join_new_user(
    t: &DefaultJoinTrees<'_>,
    m: &NewMember,
    detail: impl Fn(u64) -> String,
) -> Tx<Option<EnrolCounts>> {
    let mut rec = tx_get(t.groups, m.group)?;
    let old = rec.members;
    if !tx_join(
        t.members,
        t.user_groups,
        &mut rec,
        m.user,
        m.how,
        m.actor.now,
    )? {
        return Ok(None);
    }
    tx_members_moved(t.by_members, &rec, old)?;
    tx_put(t.groups, &rec)?;
    let courses = links::tx_group_courses(t.links, t.curricula, t.courses, m.group)?;
    let e = EnrolTrees {
        enrolments: t.enrolments,
        course_users: t.course_users,
    };
    let (mut deltas, mut counts) = (CourseDeltas::default(), EnrolCounts::default());
    tx_enrol_courses(
        &e,
        &mut deltas,
        &mut counts,
        m.user,
        &courses,
        m.source,
        m.actor.now,
    )?;
    deltas.apply(t.meta)?;
    tx_audit(
        t.audit,
        m.group,
        m.event,
        m.actor,
        AuditAction::MembersAdded,
        detail(counts.enrolled),
    )?;
    Ok(Some(counts))
}

tree_set! {
    /// The trees removing a member writes (and ending what the group gave).
    struct RemoveMemberTx {
        groups, group_members, user_groups, group_by_members, audit, audit_index, enrolments, course_users, meta, users, group_links, curricula, courses,
    }
}

impl Memberships for SledStore {
    fn add_member(
        &self,
        actor: Actor,
        group: u64,
        user: u64,
        how: JoinedHow,
    ) -> Result<bool, StoreError> {
        let _w = self.writing();
        let event = self.new_id()?;
        let r = (
            &*self.groups,
            &*self.users,
            &*self.group_members,
            &self.user_groups,
            &self.group_by_members,
            &*self.audit,
            &self.audit_index,
        )
            .transaction(
                |(groups, users, members, user_groups, by_members, trail, index)| {
                    let mut rec = tx_get(groups, group)?;
                    let login = tx_user_login(users, user)?;
                    let old = rec.members;
                    if !tx_join(members, user_groups, &mut rec, user, how, actor.now)? {
                        return Ok(false);
                    }
                    tx_members_moved(by_members, &rec, old)?;
                    tx_put(groups, &rec)?;
                    tx_audit(
                        AuditTrees { trail, index },
                        group,
                        event,
                        actor,
                        AuditAction::MembersAdded,
                        format!("Added {login} ({}).", how.label()),
                    )?;
                    Ok(true)
                },
            )?;
        Ok(r)
    }

    fn remove_member(
        &self,
        actor: Actor,
        group: u64,
        user: u64,
        unenrol: bool,
    ) -> Result<u32, StoreError> {
        let _w = self.writing();
        let event = self.new_id()?;
        // The user's courses, read here (transactions cannot scan); each is read again inside.
        let enrolled: Vec<u64> = if unenrol {
            suffix_ids(&self.enrolments, "enrolments", user)?
        } else {
            Vec::new()
        };
        let r = RemoveMemberTx::run(self, |t| {
            let RemoveMemberTx {
                groups,
                group_members: members,
                user_groups,
                group_by_members: by_members,
                audit: trail,
                audit_index: index,
                enrolments,
                course_users,
                meta,
                users,
                group_links: links,
                curricula,
                courses,
            } = *t;
            let mut rec = tx_get(&groups, group)?;
            // A user is never deleted, but a missing one must not block removing the membership.
            let login = match users.get(id_key(user))? {
                Some(_) => tx_user_login(&users, user)?,
                None => format!("user #{user}"),
            };
            if members.remove(&pair_key(group, user))?.is_none() {
                return abort(StoreError::NotFound("member"));
            }
            user_groups.remove(&pair_key(user, group))?;
            let old = rec.members;
            rec.members = rec.members.saturating_sub(1);
            tx_members_moved(by_members, &rec, old)?;
            tx_put(&groups, &rec)?;
            let mut ended = 0u32;
            if unenrol {
                let e = EnrolTrees {
                    enrolments: &enrolments,
                    course_users,
                };
                let mut deltas = CourseDeltas::default();
                let mut ids: Vec<u64> =
                    links::tx_group_courses(&links, &curricula, &courses, group)?
                        .into_iter()
                        .map(|c| c.id)
                        .collect();
                ids.extend(enrolled.iter().copied());
                ids.sort_unstable();
                ids.dedup();
                for c in ids {
                    if e.drop_group(&mut deltas, user, c, group)? {
                        ended += 1;
                    }
                }
                deltas.apply(meta)?;
            }
            let detail = removed_detail(&login, unenrol, ended);
            tx_audit(
                AuditTrees {
                    trail: &trail,
                    index,
                },
                group,
                event,
                actor,
                AuditAction::MembersRemoved,
                detail,
            )?;
            Ok(ended)
        })?;
        Ok(r)
    }

    fn bulk_add_members(
        &self,
        actor: Actor,
        group: u64,
        entries: &[(u32, String)],
    ) -> Result<BulkResult, StoreError> {
        let _w = self.writing();
        bulk_add(self, group, entries, |batch| {
            let event = self.new_id()?;
            let added = (
                &*self.groups,
                &*self.users,
                &*self.group_members,
                &self.user_groups,
                &self.group_by_members,
                &*self.audit,
                &self.audit_index,
            )
                .transaction(
                    |(groups, users, members, user_groups, by_members, trail, index)| {
                        let mut rec = tx_get(groups, group)?;
                        let old = rec.members;
                        let mut added = Vec::new();
                        for (row, user) in batch {
                            if users.get(id_key(*user))?.is_none() {
                                continue;
                            }
                            if tx_join(
                                members,
                                user_groups,
                                &mut rec,
                                *user,
                                JoinedHow::Bulk,
                                actor.now,
                            )? {
                                added.push(*row);
                            }
                        }
                        if !added.is_empty() {
                            tx_members_moved(by_members, &rec, old)?;
                            tx_put(groups, &rec)?;
                            tx_audit(
                                AuditTrees { trail, index },
                                group,
                                event,
                                actor,
                                AuditAction::MembersAdded,
                                bulk_added_detail(added.len()),
                            )?;
                        }
                        Ok(added)
                    },
                )?;
            Ok(added)
        })
    }

    fn save_bulk_result(
        &self,
        group: u64,
        user: u64,
        result: &BulkResult,
    ) -> Result<(), StoreError> {
        let rec = BulkResultRecord::from(result);
        self.bulk_results.put((group, user), &rec)
    }

    fn last_bulk_result(&self, group: u64, user: u64) -> Result<Option<BulkResult>, StoreError> {
        Ok(self.bulk_results.row((group, user))?.map(BulkResult::from))
    }

    fn user_id_by_login_or_email(&self, raw: &str) -> Result<Option<u64>, StoreError> {
        let folded = fold(raw);
        let found = if folded.contains('@') {
            self.email_user.get(folded.as_bytes())?
        } else {
            self.login_user.get(folded.as_bytes())?
        };
        found
            .map(|b| read_id("login_user", folded.as_bytes(), &b))
            .transpose()
    }

    fn membership(&self, group: u64, user: u64) -> Result<Option<MemberRecord>, StoreError> {
        self.group_members.row((group, user))
    }

    fn list_members(
        &self,
        group: u64,
        query: &str,
        page: u32,
        per_page: u32,
    ) -> Result<MemberPage, StoreError> {
        let rec = self
            .get_group(group)?
            .ok_or(StoreError::NotFound("group"))?;
        let (skip, take) = search::window(page, per_page);
        let q = fold(query);
        let mut rows = Vec::new();
        if q.is_empty() {
            for item in self
                .group_members
                .scan_prefix(id_key(group))
                .skip(skip)
                .take(take)
            {
                let (k, v) = item?;
                rows.push((
                    read_id("group_members", &k, &k[8..])?,
                    self.group_members.decode(&k, &v)?,
                ));
            }
            return Ok((rows, rec.members, false));
        }
        let mut seen = HashSet::new();
        let mut count = 0u64;
        for item in self.search_user.scan_prefix(q.as_bytes()) {
            let (k, _) = item?;
            let user = read_id("search_user", &k, &k[k.len().saturating_sub(8)..])?;
            if !seen.insert(user) {
                continue;
            }
            let Some(m) = self.membership(group, user)? else {
                continue;
            };
            if count as usize >= skip && rows.len() < take {
                rows.push((user, m));
            }
            count += 1;
            if count >= search::TOTAL_CAP {
                return Ok((rows, count, true));
            }
        }
        Ok((rows, count, false))
    }

    fn groups_of_user(&self, user: u64) -> Result<Vec<u64>, StoreError> {
        self.existing_groups(suffix_ids(&self.user_groups, "user_groups", user)?)
    }
}

impl SledStore {
    /// The ids of these groups that exist.
    pub(crate) fn existing_groups(&self, ids: Vec<u64>) -> Result<Vec<u64>, StoreError> {
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if self.groups.contains_key(id_key(id))? {
                out.push(id);
            }
        }
        Ok(out)
    }
}

impl<'a> DefaultJoinTx<'a> {
    /// The trees as the join functions take them.
    pub(crate) fn view(&self) -> DefaultJoinTrees<'a> {
        DefaultJoinTrees {
            meta: self.meta,
            groups: self.groups.raw(),
            members: self.group_members.raw(),
            user_groups: self.user_groups,
            by_members: self.group_by_members,
            audit: AuditTrees {
                trail: self.audit.raw(),
                index: self.audit_index,
            },
            links: self.group_links.raw(),
            curricula: self.curricula.raw(),
            courses: self.courses.raw(),
            enrolments: self.enrolments.raw(),
            course_users: self.course_users,
        }
    }
}
