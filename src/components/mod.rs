//! Reusable view pieces.

pub mod field;
pub mod layout;
pub mod pager;
pub mod url;
pub mod widgets;
