use super::*;

use crate::model::group::JoinedHow;

use crate::server::store::enrolments::tests_support::{learner, plain_group};

use crate::server::store::groups::Actor;

#[allow(unused_imports)]
use crate::server::store::tests::prelude::*;

use crate::server::store::tests::temp_store;

use crate::model::activity::Place;

pub(crate) const HOUR: u64 = 3_600_000;

/// 2026-01-02 00:00 UTC.
pub(crate) const T0: u64 = 1_767_312_000_000;

pub(crate) struct World {
    pub(crate) alpha: u64,
    pub(crate) beta: u64,
    pub(crate) ann: u64,
    pub(crate) bob: u64,
}

/// Two groups and 60 membership changes by ann, bob and Tessera, two to an hour (so some
/// share a millisecond), alternating between the groups.
pub(crate) fn world(s: &Store) -> World {
    let alpha = plain_group(s, "Alpha");
    let beta = plain_group(s, "Beta");
    let ann = learner(s, "ann");
    let bob = learner(s, "bob");
    let cat = learner(s, "cat");
    for i in 0..60u64 {
        let group = if i % 3 == 0 { beta } else { alpha };
        let actor = Actor {
            user: [ann, bob, 0][(i % 5 % 3) as usize],
            now: T0 + (i / 2) * HOUR,
        };
        if s.membership(group, cat).unwrap().is_some() {
            s.remove_member(actor, group, cat, false).unwrap();
        } else {
            s.add_member(actor, group, cat, JoinedHow::Manual).unwrap();
        }
    }
    World {
        alpha,
        beta,
        ann,
        bob,
    }
}

/// Follows the "Older" links from the first page to the last.
pub(crate) fn older_pages(
    s: &Store,
    f: &AuditFilter,
    limit: usize,
    budget: usize,
) -> Vec<AuditHits> {
    let mut pages = vec![s.audit_page(f, Toward::Older(None), limit, budget).unwrap()];
    while let Some(p) = pages.last().unwrap().older {
        pages.push(
            s.audit_page(f, Toward::Older(Some(p)), limit, budget)
                .unwrap(),
        );
        assert!(pages.len() < 1_000, "the pages end");
    }
    pages
}

/// The page as the browser gets it: names, deleted groups, and every filter at fault named.
#[test]
fn the_activity_page_names_people_groups_and_problems() {
    let (_d, s) = temp_store();
    let w = world(&s);
    let q = |actor: &str, group: &str, kind: &str, from: &str, to: &str| ActivityQuery {
        actor: actor.into(),
        group: group.into(),
        kind: kind.into(),
        from: from.into(),
        to: to.into(),
        ..Default::default()
    };
    let page = s
        .activity_page(&q("ANN@x.org", "beta", "members_added", "", ""), 50)
        .unwrap();
    assert!(!page.rows.is_empty() && page.problems.is_empty());
    for r in &page.rows {
        assert_eq!(r.actor, "ann");
        assert_eq!((r.group_id, r.group.as_deref()), (w.beta, Some("Beta")));
        assert_eq!(r.action, crate::model::group::AuditAction::MembersAdded);
        assert!(r.detail.starts_with("Added cat"), "{}", r.detail);
    }
    let system = s
        .activity_page(&q("", "", "group_created", "", ""), 50)
        .unwrap();
    assert_eq!(system.rows.len(), 2);
    assert!(system.rows.iter().all(|r| r.actor == "system"));

    let bad = s
        .activity_page(
            &q("nobody", "Gamma", "nonsense", "2026-01-05", "2026-01-04"),
            50,
        )
        .unwrap();
    assert!(bad.rows.is_empty());
    for field in ["actor", "group", "kind", "to"] {
        assert!(bad.problem(field).is_some(), "{field}: {:?}", bad.problems);
    }
    assert!(bad.problem("actor").unwrap().contains("“nobody”"));
    let day = s
        .activity_page(&q("", "", "", "2026-01-02", "2026-01-02"), 100)
        .unwrap();
    assert_eq!(day.rows.len(), 48, "24 hours of two changes");
    assert!(s
        .activity_page(&q("", "", "", "2026-01-04", ""), 50)
        .unwrap()
        .rows
        .is_empty());

    // A deleted group's events stay, without a name; its name no longer filters.
    s.delete_group(
        Actor {
            user: w.bob,
            now: T0 + 100 * HOUR,
        },
        w.beta,
    )
    .unwrap();
    let top = s.activity_page(&ActivityQuery::default(), 3).unwrap();
    assert_eq!(top.rows[0].group, None);
    assert_eq!(top.rows[0].group_id, w.beta);
    assert_eq!(top.rows[0].actor, "bob");
    assert!(top.older.is_some() && top.newer.is_none());
    let gone = s.activity_page(&q("", "Beta", "", "", ""), 3).unwrap();
    assert!(gone.problem("group").is_some());
}

/// Older pages from the first to the last hold every event once, newest first; going back
/// with "Newer" gives the same pages again.
#[test]
fn pages_go_newest_first_and_back() {
    let (_d, s) = temp_store();
    let w = world(&s);
    let f = AuditFilter::default();
    let all = model(&s, &w, &f);
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
    let (_d, s) = temp_store();
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
                    let want = model(&s, &w, &f);
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
    let (_d, s) = temp_store();
    let w = world(&s);
    let f = AuditFilter {
        actor: Some(w.ann),
        kind: Some(AuditKind::MembersRemoved),
        ..Default::default()
    };
    let want = model(&s, &w, &f);
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

/// A group's trail is in id order, which is not time order when a clock was set back or two
/// requests wrote at once: its pages still go newest first by time, the same through the
/// trail (a budget above the group's events) and through the index (a budget below), with
/// the kind and date filters too, and going back with "Newer" gives the same pages.
#[test]
fn a_group_lists_newest_first_when_its_ids_are_not_in_time_order() {
    let (_d, s) = temp_store();
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
            let want = model(&s, &w, &f);
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
}

/// Every event of the world's groups as the pages should list them for `f`, newest first: read
/// through each group's own trail (`group_activity`), not through the index the pages use.
fn model(s: &Store, w: &World, f: &AuditFilter) -> Vec<AuditHit> {
    let mut all: Vec<AuditHit> = [w.alpha, w.beta]
        .into_iter()
        .flat_map(|g| {
            s.group_activity(g, usize::MAX)
                .unwrap()
                .into_iter()
                .map(move |(event, rec)| AuditHit {
                    place: Place { at: rec.at, event },
                    group: g,
                    actor: rec.actor,
                    kind: rec.action,
                })
        })
        .filter(|h| f.admits(h) && f.in_dates(h.place.at))
        .collect();
    all.sort_by_key(|h| std::cmp::Reverse(h.place));
    all
}
