//! Creating and editing groups: name, description, branch, key options and the default flag.

use crate::server::store::StoreError;

use super::*;
use crate::model::group::{fold_key, AuditAction};

/// The store's operations on this area (see the contract in `store/mod.rs`).
pub trait GroupEdits: Send + Sync {
    /// Creates a group. Returns it and the group that stopped being the default, if this one
    /// became it. Name and key must be unused (ignoring case); the branch must exist.
    fn create_group(
        &self,
        actor: Actor,
        f: &GroupFields,
    ) -> Result<(GroupRecord, Option<(u64, String)>), StoreError>;

    /// [`Store::create_group`] with the group's settings beyond the fields: whether its
    /// managers may regenerate its key.
    fn create_group_with(
        &self,
        actor: Actor,
        f: &GroupFields,
        managers_regenerate_key: bool,
    ) -> Result<(GroupRecord, Option<(u64, String)>), StoreError>;

    /// [`Store::update_group`] that also sets whether the group's managers may regenerate its
    /// key (`update_group` leaves that as it is).
    fn update_group_with(
        &self,
        actor: Actor,
        id: u64,
        f: &GroupFields,
        managers_regenerate_key: bool,
    ) -> Result<(GroupRecord, Option<(u64, String)>), StoreError>;

    /// Changes a group's fields (name, description, branch, key options, default flag). A new
    /// key text starts its use count again; memberships are untouched.
    fn update_group(
        &self,
        actor: Actor,
        id: u64,
        f: &GroupFields,
    ) -> Result<(GroupRecord, Option<(u64, String)>), StoreError>;
}

/// The group record a save writes, and what an edit changed in words for the audit trail
/// (nothing for a new group): `old`'s record (a fresh one for a new group `id` made at `now`)
/// with the form's fields, the key's use count started again when the key is new, and, when
/// given, whether managers may regenerate the key. The default flag is left to the backend,
/// which moves it in the same transaction ([`GroupFields::is_default`]).
pub fn edited(
    old: Option<&GroupRecord>,
    id: u64,
    now: u64,
    f: &GroupFields,
    managers_regenerate_key: Option<bool>,
) -> (GroupRecord, Vec<String>) {
    let mut rec = old.cloned().unwrap_or_else(|| new_record(id, now));
    let mut changed = old.map(|o| changes(o, f)).unwrap_or_default();
    if let Some(on) = managers_regenerate_key {
        if old.is_some() && on != rec.managers_regenerate_key {
            changed.push(
                if on {
                    "managers may regenerate the key"
                } else {
                    "managers may no longer regenerate the key"
                }
                .into(),
            );
        }
        rec.managers_regenerate_key = on;
    }
    let old_key = old.and_then(|o| o.key.key.as_deref().map(fold_key));
    if old_key != f.key.key.as_deref().map(fold_key) {
        rec.key_uses = 0;
    }
    rec.name = f.name.clone();
    rec.description = f.description.clone();
    rec.branch = f.branch;
    rec.key = KeyRecord::from(&f.key);
    (rec, changed)
}

/// A group as it starts.
fn new_record(id: u64, now: u64) -> GroupRecord {
    GroupRecord {
        id,
        name: String::new(),
        description: String::new(),
        branch: None,
        key: KeyRecord::default(),
        key_uses: 0,
        is_default: false,
        members: 0,
        courses: 0,
        curricula: 0,
        created_at: now,
        managers_regenerate_key: false,
    }
}

/// What an edit changes, in words for the audit trail.
fn changes(old: &GroupRecord, f: &GroupFields) -> Vec<String> {
    let mut changed = Vec::new();
    if old.name != f.name {
        changed.push(format!("name \"{}\" → \"{}\"", old.name, f.name));
    }
    if old.description != f.description {
        changed.push("description".into());
    }
    if old.branch != f.branch {
        changed.push("branch".into());
    }
    let old_key = old.key.key.as_deref().map(fold_key);
    let new_key = f.key.key.as_deref().map(fold_key);
    if old_key != new_key {
        changed.push(
            if new_key.is_some() {
                "new key"
            } else {
                "key removed"
            }
            .into(),
        );
    } else if old.key != KeyRecord::from(&f.key) {
        changed.push("key options".into());
    }
    changed
}

/// Whether group `id` may be saved with the fields `f`, from what the backend read in the
/// save's transaction: whether the chosen branch exists, and which groups hold the (folded)
/// name and key. A group's own key, sent back by its edit form, keeps working even if it was
/// set before typed keys had to be strong (and may be a generated one); a new typed key must
/// not look guessable.
pub fn check_fields(
    id: u64,
    f: &GroupFields,
    branch_exists: bool,
    name_owner: Option<u64>,
    key_owner: Option<u64>,
) -> Result<(), StoreError> {
    if f.branch.is_some() && !branch_exists {
        return Err(StoreError::invalid(
            "branch",
            "The chosen branch no longer exists.",
        ));
    }
    if name_owner.is_some_and(|owner| owner != id) {
        return Err(StoreError::invalid(
            "name",
            "A group with this name already exists.",
        ));
    }
    if let Some(key) = f.key.key.as_deref() {
        match key_owner {
            Some(owner) if owner != id => {
                return Err(StoreError::invalid(
                    "key",
                    "Another group already uses this key. Type another or generate one.",
                ));
            }
            Some(_) => {}
            None => {
                if let Some(message) = crate::model::group::typed_key_problem(key) {
                    return Err(StoreError::invalid("key", message));
                }
            }
        }
    }
    Ok(())
}

/// The audit event of a save: the creation, or what an edit changed (`None`: nothing).
pub fn save_event(
    created: bool,
    f: &GroupFields,
    changed: &[String],
) -> Option<(AuditAction, String)> {
    if created {
        Some((
            AuditAction::GroupCreated,
            format!("Created \"{}\".", f.name),
        ))
    } else if changed.is_empty() {
        None
    } else {
        Some((
            AuditAction::GroupChanged,
            format!("Changed: {}.", changed.join(", ")),
        ))
    }
}

/// The audit line of the group that stops being the default when the group `now_default`
/// (its name) becomes it.
pub fn no_longer_default(now_default: &str) -> String {
    format!("No longer the default group: \"{now_default}\" is now.")
}

/// The audit line of a group made the default.
pub const MADE_DEFAULT: &str = "Made the default group.";

/// The audit line of the default group that stops being it, leaving none.
pub const NO_DEFAULT: &str = "No longer the default group; there is no default group now.";
