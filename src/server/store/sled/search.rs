//! Prefix search and paging over index trees, shared by every listed record kind.
//!
//! A search index holds keys `term 0x00 id` (id: 8 bytes big-endian) with empty values, where
//! the terms are the folded searchable fields and each of their words. A prefix scan then finds
//! records whose field or any word of it starts with the query, in term order, and costs only
//! the entries it walks (never a scan of all records).

#[allow(unused_imports)]
use crate::server::store::prelude::*;

use super::codec::{fold, id_key, read_id};
use super::StoreError;
pub(crate) use super::TOTAL_CAP;
// Backend-neutral (the PostgreSQL backend uses them too), re-exported for this backend's callers.
pub use crate::server::store::{page_window as window, search_terms as terms};
use std::collections::HashSet;

/// An index key: `term 0x00 id`.
pub fn key(term: &str, id: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(term.len() + 9);
    k.extend_from_slice(term.as_bytes());
    k.push(0);
    k.extend_from_slice(&id_key(id));
    k
}

/// One page of ids matching `query` by prefix: skips `skip` distinct ids, returns up to `take`,
/// and counts matches up to [`TOTAL_CAP`]. Returns `(ids, total, capped)`.
pub fn page(
    tree: &sled::Tree,
    tree_name: &'static str,
    query: &str,
    skip: usize,
    take: usize,
) -> Result<(Vec<u64>, u64, bool), StoreError> {
    page_where(tree, tree_name, &fold(query), skip, take, |_| Ok(true))
}

/// [`page`] over the ids under `prefix` (already folded) that `keep` accepts: ids already
/// attached somewhere left out, say, or a check against the record. `keep` runs once per
/// distinct id, and at most until [`TOTAL_CAP`] are kept, so the cost stays bounded by the
/// matches, never the whole tree, whatever it holds.
pub fn page_where(
    tree: &sled::Tree,
    tree_name: &'static str,
    prefix: &str,
    skip: usize,
    take: usize,
    mut keep: impl FnMut(u64) -> Result<bool, StoreError>,
) -> Result<(Vec<u64>, u64, bool), StoreError> {
    let mut seen = HashSet::new();
    let mut ids = Vec::new();
    let mut count = 0u64;
    for item in tree.scan_prefix(prefix.as_bytes()) {
        let (k, _) = item?;
        let id = read_id(tree_name, &k, &k[k.len().saturating_sub(8)..])?;
        if !seen.insert(id) || !keep(id)? {
            continue;
        }
        if count as usize >= skip && ids.len() < take {
            ids.push(id);
        }
        count += 1;
        if count >= TOTAL_CAP {
            break;
        }
    }
    Ok((ids, count, count >= TOTAL_CAP))
}

/// One page of ids from a unique-name index (`folded name → id`), in name order, leaving out
/// those in `except` (the walk costs the rows skipped and taken plus `except`'s size).
pub fn by_name_except(
    tree: &sled::Tree,
    tree_name: &'static str,
    skip: usize,
    take: usize,
    except: &HashSet<u64>,
) -> Result<Vec<u64>, StoreError> {
    let mut ids = Vec::with_capacity(take);
    let mut seen = 0usize;
    for item in tree.iter() {
        let (k, v) = item?;
        let id = read_id(tree_name, &k, &v)?;
        if except.contains(&id) {
            continue;
        }
        if seen >= skip {
            ids.push(id);
            if ids.len() >= take {
                break;
            }
        }
        seen += 1;
    }
    Ok(ids)
}

/// One page of ids from a unique-name index (`folded name → id`), in name order.
pub fn by_name(
    tree: &sled::Tree,
    tree_name: &'static str,
    skip: usize,
    take: usize,
) -> Result<Vec<u64>, StoreError> {
    let mut ids = Vec::with_capacity(take);
    for item in tree.iter().skip(skip).take(take) {
        let (k, v) = item?;
        ids.push(read_id(tree_name, &k, &v)?);
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_are_folded_words_and_whole_fields() {
        assert_eq!(
            terms(&["Ada Lovelace", "ADA"]),
            vec!["ada", "ada lovelace", "lovelace"]
        );
        assert!(terms(&["  "]).is_empty());
    }

    #[test]
    fn pages_are_distinct_and_counted() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::open(dir.path()).unwrap();
        let tree = db.open_tree("s").unwrap();
        for id in 1..=25u64 {
            for t in terms(&[&format!("Physics {id}"), "phys"]) {
                tree.insert(key(&t, id), &[]).unwrap();
            }
        }
        let (first, total, capped) = page(&tree, "s", "PHY", 0, 10).unwrap();
        assert_eq!((first.len(), total, capped), (10, 25, false));
        let (rest, _, _) = page(&tree, "s", "phy", 20, 10).unwrap();
        assert_eq!(rest.len(), 5);
        let all: HashSet<u64> = (0..3)
            .flat_map(|p| page(&tree, "s", "phy", p * 10, 10).unwrap().0)
            .collect();
        assert_eq!(all.len(), 25);
        assert_eq!(page(&tree, "s", "chem", 0, 10).unwrap().1, 0);
    }
}
