//! The sled backend's Users (the interface: `crate::server::store::users`).

pub(crate) use crate::server::store::users::*;

#[allow(unused_imports)]
use crate::server::store::prelude::*;

use super::codec::{fold, id_key, read_id};
use super::groups::{tx_join_default, DefaultJoinTrees, DefaultJoinTx};
use super::tx::tree_set;
use super::{abort, bump_counter, counter_key, read_counter, search, SledStore, StoreError};
use crate::model::user::{UserPage, UserView};
use crate::server::store::sled::tables::{of, TxOf};
use sled::transaction::{ConflictableTransactionError, TransactionalTree};
use sled::Transactional;

pub(crate) const COUNT_USERS: &str = "users";

pub(crate) const COUNT_ACTIVE_ADMINS: &str = "active_admins";

/// The terms a user is found by (`search_user`, see `search.rs`): login, e-mail, display name
/// and each word of the display name.
pub(crate) fn search_terms(u: &UserRecord) -> Vec<String> {
    search::terms(&[&u.login, &u.email, &u.display_name])
}

type Tx<T> = Result<T, ConflictableTransactionError<StoreError>>;

/// Claims `name` in a uniqueness index for `id`, refusing a name held by someone else.
fn tx_claim(
    index: &TransactionalTree,
    folded: &str,
    id: u64,
    field: &'static str,
    what: &str,
) -> Tx<()> {
    if let Some(owner) = index.get(folded.as_bytes())? {
        if owner.as_ref() != id_key(id) {
            return abort(StoreError::invalid(
                field,
                format!("This {what} is already in use."),
            ));
        }
    }
    index.insert(folded.as_bytes(), &id_key(id))?;
    Ok(())
}

/// Inside a transaction: replaces user `id`'s password hash and ends their sessions.
pub(crate) fn tx_set_password(
    users: TxOf<'_, of::users>,
    secrets: &TransactionalTree,
    id: u64,
    hash: &PasswordHash,
) -> Tx<()> {
    let mut user = users.must(id, "user")?;
    user.auth_epoch = user.auth_epoch.wrapping_add(1);
    users.put(id, &user)?;
    secrets.insert(&id_key(id), hash.as_phc().as_bytes())?;
    Ok(())
}

/// A user about to be created (see [`SledStore::new_user`]).
pub(crate) struct NewUser {
    pub record: UserRecord,
    bytes: Vec<u8>,
    terms: Vec<String>,
    hash: PasswordHash,
}

tree_set! {
    /// The trees creating a user writes (with joining the default group).
    pub(crate) struct NewUserTx {
        users, user_secrets, login_user, email_user, search_user; join: DefaultJoinTx
    }
}

/// Inside a transaction over [`NewUserTx`] (alone or in a bigger set): creates the user. Login
/// name and e-mail must be unused (compared case-insensitively): otherwise `Invalid` on that
/// field. With `first_admin`, only while there are no users at all (`AlreadySetUp`). When a
/// default group is set, the user joins it and is enrolled in the courses it gives (`event` is
/// the audit event id for that). Returns the trees a caller needs to have the user join more
/// groups in the same transaction.
pub(crate) fn tx_create_user<'a>(
    t: &NewUserTx<'a>,
    new: &NewUser,
    first_admin: bool,
    event: u64,
    now: u64,
) -> Tx<DefaultJoinTrees<'a>> {
    let NewUserTx {
        users,
        user_secrets: secrets,
        login_user: logins,
        email_user: emails,
        search_user: search,
        ..
    } = *t;
    let joins = t.join.view();
    let meta = joins.meta;
    let user = &new.record;
    let id = user.id;
    if first_admin && read_counter(meta.get(counter_key(COUNT_USERS))?) > 0 {
        return abort(StoreError::AlreadySetUp);
    }
    tx_claim(logins, &fold(&user.login), id, "login", "login name")?;
    tx_claim(emails, &fold(&user.email), id, "email", "e-mail address")?;
    users.insert(&id_key(id), new.bytes.as_slice())?;
    secrets.insert(&id_key(id), new.hash.as_phc().as_bytes())?;
    for term in &new.terms {
        search.insert(search::key(term, id), &[])?;
    }
    bump_counter(meta, COUNT_USERS, 1)?;
    if user.is_active_admin() {
        bump_counter(meta, COUNT_ACTIVE_ADMINS, 1)?;
    }
    tx_join_default(&joins, id, &user.login, event, now)?;
    Ok(joins)
}

/// Keeps the active-admin counter right and refuses to reach zero.
fn tx_admin_change(
    meta: &TransactionalTree,
    old: &UserRecord,
    new: &UserRecord,
    field: &'static str,
) -> Tx<()> {
    match (old.is_active_admin(), new.is_active_admin()) {
        (true, false) => {
            let left = read_counter(meta.get(counter_key(COUNT_ACTIVE_ADMINS))?);
            if left <= 1 {
                return abort(StoreError::invalid(
                    field,
                    "This is the last active administrator; make another administrator first.",
                ));
            }
            bump_counter(meta, COUNT_ACTIVE_ADMINS, -1)?;
        }
        (false, true) => {
            bump_counter(meta, COUNT_ACTIVE_ADMINS, 1)?;
        }
        _ => {}
    }
    Ok(())
}

impl Users for SledStore {
    fn user_count(&self) -> Result<u64, StoreError> {
        Ok(read_counter(self.meta.get(counter_key(COUNT_USERS))?))
    }

    fn create_user(
        &self,
        fields: &UserFields,
        hash: &PasswordHash,
        first_admin: bool,
        now: u64,
    ) -> Result<UserView, StoreError> {
        let _w = self.writing();
        let new = self.new_user(fields, hash, first_admin, now)?;
        let event = self.new_id()?;
        NewUserTx::run(self, |t| {
            tx_create_user(t, &new, first_admin, event, now).map(|_| ())
        })?;
        Ok(new.record.view())
    }

    fn get_user(&self, id: u64) -> Result<Option<UserRecord>, StoreError> {
        self.users.row(id)
    }

    fn find_for_login(
        &self,
        identifier: &str,
    ) -> Result<Option<(UserRecord, PasswordHash)>, StoreError> {
        let folded = fold(identifier);
        let Some(id_bytes) = self
            .login_user
            .get(folded.as_bytes())?
            .or(self.email_user.get(folded.as_bytes())?)
        else {
            return Ok(None);
        };
        let id = read_id("login_user", folded.as_bytes(), &id_bytes)?;
        let Some(user) = self.get_user(id)? else {
            return Ok(None);
        };
        let hash = self
            .user_secrets
            .get(id_key(id))?
            .ok_or_else(|| StoreError::Corrupt {
                tree: "user_secrets",
                key: id.to_string(),
                reason: "user has no password hash".into(),
            })?;
        let phc = String::from_utf8(hash.to_vec()).map_err(|_| StoreError::Corrupt {
            tree: "user_secrets",
            key: id.to_string(),
            reason: "hash is not UTF-8".into(),
        })?;
        Ok(Some((user, PasswordHash::from_phc(phc))))
    }

    fn update_user(&self, id: u64, fields: &UserFields) -> Result<UserView, StoreError> {
        let _w = self.writing();
        let updated = (
            &*self.users,
            &self.login_user,
            &self.email_user,
            &self.search_user,
            &self.meta,
        )
            .transaction(|(users, logins, emails, search, meta)| {
                let users = TxOf::<of::users>::from(users);
                let old = users.must(id, "user")?;
                let new = UserRecord {
                    login: fields.login.clone(),
                    email: fields.email.clone(),
                    display_name: fields.display_name.clone(),
                    role: fields.role.into(),
                    ..old.clone()
                };
                if fold(&old.login) != fold(&new.login) {
                    tx_claim(logins, &fold(&new.login), id, "login", "login name")?;
                    logins.remove(fold(&old.login).as_bytes())?;
                }
                if fold(&old.email) != fold(&new.email) {
                    tx_claim(emails, &fold(&new.email), id, "email", "e-mail address")?;
                    emails.remove(fold(&old.email).as_bytes())?;
                }
                tx_admin_change(meta, &old, &new, "role")?;
                for t in search_terms(&old) {
                    search.remove(search::key(&t, id))?;
                }
                for t in search_terms(&new) {
                    search.insert(search::key(&t, id), &[])?;
                }
                users.put(id, &new)?;
                Ok(new)
            })?;
        Ok(updated.view())
    }

    fn set_active(&self, id: u64, active: bool) -> Result<UserView, StoreError> {
        let _w = self.writing();
        let updated = (&*self.users, &self.meta).transaction(|(users, meta)| {
            let users = TxOf::<of::users>::from(users);
            let old = users.must(id, "user")?;
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
            tx_admin_change(meta, &old, &new, "active")?;
            users.put(id, &new)?;
            Ok(new)
        })?;
        Ok(updated.view())
    }

    fn set_password(&self, id: u64, hash: &PasswordHash) -> Result<(), StoreError> {
        let _w = self.writing();
        (&*self.users, &self.user_secrets)
            .transaction(|(users, secrets)| tx_set_password(users.into(), secrets, id, hash))?;
        Ok(())
    }

    fn list_users(&self, query: &str, page: u32, per_page: u32) -> Result<UserPage, StoreError> {
        let page = page.max(1);
        let per_page = per_page.clamp(1, 100);
        let skip = (page as usize - 1) * per_page as usize;
        let (ids, total, total_is_capped) = if fold(query).is_empty() {
            let ids = search::by_name(&self.login_user, "login_user", skip, per_page as usize)?;
            (ids, self.user_count()?, false)
        } else {
            search::page(
                &self.search_user,
                "search_user",
                query,
                skip,
                per_page as usize,
            )?
        };
        let rows = ids
            .into_iter()
            .map(|id| self.user_at(id))
            .collect::<Result<_, _>>()?;
        Ok(UserPage {
            rows,
            total,
            total_is_capped,
            page,
            per_page,
        })
    }

    fn active_admin_count(&self) -> Result<u64, StoreError> {
        Ok(read_counter(
            self.meta.get(counter_key(COUNT_ACTIVE_ADMINS))?,
        ))
    }
}

impl SledStore {
    /// A user about to be created, with a fresh id.
    pub(crate) fn new_user(
        &self,
        fields: &UserFields,
        hash: &PasswordHash,
        first_admin: bool,
        now: u64,
    ) -> Result<NewUser, StoreError> {
        let id = self.new_id()? + 1;
        let record = UserRecord {
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
        };
        Ok(NewUser {
            bytes: self.users.encode(&record)?,
            terms: search_terms(&record),
            hash: hash.clone(),
            record,
        })
    }

    pub(crate) fn user_at(&self, id: u64) -> Result<UserView, StoreError> {
        self.get_user(id)?
            .map(|u| u.view())
            .ok_or_else(|| StoreError::Corrupt {
                tree: "users",
                key: id.to_string(),
                reason: "an index points at a missing user".into(),
            })
    }
}
