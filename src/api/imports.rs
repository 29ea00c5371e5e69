//! Importing users from a CSV file (administrators), and the set-password links it hands out
//! (anyone holding one).

use crate::model::import::{ImportRowView, ImportView};
use crate::model::{AppError, Paged};
use leptos::prelude::*;

/// Checks an uploaded CSV file (form fields `file`, and the file's name) and keeps it as an
/// import in preview: nothing is created yet. Passwords given in the file are hashed now, so
/// the store never holds them. Errors about the file name the `file` field; a good file sends
/// the browser to its preview.
#[server(endpoint = "upload_user_import", input = leptos::server_fn::codec::MultipartFormData)]
pub async fn upload_user_import(
    data: leptos::server_fn::codec::MultipartData,
) -> Result<ImportView, AppError> {
    use crate::model::import::{IMPORT_FILE_MAX, IMPORT_PASSWORDS_MAX};
    let admin = crate::server::session_guards::require_admin().await?;
    let state = crate::server::state::app_state()?;
    let up = super::read_upload(
        data,
        IMPORT_FILE_MAX,
        "This file is larger than 16 MB. Split it into smaller files.",
    )
    .await?;
    let name = up.file_name;
    let bytes = up.file;
    if bytes.is_empty() {
        return Err(AppError::invalid("file", "Choose a CSV file to upload."));
    }
    let text = String::from_utf8(bytes).map_err(|_| {
        AppError::invalid(
            "file",
            "This file is not UTF-8 text. Save it as \"CSV UTF-8\" and try again.",
        )
    })?;
    let name = crate::model::text::line("file", &name, 200, None)
        .ok()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "upload.csv".into());
    let inputs = tokio::task::spawn_blocking(move || crate::server::csv_input::import_rows(&text))
        .await
        .map_err(|e| crate::server::internal(&e))??;
    let (inputs, mut rows) = state
        .read(move |s| {
            let rows = s.plan_import(&inputs)?;
            Ok((inputs, rows))
        })
        .await?;
    let with_password = inputs.iter().filter(|i| !i.password.is_empty()).count();
    if with_password > IMPORT_PASSWORDS_MAX {
        return Err(AppError::invalid(
            "file",
            format!(
                "{with_password} rows give a password; at most {IMPORT_PASSWORDS_MAX} may. Leave the password column empty: each new user then gets a set-password link."
            ),
        ));
    }
    // Hash the passwords of the rows to create, as many at a time as the pool has workers but
    // one (left for logins).
    let todo: Vec<usize> = rows
        .iter()
        .enumerate()
        .filter(|(i, r)| {
            r.outcome == crate::server::store::imports::StoredOutcome::Create
                && !inputs[*i].password.is_empty()
        })
        .map(|(i, _)| i)
        .collect();
    for chunk in todo.chunks(state.hasher.workers().saturating_sub(1).max(1)) {
        let mut set = tokio::task::JoinSet::new();
        for &i in chunk {
            let (pool, password) = (state.hasher.clone(), inputs[i].password.clone());
            set.spawn(async move { (i, pool.hash(password).await) });
        }
        while let Some(done) = set.join_next().await {
            let (i, hash) = done.map_err(|e| crate::server::internal(&e))?;
            let hash = hash.map_err(|e| crate::server::internal(&e))?;
            rows[i].hash = Some(hash.as_phc().to_string());
        }
    }
    let now = crate::server::store::now_ms();
    let by = (admin.id, admin.login.clone());
    let view = state
        .write(move |s| s.save_import((by.0, &by.1), &name, &rows, now))
        .await?;
    tracing::info!(
        by = admin.id,
        import = view.id,
        rows = view.rows,
        "user import uploaded"
    );
    leptos_axum::redirect(&format!("/imports/{}", view.id));
    Ok(view)
}

/// One import, without its rows.
#[server(endpoint = "get_import")]
pub async fn get_import(id: u64) -> Result<ImportView, AppError> {
    let _admin = crate::server::session_guards::require_admin().await?;
    let state = crate::server::state::app_state()?;
    let mut view = state
        .read(move |s| s.get_import(id))
        .await?
        .ok_or_else(|| AppError::not_found("Import"))?;
    view.link_base = crate::server::downloads::link_base(&state);
    Ok(view)
}

/// A page (from 1) of an import's rows: all, or those whose outcome is `show` (create, exists,
/// invalid, created, failed).
#[server(endpoint = "import_rows")]
pub async fn import_rows(
    id: u64,
    show: String,
    page: u32,
) -> Result<Paged<ImportRowView>, AppError> {
    use crate::model::import::IMPORT_PER_PAGE;
    let _admin = crate::server::session_guards::require_admin().await?;
    let state = crate::server::state::app_state()?;
    let now = crate::server::store::now_ms();
    let (rows, total) = state
        .read(move |s| s.import_rows_page(id, &show, page, IMPORT_PER_PAGE, now))
        .await?;
    Ok(Paged {
        rows,
        total,
        total_is_capped: false,
        page: page.max(1),
        per_page: IMPORT_PER_PAGE,
    })
}

/// The newest imports (up to 20), newest first.
#[server(endpoint = "recent_imports")]
pub async fn recent_imports() -> Result<Vec<ImportView>, AppError> {
    let _admin = crate::server::session_guards::require_admin().await?;
    let state = crate::server::state::app_state()?;
    state.read(|s| s.recent_imports(20)).await
}

/// Applies an import in preview: a background job creates its users; the browser goes back to
/// the import's page, which shows the progress.
#[server(endpoint = "apply_import")]
pub async fn apply_import(id: u64) -> Result<(), AppError> {
    let admin = crate::server::session_guards::require_admin().await?;
    let state = crate::server::state::app_state()?;
    let now = crate::server::store::now_ms();
    state
        .write_and_wake(move |s| s.start_import(id, now))
        .await?;
    tracing::info!(by = admin.id, import = id, "user import applied");
    leptos_axum::redirect(&format!("/imports/{id}"));
    Ok(())
}

/// Throws an import in preview away.
#[server(endpoint = "discard_import")]
pub async fn discard_import(id: u64) -> Result<(), AppError> {
    let admin = crate::server::session_guards::require_admin().await?;
    let state = crate::server::state::app_state()?;
    state.write(move |s| s.discard_import(id)).await?;
    tracing::info!(by = admin.id, import = id, "user import discarded");
    leptos_axum::redirect("/imports");
    Ok(())
}

/// The login name a set-password link is for, while the link is valid (anyone holding it).
#[server(endpoint = "password_link_login")]
pub async fn password_link_login(token: String) -> Result<String, AppError> {
    let state = crate::server::state::app_state()?;
    let now = crate::server::store::now_ms();
    let user = state
        .read(move |s| {
            let id = s.password_token_user(&token, now)?;
            s.get_user(id)
        })
        .await?;
    user.map(|u| u.login)
        .ok_or_else(|| AppError::not_found("User"))
}

/// Sets the password of a set-password link's user and uses the link up; the browser goes to
/// the login page.
#[server(endpoint = "set_password_by_link")]
pub async fn set_password_by_link(
    token: String,
    password: String,
    password_confirm: String,
) -> Result<(), AppError> {
    let state = crate::server::state::app_state()?;
    let now = crate::server::store::now_ms();
    {
        let token = token.clone();
        state
            .read(move |s| s.password_token_user(&token, now))
            .await?;
    }
    let hash = super::new_password_hash(password, &password_confirm).await?;
    let user = state
        .write(move |s| s.use_password_token(&token, &hash, now))
        .await?;
    tracing::info!(user_id = user, "password set by link");
    leptos_axum::redirect("/login?password_set=1");
    Ok(())
}
