//! Server functions: public HTTP endpoints under `/api/`, one file per area. Each starts with
//! its guard, calls one store operation and maps the error.

pub mod auth;
pub mod settings;
pub mod users;
