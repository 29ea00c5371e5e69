//! Start-up migrations: `(from, step)` brings a database at schema `from` to `from + 1`.
//!
//! The runner (`SledStore::migrate`) writes the new schema version only after a step returned, so
//! a crash in a step runs it again at the next start: every step is idempotent (running it
//! twice, or after a half-done run, gives the same database as running it once), and each has a
//! test on a database written by the previous version (`tests/fixtures/schema-v1.tar.gz`, made
//! by the release of schema 1) that runs it twice.

#[allow(unused_imports)]
use crate::server::store::prelude::*;

use super::codec::{self, read_id, Record};
use super::enrolments::{EnrolmentRecord, Source};
use super::groups::GroupLinksRecord;
use super::{counter_key, SledStore, StoreError};
use serde::Deserialize;

pub(super) type Migration = fn(&SledStore) -> Result<(), StoreError>;

pub(super) const MIGRATIONS: &[(u32, Migration)] = &[
    (1, v1_to_v2),
    (2, v2_to_v3),
    (3, v3_to_v4),
    (4, v4_to_v5),
    (5, v5_to_v6),
];

/// Records as schema 1 wrote them, frozen here: decoding old data must not follow the code.
mod v1 {
    use super::Deserialize;

    #[derive(Debug, Deserialize)]
    pub enum EnrolSource {
        Manual,
        Curriculum,
        GroupSync,
        GroupKey,
        DefaultGroup,
        Import,
    }

    #[derive(Debug, Deserialize)]
    pub struct Enrolment {
        pub source: EnrolSource,
        pub via_curriculum: Option<u64>,
        pub enrolled_at: u64,
    }
}

/// 1 → 2:
/// - a group's course and curriculum links move from the prefix trees `group_courses` and
///   `group_curricula` into one `group_links` record per group (readable in a transaction);
/// - enrolments record every source with its group or curriculum (`sources`);
/// - branches, courses and curricula get stored counters for their list totals.
fn v1_to_v2(s: &SledStore) -> Result<(), StoreError> {
    links_into_records(s)?;
    enrolment_sources(s)?;
    list_counters(s)
}

/// 2 → 3: every audit event gets its entries in `audit_index` (the Activity page: by time,
/// group, actor and kind then, by time and actor since schema 6: the build writes today's
/// families), derived from the event alone, so a second run writes the same.
fn v2_to_v3(s: &SledStore) -> Result<(), StoreError> {
    let events = super::audit::build_index(s)?;
    tracing::info!(events, "indexed the audit trail");
    Ok(())
}

/// 3 → 4: sessions are keyed by the hash of their id, no longer by the id itself (anyone who
/// could read the database could sign in with an administrator's). Each live session is
/// re-keyed by its hash, so nobody is signed out by the upgrade: the cookie still carries the
/// id, which now finds the session through its hash. Expired or unreadable ones are dropped.
///
/// Which keys are old: a schema-3 key is the id's text (tower-sessions: 22 characters of
/// base64), a new key is 32 bytes of hash, so any key that is not 32 bytes long is old. Each
/// batch moves its sessions in one atomic step (the hash in, the id out): after a crash the
/// moved ones are 32 bytes and passed over, the rest are moved by the next run.
fn v3_to_v4(s: &SledStore) -> Result<(), StoreError> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let (mut kept, mut dropped) = (0u64, 0u64);
    let mut batch = sled::Batch::default();
    let mut pending = 0;
    for item in s.sessions.iter() {
        let (k, v) = item?;
        if k.len() == 32 {
            continue;
        }
        let live = s.sessions.decode(&k, &v).is_ok_and(|r| r.expires_at > now);
        if live {
            batch.insert(&codec::secret_key(&k), v);
            kept += 1;
        } else {
            dropped += 1;
        }
        batch.remove(k);
        pending += 1;
        if pending == 1_000 {
            s.sessions.apply_batch(std::mem::take(&mut batch))?;
            pending = 0;
        }
    }
    s.sessions.apply_batch(batch)?;
    tracing::info!(kept, dropped, "sessions re-keyed by the hash of their id");
    Ok(())
}

/// 4 → 5: courses are searched by every suffix of their code and title (a search matches any
/// part of either, as the groups table's does) in the new `course_suffix`, instead of by words
/// and whole fields in `search_course` (which matched only their starts). The new index is
/// built from the courses (emptied first, so a second run, or one after a crash, writes the
/// same), then the old tree is dropped whole: cheaper than removing its entries one by one.
fn v4_to_v5(s: &SledStore) -> Result<(), StoreError> {
    let courses = s.rebuild_course_search()?;
    s.db.flush()?;
    s.db.drop_tree("search_course")?;
    tracing::info!(courses, "course search index rebuilt for any-part search");
    Ok(())
}

/// The `audit_index` families schemas 3 to 5 wrote and 6 does not: by group (`G` ++ group ++
/// end) and by kind (`K` ++ kind code ++ end), see `store/audit.rs`.
const RETIRED_AUDIT_FAMILIES: [u8; 2] = [b'G', b'K'];

/// 5 → 6: the audit index keeps its entries by time and by actor only; those by group and by
/// kind, half of every event's entries, are deleted (the Activity page answers a group from the
/// trail and a kind as a filter over time). Each stored entry costs the embedded store memory
/// for as long as it runs: on a school of 100,000 learners this is 420,000 entries. Deletes in
/// batches of 1,000; a run after a crash, or a second run, deletes what is left (or nothing).
fn v5_to_v6(s: &SledStore) -> Result<(), StoreError> {
    let mut deleted = 0u64;
    for family in RETIRED_AUDIT_FAMILIES {
        let mut batch = sled::Batch::default();
        let mut pending = 0;
        for key in s.audit_index.scan_prefix([family]).keys() {
            batch.remove(key?);
            deleted += 1;
            pending += 1;
            if pending == 1_000 {
                s.audit_index.apply_batch(std::mem::take(&mut batch))?;
                pending = 0;
            }
        }
        s.audit_index.apply_batch(batch)?;
    }
    tracing::info!(deleted, "audit index entries by group and by kind deleted");
    Ok(())
}

/// Builds each group's links record from the old trees, for groups that have none yet, then
/// drops the old trees. Re-run after a crash: records built stay as they are (the old trees
/// are dropped only once every record exists), the rest are built.
fn links_into_records(s: &SledStore) -> Result<(), StoreError> {
    let mut links: std::collections::BTreeMap<u64, GroupLinksRecord> = Default::default();
    for (tree, curricula) in [("group_courses", false), ("group_curricula", true)] {
        let old = s.db.open_tree(tree)?;
        for item in old.iter() {
            let (k, _) = item?;
            if k.len() != 16 {
                return Err(StoreError::Corrupt {
                    tree: if curricula {
                        "group_curricula"
                    } else {
                        "group_courses"
                    },
                    key: codec::show_key(&k),
                    reason: "not a 16-byte pair key".into(),
                });
            }
            let group = read_id("group_links", &k, &k[..8])?;
            let target = read_id("group_links", &k, &k[8..])?;
            let rec = links.entry(group).or_default();
            if curricula {
                rec.curricula.push(target);
            } else {
                rec.courses.push(target);
            }
        }
    }
    for (group, rec) in links {
        let key = codec::id_key(group);
        if s.groups.get(key)?.is_some() && s.group_links.get(key)?.is_none() {
            s.group_links.put(group, &rec)?;
        }
    }
    s.db.flush()?;
    s.db.drop_tree("group_courses")?;
    s.db.drop_tree("group_curricula")?;
    Ok(())
}

/// Rewrites schema-1 enrolments (one source kind, no group) with their sources. Records already
/// in the new form are left alone. Group sources of schema 1 carried no group, so they become
/// `Manual`: such enrolments are never ended by taking someone out of a group.
fn enrolment_sources(s: &SledStore) -> Result<(), StoreError> {
    let mut batch = sled::Batch::default();
    let mut pending = 0;
    for item in s.enrolments.iter() {
        let (k, v) = item?;
        match v.first() {
            Some(&EnrolmentRecord::VERSION) => continue,
            Some(1) => {}
            _ => {
                return Err(StoreError::Corrupt {
                    tree: "enrolments",
                    key: codec::show_key(&k),
                    reason: "unknown record version".into(),
                })
            }
        }
        // A version-1 body, by hand: the table reads only the versions the record kind knows.
        let old: v1::Enrolment =
            postcard::from_bytes(&v[1..]).map_err(|e| StoreError::Corrupt {
                tree: "enrolments",
                key: codec::show_key(&k),
                reason: format!("cannot decode a schema-1 enrolment: {e}"),
            })?;
        let source = match (old.source, old.via_curriculum) {
            (v1::EnrolSource::Curriculum, Some(c)) => Source::Curriculum(c),
            (v1::EnrolSource::Import, _) => Source::Import,
            _ => Source::Manual,
        };
        let new = EnrolmentRecord {
            enrolled_at: old.enrolled_at,
            sources: vec![source],
        };
        batch.insert(k, s.enrolments.encode(&new)?);
        pending += 1;
        if pending == 1_000 {
            s.enrolments.apply_batch(std::mem::take(&mut batch))?;
            pending = 0;
        }
    }
    s.enrolments.apply_batch(batch)?;
    Ok(())
}

/// Counts branches, courses and curricula once (their unique-name indexes hold one entry
/// each) into the counters their list pages read. Overwrites: safe to repeat.
fn list_counters(s: &SledStore) -> Result<(), StoreError> {
    for (name, tree) in [
        (super::branches::COUNT_BRANCHES, &s.branch_name),
        (super::courses::COUNT_COURSES, &s.course_code),
        (super::curricula::COUNT_CURRICULA, &s.curriculum_name),
    ] {
        let n = tree.len() as u64;
        s.meta.insert(counter_key(name), &n.to_be_bytes())?;
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::model::catalog::EnrolSource;
    use crate::server::store::tests::reopen;
    use crate::server::store::{OpenError, SCHEMA_VERSION};

    /// Unpacks the database the schema-1 release wrote (see the module docs) into a temp dir.
    /// It holds: users admin (1), lee (2), kim (3); branch North School (4); courses PHY (5,
    /// two lessons), CHE (6), BIO (7); curriculum Science Path (10: CHE, BIO); group Year 7
    /// (11, branch 4, key ABCD-EFGH-JKLM, the default) with PHY and Science Path attached,
    /// lee and kim as members, kim as manager; lee enrolled in PHY by hand with one lesson
    /// done; kim enrolled in Science Path; self-registration on.
    pub fn schema_v1() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let archive = dir.path().join("v1.tar.gz");
        std::fs::write(
            &archive,
            include_bytes!("../../../../tests/fixtures/schema-v1.tar.gz"),
        )
        .unwrap();
        let status = std::process::Command::new("tar")
            .arg("xzf")
            .arg(&archive)
            .current_dir(dir.path())
            .status()
            .expect("tar");
        assert!(status.success());
        dir
    }

    pub fn check_v2(s: &SledStore) {
        assert_eq!(s.schema_version().unwrap(), Some(SCHEMA_VERSION));
        // Links moved into the record, counts unchanged.
        assert_eq!(s.group_links(11).unwrap(), (vec![5], vec![10]));
        assert_eq!(
            s.group_course_ids_with_curricula(11).unwrap(),
            vec![5, 6, 7]
        );
        let g = s.get_group(11).unwrap().unwrap();
        assert_eq!((g.members, g.courses, g.curricula), (2, 1, 1));
        assert!(!s
            .db
            .tree_names()
            .iter()
            .any(|n| n.as_ref() == b"group_courses"));
        // Enrolments with their sources.
        let lee = s.enrolment(2, 5).unwrap().unwrap();
        assert_eq!(lee.source, EnrolSource::Manual);
        assert_eq!(lee.progress.done, 1);
        let kim = s.enrolment(3, 6).unwrap().unwrap();
        assert_eq!(
            (kim.source, kim.via_curriculum),
            (EnrolSource::Curriculum, Some(10))
        );
        assert_eq!(s.enrolled_count(6).unwrap(), 1);
        // Counters for the list pages.
        assert_eq!(s.branch_count().unwrap(), 1);
        assert_eq!(s.course_count().unwrap(), 3);
        assert_eq!(s.curriculum_count().unwrap(), 1);
        // Everything else reads as before.
        assert_eq!(s.user_count().unwrap(), 3);
        assert_eq!(s.default_group().unwrap(), Some(11));
        assert!(s.manages_group(3, 11).unwrap());
        assert_eq!(s.settings().unwrap().self_registration, Some(true));
        let bulk = s.last_bulk_result(11, 1).unwrap().unwrap();
        assert_eq!((bulk.already, bulk.unknown), (2, 1));
        assert_eq!(s.group_activity(11, 50).unwrap().len(), 7);
        check_v3(s);
    }

    /// Schema 3: the trail is indexed, and the Activity list reads it across groups.
    fn check_v3(s: &SledStore) {
        assert_eq!(s.check().unwrap().violations, vec![]);
        assert_eq!(s.audit_index.iter().count(), 2 * 7, "by time and by actor");
        let all = s
            .activity_page(&crate::model::activity::ActivityQuery::default(), 50)
            .unwrap();
        assert_eq!(all.rows.len(), 7);
        assert!(all
            .rows
            .iter()
            .all(|r| r.group.as_deref() == Some("Year 7")));
        assert!(all
            .rows
            .windows(2)
            .all(|w| (w[0].at, w[0].id) > (w[1].at, w[1].id)));
        let by_admin = crate::model::activity::ActivityQuery {
            actor: "admin".into(),
            ..Default::default()
        };
        let mine = s.activity_page(&by_admin, 50).unwrap();
        assert!(!mine.rows.is_empty() && mine.rows.iter().all(|r| r.actor == "admin"));
        check_v4(s);
    }

    /// Schema 4: every session is keyed by a 32-byte hash, none by an id.
    fn check_v4(s: &SledStore) {
        for kv in s.sessions.iter() {
            let (k, _) = kv.unwrap();
            assert_eq!(k.len(), 32, "session key {}", codec::show_key(&k));
        }
        check_v5(s);
    }

    /// Schema 5: courses are found by any part of their code or title (PHY by "hy", not by
    /// "x"), and the group written by schema 1 (a version-1 record) reads with its managers
    /// not allowed to regenerate its key.
    fn check_v5(s: &SledStore) {
        let codes = |q: &str| -> Vec<String> {
            s.list_courses(q, 1, 50)
                .unwrap()
                .0
                .into_iter()
                .map(|c| c.code)
                .collect()
        };
        assert_eq!(codes("hy"), vec!["PHY"]);
        assert_eq!(codes("x"), Vec::<String>::new());
        assert_eq!(codes("").len(), 3);
        assert!(!s
            .db
            .tree_names()
            .iter()
            .any(|n| n.as_ref() == b"search_course"));
        assert!(!s.get_group(11).unwrap().unwrap().managers_regenerate_key);
        check_v6(s);
    }

    /// Schema 6: the audit index has no entry by group or by kind, and the Activity page's
    /// group and kind filters still find the trail's events, newest first.
    fn check_v6(s: &SledStore) {
        use crate::model::activity::ActivityQuery;
        for family in RETIRED_AUDIT_FAMILIES {
            assert_eq!(s.audit_index.scan_prefix([family]).count(), 0);
        }
        let year7 = ActivityQuery {
            group: "year 7".into(),
            ..Default::default()
        };
        let rows = s.activity_page(&year7, 50).unwrap().rows;
        assert_eq!(rows.len(), 7);
        assert!(rows
            .windows(2)
            .all(|w| (w[0].at, w[0].id) > (w[1].at, w[1].id)));
        let kind = rows[0].action;
        let of_kind = ActivityQuery {
            kind: kind.key().into(),
            ..Default::default()
        };
        let same = s.activity_page(&of_kind, 50).unwrap().rows;
        assert!(!same.is_empty() && same.iter().all(|r| r.action == kind));
        assert_eq!(same.len(), rows.iter().filter(|r| r.action == kind).count());
    }

    /// Schema 5's entries by group and by kind, as it wrote them, frozen here.
    fn v5_retired_entries(s: &SledStore) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut out = Vec::new();
        for kv in s.audit_index.scan_prefix([super::super::audit::TIME]) {
            let (k, v) = kv.unwrap();
            let end = &k[1..];
            let group = &end[16..];
            out.push(([&b"G"[..], group, end].concat(), v.to_vec()));
            out.push(([&b"K"[..], &v[8..9], end].concat(), v.to_vec()));
        }
        out
    }

    /// A schema-5 database (its audit index with all four families) opens at schema 6 with the
    /// two retired families gone, also after a half-done run; a second run changes nothing.
    #[test]
    fn the_retired_audit_families_are_deleted_even_after_a_half_done_run() {
        let dir = schema_v1();
        let data = dir.path().join("data");
        {
            let db = sled::open(&data).unwrap();
            let s = SledStore::from_db(db, None).unwrap();
            for (from, step) in &MIGRATIONS[..4] {
                step(&s).unwrap();
                s.set_schema_version(from + 1).unwrap();
            }
            let retired = v5_retired_entries(&s);
            assert_eq!(retired.len(), 2 * 7);
            for (k, v) in &retired {
                s.audit_index.insert(k, &v[..]).unwrap();
            }
            assert_eq!(s.audit_index.len(), 4 * 7, "as schema 5 left it");
            assert!(
                !s.check().unwrap().violations.is_empty(),
                "the check names them"
            );
            // Half done: one of the retired entries went before a crash.
            s.audit_index.remove(&retired[0].0).unwrap();
            s.flush().unwrap();
        }
        let s = reopen(&data).unwrap();
        let s = s.sled();
        check_v2(s);
        let before: Vec<_> = s.audit_index.iter().map(|kv| kv.unwrap()).collect();
        v5_to_v6(s).unwrap();
        let after: Vec<_> = s.audit_index.iter().map(|kv| kv.unwrap()).collect();
        assert_eq!(after, before, "a second run changes nothing");
    }

    /// The course index step run on a schema-4 database, then again: the same index.
    #[test]
    fn the_course_search_step_can_run_twice() {
        let dir = schema_v1();
        let s = SledStore::open(&dir.path().join("data")).unwrap();
        let before: Vec<_> = s.course_suffix.iter().map(|kv| kv.unwrap()).collect();
        v4_to_v5(&s).unwrap();
        let after: Vec<_> = s.course_suffix.iter().map(|kv| kv.unwrap()).collect();
        assert_eq!(after, before, "a second run writes the same entries");
        check_v2(&s);
    }

    #[test]
    fn a_schema_1_database_opens_migrated() {
        let dir = schema_v1();
        let s = SledStore::open(&dir.path().join("data")).unwrap();
        check_v2(&s);
    }

    #[test]
    fn the_step_can_run_twice_and_after_a_half_done_run() {
        let dir = schema_v1();
        let data = dir.path().join("data");
        {
            // Half done: the links part only, then a crash (the version still says 1).
            let db = sled::open(&data).unwrap();
            let s = SledStore::from_db(db, None).unwrap();
            links_into_records(&s).unwrap();
            enrolment_sources(&s).unwrap();
            s.flush().unwrap();
        }
        let s = match reopen(&data) {
            Ok(s) => s,
            Err(OpenError::Locked(_)) => panic!("still locked"),
            Err(e) => panic!("{e}"),
        };
        check_v2(s.sled());
        let s = s.sled();
        // And the whole step once more on the migrated database changes nothing.
        v1_to_v2(s).unwrap();
        check_v2(s);
    }

    #[test]
    fn the_audit_index_step_can_run_twice_and_after_a_half_done_run() {
        let dir = schema_v1();
        let data = dir.path().join("data");
        {
            // Migrated to 2, then the index step half done: one event's entries only.
            let db = sled::open(&data).unwrap();
            let s = SledStore::from_db(db, None).unwrap();
            v1_to_v2(&s).unwrap();
            s.set_schema_version(2).unwrap();
            super::super::audit::build_index(&s).unwrap();
            let keep = s.audit_index.iter().count();
            for (i, k) in s.audit_index.iter().keys().enumerate() {
                if i % 7 != 0 {
                    s.audit_index.remove(k.unwrap()).unwrap();
                }
            }
            assert!(s.audit_index.iter().count() < keep);
            s.flush().unwrap();
        }
        let s = reopen(&data).unwrap();
        let s = s.sled();
        check_v2(s);
        let before: Vec<_> = s.audit_index.iter().map(|kv| kv.unwrap()).collect();
        v2_to_v3(s).unwrap();
        check_v2(s);
        let after: Vec<_> = s.audit_index.iter().map(|kv| kv.unwrap()).collect();
        assert_eq!(after, before, "a second run writes the same entries");
    }

    /// Sessions stored as schema 3 stored them (keyed by the id's text) are re-keyed by their
    /// hash, so whoever was signed in stays signed in with the cookie they have; expired and
    /// unreadable ones go. Run after a half-done run, and run twice, it gives the same.
    #[test]
    fn sessions_are_re_keyed_by_the_hash_of_their_id() {
        use super::super::sessions::{session_key, SessionRecord};
        let dir = schema_v1();
        let data = dir.path().join("data");
        let far = 4_000_000_000;
        let ids: Vec<String> = (0..3)
            .map(|_| tower_sessions::session::Id::default().to_string())
            .collect();
        let rec = |expires_at, user: usize| SessionRecord {
            expires_at,
            data: format!(r#"{{"user_id":{user}}}"#).into_bytes(),
        };
        {
            // A schema-3 database, with sessions written as schema 3 wrote them.
            let db = sled::open(&data).unwrap();
            let s = SledStore::from_db(db, None).unwrap();
            v1_to_v2(&s).unwrap();
            s.set_schema_version(2).unwrap();
            v2_to_v3(&s).unwrap();
            s.set_schema_version(3).unwrap();
            for (i, id) in ids.iter().enumerate() {
                s.sessions.put(id.as_bytes(), &rec(far, i)).unwrap();
            }
            let expired = tower_sessions::session::Id::default().to_string();
            s.sessions.put(expired.as_bytes(), &rec(1, 9)).unwrap();
            s.sessions.insert(b"not-a-session", &[0xff][..]).unwrap();
            // Half done: the first session was moved before a crash.
            let mut moved = sled::Batch::default();
            moved.insert(
                &session_key(&ids[0]),
                s.sessions.encode(&rec(far, 0)).unwrap(),
            );
            moved.remove(ids[0].as_bytes());
            s.sessions.apply_batch(moved).unwrap();
            s.flush().unwrap();
        }
        let s = reopen(&data).unwrap();
        let s = s.sled();
        check_v2(s);
        let now = 1_800_000_000;
        for (i, id) in ids.iter().enumerate() {
            assert_eq!(s.load_session(id, now).unwrap(), Some(rec(far, i)), "{i}");
        }
        assert_eq!(
            s.sessions.len(),
            3,
            "the expired and the unreadable are gone"
        );
        let before: Vec<_> = s.sessions.iter().map(|kv| kv.unwrap()).collect();
        v3_to_v4(s).unwrap();
        let after: Vec<_> = s.sessions.iter().map(|kv| kv.unwrap()).collect();
        assert_eq!(after, before, "a second run changes nothing");
    }
}
