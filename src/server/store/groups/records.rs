//! The records of groups as stored, and their conversions to and from the wire types.
//!
//! These are the store's own types, never the `model` ones the browser gets: postcard encodes
//! fields by position, so a field added to a wire type would silently change the bytes of
//! every stored record. Here a layout changes only on purpose, with its record's `VERSION`
//! and a migration or a reader of the old version (`Record::decode_older`); `store/golden.rs` pins each record's bytes. Enums: only ever append
//! variants.

use super::super::codec::Record;
use crate::model::group::{AuditAction, BulkOutcome, BulkResult, BulkRow, JoinedHow, KeySettings};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupRecord {
    pub id: u64,
    pub name: String,
    pub description: String,
    pub branch: Option<u64>,
    pub key: KeyRecord,
    /// Memberships the current key created.
    pub key_uses: u32,
    pub is_default: bool,
    pub members: u64,
    pub courses: u32,
    pub curricula: u32,
    pub created_at: u64,
    /// The group's managers may regenerate its key (set by administrators; off by default).
    /// Appended in version 2: a version-1 record reads with it off.
    pub managers_regenerate_key: bool,
}

impl Record for GroupRecord {
    const TREE: &'static str = "groups";
    const VERSION: u8 = 2;

    fn decode_older(version: u8, body: &[u8]) -> Option<Result<Self, postcard::Error>> {
        (version == 1).then(|| postcard::from_bytes::<GroupRecordV1>(body).map(GroupRecord::from))
    }
}

/// A group as version 1 stored it, frozen here: old records must decode whatever the current
/// layout becomes.
#[derive(Deserialize)]
struct GroupRecordV1 {
    id: u64,
    name: String,
    description: String,
    branch: Option<u64>,
    key: KeyRecordV1,
    key_uses: u32,
    is_default: bool,
    members: u64,
    courses: u32,
    curricula: u32,
    created_at: u64,
}

/// [`KeyRecord`] as version 1 of [`GroupRecord`] stored it.
#[derive(Deserialize)]
struct KeyRecordV1 {
    key: Option<String>,
    max_uses: u32,
    valid_from: Option<u64>,
    valid_until: Option<u64>,
    enabled: bool,
}

impl From<GroupRecordV1> for GroupRecord {
    fn from(g: GroupRecordV1) -> Self {
        GroupRecord {
            id: g.id,
            name: g.name,
            description: g.description,
            branch: g.branch,
            key: KeyRecord {
                key: g.key.key,
                max_uses: g.key.max_uses,
                valid_from: g.key.valid_from,
                valid_until: g.key.valid_until,
                enabled: g.key.enabled,
            },
            key_uses: g.key_uses,
            is_default: g.is_default,
            members: g.members,
            courses: g.courses,
            curricula: g.curricula,
            created_at: g.created_at,
            managers_regenerate_key: false,
        }
    }
}

/// A group's key and its limits.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRecord {
    /// The key as typed (trimmed); compared ignoring case.
    pub key: Option<String>,
    /// 0 = unlimited.
    pub max_uses: u32,
    /// First valid day (ms at 00:00 UTC), inclusive.
    pub valid_from: Option<u64>,
    /// Last valid day (ms at 00:00 UTC), inclusive to its end.
    pub valid_until: Option<u64>,
    pub enabled: bool,
}

impl From<&KeySettings> for KeyRecord {
    fn from(k: &KeySettings) -> Self {
        KeyRecord {
            key: k.key.clone(),
            max_uses: k.max_uses,
            valid_from: k.valid_from,
            valid_until: k.valid_until,
            enabled: k.enabled,
        }
    }
}

impl From<&KeyRecord> for KeySettings {
    fn from(k: &KeyRecord) -> Self {
        KeySettings {
            key: k.key.clone(),
            max_uses: k.max_uses,
            valid_from: k.valid_from,
            valid_until: k.valid_until,
            enabled: k.enabled,
        }
    }
}

/// The courses and curricula attached to a group, in the order they were attached. Kept in one
/// record so a transaction reads them with one lookup, never a scan.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupLinksRecord {
    pub courses: Vec<u64>,
    pub curricula: Vec<u64>,
}

impl Record for GroupLinksRecord {
    const TREE: &'static str = "group_links";
    const VERSION: u8 = 1;
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberRecord {
    pub joined_at: u64,
    pub how: JoinedVia,
}

impl Record for MemberRecord {
    const TREE: &'static str = "group_members";
    const VERSION: u8 = 1;
}

/// How a user came to be in a group. Stored by variant index: new variants go at the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum JoinedVia {
    Manual,
    Key,
    Default,
    Import,
    /// Added by an administrator pasting or uploading a list on the group's page (members
    /// added so before this variant existed read as `Import`).
    Bulk,
}

impl From<JoinedHow> for JoinedVia {
    fn from(h: JoinedHow) -> Self {
        match h {
            JoinedHow::Manual => JoinedVia::Manual,
            JoinedHow::Key => JoinedVia::Key,
            JoinedHow::Default => JoinedVia::Default,
            JoinedHow::Import => JoinedVia::Import,
            JoinedHow::Bulk => JoinedVia::Bulk,
        }
    }
}

impl From<JoinedVia> for JoinedHow {
    fn from(h: JoinedVia) -> Self {
        match h {
            JoinedVia::Manual => JoinedHow::Manual,
            JoinedVia::Key => JoinedHow::Key,
            JoinedVia::Default => JoinedHow::Default,
            JoinedVia::Import => JoinedHow::Import,
            JoinedVia::Bulk => JoinedHow::Bulk,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    pub at: u64,
    /// The user who did it (0 = Tessera itself).
    pub actor: u64,
    pub action: AuditKind,
    pub detail: String,
}

impl Record for AuditRecord {
    const TREE: &'static str = "audit";
    const VERSION: u8 = 1;
}

/// The kinds of audit event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AuditKind {
    GroupCreated,
    GroupChanged,
    GroupDeleted,
    MembersAdded,
    MembersRemoved,
    DefaultChanged,
    CoursesChanged,
    ManagersChanged,
    KeyRedeemed,
    KeyRefused,
    MassEnrolment,
    MessageSent,
}

impl AuditKind {
    /// Every kind, at the index of its stored code (variants are only ever appended).
    pub const ALL: [AuditKind; 12] = [
        AuditKind::GroupCreated,
        AuditKind::GroupChanged,
        AuditKind::GroupDeleted,
        AuditKind::MembersAdded,
        AuditKind::MembersRemoved,
        AuditKind::DefaultChanged,
        AuditKind::CoursesChanged,
        AuditKind::ManagersChanged,
        AuditKind::KeyRedeemed,
        AuditKind::KeyRefused,
        AuditKind::MassEnrolment,
        AuditKind::MessageSent,
    ];

    /// The kind as one byte in index keys (the variant's position, as postcard stores it).
    pub fn code(self) -> u8 {
        self as u8
    }

    pub fn from_code(code: u8) -> Option<AuditKind> {
        AuditKind::ALL.get(usize::from(code)).copied()
    }
}

impl From<AuditAction> for AuditKind {
    fn from(a: AuditAction) -> Self {
        match a {
            AuditAction::GroupCreated => AuditKind::GroupCreated,
            AuditAction::GroupChanged => AuditKind::GroupChanged,
            AuditAction::GroupDeleted => AuditKind::GroupDeleted,
            AuditAction::MembersAdded => AuditKind::MembersAdded,
            AuditAction::MembersRemoved => AuditKind::MembersRemoved,
            AuditAction::DefaultChanged => AuditKind::DefaultChanged,
            AuditAction::CoursesChanged => AuditKind::CoursesChanged,
            AuditAction::ManagersChanged => AuditKind::ManagersChanged,
            AuditAction::KeyRedeemed => AuditKind::KeyRedeemed,
            AuditAction::KeyRefused => AuditKind::KeyRefused,
            AuditAction::MassEnrolment => AuditKind::MassEnrolment,
            AuditAction::MessageSent => AuditKind::MessageSent,
        }
    }
}

impl From<AuditKind> for AuditAction {
    fn from(a: AuditKind) -> Self {
        match a {
            AuditKind::GroupCreated => AuditAction::GroupCreated,
            AuditKind::GroupChanged => AuditAction::GroupChanged,
            AuditKind::GroupDeleted => AuditAction::GroupDeleted,
            AuditKind::MembersAdded => AuditAction::MembersAdded,
            AuditKind::MembersRemoved => AuditAction::MembersRemoved,
            AuditKind::DefaultChanged => AuditAction::DefaultChanged,
            AuditKind::CoursesChanged => AuditAction::CoursesChanged,
            AuditKind::ManagersChanged => AuditAction::ManagersChanged,
            AuditKind::KeyRedeemed => AuditAction::KeyRedeemed,
            AuditKind::KeyRefused => AuditAction::KeyRefused,
            AuditKind::MassEnrolment => AuditAction::MassEnrolment,
            AuditKind::MessageSent => AuditAction::MessageSent,
        }
    }
}

/// An administrator's last bulk add to a group, row by row.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BulkResultRecord {
    pub rows: Vec<BulkRowRecord>,
    pub added: u32,
    pub already: u32,
    pub unknown: u32,
    pub invalid: u32,
}

impl Record for BulkResultRecord {
    const TREE: &'static str = "bulk_results";
    const VERSION: u8 = 1;
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BulkRowRecord {
    pub line: u32,
    pub input: String,
    pub outcome: BulkOutcomeRecord,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum BulkOutcomeRecord {
    Added,
    AlreadyMember,
    UnknownUser,
    Invalid(String),
}

impl From<&BulkResult> for BulkResultRecord {
    fn from(r: &BulkResult) -> Self {
        BulkResultRecord {
            rows: r
                .rows
                .iter()
                .map(|row| BulkRowRecord {
                    line: row.line,
                    input: row.input.clone(),
                    outcome: match &row.outcome {
                        BulkOutcome::Added => BulkOutcomeRecord::Added,
                        BulkOutcome::AlreadyMember => BulkOutcomeRecord::AlreadyMember,
                        BulkOutcome::UnknownUser => BulkOutcomeRecord::UnknownUser,
                        BulkOutcome::Invalid(why) => BulkOutcomeRecord::Invalid(why.clone()),
                    },
                })
                .collect(),
            added: r.added,
            already: r.already,
            unknown: r.unknown,
            invalid: r.invalid,
        }
    }
}

impl From<BulkResultRecord> for BulkResult {
    fn from(r: BulkResultRecord) -> Self {
        BulkResult {
            rows: r
                .rows
                .into_iter()
                .map(|row| BulkRow {
                    line: row.line,
                    input: row.input,
                    outcome: match row.outcome {
                        BulkOutcomeRecord::Added => BulkOutcome::Added,
                        BulkOutcomeRecord::AlreadyMember => BulkOutcome::AlreadyMember,
                        BulkOutcomeRecord::UnknownUser => BulkOutcome::UnknownUser,
                        BulkOutcomeRecord::Invalid(why) => BulkOutcome::Invalid(why),
                    },
                })
                .collect(),
            added: r.added,
            already: r.already,
            unknown: r.unknown,
            invalid: r.invalid,
        }
    }
}
