//! The sled backend's GroupLists (the interface: `crate::server::store::groups::list`).

pub(crate) use crate::server::store::groups::list::*;

#[allow(unused_imports)]
use crate::server::store::prelude::*;

use super::*;

impl GroupLists for SledStore {
    fn groups_in_branch(&self, branch: u64) -> Result<u64, StoreError> {
        Ok(read_counter(
            self.meta.get(counter_key(&branch_counter(branch)))?,
        ))
    }

    fn list_groups(
        &self,
        query: &str,
        sort: GroupSort,
        desc: bool,
        page: u32,
        per_page: u32,
        only: Option<&[u64]>,
    ) -> Result<(Vec<GroupRecord>, u64, bool), StoreError> {
        let (skip, take) = search::window(page, per_page);
        let q = fold(query);
        if q.is_empty() && only.is_none() {
            let ids = self.ordered_group_ids(sort, desc, skip, take)?;
            let rows = ids
                .into_iter()
                .filter_map(|id| self.group_at(id).transpose())
                .collect::<Result<_, _>>()?;
            return Ok((rows, self.group_count()?, false));
        }
        let ids = match only {
            Some(ids) => ids.to_vec(),
            None => match self.ids_matching(&q)? {
                Some(ids) => ids,
                None => {
                    let rows = self.walk_matching(&q, sort, desc, skip, take)?;
                    return Ok((rows, MATCH_CAP as u64, true));
                }
            },
        };
        let mut matches = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(g) = self.group_at(id)? {
                if fold(&g.name).contains(&q) {
                    matches.push(g);
                }
            }
        }
        match sort {
            GroupSort::Name => matches.sort_by_cached_key(|g| (fold(&g.name), g.id)),
            GroupSort::Members => matches.sort_by_key(|g| (g.members, g.id)),
            GroupSort::Created => matches.sort_by_key(|g| g.id),
        }
        if desc {
            matches.reverse();
        }
        let total = matches.len() as u64;
        let rows = matches.into_iter().skip(skip).take(take).collect();
        Ok((rows, total, false))
    }
}

impl SledStore {
    /// The ids of the groups whose folded name contains `q` (non-empty), or `None` when more
    /// than [`MATCH_CAP`] do.
    pub(crate) fn ids_matching(&self, q: &str) -> Result<Option<Vec<u64>>, StoreError> {
        let prefix: String = q.chars().take(SUFFIX_MAX).collect();
        let long = prefix.len() < q.len();
        let mut seen = HashSet::new();
        let mut ids = Vec::new();
        for item in self.group_suffix.scan_prefix(prefix.as_bytes()) {
            let (k, _) = item?;
            let id = read_id("group_suffix", &k, &k[k.len().saturating_sub(8)..])?;
            if seen.insert(id) {
                // A query longer than the indexed suffixes only shares its start with them:
                // count a group only when its name holds the whole query.
                if long
                    && !self
                        .group_at(id)?
                        .is_some_and(|g| fold(&g.name).contains(q))
                {
                    continue;
                }
                ids.push(id);
                if ids.len() > MATCH_CAP {
                    return Ok(None);
                }
            }
        }
        Ok(Some(ids))
    }

    /// A page of a query too common to collect: the sort index in order, filtered. The name
    /// index holds folded names, so sorting by name reads no records until a row is taken.
    pub(crate) fn walk_matching(
        &self,
        q: &str,
        sort: GroupSort,
        desc: bool,
        skip: usize,
        take: usize,
    ) -> Result<Vec<GroupRecord>, StoreError> {
        let iter = self.sort_index(sort, desc);
        let mut seen = 0usize;
        let mut rows = Vec::with_capacity(take);
        for item in iter {
            let (k, v) = item?;
            let g = match sort {
                GroupSort::Name => {
                    if !String::from_utf8_lossy(&k).contains(q) {
                        continue;
                    }
                    self.group_at(read_id("group_name", &k, &v)?)?
                }
                GroupSort::Members => self.group_at(read_id("group_by_members", &k, &k[8..])?)?,
                GroupSort::Created => Some(self.groups.decode(&k, &v)?),
            };
            let Some(g) = g else { continue };
            if !fold(&g.name).contains(q) {
                continue;
            }
            if seen >= skip {
                rows.push(g);
                if rows.len() >= take {
                    break;
                }
            }
            seen += 1;
        }
        Ok(rows)
    }

    pub(crate) fn ordered_group_ids(
        &self,
        sort: GroupSort,
        desc: bool,
        skip: usize,
        take: usize,
    ) -> Result<Vec<u64>, StoreError> {
        self.sort_index(sort, desc)
            .skip(skip)
            .take(take)
            .map(|item| {
                let (k, v) = item?;
                match sort {
                    GroupSort::Name => read_id("group_name", &k, &v),
                    GroupSort::Members => read_id("group_by_members", &k, &k[8..]),
                    GroupSort::Created => read_id("groups", &k, &k),
                }
            })
            .collect()
    }

    /// The index kept in `sort` order (the name index, the member-count index, or the groups
    /// themselves, whose ids grow with creation), walked forwards or backwards.
    pub(crate) fn sort_index(
        &self,
        sort: GroupSort,
        desc: bool,
    ) -> Box<dyn Iterator<Item = sled::Result<(sled::IVec, sled::IVec)>>> {
        let tree = match sort {
            GroupSort::Name => &self.group_name,
            GroupSort::Members => &self.group_by_members,
            GroupSort::Created => &*self.groups,
        };
        if desc {
            Box::new(tree.iter().rev())
        } else {
            Box::new(tree.iter())
        }
    }
}
