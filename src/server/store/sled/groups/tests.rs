//! The sled backend's own tests: what only sled has (its trees, its files, damage written
//! under the store).

#[allow(unused_imports)]
use crate::server::store::groups::tests::{
    actions, all_members, at, branch, course, fields, fields_of, get, group, ids, is_invalid,
    keyed, learner, model_check, search, ACTOR,
};
#[allow(unused_imports)]
use crate::server::store::sled::test_prelude::*;

/// Writes a key use count straight into the record (key redemption lives elsewhere).
fn set_key_uses(s: &Store, id: u64, uses: u32) {
    let mut g = get(s, id);
    g.key_uses = uses;
    s.sled().groups.put(id, &g).unwrap();
}

#[test]
fn typed_keys_must_be_strong_but_a_groups_old_key_keeps_working() {
    let (_d, s) = sled_temp_store();
    let before = dump(&s);
    for weak in [
        "abc1",
        "ab-cd-12",
        "abcdefgh",
        "20262026",
        "aaaa1111",
        "ABCD-1234",
    ] {
        assert!(
            is_invalid(s.create_group(ACTOR, &keyed("W", weak)), "key"),
            "{weak:?}"
        );
    }
    assert_eq!(dump(&s), before, "a refused key writes nothing");

    // A group whose 4-character key was set before typed keys had to be strong, written as
    // that version wrote it.
    let (g, _) = s.create_group(ACTOR, &keyed("Old", "HX4T-9KWM")).unwrap();
    let mut rec = get(&s, g.id);
    rec.key.key = Some("ab12".into());
    s.sled().groups.put(g.id, &rec).unwrap();
    s.sled().group_key.remove("HX4T-9KWM").unwrap();
    s.sled().group_key.insert("AB12", &id_key(g.id)).unwrap();
    // Its edit form sends the key back as it is: the edit is saved and the key kept.
    let mut f = fields_of(&rec);
    f.name = "Renamed".into();
    let (renamed, _) = s.update_group(ACTOR, g.id, &f).unwrap();
    assert_eq!(renamed.key.key.as_deref(), Some("ab12"));
    assert_eq!(renamed.name, "Renamed");
    // Learners still join with it.
    let lee = learner(&s, "lee");
    let joined = s
        .redeem_key(lee, "lee", " AB12 ", None, 2)
        .unwrap()
        .expect("the old key still works");
    assert_eq!(joined.group, g.id);
    // Changing it to another weak key is refused; to a strong one works.
    assert!(is_invalid(
        s.update_group(ACTOR, g.id, &keyed("Renamed", "ab13")),
        "key"
    ));
    s.update_group(ACTOR, g.id, &keyed("Renamed", "phys-2026"))
        .unwrap();
    assert!(s.check().unwrap().violations.is_empty());
}

#[test]
fn keys_are_unique_ignoring_case_and_a_new_key_starts_its_uses_again() {
    let (_d, s) = sled_temp_store();
    let (a, _) = s.create_group(ACTOR, &keyed("A", "HX4T-9KWM")).unwrap();
    let (b, _) = s.create_group(ACTOR, &keyed("B", "VN7Q-3JRD")).unwrap();
    let before = dump(&s);
    assert!(is_invalid(
        s.create_group(ACTOR, &keyed("C", "hx4t-9kwm")),
        "key"
    ));
    assert!(is_invalid(
        s.update_group(ACTOR, b.id, &keyed("B", "hX4t-9KwM")),
        "key"
    ));
    assert_eq!(dump(&s), before, "a refused key writes nothing");
    assert_eq!(get(&s, b.id).key.key.as_deref(), Some("VN7Q-3JRD"));
    assert_eq!(s.group_count().unwrap(), 2);

    set_key_uses(&s, a.id, 5);
    // Other options, or the same key in another case, keep the count.
    let mut f = keyed("A", "hx4t-9kwm");
    f.key.max_uses = 10;
    let (a2, _) = s.update_group(ACTOR, a.id, &f).unwrap();
    assert_eq!((a2.key_uses, a2.key.max_uses), (5, 10));
    assert_eq!(a2.key.key.as_deref(), Some("hx4t-9kwm"));
    let (a3, _) = s.update_group(ACTOR, a.id, &fields_of(&a2)).unwrap();
    assert_eq!(a3.key_uses, 5);

    // A new key: the count starts again and the old key is free.
    let (a4, _) = s
        .update_group(ACTOR, a.id, &keyed("A", "NEW-KEY-42"))
        .unwrap();
    assert_eq!(a4.key_uses, 0);
    assert_eq!(get(&s, a.id).key_uses, 0);
    s.update_group(ACTOR, b.id, &keyed("B", "HX4T-9KWM"))
        .unwrap();
    // B's old key is free now.
    s.create_group(ACTOR, &keyed("C", "vn7q-3jrd")).unwrap();
    assert!(is_invalid(
        s.create_group(ACTOR, &keyed("D", "new-key-42")),
        "key"
    ));

    // Removing a key frees it and resets the count too.
    set_key_uses(&s, a.id, 3);
    let (a5, _) = s.update_group(ACTOR, a.id, &fields("A")).unwrap();
    assert_eq!((a5.key.key.as_deref(), a5.key_uses), (None, 0));
    s.create_group(ACTOR, &keyed("D", "new-key-42")).unwrap();

    // Generated keys avoid every key in use.
    for _ in 0..20 {
        let k = s.generate_group_key().unwrap();
        assert_eq!(k.len(), 14);
        assert!(k.bytes().all(|c| c == b'-' || KEY_ALPHABET.contains(&c)));
        assert_eq!(crate::model::group::typed_key_problem(&k), None, "{k}");
        assert!(s
            .sled()
            .group_key
            .get(fold_key(&k).as_bytes())
            .unwrap()
            .is_none());
    }
}

#[test]
fn one_default_group_at_a_time() {
    let (_d, s) = sled_temp_store();
    let check = |s: &Store| {
        let (rows, _, _) = s
            .list_groups("", GroupSort::Created, false, 1, 100, None)
            .unwrap();
        let defaults: Vec<u64> = rows.iter().filter(|g| g.is_default).map(|g| g.id).collect();
        assert!(defaults.len() <= 1, "{defaults:?}");
        assert_eq!(s.default_group().unwrap(), defaults.first().copied());
    };
    let default = |name: &str| GroupFields {
        is_default: true,
        ..fields(name)
    };
    assert_eq!(s.default_group().unwrap(), None);
    let (a, prev) = s.create_group(ACTOR, &default("A")).unwrap();
    assert!(a.is_default);
    assert_eq!(prev, None);
    assert_eq!(s.default_group().unwrap(), Some(a.id));
    check(&s);

    let (b, prev) = s.create_group(ACTOR, &default("B")).unwrap();
    assert_eq!(prev, Some((a.id, "A".to_string())));
    assert!(!get(&s, a.id).is_default);
    assert!(get(&s, b.id).is_default);
    assert_eq!(s.default_group().unwrap(), Some(b.id));
    assert_eq!(actions(&s, a.id)[0], AuditAction::DefaultChanged);
    check(&s);

    let c = group(&s, "C");
    assert!(!c.is_default);
    assert_eq!(s.default_group().unwrap(), Some(b.id));
    check(&s);

    // Saving the default as default again changes nothing.
    let (b2, prev) = s.update_group(ACTOR, b.id, &default("B")).unwrap();
    assert!(b2.is_default);
    assert_eq!(prev, None);
    check(&s);

    let (c2, prev) = s.update_group(ACTOR, c.id, &default("C")).unwrap();
    assert!(c2.is_default);
    assert_eq!(prev, Some((b.id, "B".to_string())));
    assert_eq!(s.default_group().unwrap(), Some(c.id));
    assert!(!get(&s, a.id).is_default && !get(&s, b.id).is_default);
    check(&s);

    // A refused change leaves the default where it was.
    let before = dump(&s);
    assert!(is_invalid(
        s.update_group(ACTOR, a.id, &default("c")),
        "name"
    ));
    assert_eq!(dump(&s), before);
    assert_eq!(s.default_group().unwrap(), Some(c.id));

    let (c3, prev) = s.update_group(ACTOR, c.id, &fields("C")).unwrap();
    assert!(!c3.is_default);
    assert_eq!(prev, None);
    assert_eq!(s.default_group().unwrap(), None);
    check(&s);
    let (_, prev) = s.update_group(ACTOR, a.id, &default("A")).unwrap();
    assert_eq!(prev, None, "no group was the default");
    assert_eq!(s.default_group().unwrap(), Some(a.id));
    check(&s);
}

#[test]
fn deleting_a_group_removes_all_of_it_but_enrolments_and_its_audit_trail() {
    let (_d, s) = sled_temp_store();
    let b = branch(&s, "North");
    let u1 = learner(&s, "ann");
    let u2 = learner(&s, "bob");
    let m = learner(&s, "meg");
    let c1 = course(&s, "C1");
    let c2 = course(&s, "C2");
    let lesson = add_lesson(&s, c1, "one");
    add_lesson(&s, c1, "two");
    let cur = s.create_curriculum("Path", "", 0).unwrap().id;
    s.change_curriculum(cur, CurriculumChange::Add(c2)).unwrap();
    let (g, _) = s
        .create_group(
            ACTOR,
            &GroupFields {
                branch: Some(b),
                is_default: true,
                ..keyed("Doomed Group", "GKEY-0001")
            },
        )
        .unwrap();
    let h = group(&s, "Other");
    for u in [u1, u2] {
        assert!(s.add_member(ACTOR, g.id, u, JoinedHow::Manual).unwrap());
    }
    s.add_member(ACTOR, h.id, u1, JoinedHow::Manual).unwrap();
    s.link_group_course(ACTOR, g.id, c1, true).unwrap();
    s.link_group_curriculum(ACTOR, g.id, cur, true).unwrap();
    s.link_group_course(ACTOR, h.id, c1, true).unwrap();
    s.set_group_manager(ACTOR, g.id, m, true).unwrap();
    s.enrol(u1, c1, Source::GroupSync(g.id), 0).unwrap();
    s.enrol(u2, c2, Source::GroupSync(g.id), 0).unwrap();
    s.mark_lesson(u1, c1, lesson, true, 5).unwrap();
    assert_eq!(s.group_count().unwrap(), 2);
    assert_eq!(s.groups_in_branch(b).unwrap(), 1);

    s.delete_group(at(9), g.id).unwrap();
    s.run_pending_jobs(9).unwrap();

    assert_eq!(s.get_group(g.id).unwrap(), None);
    assert_eq!(s.group_count().unwrap(), 1);
    assert_eq!(s.groups_in_branch(b).unwrap(), 0);
    assert_eq!(s.default_group().unwrap(), None);
    assert_eq!(s.groups_of_user(u1).unwrap(), vec![h.id]);
    assert!(s.groups_of_user(u2).unwrap().is_empty());
    assert_eq!(s.membership(g.id, u1).unwrap(), None);
    assert!(s
        .sled()
        .group_members
        .scan_prefix(id_key(g.id))
        .next()
        .is_none());
    assert!(matches!(
        s.list_members(g.id, "", 1, 10),
        Err(StoreError::NotFound("group"))
    ));
    assert_eq!(s.group_links(g.id).unwrap(), (vec![], vec![]));
    assert_eq!(
        suffix_ids(&s.sled().course_groups, "course_groups", c1).unwrap(),
        vec![h.id]
    );
    assert!(
        suffix_ids(&s.sled().curriculum_groups, "curriculum_groups", cur)
            .unwrap()
            .is_empty()
    );
    assert!(s.group_managers(g.id).unwrap().is_empty());
    assert!(s.managed_groups(m).unwrap().is_empty());
    assert!(!s.manages_group(m, g.id).unwrap());
    assert!(!s.manages_any_group(m).unwrap());
    // No index entry is left pointing at it.
    for (name, tree) in [
        ("group_suffix", &s.sled().group_suffix),
        ("group_by_members", &s.sled().group_by_members),
    ] {
        for kv in tree.iter() {
            let (k, _) = kv.unwrap();
            assert_ne!(&k[k.len() - 8..], &id_key(g.id), "{name} still has it");
        }
    }
    for tree in [&s.sled().group_name, &s.sled().group_key] {
        for kv in tree.iter() {
            assert_ne!(kv.unwrap().1.as_ref(), &id_key(g.id));
        }
    }
    assert_eq!(search(&s, "doomed").1, 0);
    assert_eq!(search(&s, "d").0, Vec::<String>::new());
    assert_eq!(search(&s, ""), (vec!["Other".into()], 1));
    let (by_members, total, _) = s
        .list_groups("", GroupSort::Members, false, 1, 100, None)
        .unwrap();
    assert_eq!((ids(&by_members), total), (vec![h.id], 1));

    // Enrolments and progress stay.
    let e = s.enrolment(u1, c1).unwrap().expect("still enrolled");
    assert_eq!(e.progress.done, 1);
    assert!(s.enrolment(u2, c2).unwrap().is_some());
    assert_eq!(s.enrolled_count(c1).unwrap(), 1);

    // The audit trail stays, the deletion last.
    let trail = actions(&s, g.id);
    assert_eq!(trail[0], AuditAction::GroupDeleted);
    assert_eq!(*trail.last().unwrap(), AuditAction::GroupCreated);
    let (_, last) = &s.group_activity(g.id, 1).unwrap()[0];
    assert_eq!(last.at, 9);
    assert!(last.detail.contains("2 membership(s)"), "{}", last.detail);

    // Its name and key can be used again; deleting again is NotFound.
    assert!(matches!(
        s.delete_group(ACTOR, g.id),
        Err(StoreError::NotFound("group"))
    ));
    let (again, _) = s
        .create_group(ACTOR, &keyed("doomed group", "gkey-0001"))
        .unwrap();
    assert_eq!(again.members, 0);
    assert!(s.groups_of_user(u2).unwrap().is_empty());
    assert_eq!(search(&s, "doomed"), (vec!["doomed group".into()], 1));
    assert_eq!(s.group_count().unwrap(), 2);
}

/// Listing reads an index, then the records, outside a transaction: a group deleted in between
/// (here: its record gone, its index entries not yet) is left out, not an error.
#[test]
fn a_group_deleted_while_listing_is_left_out() {
    let (_d, s) = sled_temp_store();
    let a = group(&s, "Race one");
    let b = group(&s, "Race two");
    s.sled().groups.remove(id_key(a.id)).unwrap();
    for q in ["", "r", "ra", "race", "ace on"] {
        for sort in [GroupSort::Name, GroupSort::Members, GroupSort::Created] {
            let (rows, _, _) = s.list_groups(q, sort, false, 1, 10, None).unwrap();
            let want = if q == "ace on" { vec![] } else { vec![b.id] };
            assert_eq!(ids(&rows), want, "{q:?} {sort:?}");
        }
    }
}

#[test]
fn course_and_curriculum_links_are_idempotent_and_counted() {
    let (_d, s) = temp_store();
    let g = group(&s, "G");
    let h = group(&s, "H");
    let u = learner(&s, "ann");
    let c1 = course(&s, "C1");
    let c2 = course(&s, "C2");
    let c3 = course(&s, "C3");
    let cur = s.create_curriculum("Path", "", 0).unwrap().id;
    let cur2 = s.create_curriculum("Other path", "", 0).unwrap().id;
    s.change_curriculum(cur, CurriculumChange::Add(c1)).unwrap();
    s.change_curriculum(cur, CurriculumChange::Add(c3)).unwrap();

    assert!(s.link_group_course(ACTOR, g.id, c1, true).unwrap());
    let before = dump(&s);
    assert!(!s.link_group_course(ACTOR, g.id, c1, true).unwrap());
    assert_eq!(dump(&s), before, "linking twice writes nothing");
    assert!(s.link_group_course(ACTOR, g.id, c2, true).unwrap());
    assert_eq!(get(&s, g.id).courses, 2);
    assert!(s.link_group_course(ACTOR, g.id, c1, false).unwrap());
    assert!(!s.link_group_course(ACTOR, g.id, c1, false).unwrap());
    assert!(!s.link_group_course(ACTOR, g.id, 424_242, false).unwrap());
    assert_eq!(get(&s, g.id).courses, 1);
    assert!(s.link_group_course(ACTOR, g.id, c1, true).unwrap());
    assert!(s.link_group_curriculum(ACTOR, g.id, cur, true).unwrap());
    assert!(!s.link_group_curriculum(ACTOR, g.id, cur, true).unwrap());
    assert!(s.link_group_curriculum(ACTOR, g.id, cur2, true).unwrap());
    let rec = get(&s, g.id);
    assert_eq!((rec.courses, rec.curricula), (2, 2));
    assert_eq!(
        s.group_links(g.id).unwrap(),
        (vec![c2, c1], vec![cur, cur2]),
        "in the order they were attached"
    );
    assert_eq!(
        s.group_course_ids_with_curricula(g.id).unwrap(),
        vec![c2, c1, c3]
    );

    let before = dump(&s);
    assert!(matches!(
        s.link_group_course(ACTOR, g.id, 424_242, true),
        Err(StoreError::NotFound("course"))
    ));
    assert!(matches!(
        s.link_group_course(ACTOR, g.id, cur, true),
        Err(StoreError::NotFound("course"))
    ));
    assert!(matches!(
        s.link_group_curriculum(ACTOR, g.id, c1, true),
        Err(StoreError::NotFound("curriculum"))
    ));
    assert!(matches!(
        s.link_group_course(ACTOR, 424_242, c1, true),
        Err(StoreError::NotFound("group"))
    ));
    assert_eq!(dump(&s), before);

    s.link_group_course(ACTOR, h.id, c2, true).unwrap();
    s.link_group_curriculum(ACTOR, h.id, cur, true).unwrap();

    // A course with learners cannot go, and keeps its links.
    s.enrol(u, c1, Source::Manual, 0).unwrap();
    assert!(is_invalid(s.delete_course(c1), "course"));
    assert_eq!(get(&s, g.id).courses, 2);

    s.delete_course(c2).unwrap();
    // The group page leaves the deleted course out at once; the job detaches it for good.
    assert!(s
        .group_link_views(h.id)
        .unwrap()
        .courses
        .iter()
        .all(|l| l.id != c2));
    s.run_pending_jobs(1).unwrap();
    let (rg, rh) = (get(&s, g.id), get(&s, h.id));
    assert_eq!((rg.courses, rh.courses), (1, 0));
    assert_eq!(s.group_links(g.id).unwrap().0, vec![c1]);
    assert!(s.group_links(h.id).unwrap().0.is_empty());
    assert!(suffix_ids(&s.sled().course_groups, "course_groups", c2)
        .unwrap()
        .is_empty());

    s.delete_curriculum(cur).unwrap();
    s.run_pending_jobs(1).unwrap();
    let (rg, rh) = (get(&s, g.id), get(&s, h.id));
    assert_eq!((rg.curricula, rh.curricula), (1, 0));
    assert_eq!(s.group_links(g.id).unwrap().1, vec![cur2]);
    assert!(s.group_links(h.id).unwrap().1.is_empty());
    assert!(
        suffix_ids(&s.sled().curriculum_groups, "curriculum_groups", cur)
            .unwrap()
            .is_empty()
    );
    assert_eq!(s.group_course_ids_with_curricula(g.id).unwrap(), vec![c1]);

    // The audit trail has an event per change that happened.
    let changes = actions(&s, g.id)
        .into_iter()
        .filter(|a| *a == AuditAction::CoursesChanged)
        .count();
    assert_eq!(changes, 6);
}

/// A failure after the user record was written in the transaction (here the default group's
/// record cannot be read) leaves neither the user nor any membership or enrolment.
#[test]
fn a_failed_default_group_join_creates_no_user() {
    let (_d, s) = sled_temp_store();
    let a = course(&s, "ATOM-A");
    let (g, _) = s
        .create_group(
            ACTOR,
            &GroupFields {
                is_default: true,
                ..fields("Default")
            },
        )
        .unwrap();
    s.link_group_course(ACTOR, g.id, a, true).unwrap();
    let users_before = s.user_count().unwrap();
    let good = s.sled().groups.get(id_key(g.id)).unwrap().unwrap();
    s.sled()
        .groups
        .insert(id_key(g.id), &[1u8, 0xff][..])
        .unwrap();
    let before = dump(&s);
    let f = UserFields {
        login: "ghost".into(),
        email: "ghost@x.org".into(),
        display_name: "Ghost".into(),
        role: Role::Learner,
    };
    let r = s.create_user(&f, &PasswordHash::from_phc("$x".into()), false, 5);
    assert!(matches!(r, Err(StoreError::Corrupt { .. })), "{r:?}");
    assert_eq!(dump(&s), before, "nothing written");
    assert_eq!(s.user_count().unwrap(), users_before);
    // With the group readable again, the same user can be created, and joins.
    s.sled().groups.insert(id_key(g.id), good).unwrap();
    let id = s
        .create_user(&f, &PasswordHash::from_phc("$x".into()), false, 6)
        .unwrap()
        .id;
    assert_eq!(s.groups_of_user(id).unwrap(), vec![g.id]);
    assert!(s.enrolment(id, a).unwrap().is_some());
}

/// The Courses tab's checklist: several courses and curricula attached in one call, with one
/// audit event naming them; those already attached or listed twice are passed over.
#[test]
fn several_courses_and_curricula_are_attached_at_once() {
    let (_d, s) = temp_store();
    let g = group(&s, "G");
    let (c1, c2, c3) = (course(&s, "C1"), course(&s, "C2"), course(&s, "C3"));
    let cur = s.create_curriculum("Path", "", 0).unwrap().id;
    s.link_group_course(ACTOR, g.id, c1, true).unwrap();
    let events = actions(&s, g.id).len();

    let n = s
        .attach_links(ACTOR, g.id, &[c1, c2, c3, c2], &[cur])
        .unwrap();
    assert_eq!(n, 3, "c2, c3 and the curriculum are new; c1 was there");
    let rec = get(&s, g.id);
    assert_eq!((rec.courses, rec.curricula), (3, 1));
    assert_eq!(s.group_links(g.id).unwrap(), (vec![c1, c2, c3], vec![cur]));
    for c in [c2, c3] {
        assert_eq!(
            suffix_ids(&s.sled().course_groups, "course_groups", c).unwrap(),
            vec![g.id]
        );
    }
    assert_eq!(
        suffix_ids(&s.sled().curriculum_groups, "curriculum_groups", cur).unwrap(),
        vec![g.id]
    );
    let trail = s.group_activity(g.id, 1000).unwrap();
    assert_eq!(trail.len(), events + 1, "one event for the whole attach");
    let (_, last) = trail.iter().max_by_key(|(id, _)| *id).expect("an event");
    assert_eq!(AuditAction::from(last.action), AuditAction::CoursesChanged);
    assert_eq!(last.detail, "Attached courses C2, C3 and curriculum Path.");

    // All of them already attached: nothing written, no event.
    let before = dump(&s);
    assert_eq!(s.attach_links(ACTOR, g.id, &[c1, c2], &[cur]).unwrap(), 0);
    assert_eq!(dump(&s), before);
}

/// "Managers may regenerate the key": off unless set, set and cleared by the form's saves
/// (with an audit line), kept by saves that do not carry it; a manager's regenerate is
/// refused while it is off (nothing changed) and done while it is on.
#[test]
fn managers_regenerate_the_key_only_when_the_group_allows_it() {
    use super::keys::KeyChange;
    let (_d, s) = sled_temp_store();
    let (g, _) = s
        .create_group_with(ACTOR, &keyed("G", "HX4T-9KWM-PQ7R"), false)
        .unwrap();
    assert!(!g.managers_regenerate_key);
    assert!(!group(&s, "H").managers_regenerate_key, "off by default");

    let before = dump(&s);
    assert!(matches!(
        s.change_key(ACTOR, g.id, KeyChange::RegenerateAsManager),
        Err(StoreError::Forbidden)
    ));
    assert_eq!(dump(&s), before, "refused: the key and the trail unchanged");

    s.update_group_with(ACTOR, g.id, &fields_of(&g), true)
        .unwrap();
    assert!(get(&s, g.id).managers_regenerate_key);
    let trail = s.group_activity(g.id, 1000).unwrap();
    assert!(
        trail
            .iter()
            .any(|(_, a)| a.detail.contains("managers may regenerate the key")),
        "{trail:?}"
    );
    // A save that does not carry the setting leaves it as it is.
    s.update_group(ACTOR, g.id, &fields_of(&get(&s, g.id)))
        .unwrap();
    assert!(get(&s, g.id).managers_regenerate_key);

    let new = s
        .change_key(ACTOR, g.id, KeyChange::RegenerateAsManager)
        .unwrap();
    assert_ne!(new.key.key.as_deref(), Some("HX4T-9KWM-PQ7R"));
    assert!(s
        .sled()
        .group_key
        .get(fold_key("HX4T-9KWM-PQ7R").as_bytes())
        .unwrap()
        .is_none());

    s.update_group_with(ACTOR, g.id, &fields_of(&get(&s, g.id)), false)
        .unwrap();
    assert!(matches!(
        s.change_key(ACTOR, g.id, KeyChange::RegenerateAsManager),
        Err(StoreError::Forbidden)
    ));
    // Administrators always may.
    s.change_key(ACTOR, g.id, KeyChange::Regenerate).unwrap();
    let (h, _) = s.create_group_with(ACTOR, &fields("On"), true).unwrap();
    assert!(h.managers_regenerate_key);
}
