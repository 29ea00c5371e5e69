//! Administering users. Every function here is for administrators only.

#[cfg(feature = "ssr")]
use crate::model::user::{parse_role, PER_PAGE};
use crate::model::user::{UserPage, UserView};
use crate::model::AppError;
use leptos::prelude::*;

/// One page (from 1) of users, optionally filtered by a search on login, e-mail or name.
#[server(endpoint = "list_users")]
pub async fn list_users(query: String, page: u32) -> Result<UserPage, AppError> {
    let _admin = crate::server::session_guards::require_admin().await?;
    let state = crate::server::state::app_state()?;
    state
        .read(move |s| s.list_users(&query, page, PER_PAGE))
        .await
}

/// One user, or `NotFound`.
#[server(endpoint = "get_user")]
pub async fn get_user(id: u64) -> Result<UserView, AppError> {
    let _admin = crate::server::session_guards::require_admin().await?;
    let state = crate::server::state::app_state()?;
    state
        .read(move |s| s.get_user(id))
        .await?
        .map(|u| u.view())
        .ok_or_else(|| AppError::not_found("User"))
}

/// Creates a user with an initial password and opens their page. Field errors name the field;
/// nothing is written on any error.
#[server(endpoint = "create_user")]
pub async fn create_user(
    login: String,
    email: String,
    display_name: String,
    role: String,
    password: String,
    password_confirm: String,
) -> Result<UserView, AppError> {
    let admin = crate::server::session_guards::require_admin().await?;
    let state = crate::server::state::app_state()?;
    let fields = super::user_fields(
        &login,
        &email,
        &display_name,
        parse_role(&role),
        Some((&password, &password_confirm)),
    )?;
    let hash = super::new_password_hash(password, &password_confirm).await?;
    let now = crate::server::store::now_ms();
    let user = state
        .write(move |s| s.create_user(&fields, &hash, false, now))
        .await?;
    tracing::info!(by = admin.id, user_id = user.id, "user created");
    leptos_axum::redirect(&format!("/users/{}", user.id));
    Ok(user)
}

/// Changes a user's login name, e-mail, display name and role. Refuses to demote the last
/// active administrator.
#[server(endpoint = "update_user")]
pub async fn update_user(
    id: u64,
    login: String,
    email: String,
    display_name: String,
    role: String,
) -> Result<UserView, AppError> {
    let admin = crate::server::session_guards::require_admin().await?;
    let state = crate::server::state::app_state()?;
    let fields = super::user_fields(&login, &email, &display_name, parse_role(&role), None)?;
    let user = state.write(move |s| s.update_user(id, &fields)).await?;
    tracing::info!(by = admin.id, user_id = id, "user changed");
    Ok(user)
}

/// Deactivates (ending their sessions) or reactivates a user. Administrators cannot deactivate
/// themselves, nor the last active administrator.
#[server(endpoint = "set_user_active")]
pub async fn set_user_active(id: u64, active: bool) -> Result<UserView, AppError> {
    let admin = crate::server::session_guards::require_admin().await?;
    if admin.id == id && !active {
        return Err(AppError::invalid(
            "active",
            "You cannot deactivate your own account.",
        ));
    }
    let state = crate::server::state::app_state()?;
    let user = state.write(move |s| s.set_active(id, active)).await?;
    tracing::info!(
        by = admin.id,
        user_id = id,
        active,
        "user activation changed"
    );
    Ok(user)
}

/// Sets a new password for a user and ends their sessions.
#[server(endpoint = "reset_password")]
pub async fn reset_password(
    id: u64,
    password: String,
    password_confirm: String,
) -> Result<(), AppError> {
    let admin = crate::server::session_guards::require_admin().await?;
    let state = crate::server::state::app_state()?;
    if state.read(move |s| s.get_user(id)).await?.is_none() {
        return Err(AppError::not_found("User"));
    }
    let hash = super::new_password_hash(password, &password_confirm).await?;
    state.write(move |s| s.set_password(id, &hash)).await?;
    tracing::info!(by = admin.id, user_id = id, "password reset");
    Ok(())
}
