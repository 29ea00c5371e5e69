//! User imports: a CSV file checked row by row (the preview), then applied by a background job
//! that creates each user in one transaction of its own, and the set-password links handed out
//! for users imported without a password.
//!
//! Trees:
//! - `imports`: import id → [`ImportRecord`] (who, when, state, counts by outcome).
//! - `import_rows`: import id ++ row index → [`ImportRowRecord`] (the row as written, its outcome,
//!   and the password hash of a row that gave one; never the password itself).
//! - `password_tokens`: BLAKE2b-256 of a set-password token → [`TokenRecord`]. The token itself is
//!   kept only in the import's row, for the administrator to hand out.
//!
//! Applying is exactly-once per row: a row's user, group joins, enrolments, token, outcome and
//! the import's counts are written in one transaction, and a row whose outcome is no longer
//! "create" is passed over, so a job step run again after a crash changes nothing it did before.

use crate::server::store::StoreError;

use super::codec::Record;

use super::codec::fold;
use super::users::{PasswordHash, UserFields};
use crate::model::import::{ImportCounts, ImportOutcome, ImportRowView, ImportState, ImportView};
use crate::model::user::{
    parse_role, validate_display_name, validate_email, validate_login, validate_new_password,
};
use crate::model::AppError;
use crate::server::csv_input::ImportInput;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Rows an apply step handles at most (each is its own transaction).
pub const IMPORT_STEP: usize = 200;

/// Where an import is. Only ever append variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StoredImportState {
    Preview,
    Applying,
    Done,
    Discarded,
    /// The job applying it failed; applying again resumes with the rows not yet settled.
    Failed,
}

/// What happens or happened to a row. Only ever append variants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum StoredOutcome {
    Create,
    ExistsLogin,
    ExistsEmail,
    Invalid { field: String, message: String },
    Created { user: u64, token: Option<String> },
    Failed(String),
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredCounts {
    pub create: u64,
    pub exists: u64,
    pub invalid: u64,
    pub created: u64,
    pub failed: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportRecord {
    pub id: u64,
    pub by: u64,
    pub by_login: String,
    pub file_name: String,
    pub created_at: u64,
    pub state: StoredImportState,
    pub rows: u64,
    pub done: u64,
    pub counts: StoredCounts,
    pub finished_at: Option<u64>,
    /// Set when it is first applied: every set-password link it makes ends then.
    pub links_expire_at: Option<u64>,
    /// Why the job applying it failed.
    pub failure: Option<String>,
}

impl Record for ImportRecord {
    const TREE: &'static str = "imports";
    const VERSION: u8 = 1;
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportRowRecord {
    pub line: u32,
    pub login: String,
    pub email: String,
    pub display_name: String,
    pub role: String,
    pub groups: Vec<String>,
    /// The groups named, found at the preview.
    pub group_ids: Vec<u64>,
    /// The PHC hash of the password the row gave.
    pub hash: Option<String>,
    pub outcome: StoredOutcome,
}

impl Record for ImportRowRecord {
    const TREE: &'static str = "import_rows";
    const VERSION: u8 = 1;
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    pub user: u64,
    pub expires_at: u64,
    /// The user's auth epoch when it was made: a password set another way, or a deactivation,
    /// ends the link.
    pub epoch: u32,
}

impl Record for TokenRecord {
    const TREE: &'static str = "password_tokens";
    const VERSION: u8 = 1;
}

impl StoredCounts {
    pub(crate) fn add(&mut self, o: &StoredOutcome, n: i64) {
        let slot = match o {
            StoredOutcome::Create => &mut self.create,
            StoredOutcome::ExistsLogin | StoredOutcome::ExistsEmail => &mut self.exists,
            StoredOutcome::Invalid { .. } => &mut self.invalid,
            StoredOutcome::Created { .. } => &mut self.created,
            StoredOutcome::Failed(_) => &mut self.failed,
        };
        *slot = slot.saturating_add_signed(n);
    }
}

impl From<&StoredOutcome> for ImportOutcome {
    fn from(o: &StoredOutcome) -> Self {
        match o {
            StoredOutcome::Create => ImportOutcome::Create,
            StoredOutcome::ExistsLogin => ImportOutcome::Exists {
                field: "login".into(),
            },
            StoredOutcome::ExistsEmail => ImportOutcome::Exists {
                field: "email".into(),
            },
            StoredOutcome::Invalid { field, message } => ImportOutcome::Invalid {
                field: field.clone(),
                message: message.clone(),
            },
            StoredOutcome::Created { user, token } => ImportOutcome::Created {
                user: *user,
                link: token.clone(),
            },
            StoredOutcome::Failed(m) => ImportOutcome::Failed { message: m.clone() },
        }
    }
}

impl ImportRecord {
    pub fn view(&self) -> ImportView {
        let c = self.counts;
        ImportView {
            id: self.id,
            file_name: self.file_name.clone(),
            by_login: self.by_login.clone(),
            created_at: self.created_at,
            state: match self.state {
                StoredImportState::Preview => ImportState::Preview,
                StoredImportState::Applying => ImportState::Applying,
                StoredImportState::Done => ImportState::Done,
                StoredImportState::Discarded => ImportState::Discarded,
                StoredImportState::Failed => ImportState::Failed,
            },
            rows: self.rows,
            done: self.done,
            counts: ImportCounts {
                create: c.create,
                exists: c.exists,
                invalid: c.invalid,
                created: c.created,
                failed: c.failed,
            },
            finished_at: self.finished_at,
            links_expire_at: self.links_expire_at,
            failure: self.failure.clone(),
            link_base: None,
        }
    }
}

impl ImportRowRecord {
    pub fn view(&self) -> ImportRowView {
        ImportRowView {
            line: self.line,
            login: self.login.clone(),
            email: self.email.clone(),
            display_name: self.display_name.clone(),
            role: self.role.clone(),
            groups: self.groups.clone(),
            has_password: self.hash.is_some(),
            outcome: (&self.outcome).into(),
        }
    }

    /// The validated fields of a row planned for creation.
    pub(crate) fn fields(&self) -> Result<UserFields, AppError> {
        Ok(UserFields {
            login: validate_login(&self.login)?,
            email: validate_email(&self.email)?,
            display_name: validate_display_name(&self.display_name)?,
            role: row_role(&self.role)?,
        })
    }
}

/// The role a cell names: empty is a learner.
pub(crate) fn row_role(raw: &str) -> Result<crate::model::user::Role, AppError> {
    let raw = raw.trim().to_lowercase();
    match raw.as_str() {
        "" => Ok(crate::model::user::Role::Learner),
        "administrator" => Ok(crate::model::user::Role::Admin),
        other => parse_role(other).map_err(|_| {
            AppError::invalid("role", "Use \"learner\" or \"admin\" (or leave it empty).")
        }),
    }
}

pub(crate) fn invalid(e: AppError) -> StoredOutcome {
    match e {
        AppError::Invalid { field, message } => StoredOutcome::Invalid { field, message },
        other => StoredOutcome::Invalid {
            field: "row".into(),
            message: other.to_string(),
        },
    }
}

/// What planning an import asks of the store (each backend answers from its own indexes).
pub(crate) trait ImportLookups {
    /// Whether a user has this login name (folded with `codec::fold`).
    fn login_taken(&mut self, folded: &str) -> Result<bool, StoreError>;
    /// Whether a user has this e-mail address (folded).
    fn email_taken(&mut self, folded: &str) -> Result<bool, StoreError>;
    /// The live group with this name (folded), if any.
    fn group_named(&mut self, folded: &str) -> Result<Option<u64>, StoreError>;
}

/// [`Imports::plan_import`] on any backend: each row checked in file order against the rules,
/// the store (through `look`) and the rows before it.
pub(crate) fn plan_rows(
    inputs: &[ImportInput],
    look: &mut impl ImportLookups,
) -> Result<Vec<ImportRowRecord>, StoreError> {
    let mut seen_logins: HashMap<String, u32> = HashMap::new();
    let mut seen_emails: HashMap<String, u32> = HashMap::new();
    let mut group_ids: HashMap<String, Option<u64>> = HashMap::new();
    let mut out = Vec::with_capacity(inputs.len());
    for input in inputs {
        let mut row = ImportRowRecord {
            line: input.line,
            login: input.login.clone(),
            email: input.email.clone(),
            display_name: input.display_name.clone(),
            role: input.role.clone(),
            groups: input.groups.clone(),
            group_ids: Vec::new(),
            hash: None,
            outcome: StoredOutcome::Create,
        };
        row.outcome = plan_row(
            input,
            look,
            &mut row.group_ids,
            &mut seen_logins,
            &mut seen_emails,
            &mut group_ids,
        )?;
        out.push(row);
    }
    Ok(out)
}

/// One row's outcome at the preview (see [`plan_rows`]); the groups it names go to `ids`.
fn plan_row(
    input: &ImportInput,
    look: &mut impl ImportLookups,
    ids: &mut Vec<u64>,
    seen_logins: &mut HashMap<String, u32>,
    seen_emails: &mut HashMap<String, u32>,
    groups: &mut HashMap<String, Option<u64>>,
) -> Result<StoredOutcome, StoreError> {
    if let Some((field, message)) = &input.problem {
        return Ok(StoredOutcome::Invalid {
            field: field.clone(),
            message: message.clone(),
        });
    }
    let checked = (|| {
        let login = validate_login(&input.login)?;
        let email = validate_email(&input.email)?;
        validate_display_name(&input.display_name)?;
        row_role(&input.role)?;
        if !input.password.is_empty() {
            validate_new_password(&input.password, &input.password, "password")?;
        }
        Ok::<_, AppError>((fold(&login), fold(&email)))
    })();
    let (login, email) = match checked {
        Ok(v) => v,
        Err(e) => return Ok(invalid(e)),
    };
    if look.login_taken(&login)? {
        return Ok(StoredOutcome::ExistsLogin);
    }
    if look.email_taken(&email)? {
        return Ok(StoredOutcome::ExistsEmail);
    }
    if let Some(line) = seen_logins.get(&login) {
        return Ok(StoredOutcome::Invalid {
            field: "login".into(),
            message: format!("This login name is also on line {line} of the file."),
        });
    }
    if let Some(line) = seen_emails.get(&email) {
        return Ok(StoredOutcome::Invalid {
            field: "email".into(),
            message: format!("This e-mail address is also on line {line} of the file."),
        });
    }
    for name in &input.groups {
        let key = fold(name);
        let id = match groups.get(&key) {
            Some(id) => *id,
            None => {
                let id = look.group_named(&key)?;
                groups.insert(key, id);
                id
            }
        };
        match id {
            Some(id) if !ids.contains(&id) => ids.push(id),
            Some(_) => {}
            None => {
                return Ok(StoredOutcome::Invalid {
                    field: "groups".into(),
                    message: format!("There is no group named \"{name}\"."),
                })
            }
        }
    }
    seen_logins.insert(login, input.line);
    seen_emails.insert(email, input.line);
    Ok(StoredOutcome::Create)
}

/// Whether token record `t` (of `user`) works at `now`; its user's id when it does.
pub(crate) fn check_token(
    t: Option<&TokenRecord>,
    user: Option<&super::users::UserRecord>,
    now: u64,
) -> Result<u64, StoreError> {
    let (Some(t), Some(user)) = (t, user) else {
        return Err(StoreError::invalid(
            "token",
            "This link is not valid, or it was used already. Ask an administrator for a new one.",
        ));
    };
    if t.expires_at <= now {
        return Err(StoreError::invalid(
            "token",
            "This link has expired. Ask an administrator for a new one.",
        ));
    }
    if !user.active || user.auth_epoch != t.epoch {
        return Err(StoreError::invalid(
            "token",
            "This link no longer works: the account's password was set another way, or the account was deactivated.",
        ));
    }
    Ok(t.user)
}

/// Refuses applying an import in `state` (one applied or discarded already), saying why.
pub(crate) fn check_startable(state: StoredImportState) -> Result<(), StoreError> {
    match state {
        StoredImportState::Preview | StoredImportState::Failed => Ok(()),
        StoredImportState::Applying | StoredImportState::Done => Err(StoreError::invalid(
            "import",
            "This import has been applied already.",
        )),
        StoredImportState::Discarded => Err(StoreError::invalid(
            "import",
            "This import was discarded. Upload the file again.",
        )),
    }
}

/// Refuses discarding an import in `state` (only one not yet applied can be).
pub(crate) fn check_discardable(state: StoredImportState) -> Result<(), StoreError> {
    if state != StoredImportState::Preview {
        return Err(StoreError::invalid(
            "import",
            "Only an import not yet applied can be discarded.",
        ));
    }
    Ok(())
}

/// When the set-password links an import makes from `now` on expire (they all end together,
/// counted from the first one made).
pub(crate) fn links_expire_at(now: u64) -> u64 {
    now + crate::model::import::SET_PASSWORD_DAYS * 24 * 3600 * 1000
}

/// A new set-password token: 128 random bits as 32 hex digits.
pub(crate) fn new_token() -> String {
    let bytes: [u8; 16] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The key a set-password token is stored under (its hash, see [`codec::secret_key`]).
pub(crate) fn token_key(token: &str) -> [u8; 32] {
    super::codec::secret_key(token.as_bytes())
}

/// How the outcome of a row whose user could not be created reads: a login name or e-mail
/// taken since the preview makes it "exists"; anything else the rules refuse, "failed".
pub(crate) fn refused_outcome(field: &str, message: String) -> StoredOutcome {
    match field {
        "login" => StoredOutcome::ExistsLogin,
        "email" => StoredOutcome::ExistsEmail,
        _ => StoredOutcome::Failed(message),
    }
}

#[cfg(test)]
#[path = "imports_tests.rs"]
pub(crate) mod tests;

/// The store's operations on this area (see the contract in `store/mod.rs`).
pub trait Imports: Send + Sync {
    /// Checks each row of an import against the rules and the store, in file order: fields
    /// valid, login name and e-mail unused (by existing users and by earlier rows of the
    /// file), the groups named exist. Returns the rows to keep, without password hashes; the
    /// caller hashes the passwords of rows to create (see [`Store::save_import`]).
    fn plan_import(&self, inputs: &[ImportInput]) -> Result<Vec<ImportRowRecord>, StoreError>;

    /// Keeps a checked import for its preview (nothing else is written). `by` is the
    /// administrator who uploaded it.
    fn save_import(
        &self,
        by: (u64, &str),
        file_name: &str,
        rows: &[ImportRowRecord],
        now: u64,
    ) -> Result<ImportView, StoreError>;

    fn get_import(&self, id: u64) -> Result<Option<ImportView>, StoreError>;

    /// The newest `limit` imports, newest first.
    fn recent_imports(&self, limit: usize) -> Result<Vec<ImportView>, StoreError>;

    /// A page (from 1) of an import's rows, all of them or those whose outcome kind is `show`
    /// (see [`ImportOutcome::kind`]), with how many match.
    fn import_rows_page(
        &self,
        id: u64,
        show: &str,
        page: u32,
        per_page: u32,
        now: u64,
    ) -> Result<(Vec<ImportRowView>, u64), StoreError>;

    /// Every row of an import in file order (the result file).
    fn import_rows_all(
        &self,
        id: u64,
        now: u64,
        each: &mut dyn FnMut(ImportRowView) -> Result<(), StoreError>,
    ) -> Result<(), StoreError>;

    /// Starts applying an import in preview: a job creates its users. Returns the job id.
    /// An import applied or discarded already is refused with a message that says so.
    fn start_import(&self, id: u64, now: u64) -> Result<u64, StoreError>;

    /// Throws away an import in preview, with its rows (and the password hashes they hold).
    fn discard_import(&self, id: u64) -> Result<(), StoreError>;

    /// The user a set-password token is for, if it is valid now: `Invalid` on `token` when it
    /// is unknown or used, expired, or ended by a password set another way or a deactivation
    /// (each says so).
    fn password_token_user(&self, token: &str, now: u64) -> Result<u64, StoreError>;

    /// Sets the password of a set-password token's user and uses the token up, in one
    /// transaction (so two uses of one link cannot both succeed). Returns the user id.
    fn use_password_token(
        &self,
        token: &str,
        hash: &PasswordHash,
        now: u64,
    ) -> Result<u64, StoreError>;
}
