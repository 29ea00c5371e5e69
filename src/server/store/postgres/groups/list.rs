//! The PostgreSQL backend's GroupLists (the interface: `crate::server::store::groups::list`;
//! the behaviour: `sled/groups/list.rs`). The queries are `explain.sql`'s: the sort indexes
//! (`groups_name_folded`, `groups_by_members`, `groups_live`) walked by OFFSET as sled skips,
//! the suffix index for a search, and the name index filtered for a query too common to collect.

use super::*;
use crate::server::store::groups::list::*;

/// `ORDER BY` of a sort, ties broken by id as sled's index keys break them.
fn order(sort: GroupSort, desc: bool) -> &'static str {
    match (sort, desc) {
        (GroupSort::Name, false) => "name_folded, id",
        (GroupSort::Name, true) => "name_folded DESC, id DESC",
        (GroupSort::Members, false) => "members, id",
        (GroupSort::Members, true) => "members DESC, id DESC",
        (GroupSort::Created, false) => "id",
        (GroupSort::Created, true) => "id DESC",
    }
}

impl GroupLists for PgStore {
    fn groups_in_branch(&self, branch: u64) -> Result<u64, StoreError> {
        self.read_tx(|t| {
            let n: i64 = t
                .query_one(
                    "SELECT count(*) FROM groups WHERE branch_id = $1 AND deleted_at_ms IS NULL",
                    &[&(branch as i64)],
                )?
                .get(0);
            Ok(n as u64)
        })
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
        let (skip, take) = window(page, per_page);
        let q = fold(query);
        let by = order(sort, desc);
        self.page_tx(|t| {
            if q.is_empty() && only.is_none() {
                let rows = t
                    .query(
                        &format!(
                            "SELECT {GROUP_COLUMNS} FROM groups WHERE deleted_at_ms IS NULL \
                             ORDER BY {by} OFFSET $1 LIMIT $2"
                        ),
                        &[&(skip as i64), &(take as i64)],
                    )?
                    .iter()
                    .map(group_of)
                    .collect();
                return Ok((rows, read_total(t, "groups")?, false));
            }
            let mut matches: Vec<GroupRecord> = match only {
                Some(ids) => {
                    let ids: Vec<i64> = ids.iter().map(|i| *i as i64).collect();
                    t.query(
                        &format!(
                            "SELECT {GROUP_COLUMNS} FROM groups WHERE id = ANY($1) \
                             AND deleted_at_ms IS NULL AND strpos(name_folded, $2) > 0"
                        ),
                        &[&ids, &q],
                    )?
                    .iter()
                    .map(group_of)
                    .collect()
                }
                None => {
                    // The groups whose name holds the query: those with a suffix starting with
                    // it (cut to the indexed length), checked against the whole name. The ids
                    // go in as an array, so the groups are read by primary key whatever the
                    // planner guesses of the prefix's rows: as `IN (subquery)` a guess of a few
                    // dozen rows made it hash-join a sequential scan of all groups instead.
                    let prefix: String = q.chars().take(SUFFIX_MAX).collect();
                    let found: Vec<GroupRecord> = t
                        .query(
                            &format!(
                                "SELECT {GROUP_COLUMNS} FROM groups WHERE deleted_at_ms IS NULL \
                                 AND strpos(name_folded, $2) > 0 AND id = ANY(ARRAY(\
                                 SELECT group_id FROM group_suffixes \
                                 WHERE starts_with(suffix, $1))) LIMIT $3"
                            ),
                            &[&prefix, &q, &(MATCH_CAP as i64 + 1)],
                        )?
                        .iter()
                        .map(group_of)
                        .collect();
                    if found.len() > MATCH_CAP {
                        // Too common to collect: the sort index walked and filtered.
                        let rows = t
                            .query(
                                &format!(
                                    "SELECT {GROUP_COLUMNS} FROM groups \
                                     WHERE deleted_at_ms IS NULL AND strpos(name_folded, $1) > 0 \
                                     ORDER BY {by} OFFSET $2 LIMIT $3"
                                ),
                                &[&q, &(skip as i64), &(take as i64)],
                            )?
                            .iter()
                            .map(group_of)
                            .collect();
                        return Ok((rows, MATCH_CAP as u64, true));
                    }
                    found
                }
            };
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
        })
    }
}
