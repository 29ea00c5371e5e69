//! One file per route.

pub mod activity;
pub mod backup;
pub mod branches;
pub mod course_detail;
pub mod courses;
pub mod curricula;
pub mod group_detail;
pub mod groups;
pub mod home;
pub mod imports;
pub mod inbox;
pub mod join;
pub mod learn;
pub mod login;
pub mod not_found;
pub mod reports;
pub mod set_password;
pub mod settings;
pub mod setup;
pub mod signup;
pub mod user_detail;
pub mod users;
