//! Administering branches. Administrators only.

use crate::model::catalog::BranchView;
#[cfg(feature = "ssr")]
use crate::model::catalog::{validate_description, validate_title};
use crate::model::{AppError, Paged};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
fn fields(
    name: &str,
    description: &str,
    parent: &str,
) -> Result<crate::server::store::branches::BranchFields, AppError> {
    use crate::model::error::Every;
    let (name, description, parent) = (
        validate_title("name", name, "name"),
        validate_description(description),
        super::optional_id("parent", parent),
    )
        .every()?;
    Ok(crate::server::store::branches::BranchFields {
        name,
        description,
        parent,
    })
}

/// One page (from 1) of branches, optionally filtered by a name prefix.
#[server(endpoint = "list_branches")]
pub async fn list_branches(query: String, page: u32) -> Result<Paged<BranchView>, AppError> {
    crate::server::session_guards::require_admin().await?;
    let state = crate::server::state::app_state()?;
    let (rows, total, capped) = state
        .read(move |s| s.list_branches(&query, page, crate::model::user::PER_PAGE))
        .await?;
    Ok(super::paged(rows, total, capped, page))
}

/// Every branch in name order (at most 1,000), for parent and branch pickers.
#[server(endpoint = "branch_options")]
pub async fn branch_options() -> Result<Vec<BranchView>, AppError> {
    crate::server::session_guards::require_admin().await?;
    let state = crate::server::state::app_state()?;
    state.read(|s| s.branch_options(1_000)).await
}

/// One branch, or `NotFound`.
#[server(endpoint = "get_branch")]
pub async fn get_branch(id: u64) -> Result<BranchView, AppError> {
    crate::server::session_guards::require_admin().await?;
    let state = crate::server::state::app_state()?;
    state
        .read(move |s| s.get_branch(id))
        .await?
        .map(|b| b.view())
        .ok_or_else(|| AppError::not_found("Branch"))
}

/// Creates a branch; the name must be unused (ignoring case), the parent must exist.
#[server(endpoint = "create_branch")]
pub async fn create_branch(
    name: String,
    description: String,
    parent: String,
) -> Result<BranchView, AppError> {
    crate::server::session_guards::require_admin().await?;
    let state = crate::server::state::app_state()?;
    let f = fields(&name, &description, &parent)?;
    state
        .write(move |s| s.create_branch(&f, crate::server::store::now_ms()))
        .await
}

/// Changes a branch; refuses a parent that would make it its own ancestor.
#[server(endpoint = "update_branch")]
pub async fn update_branch(
    id: u64,
    name: String,
    description: String,
    parent: String,
) -> Result<BranchView, AppError> {
    crate::server::session_guards::require_admin().await?;
    let state = crate::server::state::app_state()?;
    let f = fields(&name, &description, &parent)?;
    state.write(move |s| s.update_branch(id, &f)).await
}

/// Deletes a branch without sub-branches, then shows the branches table.
#[server(endpoint = "delete_branch")]
pub async fn delete_branch(id: u64) -> Result<(), AppError> {
    crate::server::session_guards::require_admin().await?;
    let state = crate::server::state::app_state()?;
    state.write(move |s| s.delete_branch(id)).await?;
    leptos_axum::redirect("/branches");
    Ok(())
}
