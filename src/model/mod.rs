//! Wire types shared by the server and the browser: serde only, plus validation.

pub mod catalog;
pub mod error;
pub mod user;

pub use error::AppError;

/// Server-wide settings an administrator changes in the browser.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Settings {
    /// Whether visitors may create their own learner account.
    pub self_registration: bool,
}
