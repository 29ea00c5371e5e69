//! Passwords, sessions and the guards every server function starts with.

use super::hashing::HashError;
use super::state::{app_state, AppState};
use super::store::sessions::SessionRecord;
use super::store::users::{PasswordHash, UserRecord};
use super::store::Store;
use super::store_cell::StoreCell;
use crate::model::user::{Me, Role};
use crate::model::AppError;
use async_trait::async_trait;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};
use tower_sessions::Session;

const KEY_USER: &str = "user_id";
const KEY_EPOCH: &str = "auth_epoch";
const KEY_LOGIN_AT: &str = "login_at";
/// When the session's expiry was last moved forward (Unix seconds).
const KEY_EXTENDED_AT: &str = "extended_at";

/// How long after the last extension a request moves the idle expiry forward again: a tenth
/// of the idle timeout, at most a minute. In between, requests write nothing.
pub fn extension_interval(idle: std::time::Duration) -> std::time::Duration {
    (idle / 10).min(std::time::Duration::from_secs(60))
}

/// Hashes a new password on the hashing pool (argon2id, OWASP parameters). `Busy` (503) when
/// the pool's queue is full.
pub async fn hash_password(password: String) -> Result<PasswordHash, AppError> {
    let state = app_state()?;
    state.hasher.hash(password).await.map_err(hash_error)
}

/// Checks a password against the account's hash on the hashing pool; for an account that does
/// not exist (`None`) it does the same work and answers `false`, so both take as long.
pub async fn verify_password(
    password: String,
    hash: Option<PasswordHash>,
) -> Result<bool, AppError> {
    let state = app_state()?;
    // An account imported without a password (no hash to check yet) costs the same as one
    // that does not exist, so neither can be told apart by timing.
    let hash = hash.filter(|h| !h.is_unset());
    match hash {
        Some(hash) => state.hasher.verify(password, hash).await,
        None => state.hasher.verify_nothing(password).await,
    }
    .map_err(hash_error)
}

fn hash_error(e: HashError) -> AppError {
    match e {
        HashError::Busy => {
            tracing::warn!("password hashing queue full: request refused");
            AppError::Busy {
                retry_after_secs: 2,
            }
        }
        other => super::internal(&other),
    }
}

/// Session records in the store. The session layer keeps them; this only stores bytes with an
/// expiry.
#[derive(Clone)]
pub struct StoredSessions {
    store: StoreCell,
    /// New and extended sessions are flushed before the response (group commit).
    flusher: super::flusher::Flusher,
    /// Records created or saved since start (see `AppState::session_writes`).
    writes: Arc<AtomicU64>,
}

impl StoredSessions {
    pub fn new(store: StoreCell, flusher: super::flusher::Flusher, writes: Arc<AtomicU64>) -> Self {
        StoredSessions {
            store,
            flusher,
            writes,
        }
    }

    /// Deletes expired sessions every `period` (runs until the runtime stops).
    pub fn spawn_cleanup(&self, period: std::time::Duration) {
        let cell = self.store.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            loop {
                tick.tick().await;
                let (Ok(()), Ok(store)) = (cell.writable(), cell.store()) else {
                    continue;
                };
                let now = time::OffsetDateTime::now_utc().unix_timestamp();
                let swept = tokio::task::spawn_blocking(move || {
                    let sessions = store.delete_expired_sessions(now);
                    // Shared throttle buckets that are full again (several servers) go with
                    // them; the embedded store keeps none.
                    let buckets = store
                        .shares_throttles()
                        .then(|| store.forget_full_buckets(super::store::now_ms()));
                    (sessions, buckets)
                })
                .await;
                let Ok((sessions, buckets)) = swept else {
                    continue;
                };
                match sessions {
                    Ok(n) if n > 0 => tracing::info!(removed = n, "expired sessions removed"),
                    Err(e) => tracing::warn!(error = %e, "session clean-up failed"),
                    _ => {}
                }
                if let Some(Err(e)) = buckets {
                    tracing::warn!(error = %e, "throttle clean-up failed");
                }
            }
        });
    }
}

impl std::fmt::Debug for StoredSessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoredSessions")
    }
}

fn backend(e: impl std::fmt::Display) -> session_store::Error {
    session_store::Error::Backend(e.to_string())
}

impl StoredSessions {
    /// Runs `f` on a blocking thread, then (`flush`) waits until it is on disk.
    async fn blocking<T: Send + 'static>(
        &self,
        flush: bool,
        f: impl FnOnce(&Store) -> Result<T, super::store::StoreError> + Send + 'static,
    ) -> session_store::Result<T> {
        let store = self.store.store().map_err(backend)?;
        let out = {
            let store = store.clone();
            tokio::task::spawn_blocking(move || f(&store))
                .await
                .map_err(backend)?
        };
        let out = out.map_err(|e| backend(self.store.error(e)))?;
        if flush {
            self.flusher
                .flush(&store)
                .await
                .map_err(|e| backend(self.store.error(e)))?;
        }
        Ok(out)
    }
}

fn to_stored(record: &Record) -> session_store::Result<SessionRecord> {
    let data = serde_json::to_vec(&record.data)
        .map_err(|e| session_store::Error::Encode(e.to_string()))?;
    Ok(SessionRecord {
        expires_at: record.expiry_date.unix_timestamp(),
        data,
    })
}

#[async_trait]
impl SessionStore for StoredSessions {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        self.writes.fetch_add(1, Ordering::Relaxed);
        loop {
            let stored = to_stored(record)?;
            let id = record.id.to_string();
            if self
                .blocking(true, move |s| s.create_session(&id, &stored))
                .await?
            {
                return Ok(());
            }
            record.id = Id::default();
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        self.writes.fetch_add(1, Ordering::Relaxed);
        let stored = to_stored(record)?;
        let id = record.id.to_string();
        // While nothing can be saved, a session's later expiry is not saved either: it
        // stays valid until the expiry it has, and the page is served (see `store_cell.rs`).
        if self.store.writable().is_err() {
            return Ok(());
        }
        // A session ended meanwhile (logout) stays ended: save never recreates it.
        self.blocking(true, move |s| s.save_session(&id, &stored))
            .await
            .map(drop)
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let key = id.to_string();
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        // One key: read on this task (see `AppState::read_now`), off the worker thread when
        // the store is a database's.
        let store = self.store.store().map_err(backend)?;
        let load = || store.load_session(&key, now).map_err(backend);
        let loaded = if store.networked() {
            super::state::off_the_worker(load)?
        } else {
            load()?
        };
        let Some(stored) = loaded else {
            return Ok(None);
        };
        let data = serde_json::from_slice(&stored.data)
            .map_err(|e| session_store::Error::Decode(e.to_string()))?;
        let expiry_date =
            time::OffsetDateTime::from_unix_timestamp(stored.expires_at).map_err(backend)?;
        Ok(Some(Record {
            id: *id,
            data,
            expiry_date,
        }))
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        let key = id.to_string();
        // A logout is on disk before it is answered.
        self.blocking(true, move |s| s.delete_session(&key))
            .await
            .map(drop)
    }
}

/// The session of the current request (the session layer wraps every route).
pub async fn session() -> Result<Session, AppError> {
    leptos_axum::extract::<Session>()
        .await
        .map_err(|e| super::internal(&e))
}

/// Starts a fresh session for `user` (a new session id: no fixation).
pub async fn start_session(session: &Session, user: &UserRecord) -> Result<(), AppError> {
    // The session is saved after the answer is made: refuse now, while it can still say why.
    app_state()?.storage.writable()?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let result = async {
        session.cycle_id().await?;
        session.insert(KEY_USER, user.id).await?;
        session.insert(KEY_EPOCH, user.auth_epoch).await?;
        session.insert(KEY_LOGIN_AT, now).await?;
        session.insert(KEY_EXTENDED_AT, now).await?;
        Ok::<_, tower_sessions::session::Error>(())
    }
    .await;
    result.map_err(|e| super::internal(&e))
}

/// Ends the session (deletes it from the store and clears the cookie).
/// While nothing can be saved the session cannot be deleted either: refused with why.
pub async fn end_session(session: &Session) -> Result<(), AppError> {
    app_state()?.storage.writable()?;
    session.flush().await.map_err(|e| super::internal(&e))
}

/// The signed-in user of `session`, if it is still valid: the user exists, is active, has not
/// changed password or been deactivated since (auth epoch), and the absolute timeout has not
/// passed. An invalid session is ended on the spot. A valid one has its idle expiry moved
/// forward when the extension interval has passed since the last time (the session layer
/// then saves it, with a fresh cookie); otherwise nothing is written.
pub async fn user_of_session(
    state: &AppState,
    session: &Session,
) -> Result<Option<UserRecord>, AppError> {
    let read = async {
        let user_id: Option<u64> = session.get(KEY_USER).await?;
        let epoch: Option<u32> = session.get(KEY_EPOCH).await?;
        let login_at: Option<i64> = session.get(KEY_LOGIN_AT).await?;
        let extended_at: Option<i64> = session.get(KEY_EXTENDED_AT).await?;
        Ok::<_, tower_sessions::session::Error>((user_id, epoch, login_at, extended_at))
    };
    let (user_id, epoch, login_at, extended_at) = match read.await {
        Ok(v) => v,
        Err(e) => {
            tracing::warn!(error = %e, "unreadable session ended");
            end_session(session).await?;
            return Ok(None);
        }
    };
    let Some(user_id) = user_id else {
        return Ok(None);
    };
    let user = state.read_now(|s| s.get_user(user_id))?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let max_age = state.config.session_absolute.as_secs() as i64;
    let valid = match (&user, epoch, login_at) {
        (Some(u), Some(e), Some(at)) => u.active && u.auth_epoch == e && now - at < max_age,
        _ => false,
    };
    if !valid {
        // While nothing can be saved the stale session stays stored, still refused each time.
        if state.storage.writable().is_ok() {
            end_session(session).await?;
        }
        return Ok(None);
    }
    let interval = extension_interval(state.config.session_idle).as_secs() as i64;
    if now - extended_at.or(login_at).unwrap_or(0) >= interval.max(1) {
        // Marks the session changed: saved at the end of the request with a new expiry.
        if let Err(e) = session.insert(KEY_EXTENDED_AT, now).await {
            tracing::warn!(error = %e, "session expiry not extended");
        }
    }
    Ok(user)
}

/// The caller as the pages need them.
pub async fn me(user: &UserRecord) -> Result<Me, AppError> {
    let state = app_state()?;
    // Every page asks (the top bar shows a manager's groups): the manager index's few keys.
    let manages_groups = state.read_now(|s| s.manages_any_group(user.id))?;
    Ok(Me {
        id: user.id,
        login: user.login.clone(),
        display_name: user.display_name.clone(),
        role: user.role(),
        manages_groups,
        saving_paused: state.storage.trouble().map(|t| t.reason().to_string()),
    })
}

/// The user the page gate found signed in ([`user_of_session`], checked once per page
/// request), kept in the request's extensions. A page's server functions run in the same
/// process while it renders, with that request's parts in context: they take the user from
/// here instead of reading the session and the user record again (three times on `/groups`).
/// Only the page gate sets it, only for a page request, after the full check; a server
/// function called over HTTP never passes the page gate, so it checks the session itself.
#[derive(Clone)]
pub struct CheckedUser(pub UserRecord);

/// The signed-in user of the current request, if any.
pub async fn current_user() -> Result<Option<UserRecord>, AppError> {
    let checked = leptos::reactive::owner::with_context::<axum::http::request::Parts, _>(|p| {
        p.extensions.get::<CheckedUser>().map(|c| c.0.clone())
    });
    if let Some(Some(user)) = checked {
        return Ok(Some(user));
    }
    let state = app_state()?;
    let session = session().await?;
    user_of_session(&state, &session).await
}

/// Guard: any signed-in, active user; `Unauthenticated` otherwise.
pub async fn require_user() -> Result<UserRecord, AppError> {
    current_user().await?.ok_or(AppError::Unauthenticated)
}

/// Guard: a signed-in administrator; `Unauthenticated` or `Forbidden` otherwise.
pub async fn require_admin() -> Result<UserRecord, AppError> {
    let user = require_user().await?;
    if user.role() != Role::Admin {
        return Err(AppError::Forbidden);
    }
    Ok(user)
}

/// Who is asking about a group, and whether they may change it.
pub struct GroupCaller {
    pub user: UserRecord,
    pub admin: bool,
}

impl GroupCaller {
    /// The caller as the author of a change, now.
    pub fn actor(&self) -> super::store::groups::Actor {
        super::store::groups::Actor {
            user: self.user.id,
            now: super::store::now_ms(),
        }
    }
}

/// Guard: an administrator, or a manager of `group`; `Forbidden` for anyone else, whether the
/// group exists or not (ids cannot be probed).
pub async fn require_group_reader(group: u64) -> Result<GroupCaller, AppError> {
    let user = require_user().await?;
    if user.role() == Role::Admin {
        return Ok(GroupCaller { user, admin: true });
    }
    let state = app_state()?;
    // Two keys: the manager index and the group.
    if state.read_now(|s| s.manages_group(user.id, group))? {
        Ok(GroupCaller { user, admin: false })
    } else {
        Err(AppError::Forbidden)
    }
}

/// Guard: an administrator, or a manager of `group`, who may change that group's members
/// (add by exact login or e-mail, remove); `Forbidden` for anyone else, as for
/// [`require_group_reader`]. Everything else about a group stays with administrators.
pub async fn require_group_manager(group: u64) -> Result<GroupCaller, AppError> {
    require_group_reader(group).await
}

/// Guard: an administrator, who may change groups.
pub async fn require_group_admin() -> Result<GroupCaller, AppError> {
    let user = require_admin().await?;
    Ok(GroupCaller { user, admin: true })
}

/// The client's address as worked out from the peer and, behind a trusted proxy, its
/// forwarding headers (`client.rs`); absent when the server does not know its peer.
pub async fn client_ip() -> Option<std::net::IpAddr> {
    leptos_axum::extract::<axum::Extension<super::client::ClientInfo>>()
        .await
        .ok()
        .and_then(|c| c.0.ip)
}

/// The device cookie the request carries, if any (not yet checked: see
/// `throttle::DeviceCookies::bucket`).
pub async fn device_cookie() -> Option<String> {
    let headers = leptos_axum::extract::<axum::http::HeaderMap>().await.ok()?;
    super::signing::request_cookie(&headers, super::throttle::DEVICE_COOKIE)
}

/// Gives the browser a new device cookie for `user` (after it signed in): from then on its
/// failed logins to this account count against that cookie's own bucket, not the account's,
/// so others' failures cannot keep it out. HttpOnly, SameSite=Strict (only this site's login
/// form needs it), Secure when cookies are.
pub fn give_device_cookie(state: &AppState, user: u64) {
    use super::throttle::{DEVICE_COOKIE, DEVICE_COOKIE_LIFETIME};
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let value = state.device_cookies.issue(user, now);
    let cookie = super::signing::set_cookie(
        DEVICE_COOKIE,
        &value,
        "Strict",
        Some(DEVICE_COOKIE_LIFETIME.as_secs()),
        state.config.secure_cookies,
    );
    let Some(res) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() else {
        return;
    };
    match axum::http::HeaderValue::from_str(&cookie) {
        Ok(v) => res.append_header(axum::http::header::SET_COOKIE, v),
        Err(e) => tracing::warn!(error = %e, "device cookie not set"),
    }
}
