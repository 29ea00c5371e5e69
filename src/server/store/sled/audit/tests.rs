//! The sled backend's own tests: what only sled has (its trees, its files, damage written
//! under the store).

#[allow(unused_imports)]
use crate::server::store::audit::tests::{older_pages, world, World, HOUR, T0};
#[allow(unused_imports)]
use crate::server::store::sled::test_prelude::*;

use crate::model::group::JoinedHow;
use crate::server::store::enrolments::tests_support::learner;
use crate::server::store::groups::Actor;

/// Older pages from the first to the last hold every event once, newest first; going back
/// with "Newer" gives the same pages again.
#[test]
fn pages_go_newest_first_and_back() {
    let (_d, s) = sled_temp_store();
    world(&s);
    let f = AuditFilter::default();
    let all = model(&s, &f);
    assert_eq!(all.len(), 62, "two creations and sixty changes");
    let pages = older_pages(&s, &f, 7, SCAN_BUDGET);
    assert_eq!(pages.len(), 9);
    let listed: Vec<AuditHit> = pages.iter().flat_map(|p| p.hits.clone()).collect();
    assert_eq!(listed, all);
    assert_eq!(pages[0].newer, None, "nothing is newer than the first page");
    for (i, p) in pages.iter().enumerate() {
        assert!(p.hits.len() <= 7 && p.searched_to.is_none());
        if i == 0 {
            continue;
        }
        let back = s
            .audit_page(&f, Toward::Newer(p.newer.unwrap()), 7, SCAN_BUDGET)
            .unwrap();
        assert_eq!(back.hits, pages[i - 1].hits, "page {i} back");
        assert_eq!(back.older, p.newer);
    }
    // Newer than the newest: the first page.
    let top = all[0].place.next();
    let first = s
        .audit_page(&f, Toward::Newer(top), 7, SCAN_BUDGET)
        .unwrap();
    assert_eq!(first, pages[0]);
}

/// Each filter and their combinations list exactly the events a full read would pick.
#[test]
fn filters_pick_what_a_full_read_picks() {
    let (_d, s) = sled_temp_store();
    let w = world(&s);
    let kinds = [
        None,
        Some(AuditKind::MembersRemoved),
        Some(AuditKind::GroupCreated),
    ];
    let days = [
        (None, None),
        (Some(T0 + 5 * HOUR), None),
        (None, Some(T0 + 20 * HOUR)),
        (Some(T0 + 3 * HOUR), Some(T0 + 4 * HOUR)),
        (Some(T0 + 9 * HOUR), Some(T0 + 9 * HOUR)),
    ];
    let mut checked = 0;
    for actor in [None, Some(w.ann), Some(w.bob), Some(0), Some(999)] {
        for group in [None, Some(w.alpha), Some(w.beta)] {
            for kind in kinds {
                for (from, until) in days {
                    let f = AuditFilter {
                        actor,
                        group,
                        kind,
                        from,
                        until,
                    };
                    let want = model(&s, &f);
                    let listed: Vec<AuditHit> = older_pages(&s, &f, 4, SCAN_BUDGET)
                        .into_iter()
                        .flat_map(|p| p.hits)
                        .collect();
                    assert_eq!(listed, want, "{f:?}");
                    let mut walked = Vec::new();
                    s.walk_audit(&f, &mut |h| {
                        walked.push(h);
                        Ok(true)
                    })
                    .unwrap();
                    assert_eq!(walked, want, "walk {f:?}");
                    checked += usize::from(!want.is_empty());
                }
            }
        }
    }
    assert!(checked > 50, "most combinations match something: {checked}");
}

/// A page of a rare combination looks at no more than its budget of entries, says how far it
/// looked, and its links go on from there: the pages together still hold every match once.
#[test]
fn a_rare_combination_stops_at_the_budget_and_goes_on() {
    let (_d, s) = sled_temp_store();
    let w = world(&s);
    let f = AuditFilter {
        actor: Some(w.ann),
        kind: Some(AuditKind::MembersRemoved),
        ..Default::default()
    };
    let want = model(&s, &f);
    assert!(want.len() >= 3, "{}", want.len());
    let pages = older_pages(&s, &f, 5, 4);
    assert!(
        pages.iter().any(|p| p.searched_to.is_some()),
        "some page stopped at its budget"
    );
    let listed: Vec<AuditHit> = pages.iter().flat_map(|p| p.hits.clone()).collect();
    assert_eq!(listed, want);
    // Going newer under the same budget also ends at the newest match.
    let last = pages.last().unwrap();
    let mut at = last.newer.unwrap();
    for _ in 0..100 {
        let p = s.audit_page(&f, Toward::Newer(at), 5, 4).unwrap();
        match p.newer {
            Some(next) => at = next,
            None => {
                assert_eq!(p.hits.first(), want.first());
                return;
            }
        }
    }
    panic!("going newer never reached the newest events");
}

/// The migration's build gives exactly the entries the writes gave, and agrees with the check.
#[test]
fn the_index_is_rebuilt_from_the_trail() {
    let (_d, s) = sled_temp_store();
    world(&s);
    let before: Vec<_> = s.sled().audit_index.iter().map(|kv| kv.unwrap()).collect();
    assert_eq!(before.len(), 2 * 62, "by time and by actor, no more");
    s.sled().audit_index.clear().unwrap();
    assert_eq!(build_index(s.sled()).unwrap(), 62);
    assert_eq!(build_index(s.sled()).unwrap(), 62, "again: the same");
    let after: Vec<_> = s.sled().audit_index.iter().map(|kv| kv.unwrap()).collect();
    assert_eq!(after, before);
    assert_eq!(s.check().unwrap().violations, vec![]);
}

#[test]
fn index_keys_are_pinned() {
    let rec = AuditRecord {
        at: 0x0102,
        actor: 7,
        action: AuditKind::KeyRefused,
        detail: "x".into(),
    };
    let (keys, value) = index_entries(3, 0x0a0b, &rec);
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let end = "0000000000000102000000000000 0a0b0000000000000003".replace(' ', "");
    assert_eq!(hex(&keys[0]), format!("54{end}"));
    assert_eq!(hex(&keys[1]), format!("410000000000000007{end}"));
    assert_eq!(hex(&value), "000000000000000709");
    for k in &keys {
        let hit = read_entry(k, &value).unwrap();
        assert_eq!(
            hit,
            AuditHit {
                place: Place {
                    at: 0x0102,
                    event: 0x0a0b
                },
                group: 3,
                actor: 7,
                kind: AuditKind::KeyRefused
            }
        );
    }
    for (i, k) in AuditKind::ALL.iter().enumerate() {
        assert_eq!(usize::from(k.code()), i, "kinds keep their codes");
    }
    assert!(read_entry(b"Tshort", &value).is_err());
    assert!(read_entry(&keys[0], b"short").is_err());
    assert!(read_entry(&[b"X"[..].to_vec(), vec![0; 24]].concat(), &value).is_err());
    // Schema 5's families by group and by kind are no longer read (the migration deletes them).
    let by_group = [&[b'G'][..], &3u64.to_be_bytes(), &keys[0][1..]].concat();
    assert!(read_entry(&by_group, &value).is_err());
    assert!(read_entry(&[&[b'K', 9][..], &keys[0][1..]].concat(), &value).is_err());
}

/// A group's trail is in id order, which is not time order when a clock was set back or two
/// requests wrote at once: its pages still go newest first by time, the same through the
/// trail (a budget above the group's events) and through the index (a budget below), with
/// the kind and date filters too, and going back with "Newer" gives the same pages.
#[test]
fn a_group_lists_newest_first_when_its_ids_are_not_in_time_order() {
    let (_d, s) = sled_temp_store();
    let w = world(&s);
    let cat = learner(&s, "cat2");
    // The clock goes back: later ids, earlier times, some sharing a millisecond.
    for i in 0..20u64 {
        let actor = Actor {
            user: w.ann,
            now: T0 + 40 * HOUR - (i / 2) * 7 * HOUR,
        };
        if s.membership(w.alpha, cat).unwrap().is_some() {
            s.remove_member(actor, w.alpha, cat, false).unwrap();
        } else {
            s.add_member(actor, w.alpha, cat, JoinedHow::Manual)
                .unwrap();
        }
    }
    let mut checked = 0;
    for kind in [None, Some(AuditKind::MembersAdded)] {
        for (from, until) in [(None, None), (Some(T0 + 10 * HOUR), Some(T0 + 30 * HOUR))] {
            let f = AuditFilter {
                group: Some(w.alpha),
                kind,
                from,
                until,
                ..Default::default()
            };
            let want = model(&s, &f);
            let ids: Vec<u64> = want.iter().map(|h| h.place.event).collect();
            assert!(!ids.windows(2).all(|w| w[0] > w[1]), "not in id order");
            for budget in [SCAN_BUDGET, 5] {
                let pages = older_pages(&s, &f, 3, budget);
                let listed: Vec<AuditHit> = pages.iter().flat_map(|p| p.hits.clone()).collect();
                assert_eq!(listed, want, "{f:?} budget {budget}");
                for (i, p) in pages.iter().enumerate().skip(1) {
                    if budget == SCAN_BUDGET {
                        let back = s
                            .audit_page(&f, Toward::Newer(p.newer.unwrap()), 3, budget)
                            .unwrap();
                        assert_eq!(back.hits, pages[i - 1].hits, "page {i} back");
                    }
                }
            }
            let mut walked = Vec::new();
            s.walk_audit(&f, &mut |h| {
                walked.push(h);
                Ok(true)
            })
            .unwrap();
            assert_eq!(walked, want, "walk {f:?}");
            checked += 1;
        }
    }
    assert_eq!(checked, 4);
    assert_eq!(s.check().unwrap().violations, vec![]);
}

/// Every event of the trail as the index should answer it: newest first.
fn model(s: &Store, f: &AuditFilter) -> Vec<AuditHit> {
    let mut all: Vec<AuditHit> = s
        .sled()
        .audit
        .iter()
        .map(|kv| {
            let (k, rec) = s.sled().audit.decode_row(kv).unwrap();
            AuditHit {
                place: Place {
                    at: rec.at,
                    event: read_id("audit", &k, &k[8..]).unwrap(),
                },
                group: read_id("audit", &k, &k[..8]).unwrap(),
                actor: rec.actor,
                kind: rec.action,
            }
        })
        .filter(|h| {
            f.admits(h)
                && f.from.is_none_or(|t| h.place.at >= t)
                && f.until.is_none_or(|t| h.place.at < t)
        })
        .collect();
    all.sort_by_key(|h| std::cmp::Reverse(h.place));
    all
}
