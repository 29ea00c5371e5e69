//! Users: records, uniqueness indexes, prefix search, password hashes and the admin counter.

use crate::server::store::StoreError;

use super::codec::Record;

use crate::model::user::{Role, UserPage, UserView};
use serde::{Deserialize, Serialize};

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

    pub(crate) fn is_active_admin(&self) -> bool {
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

pub(crate) const UNSET_PASSWORD: &str = "!unset";

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

/// The store's operations on this area (see the contract in `store/mod.rs`).
pub trait Users: Send + Sync {
    /// Number of users.
    fn user_count(&self) -> Result<u64, StoreError>;

    /// Creates a user with a password hash. Login name and e-mail must be unused (compared
    /// case-insensitively): otherwise `Invalid` on that field and nothing is written. With
    /// `first_admin`, succeeds only while there are no users at all (`AlreadySetUp` otherwise),
    /// so two concurrent set-ups cannot both win. When a default group is set, the user joins
    /// it and is enrolled in the courses it gives in the same transaction: there is never a
    /// user who exists but is not yet in the default group.
    fn create_user(
        &self,
        fields: &UserFields,
        hash: &PasswordHash,
        first_admin: bool,
        now: u64,
    ) -> Result<UserView, StoreError>;

    /// The user with this id, if any.
    fn get_user(&self, id: u64) -> Result<Option<UserRecord>, StoreError>;

    /// Finds a user by login name or e-mail (case-insensitive) with their password hash, for
    /// logging in.
    fn find_for_login(
        &self,
        identifier: &str,
    ) -> Result<Option<(UserRecord, PasswordHash)>, StoreError>;

    /// Changes login name, e-mail, display name and role. Refuses (on `role`) to demote the
    /// last active administrator. Returns the updated user.
    fn update_user(&self, id: u64, fields: &UserFields) -> Result<UserView, StoreError>;

    /// Activates or deactivates a user. Deactivating ends their sessions (the auth epoch moves)
    /// and is refused (on `active`) for the last active administrator.
    fn set_active(&self, id: u64, active: bool) -> Result<UserView, StoreError>;

    /// Replaces a user's password hash and ends their sessions.
    fn set_password(&self, id: u64, hash: &PasswordHash) -> Result<(), StoreError>;

    /// A page of users: without a query in login-name order; with one, the users whose login,
    /// e-mail or a word of their name starts with it (case-insensitive), by matching term.
    /// Pages are numbered from 1; the cost is that of the rows skipped and returned, never a scan
    /// of all users.
    fn list_users(&self, query: &str, page: u32, per_page: u32) -> Result<UserPage, StoreError>;

    /// Number of active administrators.
    fn active_admin_count(&self) -> Result<u64, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;
    #[allow(unused_imports)]
    use crate::server::store::tests::prelude::*;
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

    /// Two people signing up with one login name at once: one account, the other refused on
    /// `login` (never a storage error, never two accounts).
    #[test]
    fn concurrent_sign_ups_with_one_login_make_one_account() {
        let (_d, store) = temp_store();
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let store = store.clone();
                std::thread::spawn(move || {
                    store.create_user(
                        &fields("Same", &format!("s{i}@x.org"), "S", Role::Learner),
                        &hash("a"),
                        false,
                        0,
                    )
                })
            })
            .collect();
        let mut wins = 0;
        for h in handles {
            match h.join().unwrap() {
                Ok(_) => wins += 1,
                Err(StoreError::Invalid { field: "login", .. }) => {}
                Err(other) => panic!("expected Invalid on login, got {other:?}"),
            }
        }
        assert_eq!(wins, 1);
        assert_eq!(store.user_count().unwrap(), 1);
        assert_eq!(store.list_users("same", 1, 20).unwrap().total, 1);
    }

    /// A NUL character (which the forms refuse, but the store may be handed) either is refused
    /// on its field with nothing written, or is kept as given: never a storage error.
    #[test]
    fn a_nul_in_a_users_fields_is_refused_or_kept_never_a_storage_error() {
        let (_d, store) = temp_store();
        for (i, field) in ["login", "email", "display_name"].into_iter().enumerate() {
            let mut f = fields(&format!("n{i}"), &format!("n{i}@x.org"), "N", Role::Learner);
            match field {
                "login" => f.login.push('\0'),
                "email" => f.email.push('\0'),
                _ => f.display_name.push('\0'),
            }
            let before = crate::server::store::tests::dump(&store);
            match store.create_user(&f, &hash("a"), false, 0) {
                Err(StoreError::Invalid { field: got, .. }) => {
                    assert_eq!(got, field);
                    assert!(before == crate::server::store::tests::dump(&store));
                }
                Ok(v) => {
                    let back = store.get_user(v.id).unwrap().unwrap();
                    assert_eq!(
                        (back.login, back.email, back.display_name),
                        (f.login, f.email, f.display_name)
                    );
                }
                Err(other) => panic!("{field}: expected Invalid or Ok, got {other:?}"),
            }
        }
        assert!(store.find_for_login("n0\0").is_ok());
        assert!(store.list_users("n\0", 1, 20).is_ok());
    }
}
