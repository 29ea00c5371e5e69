//! The PostgreSQL backend's GroupDeletion (the interface: `crate::server::store::groups::delete`;
//! the behaviour: `sled/groups/delete.rs`). A deletion tombstones the row (`deleted_at_ms`,
//! clearing its branch, default flag and key, so its name and key are free at once), removes its
//! name suffixes and its course and curriculum links, and enqueues the sweep job that removes
//! its memberships, managers and bulk-add reports in bounded batches, then the row.

use super::*;
use crate::model::group::AuditAction;
use crate::server::store::groups::delete::*;
use crate::server::store::jobs::JobKind;
use crate::server::store::postgres::{audit, jobs};
use crate::server::store::prelude::*;

impl GroupDeletion for PgStore {
    fn delete_group(&self, actor: Actor, id: u64) -> Result<u64, StoreError> {
        let event = self.new_id()?;
        let job = self.new_id()?;
        self.write_tx(|t| {
            let rec = must(t, id, true)?;
            let gid = id as i64;
            let courses = t.execute("DELETE FROM group_courses WHERE group_id = $1", &[&gid])?;
            let curricula = t.execute("DELETE FROM group_curricula WHERE group_id = $1", &[&gid])?;
            t.execute("DELETE FROM group_suffixes WHERE group_id = $1", &[&gid])?;
            t.execute(
                "UPDATE groups SET deleted_at_ms = $2, branch_id = NULL, is_default = false, \
                 key = NULL, key_folded = NULL WHERE id = $1",
                &[&gid, &(actor.now as i64)],
            )?;
            bump_total(t, "groups", id, -1)?;
            audit::record(
                t,
                id,
                event,
                actor,
                AuditAction::GroupDeleted,
                format!(
                    "Deleted \"{}\": {} membership(s), {} course and {} curriculum link(s) removed.",
                    rec.name, rec.members, courses, curricula
                ),
            )?;
            jobs::enqueue(t, job, JobKind::SweepGroup { group: id }, actor.now)?;
            Ok(job)
        })
    }
}
