//! The one error type every server function returns.
//!
//! Expected outcomes are typed variants so the browser can react to them (a field error is shown
//! next to its field); internal failures travel as an opaque message with a log id.

use http::StatusCode;
use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum AppError {
    #[error("Please log in to continue.")]
    Unauthenticated,
    #[error("You do not have permission to do this.")]
    Forbidden,
    #[error("{what} was not found.")]
    NotFound { what: String },
    /// A form field is wrong; `field` is the form field's name.
    #[error("{message}")]
    Invalid { field: String, message: String },
    /// A well-formed value the server refuses as things stand (a group key that is used up,
    /// expired, …): shown next to `field` like `Invalid`, answered with its own HTTP `status`
    /// so a client can tell the reasons apart.
    #[error("{message}")]
    Refused {
        field: String,
        message: String,
        status: u16,
    },
    #[error("The login name or e-mail, or the password, is not correct.")]
    InvalidCredentials,
    #[error("Too many attempts. Please wait {retry_after_secs} seconds and try again.")]
    TooManyAttempts { retry_after_secs: u64 },
    /// The request body is over the server's limit; nothing was done.
    #[error("What you sent is larger than {limit_mib} MiB, the most this server accepts.")]
    TooLarge { limit_mib: u64 },
    /// The server is at its limit for this kind of work (password checks); nothing was done.
    #[error("The server is busy. Please try again in {retry_after_secs} seconds.")]
    Busy { retry_after_secs: u64 },
    #[error("Tessera is already set up. Please log in.")]
    AlreadySetUp,
    #[error("Self-registration is turned off. Ask an administrator for an account.")]
    RegistrationClosed,
    /// The server cannot write to its data directory (`reason`: its disk is full, it is
    /// read-only, ...); nothing was saved, and pages can still be read.
    #[error("Nothing was saved: {reason}. Pages can still be read; please try again later.")]
    CannotSave {
        reason: String,
        retry_after_secs: u64,
    },
    /// Something failed on the server; details are in the server log under `log_id`.
    #[error("Something went wrong on the server (log id {log_id}). Please try again.")]
    Internal { log_id: String },
    /// The request itself could not be made or understood (network, bad arguments).
    #[error("The request failed: {0}")]
    Request(String),
}

impl AppError {
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        AppError::Invalid {
            field: field.to_string(),
            message: message.into(),
        }
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        AppError::NotFound { what: what.into() }
    }

    /// The message for `field`, when this error is about that field.
    pub fn field_message(&self, name: &str) -> Option<String> {
        match self {
            AppError::Invalid { field, message } | AppError::Refused { field, message, .. }
                if field == name =>
            {
                Some(message.clone())
            }
            _ => None,
        }
    }

    /// True for errors that belong next to a form field rather than above the form.
    pub fn is_field_error(&self) -> bool {
        matches!(self, AppError::Invalid { .. } | AppError::Refused { .. })
    }

    /// The field a field error is about.
    pub fn field(&self) -> Option<&str> {
        match self {
            AppError::Invalid { field, .. } | AppError::Refused { field, .. } => Some(field),
            _ => None,
        }
    }

    pub fn status_code(&self) -> StatusCode {
        match self {
            AppError::Unauthenticated | AppError::InvalidCredentials => StatusCode::UNAUTHORIZED,
            AppError::Forbidden | AppError::RegistrationClosed | AppError::AlreadySetUp => {
                StatusCode::FORBIDDEN
            }
            AppError::NotFound { .. } => StatusCode::NOT_FOUND,
            AppError::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::Refused { status, .. } => {
                StatusCode::from_u16(*status).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY)
            }
            AppError::TooManyAttempts { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Busy { .. } | AppError::CannotSave { .. } => StatusCode::SERVICE_UNAVAILABLE,
            AppError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::Internal { .. } => StatusCode::INTERNAL_SERVER_ERROR,
            AppError::Request(_) => StatusCode::BAD_REQUEST,
        }
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            ServerFnErrorErr::ServerError(_) => AppError::Internal { log_id: "-".into() },
            other => AppError::Request(other.to_string()),
        }
    }
}
