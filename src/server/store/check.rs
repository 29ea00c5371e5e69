//! `tessera check`: every invariant of the store, verified offline, each violation named with
//! the keys that break it.
//!
//! What is checked:
//! - every record of every record tree decodes;
//! - index trees agree with their primary trees both ways: logins and e-mails ↔ users, group
//!   names and keys ↔ groups, `group_members` ↔ `user_groups`, `group_managers` ↔
//!   `manager_groups`, `enrolments` ↔ `course_users`, `audit` ↔ `audit_index` (every event
//!   has its four entries, and every entry is one of its event's, with its actor and kind);
//! - counters equal what they count: a group's members, a course's learners, a user's inbox
//!   and unread messages;
//! - every membership, enrolment and inbox entry points at a live user and group, course or
//!   message (a deleted group's memberships count as live while its sweep job is pending);
//! - an enrolment has at least one source;
//! - at most one group is the default, and `default_group` names it;
//! - a group's key uses are no more than the redemptions recorded for it.

use crate::server::store::StoreError;

/// One broken invariant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Which rule.
    pub rule: &'static str,
    /// The keys and values that break it.
    pub detail: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.rule, self.detail)
    }
}

/// The store's operations on this area (see the contract in `store/mod.rs`).
pub trait Checks: Send + Sync {
    /// Checks every invariant (see the module); reads everything, changes nothing.
    fn check(&self) -> Result<CheckReport, StoreError>;
}

/// What [`SledStore::check`] found.
#[derive(Debug, Default)]
pub struct CheckReport {
    /// Records read.
    pub records: u64,
    pub violations: Vec<Violation>,
}

impl CheckReport {
    pub(crate) fn fail(&mut self, rule: &'static str, detail: String) {
        self.violations.push(Violation { rule, detail });
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use crate::server::store::tests::prelude::*;

    pub(crate) fn rules(s: &Store) -> Vec<&'static str> {
        let mut v: Vec<_> = s
            .check()
            .unwrap()
            .violations
            .iter()
            .map(|v| v.rule)
            .collect();
        v.sort();
        v.dedup();
        v
    }
}
