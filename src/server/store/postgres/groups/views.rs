//! The PostgreSQL backend's GroupViews (the interface: `crate::server::store::groups::views`;
//! the behaviour: `sled/groups/views.rs`): projections of the other operations' answers.

use super::*;
use crate::model::group::{
    AuditView, GroupLink, GroupLinks, GroupRow, GroupSaved, GroupView, ManagerRow, MassEnrolView,
    MemberRow,
};
use crate::server::store::groups::views::*;
use crate::server::store::jobs::JobState;
use crate::server::store::postgres::jobs;
use crate::server::store::prelude::*;

impl GroupViews for PgStore {
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
        let now = crate::server::store::now_ms();
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
            if let Some((login, display_name, email)) = self.user_names(uid)? {
                out.push(MemberRow {
                    user_id: uid,
                    login,
                    display_name,
                    email,
                    joined_at: m.joined_at,
                    how: m.how.into(),
                });
            }
        }
        Ok((out, total, capped))
    }

    fn group_link_views(&self, group: u64) -> Result<GroupLinks, StoreError> {
        self.page_tx(|t| {
            let courses = t.query(
                "SELECT c.id, c.code, c.title FROM group_courses l JOIN courses c \
                 ON c.id = l.course_id WHERE l.group_id = $1 ORDER BY l.position",
                &[&(group as i64)],
            )?;
            let curricula = t.query(
                "SELECT c.id, c.name, (SELECT count(*) FROM curriculum_courses cc \
                 WHERE cc.curriculum_id = c.id) FROM group_curricula l JOIN curricula c \
                 ON c.id = l.curriculum_id WHERE l.group_id = $1 ORDER BY l.position",
                &[&(group as i64)],
            )?;
            Ok(GroupLinks {
                courses: courses
                    .iter()
                    .map(|r| GroupLink {
                        id: r.get::<_, i64>(0) as u64,
                        label: r.get(1),
                        detail: r.get(2),
                    })
                    .collect(),
                curricula: curricula
                    .iter()
                    .map(|r| GroupLink {
                        id: r.get::<_, i64>(0) as u64,
                        label: r.get(1),
                        detail: format!("{} course(s)", r.get::<_, i64>(2)),
                    })
                    .collect(),
            })
        })
    }

    fn manager_rows(&self, group: u64) -> Result<Vec<ManagerRow>, StoreError> {
        let mut out = Vec::new();
        for uid in self.group_managers(group)? {
            if let Some((login, display_name, _)) = self.user_names(uid)? {
                out.push(ManagerRow {
                    user_id: uid,
                    login,
                    display_name,
                });
            }
        }
        Ok(out)
    }

    fn activity_views(&self, group: u64, limit: usize) -> Result<Vec<AuditView>, StoreError> {
        let mut out = Vec::new();
        for (event, rec) in self.group_activity(group, limit)? {
            // Who did it, as sled's `actor_name` says it (0 is Tessera itself).
            let actor = match rec.actor {
                0 => "system".to_string(),
                a => self
                    .user_names(a)?
                    .map(|u| u.0)
                    .unwrap_or_else(|| format!("user #{a}")),
            };
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
        // sled's `last_mass_enrolment`: the job the group's row names as its latest.
        let job = self.read_tx(|t| {
            let last = t
                .query_opt(
                    "SELECT mass_enrol_last FROM groups WHERE id = $1 AND deleted_at_ms IS NULL",
                    &[&(group as i64)],
                )?
                .and_then(|r| r.get::<_, Option<i64>>(0));
            match last {
                Some(id) => jobs::get(t, id as u64),
                None => Ok(None),
            }
        })?;
        let Some(j) = job else {
            return Ok(None);
        };
        let started_by = match j.started_by {
            0 => "Tessera".to_string(),
            u => self
                .user_names(u)?
                .map(|u| u.0)
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
        view.eta_secs = view.seconds_left(crate::server::store::now_ms());
        Ok(Some(view))
    }
}

impl PgStore {
    /// A user's login, display name and e-mail, if there is such a user.
    pub(crate) fn user_names(
        &self,
        user: u64,
    ) -> Result<Option<(String, String, String)>, StoreError> {
        self.read_tx(|t| {
            Ok(t.query_opt(
                "SELECT login, display_name, email FROM users WHERE id = $1",
                &[&(user as i64)],
            )?
            .map(|r| (r.get(0), r.get(1), r.get(2))))
        })
    }

    /// A branch's name (`None`: no branch, or one deleted since).
    pub(crate) fn branch_name(&self, branch: Option<u64>) -> Result<Option<String>, StoreError> {
        match branch {
            Some(b) => self.read_tx(|t| {
                Ok(
                    t.query_opt("SELECT name FROM branches WHERE id = $1", &[&(b as i64)])?
                        .map(|r| r.get::<_, String>(0)),
                )
            }),
            None => Ok(None),
        }
    }
}
