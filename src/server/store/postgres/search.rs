//! Prefix search over the term tables (`user_terms`, `branch_terms`, `curriculum_terms`,
//! `course_suffixes`), with the embedded backend's exact results (`sled/search.rs`): the rows
//! whose term starts with the folded query, in (term, id) order, each id at its first term,
//! `skip` ids skipped and `take` returned, counted up to [`TOTAL_CAP`].
//!
//! The range is read in batches by keyset (after the last (term, id) seen), so the work is
//! that of the rows walked until [`TOTAL_CAP`] distinct ids, never the whole table, and the
//! count is exact up to the cap (a single `LIMIT` on the raw rows would miscount a query
//! whose users each match through many terms).

use super::PgError;
use crate::server::store::TOTAL_CAP;
use postgres::Transaction;
use std::collections::HashSet;

/// A term table: its name and its term and id columns (constants, never user input).
pub(crate) struct TermIndex {
    pub table: &'static str,
    pub term: &'static str,
    pub id: &'static str,
}

/// `user_terms`.
pub(crate) const USERS: TermIndex = TermIndex {
    table: "user_terms",
    term: "term",
    id: "user_id",
};

/// Rows read per round trip.
const BATCH: i64 = 1_000;

/// One page of ids under `prefix` (already folded) that `keep` accepts (it runs once per
/// distinct id, until [`TOTAL_CAP`] are kept). Returns `(ids, total, capped)`.
pub(crate) fn page_where(
    t: &mut Transaction<'_>,
    index: &TermIndex,
    prefix: &str,
    skip: usize,
    take: usize,
    mut keep: impl FnMut(&mut Transaction<'_>, u64) -> Result<bool, PgError>,
) -> Result<(Vec<u64>, u64, bool), PgError> {
    // No term holds U+0000 (what is indexed refuses it), and text parameters cannot carry it.
    if prefix.contains('\0') {
        return Ok((Vec::new(), 0, false));
    }
    let TermIndex { table, term, id } = index;
    // `term >= $1` keeps the range an index range whatever the plan; starts_with ends it.
    let first = format!(
        "SELECT {term}, {id} FROM {table} WHERE {term} >= $1 AND starts_with({term}, $1) \
         ORDER BY {term}, {id} LIMIT $2"
    );
    let next = format!(
        "SELECT {term}, {id} FROM {table} WHERE {term} >= $1 AND starts_with({term}, $1) \
         AND ({term}, {id}) > ($3, $4) ORDER BY {term}, {id} LIMIT $2"
    );
    let mut seen = HashSet::new();
    let mut ids = Vec::new();
    let mut count = 0u64;
    let mut after: Option<(String, i64)> = None;
    loop {
        let rows = match &after {
            None => t.query(&first, &[&prefix, &BATCH])?,
            Some((last_term, last_id)) => t.query(&next, &[&prefix, &BATCH, last_term, last_id])?,
        };
        let full = rows.len() as i64 == BATCH;
        for row in &rows {
            let found: i64 = row.get(1);
            after = Some((row.get(0), found));
            let found = found as u64;
            if !seen.insert(found) || !keep(t, found)? {
                continue;
            }
            if count as usize >= skip && ids.len() < take {
                ids.push(found);
            }
            count += 1;
            if count >= TOTAL_CAP {
                return Ok((ids, count, true));
            }
        }
        if !full {
            return Ok((ids, count, false));
        }
    }
}

/// [`page_where`] keeping every id.
pub(crate) fn page(
    t: &mut Transaction<'_>,
    index: &TermIndex,
    prefix: &str,
    skip: usize,
    take: usize,
) -> Result<(Vec<u64>, u64, bool), PgError> {
    page_where(t, index, prefix, skip, take, |_, _| Ok(true))
}

/// Replaces the terms of record `owner` in `index` with `terms`.
pub(crate) fn set_terms(
    t: &mut Transaction<'_>,
    index: &TermIndex,
    owner: u64,
    terms: &[String],
) -> Result<(), PgError> {
    let TermIndex { table, term, id } = index;
    t.execute(
        &format!("DELETE FROM {table} WHERE {id} = $1"),
        &[&(owner as i64)],
    )?;
    t.execute(
        &format!("INSERT INTO {table} ({term}, {id}) SELECT unnest($1::text[]), $2"),
        &[&terms, &(owner as i64)],
    )?;
    Ok(())
}
