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
    /// The server did not answer within its request timeout (`secs`). Unlike `Busy`, what was
    /// asked may still have been done (a write already under way finishes), so the words say
    /// to look before trying again.
    #[error(
        "The server did not answer within {secs} seconds. What you asked may still have been \
         done: please look before trying again."
    )]
    TimedOut { secs: u64 },
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
    /// Several fields are wrong at once: every one of them, in the form's order, so a form
    /// shows them all together rather than one per try. Made by [`AppError::all`] and
    /// [`Every::every`]; never nested, never holding fewer than two.
    #[error("{} problems: {}", .0.len(), join_messages(.0))]
    Several(Vec<AppError>),
}

fn join_messages(errors: &[AppError]) -> String {
    errors
        .iter()
        .map(|e| e.to_string().trim_end_matches('.').to_string())
        .collect::<Vec<_>>()
        .join("; ")
        + "."
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

    /// One error for all of `errors`: none is `None`, one is itself, more are
    /// [`AppError::Several`] (flattened, so a list never holds a list).
    pub fn all(errors: Vec<AppError>) -> Option<AppError> {
        let mut flat: Vec<AppError> = Vec::with_capacity(errors.len());
        for e in errors {
            match e {
                AppError::Several(inner) => flat.extend(inner),
                other => flat.push(other),
            }
        }
        match flat.len() {
            0 => None,
            1 => flat.pop(),
            _ => Some(AppError::Several(flat)),
        }
    }

    /// The single errors this one is made of: itself, or each of a [`AppError::Several`].
    pub fn each(&self) -> &[AppError] {
        match self {
            AppError::Several(list) => list,
            other => std::slice::from_ref(other),
        }
    }

    /// The message for `field`, when this error is (or holds) one about that field.
    pub fn field_message(&self, name: &str) -> Option<String> {
        self.each().iter().find_map(|e| match e {
            AppError::Invalid { field, message } | AppError::Refused { field, message, .. }
                if field == name =>
            {
                Some(message.clone())
            }
            _ => None,
        })
    }

    /// True for errors that belong next to form fields rather than above the form.
    pub fn is_field_error(&self) -> bool {
        self.each()
            .iter()
            .all(|e| matches!(e, AppError::Invalid { .. } | AppError::Refused { .. }))
    }

    /// The field a field error is about (the first one's, for several).
    pub fn field(&self) -> Option<&str> {
        match self.each().first() {
            Some(AppError::Invalid { field, .. } | AppError::Refused { field, .. }) => Some(field),
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
            AppError::Busy { .. } | AppError::CannotSave { .. } | AppError::TimedOut { .. } => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            AppError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::Internal { .. } => StatusCode::INTERNAL_SERVER_ERROR,
            AppError::Request(_) => StatusCode::BAD_REQUEST,
            AppError::Several(list) => list
                .first()
                .map_or(StatusCode::UNPROCESSABLE_ENTITY, AppError::status_code),
        }
    }
}

/// Every check of a form at once: a tuple of results becomes the tuple of their values, or one
/// error holding every failure (in the tuple's order). Each check has already run when the
/// tuple is made, so a form shows all its problems together:
/// `let (name, email) = (check_name(n), check_email(e)).every()?;`
pub trait Every {
    /// The values, when every check passed.
    type Output;
    /// The values, or every error.
    fn every(self) -> Result<Self::Output, AppError>;
}

macro_rules! every_for_tuple {
    ($($t:ident $v:ident),+) => {
        impl<$($t),+> Every for ($(Result<$t, AppError>,)+) {
            type Output = ($($t,)+);
            fn every(self) -> Result<Self::Output, AppError> {
                let ($($v,)+) = self;
                let mut errors = Vec::new();
                $(let $v = $v.map_err(|e| errors.push(e)).ok();)+
                match ($($v,)+) {
                    ($(Some($v),)+) => Ok(($($v,)+)),
                    _ => Err(AppError::all(errors).unwrap_or(AppError::Internal { log_id: "-".into() })),
                }
            }
        }
    };
}

every_for_tuple!(A a, B b);
every_for_tuple!(A a, B b, C c);
every_for_tuple!(A a, B b, C c, D d);
every_for_tuple!(A a, B b, C c, D d, E e);
every_for_tuple!(A a, B b, C c, D d, E e, F f);
every_for_tuple!(A a, B b, C c, D d, E e, F f, G g);

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            ServerFnErrorErr::ServerError(_) => AppError::Internal { log_id: "-".into() },
            other => AppError::Request(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bad(field: &str) -> Result<u32, AppError> {
        Err(AppError::invalid(field, format!("Fix {field}.")))
    }

    #[test]
    fn every_check_runs_and_every_failure_is_kept_in_order() {
        let err = (bad("name"), Ok::<_, AppError>("x"), bad("max_uses"))
            .every()
            .unwrap_err();
        assert_eq!(err.each().len(), 2);
        assert_eq!(err.field_message("name").as_deref(), Some("Fix name."));
        assert_eq!(
            err.field_message("max_uses").as_deref(),
            Some("Fix max_uses.")
        );
        assert_eq!(err.field(), Some("name"));
        assert!(err.is_field_error());
        assert_eq!(err.status_code(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(err.to_string(), "2 problems: Fix name; Fix max_uses.");
        let ok = (Ok::<_, AppError>(1), Ok::<_, AppError>("a"))
            .every()
            .unwrap();
        assert_eq!(ok, (1, "a"));
    }

    #[test]
    fn one_failure_stays_itself_and_lists_never_nest() {
        let one = (bad("name"), Ok::<_, AppError>(2)).every().unwrap_err();
        assert_eq!(one, AppError::invalid("name", "Fix name."));
        let inner = (bad("a"), bad("b")).every().unwrap_err();
        let outer = (Err::<u8, _>(inner), bad("c")).every().unwrap_err();
        assert_eq!(outer.each().len(), 3);
        assert!(outer
            .each()
            .iter()
            .all(|e| !matches!(e, AppError::Several(_))));
        assert_eq!(AppError::all(vec![]), None);
        // A list with a non-field error is not a field error as a whole.
        let mixed = AppError::all(vec![AppError::Forbidden, AppError::invalid("a", "x")]).unwrap();
        assert!(!mixed.is_field_error());
        // It travels as JSON and back (server functions send it so).
        let json = serde_json::to_string(&outer).unwrap();
        assert_eq!(serde_json::from_str::<AppError>(&json).unwrap(), outer);
    }
}
