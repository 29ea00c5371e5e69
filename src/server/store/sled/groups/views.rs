//! The sled backend's GroupViews (the interface: `crate::server::store::groups::views`).

pub(crate) use crate::server::store::groups::views::*;

#[allow(unused_imports)]
use crate::server::store::prelude::*;

use super::*;
use crate::model::group::{
    AuditView, GroupLink, GroupLinks, GroupRow, GroupSaved, GroupView, ManagerRow, MassEnrolView,
    MemberRow,
};
use crate::server::store::sled::jobs::JobState;

impl GroupViews for SledStore {
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

    fn default_group_name(&self) -> Result<Option<(u64, String)>, StoreError> {
        match self.default_group()? {
            Some(id) => Ok(self.get_group(id)?.map(|g| (g.id, g.name))),
            None => Ok(None),
        }
    }

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

    fn group_link_views(&self, group: u64) -> Result<GroupLinks, StoreError> {
        let links = self.group_links_record(group)?;
        let mut out = GroupLinks {
            courses: Vec::new(),
            curricula: Vec::new(),
        };
        for c in links.courses {
            if let Some(rec) = self.get_course(c)? {
                out.courses.push(GroupLink {
                    id: c,
                    label: rec.code,
                    detail: rec.title,
                });
            }
        }
        for c in links.curricula {
            if let Some(rec) = self.get_curriculum(c)? {
                out.curricula.push(GroupLink {
                    id: c,
                    label: rec.name,
                    detail: format!("{} course(s)", rec.courses.len()),
                });
            }
        }
        Ok(out)
    }

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

impl SledStore {
    pub(crate) fn branch_name(&self, branch: Option<u64>) -> Result<Option<String>, StoreError> {
        match branch {
            Some(b) => Ok(self.get_branch(b)?.map(|b| b.name)),
            None => Ok(None),
        }
    }
}
