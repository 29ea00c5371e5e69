//! Signing in and out, first-start set-up and self-registration.

use crate::model::user::Me;
#[cfg(feature = "ssr")]
use crate::model::user::Role;
use crate::model::AppError;
use leptos::prelude::*;

/// The signed-in user, or `None`. Anyone may call it.
#[server(endpoint = "current_user")]
pub async fn current_user() -> Result<Option<Me>, AppError> {
    use crate::server::session_guards;
    // Open to everyone: it only tells callers about themselves.
    match session_guards::current_user().await? {
        Some(user) => Ok(Some(session_guards::me(&user).await?)),
        None => Ok(None),
    }
}

/// Whether visitors may create their own account (shown as a link on the login page). Anyone
/// may call it.
#[server(endpoint = "signup_open")]
pub async fn signup_open() -> Result<bool, AppError> {
    // Open to everyone: the same fact the login page shows.
    let state = crate::server::state::app_state()?;
    let stored = state.read(|s| s.settings()).await?;
    Ok(stored
        .self_registration
        .unwrap_or(state.config.self_registration))
}

/// Creates the first administrator and signs them in. Only while there are no users at all;
/// afterwards `AlreadySetUp` (403). Field errors name the field.
#[server(endpoint = "setup")]
pub async fn setup(
    login: String,
    email: String,
    display_name: String,
    password: String,
    password_confirm: String,
) -> Result<(), AppError> {
    // Guard: open only while the store has no users (checked again inside the transaction).
    let state = crate::server::state::app_state()?;
    if state.read(|s| s.user_count()).await? > 0 {
        return Err(AppError::AlreadySetUp);
    }
    let fields = super::user_fields(
        &login,
        &email,
        &display_name,
        Ok(Role::Admin),
        Some((&password, &password_confirm)),
    )?;
    let user = create_and_sign_in(fields, password, &password_confirm, true).await?;
    tracing::info!(user_id = user.id, "first administrator created");
    Ok(())
}

/// Signs in with a login name or e-mail and a password; on success the session id is new and
/// the browser goes to `next` when it is a path on this site (the page a visitor was sent away
/// from), else to `/`. Unknown account and wrong password give the same `InvalidCredentials`
/// after the same work; repeated failures per account (whichever of its login name or e-mail
/// was typed) and per client address give `TooManyAttempts` (429). A browser whose device
/// cookie shows it signed in to this account before is throttled on that cookie instead of the
/// account; a successful login gives the browser a new one. Anyone may call it.
#[server(endpoint = "login")]
pub async fn login(
    identifier: String,
    password: String,
    next: Option<String>,
) -> Result<(), AppError> {
    use crate::server::throttle::Subject;
    use crate::server::{layers::same_origin_path, session_guards, store::codec::fold};
    // Open to everyone, throttled.
    let state = crate::server::state::app_state()?;
    let typed = fold(&identifier);
    let missing = [
        (typed.is_empty())
            .then(|| AppError::invalid("identifier", "Enter your login name or e-mail.")),
        password
            .is_empty()
            .then(|| AppError::invalid("password", "Enter your password.")),
    ];
    if let Some(e) = AppError::all(missing.into_iter().flatten().collect()) {
        return Err(e);
    }
    let ip = session_guards::client_ip().await;
    let too_many = |wait: std::time::Duration| AppError::TooManyAttempts {
        retry_after_secs: wait.as_secs(),
    };
    let lookup = typed.clone();
    let found = state.read(move |s| s.find_for_login(&lookup)).await?;
    // One throttle bucket per account, whichever identifier named it; unknown names by text.
    let account = match &found {
        Some((user, _)) => format!("user:{}", user.id),
        None => format!("name:{typed}"),
    };
    // A browser that signed in to this account before has a bucket of its own, so failures
    // elsewhere cannot lock its owner out; every other client shares the account's.
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let cookie = session_guards::device_cookie().await;
    let device = found
        .as_ref()
        .and_then(|(user, _)| state.device_cookies.bucket(cookie.as_deref(), user.id, now));
    let subject = match &device {
        Some(nonce) => Subject::Device(nonce),
        None => Subject::Account(&account),
    };
    let _attempt = state.throttle.begin(subject, ip).map_err(too_many)?;
    let (user, hash) = found.unzip();
    let user = session_guards::verify_password(password, hash)
        .await?
        .then_some(user)
        .flatten();
    match user {
        Some(user) if user.active => {
            session_guards::start_session(&session_guards::session().await?, &user).await?;
            session_guards::give_device_cookie(&state, user.id);
            tracing::info!(user_id = user.id, "login");
            let target = same_origin_path(next.as_deref().unwrap_or("/"), None);
            leptos_axum::redirect(&target);
            Ok(())
        }
        _ => {
            state
                .throttle
                .record_failure(subject, ip)
                .map_err(too_many)?;
            tracing::info!("login refused");
            Err(AppError::InvalidCredentials)
        }
    }
}

/// Ends the caller's session and sends the browser to the login page. Signed-in users only.
#[server(endpoint = "logout")]
pub async fn logout() -> Result<(), AppError> {
    use crate::server::session_guards;
    session_guards::require_user().await?;
    session_guards::end_session(&session_guards::session().await?).await?;
    leptos_axum::redirect("/login");
    Ok(())
}

/// Creates a learner account for a visitor and signs them in, when self-registration is on
/// (`RegistrationClosed`, 403, otherwise). Field errors name the field. With a group `key`
/// (optional), the account joins that group and its courses in the same transaction and the
/// browser goes to the join page, which lists them; a refused key is an error on `key` (as on
/// the join page, with the same statuses) and no account is made. A login name or e-mail
/// already in use is said so (people signing up need to know), but those answers are
/// throttled per client address and per login name tried: `TooManyAttempts` (429).
#[server(endpoint = "signup")]
pub async fn signup(
    login: String,
    email: String,
    display_name: String,
    password: String,
    password_confirm: String,
    key: Option<String>,
) -> Result<(), AppError> {
    // Guard: only while self-registration is on.
    if !signup_open().await? {
        return Err(AppError::RegistrationClosed);
    }
    let fields = super::user_fields(
        &login,
        &email,
        &display_name,
        Ok(Role::Learner),
        Some((&password, &password_confirm)),
    )?;
    let state = crate::server::state::app_state()?;
    let ip = crate::server::session_guards::client_ip().await;
    let too_many = |wait: std::time::Duration| AppError::TooManyAttempts {
        retry_after_secs: wait.as_secs().max(1),
    };
    // "Already in use" tells whether an account exists, so those answers are throttled like
    // failed logins: per client address, and per login name tried.
    let name = format!("signup:{}", fields.login.to_lowercase());
    let _attempt = state.signup_throttle.begin(&name, ip).map_err(too_many)?;
    let key = key.unwrap_or_default();
    let outcome = if crate::model::group::fold_key(&key).is_empty() {
        create_and_sign_in(fields, password, &password_confirm, false)
            .await
            .map(|user| tracing::info!(user_id = user.id, "self-registered"))
    } else {
        signup_with_key(fields, password, &password_confirm, key).await
    };
    match outcome {
        Err(AppError::Invalid { field, message }) if field == "login" || field == "email" => {
            state
                .signup_throttle
                .record_failure(&name, ip)
                .map_err(too_many)?;
            Err(AppError::Invalid { field, message })
        }
        other => other,
    }
}

/// Sign-up with a group key (see [`signup`]). Wrong keys count against the client address.
#[cfg(feature = "ssr")]
async fn signup_with_key(
    fields: crate::server::store::users::UserFields,
    password: String,
    password_confirm: &str,
    key: String,
) -> Result<(), AppError> {
    use super::keys::{count_wrong_key, key_allowed, refused};
    use crate::server::store::groups::keys::KeyRefusal;
    let state = crate::server::state::app_state()?;
    let ip = crate::server::session_guards::client_ip().await;
    // Per address; without one (an unusual proxy set-up), per login typed, so one guesser
    // cannot hold every visitor back.
    let bucket = match ip {
        Some(ip) => format!("visitor:{}", crate::server::throttle::address_group(ip)),
        None => format!("visitor-login:{}", fields.login.to_lowercase()),
    };
    key_allowed(&state, &bucket, ip)?;
    // An unknown key is refused before the password is hashed: guesses cost a point read.
    let typed = key.clone();
    if let Err(refusal) = state.read_now(|s| s.key_owner(&typed))? {
        count_wrong_key(&state, &bucket, ip)?;
        return Err(refused(&refusal));
    }
    let hash = super::new_password_hash(password, password_confirm).await?;
    let (client, now) = (ip.map(|ip| ip.to_string()), crate::server::store::now_ms());
    let outcome = state
        .write(move |s| s.signup_with_key(&fields, &hash, &key, client, now))
        .await?;
    match outcome {
        Ok((user, joined)) => {
            tracing::info!(
                user_id = user.id,
                group = joined.group,
                "self-registered with a group key"
            );
            sign_in_new(user.id, &format!("/join?joined={}", joined.group)).await?;
            Ok(())
        }
        Err(refusal) => {
            if refusal == KeyRefusal::Unknown {
                count_wrong_key(&state, &bucket, ip)?;
            }
            Err(refused(&refusal))
        }
    }
}

/// Creates a user from validated fields and a new password, and signs the caller in as them.
#[cfg(feature = "ssr")]
async fn create_and_sign_in(
    fields: crate::server::store::users::UserFields,
    password: String,
    password_confirm: &str,
    first_admin: bool,
) -> Result<crate::server::store::users::UserRecord, AppError> {
    use crate::server::store;
    let state = crate::server::state::app_state()?;
    let hash = super::new_password_hash(password, password_confirm).await?;
    let created = state
        .write(move |s| s.create_user(&fields, &hash, first_admin, store::now_ms()))
        .await?;
    sign_in_new(created.id, "/").await
}

/// Signs the caller in as the user just created, and sends the browser to `to`.
#[cfg(feature = "ssr")]
async fn sign_in_new(
    id: u64,
    to: &str,
) -> Result<crate::server::store::users::UserRecord, AppError> {
    use crate::server::session_guards;
    let state = crate::server::state::app_state()?;
    let user = state
        .read(move |s| s.get_user(id))
        .await?
        .ok_or_else(|| AppError::not_found("User"))?;
    session_guards::start_session(&session_guards::session().await?, &user).await?;
    session_guards::give_device_cookie(&state, user.id);
    leptos_axum::redirect(to);
    Ok(user)
}
