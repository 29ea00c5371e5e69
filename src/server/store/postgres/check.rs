//! The PostgreSQL backend's Checks (the interface: `crate::server::store::check`).
//!
//! Most of what `tessera check` verifies on the embedded store the schema enforces here: a
//! record that does not decode cannot be written (typed columns, CHECK constraints), an index
//! cannot disagree with its table (PostgreSQL keeps it), logins, e-mails, live group names and
//! keys are unique and there is at most one default group (unique indexes), and memberships,
//! enrolments, inbox entries and sources point at live rows (foreign keys). What is left are
//! the totals kept in owning rows and the rules across rows no constraint states; each is one
//! query for the rows that break it, all in one REPEATABLE READ snapshot, so a
//! check on a running school sees one state.

use super::PgStore;
use crate::server::store::check::{CheckReport, Checks};
use crate::server::store::StoreError;
use postgres::IsolationLevel;

/// A rule, and the query for the rows that break it: each row is one violation, its columns
/// the keys and values named in the detail (`column=value`, in order).
const RULES: &[(&str, &str)] = &[
    (
        "users counter",
        "SELECT (SELECT coalesce(sum(n), 0)::bigint FROM totals WHERE name = 'users') AS kept, \
                (SELECT count(*) FROM users) AS counted \
         WHERE (SELECT coalesce(sum(n), 0)::bigint FROM totals WHERE name = 'users') \
               <> (SELECT count(*) FROM users)",
    ),
    (
        "groups counter",
        "SELECT (SELECT coalesce(sum(n), 0)::bigint FROM totals WHERE name = 'groups') AS kept, \
                (SELECT count(*) FROM groups WHERE deleted_at_ms IS NULL) AS counted \
         WHERE (SELECT coalesce(sum(n), 0)::bigint FROM totals WHERE name = 'groups') \
               <> (SELECT count(*) FROM groups WHERE deleted_at_ms IS NULL)",
    ),
    (
        "group members counter",
        "SELECT g.id AS group_id, g.members AS kept, count(m.user_id) AS counted \
         FROM groups g LEFT JOIN group_members m ON m.group_id = g.id \
         WHERE g.deleted_at_ms IS NULL \
         GROUP BY g.id HAVING g.members <> count(m.user_id)",
    ),
    (
        "group courses counter",
        "SELECT g.id AS group_id, g.courses AS kept, count(c.course_id) AS counted \
         FROM groups g LEFT JOIN group_courses c ON c.group_id = g.id \
         WHERE g.deleted_at_ms IS NULL \
         GROUP BY g.id HAVING g.courses <> count(c.course_id)",
    ),
    (
        "group curricula counter",
        "SELECT g.id AS group_id, g.curricula AS kept, count(c.curriculum_id) AS counted \
         FROM groups g LEFT JOIN group_curricula c ON c.group_id = g.id \
         WHERE g.deleted_at_ms IS NULL \
         GROUP BY g.id HAVING g.curricula <> count(c.curriculum_id)",
    ),
    (
        "key uses",
        "SELECT g.id AS group_id, g.key_uses AS uses, \
                (SELECT count(*) FROM key_redemptions r WHERE r.group_id = g.id) AS redemptions \
         FROM groups g \
         WHERE g.key_uses > (SELECT count(*) FROM key_redemptions r WHERE r.group_id = g.id)",
    ),
    (
        "course learners counter",
        "SELECT c.id AS course_id, c.enrolled AS kept, count(e.user_id) AS counted \
         FROM courses c LEFT JOIN enrolments e ON e.course_id = c.id \
         GROUP BY c.id HAVING c.enrolled <> count(e.user_id)",
    ),
    (
        "enrolments",
        "SELECT e.user_id, e.course_id FROM enrolments e \
         WHERE NOT EXISTS (SELECT 1 FROM enrolment_sources s \
                           WHERE s.user_id = e.user_id AND s.course_id = e.course_id)",
    ),
    (
        "group_members",
        "SELECT m.group_id, m.user_id FROM group_members m JOIN groups g ON g.id = m.group_id \
         WHERE g.deleted_at_ms IS NOT NULL \
           AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.state = 'pending')",
    ),
    (
        "inbox counters",
        "SELECT m.id AS message_id, m.delivered AS kept, count(i.user_id) AS counted \
         FROM messages m LEFT JOIN inbox i ON i.message_id = m.id \
         WHERE NOT m.delivering \
         GROUP BY m.id HAVING m.delivered <> count(i.user_id)",
    ),
    (
        "default_group",
        "SELECT id AS group_id FROM groups WHERE is_default AND deleted_at_ms IS NOT NULL",
    ),
];

/// Tables whose rows count as records read.
const RECORD_TABLES: &[&str] = &[
    "users",
    "branches",
    "courses",
    "course_lessons",
    "curricula",
    "enrolments",
    "progress",
    "groups",
    "group_members",
    "group_managers",
    "group_courses",
    "group_curricula",
    "key_redemptions",
    "audit",
    "jobs",
    "imports",
    "import_rows",
    "messages",
    "inbox",
    "outbox",
];

/// A value of a violating row as text (ids, counts, booleans).
fn shown(row: &postgres::Row, i: usize) -> String {
    if let Ok(v) = row.try_get::<_, i64>(i) {
        return v.to_string();
    }
    if let Ok(v) = row.try_get::<_, i32>(i) {
        return v.to_string();
    }
    if let Ok(v) = row.try_get::<_, Option<i64>>(i) {
        return v.map_or_else(|| "none".into(), |v| v.to_string());
    }
    match row.try_get::<_, String>(i) {
        Ok(v) => v,
        Err(_) => "?".into(),
    }
}

impl Checks for PgStore {
    fn check(&self) -> Result<CheckReport, StoreError> {
        self.tx(IsolationLevel::RepeatableRead, |t| {
            let mut r = CheckReport::default();
            for table in RECORD_TABLES {
                let n: i64 = t
                    .query_one(&format!("SELECT count(*) FROM {table}"), &[])?
                    .get(0);
                r.records += u64::try_from(n).unwrap_or(0);
            }
            for (rule, query) in RULES {
                for row in t.query(*query, &[])? {
                    let detail = row
                        .columns()
                        .iter()
                        .enumerate()
                        .map(|(i, c)| format!("{}={}", c.name(), shown(&row, i)))
                        .collect::<Vec<_>>()
                        .join(" ");
                    r.fail(rule, detail);
                }
            }
            Ok(r)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::temp_pg_store;
    use crate::server::store::check::tests::rules;
    use crate::server::store::groups::tests::{course, group, learner, ACTOR};
    use crate::server::store::tests::prelude::*;

    /// A school made by the store's own operations passes; each kind of damage a constraint
    /// cannot refuse is found and named by its rule.
    #[test]
    fn a_healthy_database_passes_and_each_damage_is_named() {
        let Some((db, pg)) = temp_pg_store() else {
            return;
        };
        let s = Store::new(pg);
        let g = group(&s, "Year 9");
        let c = course(&s, "MATH");
        s.link_group_course(ACTOR, g.id, c, true).unwrap();
        for i in 0..3 {
            let u = learner(&s, &format!("l{i}"));
            s.add_member(ACTOR, g.id, u, JoinedHow::Import).unwrap();
            s.enrol(u, c, Source::Manual, 1).unwrap();
        }
        let report = s.check().unwrap();
        assert!(report.violations.is_empty(), "{:?}", report.violations);
        assert!(report.records >= 3 + 1 + 1 + 3 + 3, "{}", report.records);

        let mut client = postgres::Client::connect(&db.url, postgres::NoTls).unwrap();
        for (damage, repair, rule) in [
            (
                "UPDATE groups SET members = members + 1",
                "UPDATE groups SET members = members - 1",
                "group members counter",
            ),
            (
                "UPDATE courses SET enrolled = 7",
                "UPDATE courses SET enrolled = 3",
                "course learners counter",
            ),
            (
                "UPDATE totals SET n = n + 1 WHERE name = 'users' AND slot = 0",
                "UPDATE totals SET n = n - 1 WHERE name = 'users' AND slot = 0",
                "users counter",
            ),
            (
                "UPDATE groups SET key_uses = 2",
                "UPDATE groups SET key_uses = 0",
                "key uses",
            ),
            (
                "UPDATE groups SET courses = 0",
                "UPDATE groups SET courses = 1",
                "group courses counter",
            ),
        ] {
            client.batch_execute(damage).unwrap();
            assert_eq!(rules(&s), vec![rule], "after {damage}");
            client.batch_execute(repair).unwrap();
            assert!(rules(&s).is_empty(), "after {repair}");
        }
        // An enrolment without a source (the Rust side deletes it with its last one).
        client
            .batch_execute("DELETE FROM enrolment_sources WHERE position = 0 AND user_id = (SELECT min(user_id) FROM enrolments)")
            .unwrap();
        let report = s.check().unwrap();
        assert_eq!(rules(&s), vec!["enrolments"]);
        assert!(report.violations[0]
            .detail
            .contains(&format!("course_id={c}")));
    }
}
