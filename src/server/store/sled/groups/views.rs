//! The sled backend's GroupViews (the interface: `crate::server::store::groups::views`, where
//! the projections are written once): the group's links, read record by record.

pub(crate) use crate::server::store::groups::views::*;

#[allow(unused_imports)]
use crate::server::store::prelude::*;

use super::*;
use crate::model::group::{GroupLink, GroupLinks};

impl GroupViews for SledStore {
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
}
