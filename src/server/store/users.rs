//! Users: records, uniqueness indexes, prefix search, password hashes and the admin counter.

use super::codec::{self, fold, id_key, read_id, Record};
use super::groups::{tx_join_default, DefaultJoinTrees, DefaultJoinTx};
use super::tx::tree_set;
use super::{abort, bump_counter, counter_key, read_counter, search, Store, StoreError};
use crate::model::user::{Role, UserPage, UserView};
use serde::{Deserialize, Serialize};
use sled::transaction::{ConflictableTransactionError, TransactionalTree};
use sled::Transactional;

const COUNT_USERS: &str = "users";
const COUNT_ACTIVE_ADMINS: &str = "active_admins";

/// A user's role as stored. The store's own type, so the on-disk layout never follows a change
/// made for the browser; only ever append variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StoredRole {
    Admin,
    Learner,
}

impl From<Role> for StoredRole {
    fn from(r: Role) -> Self {
        match r {
            Role::Admin => StoredRole::Admin,
            Role::Learner => StoredRole::Learner,
        }
    }
}

impl From<StoredRole> for Role {
    fn from(r: StoredRole) -> Self {
        match r {
            StoredRole::Admin => Role::Admin,
            StoredRole::Learner => Role::Learner,
        }
    }
}

/// A user as stored in `users`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRecord {
    pub id: u64,
    pub login: String,
    pub email: String,
    pub display_name: String,
    pub role: StoredRole,
    pub active: bool,
    pub created_at: u64,
    /// Bumped whenever existing sessions must end (deactivation, password change).
    pub auth_epoch: u32,
}

impl Record for UserRecord {
    const TREE: &'static str = "users";
    const VERSION: u8 = 1;
}

impl UserRecord {
    pub fn role(&self) -> Role {
        self.role.into()
    }

    pub fn view(&self) -> UserView {
        UserView {
            id: self.id,
            login: self.login.clone(),
            email: self.email.clone(),
            display_name: self.display_name.clone(),
            role: self.role(),
            active: self.active,
            created_at: self.created_at,
        }
    }

    fn is_active_admin(&self) -> bool {
        self.active && self.role == StoredRole::Admin
    }
}

/// An argon2id hash in PHC string form. Deliberately not `Serialize` and with a redacted `Debug`:
/// it never leaves the server.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl PasswordHash {
    pub fn from_phc(phc: String) -> Self {
        PasswordHash(phc)
    }
    pub fn as_phc(&self) -> &str {
        &self.0
    }
    /// The hash of an account whose password is not set yet (imported without one): no
    /// password matches it.
    pub fn unset() -> Self {
        PasswordHash(UNSET_PASSWORD.into())
    }
    pub fn is_unset(&self) -> bool {
        self.0 == UNSET_PASSWORD
    }
}

const UNSET_PASSWORD: &str = "!unset";

impl std::fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordHash(<redacted>)")
    }
}

/// The validated fields of a new or edited user.
#[derive(Debug, Clone)]
pub struct UserFields {
    pub login: String,
    pub email: String,
    pub display_name: String,
    pub role: Role,
}

/// The terms a user is found by (`search_user`, see `search.rs`): login, e-mail, display name
/// and each word of the display name.
fn search_terms(u: &UserRecord) -> Vec<String> {
    search::terms(&[&u.login, &u.email, &u.display_name])
}

type Tx<T> = Result<T, ConflictableTransactionError<StoreError>>;

fn decode_user(key: &[u8], bytes: &[u8]) -> Result<UserRecord, StoreError> {
    codec::decode(key, bytes)
}

fn tx_get_user(users: &TransactionalTree, id: u64) -> Tx<UserRecord> {
    let key = id_key(id);
    match users.get(key)? {
        Some(bytes) => decode_user(&key, &bytes).or_else(abort),
        None => abort(StoreError::NotFound("user")),
    }
}

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
    users: &TransactionalTree,
    secrets: &TransactionalTree,
    id: u64,
    hash: &PasswordHash,
) -> Tx<()> {
    let mut user = tx_get_user(users, id)?;
    user.auth_epoch = user.auth_epoch.wrapping_add(1);
    users.insert(&id_key(id), codec::encode(&user).or_else(abort)?)?;
    secrets.insert(&id_key(id), hash.as_phc().as_bytes())?;
    Ok(())
}

/// A user about to be created (see [`Store::new_user`]).
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

impl Store {
    /// Number of users.
    pub fn user_count(&self) -> Result<u64, StoreError> {
        Ok(read_counter(self.meta.get(counter_key(COUNT_USERS))?))
    }

    /// Creates a user with a password hash. Login name and e-mail must be unused (compared
    /// case-insensitively): otherwise `Invalid` on that field and nothing is written. With
    /// `first_admin`, succeeds only while there are no users at all (`AlreadySetUp` otherwise),
    /// so two concurrent set-ups cannot both win. When a default group is set, the user joins
    /// it and is enrolled in the courses it gives in the same transaction: there is never a
    /// user who exists but is not yet in the default group.
    pub fn create_user(
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
            bytes: codec::encode(&record)?,
            terms: search_terms(&record),
            hash: hash.clone(),
            record,
        })
    }

    /// The user with this id, if any.
    pub fn get_user(&self, id: u64) -> Result<Option<UserRecord>, StoreError> {
        let key = id_key(id);
        self.users
            .get(key)?
            .map(|b| decode_user(&key, &b))
            .transpose()
    }

    /// Finds a user by login name or e-mail (case-insensitive) with their password hash, for
    /// logging in.
    pub fn find_for_login(
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

    /// Changes login name, e-mail, display name and role. Refuses (on `role`) to demote the
    /// last active administrator. Returns the updated user.
    pub fn update_user(&self, id: u64, fields: &UserFields) -> Result<UserView, StoreError> {
        let _w = self.writing();
        let updated = (
            &self.users,
            &self.login_user,
            &self.email_user,
            &self.search_user,
            &self.meta,
        )
            .transaction(|(users, logins, emails, search, meta)| {
                let old = tx_get_user(users, id)?;
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
                users.insert(&id_key(id), codec::encode(&new).or_else(abort)?)?;
                Ok(new)
            })?;
        Ok(updated.view())
    }

    /// Activates or deactivates a user. Deactivating ends their sessions (the auth epoch moves)
    /// and is refused (on `active`) for the last active administrator.
    pub fn set_active(&self, id: u64, active: bool) -> Result<UserView, StoreError> {
        let _w = self.writing();
        let updated = (&self.users, &self.meta).transaction(|(users, meta)| {
            let old = tx_get_user(users, id)?;
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
            users.insert(&id_key(id), codec::encode(&new).or_else(abort)?)?;
            Ok(new)
        })?;
        Ok(updated.view())
    }

    /// Replaces a user's password hash and ends their sessions.
    pub fn set_password(&self, id: u64, hash: &PasswordHash) -> Result<(), StoreError> {
        let _w = self.writing();
        (&self.users, &self.user_secrets)
            .transaction(|(users, secrets)| tx_set_password(users, secrets, id, hash))?;
        Ok(())
    }

    /// A page of users: without a query in login-name order; with one, the users whose login,
    /// e-mail or a word of their name starts with it (case-insensitive), by matching term.
    /// Pages are numbered from 1; the cost is that of the rows skipped and returned, never a scan
    /// of all users.
    pub fn list_users(
        &self,
        query: &str,
        page: u32,
        per_page: u32,
    ) -> Result<UserPage, StoreError> {
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

    fn user_at(&self, id: u64) -> Result<UserView, StoreError> {
        self.get_user(id)?
            .map(|u| u.view())
            .ok_or_else(|| StoreError::Corrupt {
                tree: "users",
                key: id.to_string(),
                reason: "an index points at a missing user".into(),
            })
    }

    /// Number of active administrators.
    pub fn active_admin_count(&self) -> Result<u64, StoreError> {
        Ok(read_counter(
            self.meta.get(counter_key(COUNT_ACTIVE_ADMINS))?,
        ))
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::store::tests::temp_store;
    use std::collections::HashSet;

    fn fields(login: &str, email: &str, name: &str, role: Role) -> UserFields {
        UserFields {
            login: login.into(),
            email: email.into(),
            display_name: name.into(),
            role,
        }
    }

    fn hash(s: &str) -> PasswordHash {
        PasswordHash::from_phc(format!("$test${s}"))
    }

    #[test]
    fn create_and_find_case_insensitively() {
        let (_d, store) = temp_store();
        let u = store
            .create_user(
                &fields("Ada", "Ada@Example.org", "Ada Lovelace", Role::Learner),
                &hash("a"),
                false,
                5,
            )
            .unwrap();
        assert_eq!(u.login, "Ada");
        assert_eq!(store.user_count().unwrap(), 1);
        let (rec, h) = store.find_for_login("ada").unwrap().unwrap();
        assert_eq!(rec.id, u.id);
        assert_eq!(h.as_phc(), "$test$a");
        assert_eq!(
            store
                .find_for_login("  ADA@example.ORG ")
                .unwrap()
                .unwrap()
                .0
                .id,
            u.id
        );
        assert!(store.find_for_login("nobody").unwrap().is_none());
    }

    #[test]
    fn login_and_email_are_unique_ignoring_case_and_nothing_is_half_written() {
        let (_d, store) = temp_store();
        store
            .create_user(
                &fields("ada", "ada@x.org", "Ada", Role::Learner),
                &hash("a"),
                false,
                0,
            )
            .unwrap();
        let err = store
            .create_user(
                &fields("ADA", "other@x.org", "Other", Role::Learner),
                &hash("b"),
                false,
                0,
            )
            .unwrap_err();
        assert!(
            matches!(err, StoreError::Invalid { field: "login", .. }),
            "{err}"
        );
        let err = store
            .create_user(
                &fields("bob", "ADA@X.ORG", "Bob", Role::Learner),
                &hash("b"),
                false,
                0,
            )
            .unwrap_err();
        assert!(
            matches!(err, StoreError::Invalid { field: "email", .. }),
            "{err}"
        );
        assert_eq!(store.user_count().unwrap(), 1);
        assert!(store.find_for_login("bob").unwrap().is_none());
        assert!(store.find_for_login("other@x.org").unwrap().is_none());
        assert_eq!(store.list_users("bob", 1, 20).unwrap().total, 0);
    }

    #[test]
    fn first_admin_only_once() {
        let (_d, store) = temp_store();
        let admin = store
            .create_user(
                &fields("root", "r@x.org", "Root", Role::Learner),
                &hash("a"),
                true,
                0,
            )
            .unwrap();
        assert_eq!(admin.role, Role::Admin);
        assert_eq!(store.active_admin_count().unwrap(), 1);
        let err = store
            .create_user(
                &fields("root2", "r2@x.org", "Root", Role::Admin),
                &hash("a"),
                true,
                0,
            )
            .unwrap_err();
        assert!(matches!(err, StoreError::AlreadySetUp));
        assert_eq!(store.user_count().unwrap(), 1);
    }

    #[test]
    fn concurrent_first_admins_only_one_wins() {
        let (_d, store) = temp_store();
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let store = store.clone();
                std::thread::spawn(move || {
                    store
                        .create_user(
                            &fields(&format!("a{i}"), &format!("a{i}@x.org"), "A", Role::Admin),
                            &hash("a"),
                            true,
                            0,
                        )
                        .is_ok()
                })
            })
            .collect();
        let wins = handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .filter(|ok| *ok)
            .count();
        assert_eq!(wins, 1);
        assert_eq!(store.user_count().unwrap(), 1);
    }

    #[test]
    fn update_moves_indexes_and_keeps_uniqueness() {
        let (_d, store) = temp_store();
        store
            .create_user(
                &fields("root", "r@x.org", "Root", Role::Admin),
                &hash("a"),
                true,
                0,
            )
            .unwrap();
        let ada = store
            .create_user(
                &fields("ada", "ada@x.org", "Ada", Role::Learner),
                &hash("a"),
                false,
                0,
            )
            .unwrap();
        let err = store
            .update_user(ada.id, &fields("Root", "ada@x.org", "Ada", Role::Learner))
            .unwrap_err();
        assert!(matches!(err, StoreError::Invalid { field: "login", .. }));
        let v = store
            .update_user(
                ada.id,
                &fields("ada2", "ada2@x.org", "Ada King", Role::Learner),
            )
            .unwrap();
        assert_eq!(v.login, "ada2");
        assert!(store.find_for_login("ada").unwrap().is_none());
        assert!(store.find_for_login("ada@x.org").unwrap().is_none());
        assert_eq!(store.find_for_login("ADA2").unwrap().unwrap().0.id, ada.id);
        assert_eq!(store.list_users("king", 1, 20).unwrap().rows[0].id, ada.id);
        assert_eq!(store.list_users("ada@", 1, 20).unwrap().total, 0);
        // Case-only change of one's own login is allowed.
        assert_eq!(
            store
                .update_user(ada.id, &fields("ADA2", "ada2@x.org", "Ada", Role::Learner))
                .unwrap()
                .login,
            "ADA2"
        );
        assert!(matches!(
            store.update_user(999_999, &fields("z", "z@x.org", "Z", Role::Learner)),
            Err(StoreError::NotFound("user"))
        ));
    }

    #[test]
    fn last_active_admin_is_protected() {
        let (_d, store) = temp_store();
        let root = store
            .create_user(
                &fields("root", "r@x.org", "Root", Role::Admin),
                &hash("a"),
                true,
                0,
            )
            .unwrap();
        let err = store.set_active(root.id, false).unwrap_err();
        assert!(matches!(
            err,
            StoreError::Invalid {
                field: "active",
                ..
            }
        ));
        let err = store
            .update_user(root.id, &fields("root", "r@x.org", "Root", Role::Learner))
            .unwrap_err();
        assert!(matches!(err, StoreError::Invalid { field: "role", .. }));
        let second = store
            .create_user(
                &fields("two", "t@x.org", "Two", Role::Admin),
                &hash("a"),
                false,
                0,
            )
            .unwrap();
        assert_eq!(store.active_admin_count().unwrap(), 2);
        store.set_active(root.id, false).unwrap();
        assert_eq!(store.active_admin_count().unwrap(), 1);
        assert!(store.set_active(second.id, false).is_err());
        store.set_active(root.id, true).unwrap();
        assert_eq!(store.active_admin_count().unwrap(), 2);
    }

    #[test]
    fn deactivation_and_password_change_move_the_auth_epoch() {
        let (_d, store) = temp_store();
        store
            .create_user(
                &fields("root", "r@x.org", "Root", Role::Admin),
                &hash("a"),
                true,
                0,
            )
            .unwrap();
        let u = store
            .create_user(
                &fields("ada", "ada@x.org", "Ada", Role::Learner),
                &hash("a"),
                false,
                0,
            )
            .unwrap();
        let epoch = |s: &Store| s.get_user(u.id).unwrap().unwrap().auth_epoch;
        let e0 = epoch(&store);
        store.set_password(u.id, &hash("new")).unwrap();
        assert_eq!(epoch(&store), e0 + 1);
        assert_eq!(
            store.find_for_login("ada").unwrap().unwrap().1.as_phc(),
            "$test$new"
        );
        store.set_active(u.id, false).unwrap();
        assert_eq!(epoch(&store), e0 + 2);
        assert!(!store.get_user(u.id).unwrap().unwrap().active);
        store.set_active(u.id, true).unwrap();
        assert_eq!(
            epoch(&store),
            e0 + 2,
            "reactivating does not revive old sessions either way"
        );
    }

    #[test]
    fn list_pages_and_search() {
        let (_d, store) = temp_store();
        for i in 0..45 {
            let name = if i % 3 == 0 {
                format!("Grace Hopper {i}")
            } else {
                format!("Alan Turing {i}")
            };
            store
                .create_user(
                    &fields(
                        &format!("user{i:02}"),
                        &format!("u{i}@x.org"),
                        &name,
                        Role::Learner,
                    ),
                    &hash("a"),
                    false,
                    0,
                )
                .unwrap();
        }
        let p1 = store.list_users("", 1, 20).unwrap();
        assert_eq!((p1.total, p1.rows.len()), (45, 20));
        assert_eq!(p1.rows[0].login, "user00");
        let p3 = store.list_users("", 3, 20).unwrap();
        assert_eq!(p3.rows.len(), 5);
        assert_eq!(p3.rows[4].login, "user44");
        let hop = store.list_users("HOP", 1, 10).unwrap();
        assert_eq!(hop.total, 15);
        assert_eq!(hop.rows.len(), 10);
        assert!(hop.rows.iter().all(|r| r.display_name.contains("Hopper")));
        let hop2 = store.list_users("hop", 2, 10).unwrap();
        assert_eq!(hop2.rows.len(), 5);
        let all_ids: HashSet<u64> = hop.rows.iter().chain(&hop2.rows).map(|r| r.id).collect();
        assert_eq!(all_ids.len(), 15, "pages do not overlap");
        // A user matching through several terms is listed once.
        assert_eq!(store.list_users("user07", 1, 20).unwrap().total, 1);
        assert_eq!(store.list_users("zzz", 1, 20).unwrap().rows.len(), 0);
    }
}
