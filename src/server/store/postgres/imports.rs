//! The PostgreSQL backend's Imports (the interface and its rules: `store/imports.rs`; the
//! behaviour: `sled/imports.rs`): `imports` with their counts in the row, `import_rows`, and
//! `password_tokens`; and the steps of the import job kind, `import_users`.
//!
//! Applying is exactly once per row, as on sled: each row's user, group joins, enrolments,
//! token, outcome and the import's counts are written in one transaction that first locks the
//! row and passes over a row whose outcome is no longer "create". A step applies up to
//! [`IMPORT_STEP`] rows from the job's cursor, then moves the cursor in the job's step
//! transaction (`PgStore::step_tx`: written only while the runner still holds the job at that
//! cursor); a runner that dies mid-step, or whose lease is taken over, leaves rows that the
//! next holder passes over or applies, never twice.
//!
//! Isolation: writes are `SERIALIZABLE` (creating a user: unique login and e-mail, the default
//! group; a row's outcome with the import's counts); a page of rows with its total, and one
//! row with its link's state, read one `REPEATABLE READ` snapshot; the whole file of rows is
//! walked in batches by keyset, each a `READ COMMITTED` transaction of its own.

use super::groups::members::{join_new_user, NewMember};
use super::jobs::{self, Advance};
use super::users::{new_record, tx_create_user, tx_set_password};
use super::{groups, refuse_nul, PgError, PgStore};
use crate::model::group::JoinedHow;
use crate::model::import::{ImportOutcome, ImportRowView, ImportView};
use crate::server::csv_input::ImportInput;
use crate::server::store::enrolments::Source;
use crate::server::store::groups::Actor;
use crate::server::store::imports::*;
use crate::server::store::jobs::{JobKind, JobRecord, Step};
use crate::server::store::prelude::*;
use crate::server::store::users::PasswordHash;
use crate::server::store::StoreError;
use postgres::{IsolationLevel, Row, Transaction};

/// Rows read per batch of [`Imports::import_rows_all`].
const ROWS_BATCH: i64 = 1_000;

/// The columns of `imports` that make an [`ImportRecord`], in [`import_of`]'s order.
const IMPORT_COLUMNS: &str = "id, by_user, by_login, file_name, created_at_ms, state, rows, \
     done, count_create, count_exists, count_invalid, count_created, count_failed, \
     finished_at_ms, links_expire_at_ms, failure";

/// The columns of `import_rows` that make an [`ImportRowRecord`], in [`row_of`]'s order.
const ROW_COLUMNS: &str = "line, login, email, display_name, role, groups, group_ids, hash, \
     outcome, outcome_field, outcome_message, created_user, token";

fn state_name(s: StoredImportState) -> &'static str {
    match s {
        StoredImportState::Preview => "preview",
        StoredImportState::Applying => "applying",
        StoredImportState::Done => "done",
        StoredImportState::Discarded => "discarded",
        StoredImportState::Failed => "failed",
    }
}

/// A row of [`IMPORT_COLUMNS`] as its record.
fn import_of(r: &Row) -> Result<ImportRecord, StoreError> {
    let u = |i: usize| r.get::<_, i64>(i) as u64;
    let id = u(0);
    let state = match r.get::<_, &str>(5) {
        "preview" => StoredImportState::Preview,
        "applying" => StoredImportState::Applying,
        "done" => StoredImportState::Done,
        "discarded" => StoredImportState::Discarded,
        "failed" => StoredImportState::Failed,
        other => {
            return Err(StoreError::Corrupt {
                tree: "imports",
                key: id.to_string(),
                reason: format!("unknown state {other}"),
            })
        }
    };
    Ok(ImportRecord {
        id,
        by: u(1),
        by_login: r.get(2),
        file_name: r.get(3),
        created_at: u(4),
        state,
        rows: u(6),
        done: u(7),
        counts: StoredCounts {
            create: u(8),
            exists: u(9),
            invalid: u(10),
            created: u(11),
            failed: u(12),
        },
        finished_at: r.get::<_, Option<i64>>(13).map(|v| v as u64),
        links_expire_at: r.get::<_, Option<i64>>(14).map(|v| v as u64),
        failure: r.get(15),
    })
}

/// A row of [`ROW_COLUMNS`] as its record.
fn row_of(r: &Row) -> Result<ImportRowRecord, StoreError> {
    let corrupt = |reason: String| StoreError::Corrupt {
        tree: "import_rows",
        key: String::new(),
        reason,
    };
    let text = |i: usize| r.get::<_, Option<String>>(i).unwrap_or_default();
    let outcome = match r.get::<_, &str>(8) {
        "create" => StoredOutcome::Create,
        "exists_login" => StoredOutcome::ExistsLogin,
        "exists_email" => StoredOutcome::ExistsEmail,
        "invalid" => StoredOutcome::Invalid {
            field: text(9),
            message: text(10),
        },
        "created" => StoredOutcome::Created {
            user: r
                .get::<_, Option<i64>>(11)
                .ok_or_else(|| corrupt("a created row without its user".into()))?
                as u64,
            token: r.get(12),
        },
        "failed" => StoredOutcome::Failed(text(10)),
        other => return Err(corrupt(format!("unknown outcome {other}"))),
    };
    Ok(ImportRowRecord {
        line: r.get::<_, i64>(0) as u32,
        login: r.get(1),
        email: r.get(2),
        display_name: r.get(3),
        role: r.get(4),
        groups: r.get(5),
        group_ids: r
            .get::<_, Vec<i64>>(6)
            .into_iter()
            .map(|g| g as u64)
            .collect(),
        hash: r.get(7),
        outcome,
    })
}

/// The `outcome`, `outcome_field`, `outcome_message`, `created_user` and `token` columns of
/// an outcome.
type OutcomeColumns<'a> = (
    &'static str,
    Option<&'a str>,
    Option<&'a str>,
    Option<i64>,
    Option<&'a str>,
);

fn outcome_columns(o: &StoredOutcome) -> OutcomeColumns<'_> {
    match o {
        StoredOutcome::Create => ("create", None, None, None, None),
        StoredOutcome::ExistsLogin => ("exists_login", None, None, None, None),
        StoredOutcome::ExistsEmail => ("exists_email", None, None, None, None),
        StoredOutcome::Invalid { field, message } => {
            ("invalid", Some(field), Some(message), None, None)
        }
        StoredOutcome::Created { user, token } => {
            ("created", None, None, Some(*user as i64), token.as_deref())
        }
        StoredOutcome::Failed(m) => ("failed", None, Some(m), None, None),
    }
}

/// The `outcome` values of a `show` filter (see `ImportOutcome::kind`); `None`: every row.
fn shown_outcomes(show: &str) -> Option<Vec<&'static str>> {
    Some(match show {
        "create" => vec!["create"],
        "exists" => vec!["exists_login", "exists_email"],
        "invalid" => vec!["invalid"],
        "created" => vec!["created"],
        "failed" => vec!["failed"],
        _ => return None,
    })
}

/// Inside a transaction: import `id`, locked for the change with `lock`.
fn import(t: &mut Transaction<'_>, id: u64, lock: bool) -> Result<Option<ImportRecord>, PgError> {
    let sql = format!(
        "SELECT {IMPORT_COLUMNS} FROM imports WHERE id = $1{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    Ok(t.query_opt(&sql, &[&(id as i64)])?
        .map(|r| import_of(&r))
        .transpose()?)
}

/// Inside a transaction: writes the state, progress and counts of `rec`.
fn put_import(t: &mut Transaction<'_>, rec: &ImportRecord) -> Result<(), PgError> {
    let c = &rec.counts;
    t.execute(
        "UPDATE imports SET state = $2, done = $3, count_create = $4, count_exists = $5, \
         count_invalid = $6, count_created = $7, count_failed = $8, finished_at_ms = $9, \
         links_expire_at_ms = $10, failure = $11 WHERE id = $1",
        &[
            &(rec.id as i64),
            &state_name(rec.state),
            &(rec.done as i64),
            &(c.create as i64),
            &(c.exists as i64),
            &(c.invalid as i64),
            &(c.created as i64),
            &(c.failed as i64),
            &rec.finished_at.map(|v| v as i64),
            &rec.links_expire_at.map(|v| v as i64),
            &rec.failure,
        ],
    )?;
    Ok(())
}

/// Inside a transaction: row `index` of import `import`, locked for the change.
fn locked_row(
    t: &mut Transaction<'_>,
    import: u64,
    index: u64,
) -> Result<Option<ImportRowRecord>, PgError> {
    Ok(t.query_opt(
        &format!(
            "SELECT {ROW_COLUMNS} FROM import_rows WHERE import_id = $1 AND row_index = $2 \
             FOR UPDATE"
        ),
        &[&(import as i64), &(index as i64)],
    )?
    .map(|r| row_of(&r))
    .transpose()?)
}

/// Inside a transaction: a row's outcome changes; the row and the import's counts are written
/// (sled's `tx_settle`).
fn settle(
    t: &mut Transaction<'_>,
    import: u64,
    index: u64,
    row: &ImportRowRecord,
    outcome: &StoredOutcome,
) -> Result<(), PgError> {
    let mut rec = self::import(t, import, true)?.ok_or(StoreError::NotFound("import"))?;
    // Rows are applied in file order: this one settled means every row before it is handled.
    rec.done = rec.done.max(index + 1);
    rec.counts.add(&row.outcome, -1);
    rec.counts.add(outcome, 1);
    put_import(t, &rec)?;
    let (kind, field, message, user, token) = outcome_columns(outcome);
    t.execute(
        "UPDATE import_rows SET outcome = $3, outcome_field = $4, outcome_message = $5, \
         created_user = $6, token = $7 WHERE import_id = $1 AND row_index = $2",
        &[
            &(import as i64),
            &(index as i64),
            &kind,
            &field,
            &message,
            &user,
            &token,
        ],
    )?;
    Ok(())
}

/// Inside a transaction: the user a set-password token is for, if it works at `now`.
fn token_user(t: &mut Transaction<'_>, token: &str, now: u64, lock: bool) -> Result<u64, PgError> {
    let key = token_key(token.trim());
    let sql = format!(
        "SELECT user_id, expires_at_ms, epoch FROM password_tokens WHERE key_hash = $1{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    let rec = t.query_opt(&sql, &[&key.as_slice()])?.map(|r| TokenRecord {
        user: r.get::<_, i64>(0) as u64,
        expires_at: r.get::<_, i64>(1) as u64,
        epoch: r.get::<_, i64>(2) as u32,
    });
    let user = match &rec {
        Some(rec) => t
            .query_opt(
                &format!("SELECT {} FROM users WHERE id = $1", super::users::COLUMNS),
                &[&(rec.user as i64)],
            )?
            .map(|r| super::users::record(&r))
            .transpose()?,
        None => None,
    };
    Ok(check_token(rec.as_ref(), user.as_ref(), now)?)
}

/// Inside a transaction: `row` with its set-password link only while the link works.
fn live_links(
    t: &mut Transaction<'_>,
    mut row: ImportRowView,
    now: u64,
) -> Result<ImportRowView, PgError> {
    if let ImportOutcome::Created {
        link: link @ Some(_),
        ..
    } = &mut row.outcome
    {
        match token_user(t, link.as_deref().unwrap_or(""), now, false) {
            Ok(_) => {}
            Err(PgError::Store(StoreError::Invalid { .. })) => *link = None,
            Err(e) => return Err(e),
        }
    }
    Ok(row)
}

/// Planning's questions, answered from what was fetched beforehand: the folded logins,
/// e-mails and group names the plan asks about, each kind in one query per few thousand
/// (a file of 50,000 rows asked row by row would be 150,000 round trips).
#[derive(Default)]
struct PgLookups {
    /// Every key asked about, to fetch (the first pass).
    asked: (Vec<String>, Vec<String>, Vec<String>),
    logins: std::collections::HashSet<String>,
    emails: std::collections::HashSet<String>,
    groups: std::collections::HashMap<String, u64>,
}

impl ImportLookups for PgLookups {
    fn login_taken(&mut self, folded: &str) -> Result<bool, StoreError> {
        self.asked.0.push(folded.to_string());
        Ok(self.logins.contains(folded))
    }

    fn email_taken(&mut self, folded: &str) -> Result<bool, StoreError> {
        self.asked.1.push(folded.to_string());
        Ok(self.emails.contains(folded))
    }

    fn group_named(&mut self, folded: &str) -> Result<Option<u64>, StoreError> {
        self.asked.2.push(folded.to_string());
        Ok(self.groups.get(folded).copied())
    }
}

/// Keys looked up per query when planning.
const LOOKUP_BATCH: usize = 5_000;

/// Inside a transaction: which of `keys` the query (its `$1` a text array, its one column a
/// key found) finds.
fn found(
    t: &mut Transaction<'_>,
    sql: &str,
    keys: &[String],
) -> Result<Vec<postgres::Row>, PgError> {
    let mut out = Vec::new();
    for chunk in keys.chunks(LOOKUP_BATCH) {
        out.extend(t.query(sql, &[&chunk])?);
    }
    Ok(out)
}

/// Plans `inputs` in one snapshot, asking the database in batches: a pass of the rules
/// records what they ask (a key not fetched yet reads as unused, or no such group), the keys
/// new to it are fetched, and the passes repeat until one asks nothing new. That pass saw
/// the database's answer to every question it asked: it is the plan row-by-row lookups give.
/// (Two passes, three when a found key lets a row go on to ask more.)
fn plan_in(
    t: &mut Transaction<'_>,
    inputs: &[ImportInput],
) -> Result<Vec<ImportRowRecord>, PgError> {
    let mut look = PgLookups::default();
    let mut fetched: [std::collections::HashSet<String>; 3] = Default::default();
    loop {
        let plan = plan_rows(inputs, &mut look)?;
        let (logins, emails, groups) = std::mem::take(&mut look.asked);
        let new = |asked: Vec<String>, seen: &mut std::collections::HashSet<String>| {
            asked
                .into_iter()
                .filter(|k| seen.insert(k.clone()))
                .collect::<Vec<_>>()
        };
        let [fl, fe, fg] = &mut fetched;
        let (logins, emails, groups) = (new(logins, fl), new(emails, fe), new(groups, fg));
        if logins.is_empty() && emails.is_empty() && groups.is_empty() {
            return Ok(plan);
        }
        let sql = "SELECT login_folded FROM users WHERE login_folded = ANY($1)";
        look.logins
            .extend(found(t, sql, &logins)?.iter().map(|r| r.get(0)));
        let sql = "SELECT email_folded FROM users WHERE email_folded = ANY($1)";
        look.emails
            .extend(found(t, sql, &emails)?.iter().map(|r| r.get(0)));
        let sql = "SELECT name_folded, id FROM groups WHERE name_folded = ANY($1) \
                   AND deleted_at_ms IS NULL";
        look.groups.extend(
            found(t, sql, &groups)?
                .iter()
                .map(|r| (r.get(0), r.get::<_, i64>(1) as u64)),
        );
    }
}

/// Refuses a row holding text PostgreSQL cannot store (U+0000): the whole file, before
/// anything is written.
fn refuse_nul_row(row: &ImportRowRecord) -> Result<(), StoreError> {
    for text in [&row.login, &row.email, &row.display_name, &row.role]
        .into_iter()
        .chain(&row.groups)
        .chain(row.hash.as_ref())
    {
        refuse_nul("file", text)?;
    }
    match &row.outcome {
        StoredOutcome::Invalid { field, message } => {
            refuse_nul("file", field)?;
            refuse_nul("file", message)
        }
        StoredOutcome::Failed(m) => refuse_nul("file", m),
        _ => Ok(()),
    }
}

/// Rows written per statement by `save_import` (15 parameters a row, well under
/// PostgreSQL's 65,535).
const INSERT_BATCH: usize = 500;

/// Inside a transaction: writes `rows` as rows `first..` of import `id`, in one statement.
fn insert_rows(
    t: &mut Transaction<'_>,
    id: u64,
    first: usize,
    rows: &[ImportRowRecord],
) -> Result<(), PgError> {
    use postgres::types::ToSql;
    const COLUMNS: usize = 15;
    let owned: Vec<(i64, i64, i64, Vec<i64>, OutcomeColumns<'_>)> = rows
        .iter()
        .enumerate()
        .map(|(i, row)| {
            (
                id as i64,
                (first + i) as i64,
                i64::from(row.line),
                row.group_ids.iter().map(|g| *g as i64).collect(),
                outcome_columns(&row.outcome),
            )
        })
        .collect();
    let mut params: Vec<&(dyn ToSql + Sync)> = Vec::with_capacity(rows.len() * COLUMNS);
    let mut values = Vec::with_capacity(rows.len());
    for (k, (row, (import, index, line, group_ids, (kind, field, message, user, token)))) in
        rows.iter().zip(&owned).enumerate()
    {
        let at = k * COLUMNS;
        values.push(format!(
            "({})",
            (1..=COLUMNS)
                .map(|c| format!("${}", at + c))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        params.extend([
            import as &(dyn ToSql + Sync),
            index,
            line,
            &row.login,
            &row.email,
            &row.display_name,
            &row.role,
            &row.groups,
            group_ids,
            &row.hash,
            kind,
            field,
            message,
            user,
            token,
        ]);
    }
    t.execute(
        &format!(
            "INSERT INTO import_rows (import_id, row_index, line, login, email, display_name, \
             role, groups, group_ids, hash, outcome, outcome_field, outcome_message, \
             created_user, token) VALUES {}",
            values.join(", ")
        ),
        &params,
    )?;
    Ok(())
}

impl Imports for PgStore {
    fn plan_import(&self, inputs: &[ImportInput]) -> Result<Vec<ImportRowRecord>, StoreError> {
        self.tx(IsolationLevel::RepeatableRead, |t| plan_in(t, inputs))
    }

    fn save_import(
        &self,
        by: (u64, &str),
        file_name: &str,
        rows: &[ImportRowRecord],
        now: u64,
    ) -> Result<ImportView, StoreError> {
        refuse_nul("file", file_name)?;
        refuse_nul("file", by.1)?;
        rows.iter().try_for_each(refuse_nul_row)?;
        let id = self.new_id()?;
        let mut counts = StoredCounts::default();
        rows.iter().for_each(|r| counts.add(&r.outcome, 1));
        let rec = ImportRecord {
            id,
            by: by.0,
            by_login: by.1.to_string(),
            file_name: file_name.to_string(),
            created_at: now,
            state: StoredImportState::Preview,
            rows: rows.len() as u64,
            done: 0,
            counts,
            finished_at: None,
            links_expire_at: None,
            failure: None,
        };
        // One transaction: the import and its rows appear together or not at all.
        self.tx(IsolationLevel::ReadCommitted, |t| {
            t.execute(
                "INSERT INTO imports (id, by_user, by_login, file_name, created_at_ms, state, \
                 rows, done, count_create, count_exists, count_invalid, count_created, \
                 count_failed) VALUES ($1, $2, $3, $4, $5, 'preview', $6, 0, 0, 0, 0, 0, 0)",
                &[
                    &(id as i64),
                    &(by.0 as i64),
                    &by.1,
                    &file_name,
                    &(now as i64),
                    &(rows.len() as i64),
                ],
            )?;
            put_import(t, &rec)?;
            // Many rows per statement: a file of 50,000 rows row by row is 50,000 round trips.
            for (n, chunk) in rows.chunks(INSERT_BATCH).enumerate() {
                insert_rows(t, id, n * INSERT_BATCH, chunk)?;
            }
            Ok(())
        })?;
        Ok(rec.view())
    }

    fn get_import(&self, id: u64) -> Result<Option<ImportView>, StoreError> {
        self.read_tx(|t| Ok(import(t, id, false)?.map(|r| r.view())))
    }

    fn recent_imports(&self, limit: usize) -> Result<Vec<ImportView>, StoreError> {
        self.read_tx(|t| {
            t.query(
                &format!("SELECT {IMPORT_COLUMNS} FROM imports ORDER BY id DESC LIMIT $1"),
                &[&(limit as i64)],
            )?
            .iter()
            .map(|r| Ok(import_of(r)?.view()))
            .collect()
        })
    }

    fn import_rows_page(
        &self,
        id: u64,
        show: &str,
        page: u32,
        per_page: u32,
        now: u64,
    ) -> Result<(Vec<ImportRowView>, u64), StoreError> {
        let skip = i64::from(page.max(1) - 1) * i64::from(per_page);
        let take = i64::from(per_page.max(1));
        self.page_tx(|t| {
            let rec = import(t, id, false)?.ok_or(StoreError::NotFound("import"))?;
            let c = rec.counts;
            let (rows, total) = match shown_outcomes(show) {
                None => (
                    t.query(
                        &format!(
                            "SELECT {ROW_COLUMNS} FROM import_rows WHERE import_id = $1 \
                             AND row_index >= $2 ORDER BY row_index LIMIT $3"
                        ),
                        &[&(id as i64), &skip, &take],
                    )?,
                    rec.rows,
                ),
                Some(outcomes) => (
                    // One outcome: equality, so the planner walks `import_rows_outcome` in
                    // row order (with `= ANY` of one value it may filter the whole file).
                    t.query(
                        &format!(
                            "SELECT {ROW_COLUMNS} FROM import_rows WHERE import_id = $1 \
                             AND {} ORDER BY row_index OFFSET $3 LIMIT $4",
                            if outcomes.len() == 1 {
                                "outcome = ($2::text[])[1]"
                            } else {
                                "outcome = ANY($2)"
                            }
                        ),
                        &[&(id as i64), &outcomes, &skip, &take],
                    )?,
                    match show {
                        "create" => c.create,
                        "exists" => c.exists,
                        "invalid" => c.invalid,
                        "created" => c.created,
                        _ => c.failed,
                    },
                ),
            };
            let mut out = Vec::with_capacity(rows.len());
            for r in &rows {
                let view = row_of(r)?.view();
                out.push(live_links(t, view, now)?);
            }
            Ok((out, total))
        })
    }

    fn import_rows_all(
        &self,
        id: u64,
        now: u64,
        each: &mut dyn FnMut(ImportRowView) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let mut from = 0i64;
        loop {
            let rows = self.read_tx(|t| {
                let rows = t.query(
                    &format!(
                        "SELECT {ROW_COLUMNS}, row_index FROM import_rows WHERE import_id = $1 \
                         AND row_index >= $2 ORDER BY row_index LIMIT $3"
                    ),
                    &[&(id as i64), &from, &ROWS_BATCH],
                )?;
                let mut out = Vec::with_capacity(rows.len());
                for r in &rows {
                    let view = live_links(t, row_of(r)?.view(), now)?;
                    out.push((r.get::<_, i64>(13), view));
                }
                Ok(out)
            })?;
            let full = rows.len() as i64 == ROWS_BATCH;
            for (index, view) in rows {
                from = index + 1;
                each(view)?;
            }
            if !full {
                return Ok(());
            }
        }
    }

    fn start_import(&self, id: u64, now: u64) -> Result<u64, StoreError> {
        let job = self.new_id()?;
        self.write_tx(|t| {
            let mut rec = import(t, id, true)?.ok_or(StoreError::NotFound("import"))?;
            check_startable(rec.state)?;
            rec.state = StoredImportState::Applying;
            rec.failure = None;
            rec.finished_at = None;
            put_import(t, &rec)?;
            let j = JobRecord::new(
                job,
                JobKind::ImportUsers { import: id },
                rec.rows,
                rec.by,
                now,
            );
            jobs::insert(t, &j)?;
            Ok(job)
        })
    }

    fn discard_import(&self, id: u64) -> Result<(), StoreError> {
        self.write_tx(|t| {
            let mut rec = import(t, id, true)?.ok_or(StoreError::NotFound("import"))?;
            check_discardable(rec.state)?;
            rec.state = StoredImportState::Discarded;
            put_import(t, &rec)?;
            t.execute(
                "DELETE FROM import_rows WHERE import_id = $1",
                &[&(id as i64)],
            )?;
            Ok(())
        })
    }

    fn password_token_user(&self, token: &str, now: u64) -> Result<u64, StoreError> {
        self.page_tx(|t| token_user(t, token, now, false))
    }

    fn use_password_token(
        &self,
        token: &str,
        hash: &PasswordHash,
        now: u64,
    ) -> Result<u64, StoreError> {
        self.write_tx(|t| {
            let user = token_user(t, token, now, true)?;
            t.execute(
                "DELETE FROM password_tokens WHERE key_hash = $1",
                &[&token_key(token.trim()).as_slice()],
            )?;
            tx_set_password(t, user, hash)?;
            Ok(user)
        })
    }
}

/// Inside the transaction that marks an import's job failed: the import stops, saying why; its
/// rows not applied keep "create", and applying it again resumes them (sled's
/// `tx_import_failed`).
pub(crate) fn failed(
    t: &mut Transaction<'_>,
    import: u64,
    reason: &str,
    now: u64,
) -> Result<(), PgError> {
    let Some(mut rec) = self::import(t, import, true)? else {
        return Ok(());
    };
    rec.state = StoredImportState::Failed;
    rec.failure = Some(reason.to_string());
    rec.finished_at = Some(now);
    put_import(t, &rec)
}

/// One step of applying an import: up to [`IMPORT_STEP`] rows from the job's cursor, each in
/// its own transaction, then the cursor (and, at the end, the import done) in the job's step
/// transaction.
pub(crate) fn import_step(store: &PgStore, job: &JobRecord, now: u64) -> Result<Step, StoreError> {
    let JobKind::ImportUsers { import } = job.kind else {
        return Err(StoreError::Corrupt {
            tree: "jobs",
            key: job.id.to_string(),
            reason: "not an import".into(),
        });
    };
    let rec = store.read_tx(|t| self::import(t, import, false))?;
    let (rows, end) = match &rec {
        Some(rec) => (rec.rows, (job.cursor + IMPORT_STEP as u64).min(rec.rows)),
        None => (0, job.cursor),
    };
    if let Some(rec) = &rec {
        for index in job.cursor..end {
            apply_row(store, rec, index, now)?;
        }
    }
    let handled = end.saturating_sub(job.cursor);
    store.step_tx(job, now, |t| {
        if let Some(mut r) = self::import(t, import, true)? {
            r.done = r.done.max(end);
            if end >= rows {
                r.state = StoredImportState::Done;
                r.finished_at = Some(now);
            }
            put_import(t, &r)?;
        }
        if end >= rows {
            t.execute(
                "UPDATE jobs SET cursor = $2 WHERE id = $1",
                &[&(job.id as i64), &(end as i64)],
            )?;
            return Ok(Advance::Finished { handled });
        }
        Ok(Advance::More {
            handled,
            cursor: end,
        })
    })
}

/// Applies row `index` of `rec` if it is still to be created: the user (with the default
/// group), the groups it names (each with the courses it gives), a set-password token when it
/// gave no password, and its outcome, in one transaction. A login name or e-mail taken since
/// the preview makes the row "exists"; anything else the rules refuse makes it "failed".
fn apply_row(store: &PgStore, rec: &ImportRecord, index: u64, now: u64) -> Result<(), StoreError> {
    let row = store.read_tx(|t| {
        Ok(t.query_opt(
            &format!(
                "SELECT {ROW_COLUMNS} FROM import_rows WHERE import_id = $1 AND row_index = $2"
            ),
            &[&(rec.id as i64), &(index as i64)],
        )?
        .map(|r| row_of(&r))
        .transpose()?)
    })?;
    let Some(row) = row else {
        return Ok(());
    };
    if row.outcome != StoredOutcome::Create {
        return Ok(());
    }
    let settle_alone = |outcome: StoredOutcome| {
        store.write_tx(|t| {
            let Some(row) = locked_row(t, rec.id, index)? else {
                return Ok(());
            };
            if row.outcome != StoredOutcome::Create {
                return Ok(());
            }
            settle(t, rec.id, index, &row, &outcome)
        })
    };
    let fields = match row.fields() {
        Ok(f) => f,
        Err(e) => return settle_alone(StoredOutcome::Failed(e.to_string())),
    };
    let hash = row
        .hash
        .clone()
        .map_or_else(PasswordHash::unset, PasswordHash::from_phc);
    let user = new_record(store.new_id()?, &fields, false, now);
    let token = row.hash.is_none().then(new_token);
    let default_event = store.new_id()?;
    let events = row
        .group_ids
        .iter()
        .map(|_| store.new_id())
        .collect::<Result<Vec<_>, _>>()?;
    let r = store.write_tx(|t| {
        let Some(row) = locked_row(t, rec.id, index)? else {
            return Ok(());
        };
        if row.outcome != StoredOutcome::Create {
            return Ok(());
        }
        tx_create_user(t, &user, &hash, false, default_event, now)?;
        let login = &user.login;
        for (group, event) in row.group_ids.iter().zip(&events) {
            if groups::get(t, *group, false)?.is_none() {
                continue; // deleted since the preview
            }
            let m = NewMember {
                group: *group,
                user: user.id,
                how: JoinedHow::Import,
                source: Source::ImportGroup(*group),
                actor: Actor { user: rec.by, now },
                event: *event,
            };
            join_new_user(t, &m, |n| {
                format!("{login} imported into the group; enrolled in {n} course(s).")
            })?;
        }
        if let Some(token) = &token {
            // The import's links all expire together, counted from the first one made.
            let expires_at: i64 = t
                .query_one(
                    "UPDATE imports SET links_expire_at_ms = coalesce(links_expire_at_ms, $2) \
                     WHERE id = $1 RETURNING links_expire_at_ms",
                    &[&(rec.id as i64), &(links_expire_at(now) as i64)],
                )?
                .get(0);
            t.execute(
                "INSERT INTO password_tokens (key_hash, user_id, expires_at_ms, epoch) \
                 VALUES ($1, $2, $3, $4)",
                &[
                    &token_key(token).as_slice(),
                    &(user.id as i64),
                    &expires_at,
                    &i64::from(user.auth_epoch),
                ],
            )?;
        }
        let outcome = StoredOutcome::Created {
            user: user.id,
            token: token.clone(),
        };
        settle(t, rec.id, index, &row, &outcome)
    });
    match r {
        Ok(()) => Ok(()),
        Err(StoreError::Invalid { field, message }) => {
            settle_alone(refused_outcome(field, message))
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::import::ImportState;
    use crate::server::store::imports::tests::{
        ada_and_bob_with_links, apply, group, rows, upload,
    };
    use crate::server::store::postgres::tests::temp_pg_store;
    use crate::server::store::Store;

    fn pg(s: &Store) -> &PgStore {
        s.as_any()
            .downcast_ref::<PgStore>()
            .expect("a PostgreSQL store")
    }

    fn record(s: &Store, id: u64) -> ImportRecord {
        pg(s).read_tx(|t| import(t, id, false)).unwrap().unwrap()
    }

    /// A step run again after a crash (its rows applied, its cursor not yet moved) changes
    /// nothing: every row is created exactly once, whatever was applied before the crash.
    #[test]
    fn resuming_from_any_row_creates_each_user_once() {
        let csv: String = std::iter::once("login,email,name,groups\n".to_string())
            .chain((0..12).map(|i| format!("u{i},u{i}@x.org,User {i},Physics\n")))
            .collect();
        for crashed_after in [0, 1, 7, 12] {
            let Some((_db, p)) = temp_pg_store() else {
                return;
            };
            let s = Store::new(p);
            let g = group(&s, "Physics", false);
            let v = upload(&s, &csv);
            let job = s.start_import(v.id, 20).unwrap();
            let rec = record(&s, v.id);
            for i in 0..crashed_after {
                apply_row(pg(&s), &rec, i, 25).unwrap();
            }
            let mid = s.get_import(v.id).unwrap().unwrap();
            assert_eq!(
                (mid.done, mid.counts.created),
                (crashed_after, crashed_after)
            );
            while s.run_job_step(job, 30).unwrap() == Step::More {}
            assert_eq!(s.user_count().unwrap(), 12, "after {crashed_after}");
            let v = s.get_import(v.id).unwrap().unwrap();
            assert_eq!(
                (v.state, v.counts.created, v.counts.create),
                (ImportState::Done, 12, 0)
            );
            assert_eq!(s.list_members(g, "", 1, 100).unwrap().1, 12);
            let users: std::collections::BTreeSet<u64> = rows(&s, v.id)
                .into_iter()
                .map(|r| match r.outcome {
                    ImportOutcome::Created { user, .. } => user,
                    o => panic!("{o:?}"),
                })
                .collect();
            assert_eq!(users.len(), 12);
        }
    }

    /// A job that fails for good leaves the import stopped, with the reason, and applying it
    /// again resumes with the rows not yet created.
    #[test]
    fn a_failed_import_says_why_and_resumes() {
        let Some((_db, p)) = temp_pg_store() else {
            return;
        };
        let s = Store::new(p);
        let v = upload(
            &s,
            "login,email,name\nada,ada@x.org,Ada\nbob,bob@x.org,Bob\n",
        );
        let job = s.start_import(v.id, 20).unwrap();
        apply_row(pg(&s), &record(&s, v.id), 0, 21).unwrap();
        s.fail_job(job, "the disk is full", 22).unwrap();
        let failed = s.get_import(v.id).unwrap().unwrap();
        assert_eq!(failed.state, ImportState::Failed);
        assert_eq!(failed.failure.as_deref(), Some("the disk is full"));
        assert_eq!((failed.counts.created, failed.counts.create), (1, 1));
        apply(&s, v.id);
        let done = s.get_import(v.id).unwrap().unwrap();
        assert_eq!((done.state, done.failure), (ImportState::Done, None));
        assert_eq!((done.counts.created, done.counts.create), (2, 0));
        assert_eq!(s.user_count().unwrap(), 2);
    }

    /// A set-password token is a bearer secret: `password_tokens` holds only its BLAKE2b hash,
    /// so reading that table gives no link that works.
    #[test]
    fn a_set_password_token_is_stored_only_as_its_hash() {
        let Some((_db, p)) = temp_pg_store() else {
            return;
        };
        let s = Store::new(p);
        let (_v, links) = ada_and_bob_with_links(&s);
        let stored: Vec<String> = pg(&s)
            .conn()
            .unwrap()
            .query("SELECT t::text FROM password_tokens t", &[])
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(stored.len(), 2);
        let keys: Vec<Vec<u8>> = pg(&s)
            .conn()
            .unwrap()
            .query("SELECT key_hash FROM password_tokens", &[])
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        for link in &links {
            assert!(stored.iter().all(|row| !row.contains(link.as_str())));
            assert!(keys.contains(&token_key(link).to_vec()));
        }
    }

    /// Text PostgreSQL cannot hold (U+0000) in an uploaded row refuses the file with a typed
    /// error, and nothing is written.
    #[test]
    fn a_row_with_nul_is_refused_whole() {
        let Some((_db, p)) = temp_pg_store() else {
            return;
        };
        let s = Store::new(p);
        let inputs =
            crate::server::csv_input::import_rows("login,email,name\nada,ada@x.org,A\0da\n")
                .unwrap();
        let rows = s.plan_import(&inputs).unwrap();
        let before = crate::server::store::tests::dump(&s);
        assert!(matches!(
            s.save_import((1, "root"), "people.csv", &rows, 10),
            Err(StoreError::Invalid { field: "file", .. })
        ));
        assert_eq!(crate::server::store::tests::dump(&s), before);
    }

    /// A file bigger than one insert's batch (and than one batch of the walk over its rows)
    /// is kept whole, in order, and walked whole.
    #[test]
    fn a_big_file_is_kept_and_walked_in_order() {
        let Some((_db, p)) = temp_pg_store() else {
            return;
        };
        let s = Store::new(p);
        let n = 2 * INSERT_BATCH + 3;
        let csv: String = std::iter::once("login,email,name\n".to_string())
            .chain((0..n).map(|i| format!("u{i},u{i}@x.org,User {i}\n")))
            .collect();
        let v = upload(&s, &csv);
        assert_eq!((v.rows, v.counts.create), (n as u64, n as u64));
        let all = rows(&s, v.id);
        assert_eq!(all.len(), n);
        assert!(all
            .iter()
            .enumerate()
            .all(|(i, r)| r.line as usize == i + 2));
        let (page, total) = s.import_rows_page(v.id, "create", 21, 50, 11).unwrap();
        assert_eq!((page[0].login.as_str(), total), ("u1000", n as u64));
    }
}
