//! The PostgreSQL backend's GroupManagers (the interface:
//! `crate::server::store::groups::managers`; the behaviour: `sled/groups/managers.rs`).

use super::*;
use crate::model::group::AuditAction;
use crate::server::store::groups::managers::*;
use crate::server::store::postgres::audit;
use crate::server::store::prelude::*;

impl GroupManagers for PgStore {
    fn set_group_manager(
        &self,
        actor: Actor,
        group: u64,
        user: u64,
        add: bool,
    ) -> Result<bool, StoreError> {
        let event = self.new_id()?;
        self.write_tx(|t| {
            must(t, group, true)?;
            let login = user_login(t, user)?;
            let (g, u) = (group as i64, user as i64);
            let there = t
                .query_opt(
                    "SELECT 1 FROM group_managers WHERE group_id = $1 AND user_id = $2",
                    &[&g, &u],
                )?
                .is_some();
            if there == add {
                return Ok(false);
            }
            if add {
                t.execute(
                    "INSERT INTO group_managers (group_id, user_id) VALUES ($1, $2)",
                    &[&g, &u],
                )?;
            } else {
                t.execute(
                    "DELETE FROM group_managers WHERE group_id = $1 AND user_id = $2",
                    &[&g, &u],
                )?;
            }
            let verb = if add { "Made" } else { "Removed" };
            let role = if add { "a manager" } else { "as a manager" };
            audit::record(
                t,
                group,
                event,
                actor,
                AuditAction::ManagersChanged,
                format!("{verb} {login} {role}."),
            )?;
            Ok(true)
        })
    }

    fn group_managers(&self, group: u64) -> Result<Vec<u64>, StoreError> {
        self.read_tx(|t| {
            Ok(t.query(
                "SELECT user_id FROM group_managers WHERE group_id = $1 ORDER BY user_id",
                &[&(group as i64)],
            )?
            .iter()
            .map(|r| r.get::<_, i64>(0) as u64)
            .collect())
        })
    }

    fn managed_groups(&self, user: u64) -> Result<Vec<u64>, StoreError> {
        self.read_tx(|t| {
            Ok(t.query(
                "SELECT m.group_id FROM group_managers m JOIN groups g ON g.id = m.group_id \
                 WHERE m.user_id = $1 AND g.deleted_at_ms IS NULL ORDER BY m.group_id",
                &[&(user as i64)],
            )?
            .iter()
            .map(|r| r.get::<_, i64>(0) as u64)
            .collect())
        })
    }

    fn manages_group(&self, user: u64, group: u64) -> Result<bool, StoreError> {
        self.read_tx(|t| {
            Ok(t.query_opt(
                "SELECT 1 FROM group_managers m JOIN groups g ON g.id = m.group_id \
                 WHERE m.user_id = $1 AND m.group_id = $2 AND g.deleted_at_ms IS NULL",
                &[&(user as i64), &(group as i64)],
            )?
            .is_some())
        })
    }

    fn manages_any_group(&self, user: u64) -> Result<bool, StoreError> {
        Ok(!self.managed_groups(user)?.is_empty())
    }

    fn group_activity(
        &self,
        group: u64,
        limit: usize,
    ) -> Result<Vec<(u64, AuditRecord)>, StoreError> {
        self.read_tx(|t| {
            let rows = t.query(
                "SELECT event_id, at_ms, actor, action, detail FROM audit WHERE group_id = $1 \
                 ORDER BY event_id DESC LIMIT $2",
                &[&(group as i64), &(limit.min(i64::MAX as usize) as i64)],
            )?;
            rows.iter()
                .map(|r| Ok((r.get::<_, i64>(0) as u64, audit::record_of(r, 1)?)))
                .collect()
        })
    }
}
