//! The sled backend's GroupManagers (the interface: `crate::server::store::groups::managers`).

pub(crate) use crate::server::store::groups::managers::*;

#[allow(unused_imports)]
use crate::server::store::prelude::*;

use super::*;
use crate::server::store::sled::jobs::JobRecord;

/// Inside a transaction: the summary of a finished mass enrolment, in the group's activity.
pub(crate) fn tx_mass_enrol_audit(
    audit: AuditTrees<'_>,
    users: &TransactionalTree,
    group: u64,
    event: u64,
    job: &JobRecord,
    now: u64,
) -> Tx<()> {
    let by = if job.started_by == 0 {
        "Tessera".to_string()
    } else {
        match users.get(id_key(job.started_by))? {
            Some(_) => tx_user_login(users, job.started_by)?,
            None => format!("user #{}", job.started_by),
        }
    };
    let detail = crate::server::store::mass::audit_detail(&by, job, now);
    tx_audit(
        audit,
        group,
        event,
        Actor {
            user: job.started_by,
            now,
        },
        AuditAction::MassEnrolment,
        detail,
    )
}

impl GroupManagers for SledStore {
    fn set_group_manager(
        &self,
        actor: Actor,
        group: u64,
        user: u64,
        add: bool,
    ) -> Result<bool, StoreError> {
        let _w = self.writing();
        let event = self.new_id()?;
        let r = (
            &*self.groups,
            &*self.users,
            &self.group_managers,
            &self.manager_groups,
            &*self.audit,
            &self.audit_index,
        )
            .transaction(|(groups, users, managers, manager_groups, trail, index)| {
                tx_get(groups, group)?;
                let login = tx_user_login(users, user)?;
                let there = managers.get(pair_key(group, user))?.is_some();
                if there == add {
                    return Ok(false);
                }
                if add {
                    managers.insert(&pair_key(group, user), &[])?;
                    manager_groups.insert(&pair_key(user, group), &[])?;
                } else {
                    managers.remove(&pair_key(group, user))?;
                    manager_groups.remove(&pair_key(user, group))?;
                }
                let verb = if add { "Made" } else { "Removed" };
                let role = if add { "a manager" } else { "as a manager" };
                tx_audit(
                    AuditTrees { trail, index },
                    group,
                    event,
                    actor,
                    AuditAction::ManagersChanged,
                    format!("{verb} {login} {role}."),
                )?;
                Ok(true)
            })?;
        Ok(r)
    }

    fn group_managers(&self, group: u64) -> Result<Vec<u64>, StoreError> {
        suffix_ids(&self.group_managers, "group_managers", group)
    }

    fn managed_groups(&self, user: u64) -> Result<Vec<u64>, StoreError> {
        self.existing_groups(suffix_ids(&self.manager_groups, "manager_groups", user)?)
    }

    fn manages_group(&self, user: u64, group: u64) -> Result<bool, StoreError> {
        Ok(self.manager_groups.get(pair_key(user, group))?.is_some()
            && self.groups.contains_key(id_key(group))?)
    }

    fn manages_any_group(&self, user: u64) -> Result<bool, StoreError> {
        Ok(!self.managed_groups(user)?.is_empty())
    }

    fn group_activity(
        &self,
        group: u64,
        limit: usize,
    ) -> Result<Vec<(u64, AuditRecord)>, StoreError> {
        self.audit
            .scan_prefix(id_key(group))
            .rev()
            .take(limit)
            .map(|item| {
                let (k, v) = item?;
                Ok((read_id("audit", &k, &k[8..])?, self.audit.decode(&k, &v)?))
            })
            .collect()
    }
}
