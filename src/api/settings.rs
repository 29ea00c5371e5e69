//! Server-wide settings an administrator can change in the browser.

use crate::model::AppError;
use crate::model::Settings;
use leptos::prelude::*;

/// The current settings. Administrators only.
#[server(endpoint = "get_settings")]
pub async fn get_settings() -> Result<Settings, AppError> {
    let _admin = crate::server::session_guards::require_admin().await?;
    let state = crate::server::state::app_state()?;
    let stored = state.read(|s| s.settings()).await?;
    Ok(Settings {
        self_registration: stored
            .self_registration
            .unwrap_or(state.config.self_registration),
    })
}

/// Saves the settings form (an unticked checkbox is absent). Administrators only.
#[server(endpoint = "save_settings")]
pub async fn save_settings(self_registration: Option<String>) -> Result<Settings, AppError> {
    let admin = crate::server::session_guards::require_admin().await?;
    let state = crate::server::state::app_state()?;
    let on = self_registration.is_some();
    state.write(move |s| s.set_self_registration(on)).await?;
    tracing::info!(by = admin.id, self_registration = on, "settings changed");
    Ok(Settings {
        self_registration: on,
    })
}
