//! What the group pages show, projected from the records: one call per server function.

use crate::server::store::audit::Audit;
use crate::server::store::branches::Branches;
use crate::server::store::jobs::JobState;
use crate::server::store::mass::MassEnrolments;
use crate::server::store::users::Users;
use crate::server::store::StoreError;

use super::list::GroupLists;
use super::managers::GroupManagers;
use super::members::Memberships;
use super::save::GroupEdits;
use super::*;
use crate::model::group::{
    AuditView, GroupLinks, GroupRow, GroupSaved, GroupView, ManagerRow, MassEnrolView, MemberRow,
};

/// A page of a table: rows, the total and whether the total was capped.
pub type RowPage<T> = (Vec<T>, u64, bool);

/// What the groups table asks for: a search, a sort and a page.
#[derive(Debug, Clone)]
pub struct GroupQuery {
    pub query: String,
    pub sort: GroupSort,
    pub desc: bool,
    pub page: u32,
    pub per_page: u32,
}

impl GroupRecord {
    /// The group as its page shows it; `can_edit` for administrators. Without `show_key` the
    /// key itself is left out (its state stays): knowing it lets anyone join.
    ///
    /// `show_key` is also what says whether the viewer is the group's manager (or an
    /// administrator): with the group's setting on, a manager may regenerate the key.
    pub(crate) fn view(
        &self,
        branch_name: Option<String>,
        can_edit: bool,
        show_key: bool,
    ) -> GroupView {
        let mut key = KeySettings::from(&self.key);
        let key_status = key.status(self.key_uses, super::super::now_ms());
        if !show_key {
            key.key = None;
        }
        GroupView {
            id: self.id,
            name: self.name.clone(),
            description: self.description.clone(),
            branch: self.branch,
            branch_name,
            key,
            key_uses: self.key_uses,
            key_status,
            is_default: self.is_default,
            members: self.members,
            courses: self.courses,
            curricula: self.curricula,
            created_at: self.created_at,
            can_edit,
            managers_regenerate_key: self.managers_regenerate_key,
            can_regenerate_key: can_edit || (show_key && self.managers_regenerate_key),
        }
    }

    pub(crate) fn row(&self, branch: Option<String>, now: u64) -> GroupRow {
        GroupRow {
            id: self.id,
            name: self.name.clone(),
            branch,
            members: self.members,
            courses: self.courses,
            curricula: self.curricula,
            key_status: KeySettings::from(&self.key).status(self.key_uses, now),
            key_uses: self.key_uses,
            key_max_uses: self.key.max_uses,
            is_default: self.is_default,
            created_at: self.created_at,
        }
    }
}

/// The store's operations on this area (see the contract in `store/mod.rs`).
///
/// Projections of the other areas' answers, so all but [`GroupViews::group_link_views`] (one
/// query on a SQL backend) are written here once, for every backend.
pub trait GroupViews:
    Groups
    + GroupEdits
    + GroupLists
    + GroupManagers
    + Memberships
    + Branches
    + Users
    + Audit
    + MassEnrolments
{
    /// A group as its page shows it to `viewer`, `None` when there is none. Administrators
    /// (`admin`) may edit it; they and the group's managers see its key (the one thing a
    /// teacher hands out). Anyone else gets the key's state without the key, even should a
    /// caller forget its guard: knowing the key lets anyone join the group.
    fn group_view(
        &self,
        id: u64,
        viewer: u64,
        admin: bool,
    ) -> Result<Option<GroupView>, StoreError> {
        let Some(g) = self.get_group(id)? else {
            return Ok(None);
        };
        let show_key = admin || self.manages_group(viewer, id)?;
        Ok(Some(g.view(self.branch_name(g.branch)?, admin, show_key)))
    }

    /// Creates a group (see [`Store::create_group`]) and returns it as the form shows it.
    fn create_group_saved(
        &self,
        actor: Actor,
        f: &GroupFields,
        managers_regenerate_key: bool,
    ) -> Result<GroupSaved, StoreError> {
        let (g, previous) = self.create_group_with(actor, f, managers_regenerate_key)?;
        Ok(GroupSaved {
            group: g.view(self.branch_name(g.branch)?, true, true),
            previous_default: previous,
        })
    }

    /// Changes a group (see [`Store::update_group`]) and returns it as the form shows it.
    fn update_group_saved(
        &self,
        actor: Actor,
        id: u64,
        f: &GroupFields,
        managers_regenerate_key: bool,
    ) -> Result<GroupSaved, StoreError> {
        let (g, previous) = self.update_group_with(actor, id, f, managers_regenerate_key)?;
        Ok(GroupSaved {
            group: g.view(self.branch_name(g.branch)?, true, true),
            previous_default: previous,
        })
    }

    /// A page of the groups table for `viewer`: every group for an administrator, the groups
    /// they manage for anyone else (`None` when they manage none). See [`Store::list_groups`].
    fn group_rows(
        &self,
        viewer: u64,
        admin: bool,
        q: &GroupQuery,
    ) -> Result<Option<RowPage<GroupRow>>, StoreError> {
        let only = if admin {
            None
        } else {
            Some(self.managed_groups(viewer)?)
        };
        if only.as_ref().is_some_and(|o| o.is_empty()) {
            return Ok(None);
        }
        let (groups, total, capped) = self.list_groups(
            &q.query,
            q.sort,
            q.desc,
            q.page,
            q.per_page,
            only.as_deref(),
        )?;
        let now = super::super::now_ms();
        let rows = groups
            .iter()
            .map(|g| Ok(g.row(self.branch_name(g.branch)?, now)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(Some((rows, total, capped)))
    }

    /// The default group as (id, name), if there is one.
    fn default_group_name(&self) -> Result<Option<(u64, String)>, StoreError> {
        match self.default_group()? {
            Some(id) => Ok(self.get_group(id)?.map(|g| (g.id, g.name))),
            None => Ok(None),
        }
    }

    /// A page of a group's members with their names (see [`Store::list_members`]).
    fn member_rows(
        &self,
        group: u64,
        query: &str,
        page: u32,
        per_page: u32,
    ) -> Result<RowPage<MemberRow>, StoreError> {
        let (rows, total, capped) = self.list_members(group, query, page, per_page)?;
        let mut out = Vec::with_capacity(rows.len());
        for (uid, m) in rows {
            if let Some(u) = self.get_user(uid)? {
                out.push(MemberRow {
                    user_id: uid,
                    login: u.login,
                    display_name: u.display_name,
                    email: u.email,
                    joined_at: m.joined_at,
                    how: m.how.into(),
                });
            }
        }
        Ok((out, total, capped))
    }

    /// The group's courses (code, title) and curricula (name, course count), in the order they
    /// were attached; courses and curricula deleted since are left out.
    fn group_link_views(&self, group: u64) -> Result<GroupLinks, StoreError>;

    /// The group's managers with their names.
    fn manager_rows(&self, group: u64) -> Result<Vec<ManagerRow>, StoreError> {
        let mut out = Vec::new();
        for uid in self.group_managers(group)? {
            if let Some(u) = self.get_user(uid)? {
                out.push(ManagerRow {
                    user_id: uid,
                    login: u.login,
                    display_name: u.display_name,
                });
            }
        }
        Ok(out)
    }

    /// The group's newest `limit` audit events, newest first, with who did them.
    fn activity_views(&self, group: u64, limit: usize) -> Result<Vec<AuditView>, StoreError> {
        let mut out = Vec::new();
        for (event, rec) in self.group_activity(group, limit)? {
            let actor = self.actor_name(rec.actor)?;
            out.push(AuditView {
                id: event,
                at: rec.at,
                actor,
                action: rec.action.into(),
                detail: rec.detail,
            });
        }
        Ok(out)
    }

    /// The group's latest mass enrolment as the group page shows it, if it ever had one.
    fn mass_enrolment_view(&self, group: u64) -> Result<Option<MassEnrolView>, StoreError> {
        let Some(m) = self.last_mass_enrolment(group)? else {
            return Ok(None);
        };
        let j = m.job;
        let started_by = match j.started_by {
            0 => "Tessera".to_string(),
            u => self
                .get_user(u)?
                .map(|u| u.login)
                .unwrap_or_else(|| format!("user #{u}")),
        };
        let mut view = MassEnrolView {
            job: j.id,
            running: j.state == JobState::Pending,
            stopped: match &j.state {
                JobState::Failed(why) => Some(why.clone()),
                _ => None,
            },
            done: j.done,
            total: j.total.max(j.done),
            enrolled: j.counts.enrolled,
            already: j.counts.already,
            skipped_archived: j.counts.skipped_archived,
            skipped_inactive: j.counts.skipped_inactive,
            failed: j.counts.failed,
            failures: j.failures,
            started_by,
            started_at: j.created_at,
            finished_at: j.finished_at,
            eta_secs: None,
        };
        view.eta_secs = view.seconds_left(super::super::now_ms());
        Ok(Some(view))
    }
}
