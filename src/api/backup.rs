//! The Backup page's data. The backup itself is a download (`GET /backup/download`, in
//! `server/downloads.rs`): a file, not a server function's answer.

use crate::model::backup::BackupStatus;
use crate::model::AppError;
use leptos::prelude::*;

/// When the last backup was made, how big it was and who made it. Administrators only.
#[server(endpoint = "get_backup_status")]
pub async fn get_backup_status() -> Result<BackupStatus, AppError> {
    use crate::model::backup::LastBackup;
    use crate::server::store::backup::BackupVia;
    let _admin = crate::server::session_guards::require_admin().await?;
    let state = crate::server::state::app_state()?;
    let last = state
        .read(|s| {
            let Some(rec) = s.last_backup()? else {
                return Ok(None);
            };
            let downloaded_by = match rec.via {
                BackupVia::Command => None,
                BackupVia::Download { by } => Some(
                    s.get_user(by)?
                        .map_or_else(|| format!("user {by}"), |u| u.display_name),
                ),
            };
            Ok(Some(LastBackup {
                at_ms: rec.at_ms,
                bytes: rec.bytes,
                downloaded_by,
            }))
        })
        .await?;
    Ok(BackupStatus { last })
}
