//! Reusable view pieces.

pub mod chart;
pub mod data_table;
pub mod field;
pub mod islands;
pub mod layout;
pub mod pager;
pub mod signed_in;
pub mod url;
pub mod widgets;
