//! The sled backend's Imports (the interface: `crate::server::store::imports`).

pub(crate) use crate::server::store::imports::*;

#[allow(unused_imports)]
use crate::server::store::prelude::*;
use crate::server::store::sled::tables::{of, TxOf};

use super::codec::{id_key, read_id};
use super::enrolments::{pair_key, Source};
use super::groups::{tx_join_new_user, Actor, NewMember};
use super::jobs::{
    tx_put_job, tx_step_job, FailJobTx, JobKind, JobRecord, JobState, JobSteps, Step,
};
use super::tx::tree_set;
use super::users::{tx_create_user, NewUserTx, PasswordHash};
use super::{abort, SledStore, StoreError};
use crate::model::group::JoinedHow;
use crate::model::import::{ImportOutcome, ImportRowView, ImportView};
use crate::server::csv_input::ImportInput;
use sled::transaction::{ConflictableTransactionError, TransactionalTree};
use sled::Transactional;

type Tx<T> = Result<T, ConflictableTransactionError<StoreError>>;

fn tx_import(imports: &TransactionalTree, id: u64) -> Tx<ImportRecord> {
    TxOf::<of::imports>::from(imports).must(id, "import")
}

fn tx_put_import(imports: &TransactionalTree, rec: &ImportRecord) -> Tx<()> {
    TxOf::<of::imports>::from(imports).put(rec.id, rec)?;
    Ok(())
}

/// Inside a transaction: the job applying `import` failed for good (`reason`). The import
/// stops; its rows not applied keep the outcome "create", and applying it again resumes them.
pub(crate) fn tx_import_failed(
    imports: &TransactionalTree,
    import: u64,
    reason: &str,
    now: u64,
) -> Tx<()> {
    if imports.get(id_key(import))?.is_none() {
        return Ok(());
    }
    let mut rec = tx_import(imports, import)?;
    rec.state = StoredImportState::Failed;
    rec.failure = Some(reason.to_string());
    rec.finished_at = Some(now);
    tx_put_import(imports, &rec)
}

fn tx_row(rows: &TransactionalTree, import: u64, index: u64) -> Tx<ImportRowRecord> {
    TxOf::<of::import_rows>::from(rows).must((import, index), "import row")
}

/// A row's outcome changes: the row and the import's counts are written.
fn tx_settle(
    rows: &TransactionalTree,
    imports: &TransactionalTree,
    import: u64,
    index: u64,
    row: &mut ImportRowRecord,
    outcome: StoredOutcome,
) -> Tx<()> {
    let mut rec = tx_import(imports, import)?;
    // Rows are applied in file order, so this row settled means every row before it is
    // handled: progress counts rows done as they settle, not only at the end of each step.
    rec.done = rec.done.max(index + 1);
    rec.counts.add(&row.outcome, -1);
    rec.counts.add(&outcome, 1);
    row.outcome = outcome;
    TxOf::<of::import_rows>::from(rows).put((import, index), row)?;
    tx_put_import(imports, &rec)
}

tree_set! {
    /// The trees creating one imported user writes: the account (with its default group), its
    /// import row and job, and its set-password token.
    struct ImportRowTx { import_rows, imports, password_tokens; new_user: NewUserTx }
}

/// Creating an import's users ([`JobKind::ImportUsers`]).
pub(crate) struct ImportJob;

impl JobSteps for ImportJob {
    fn step(
        &self,
        store: &SledStore,
        job: &JobRecord,
        now: u64,
    ) -> Option<Result<Step, StoreError>> {
        let JobKind::ImportUsers { import } = job.kind else {
            return None;
        };
        Some(store.import_step(job, import, now))
    }

    fn failed(&self, t: &FailJobTx<'_>, job: &JobRecord, reason: &str, now: u64) -> Option<Tx<()>> {
        let JobKind::ImportUsers { import } = job.kind else {
            return None;
        };
        Some(tx_import_failed(&t.imports, import, reason, now))
    }
}

/// Planning's questions, answered from sled's index trees.
struct SledLookups<'a>(&'a SledStore);

impl ImportLookups for SledLookups<'_> {
    fn login_taken(&mut self, folded: &str) -> Result<bool, StoreError> {
        Ok(self.0.login_user.get(folded.as_bytes())?.is_some())
    }

    fn email_taken(&mut self, folded: &str) -> Result<bool, StoreError> {
        Ok(self.0.email_user.get(folded.as_bytes())?.is_some())
    }

    fn group_named(&mut self, folded: &str) -> Result<Option<u64>, StoreError> {
        match self.0.group_name.get(folded.as_bytes())? {
            Some(v) => Ok(Some(read_id("group_name", folded.as_bytes(), &v)?)),
            None => Ok(None),
        }
    }
}

impl Imports for SledStore {
    fn plan_import(&self, inputs: &[ImportInput]) -> Result<Vec<ImportRowRecord>, StoreError> {
        plan_rows(inputs, &mut SledLookups(self))
    }

    fn save_import(
        &self,
        by: (u64, &str),
        file_name: &str,
        rows: &[ImportRowRecord],
        now: u64,
    ) -> Result<ImportView, StoreError> {
        let _w = self.writing();
        let id = self.new_id()? + 1;
        let mut counts = StoredCounts::default();
        // The rows first (in batches: one batch of 50,000 rows costs hundreds of MiB): an
        // import whose record is missing is never shown.
        for (n, chunk) in rows.chunks(1_000).enumerate() {
            let mut batch = sled::Batch::default();
            for (i, row) in chunk.iter().enumerate() {
                counts.add(&row.outcome, 1);
                batch.insert(
                    &pair_key(id, (n * 1_000 + i) as u64),
                    self.import_rows.encode(row)?,
                );
            }
            self.import_rows.apply_batch(batch)?;
        }
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
        self.imports.put(id, &rec)?;
        Ok(rec.view())
    }

    fn get_import(&self, id: u64) -> Result<Option<ImportView>, StoreError> {
        Ok(self.imports.row(id)?.map(|r| r.view()))
    }

    fn recent_imports(&self, limit: usize) -> Result<Vec<ImportView>, StoreError> {
        self.imports
            .iter()
            .rev()
            .take(limit)
            .map(|item| self.imports.decode_row(item).map(|(_, r)| r.view()))
            .collect()
    }

    fn import_rows_page(
        &self,
        id: u64,
        show: &str,
        page: u32,
        per_page: u32,
        now: u64,
    ) -> Result<(Vec<ImportRowView>, u64), StoreError> {
        let rec = self.get_import(id)?.ok_or(StoreError::NotFound("import"))?;
        let c = rec.counts;
        let total = match show {
            "create" => c.create,
            "exists" => c.exists,
            "invalid" => c.invalid,
            "created" => c.created,
            "failed" => c.failed,
            _ => rec.rows,
        };
        let skip = u64::from(page.max(1) - 1) * u64::from(per_page);
        let all = !matches!(show, "create" | "exists" | "invalid" | "created" | "failed");
        let start = if all { skip } else { 0 };
        let mut rows = Vec::new();
        let mut matched = 0u64;
        for item in self
            .import_rows
            .range(pair_key(id, start)..=pair_key(id, u64::MAX))
        {
            let (_, row) = self.import_rows.decode_row(item)?;
            let view = row.view();
            if !all && view.outcome.kind() != show {
                continue;
            }
            matched += 1;
            if !all && matched <= skip {
                continue;
            }
            rows.push(self.live_links(view, now)?);
            if rows.len() as u32 >= per_page {
                break;
            }
        }
        Ok((rows, total))
    }

    fn import_rows_all(
        &self,
        id: u64,
        now: u64,
        each: &mut dyn FnMut(ImportRowView) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        for item in self
            .import_rows
            .range(pair_key(id, 0)..=pair_key(id, u64::MAX))
        {
            let (_, row) = self.import_rows.decode_row(item)?;
            each(self.live_links(row.view(), now)?)?;
        }
        Ok(())
    }

    fn start_import(&self, id: u64, now: u64) -> Result<u64, StoreError> {
        let _w = self.writing();
        let job = self.new_id()? + 1;
        (&*self.imports, &*self.jobs).transaction(|(imports, jobs)| {
            let mut rec = tx_import(imports, id)?;
            check_startable(rec.state).or_else(abort)?;
            rec.state = StoredImportState::Applying;
            rec.failure = None;
            rec.finished_at = None;
            tx_put_import(imports, &rec)?;
            let j = JobRecord::new(
                job,
                JobKind::ImportUsers { import: id },
                rec.rows,
                rec.by,
                now,
            );
            tx_put_job(jobs, &j)
        })?;
        Ok(job)
    }

    fn discard_import(&self, id: u64) -> Result<(), StoreError> {
        let _w = self.writing();
        self.imports.transaction(|imports| {
            let mut rec = tx_import(imports, id)?;
            check_discardable(rec.state).or_else(abort)?;
            rec.state = StoredImportState::Discarded;
            tx_put_import(imports, &rec)
        })?;
        let mut batch = sled::Batch::default();
        for key in self
            .import_rows
            .range(pair_key(id, 0)..=pair_key(id, u64::MAX))
            .keys()
        {
            batch.remove(key?);
        }
        self.import_rows.apply_batch(batch)?;
        Ok(())
    }

    fn password_token_user(&self, token: &str, now: u64) -> Result<u64, StoreError> {
        let key = token_key(token.trim());
        let t = self.password_tokens.row(&key)?;
        let user = match &t {
            Some(t) => self.get_user(t.user)?,
            None => None,
        };
        check_token(t.as_ref(), user.as_ref(), now)
    }

    fn use_password_token(
        &self,
        token: &str,
        hash: &PasswordHash,
        now: u64,
    ) -> Result<u64, StoreError> {
        let _w = self.writing();
        let key = token_key(token.trim());
        let user = (&*self.password_tokens, &*self.users, &self.user_secrets).transaction(
            |(tokens, users, secrets)| {
                let (tokens, users) = (
                    TxOf::<of::password_tokens>::from(tokens),
                    TxOf::<of::users>::from(users),
                );
                let t = tokens.row(&key)?;
                let user = match &t {
                    Some(t) => users.row(t.user)?,
                    None => None,
                };
                let id = check_token(t.as_ref(), user.as_ref(), now).or_else(abort)?;
                tokens.remove(&key)?;
                super::users::tx_set_password(users, secrets, id, hash)?;
                Ok(id)
            },
        )?;
        Ok(user)
    }
}

impl SledStore {
    /// `row` with its set-password link only while the link works (used, expired or ended
    /// links are not shown again).
    pub(crate) fn live_links(
        &self,
        mut row: ImportRowView,
        now: u64,
    ) -> Result<ImportRowView, StoreError> {
        if let ImportOutcome::Created {
            link: link @ Some(_),
            ..
        } = &mut row.outcome
        {
            if !self.link_works(link.as_deref().unwrap_or(""), now)? {
                *link = None;
            }
        }
        Ok(row)
    }

    /// One step of applying an import: up to [`IMPORT_STEP`] rows from the job's cursor, each
    /// in its own transaction; the last step marks the import done.
    pub(crate) fn import_step(
        &self,
        job: &JobRecord,
        import: u64,
        now: u64,
    ) -> Result<Step, StoreError> {
        let _w = self.writing();
        let Some(rec) = self.imports.row(import)? else {
            return self.finish_import_job(job, import, 0, now);
        };
        let end = (job.cursor + IMPORT_STEP as u64).min(rec.rows);
        for index in job.cursor..end {
            self.apply_row(&rec, index, now)?;
        }
        if end >= rec.rows {
            return self.finish_import_job(job, import, end, now);
        }
        (&*self.jobs, &*self.imports).transaction(|(jobs, imports)| {
            let Some(mut j) = tx_step_job(jobs, job)? else {
                return Ok(());
            };
            j.cursor = end;
            j.done = end;
            tx_put_job(jobs, &j)?;
            let mut r = tx_import(imports, import)?;
            r.done = end;
            tx_put_import(imports, &r)
        })?;
        Ok(Step::More)
    }

    pub(crate) fn finish_import_job(
        &self,
        job: &JobRecord,
        import: u64,
        done: u64,
        now: u64,
    ) -> Result<Step, StoreError> {
        let _w = self.writing();
        (&*self.jobs, &*self.imports).transaction(|(jobs, imports)| {
            let Some(mut j) = tx_step_job(jobs, job)? else {
                return Ok(());
            };
            j.cursor = done;
            j.done = done;
            j.state = JobState::Done;
            j.finished_at = Some(now);
            tx_put_job(jobs, &j)?;
            if imports.get(id_key(import))?.is_some() {
                let mut r = tx_import(imports, import)?;
                r.done = done;
                r.state = StoredImportState::Done;
                r.finished_at = Some(now);
                tx_put_import(imports, &r)?;
            }
            Ok(())
        })?;
        Ok(Step::Finished)
    }

    /// Applies row `index` of `rec` if it is still to be created: the user, the default group,
    /// the groups it names (each with the courses it gives), a set-password token when it gave
    /// no password, and its outcome, in one transaction. A login name or e-mail taken since the
    /// preview makes the row "exists"; anything else the rules refuse makes it "failed".
    pub(crate) fn apply_row(
        &self,
        rec: &ImportRecord,
        index: u64,
        now: u64,
    ) -> Result<(), StoreError> {
        let _w = self.writing();
        let Some(row) = self.import_rows.row((rec.id, index))? else {
            return Ok(());
        };
        if row.outcome != StoredOutcome::Create {
            return Ok(());
        }
        let settle = |outcome: StoredOutcome| {
            (&*self.import_rows, &*self.imports).transaction(|(rows, imports)| {
                let mut row = tx_row(rows, rec.id, index)?;
                if row.outcome != StoredOutcome::Create {
                    return Ok(());
                }
                tx_settle(rows, imports, rec.id, index, &mut row, outcome.clone())
            })
        };
        let fields = match row.fields() {
            Ok(f) => f,
            Err(e) => {
                settle(StoredOutcome::Failed(e.to_string()))?;
                return Ok(());
            }
        };
        let hash = row
            .hash
            .clone()
            .map_or_else(PasswordHash::unset, PasswordHash::from_phc);
        let new = self.new_user(&fields, &hash, false, now)?;
        let token = row.hash.is_none().then(new_token);
        let default_event = self.new_id()?;
        let events = row
            .group_ids
            .iter()
            .map(|_| self.new_id())
            .collect::<Result<Vec<_>, _>>()?;
        let r = ImportRowTx::run(self, |t| {
            let ImportRowTx {
                import_rows: rows,
                imports,
                password_tokens: tokens,
                ..
            } = *t;
            let mut row = tx_row(&rows, rec.id, index)?;
            if row.outcome != StoredOutcome::Create {
                return Ok(());
            }
            let joins = tx_create_user(&t.new_user, &new, false, default_event, now)?;
            let login = &new.record.login;
            for (group, event) in row.group_ids.iter().zip(&events) {
                if joins.groups.get(id_key(*group))?.is_none() {
                    continue; // deleted since the preview
                }
                let m = NewMember {
                    group: *group,
                    user: new.record.id,
                    how: JoinedHow::Import,
                    source: Source::ImportGroup(*group),
                    actor: Actor { user: rec.by, now },
                    event: *event,
                };
                tx_join_new_user(&joins, &m, |n| {
                    format!("{login} imported into the group; enrolled in {n} course(s).")
                })?;
            }
            if let Some(token) = &token {
                // The import's links all expire together, counted from the first one made;
                // an import whose rows all had passwords never says it made links.
                let mut r = tx_import(&imports, rec.id)?;
                let expires_at = *r.links_expire_at.get_or_insert(links_expire_at(now));
                tx_put_import(&imports, &r)?;
                let tr = TokenRecord {
                    user: new.record.id,
                    expires_at,
                    epoch: new.record.auth_epoch,
                };
                TxOf::<of::password_tokens>::from(tokens).put(&token_key(token), &tr)?;
            }
            let outcome = StoredOutcome::Created {
                user: new.record.id,
                token: token.clone(),
            };
            tx_settle(&rows, &imports, rec.id, index, &mut row, outcome)
        });
        match r {
            Ok(()) => Ok(()),
            Err(StoreError::Invalid { field, message }) => {
                settle(refused_outcome(field, message))?;
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Whether a set-password link would work now (the pages show only those).
    pub(crate) fn link_works(&self, token: &str, now: u64) -> Result<bool, StoreError> {
        match self.password_token_user(token, now) {
            Ok(_) => Ok(true),
            Err(StoreError::Invalid { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests;
