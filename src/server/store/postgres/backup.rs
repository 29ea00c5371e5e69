//! Backups and restores on PostgreSQL (the interface: `crate::server::store::backup`), in the
//! portable file format every backend reads and writes, so a school moves between the backends
//! with a backup and a restore, and a backup made on either restores on either.
//!
//! Both directions go through an archive (`store/archive.rs`): the file's records, read or
//! written one kind at a time in the store's record types, so nothing here knows the file's
//! layout, and a backup of any age restores here as it does on the embedded store:
//! - **Backup** ([`Backups::backup`]): every table read in one `REPEATABLE READ READ ONLY`
//!   transaction (one snapshot: no half of any operation; writers and other servers carry on
//!   meanwhile, and nothing waits for the backup), each kind of record put into a new archive
//!   ([`new_archive`]), which then works out the derived indexes and counters and writes the
//!   file with the database's id mark.
//! - **Restore** ([`restore`]): the file opened as an archive ([`open_archive`]: checked, the
//!   migrations of an older schema run, and `check`), then every record copied into the tables
//!   in one `SERIALIZABLE` transaction into an empty database: a damaged file or a refusal
//!   leaves the database as it was. Totals kept in owning rows (a course's learners, a group's
//!   members, the users and groups slot totals) are recounted from the rows; the `ids`
//!   sequence is set to the backup's id mark.
//!
//! Left out both ways, as on the embedded backend: login sessions, the signing secret, and the
//! throttles (which no backup holds).
//!
//! Each kind of record has its own pair of small functions (`put_<kind>` for the archive's
//! records into the tables, `get_<kind>` for the rows into the archive), so a change to one
//! table is a change to its two functions. The kinds with many rows (users and their terms,
//! enrolments, progress, memberships, redemptions, the audit trail, inboxes) are inserted in
//! batches ([`Rows`]: one `INSERT ... SELECT FROM unnest` per 2,000 rows); a backup streams
//! each table (`each_row`), reading a record's lists (lessons, sources) with it as arrays.

use super::super::archive::{ArchiveRead, ArchiveWrite, MassJobs, MessageCounts, OutboxEntry};
use super::super::backup::{
    BackupError, BackupSummary, BackupVia, Backups, LastBackupRecord, RestoreSummary,
};
use super::super::branches::BranchRecord;
use super::super::codec::fold;
use super::super::courses::{CourseRecord, LessonRecord};
use super::super::curricula::CurriculumRecord;
use super::super::enrolments::{EnrolmentRecord, ProgressRecord, Source};
use super::super::groups::keys::RedemptionRecord;
use super::super::groups::{
    BulkOutcomeRecord, BulkResultRecord, BulkRowRecord, GroupLinksRecord, JoinedVia, MemberRecord,
};
use super::super::imports::{
    ImportRecord, ImportRowRecord, StoredCounts, StoredImportState, StoredOutcome, TokenRecord,
};
use super::super::messages::{BodyRecord, InboxRecord, MessageRecord, OutboxRecord};
use super::super::users::{StoredRole, UserRecord};
use super::super::{new_archive, open_archive};
use super::{PgError, PgStore};
use crate::model::group::fold_key;
use crate::server::store::StoreError;
use postgres::fallible_iterator::FallibleIterator;
use postgres::{IsolationLevel, Row, Transaction};
use std::collections::BTreeSet;
use std::io::{Read, Write};

type Put = Result<(), PgError>;

/// Tables holding what a school is made of: a restore refuses a database with a row in any.
const RECORD_TABLES: &[&str] = &[
    "users",
    "branches",
    "courses",
    "curricula",
    "groups",
    "jobs",
    "audit",
    "key_redemptions",
    "imports",
    "messages",
    "last_backup",
];

// ---------------------------------------------------------------------------------------------
// Restore: file -> PostgreSQL.

/// Restores the backup read from `input` into `store`'s database, which must hold no school yet
/// (`DatabaseNotEmpty` otherwise, before the file is read); see the module docs. On any failure
/// the database is as it was.
pub fn restore(input: impl Read, store: &PgStore) -> Result<RestoreSummary, BackupError> {
    store
        .tx(IsolationLevel::ReadCommitted, refuse_filled)
        .map_err(|e| match e {
            StoreError::Invalid { .. } => BackupError::DatabaseNotEmpty(store.shown_url().into()),
            other => other.into(),
        })?;
    let (archive, summary) = open_archive(input)?;
    let id_mark = summary.backup.id_mark;
    store
        .tx(IsolationLevel::Serializable, |t| {
            refuse_filled(t)?;
            copy_into(t, &*archive, id_mark)
        })
        .map_err(|e| match e {
            StoreError::Invalid { .. } => BackupError::DatabaseNotEmpty(store.shown_url().into()),
            other => other.into(),
        })?;
    Ok(summary)
}

/// `Invalid` when a record table holds a row (mapped to `DatabaseNotEmpty` by [`restore`]).
fn refuse_filled(t: &mut Transaction<'_>) -> Put {
    for table in RECORD_TABLES {
        let filled: bool = t
            .query_one(&format!("SELECT EXISTS (SELECT 1 FROM {table})"), &[])?
            .get(0);
        if filled {
            return Err(StoreError::invalid("database", format!("{table} holds rows")).into());
        }
    }
    Ok(())
}

/// Every record of the archive `s` into the tables, parents before children, then the totals and the
/// id sequence.
fn copy_into(t: &mut Transaction<'_>, s: &dyn ArchiveRead, id_mark: u64) -> Put {
    put_settings(t, s)?;
    put_last_backup(t, s)?;
    put_users(t, s)?;
    put_branches(t, s)?;
    put_courses(t, s)?;
    put_curricula(t, s)?;
    put_enrolments(t, s)?;
    put_progress(t, s)?;
    put_jobs(t, s)?;
    put_groups(t, s)?;
    put_group_links(t, s)?;
    put_members(t, s)?;
    put_managers(t, s)?;
    put_bulk_results(t, s)?;
    put_redemptions(t, s)?;
    put_audit(t, s)?;
    put_imports(t, s)?;
    put_import_rows(t, s)?;
    put_password_tokens(t, s)?;
    put_messages(t, s)?;
    put_inbox(t, s)?;
    put_outbox(t, s)?;
    recount(t)?;
    t.execute("SELECT setval('ids', $1)", &[&(id_mark as i64)])?;
    Ok(())
}

fn i(v: u64) -> i64 {
    v as i64
}

fn oi(v: Option<u64>) -> Option<i64> {
    v.map(|v| v as i64)
}

/// Rows per `INSERT` of a [`Rows`] batch.
const BATCH: usize = 2_000;

/// One value of a row being batched.
enum V {
    Int(i64),
    OptInt(Option<i64>),
    Int4(i32),
    Text(String),
    OptText(Option<String>),
    Bool(bool),
}

/// One column of a batch: the values of its rows, sent as one array.
enum Col {
    Int(Vec<i64>),
    OptInt(Vec<Option<i64>>),
    Int4(Vec<i32>),
    Text(Vec<String>),
    OptText(Vec<Option<String>>),
    Bool(Vec<bool>),
}

impl Col {
    fn of(v: &V) -> Col {
        match v {
            V::Int(_) => Col::Int(Vec::new()),
            V::OptInt(_) => Col::OptInt(Vec::new()),
            V::Int4(_) => Col::Int4(Vec::new()),
            V::Text(_) => Col::Text(Vec::new()),
            V::OptText(_) => Col::OptText(Vec::new()),
            V::Bool(_) => Col::Bool(Vec::new()),
        }
    }

    /// The array type of the column, for `unnest`.
    fn sql_type(&self) -> &'static str {
        match self {
            Col::Int(_) | Col::OptInt(_) => "bigint[]",
            Col::Int4(_) => "integer[]",
            Col::Text(_) | Col::OptText(_) => "text[]",
            Col::Bool(_) => "boolean[]",
        }
    }

    fn push(&mut self, v: V) {
        match (self, v) {
            (Col::Int(c), V::Int(v)) => c.push(v),
            (Col::OptInt(c), V::OptInt(v)) => c.push(v),
            (Col::Int4(c), V::Int4(v)) => c.push(v),
            (Col::Text(c), V::Text(v)) => c.push(v),
            (Col::OptText(c), V::OptText(v)) => c.push(v),
            (Col::Bool(c), V::Bool(v)) => c.push(v),
            // Each copier pushes the same kinds of values in the same order every row.
            _ => unreachable!("a batched row whose values differ in kind from the first row's"),
        }
    }

    fn param(&self) -> &(dyn postgres::types::ToSql + Sync) {
        match self {
            Col::Int(c) => c,
            Col::OptInt(c) => c,
            Col::Int4(c) => c,
            Col::Text(c) => c,
            Col::OptText(c) => c,
            Col::Bool(c) => c,
        }
    }
}

/// Rows of one table gathered column by column and written [`BATCH`] at a time with one
/// `INSERT ... SELECT * FROM unnest(...)`: a round trip per batch instead of per row, which is
/// what a restore's time goes to (100,000 learners are millions of rows).
struct Rows {
    /// `table (columns)`.
    target: &'static str,
    cols: Vec<Col>,
    n: usize,
}

impl Rows {
    fn new(target: &'static str) -> Rows {
        Rows {
            target,
            cols: Vec::new(),
            n: 0,
        }
    }

    fn push(&mut self, row: Vec<V>) {
        if self.cols.is_empty() {
            self.cols = row.iter().map(Col::of).collect();
        }
        for (col, v) in self.cols.iter_mut().zip(row) {
            col.push(v);
        }
        self.n += 1;
    }

    fn full(&self) -> bool {
        self.n >= BATCH
    }

    fn flush(&mut self, t: &mut Transaction<'_>) -> Put {
        if self.n == 0 {
            return Ok(());
        }
        let arrays: Vec<String> = self
            .cols
            .iter()
            .enumerate()
            .map(|(n, c)| format!("${}::{}", n + 1, c.sql_type()))
            .collect();
        let sql = format!(
            "INSERT INTO {} SELECT * FROM unnest({})",
            self.target,
            arrays.join(", ")
        );
        let params: Vec<&(dyn postgres::types::ToSql + Sync)> =
            self.cols.iter().map(Col::param).collect();
        t.execute(&sql, &params)?;
        self.cols.clear();
        self.n = 0;
        Ok(())
    }

    /// Flushes each in turn: parents before the rows that refer to them.
    fn flush_all(t: &mut Transaction<'_>, all: &mut [&mut Rows]) -> Put {
        for rows in all {
            rows.flush(t)?;
        }
        Ok(())
    }
}

fn put_settings(t: &mut Transaction<'_>, s: &dyn ArchiveRead) -> Put {
    let on = s.self_registration()?;
    t.execute("UPDATE settings SET self_registration = $1", &[&on])?;
    Ok(())
}

fn put_last_backup(t: &mut Transaction<'_>, s: &dyn ArchiveRead) -> Put {
    if let Some(rec) = s.last_backup()? {
        write_last_backup(t, &rec)?;
    }
    Ok(())
}

fn write_last_backup(t: &mut Transaction<'_>, rec: &LastBackupRecord) -> Put {
    let (via, by) = match rec.via {
        BackupVia::Download { by } => ("download", Some(i(by))),
        BackupVia::Command => ("command", None),
    };
    t.execute(
        "INSERT INTO last_backup (at_ms, bytes, via, by_user) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (only_row) DO UPDATE SET at_ms = $1, bytes = $2, via = $3, by_user = $4",
        &[&i(rec.at_ms), &i(rec.bytes), &via, &by],
    )?;
    Ok(())
}

fn put_users(t: &mut Transaction<'_>, s: &dyn ArchiveRead) -> Put {
    let mut users = Rows::new(
        "users (id, login, login_folded, email, email_folded, display_name, role, active, \
         created_at_ms, auth_epoch)",
    );
    let mut secrets = Rows::new("user_secrets (user_id, password_hash)");
    let mut terms = Rows::new("user_terms (term, user_id)");
    for item in s.users() {
        let (u, hash) = item?;
        let role = match u.role {
            StoredRole::Admin => "admin",
            StoredRole::Learner => "learner",
        };
        users.push(vec![
            V::Int(i(u.id)),
            V::Text(u.login.clone()),
            V::Text(fold(&u.login)),
            V::Text(u.email.clone()),
            V::Text(fold(&u.email)),
            V::Text(u.display_name.clone()),
            V::Text(role.into()),
            V::Bool(u.active),
            V::Int(i(u.created_at)),
            V::Int(i64::from(u.auth_epoch)),
        ]);
        for term in super::users::terms(&u) {
            terms.push(vec![V::Text(term), V::Int(i(u.id))]);
        }
        if let Some(hash) = hash {
            secrets.push(vec![V::Int(i(u.id)), V::Text(hash)]);
        }
        if users.full() {
            Rows::flush_all(t, &mut [&mut users, &mut secrets, &mut terms])?;
        }
    }
    Rows::flush_all(t, &mut [&mut users, &mut secrets, &mut terms])
}

fn put_branches(t: &mut Transaction<'_>, s: &dyn ArchiveRead) -> Put {
    let all = s.branches().collect::<Result<Vec<_>, _>>()?;
    let row = t.prepare(
        "INSERT INTO branches (id, name, name_folded, description, parent, created_at_ms) \
         VALUES ($1, $2, $3, $4, NULL, $5)",
    )?;
    let terms = t.prepare(
        "INSERT INTO branch_terms (term, branch_id) SELECT unnest($1::text[]), $2 \
         ON CONFLICT DO NOTHING",
    )?;
    for b in &all {
        t.execute(
            &row,
            &[
                &i(b.id),
                &b.name,
                &fold(&b.name),
                &b.description,
                &i(b.created_at),
            ],
        )?;
        t.execute(&terms, &[&super::branches::terms(&b.name), &i(b.id)])?;
    }
    // Parents once every branch exists (a parent may have a larger id after a move).
    let parent = t.prepare("UPDATE branches SET parent = $2 WHERE id = $1")?;
    for b in all.iter().filter(|b| b.parent.is_some()) {
        t.execute(&parent, &[&i(b.id), &oi(b.parent)])?;
    }
    Ok(())
}

fn put_courses(t: &mut Transaction<'_>, s: &dyn ArchiveRead) -> Put {
    let course = t.prepare(
        "INSERT INTO courses (id, code, code_folded, title, description, archived, \
         created_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )?;
    let lesson = t.prepare(
        "INSERT INTO course_lessons (id, course_id, position, title, text) \
         VALUES ($1, $2, $3, $4, $5)",
    )?;
    let suffixes = t.prepare(
        "INSERT INTO course_suffixes (suffix, course_id) SELECT unnest($1::text[]), $2 \
         ON CONFLICT DO NOTHING",
    )?;
    for item in s.courses() {
        let c = item?;
        t.execute(
            &course,
            &[
                &i(c.id),
                &c.code,
                &fold(&c.code),
                &c.title,
                &c.description,
                &c.archived,
                &i(c.created_at),
            ],
        )?;
        for (n, l) in c.lessons.iter().enumerate() {
            t.execute(
                &lesson,
                &[&i(l.id), &i(c.id), &(n as i32), &l.title, &l.text],
            )?;
        }
        t.execute(
            &suffixes,
            &[&super::courses::course_terms(&c.code, &c.title), &i(c.id)],
        )?;
    }
    Ok(())
}

fn put_curricula(t: &mut Transaction<'_>, s: &dyn ArchiveRead) -> Put {
    let row = t.prepare(
        "INSERT INTO curricula (id, name, name_folded, description, created_at_ms) \
         VALUES ($1, $2, $3, $4, $5)",
    )?;
    let course = t.prepare(
        "INSERT INTO curriculum_courses (curriculum_id, course_id, position) VALUES ($1, $2, $3)",
    )?;
    let terms = t.prepare(
        "INSERT INTO curriculum_terms (term, curriculum_id) SELECT unnest($1::text[]), $2 \
         ON CONFLICT DO NOTHING",
    )?;
    for item in s.curricula() {
        let c = item?;
        t.execute(
            &row,
            &[
                &i(c.id),
                &c.name,
                &fold(&c.name),
                &c.description,
                &i(c.created_at),
            ],
        )?;
        for (n, course_id) in c.courses.iter().enumerate() {
            t.execute(&course, &[&i(c.id), &i(*course_id), &(n as i32)])?;
        }
        t.execute(&terms, &[&super::curricula::terms(&c.name), &i(c.id)])?;
    }
    Ok(())
}

/// The `enrolment_sources` kind and ref_id of a source.
fn source_columns(source: &Source) -> (&'static str, Option<i64>) {
    match source {
        Source::Manual => ("manual", None),
        Source::Import => ("import", None),
        Source::Curriculum(c) => ("curriculum", Some(i(*c))),
        Source::GroupSync(g) => ("group_sync", Some(i(*g))),
        Source::GroupKey(g) => ("group_key", Some(i(*g))),
        Source::DefaultGroup(g) => ("default_group", Some(i(*g))),
        Source::ImportGroup(g) => ("import_group", Some(i(*g))),
    }
}

fn put_enrolments(t: &mut Transaction<'_>, s: &dyn ArchiveRead) -> Put {
    let mut rows = Rows::new("enrolments (user_id, course_id, enrolled_at_ms)");
    let mut sources = Rows::new("enrolment_sources (user_id, course_id, position, kind, ref_id)");
    for item in s.enrolments() {
        let ((user, course), e) = item?;
        rows.push(vec![
            V::Int(i(user)),
            V::Int(i(course)),
            V::Int(i(e.enrolled_at)),
        ]);
        for (n, src) in e.sources.iter().enumerate() {
            let (kind, ref_id) = source_columns(src);
            sources.push(vec![
                V::Int(i(user)),
                V::Int(i(course)),
                V::Int4(n as i32),
                V::Text(kind.into()),
                V::OptInt(ref_id),
            ]);
        }
        if rows.full() {
            Rows::flush_all(t, &mut [&mut rows, &mut sources])?;
        }
    }
    Rows::flush_all(t, &mut [&mut rows, &mut sources])
}

fn put_progress(t: &mut Transaction<'_>, s: &dyn ArchiveRead) -> Put {
    let mut rows = Rows::new("progress (user_id, course_id)");
    let mut done = Rows::new("progress_done (user_id, course_id, position, lesson_id, done_at_ms)");
    let mut history = Rows::new("progress_history (user_id, course_id, position, completed_at_ms)");
    for item in s.progress() {
        let ((user, course), p) = item?;
        rows.push(vec![V::Int(i(user)), V::Int(i(course))]);
        for (n, (lesson, at)) in p.done.iter().enumerate() {
            done.push(vec![
                V::Int(i(user)),
                V::Int(i(course)),
                V::Int4(n as i32),
                V::Int(i(*lesson)),
                V::Int(i(*at)),
            ]);
        }
        for (n, at) in p.history.iter().enumerate() {
            history.push(vec![
                V::Int(i(user)),
                V::Int(i(course)),
                V::Int4(n as i32),
                V::Int(i(*at)),
            ]);
        }
        if rows.full() {
            Rows::flush_all(t, &mut [&mut rows, &mut done, &mut history])?;
        }
    }
    Rows::flush_all(t, &mut [&mut rows, &mut done, &mut history])
}

fn put_jobs(t: &mut Transaction<'_>, s: &dyn ArchiveRead) -> Put {
    for item in s.jobs() {
        let job = item?;
        super::jobs::insert(t, &job)?;
    }
    Ok(())
}

const GROUP_INSERT: &str = "INSERT INTO groups (id, name, name_folded, description, branch_id, \
     key, key_folded, key_max_uses, key_valid_from_ms, key_valid_until_ms, key_enabled, key_uses, \
     is_default, members, courses, curricula, created_at_ms, managers_regenerate_key, \
     mass_enrol_running, mass_enrol_last, deleted_at_ms) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, \
     $19, $20, $21)";

/// Groups, with their mass enrolment pointers; and a tombstone for each group deleted on the
/// embedded store whose sweep has not finished (its members, managers and bulk results are
/// still there, and the tables refer to their group).
fn put_groups(t: &mut Transaction<'_>, s: &dyn ArchiveRead) -> Put {
    let row = t.prepare(GROUP_INSERT)?;
    let job_exists = t.prepare("SELECT EXISTS (SELECT 1 FROM jobs WHERE id = $1)")?;
    let suffixes = t.prepare(
        "INSERT INTO group_suffixes (suffix, group_id) SELECT unnest($1::text[]), $2 \
         ON CONFLICT DO NOTHING",
    )?;
    let mut live = BTreeSet::new();
    for item in s.groups() {
        let (g, mass) = item?;
        // A pointer to a job no longer kept is dropped.
        let mut job = |j: Option<u64>| -> Result<Option<i64>, PgError> {
            match j {
                Some(j) if t.query_one(&job_exists, &[&i(j)])?.get::<_, bool>(0) => Ok(Some(i(j))),
                _ => Ok(None),
            }
        };
        let running = job(mass.running)?;
        let last = job(mass.last)?;
        let key = &g.key;
        t.execute(
            &row,
            &[
                &i(g.id),
                &g.name,
                &fold(&g.name),
                &g.description,
                &oi(g.branch),
                &key.key,
                &key.key.as_deref().map(fold_key),
                &i64::from(key.max_uses),
                &oi(key.valid_from),
                &oi(key.valid_until),
                &key.enabled,
                &i64::from(g.key_uses),
                &g.is_default,
                &i(g.members),
                &i64::from(g.courses),
                &i64::from(g.curricula),
                &i(g.created_at),
                &g.managers_regenerate_key,
                &running,
                &last,
                &None::<i64>,
            ],
        )?;
        t.execute(
            &suffixes,
            &[&crate::server::store::groups::suffixes(&g.name), &i(g.id)],
        )?;
        live.insert(g.id);
    }
    let mut swept = BTreeSet::new();
    let members = s.members().map(|m| m.map(|(key, _)| key));
    let bulk = s.bulk_results().map(|b| b.map(|(key, _)| key));
    for key in members.chain(s.managers()).chain(bulk) {
        let (group, _) = key?;
        if !live.contains(&group) {
            swept.insert(group);
        }
    }
    let now = i(crate::server::store::now_ms());
    for group in swept {
        t.execute(
            &row,
            &[
                &i(group),
                &"",
                &"",
                &"",
                &None::<i64>,
                &None::<String>,
                &None::<String>,
                &0i64,
                &None::<i64>,
                &None::<i64>,
                &false,
                &0i64,
                &false,
                &0i64,
                &0i64,
                &0i64,
                &0i64,
                &false,
                &None::<i64>,
                &None::<i64>,
                &Some(now),
            ],
        )?;
    }
    Ok(())
}

fn put_group_links(t: &mut Transaction<'_>, s: &dyn ArchiveRead) -> Put {
    let course =
        t.prepare("INSERT INTO group_courses (group_id, course_id, position) VALUES ($1, $2, $3)")?;
    let curriculum = t.prepare(
        "INSERT INTO group_curricula (group_id, curriculum_id, position) VALUES ($1, $2, $3)",
    )?;
    for item in s.group_links() {
        let (group, links) = item?;
        for (n, c) in links.courses.iter().enumerate() {
            t.execute(&course, &[&i(group), &i(*c), &(n as i32)])?;
        }
        for (n, c) in links.curricula.iter().enumerate() {
            t.execute(&curriculum, &[&i(group), &i(*c), &(n as i32)])?;
        }
    }
    Ok(())
}

fn how_name(how: JoinedVia) -> &'static str {
    match how {
        JoinedVia::Manual => "manual",
        JoinedVia::Key => "key",
        JoinedVia::Default => "default",
        JoinedVia::Import => "import",
        JoinedVia::Bulk => "bulk",
    }
}

fn put_members(t: &mut Transaction<'_>, s: &dyn ArchiveRead) -> Put {
    let mut rows = Rows::new("group_members (group_id, user_id, joined_at_ms, how)");
    for item in s.members() {
        let ((group, user), m) = item?;
        rows.push(vec![
            V::Int(i(group)),
            V::Int(i(user)),
            V::Int(i(m.joined_at)),
            V::Text(how_name(m.how).into()),
        ]);
        if rows.full() {
            rows.flush(t)?;
        }
    }
    rows.flush(t)
}

fn put_managers(t: &mut Transaction<'_>, s: &dyn ArchiveRead) -> Put {
    let row = t.prepare("INSERT INTO group_managers (group_id, user_id) VALUES ($1, $2)")?;
    for key in s.managers() {
        let (group, user) = key?;
        t.execute(&row, &[&i(group), &i(user)])?;
    }
    Ok(())
}

fn put_bulk_results(t: &mut Transaction<'_>, s: &dyn ArchiveRead) -> Put {
    let row = t.prepare(
        "INSERT INTO bulk_results (group_id, user_id, added, already, unknown, invalid) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )?;
    let line = t.prepare(
        "INSERT INTO bulk_result_rows (group_id, user_id, position, line, input, outcome, \
         reason) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )?;
    for item in s.bulk_results() {
        let ((group, user), b) = item?;
        t.execute(
            &row,
            &[
                &i(group),
                &i(user),
                &i64::from(b.added),
                &i64::from(b.already),
                &i64::from(b.unknown),
                &i64::from(b.invalid),
            ],
        )?;
        for (n, r) in b.rows.iter().enumerate() {
            let (outcome, reason) = match &r.outcome {
                BulkOutcomeRecord::Added => ("added", None),
                BulkOutcomeRecord::AlreadyMember => ("already_member", None),
                BulkOutcomeRecord::UnknownUser => ("unknown_user", None),
                BulkOutcomeRecord::Invalid(why) => ("invalid", Some(why.as_str())),
            };
            t.execute(
                &line,
                &[
                    &i(group),
                    &i(user),
                    &(n as i32),
                    &i64::from(r.line),
                    &r.input,
                    &outcome,
                    &reason,
                ],
            )?;
        }
    }
    Ok(())
}

fn put_redemptions(t: &mut Transaction<'_>, s: &dyn ArchiveRead) -> Put {
    let mut rows = Rows::new("key_redemptions (group_id, event_id, user_id, key, at_ms, client)");
    for item in s.redemptions() {
        let ((group, event), r) = item?;
        rows.push(vec![
            V::Int(i(group)),
            V::Int(i(event)),
            V::Int(i(r.user)),
            V::Text(r.key),
            V::Int(i(r.at)),
            V::OptText(r.client),
        ]);
        if rows.full() {
            rows.flush(t)?;
        }
    }
    rows.flush(t)
}

fn put_audit(t: &mut Transaction<'_>, s: &dyn ArchiveRead) -> Put {
    let mut rows = Rows::new("audit (event_id, group_id, at_ms, actor, action, detail)");
    for item in s.audit() {
        let ((group, event), a) = item?;
        rows.push(vec![
            V::Int(i(event)),
            V::Int(i(group)),
            V::Int(i(a.at)),
            V::Int(i(a.actor)),
            V::Text(super::audit::kind_name(a.action).into()),
            V::Text(a.detail),
        ]);
        if rows.full() {
            rows.flush(t)?;
        }
    }
    rows.flush(t)
}

fn import_state_name(state: &StoredImportState) -> &'static str {
    match state {
        StoredImportState::Preview => "preview",
        StoredImportState::Applying => "applying",
        StoredImportState::Done => "done",
        StoredImportState::Discarded => "discarded",
        StoredImportState::Failed => "failed",
    }
}

fn put_imports(t: &mut Transaction<'_>, s: &dyn ArchiveRead) -> Put {
    let row = t.prepare(
        "INSERT INTO imports (id, by_user, by_login, file_name, created_at_ms, state, rows, done, \
         count_create, count_exists, count_invalid, count_created, count_failed, finished_at_ms, \
         links_expire_at_ms, failure) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
    )?;
    for item in s.imports() {
        let m = item?;
        let c = &m.counts;
        t.execute(
            &row,
            &[
                &i(m.id),
                &i(m.by),
                &m.by_login,
                &m.file_name,
                &i(m.created_at),
                &import_state_name(&m.state),
                &i(m.rows),
                &i(m.done),
                &i(c.create),
                &i(c.exists),
                &i(c.invalid),
                &i(c.created),
                &i(c.failed),
                &oi(m.finished_at),
                &oi(m.links_expire_at),
                &m.failure,
            ],
        )?;
    }
    Ok(())
}

fn put_import_rows(t: &mut Transaction<'_>, s: &dyn ArchiveRead) -> Put {
    let row = t.prepare(
        "INSERT INTO import_rows (import_id, row_index, line, login, email, display_name, role, \
         groups, group_ids, hash, outcome, outcome_field, outcome_message, created_user, token) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
    )?;
    for item in s.import_rows() {
        let ((import, index), r) = item?;
        let (outcome, field, message, user, token) = match &r.outcome {
            StoredOutcome::Create => ("create", None, None, None, None),
            StoredOutcome::ExistsLogin => ("exists_login", None, None, None, None),
            StoredOutcome::ExistsEmail => ("exists_email", None, None, None, None),
            StoredOutcome::Invalid { field, message } => (
                "invalid",
                Some(field.as_str()),
                Some(message.as_str()),
                None,
                None,
            ),
            StoredOutcome::Created { user, token } => {
                ("created", None, None, Some(i(*user)), token.as_deref())
            }
            StoredOutcome::Failed(why) => ("failed", None, Some(why.as_str()), None, None),
        };
        let group_ids: Vec<i64> = r.group_ids.iter().map(|g| i(*g)).collect();
        t.execute(
            &row,
            &[
                &i(import),
                &i(index),
                &i64::from(r.line),
                &r.login,
                &r.email,
                &r.display_name,
                &r.role,
                &r.groups,
                &group_ids,
                &r.hash,
                &outcome,
                &field,
                &message,
                &user,
                &token,
            ],
        )?;
    }
    Ok(())
}

fn put_password_tokens(t: &mut Transaction<'_>, s: &dyn ArchiveRead) -> Put {
    let row = t.prepare(
        "INSERT INTO password_tokens (key_hash, user_id, expires_at_ms, epoch) \
         VALUES ($1, $2, $3, $4)",
    )?;
    for item in s.password_tokens() {
        let (key, tok) = item?;
        t.execute(
            &row,
            &[
                &key.as_slice(),
                &i(tok.user),
                &i(tok.expires_at),
                &i64::from(tok.epoch),
            ],
        )?;
    }
    Ok(())
}

fn put_messages(t: &mut Transaction<'_>, s: &dyn ArchiveRead) -> Put {
    let row = t.prepare(
        "INSERT INTO messages (id, group_id, group_name, sender, sender_name, subject, \
         sent_at_ms, recipients, mail, delivering, delivered, mail_queued, mail_sent, \
         mail_failed) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
    )?;
    let body = t.prepare("INSERT INTO message_bodies (message_id, body) VALUES ($1, $2)")?;
    for item in s.messages() {
        let (id, m, counts, text) = item?;
        t.execute(
            &row,
            &[
                &i(id),
                &i(m.group),
                &m.group_name,
                &i(m.sender),
                &m.sender_name,
                &m.subject,
                &i(m.sent_at),
                &i(m.recipients),
                &m.mail,
                &m.delivering,
                &i(counts.delivered),
                &i(counts.mail_queued),
                &i(counts.mail_sent),
                &i(counts.mail_failed),
            ],
        )?;
        if let Some(b) = text {
            t.execute(&body, &[&i(id), &b.body])?;
        }
    }
    Ok(())
}

fn put_inbox(t: &mut Transaction<'_>, s: &dyn ArchiveRead) -> Put {
    let mut rows = Rows::new("inbox (user_id, message_id, read)");
    for item in s.inbox() {
        let ((user, message), e) = item?;
        rows.push(vec![V::Int(i(user)), V::Int(i(message)), V::Bool(e.read)]);
        if rows.full() {
            rows.flush(t)?;
        }
    }
    rows.flush(t)
}

fn put_outbox(t: &mut Transaction<'_>, s: &dyn ArchiveRead) -> Put {
    let row = t.prepare(
        "INSERT INTO outbox (message_id, user_id, due_ms, lease_holder, \"to\", name, \
         queued_at_ms, attempts, last_error) VALUES ($1, $2, $3, NULL, $4, $5, $6, $7, $8)",
    )?;
    for item in s.outbox() {
        let (OutboxEntry { due, message, user }, o) = item?;
        t.execute(
            &row,
            &[
                &i(message),
                &i(user),
                &i(due),
                &o.to,
                &o.name,
                &i(o.queued_at),
                &i64::from(o.attempts),
                &o.last_error,
            ],
        )?;
    }
    Ok(())
}

/// The totals kept in owning rows and slot rows, counted from what they count.
fn recount(t: &mut Transaction<'_>) -> Put {
    t.batch_execute(
        "UPDATE courses c SET enrolled = \
             (SELECT count(*) FROM enrolments e WHERE e.course_id = c.id); \
         UPDATE groups g SET members = \
             (SELECT count(*) FROM group_members m WHERE m.group_id = g.id) \
             WHERE deleted_at_ms IS NULL; \
         UPDATE totals s SET n = (SELECT count(*) FROM users u WHERE u.id % 16 = s.slot) \
             WHERE s.name = 'users'; \
         UPDATE totals s SET n = (SELECT count(*) FROM groups g \
             WHERE g.id % 16 = s.slot AND g.deleted_at_ms IS NULL) \
             WHERE s.name = 'groups';",
    )?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Backup: PostgreSQL -> file.

/// Runs `sql` (no parameters) and hands each row to `each`, streaming: a table is never
/// held in memory whole.
fn each_row(t: &mut Transaction<'_>, sql: &str, mut each: impl FnMut(&Row) -> Put) -> Put {
    let mut rows = t.query_raw(sql, std::iter::empty::<i64>())?;
    while let Some(row) = rows.next()? {
        each(&row)?;
    }
    Ok(())
}

fn u(row: &Row, n: usize) -> u64 {
    row.get::<_, i64>(n) as u64
}

fn ou(row: &Row, n: usize) -> Option<u64> {
    row.get::<_, Option<i64>>(n).map(|v| v as u64)
}

/// A `u32` field stored as `bigint` (the schema's CHECK keeps it in range).
fn u32_of(row: &Row, n: usize) -> u32 {
    row.get::<_, i64>(n) as u32
}

fn corrupt(tree: &'static str, reason: String) -> PgError {
    StoreError::Corrupt {
        tree,
        key: String::new(),
        reason,
    }
    .into()
}

/// Every table into the archive `s` (see the module docs); returns the id mark.
fn copy_out(t: &mut Transaction<'_>, s: &mut dyn ArchiveWrite) -> Result<u64, PgError> {
    get_settings(t, s)?;
    get_users(t, s)?;
    get_branches(t, s)?;
    get_courses(t, s)?;
    get_curricula(t, s)?;
    get_enrolments(t, s)?;
    get_progress(t, s)?;
    get_jobs(t, s)?;
    get_groups(t, s)?;
    get_group_links(t, s)?;
    get_members(t, s)?;
    get_managers(t, s)?;
    get_bulk_results(t, s)?;
    get_redemptions(t, s)?;
    get_audit(t, s)?;
    get_imports(t, s)?;
    get_import_rows(t, s)?;
    get_password_tokens(t, s)?;
    get_messages(t, s)?;
    get_inbox(t, s)?;
    get_outbox(t, s)?;
    // Above every id handed out, those of rows not yet committed included.
    let last: i64 = t.query_one("SELECT last_value FROM ids", &[])?.get(0);
    Ok(last as u64 + 1)
}

fn get_settings(t: &mut Transaction<'_>, s: &mut dyn ArchiveWrite) -> Put {
    let on: Option<bool> = t
        .query_one("SELECT self_registration FROM settings", &[])?
        .get(0);
    if let Some(on) = on {
        s.put_self_registration(on)?;
    }
    if let Some(rec) = read_last_backup(t)? {
        s.put_last_backup(&rec)?;
    }
    Ok(())
}

/// The `last_backup` row, if any.
fn read_last_backup(t: &mut Transaction<'_>) -> Result<Option<LastBackupRecord>, PgError> {
    let Some(row) = t.query_opt("SELECT at_ms, bytes, via, by_user FROM last_backup", &[])? else {
        return Ok(None);
    };
    let via = match (row.get::<_, &str>(2), ou(&row, 3)) {
        ("download", Some(by)) => BackupVia::Download { by },
        ("command", None) => BackupVia::Command,
        (other, _) => return Err(corrupt("last_backup", format!("unknown via {other}"))),
    };
    Ok(Some(LastBackupRecord {
        at_ms: u(&row, 0),
        bytes: u(&row, 1),
        via,
    }))
}

fn get_users(t: &mut Transaction<'_>, s: &mut dyn ArchiveWrite) -> Put {
    each_row(
        t,
        "SELECT u.id, u.login, u.email, u.display_name, u.role, u.active, u.created_at_ms, \
         u.auth_epoch, s.password_hash FROM users u LEFT JOIN user_secrets s ON s.user_id = u.id \
         ORDER BY u.id",
        |row| {
            let role = match row.get::<_, &str>(4) {
                "admin" => StoredRole::Admin,
                "learner" => StoredRole::Learner,
                other => return Err(corrupt("users", format!("unknown role {other}"))),
            };
            let rec = UserRecord {
                id: u(row, 0),
                login: row.get(1),
                email: row.get(2),
                display_name: row.get(3),
                role,
                active: row.get(5),
                created_at: u(row, 6),
                auth_epoch: u32_of(row, 7),
            };
            Ok(s.put_user(&rec, row.get::<_, Option<&str>>(8))?)
        },
    )
}

fn get_branches(t: &mut Transaction<'_>, s: &mut dyn ArchiveWrite) -> Put {
    each_row(
        t,
        "SELECT id, name, description, parent, created_at_ms FROM branches",
        |row| {
            let rec = BranchRecord {
                id: u(row, 0),
                name: row.get(1),
                description: row.get(2),
                parent: ou(row, 3),
                created_at: u(row, 4),
            };
            Ok(s.put_branch(&rec)?)
        },
    )
}

fn get_courses(t: &mut Transaction<'_>, s: &mut dyn ArchiveWrite) -> Put {
    each_row(
        t,
        "SELECT c.id, c.code, c.title, c.description, c.archived, c.created_at_ms, \
         ARRAY(SELECT l.id FROM course_lessons l WHERE l.course_id = c.id ORDER BY l.position), \
         ARRAY(SELECT l.title FROM course_lessons l WHERE l.course_id = c.id ORDER BY l.position), \
         ARRAY(SELECT l.text FROM course_lessons l WHERE l.course_id = c.id ORDER BY l.position) \
         FROM courses c",
        |row| {
            let ids: Vec<i64> = row.get(6);
            let titles: Vec<String> = row.get(7);
            let texts: Vec<String> = row.get(8);
            let lessons = ids
                .into_iter()
                .zip(titles)
                .zip(texts)
                .map(|((id, title), text)| LessonRecord {
                    id: id as u64,
                    title,
                    text,
                })
                .collect();
            let rec = CourseRecord {
                id: u(row, 0),
                code: row.get(1),
                title: row.get(2),
                description: row.get(3),
                archived: row.get(4),
                lessons,
                created_at: u(row, 5),
            };
            Ok(s.put_course(&rec)?)
        },
    )
}

fn get_curricula(t: &mut Transaction<'_>, s: &mut dyn ArchiveWrite) -> Put {
    each_row(
        t,
        "SELECT c.id, c.name, c.description, c.created_at_ms, ARRAY(SELECT k.course_id FROM \
         curriculum_courses k WHERE k.curriculum_id = c.id ORDER BY k.position) FROM curricula c",
        |row| {
            let rec = CurriculumRecord {
                id: u(row, 0),
                name: row.get(1),
                description: row.get(2),
                courses: row
                    .get::<_, Vec<i64>>(4)
                    .into_iter()
                    .map(|c| c as u64)
                    .collect(),
                created_at: u(row, 3),
            };
            Ok(s.put_curriculum(&rec)?)
        },
    )
}

/// The source a row of `enrolment_sources` holds.
fn source_of(kind: &str, ref_id: Option<i64>) -> Result<Source, PgError> {
    let id = ref_id.map(|r| r as u64);
    Ok(match (kind, id) {
        ("manual", None) => Source::Manual,
        ("import", None) => Source::Import,
        ("curriculum", Some(c)) => Source::Curriculum(c),
        ("group_sync", Some(g)) => Source::GroupSync(g),
        ("group_key", Some(g)) => Source::GroupKey(g),
        ("default_group", Some(g)) => Source::DefaultGroup(g),
        ("import_group", Some(g)) => Source::ImportGroup(g),
        _ => {
            return Err(corrupt(
                "enrolment_sources",
                format!("unknown source {kind} {ref_id:?}"),
            ))
        }
    })
}

fn get_enrolments(t: &mut Transaction<'_>, s: &mut dyn ArchiveWrite) -> Put {
    each_row(
        t,
        "SELECT e.user_id, e.course_id, e.enrolled_at_ms, \
         ARRAY(SELECT k.kind FROM enrolment_sources k WHERE k.user_id = e.user_id \
             AND k.course_id = e.course_id ORDER BY k.position), \
         ARRAY(SELECT k.ref_id FROM enrolment_sources k WHERE k.user_id = e.user_id \
             AND k.course_id = e.course_id ORDER BY k.position) \
         FROM enrolments e",
        |row| {
            let kinds: Vec<String> = row.get(3);
            let refs: Vec<Option<i64>> = row.get(4);
            let sources = kinds
                .iter()
                .zip(refs)
                .map(|(k, r)| source_of(k, r))
                .collect::<Result<Vec<_>, _>>()?;
            let rec = EnrolmentRecord {
                enrolled_at: u(row, 2),
                sources,
            };
            Ok(s.put_enrolment((u(row, 0), u(row, 1)), &rec)?)
        },
    )
}

fn get_progress(t: &mut Transaction<'_>, s: &mut dyn ArchiveWrite) -> Put {
    each_row(
        t,
        "SELECT p.user_id, p.course_id, \
         ARRAY(SELECT d.lesson_id FROM progress_done d WHERE d.user_id = p.user_id \
             AND d.course_id = p.course_id ORDER BY d.position), \
         ARRAY(SELECT d.done_at_ms FROM progress_done d WHERE d.user_id = p.user_id \
             AND d.course_id = p.course_id ORDER BY d.position), \
         ARRAY(SELECT h.completed_at_ms FROM progress_history h WHERE h.user_id = p.user_id \
             AND h.course_id = p.course_id ORDER BY h.position) \
         FROM progress p",
        |row| {
            let lessons: Vec<i64> = row.get(2);
            let at: Vec<i64> = row.get(3);
            let history: Vec<i64> = row.get(4);
            let rec = ProgressRecord {
                done: lessons
                    .into_iter()
                    .zip(at)
                    .map(|(l, a)| (l as u64, a as u64))
                    .collect(),
                history: history.into_iter().map(|h| h as u64).collect(),
            };
            Ok(s.put_progress((u(row, 0), u(row, 1)), &rec)?)
        },
    )
}

fn get_jobs(t: &mut Transaction<'_>, s: &mut dyn ArchiveWrite) -> Put {
    each_row(
        t,
        &format!("SELECT {} FROM jobs", super::jobs::JOB_COLUMNS),
        |row| {
            let job = super::jobs::job_of(row)?;
            Ok(s.put_job(&job)?)
        },
    )
}

/// Live groups (a tombstone is a group the embedded store has deleted already), with their
/// mass enrolment jobs.
fn get_groups(t: &mut Transaction<'_>, s: &mut dyn ArchiveWrite) -> Put {
    each_row(
        t,
        &format!(
            "SELECT {}, mass_enrol_running, mass_enrol_last FROM groups \
             WHERE deleted_at_ms IS NULL",
            super::groups::GROUP_COLUMNS
        ),
        |row| {
            let g = super::groups::group_of(row);
            let mass = MassJobs {
                running: ou(row, 16),
                last: ou(row, 17),
            };
            Ok(s.put_group(&g, mass)?)
        },
    )
}

fn get_group_links(t: &mut Transaction<'_>, s: &mut dyn ArchiveWrite) -> Put {
    each_row(
        t,
        "SELECT g.id, \
         ARRAY(SELECT c.course_id FROM group_courses c WHERE c.group_id = g.id \
             ORDER BY c.position), \
         ARRAY(SELECT c.curriculum_id FROM group_curricula c WHERE c.group_id = g.id \
             ORDER BY c.position) \
         FROM groups g WHERE g.deleted_at_ms IS NULL AND (\
             EXISTS (SELECT 1 FROM group_courses c WHERE c.group_id = g.id) OR \
             EXISTS (SELECT 1 FROM group_curricula c WHERE c.group_id = g.id))",
        |row| {
            let ids = |n: usize| -> Vec<u64> {
                row.get::<_, Vec<i64>>(n)
                    .into_iter()
                    .map(|c| c as u64)
                    .collect()
            };
            let rec = GroupLinksRecord {
                courses: ids(1),
                curricula: ids(2),
            };
            Ok(s.put_group_links(u(row, 0), &rec)?)
        },
    )
}

fn get_members(t: &mut Transaction<'_>, s: &mut dyn ArchiveWrite) -> Put {
    each_row(
        t,
        "SELECT group_id, user_id, joined_at_ms, how FROM group_members",
        |row| {
            let how = match row.get::<_, &str>(3) {
                "manual" => JoinedVia::Manual,
                "key" => JoinedVia::Key,
                "default" => JoinedVia::Default,
                "import" => JoinedVia::Import,
                "bulk" => JoinedVia::Bulk,
                other => return Err(corrupt("group_members", format!("unknown how {other}"))),
            };
            let rec = MemberRecord {
                joined_at: u(row, 2),
                how,
            };
            Ok(s.put_member((u(row, 0), u(row, 1)), &rec)?)
        },
    )
}

fn get_managers(t: &mut Transaction<'_>, s: &mut dyn ArchiveWrite) -> Put {
    each_row(t, "SELECT group_id, user_id FROM group_managers", |row| {
        Ok(s.put_manager((u(row, 0), u(row, 1)))?)
    })
}

fn get_bulk_results(t: &mut Transaction<'_>, s: &mut dyn ArchiveWrite) -> Put {
    each_row(
        t,
        "SELECT b.group_id, b.user_id, b.added, b.already, b.unknown, b.invalid, \
         ARRAY(SELECT r.line FROM bulk_result_rows r WHERE r.group_id = b.group_id \
             AND r.user_id = b.user_id ORDER BY r.position), \
         ARRAY(SELECT r.input FROM bulk_result_rows r WHERE r.group_id = b.group_id \
             AND r.user_id = b.user_id ORDER BY r.position), \
         ARRAY(SELECT r.outcome FROM bulk_result_rows r WHERE r.group_id = b.group_id \
             AND r.user_id = b.user_id ORDER BY r.position), \
         ARRAY(SELECT r.reason FROM bulk_result_rows r WHERE r.group_id = b.group_id \
             AND r.user_id = b.user_id ORDER BY r.position) \
         FROM bulk_results b",
        |row| {
            let lines: Vec<i64> = row.get(6);
            let inputs: Vec<String> = row.get(7);
            let outcomes: Vec<String> = row.get(8);
            let reasons: Vec<Option<String>> = row.get(9);
            let mut rows = Vec::with_capacity(lines.len());
            for (((line, input), outcome), reason) in
                lines.into_iter().zip(inputs).zip(outcomes).zip(reasons)
            {
                let outcome = match (outcome.as_str(), reason) {
                    ("added", _) => BulkOutcomeRecord::Added,
                    ("already_member", _) => BulkOutcomeRecord::AlreadyMember,
                    ("unknown_user", _) => BulkOutcomeRecord::UnknownUser,
                    ("invalid", Some(why)) => BulkOutcomeRecord::Invalid(why),
                    (other, _) => {
                        return Err(corrupt("bulk_result_rows", format!("unknown {other}")))
                    }
                };
                rows.push(BulkRowRecord {
                    line: line as u32,
                    input,
                    outcome,
                });
            }
            let rec = BulkResultRecord {
                rows,
                added: u32_of(row, 2),
                already: u32_of(row, 3),
                unknown: u32_of(row, 4),
                invalid: u32_of(row, 5),
            };
            Ok(s.put_bulk_result((u(row, 0), u(row, 1)), &rec)?)
        },
    )
}

fn get_redemptions(t: &mut Transaction<'_>, s: &mut dyn ArchiveWrite) -> Put {
    each_row(
        t,
        "SELECT group_id, event_id, user_id, key, at_ms, client FROM key_redemptions",
        |row| {
            let rec = RedemptionRecord {
                user: u(row, 2),
                key: row.get(3),
                at: u(row, 4),
                client: row.get(5),
            };
            Ok(s.put_redemption((u(row, 0), u(row, 1)), &rec)?)
        },
    )
}

fn get_audit(t: &mut Transaction<'_>, s: &mut dyn ArchiveWrite) -> Put {
    each_row(
        t,
        "SELECT group_id, event_id, at_ms, actor, action, detail FROM audit",
        |row| {
            let rec = super::audit::record_of(row, 2)?;
            Ok(s.put_audit((u(row, 0), u(row, 1)), &rec)?)
        },
    )
}

fn get_imports(t: &mut Transaction<'_>, s: &mut dyn ArchiveWrite) -> Put {
    each_row(
        t,
        "SELECT id, by_user, by_login, file_name, created_at_ms, state, rows, done, \
         count_create, count_exists, count_invalid, count_created, count_failed, \
         finished_at_ms, links_expire_at_ms, failure FROM imports",
        |row| {
            let state = match row.get::<_, &str>(5) {
                "preview" => StoredImportState::Preview,
                "applying" => StoredImportState::Applying,
                "done" => StoredImportState::Done,
                "discarded" => StoredImportState::Discarded,
                "failed" => StoredImportState::Failed,
                other => return Err(corrupt("imports", format!("unknown state {other}"))),
            };
            let rec = ImportRecord {
                id: u(row, 0),
                by: u(row, 1),
                by_login: row.get(2),
                file_name: row.get(3),
                created_at: u(row, 4),
                state,
                rows: u(row, 6),
                done: u(row, 7),
                counts: StoredCounts {
                    create: u(row, 8),
                    exists: u(row, 9),
                    invalid: u(row, 10),
                    created: u(row, 11),
                    failed: u(row, 12),
                },
                finished_at: ou(row, 13),
                links_expire_at: ou(row, 14),
                failure: row.get(15),
            };
            Ok(s.put_import(&rec)?)
        },
    )
}

fn get_import_rows(t: &mut Transaction<'_>, s: &mut dyn ArchiveWrite) -> Put {
    each_row(
        t,
        "SELECT import_id, row_index, line, login, email, display_name, role, groups, \
         group_ids, hash, outcome, outcome_field, outcome_message, created_user, token \
         FROM import_rows",
        |row| {
            let text = |n: usize| row.get::<_, Option<String>>(n);
            let outcome = match (row.get::<_, &str>(10), text(11), text(12), ou(row, 13)) {
                ("create", ..) => StoredOutcome::Create,
                ("exists_login", ..) => StoredOutcome::ExistsLogin,
                ("exists_email", ..) => StoredOutcome::ExistsEmail,
                ("invalid", Some(field), Some(message), _) => {
                    StoredOutcome::Invalid { field, message }
                }
                ("created", _, _, Some(user)) => StoredOutcome::Created {
                    user,
                    token: text(14),
                },
                ("failed", _, Some(why), _) => StoredOutcome::Failed(why),
                (other, ..) => return Err(corrupt("import_rows", format!("unknown {other}"))),
            };
            let rec = ImportRowRecord {
                line: u32_of(row, 2),
                login: row.get(3),
                email: row.get(4),
                display_name: row.get(5),
                role: row.get(6),
                groups: row.get(7),
                group_ids: row
                    .get::<_, Vec<i64>>(8)
                    .into_iter()
                    .map(|g| g as u64)
                    .collect(),
                hash: row.get(9),
                outcome,
            };
            Ok(s.put_import_row((u(row, 0), u(row, 1)), &rec)?)
        },
    )
}

fn get_password_tokens(t: &mut Transaction<'_>, s: &mut dyn ArchiveWrite) -> Put {
    each_row(
        t,
        "SELECT key_hash, user_id, expires_at_ms, epoch FROM password_tokens",
        |row| {
            let rec = TokenRecord {
                user: u(row, 1),
                expires_at: u(row, 2),
                epoch: u32_of(row, 3),
            };
            Ok(s.put_password_token(row.get::<_, &[u8]>(0), &rec)?)
        },
    )
}

fn get_messages(t: &mut Transaction<'_>, s: &mut dyn ArchiveWrite) -> Put {
    each_row(
        t,
        "SELECT m.id, m.group_id, m.group_name, m.sender, m.sender_name, m.subject, \
         m.sent_at_ms, m.recipients, m.mail, m.delivering, m.delivered, m.mail_queued, \
         m.mail_sent, m.mail_failed, b.body \
         FROM messages m LEFT JOIN message_bodies b ON b.message_id = m.id",
        |row| {
            let id = u(row, 0);
            let rec = MessageRecord {
                group: u(row, 1),
                group_name: row.get(2),
                sender: u(row, 3),
                sender_name: row.get(4),
                subject: row.get(5),
                sent_at: u(row, 6),
                recipients: u(row, 7),
                mail: row.get(8),
                delivering: row.get(9),
            };
            let counts = MessageCounts {
                delivered: u(row, 10),
                mail_queued: u(row, 11),
                mail_sent: u(row, 12),
                mail_failed: u(row, 13),
            };
            let body = row
                .get::<_, Option<String>>(14)
                .map(|body| BodyRecord { body });
            Ok(s.put_message(id, &rec, counts, body.as_ref())?)
        },
    )
}

fn get_inbox(t: &mut Transaction<'_>, s: &mut dyn ArchiveWrite) -> Put {
    each_row(t, "SELECT user_id, message_id, read FROM inbox", |row| {
        let rec = InboxRecord { read: row.get(2) };
        Ok(s.put_inbox((u(row, 0), u(row, 1)), &rec)?)
    })
}

fn get_outbox(t: &mut Transaction<'_>, s: &mut dyn ArchiveWrite) -> Put {
    each_row(
        t,
        "SELECT due_ms, message_id, user_id, \"to\", name, queued_at_ms, attempts, last_error \
         FROM outbox",
        |row| {
            let key = OutboxEntry {
                due: u(row, 0),
                message: u(row, 1),
                user: u(row, 2),
            };
            let rec = OutboxRecord {
                to: row.get(3),
                name: row.get(4),
                queued_at: u(row, 5),
                attempts: u32_of(row, 6),
                last_error: row.get(7),
            };
            Ok(s.put_outbox(key, &rec)?)
        },
    )
}

impl Backups for PgStore {
    fn record_backup(&self, rec: &LastBackupRecord) -> Result<(), StoreError> {
        self.tx(IsolationLevel::ReadCommitted, |t| write_last_backup(t, rec))
    }

    fn last_backup(&self) -> Result<Option<LastBackupRecord>, StoreError> {
        self.tx(IsolationLevel::ReadCommitted, read_last_backup)
    }

    fn backup(&self, out: &mut dyn Write, now_ms: u64) -> Result<BackupSummary, BackupError> {
        let mut archive = new_archive()?;
        let (schema, id_mark) = {
            let mut conn = self.conn()?;
            let mut t = conn
                .build_transaction()
                .isolation_level(IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()
                .map_err(|e| StoreError::from(PgError::Db(e)))?;
            let schema: i32 = t
                .query_one("SELECT schema_version FROM store_info", &[])
                .map_err(|e| StoreError::from(PgError::Db(e)))?
                .get(0);
            let id_mark = copy_out(&mut t, archive.as_mut()).map_err(StoreError::from)?;
            t.commit().map_err(|e| StoreError::from(PgError::Db(e)))?;
            (schema, id_mark)
        };
        let schema = u32::try_from(schema).map_err(|_| StoreError::Corrupt {
            tree: "store_info",
            key: "schema_version".into(),
            reason: format!("{schema} is not a schema version"),
        })?;
        archive.put_schema(schema)?;
        archive.finish(out, now_ms, id_mark)
    }
}

#[cfg(test)]
mod tests;
