//! The PostgreSQL backend's own tests, on the cluster the test command starts
//! (`TESSERA_TEST_DATABASE_URL`, see scripts/postgres.sh); each test makes a database of its own.

use super::*;

/// The variable naming the test cluster's superuser URL.
const TEST_URL_VAR: &str = "TESSERA_TEST_DATABASE_URL";

/// A database made for one test and dropped after it.
pub(crate) struct TestDatabase {
    admin: String,
    name: String,
    /// Its URL.
    pub(crate) url: String,
}

impl TestDatabase {
    /// A new, empty database on the test cluster; `None` when no cluster was given outside CI
    /// (a developer's `cargo test` without PostgreSQL). In CI a missing cluster fails the test.
    pub(crate) fn new() -> Option<TestDatabase> {
        let admin = match std::env::var(TEST_URL_VAR) {
            Ok(url) => url,
            Err(_) if std::env::var_os("CI").is_some() => {
                panic!("{TEST_URL_VAR} is unset: scripts/test.sh starts a PostgreSQL cluster for these tests")
            }
            Err(_) => {
                eprintln!("skipped: no PostgreSQL ({TEST_URL_VAR} unset; scripts/test.sh sets it)");
                return None;
            }
        };
        let name = format!(
            "tessera_test_{}_{:016x}",
            std::process::id(),
            rand::random::<u64>()
        );
        let mut client =
            postgres::Client::connect(&admin, postgres::NoTls).expect("the test cluster");
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("create a test database");
        let mut url = url::Url::parse(&admin).expect("the test cluster's URL");
        url.set_path(&name);
        Some(TestDatabase {
            admin,
            name,
            url: url.to_string(),
        })
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Ok(mut client) = postgres::Client::connect(&self.admin, postgres::NoTls) {
            let _ = client.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}

/// A new database and a store on it (`None`: no cluster, see [`TestDatabase::new`]).
pub(crate) fn temp_pg_store() -> Option<(TestDatabase, PgStore)> {
    let db = TestDatabase::new()?;
    let store = PgStore::connect(&db.url, 4).expect("connect to the test database");
    Some((db, store))
}

#[test]
fn a_new_database_gets_the_schema_and_the_current_version() {
    let Some((db, store)) = temp_pg_store() else {
        return;
    };
    assert_eq!(store.schema_version().unwrap(), Some(SCHEMA_VERSION));
    assert!(!store.shown_url().is_empty());
    let migrations: i64 = store
        .conn()
        .unwrap()
        .query_one("SELECT count(*) FROM refinery_schema_history", &[])
        .unwrap()
        .get(0);
    assert!(migrations >= 1);
    drop(store);
    // Connecting again runs nothing twice and changes nothing.
    let again = PgStore::connect(&db.url, 2).expect("reconnect");
    let after: i64 = again
        .conn()
        .unwrap()
        .query_one("SELECT count(*) FROM refinery_schema_history", &[])
        .unwrap()
        .get(0);
    assert_eq!(after, migrations);
    assert_eq!(again.schema_version().unwrap(), Some(SCHEMA_VERSION));
}

#[test]
fn servers_starting_together_migrate_one_after_another() {
    let Some(db) = TestDatabase::new() else {
        return;
    };
    let stores: Vec<_> = std::thread::scope(|s| {
        let starts: Vec<_> = (0..4)
            .map(|_| s.spawn(|| PgStore::connect(&db.url, 2)))
            .collect();
        starts.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for store in &stores {
        let store = store.as_ref().expect("every server starts");
        assert_eq!(store.schema_version().unwrap(), Some(SCHEMA_VERSION));
    }
}

#[test]
fn a_database_of_a_newer_tessera_is_refused() {
    let Some((db, store)) = temp_pg_store() else {
        return;
    };
    store
        .conn()
        .unwrap()
        .execute(
            "UPDATE store_info SET schema_version = $1",
            &[&(SCHEMA_VERSION as i32 + 1)],
        )
        .unwrap();
    drop(store);
    match PgStore::connect(&db.url, 2) {
        Err(OpenError::NewerSchema { found, supported }) => {
            assert_eq!((found, supported), (SCHEMA_VERSION + 1, SCHEMA_VERSION))
        }
        Err(other) => panic!("expected NewerSchema, got {other}"),
        Ok(_) => panic!("a newer schema must be refused"),
    }
}

#[test]
fn an_unreachable_database_is_a_clear_error() {
    // A port nothing listens on: the pool gives up after its checkout timeout.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let url = format!("postgres://tessera:pw@127.0.0.1:{port}/school?sslmode=disable");
    match PgStore::connect(&url, 2) {
        Err(OpenError::Unreachable { url, reason }) => {
            assert!(!url.contains(":pw@"), "the password is not shown: {url}");
            assert!(!reason.is_empty());
        }
        Err(other) => panic!("expected Unreachable, got {other}"),
        Ok(_) => panic!("nothing listens there"),
    }
    match PgStore::connect("postgres://tessera@127.0.0.1/school?sslmode=bogus", 2) {
        Err(OpenError::Unreachable { reason, .. }) => {
            assert!(reason.contains("not valid"), "{reason}")
        }
        Err(other) => panic!("expected Unreachable, got {other}"),
        Ok(_) => panic!("an invalid URL"),
    }
}

#[test]
fn ids_increase_and_are_never_given_twice_across_servers() {
    let Some((db, a)) = temp_pg_store() else {
        return;
    };
    let b = PgStore::connect(&db.url, 2).unwrap();
    let ids: Vec<u64> = std::thread::scope(|s| {
        let runs: Vec<_> = [&a, &b]
            .into_iter()
            .map(|store| {
                s.spawn(move || {
                    let mut mine = Vec::new();
                    for _ in 0..200 {
                        let id = store.new_id().unwrap();
                        assert!(
                            mine.last().is_none_or(|last| *last < id),
                            "increasing per caller"
                        );
                        mine.push(id);
                    }
                    mine
                })
            })
            .collect();
        runs.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    let unique: std::collections::HashSet<_> = ids.iter().collect();
    assert_eq!(unique.len(), 400);
    assert!(ids.iter().all(|id| *id > 0));
}

/// A read-modify-write under SERIALIZABLE from many threads and two pools: every one is
/// retried until it commits, so none is lost.
#[test]
fn serialization_failures_are_retried_until_each_operation_commits() {
    let Some((db, a)) = temp_pg_store() else {
        return;
    };
    let b = PgStore::connect(&db.url, 4).unwrap();
    let attempts = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for store in [&a, &b, &a, &b] {
            let attempts = &attempts;
            s.spawn(move || {
                for _ in 0..25 {
                    store
                        .tx(IsolationLevel::Serializable, |t| {
                            attempts.fetch_add(1, Ordering::Relaxed);
                            let v: i64 = t
                                .query_one(
                                    "SELECT n FROM totals WHERE name = 'users' AND slot = 0",
                                    &[],
                                )?
                                .get(0);
                            t.execute(
                                "UPDATE totals SET n = $1 WHERE name = 'users' AND slot = 0",
                                &[&(v + 1)],
                            )?;
                            Ok(())
                        })
                        .expect("retried until it commits");
                }
            });
        }
    });
    let count: i64 = a
        .conn()
        .unwrap()
        .query_one(
            "SELECT n FROM totals WHERE name = 'users' AND slot = 0",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(count, 100, "no increment lost");
    // Four writers on one row conflict: the retries are what kept the count right.
    assert!(
        attempts.load(Ordering::Relaxed) > 100,
        "some operations ran again"
    );
}

#[test]
fn a_refusal_rolls_the_whole_operation_back() {
    let Some((_db, store)) = temp_pg_store() else {
        return;
    };
    let before = store.snapshot().unwrap();
    let refused = store.tx(IsolationLevel::Serializable, |t| {
        t.execute("UPDATE totals SET n = n + 1 WHERE name = 'users'", &[])?;
        Err::<(), _>(StoreError::invalid("name", "refused after a write").into())
    });
    assert!(matches!(
        refused,
        Err(StoreError::Invalid { field: "name", .. })
    ));
    assert_eq!(store.snapshot().unwrap(), before, "nothing of it stays");
    // A database error that is not a conflict is reported, not retried, and typed.
    let failed = store.tx(IsolationLevel::ReadCommitted, |t| {
        t.execute("UPDATE totals SET n = 1 WHERE name = 'groups'", &[])?;
        t.execute("INSERT INTO totals (name, slot) VALUES ('users', 0)", &[])?;
        Ok(())
    });
    match failed {
        Err(StoreError::Backend(BackendError::Other(m))) => assert!(m.contains("23505"), "{m}"),
        other => panic!("expected a backend error, got {other:?}"),
    }
    assert_eq!(store.snapshot().unwrap(), before);
    store
        .conn()
        .unwrap()
        .execute(
            "UPDATE totals SET n = 7 WHERE name = 'users' AND slot = 3",
            &[],
        )
        .unwrap();
    assert_ne!(
        store.snapshot().unwrap(),
        before,
        "the snapshot sees a change"
    );
}

/// Curricula on PostgreSQL while Courses is not written for it yet (the suite's curricula tests
/// create courses): courses kept in order, names unique ignoring case, search and the total,
/// and a delete that removes links and terms and records its job.
#[test]
fn curricula_keep_their_courses_in_order_and_delete_cleanly() {
    use crate::server::store::curricula::{Curricula, CurriculumChange};
    let Some((_db, store)) = temp_pg_store() else {
        return;
    };
    let mut conn = store.conn().unwrap();
    for (id, code) in [(900_001i64, "A"), (900_002, "B")] {
        conn.execute(
            "INSERT INTO courses (id, code, code_folded, title, description, archived, \
             created_at_ms) VALUES ($1, $2, lower($2), $2, '', false, 0)",
            &[&id, &code],
        )
        .unwrap();
    }
    drop(conn);
    let (a, b) = (900_001u64, 900_002u64);
    let cur = store.create_curriculum("Science", "", 0).unwrap();
    assert!(matches!(
        store.create_curriculum("SCIENCE", "", 0),
        Err(StoreError::Invalid { field: "name", .. })
    ));
    for c in [a, b, a] {
        store
            .change_curriculum(cur.id, CurriculumChange::Add(c))
            .unwrap();
    }
    assert_eq!(
        store.get_curriculum(cur.id).unwrap().unwrap().courses,
        vec![a, b]
    );
    store
        .change_curriculum(cur.id, CurriculumChange::Move(b, -1))
        .unwrap();
    assert_eq!(
        store.get_curriculum(cur.id).unwrap().unwrap().courses,
        vec![b, a]
    );
    assert!(matches!(
        store.change_curriculum(cur.id, CurriculumChange::Add(777)),
        Err(StoreError::NotFound("course"))
    ));
    assert_eq!(store.curricula_of_course(a).unwrap(), vec![cur.id]);
    let other = store.create_curriculum("Arts", "", 0).unwrap();
    let (rows, total, _) = store.list_curricula("", 1, 20).unwrap();
    assert_eq!(total, 2);
    assert_eq!(rows[0].id, other.id, "name order");
    let except: std::collections::HashSet<u64> = [other.id].into();
    let (rows, total, _) = store.curricula_except("", 1, 20, &except).unwrap();
    assert_eq!((rows.len(), total), (1, 1));
    assert_eq!(store.list_curricula("sci", 1, 20).unwrap().1, 1);
    store
        .change_curriculum(cur.id, CurriculumChange::Remove(b))
        .unwrap();
    assert!(store.curricula_of_course(b).unwrap().is_empty());
    let job = store.delete_curriculum(cur.id).unwrap();
    assert!(store.curricula_of_course(a).unwrap().is_empty());
    assert_eq!(store.list_curricula("sci", 1, 20).unwrap().1, 0);
    assert_eq!(store.curriculum_count().unwrap(), 1);
    let kind: String = store
        .conn()
        .unwrap()
        .query_one("SELECT kind FROM jobs WHERE id = $1", &[&(job as i64)])
        .unwrap()
        .get(0);
    assert_eq!(kind, "curriculum_deleted");
    assert!(matches!(
        store.delete_curriculum(cur.id),
        Err(StoreError::NotFound("curriculum"))
    ));
    store.create_curriculum("science", "", 0).unwrap();
}

/// The test cluster's certificate (scripts/postgres.sh serves TLS with it); `None` as for
/// [`TestDatabase::new`].
fn test_cluster_ca() -> Option<String> {
    match std::env::var("TESSERA_TEST_DATABASE_CA") {
        Ok(path) => Some(path),
        Err(_) if std::env::var_os("CI").is_some() => {
            panic!("TESSERA_TEST_DATABASE_CA is unset: scripts/test.sh starts the cluster with TLS")
        }
        Err(_) => None,
    }
}

#[test]
fn tls_is_used_and_the_certificate_verified_when_the_url_asks() {
    let Some(db) = TestDatabase::new() else {
        return;
    };
    let Some(ca) = test_cluster_ca() else {
        return;
    };
    let ssl_in_use = |store: &PgStore| -> bool {
        store
            .conn()
            .unwrap()
            .query_one(
                "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                &[],
            )
            .unwrap()
            .get(0)
    };
    let with = |query: &str| format!("{}?{query}", db.url);

    let connect = |query: &str| PgStore::connect(&with(query), 1);

    // libpq's defaults: encrypt when the server offers it, without checking its certificate
    // (a distribution's self-signed one, as this cluster's), unless a root is given.
    let default = PgStore::connect(&db.url, 1).expect("prefer, the default");
    assert!(
        ssl_in_use(&default),
        "the default encrypts when the server offers TLS"
    );
    drop(default);
    let required = connect("sslmode=require").expect("require encrypts without a root");
    assert!(ssl_in_use(&required));
    drop(required);
    for mode in ["require", "verify-ca", "verify-full"] {
        let trusted = connect(&format!("sslmode={mode}&sslrootcert={ca}"))
            .unwrap_or_else(|e| panic!("{mode} with the cluster's certificate as root: {e}"));
        assert!(ssl_in_use(&trusted), "{mode}");
    }

    // Verified modes without the root: a certificate nobody vouches for is refused.
    for mode in ["verify-ca", "verify-full"] {
        match connect(&format!("sslmode={mode}")) {
            Err(OpenError::Unreachable { reason, .. }) => {
                assert!(reason.contains("TLS"), "{mode}: {reason}")
            }
            Err(other) => panic!("{mode}: expected Unreachable, got {other}"),
            Ok(_) => panic!("{mode}: an unverified certificate must not be accepted"),
        }
    }
    // A root that did not sign the server's certificate is refused too, under require.
    let dir = tempfile::tempdir().unwrap();
    let other = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into()]).unwrap();
    let other_ca = dir.path().join("other.pem");
    std::fs::write(&other_ca, other.cert.pem()).unwrap();
    assert!(
        matches!(
            connect(&format!(
                "sslmode=require&sslrootcert={}",
                other_ca.display()
            )),
            Err(OpenError::Unreachable { .. })
        ),
        "a root given is a root checked"
    );

    let clear = connect("sslmode=disable").expect("sslmode=disable");
    assert!(!ssl_in_use(&clear), "sslmode=disable sends in clear");
}

/// The list pages' queries (`explain.sql`: a school of 100,000 users and 10,000 groups, filled
/// with synthetic rows) each read indexes: no plan has a sequential scan of a table holding
/// more than a few thousand rows, but for the ones the file marks `-- may scan:` (a deep
/// OFFSET page, kept to show what it costs). The file is psql's; its meta-commands (`\echo`,
/// `\set`) are left out and its statements run one by one.
#[test]
fn every_list_page_reads_an_index_never_a_whole_big_table() {
    let Some((db, _store)) = temp_pg_store() else {
        return;
    };
    let mut client = postgres::Client::connect(&db.url, postgres::NoTls).unwrap();
    let script: String = include_str!("explain.sql")
        .lines()
        .filter(|l| !l.trim_start().starts_with('\\'))
        .map(|l| format!("{l}\n"))
        .collect();
    let mut plans = Vec::new();
    for statement in script.split(";\n") {
        let sql: String = statement
            .lines()
            .filter(|l| !l.trim_start().starts_with("--"))
            .collect::<Vec<_>>()
            .join("\n");
        if sql.trim().is_empty() {
            continue;
        }
        let rows = client
            .simple_query(&sql)
            .unwrap_or_else(|e| panic!("{e}: {sql}"));
        // A plan the file itself shows as reading the table (marked `-- may scan:`).
        if sql.trim_start().starts_with("EXPLAIN") && !statement.contains("-- may scan:") {
            let plan: Vec<String> = rows
                .iter()
                .filter_map(|m| match m {
                    postgres::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_string),
                    _ => None,
                })
                .collect();
            plans.push((sql, plan.join("\n")));
        }
    }
    assert!(plans.len() >= 40, "{} plans", plans.len());
    let big: Vec<String> = client
        .query(
            "SELECT relname::text FROM pg_class WHERE relkind = 'r' AND reltuples > 5000",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(big.iter().any(|t| t == "users"), "{big:?}");
    let mut whole = Vec::new();
    for (sql, plan) in &plans {
        for table in &big {
            if plan.contains(&format!("Seq Scan on {table} "))
                || plan.ends_with(&format!("Seq Scan on {table}"))
            {
                whole.push(format!("{table}:\n{sql}\n{plan}"));
            }
        }
    }
    assert!(whole.is_empty(), "{}", whole.join("\n\n"));
}

/// Runs `redeem` on a thread of its own while a transaction of this test holds `group`'s row
/// locked; once the redemption waits for that lock, `meanwhile` changes the group in that
/// transaction, which then commits. What `redeem` gave. (A redemption that read the group
/// before locking it would act on what it read: these tests catch that.)
fn redeem_while_the_group_is_held<T: Send>(
    db: &TestDatabase,
    group: u64,
    redeem: impl FnOnce() -> T + Send,
    meanwhile: impl FnOnce(&mut postgres::Transaction<'_>),
) -> T {
    let mut holder = postgres::Client::connect(&db.url, postgres::NoTls).unwrap();
    let mut watcher = postgres::Client::connect(&db.url, postgres::NoTls).unwrap();
    let mut t = holder.transaction().unwrap();
    t.execute(
        "SELECT 1 FROM groups WHERE id = $1 FOR NO KEY UPDATE",
        &[&(group as i64)],
    )
    .unwrap();
    std::thread::scope(|s| {
        let redemption = s.spawn(redeem);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let waiting: i64 = watcher
                .query_one(
                    "SELECT count(*) FROM pg_stat_activity \
                     WHERE datname = current_database() AND wait_event_type = 'Lock'",
                    &[],
                )
                .unwrap()
                .get(0);
            if waiting > 0 {
                break;
            }
            assert!(!redemption.is_finished(), "the redemption did not wait");
            assert!(
                std::time::Instant::now() < deadline,
                "the redemption never waited for the group's row"
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        meanwhile(&mut t);
        t.commit().unwrap();
        redemption.join().unwrap()
    })
}

/// A group whose key "JOIN-KEY-42" (`max_uses`, 0 for no limit) gives one course, and a learner
/// who is not in it yet: (group, course, learner).
fn keyed_group_giving_a_course(s: &crate::server::store::Store, max_uses: u32) -> (u64, u64, u64) {
    use crate::server::store::groups::tests::{course, learner};
    use crate::server::store::groups::{Actor, GroupFields};
    let given = course(s, "GIVEN-1");
    let f = GroupFields {
        name: "Keyed".into(),
        description: String::new(),
        branch: None,
        key: crate::model::group::KeySettings {
            key: Some("JOIN-KEY-42".into()),
            max_uses,
            enabled: true,
            ..Default::default()
        },
        is_default: false,
    };
    let actor = Actor { user: 0, now: 1 };
    let g = s.create_group(actor, &f).unwrap().0.id;
    s.link_group_course(actor, g, given, true).unwrap();
    (g, given, learner(s, "ada"))
}

/// A course attached to the group while a redemption waits for the group's row: the
/// enrolment of the group's members that the attaching starts cannot see the redeeming
/// learner (not committed yet), so the redemption itself must enrol them in it, and say so.
#[test]
fn a_course_attached_while_a_redemption_waits_is_given_to_the_learner() {
    use crate::server::store::groups::tests::course;
    let Some((db, pg)) = temp_pg_store() else {
        return;
    };
    let s = crate::server::store::Store::new(pg);
    let (g, first, ada) = keyed_group_giving_a_course(&s, 0);
    let second = course(&s, "SECOND-1");
    let got = redeem_while_the_group_is_held(
        &db,
        g,
        || s.redeem_key(ada, "ada", "join-key-42", None, 5).unwrap(),
        |t| {
            t.execute(
                "INSERT INTO group_courses (group_id, course_id, position) VALUES ($1, $2, 1)",
                &[&(g as i64), &(second as i64)],
            )
            .unwrap();
            t.execute(
                "UPDATE groups SET courses = 2 WHERE id = $1",
                &[&(g as i64)],
            )
            .unwrap();
        },
    )
    .expect("redeemed");
    assert_eq!(got.enrolled, 2);
    let mut c = postgres::Client::connect(&db.url, postgres::NoTls).unwrap();
    let enrolled: Vec<i64> = c
        .query(
            "SELECT course_id FROM enrolments WHERE user_id = $1 ORDER BY course_id",
            &[&(ada as i64)],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(enrolled, vec![first as i64, second as i64]);
    let detail: String = c
        .query_one(
            "SELECT detail FROM audit WHERE group_id = $1 AND action = 'members_added'",
            &[&(g as i64)],
        )
        .unwrap()
        .get(0);
    assert!(detail.contains("enrolled in 2 course(s)"), "{detail}");
    let report = s.check().unwrap();
    assert!(report.violations.is_empty(), "{:?}", report.violations);
}

/// The key disabled while a redemption waits for the group's row: the redemption is refused
/// and leaves nothing (membership, enrolment, redemption record, counts) but the refusal in
/// the group's trail.
#[test]
fn a_key_disabled_while_a_redemption_waits_refuses_it_and_nothing_stays() {
    use crate::server::store::groups::keys::KeyRefusal;
    let Some((db, pg)) = temp_pg_store() else {
        return;
    };
    let s = crate::server::store::Store::new(pg);
    let (g, given, ada) = keyed_group_giving_a_course(&s, 5);
    let got = redeem_while_the_group_is_held(
        &db,
        g,
        || s.redeem_key(ada, "ada", "JOIN-KEY-42", None, 5).unwrap(),
        |t| {
            t.execute(
                "UPDATE groups SET key_enabled = false WHERE id = $1",
                &[&(g as i64)],
            )
            .unwrap();
        },
    );
    assert!(matches!(got, Err(KeyRefusal::Disabled)), "{got:?}");
    let rec = s.get_group(g).unwrap().unwrap();
    assert_eq!((rec.members, rec.key_uses), (0, 0));
    assert_eq!(s.key_redemptions(g, 1, 10).unwrap().1, 0);
    let mut c = postgres::Client::connect(&db.url, postgres::NoTls).unwrap();
    let left: i64 = c
        .query_one(
            "SELECT (SELECT count(*) FROM enrolments WHERE user_id = $1) \
             + (SELECT count(*) FROM group_members WHERE user_id = $1) \
             + (SELECT enrolled FROM courses WHERE id = $2)",
            &[&(ada as i64), &(given as i64)],
        )
        .unwrap()
        .get(0);
    assert_eq!(left, 0);
    let refused: i64 = c
        .query_one(
            "SELECT count(*) FROM audit WHERE group_id = $1 AND action = 'key_refused'",
            &[&(g as i64)],
        )
        .unwrap()
        .get(0);
    assert_eq!(refused, 1);
    let report = s.check().unwrap();
    assert!(report.violations.is_empty(), "{:?}", report.violations);
}
