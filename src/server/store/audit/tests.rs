use super::*;

use crate::model::group::JoinedHow;

use crate::server::store::enrolments::tests_support::{learner, plain_group};

use crate::server::store::groups::Actor;

#[allow(unused_imports)]
use crate::server::store::tests::prelude::*;

use crate::server::store::tests::temp_store;

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
