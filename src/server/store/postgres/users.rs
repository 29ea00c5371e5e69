//! The PostgreSQL backend's Users (the interface: `crate::server::store::users`): `users`
//! (with the folded login and e-mail as unique columns), `user_secrets`, `user_terms`, and the
//! users total as slot rows of `totals` (see the schema).
//!
//! Isolation: creating and editing users is SERIALIZABLE (unique login and e-mail, the first
//! administrator, the last active administrator are rules over several rows); the unique
//! indexes back the checks up, their violations mapped to the same `Invalid`. A password change
//! touches one user: READ COMMITTED with the row locked. A page and its total are read in one
//! REPEATABLE READ snapshot.

use super::default_join::tx_join_default;
use super::search::{self, USERS};
use super::{refuse_nul, unique_violation, PgError, PgStore};
use crate::model::user::{UserPage, UserView};
use crate::server::store::codec::fold;
use crate::server::store::users::{PasswordHash, StoredRole, UserFields, UserRecord, Users};
use crate::server::store::{Core, StoreError};
use postgres::{IsolationLevel, Row, Transaction};

/// The columns [`record`] reads, in its order.
pub(crate) const COLUMNS: &str =
    "id, login, email, display_name, role, active, created_at_ms, auth_epoch";

const LOGIN_TAKEN: &str = "This login name is already in use.";
const EMAIL_TAKEN: &str = "This e-mail address is already in use.";
const LAST_ADMIN: &str = "This is the last active administrator; make another administrator first.";

fn role_text(role: StoredRole) -> &'static str {
    match role {
        StoredRole::Admin => "admin",
        StoredRole::Learner => "learner",
    }
}

/// A user from a row of [`COLUMNS`].
pub(crate) fn record(row: &Row) -> Result<UserRecord, StoreError> {
    let id: i64 = row.get(0);
    let role: &str = row.get(4);
    let role = match role {
        "admin" => StoredRole::Admin,
        "learner" => StoredRole::Learner,
        other => {
            return Err(StoreError::Corrupt {
                tree: "users",
                key: id.to_string(),
                reason: format!("unknown role {other:?}"),
            })
        }
    };
    Ok(UserRecord {
        id: id as u64,
        login: row.get(1),
        email: row.get(2),
        display_name: row.get(3),
        role,
        active: row.get(5),
        created_at: row.get::<_, i64>(6) as u64,
        auth_epoch: row.get::<_, i64>(7) as u32,
    })
}

/// The terms a user is found by, as sled indexes them (`search_user`).
pub(crate) fn terms(u: &UserRecord) -> Vec<String> {
    crate::server::store::search_terms(&[&u.login, &u.email, &u.display_name])
}

/// Refuses a field PostgreSQL text cannot hold.
fn refuse_nul_fields(fields: &UserFields) -> Result<(), StoreError> {
    refuse_nul("login", &fields.login)?;
    refuse_nul("email", &fields.email)?;
    refuse_nul("display_name", &fields.display_name)
}

/// Maps a unique violation of the login or e-mail index to the check's own `Invalid`.
fn unique_to_invalid(e: postgres::Error) -> PgError {
    let e = PgError::Db(e);
    if unique_violation(&e, "users_login_folded") {
        PgError::Store(StoreError::invalid("login", LOGIN_TAKEN))
    } else if unique_violation(&e, "users_email_folded") {
        PgError::Store(StoreError::invalid("email", EMAIL_TAKEN))
    } else {
        e
    }
}

/// Refuses `folded` in `column` when a user other than `id` holds it.
fn tx_claim(
    t: &mut Transaction<'_>,
    column: &'static str,
    folded: &str,
    id: u64,
) -> Result<(), PgError> {
    let (sql, field, message) = match column {
        "login" => (
            "SELECT id FROM users WHERE login_folded = $1",
            "login",
            LOGIN_TAKEN,
        ),
        _ => (
            "SELECT id FROM users WHERE email_folded = $1",
            "email",
            EMAIL_TAKEN,
        ),
    };
    if let Some(row) = t.query_opt(sql, &[&folded])? {
        if row.get::<_, i64>(0) as u64 != id {
            return Err(StoreError::invalid(field, message).into());
        }
    }
    Ok(())
}

/// Inside a transaction: the users total (the sum of its slot rows).
pub(crate) fn tx_user_count(t: &mut Transaction<'_>) -> Result<u64, PgError> {
    let row = t.query_one(
        "SELECT coalesce(sum(n), 0)::bigint FROM totals WHERE name = 'users'",
        &[],
    )?;
    Ok(row.get::<_, i64>(0) as u64)
}

/// Inside a transaction: active administrators.
fn tx_active_admins(t: &mut Transaction<'_>) -> Result<u64, PgError> {
    let row = t.query_one(
        "SELECT count(*) FROM users WHERE role = 'admin' AND active",
        &[],
    )?;
    Ok(row.get::<_, i64>(0) as u64)
}

/// Refuses (on `field`) a change that leaves no active administrator.
fn tx_admin_change(
    t: &mut Transaction<'_>,
    old: &UserRecord,
    new: &UserRecord,
    field: &'static str,
) -> Result<(), PgError> {
    if old.is_active_admin() && !new.is_active_admin() && tx_active_admins(t)? <= 1 {
        return Err(StoreError::invalid(field, LAST_ADMIN).into());
    }
    Ok(())
}

/// Inside a transaction: user `id`, locked for the change.
fn tx_must(t: &mut Transaction<'_>, id: u64) -> Result<UserRecord, PgError> {
    let row = t
        .query_opt(
            &format!("SELECT {COLUMNS} FROM users WHERE id = $1 FOR UPDATE"),
            &[&(id as i64)],
        )?
        .ok_or(StoreError::NotFound("user"))?;
    Ok(record(&row)?)
}

/// Inside a transaction: writes the fields of `u` (its row exists).
fn tx_put(t: &mut Transaction<'_>, u: &UserRecord) -> Result<(), PgError> {
    t.execute(
        "UPDATE users SET login = $2, login_folded = $3, email = $4, email_folded = $5, \
         display_name = $6, role = $7, active = $8, auth_epoch = $9 WHERE id = $1",
        &[
            &(u.id as i64),
            &u.login,
            &fold(&u.login),
            &u.email,
            &fold(&u.email),
            &u.display_name,
            &role_text(u.role),
            &u.active,
            &i64::from(u.auth_epoch),
        ],
    )
    .map_err(unique_to_invalid)?;
    Ok(())
}

/// Inside a transaction: creates the user `u` with password `hash` (its login and e-mail
/// checked unused) and has it join the default group (`event`: the audit id for that). With
/// `first_admin`, only while there are no users (`AlreadySetUp`).
pub(crate) fn tx_create_user(
    t: &mut Transaction<'_>,
    u: &UserRecord,
    hash: &PasswordHash,
    first_admin: bool,
    event: u64,
    now: u64,
) -> Result<(), PgError> {
    if first_admin && tx_user_count(t)? > 0 {
        return Err(StoreError::AlreadySetUp.into());
    }
    tx_claim(t, "login", &fold(&u.login), u.id)?;
    tx_claim(t, "email", &fold(&u.email), u.id)?;
    t.execute(
        "INSERT INTO users (id, login, login_folded, email, email_folded, display_name, role, \
         active, created_at_ms, auth_epoch) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        &[
            &(u.id as i64),
            &u.login,
            &fold(&u.login),
            &u.email,
            &fold(&u.email),
            &u.display_name,
            &role_text(u.role),
            &u.active,
            &(u.created_at as i64),
            &i64::from(u.auth_epoch),
        ],
    )
    .map_err(unique_to_invalid)?;
    t.execute(
        "INSERT INTO user_secrets (user_id, password_hash) VALUES ($1, $2)",
        &[&(u.id as i64), &hash.as_phc()],
    )?;
    search::set_terms(t, &USERS, u.id, &terms(u))?;
    t.execute(
        "UPDATE totals SET n = n + 1 WHERE name = 'users' AND slot = $1",
        &[&((u.id % 16) as i16)],
    )?;
    tx_join_default(t, u.id, &u.login, event, now)
}

/// A new user's record (as sled's `new_user` makes it).
pub(crate) fn new_record(id: u64, fields: &UserFields, first_admin: bool, now: u64) -> UserRecord {
    UserRecord {
        id,
        login: fields.login.clone(),
        email: fields.email.clone(),
        display_name: fields.display_name.clone(),
        role: if first_admin {
            StoredRole::Admin
        } else {
            fields.role.into()
        },
        active: true,
        created_at: now,
        auth_epoch: 0,
    }
}

/// Inside a transaction: the users with these ids, in this order (an id without a user is an
/// index pointing nowhere: corrupt, as on sled).
fn tx_views(t: &mut Transaction<'_>, ids: &[u64]) -> Result<Vec<UserView>, PgError> {
    let wanted: Vec<i64> = ids.iter().map(|&i| i as i64).collect();
    let rows = t.query(
        &format!("SELECT {COLUMNS} FROM users WHERE id = ANY($1)"),
        &[&wanted],
    )?;
    let mut found = std::collections::HashMap::with_capacity(rows.len());
    for row in &rows {
        let u = record(row)?;
        found.insert(u.id, u.view());
    }
    ids.iter()
        .map(|id| {
            found.remove(id).ok_or_else(|| {
                PgError::Store(StoreError::Corrupt {
                    tree: "users",
                    key: id.to_string(),
                    reason: "an index points at a missing user".into(),
                })
            })
        })
        .collect()
}

impl Users for PgStore {
    fn user_count(&self) -> Result<u64, StoreError> {
        self.tx(IsolationLevel::ReadCommitted, tx_user_count)
    }

    fn create_user(
        &self,
        fields: &UserFields,
        hash: &PasswordHash,
        first_admin: bool,
        now: u64,
    ) -> Result<UserView, StoreError> {
        refuse_nul_fields(fields)?;
        let id = self.new_id()?;
        let event = self.new_id()?;
        let user = new_record(id, fields, first_admin, now);
        self.tx(IsolationLevel::Serializable, |t| {
            tx_create_user(t, &user, hash, first_admin, event, now)
        })?;
        Ok(user.view())
    }

    fn get_user(&self, id: u64) -> Result<Option<UserRecord>, StoreError> {
        let Ok(key) = i64::try_from(id) else {
            return Ok(None);
        };
        self.tx(IsolationLevel::ReadCommitted, |t| {
            let row = t.query_opt(
                &format!("SELECT {COLUMNS} FROM users WHERE id = $1"),
                &[&key],
            )?;
            Ok(row.map(|r| record(&r)).transpose()?)
        })
    }

    fn find_for_login(
        &self,
        identifier: &str,
    ) -> Result<Option<(UserRecord, PasswordHash)>, StoreError> {
        let folded = fold(identifier);
        // No login or e-mail holds U+0000 (refused when written).
        if folded.contains('\0') {
            return Ok(None);
        }
        self.tx(IsolationLevel::ReadCommitted, |t| {
            // The login first, then the e-mail, as sled looks them up.
            let sql = format!(
                "SELECT {COLUMNS}, s.password_hash FROM users u \
                 LEFT JOIN user_secrets s ON s.user_id = u.id WHERE u.login_folded = $1"
            );
            let mut row = t.query_opt(&sql, &[&folded])?;
            if row.is_none() {
                let sql = sql.replace("u.login_folded", "u.email_folded");
                row = t.query_opt(&sql, &[&folded])?;
            }
            let Some(row) = row else {
                return Ok(None);
            };
            let user = record(&row)?;
            let hash: Option<String> = row.get(8);
            let hash = hash.ok_or_else(|| StoreError::Corrupt {
                tree: "user_secrets",
                key: user.id.to_string(),
                reason: "user has no password hash".into(),
            })?;
            Ok(Some((user, PasswordHash::from_phc(hash))))
        })
    }

    fn update_user(&self, id: u64, fields: &UserFields) -> Result<UserView, StoreError> {
        refuse_nul_fields(fields)?;
        let Ok(_) = i64::try_from(id) else {
            return Err(StoreError::NotFound("user"));
        };
        let updated = self.tx(IsolationLevel::Serializable, |t| {
            let old = tx_must(t, id)?;
            let new = UserRecord {
                login: fields.login.clone(),
                email: fields.email.clone(),
                display_name: fields.display_name.clone(),
                role: fields.role.into(),
                ..old.clone()
            };
            if fold(&old.login) != fold(&new.login) {
                tx_claim(t, "login", &fold(&new.login), id)?;
            }
            if fold(&old.email) != fold(&new.email) {
                tx_claim(t, "email", &fold(&new.email), id)?;
            }
            tx_admin_change(t, &old, &new, "role")?;
            tx_put(t, &new)?;
            search::set_terms(t, &USERS, id, &terms(&new))?;
            Ok(new)
        })?;
        Ok(updated.view())
    }

    fn set_active(&self, id: u64, active: bool) -> Result<UserView, StoreError> {
        let Ok(_) = i64::try_from(id) else {
            return Err(StoreError::NotFound("user"));
        };
        let updated = self.tx(IsolationLevel::Serializable, |t| {
            let old = tx_must(t, id)?;
            if old.active == active {
                return Ok(old);
            }
            let mut new = UserRecord {
                active,
                ..old.clone()
            };
            if !active {
                new.auth_epoch = old.auth_epoch.wrapping_add(1);
            }
            tx_admin_change(t, &old, &new, "active")?;
            tx_put(t, &new)?;
            Ok(new)
        })?;
        Ok(updated.view())
    }

    /// One user's row, locked: READ COMMITTED suffices (no rule spans rows).
    fn set_password(&self, id: u64, hash: &PasswordHash) -> Result<(), StoreError> {
        let Ok(_) = i64::try_from(id) else {
            return Err(StoreError::NotFound("user"));
        };
        // A PHC string never holds U+0000; refused rather than a database error.
        refuse_nul("password", hash.as_phc())?;
        self.tx(IsolationLevel::ReadCommitted, |t| {
            tx_set_password(t, id, hash)
        })
    }

    fn list_users(&self, query: &str, page: u32, per_page: u32) -> Result<UserPage, StoreError> {
        let page = page.max(1);
        let per_page = per_page.clamp(1, 100);
        let skip = (page as usize - 1) * per_page as usize;
        let folded = fold(query);
        let (rows, total, total_is_capped) = self.tx(IsolationLevel::RepeatableRead, |t| {
            let (ids, total, capped) = if folded.is_empty() {
                let ids: Vec<u64> = t
                    .query(
                        "SELECT id FROM users ORDER BY login_folded LIMIT $1 OFFSET $2",
                        &[&i64::from(per_page), &(skip as i64)],
                    )?
                    .iter()
                    .map(|r| r.get::<_, i64>(0) as u64)
                    .collect();
                (ids, tx_user_count(t)?, false)
            } else {
                search::page(t, &USERS, &folded, skip, per_page as usize)?
            };
            Ok((tx_views(t, &ids)?, total, capped))
        })?;
        Ok(UserPage {
            rows,
            total,
            total_is_capped,
            page,
            per_page,
        })
    }

    fn active_admin_count(&self) -> Result<u64, StoreError> {
        self.tx(IsolationLevel::ReadCommitted, tx_active_admins)
    }
}

/// Inside a transaction: replaces user `id`'s password hash and ends their sessions (the auth
/// epoch moves, wrapping as a `u32`).
pub(crate) fn tx_set_password(
    t: &mut Transaction<'_>,
    id: u64,
    hash: &PasswordHash,
) -> Result<(), PgError> {
    let n = t.execute(
        "UPDATE users SET auth_epoch = (auth_epoch + 1) % 4294967296 WHERE id = $1",
        &[&(id as i64)],
    )?;
    if n == 0 {
        return Err(StoreError::NotFound("user").into());
    }
    t.execute(
        "INSERT INTO user_secrets (user_id, password_hash) VALUES ($1, $2) \
         ON CONFLICT (user_id) DO UPDATE SET password_hash = EXCLUDED.password_hash",
        &[&(id as i64), &hash.as_phc()],
    )?;
    Ok(())
}
