//! The PostgreSQL backend's GroupViews (the interface: `crate::server::store::groups::views`,
//! where the projections are written once; the behaviour: `sled/groups/views.rs`): the group's
//! links, in one query.

use super::*;
use crate::model::group::{GroupLink, GroupLinks};
use crate::server::store::groups::views::*;

impl GroupViews for PgStore {
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
}
