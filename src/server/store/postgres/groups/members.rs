//! The PostgreSQL backend's Memberships (the interface: `crate::server::store::groups::members`;
//! the behaviour: `sled/groups/members.rs`), and joining a group in another operation's
//! transaction (a new user's default group, a key), with the enrolments a group gives.

use super::*;
use crate::model::group::AuditAction;
use crate::server::store::enrolments::{EnrolCounts, Source};
use crate::server::store::groups::members::*;
use crate::server::store::postgres::audit;
use crate::server::store::prelude::*;

/// The `joined_via` text of the schema's `group_members.how`.
fn how_name(how: JoinedVia) -> &'static str {
    match how {
        JoinedVia::Manual => "manual",
        JoinedVia::Key => "key",
        JoinedVia::Default => "default",
        JoinedVia::Import => "import",
        JoinedVia::Bulk => "bulk",
    }
}

/// A `group_members` row's `joined_at_ms, how` (from column `first` on) as its record.
fn member_of(row: &postgres::Row, first: usize) -> Result<MemberRecord, StoreError> {
    let how: &str = row.get(first + 1);
    let how = match how {
        "manual" => JoinedVia::Manual,
        "key" => JoinedVia::Key,
        "default" => JoinedVia::Default,
        "import" => JoinedVia::Import,
        "bulk" => JoinedVia::Bulk,
        other => {
            return Err(StoreError::Corrupt {
                tree: "group_members",
                key: String::new(),
                reason: format!("unknown way of joining {other}"),
            })
        }
    };
    Ok(MemberRecord {
        joined_at: row.get::<_, i64>(first) as u64,
        how,
    })
}

/// Adds a membership unless there is one; `Ok(true)` when new (`rec.members` counts it; the
/// caller writes `rec`).
fn join(
    t: &mut postgres::Transaction<'_>,
    rec: &mut GroupRecord,
    user: u64,
    how: JoinedHow,
    now: u64,
) -> Result<bool, postgres::Error> {
    let n = t.execute(
        "INSERT INTO group_members (group_id, user_id, joined_at_ms, how) VALUES ($1, $2, $3, $4) \
         ON CONFLICT DO NOTHING",
        &[
            &(rec.id as i64),
            &(user as i64),
            &(now as i64),
            &how_name(how.into()),
        ],
    )?;
    if n == 1 {
        rec.members += 1;
    }
    Ok(n == 1)
}

/// Writes the group's member count.
fn put_members(
    t: &mut postgres::Transaction<'_>,
    rec: &GroupRecord,
) -> Result<(), postgres::Error> {
    t.execute(
        "UPDATE groups SET members = $2 WHERE id = $1",
        &[&(rec.id as i64), &(rec.members as i64)],
    )?;
    Ok(())
}

/// The schema's `enrolment_sources` kind and ref_id of a source.
fn source_columns(source: Source) -> (&'static str, Option<i64>) {
    match source {
        Source::Manual => ("manual", None),
        Source::Curriculum(c) => ("curriculum", Some(c as i64)),
        Source::GroupSync(g) => ("group_sync", Some(g as i64)),
        Source::GroupKey(g) => ("group_key", Some(g as i64)),
        Source::DefaultGroup(g) => ("default_group", Some(g as i64)),
        Source::Import => ("import", None),
        Source::ImportGroup(g) => ("import_group", Some(g as i64)),
    }
}

/// Enrols `user` in `course` by `source`, or adds `source` to the enrolment they have;
/// `Ok(true)` when the enrolment is new (the course's learner count follows). Safe at `READ
/// COMMITTED`: the enrolment row is created or locked before its sources change.
pub(crate) fn enrol(
    t: &mut postgres::Transaction<'_>,
    user: u64,
    course: u64,
    source: Source,
    now: u64,
) -> Result<bool, postgres::Error> {
    let (u, c) = (user as i64, course as i64);
    let (kind, ref_id) = source_columns(source);
    let new = t.execute(
        "INSERT INTO enrolments (user_id, course_id, enrolled_at_ms) VALUES ($1, $2, $3) \
         ON CONFLICT DO NOTHING",
        &[&u, &c, &(now as i64)],
    )? == 1;
    if new {
        t.execute(
            "INSERT INTO enrolment_sources (user_id, course_id, position, kind, ref_id) \
             VALUES ($1, $2, 0, $3, $4)",
            &[&u, &c, &kind, &ref_id],
        )?;
        t.execute(
            "UPDATE courses SET enrolled = enrolled + 1 WHERE id = $1",
            &[&c],
        )?;
        return Ok(true);
    }
    t.execute(
        "SELECT 1 FROM enrolments WHERE user_id = $1 AND course_id = $2 FOR UPDATE",
        &[&u, &c],
    )?;
    let has = t
        .query_opt(
            "SELECT 1 FROM enrolment_sources WHERE user_id = $1 AND course_id = $2 \
             AND kind = $3 AND ref_id IS NOT DISTINCT FROM $4",
            &[&u, &c, &kind, &ref_id],
        )?
        .is_some();
    if !has {
        t.execute(
            "INSERT INTO enrolment_sources (user_id, course_id, position, kind, ref_id) \
             SELECT $1, $2, coalesce(max(position) + 1, 0), $3, $4 FROM enrolment_sources \
             WHERE user_id = $1 AND course_id = $2",
            &[&u, &c, &kind, &ref_id],
        )?;
    }
    Ok(false)
}

/// Enrols `user` in each of `courses` (skipping archived ones) by `source`, adding to
/// `counts` (sled's `tx_enrol_courses`).
pub(crate) fn enrol_courses(
    t: &mut postgres::Transaction<'_>,
    counts: &mut EnrolCounts,
    user: u64,
    courses: &[CourseRecord],
    source: Source,
    now: u64,
) -> Result<(), postgres::Error> {
    for c in courses {
        if c.archived {
            let enrolled = t
                .query_opt(
                    "SELECT 1 FROM enrolments WHERE user_id = $1 AND course_id = $2",
                    &[&(user as i64), &(c.id as i64)],
                )?
                .is_some();
            if enrolled {
                counts.already += 1;
            } else {
                counts.skipped_archived += 1;
            }
            continue;
        }
        if enrol(t, user, c.id, source, now)? {
            counts.enrolled += 1;
        } else {
            counts.already += 1;
        }
    }
    Ok(())
}

/// Takes away every source that comes through `group` from `user`'s enrolment in `course`,
/// and ends the enrolment when none is left; `Ok(true)` when it ended (sled's `drop_group`).
pub(crate) fn drop_group_sources(
    t: &mut postgres::Transaction<'_>,
    user: u64,
    course: u64,
    group: u64,
) -> Result<bool, postgres::Error> {
    let (u, c, g) = (user as i64, course as i64, group as i64);
    if t.query_opt(
        "SELECT 1 FROM enrolments WHERE user_id = $1 AND course_id = $2 FOR UPDATE",
        &[&u, &c],
    )?
    .is_none()
    {
        return Ok(false);
    }
    let sources: Vec<(String, Option<i64>)> = t
        .query(
            "SELECT kind, ref_id FROM enrolment_sources WHERE user_id = $1 AND course_id = $2 \
             ORDER BY position",
            &[&u, &c],
        )?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let through = |kind: &str, ref_id: Option<i64>| {
        matches!(
            kind,
            "group_sync" | "group_key" | "default_group" | "import_group"
        ) && ref_id == Some(g)
    };
    let left: Vec<&(String, Option<i64>)> =
        sources.iter().filter(|(k, r)| !through(k, *r)).collect();
    if left.len() == sources.len() {
        return Ok(false);
    }
    if left.is_empty() {
        t.execute(
            "DELETE FROM enrolments WHERE user_id = $1 AND course_id = $2",
            &[&u, &c],
        )?;
        t.execute(
            "UPDATE courses SET enrolled = greatest(enrolled - 1, 0) WHERE id = $1",
            &[&c],
        )?;
        return Ok(true);
    }
    // The sources left keep their order, numbered from 0 again (positions are the list's).
    t.execute(
        "DELETE FROM enrolment_sources WHERE user_id = $1 AND course_id = $2",
        &[&u, &c],
    )?;
    for (i, (kind, ref_id)) in left.into_iter().enumerate() {
        t.execute(
            "INSERT INTO enrolment_sources (user_id, course_id, position, kind, ref_id) \
             VALUES ($1, $2, $3, $4, $5)",
            &[&u, &c, &(i as i32), kind, ref_id],
        )?;
    }
    Ok(false)
}

/// A user joining a group in another operation's transaction (see [`join_new_user`]).
pub(crate) struct NewMember {
    pub group: u64,
    pub user: u64,
    pub how: JoinedHow,
    /// The source of the enrolments the group gives.
    pub source: Source,
    pub actor: Actor,
    /// Audit event id, drawn before the transaction.
    pub event: u64,
}

/// Inside a transaction: `m.user` joins `m.group` (its row locked) and is enrolled in every
/// course the group gives (archived ones skipped), with an audit line saying
/// `detail(courses enrolled)`. `None` when already a member (nothing written).
pub(crate) fn join_new_user(
    t: &mut postgres::Transaction<'_>,
    m: &NewMember,
    detail: impl Fn(u64) -> String,
) -> Result<Option<EnrolCounts>, PgError> {
    let mut rec = must(t, m.group, true)?;
    if !join(t, &mut rec, m.user, m.how, m.actor.now)? {
        return Ok(None);
    }
    put_members(t, &rec)?;
    let courses = links::group_courses(t, m.group)?;
    let mut counts = EnrolCounts::default();
    enrol_courses(t, &mut counts, m.user, &courses, m.source, m.actor.now)?;
    audit::record(
        t,
        m.group,
        m.event,
        m.actor,
        AuditAction::MembersAdded,
        detail(counts.enrolled),
    )?;
    Ok(Some(counts))
}

/// Inside the transaction that creates user `user` (login `login`): when there is a default
/// group, the user joins it and is enrolled in the courses it gives, source "default group"
/// (sled's `tx_join_default`). `event` is an audit event id drawn before the transaction.
pub(crate) fn join_default(
    t: &mut postgres::Transaction<'_>,
    user: u64,
    login: &str,
    event: u64,
    now: u64,
) -> Result<Option<(u64, EnrolCounts)>, PgError> {
    let Some(group) = t
        .query_opt(
            "SELECT id FROM groups WHERE is_default AND deleted_at_ms IS NULL",
            &[],
        )?
        .map(|r| r.get::<_, i64>(0) as u64)
    else {
        return Ok(None);
    };
    let joined = NewMember {
        group,
        user,
        how: JoinedHow::Default,
        source: Source::DefaultGroup(group),
        actor: Actor { user: 0, now },
        event,
    };
    Ok(join_new_user(t, &joined, |n| {
        format!("{login} joined as a new user (default group); enrolled in {n} course(s).")
    })?
    .map(|counts| (group, counts)))
}

impl Memberships for PgStore {
    fn add_member(
        &self,
        actor: Actor,
        group: u64,
        user: u64,
        how: JoinedHow,
    ) -> Result<bool, StoreError> {
        let event = self.new_id()?;
        self.write_tx(|t| {
            let mut rec = must(t, group, true)?;
            let login = user_login(t, user)?;
            if !join(t, &mut rec, user, how, actor.now)? {
                return Ok(false);
            }
            put_members(t, &rec)?;
            audit::record(
                t,
                group,
                event,
                actor,
                AuditAction::MembersAdded,
                format!("Added {login} ({}).", how.label()),
            )?;
            Ok(true)
        })
    }

    fn remove_member(
        &self,
        actor: Actor,
        group: u64,
        user: u64,
        unenrol: bool,
    ) -> Result<u32, StoreError> {
        let event = self.new_id()?;
        self.write_tx(|t| {
            let mut rec = must(t, group, true)?;
            // A user is never deleted, but a missing one must not block removing the membership.
            let login = t
                .query_opt("SELECT login FROM users WHERE id = $1", &[&(user as i64)])?
                .map(|r| r.get::<_, String>(0))
                .unwrap_or_else(|| format!("user #{user}"));
            let removed = t.execute(
                "DELETE FROM group_members WHERE group_id = $1 AND user_id = $2",
                &[&(group as i64), &(user as i64)],
            )?;
            if removed == 0 {
                return Err(StoreError::NotFound("member").into());
            }
            rec.members = rec.members.saturating_sub(1);
            put_members(t, &rec)?;
            let mut ended = 0u32;
            if unenrol {
                let mut ids: Vec<u64> = links::group_courses(t, group)?
                    .into_iter()
                    .map(|c| c.id)
                    .collect();
                ids.extend(
                    t.query(
                        "SELECT course_id FROM enrolments WHERE user_id = $1",
                        &[&(user as i64)],
                    )?
                    .iter()
                    .map(|r| r.get::<_, i64>(0) as u64),
                );
                ids.sort_unstable();
                ids.dedup();
                for c in ids {
                    if drop_group_sources(t, user, c, group)? {
                        ended += 1;
                    }
                }
            }
            let detail = removed_detail(&login, unenrol, ended);
            audit::record(t, group, event, actor, AuditAction::MembersRemoved, detail)?;
            Ok(ended)
        })
    }

    fn bulk_add_members(
        &self,
        actor: Actor,
        group: u64,
        entries: &[(u32, String)],
    ) -> Result<BulkResult, StoreError> {
        bulk_add(self, group, entries, |batch| {
            let event = self.new_id()?;
            self.write_tx(|t| {
                let mut rec = must(t, group, true)?;
                let mut added = Vec::new();
                for (row, user) in batch {
                    if t.query_opt("SELECT 1 FROM users WHERE id = $1", &[&(*user as i64)])?
                        .is_none()
                    {
                        continue;
                    }
                    if join(t, &mut rec, *user, JoinedHow::Bulk, actor.now)? {
                        added.push(*row);
                    }
                }
                if !added.is_empty() {
                    put_members(t, &rec)?;
                    audit::record(
                        t,
                        group,
                        event,
                        actor,
                        AuditAction::MembersAdded,
                        bulk_added_detail(added.len()),
                    )?;
                }
                Ok(added)
            })
        })
    }

    fn save_bulk_result(
        &self,
        group: u64,
        user: u64,
        result: &BulkResult,
    ) -> Result<(), StoreError> {
        let rec = BulkResultRecord::from(result);
        let (g, u) = (group as i64, user as i64);
        self.write_tx(|t| {
            t.execute(
                "DELETE FROM bulk_results WHERE group_id = $1 AND user_id = $2",
                &[&g, &u],
            )?;
            t.execute(
                "INSERT INTO bulk_results (group_id, user_id, added, already, unknown, invalid) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
                &[
                    &g,
                    &u,
                    &i64::from(rec.added),
                    &i64::from(rec.already),
                    &i64::from(rec.unknown),
                    &i64::from(rec.invalid),
                ],
            )?;
            for (i, row) in rec.rows.iter().enumerate() {
                let (outcome, reason) = match &row.outcome {
                    BulkOutcomeRecord::Added => ("added", None),
                    BulkOutcomeRecord::AlreadyMember => ("already_member", None),
                    BulkOutcomeRecord::UnknownUser => ("unknown_user", None),
                    BulkOutcomeRecord::Invalid(why) => ("invalid", Some(why.as_str())),
                };
                t.execute(
                    "INSERT INTO bulk_result_rows (group_id, user_id, position, line, input, \
                     outcome, reason) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    &[
                        &g,
                        &u,
                        &(i as i32),
                        &i64::from(row.line),
                        &row.input,
                        &outcome,
                        &reason,
                    ],
                )?;
            }
            Ok(())
        })
    }

    fn last_bulk_result(&self, group: u64, user: u64) -> Result<Option<BulkResult>, StoreError> {
        let (g, u) = (group as i64, user as i64);
        self.page_tx(|t| {
            let Some(head) = t.query_opt(
                "SELECT added, already, unknown, invalid FROM bulk_results \
                 WHERE group_id = $1 AND user_id = $2",
                &[&g, &u],
            )?
            else {
                return Ok(None);
            };
            let mut rec = BulkResultRecord {
                rows: Vec::new(),
                added: head.get::<_, i64>(0) as u32,
                already: head.get::<_, i64>(1) as u32,
                unknown: head.get::<_, i64>(2) as u32,
                invalid: head.get::<_, i64>(3) as u32,
            };
            for r in t.query(
                "SELECT line, input, outcome, reason FROM bulk_result_rows \
                 WHERE group_id = $1 AND user_id = $2 ORDER BY position",
                &[&g, &u],
            )? {
                let outcome: &str = r.get(2);
                let outcome = match outcome {
                    "added" => BulkOutcomeRecord::Added,
                    "already_member" => BulkOutcomeRecord::AlreadyMember,
                    "unknown_user" => BulkOutcomeRecord::UnknownUser,
                    _ => BulkOutcomeRecord::Invalid(
                        r.get::<_, Option<String>>(3).unwrap_or_default(),
                    ),
                };
                rec.rows.push(BulkRowRecord {
                    line: r.get::<_, i64>(0) as u32,
                    input: r.get(1),
                    outcome,
                });
            }
            Ok(Some(BulkResult::from(rec)))
        })
    }

    fn user_id_by_login_or_email(&self, raw: &str) -> Result<Option<u64>, StoreError> {
        let folded = fold(raw);
        let sql = if folded.contains('@') {
            "SELECT id FROM users WHERE email_folded = $1"
        } else {
            "SELECT id FROM users WHERE login_folded = $1"
        };
        self.read_tx(|t| {
            Ok(t.query_opt(sql, &[&folded])?
                .map(|r| r.get::<_, i64>(0) as u64))
        })
    }

    fn membership(&self, group: u64, user: u64) -> Result<Option<MemberRecord>, StoreError> {
        self.read_tx(|t| {
            let row = t.query_opt(
                "SELECT joined_at_ms, how FROM group_members WHERE group_id = $1 AND user_id = $2",
                &[&(group as i64), &(user as i64)],
            )?;
            Ok(row.map(|r| member_of(&r, 0)).transpose()?)
        })
    }

    fn list_members(
        &self,
        group: u64,
        query: &str,
        page: u32,
        per_page: u32,
    ) -> Result<MemberPage, StoreError> {
        let (skip, take) = window(page, per_page);
        let q = fold(query);
        let g = group as i64;
        self.page_tx(|t| {
            let rec = must(t, group, false)?;
            if q.is_empty() {
                let rows = t
                    .query(
                        "SELECT user_id, joined_at_ms, how FROM group_members \
                         WHERE group_id = $1 ORDER BY user_id OFFSET $2 LIMIT $3",
                        &[&g, &(skip as i64), &(take as i64)],
                    )?
                    .iter()
                    .map(|r| Ok((r.get::<_, i64>(0) as u64, member_of(r, 1)?)))
                    .collect::<Result<Vec<_>, StoreError>>()?;
                return Ok((rows, rec.members, false));
            }
            // The members among the users found by the query, each at its first term, in
            // (term, user) order as sled scans its term index; counted up to TOTAL_CAP.
            let matched = t.query(
                "WITH hits AS MATERIALIZED ( \
                     SELECT t.user_id, min(t.term) AS first FROM user_terms t \
                     JOIN group_members m ON m.group_id = $1 AND m.user_id = t.user_id \
                     WHERE starts_with(t.term, $2) GROUP BY t.user_id \
                     ORDER BY first, t.user_id LIMIT $3) \
                 SELECT h.user_id, m.joined_at_ms, m.how FROM hits h \
                 JOIN group_members m ON m.group_id = $1 AND m.user_id = h.user_id \
                 ORDER BY h.first, h.user_id",
                &[&g, &q, &(TOTAL_CAP as i64)],
            )?;
            let count = matched.len() as u64;
            let rows = matched
                .iter()
                .skip(skip)
                .take(take)
                .map(|r| Ok((r.get::<_, i64>(0) as u64, member_of(r, 1)?)))
                .collect::<Result<Vec<_>, StoreError>>()?;
            Ok((rows, count, count >= TOTAL_CAP))
        })
    }

    fn groups_of_user(&self, user: u64) -> Result<Vec<u64>, StoreError> {
        self.read_tx(|t| {
            Ok(t.query(
                "SELECT m.group_id FROM group_members m JOIN groups g ON g.id = m.group_id \
                 WHERE m.user_id = $1 AND g.deleted_at_ms IS NULL ORDER BY m.group_id",
                &[&(user as i64)],
            )?
            .iter()
            .map(|r| r.get::<_, i64>(0) as u64)
            .collect())
        })
    }
}
