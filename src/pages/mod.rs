//! One file per route.

pub mod home;
pub mod login;
pub mod not_found;
pub mod settings;
pub mod setup;
pub mod signup;
pub mod user_detail;
pub mod users;
