//! Wire types shared by the server and the browser: serde only, plus validation.

pub mod activity;
pub mod backup;
pub mod catalog;
pub mod error;
pub mod group;
pub mod import;
pub mod message;
pub mod number;
pub mod report;
pub mod text;
pub mod user;

pub use error::AppError;

/// Server-wide settings an administrator changes in the browser.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Settings {
    /// Whether visitors may create their own learner account.
    pub self_registration: bool,
}

/// One page of a server-side searched, paginated table.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Paged<T> {
    pub rows: Vec<T>,
    /// Rows matching the search; for searches counted up to a cap (`total_is_capped`).
    pub total: u64,
    pub total_is_capped: bool,
    pub page: u32,
    pub per_page: u32,
}
