//! Importing users from a CSV file, as the browser sees it: the preview of each row, the result
//! of applying it, and the limits.

use serde::{Deserialize, Serialize};

/// Rows one import may have (the header row not counted).
pub const IMPORT_ROWS_MAX: usize = 50_000;
/// Largest file an import accepts, in bytes (50,000 long rows fit).
pub const IMPORT_FILE_MAX: usize = 16 * 1000 * 1000;
/// Rows of one file that may carry a password. Each costs a password hash (about 15 ms of one
/// core, taken from the pool logins use); larger imports hand out set-password links instead.
pub const IMPORT_PASSWORDS_MAX: usize = 2_000;
/// Days a set-password link stays valid.
pub const SET_PASSWORD_DAYS: u64 = 7;
/// Rows per page of the preview and result tables.
pub const IMPORT_PER_PAGE: u32 = 50;

/// The set-password link of `token` on the site at `base` (scheme and host).
pub fn password_link(base: &str, token: &str) -> String {
    format!("{base}/set-password?token={token}")
}

/// What happens (preview) or happened (after applying) to one row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ImportOutcome {
    /// Preview: the user will be created.
    Create,
    /// Skipped: a user with this login name or e-mail exists (`field` says which).
    Exists { field: String },
    /// Skipped: the row is not valid; `field` is the column at fault.
    Invalid { field: String, message: String },
    /// Applied: the user was created; `link` is the set-password link's token (rows without a
    /// password).
    Created { user: u64, link: Option<String> },
    /// Applied: the user could not be created (say why).
    Failed { message: String },
}

impl ImportOutcome {
    /// The filter name of this outcome (`?show=`) and the result CSV's `result` column.
    pub fn kind(&self) -> &'static str {
        match self {
            ImportOutcome::Create => "create",
            ImportOutcome::Exists { .. } => "exists",
            ImportOutcome::Invalid { .. } => "invalid",
            ImportOutcome::Created { .. } => "created",
            ImportOutcome::Failed { .. } => "failed",
        }
    }

    /// What the tables say about the row.
    pub fn describe(&self) -> String {
        match self {
            ImportOutcome::Create => "Will be created".into(),
            ImportOutcome::Exists { field } => {
                let what = if field == "email" {
                    "e-mail address"
                } else {
                    "login name"
                };
                format!("Skipped: a user with this {what} exists")
            }
            ImportOutcome::Invalid { field, message } => format!("Invalid {field}: {message}"),
            ImportOutcome::Created { .. } => "Created".into(),
            ImportOutcome::Failed { message } => format!("Failed: {message}"),
        }
    }
}

/// One row of an import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportRowView {
    /// Line of the file the row starts on (from 1, the header being line 1).
    pub line: u32,
    pub login: String,
    pub email: String,
    pub display_name: String,
    pub role: String,
    pub groups: Vec<String>,
    pub has_password: bool,
    pub outcome: ImportOutcome,
}

/// Where an import is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ImportState {
    /// Uploaded and checked; nothing written yet.
    Preview,
    /// Being applied by a background job.
    Applying,
    /// Applied.
    Done,
    /// Thrown away without applying.
    Discarded,
    /// Applying stopped on an error; applying again resumes.
    Failed,
}

impl ImportState {
    pub fn label(self) -> &'static str {
        match self {
            ImportState::Preview => "Preview: nothing created yet",
            ImportState::Applying => "Creating users…",
            ImportState::Done => "Done",
            ImportState::Discarded => "Discarded",
            ImportState::Failed => "Stopped before the end",
        }
    }
}

/// Rows by outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportCounts {
    pub create: u64,
    pub exists: u64,
    pub invalid: u64,
    pub created: u64,
    pub failed: u64,
}

/// An import without its rows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportView {
    pub id: u64,
    pub file_name: String,
    pub by_login: String,
    pub created_at: u64,
    pub state: ImportState,
    pub rows: u64,
    /// Rows the apply job has handled.
    pub done: u64,
    pub counts: ImportCounts,
    pub finished_at: Option<u64>,
    /// When the set-password links it made stop working.
    pub links_expire_at: Option<u64>,
    /// Why applying stopped (state `Failed`).
    pub failure: Option<String>,
    /// Scheme and host the set-password links start with: the configured `public_url`
    /// (filled in for the page); `None` when it is not configured, and then no link is shown.
    pub link_base: Option<String>,
}

/// Why an import shows no set-password links, and what the administrator does about it.
pub const NO_PUBLIC_URL: &str = "Set-password links cannot be shown because the server's \
     public_url is not set, and a link made from the address you happen to use could point \
     somewhere else. Set public_url to the address people use (public_url = \
     \"https://lms.example.org\" in the configuration file, or --public-url) and restart: the \
     links of this import then appear here and in the CSV, until they expire.";

impl ImportView {
    /// The set-password link of a token, when the site's address is configured.
    pub fn link(&self, token: &str) -> Option<String> {
        self.link_base
            .as_deref()
            .map(|base| password_link(base, token))
    }

    /// Percentage of the rows handled while applying.
    pub fn percent(&self) -> u64 {
        (self.done * 100).checked_div(self.rows).unwrap_or(100)
    }
}
