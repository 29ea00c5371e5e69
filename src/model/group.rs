//! Groups as the browser sees them, and the rules for their fields and keys.

use super::AppError;
use serde::{Deserialize, Serialize};

pub const GROUP_NAME_MAX: usize = 100;
pub const GROUP_DESCRIPTION_MAX: usize = 1_000;
pub const KEY_MIN: usize = 4;
pub const KEY_MAX: usize = 64;
/// The most a key can be limited to (0 = unlimited).
pub const KEY_USES_MAX: u32 = 1_000_000;
/// Rows a bulk add takes at once.
pub const BULK_ROWS_MAX: usize = 10_000;
/// Characters generated keys are made of: no look-alikes (0/O, 1/I/L, 5/S, 2/Z, 8/B).
pub const KEY_ALPHABET: &[u8] = b"ACDEFGHJKMNPQRTUVWXY34679";

/// A group's key as the groups table and the group page describe it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyStatus {
    None,
    Active,
    Disabled,
    UsedUp,
    NotYetValid,
    Expired,
}

impl KeyStatus {
    pub fn label(self) -> &'static str {
        match self {
            KeyStatus::None => "No key",
            KeyStatus::Active => "Active",
            KeyStatus::Disabled => "Disabled",
            KeyStatus::UsedUp => "Used up",
            KeyStatus::NotYetValid => "Not yet valid",
            KeyStatus::Expired => "Expired",
        }
    }

    pub fn class(self) -> &'static str {
        match self {
            KeyStatus::Active => "key key-active",
            KeyStatus::None => "key key-none",
            _ => "key key-off",
        }
    }
}

/// The key settings of a group (the "advanced options").
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeySettings {
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

impl KeySettings {
    /// The key's state at `now` given `uses` so far.
    pub fn status(&self, uses: u32, now: u64) -> KeyStatus {
        if self.key.is_none() {
            KeyStatus::None
        } else if !self.enabled {
            KeyStatus::Disabled
        } else if self.valid_from.is_some_and(|f| now < f) {
            KeyStatus::NotYetValid
        } else if self.valid_until.is_some_and(|u| now >= u + DAY_MS) {
            KeyStatus::Expired
        } else if self.max_uses > 0 && uses >= self.max_uses {
            KeyStatus::UsedUp
        } else {
            KeyStatus::Active
        }
    }
}

/// "3 / 50" or "3 / unlimited".
pub fn uses_text(uses: u32, max: u32) -> String {
    if max == 0 {
        format!("{uses} / unlimited")
    } else {
        format!("{uses} / {max}")
    }
}

/// A row of the groups table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupRow {
    pub id: u64,
    pub name: String,
    pub branch: Option<String>,
    pub members: u64,
    pub courses: u32,
    pub curricula: u32,
    pub key_status: KeyStatus,
    pub key_uses: u32,
    pub key_max_uses: u32,
    pub is_default: bool,
    pub created_at: u64,
}

/// A group with everything its page shows in the header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupView {
    pub id: u64,
    pub name: String,
    pub description: String,
    pub branch: Option<u64>,
    pub branch_name: Option<String>,
    pub key: KeySettings,
    pub key_uses: u32,
    pub key_status: KeyStatus,
    pub is_default: bool,
    pub members: u64,
    pub courses: u32,
    pub curricula: u32,
    pub created_at: u64,
    /// Whether the caller may change the group (administrators) or only look (its managers).
    pub can_edit: bool,
    /// The group's setting: its managers may regenerate its key.
    pub managers_regenerate_key: bool,
    /// Whether the caller may regenerate the key: administrators, and the group's managers
    /// when [`GroupView::managers_regenerate_key`] is on.
    pub can_regenerate_key: bool,
}

/// A group's latest mass enrolment ("enrol all members in the group's courses"): where it is,
/// or how it ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MassEnrolView {
    pub job: u64,
    pub running: bool,
    /// Why it stopped, when it did not finish.
    pub stopped: Option<String>,
    /// Members handled so far, and in all.
    pub done: u64,
    pub total: u64,
    pub enrolled: u64,
    pub already: u64,
    pub skipped_archived: u64,
    pub skipped_inactive: u64,
    pub failed: u64,
    pub failures: Vec<String>,
    pub started_by: String,
    pub started_at: u64,
    pub finished_at: Option<u64>,
    /// Estimated seconds left while it runs (at the rate so far), when the server asked.
    pub eta_secs: Option<u64>,
}

impl MassEnrolView {
    /// Whole seconds left at the rate so far, once there is a rate to go by.
    pub fn seconds_left(&self, now: u64) -> Option<u64> {
        let elapsed = now.saturating_sub(self.started_at);
        if !self.running || self.done == 0 || elapsed == 0 {
            return None;
        }
        let left = self.total.saturating_sub(self.done);
        Some((left * elapsed / self.done).div_ceil(1000))
    }

    /// The summary of a run, in words (see [`mass_enrol_summary`]).
    pub fn summary(&self) -> String {
        mass_enrol_summary(
            self.done,
            self.enrolled,
            self.already,
            self.skipped_archived,
            self.skipped_inactive,
            self.failed,
        )
    }
}

/// A mass enrolment's outcome in words, counting members and enrolments each as what they are:
/// "20,000 members × 10 courses: 0 new enrolments, 200,000 already there, 0 failed". The
/// courses are shown only when every member was handled for the same number of them (courses
/// can be attached or detached while a run goes on). The page and the audit log both say it so.
pub fn mass_enrol_summary(
    members: u64,
    enrolled: u64,
    already: u64,
    skipped_archived: u64,
    skipped_inactive: u64,
    failed: u64,
) -> String {
    use super::number::{count, count_of};
    let skipped = skipped_archived + skipped_inactive;
    let pairs = enrolled + already + skipped + failed;
    let mut out = count_of(members, "member", "members");
    if members > 0 && pairs.is_multiple_of(members) {
        out.push_str(" × ");
        out.push_str(&count_of(pairs / members, "course", "courses"));
    }
    out.push_str(&format!(
        ": {}, {} already there",
        count_of(enrolled, "new enrolment", "new enrolments"),
        count(already)
    ));
    if skipped > 0 {
        out.push_str(&format!(
            ", {} skipped ({} in archived courses, {} of deactivated users)",
            count(skipped),
            count(skipped_archived),
            count(skipped_inactive)
        ));
    }
    out.push_str(&format!(", {} failed", count(failed)));
    out
}

#[cfg(test)]
mod mass_summary_tests {
    use super::MassEnrolView;

    fn run(done: u64, enrolled: u64, already: u64) -> MassEnrolView {
        MassEnrolView {
            job: 1,
            running: false,
            stopped: None,
            done,
            total: done,
            enrolled,
            already,
            skipped_archived: 0,
            skipped_inactive: 0,
            failed: 0,
            failures: vec![],
            started_by: "admin".into(),
            started_at: 0,
            finished_at: Some(1),
            eta_secs: None,
        }
    }

    #[test]
    fn counts_members_and_enrolments_apart() {
        assert_eq!(
            run(20000, 0, 200000).summary(),
            "20,000 members × 10 courses: 0 new enrolments, 200,000 already there, 0 failed"
        );
        assert_eq!(
            run(1, 1, 0).summary(),
            "1 member × 1 course: 1 new enrolment, 0 already there, 0 failed"
        );
        let mut odd = run(3, 3, 0);
        odd.skipped_archived = 1;
        odd.skipped_inactive = 2;
        assert_eq!(
            odd.summary(),
            "3 members × 2 courses: 3 new enrolments, 0 already there, 3 skipped (1 in archived \
             courses, 2 of deactivated users), 0 failed"
        );
        assert_eq!(
            run(3, 4, 0).summary(),
            "3 members: 4 new enrolments, 0 already there, 0 failed"
        );
    }
}

/// What saving a group did besides saving it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupSaved {
    pub group: GroupView,
    /// The group that stopped being the default because this one became it: (id, name).
    pub previous_default: Option<(u64, String)>,
}

/// The orders the groups table offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum GroupSort {
    Name,
    Members,
    Created,
}

/// A sort as the URL carries it: `name`, `-members`, ... (`-` = descending).
pub fn parse_sort(raw: &str) -> (GroupSort, bool) {
    let (desc, key) = match raw.strip_prefix('-') {
        Some(k) => (true, k),
        None => (false, raw),
    };
    match key {
        "members" => (GroupSort::Members, desc),
        "created" => (GroupSort::Created, desc),
        _ => (GroupSort::Name, desc),
    }
}

/// How a user came to be in a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum JoinedHow {
    Manual,
    Key,
    Default,
    Import,
    /// A list pasted or uploaded on the group's page by an administrator ("Add in bulk").
    Bulk,
}

impl JoinedHow {
    pub fn label(self) -> &'static str {
        match self {
            JoinedHow::Manual => "manual",
            JoinedHow::Key => "group key",
            JoinedHow::Default => "default group",
            JoinedHow::Import => "import",
            JoinedHow::Bulk => "added in bulk",
        }
    }
}

/// A member on the group's Users tab.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberRow {
    pub user_id: u64,
    pub login: String,
    pub display_name: String,
    pub email: String,
    pub joined_at: u64,
    pub how: JoinedHow,
}

/// What happened to one row of a bulk add.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum BulkOutcome {
    Added,
    AlreadyMember,
    UnknownUser,
    Invalid(String),
}

impl BulkOutcome {
    pub fn label(&self) -> String {
        match self {
            BulkOutcome::Added => "Added".into(),
            BulkOutcome::AlreadyMember => "Already a member".into(),
            BulkOutcome::UnknownUser => "Unknown user".into(),
            BulkOutcome::Invalid(why) => format!("Invalid: {why}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BulkRow {
    /// Line number in the pasted or uploaded text (from 1).
    pub line: u32,
    pub input: String,
    pub outcome: BulkOutcome,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BulkResult {
    pub rows: Vec<BulkRow>,
    pub added: u32,
    pub already: u32,
    pub unknown: u32,
    pub invalid: u32,
}

/// The kinds of audit event. Stored: only ever append variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AuditAction {
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

impl AuditAction {
    /// Every kind, in the order the Activity page's kind filter lists them.
    pub const ALL: [AuditAction; 12] = [
        AuditAction::GroupCreated,
        AuditAction::GroupChanged,
        AuditAction::GroupDeleted,
        AuditAction::MembersAdded,
        AuditAction::MembersRemoved,
        AuditAction::DefaultChanged,
        AuditAction::CoursesChanged,
        AuditAction::ManagersChanged,
        AuditAction::KeyRedeemed,
        AuditAction::KeyRefused,
        AuditAction::MassEnrolment,
        AuditAction::MessageSent,
    ];

    /// The kind as a URL parameter (`kind=key_refused`).
    pub fn key(self) -> &'static str {
        match self {
            AuditAction::GroupCreated => "group_created",
            AuditAction::GroupChanged => "group_changed",
            AuditAction::GroupDeleted => "group_deleted",
            AuditAction::MembersAdded => "members_added",
            AuditAction::MembersRemoved => "members_removed",
            AuditAction::DefaultChanged => "default_changed",
            AuditAction::CoursesChanged => "courses_changed",
            AuditAction::ManagersChanged => "managers_changed",
            AuditAction::KeyRedeemed => "key_redeemed",
            AuditAction::KeyRefused => "key_refused",
            AuditAction::MassEnrolment => "mass_enrolment",
            AuditAction::MessageSent => "message_sent",
        }
    }

    /// The kind whose [`AuditAction::key`] is `key`.
    pub fn from_key(key: &str) -> Option<AuditAction> {
        AuditAction::ALL.into_iter().find(|a| a.key() == key)
    }

    pub fn label(self) -> &'static str {
        match self {
            AuditAction::GroupCreated => "Group created",
            AuditAction::GroupChanged => "Group changed",
            AuditAction::GroupDeleted => "Group deleted",
            AuditAction::MembersAdded => "Members added",
            AuditAction::MembersRemoved => "Members removed",
            AuditAction::DefaultChanged => "Default group changed",
            AuditAction::CoursesChanged => "Courses changed",
            AuditAction::ManagersChanged => "Managers changed",
            AuditAction::KeyRedeemed => "Key redeemed",
            AuditAction::KeyRefused => "Key refused",
            AuditAction::MassEnrolment => "Mass enrolment",
            AuditAction::MessageSent => "Message sent",
        }
    }
}

/// One line of a group's Activity list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditView {
    pub id: u64,
    pub at: u64,
    /// The login of who did it ("system" for Tessera itself).
    pub actor: String,
    pub action: AuditAction,
    pub detail: String,
}

/// A course or curriculum attached to a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupLink {
    pub id: u64,
    /// Course code or curriculum name.
    pub label: String,
    /// Course title or curriculum description.
    pub detail: String,
}

/// The Courses tab: courses and curricula of the group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupLinks {
    pub courses: Vec<GroupLink>,
    pub curricula: Vec<GroupLink>,
}

/// A group's manager.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManagerRow {
    pub user_id: u64,
    pub login: String,
    pub display_name: String,
}

const DAY_MS: u64 = 86_400_000;

/// A group name: one line (the text normaliser's rules), 1–100 characters.
pub fn validate_group_name(raw: &str) -> Result<String, AppError> {
    super::text::line("name", raw, GROUP_NAME_MAX, Some("a group name"))
}

/// A group description: several lines, up to 1,000 characters.
pub fn validate_group_description(raw: &str) -> Result<String, AppError> {
    super::text::block("description", raw, GROUP_DESCRIPTION_MAX, false)
}

/// One use of a group's key, as the group page lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedemptionView {
    pub id: u64,
    pub login: String,
    pub display_name: String,
    pub key: String,
    pub at: u64,
    pub client: String,
}

/// A group joined with its key (or already joined): its name and the courses it gives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinedGroup {
    pub id: u64,
    pub name: String,
    /// (course id, code, title) of the courses the group gives the learner.
    pub courses: Vec<(u64, String, String)>,
}

/// The form in which keys are compared and indexed: without the spaces around it (any
/// Unicode space, non-breaking and zero-width ones too), upper case.
pub fn fold_key(raw: &str) -> String {
    raw.trim_matches(|c: char| {
        c.is_whitespace()
            || matches!(
                c,
                '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{2060}' | '\u{FEFF}'
            )
    })
    .to_uppercase()
}

/// A group key as typed: blank = no key; otherwise 4–64 letters, digits and hyphens.
pub fn validate_key(raw: &str) -> Result<Option<String>, AppError> {
    let key = raw.trim();
    if key.is_empty() {
        return Ok(None);
    }
    let n = key.chars().count();
    if !(KEY_MIN..=KEY_MAX).contains(&n) {
        return Err(AppError::invalid(
            "key",
            format!("A group key has {KEY_MIN} to {KEY_MAX} characters."),
        ));
    }
    if !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(AppError::invalid(
            "key",
            "Use only letters A–Z, digits and hyphens in a group key.",
        ));
    }
    Ok(Some(key.to_string()))
}

/// Letters and digits a key typed by an administrator needs at least (hyphens not counted).
pub const TYPED_KEY_MIN: usize = 8;
/// Letters and digits a typed key needs when it is only letters or only digits.
pub const TYPED_KEY_ONE_KIND_MIN: usize = 12;

/// Whether a key an administrator types (not one Tessera generated, and not the key a group
/// already has: those keep working whatever they are) is hard enough to guess: at least
/// [`TYPED_KEY_MIN`] letters and digits, letters and digits mixed unless it has at least
/// [`TYPED_KEY_ONE_KIND_MIN`], at least 5 different characters, and not mostly repeats or
/// runs (`aaaa`, `1234`, `abcd`, `9876`). Case is not counted (keys are folded). Returns the
/// message for the key field, which says what to change, when it is not.
pub fn typed_key_problem(key: &str) -> Option<String> {
    let chars: Vec<u8> = key
        .bytes()
        .filter(u8::is_ascii_alphanumeric)
        .map(|b| b.to_ascii_uppercase())
        .collect();
    let refuse = |m: &str| {
        Some(format!(
            "{m} Type another key, or use Generate for a strong one."
        ))
    };
    if chars.len() < TYPED_KEY_MIN {
        return refuse(&format!(
            "A typed group key needs at least {TYPED_KEY_MIN} letters and digits (hyphens do not count)."
        ));
    }
    let letters = chars.iter().any(u8::is_ascii_alphabetic);
    let digits = chars.iter().any(u8::is_ascii_digit);
    if !(letters && digits) && chars.len() < TYPED_KEY_ONE_KIND_MIN {
        return refuse(&format!(
            "Mix letters and digits in a group key, or use at least {TYPED_KEY_ONE_KIND_MIN} characters."
        ));
    }
    let mut distinct = chars.clone();
    distinct.sort_unstable();
    distinct.dedup();
    let steps = chars
        .windows(2)
        .filter(|w| w[0].abs_diff(w[1]) <= 1)
        .count();
    if distinct.len() < 5 || steps * 2 > chars.len() - 1 {
        return refuse(
            "This group key is too easy to guess (repeated or consecutive characters such as \
             aaaa, 1234 or abcd).",
        );
    }
    None
}

/// "Maximum key uses": a whole number from 0 (unlimited) up to [`KEY_USES_MAX`]; blank = 0.
pub fn parse_max_uses(raw: &str) -> Result<u32, AppError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(0);
    }
    match raw.parse::<u32>() {
        Ok(n) if n <= KEY_USES_MAX => Ok(n),
        _ => Err(AppError::invalid(
            "max_uses",
            format!(
                "Enter a whole number from 0 (unlimited) to {}.",
                crate::model::number::count(u64::from(KEY_USES_MAX))
            ),
        )),
    }
}

/// A date field (`YYYY-MM-DD`, as `<input type=date>` sends it): blank = none; otherwise the
/// day's start in ms since the Unix epoch (UTC).
pub fn parse_date(field: &str, raw: &str) -> Result<Option<u64>, AppError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    let bad = || AppError::invalid(field, "Enter a date like 2027-01-31.");
    let mut parts = raw.splitn(3, '-');
    let mut num = || -> Result<i64, AppError> {
        parts
            .next()
            .and_then(|p| p.parse::<i64>().ok())
            .ok_or_else(bad)
    };
    let (y, m, d) = (num()?, num()?, num()?);
    if !(1970..=9999).contains(&y) || !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m) {
        return Err(bad());
    }
    // Days from civil (Howard Hinnant's algorithm), the inverse of `widgets::date`.
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Ok(Some(days as u64 * DAY_MS))
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// The validated key options, checking that the window is not reversed.
pub fn key_settings(
    key: &str,
    max_uses: &str,
    valid_from: &str,
    valid_until: &str,
    enabled: bool,
) -> Result<KeySettings, AppError> {
    use crate::model::error::Every;
    let (key, max_uses, valid_from, valid_until) = (
        validate_key(key),
        parse_max_uses(max_uses),
        parse_date("valid_from", valid_from),
        parse_date("valid_until", valid_until),
    )
        .every()?;
    if let (Some(f), Some(u)) = (valid_from, valid_until) {
        if u < f {
            return Err(AppError::invalid(
                "valid_until",
                "The last valid day comes before the first one.",
            ));
        }
    }
    Ok(KeySettings {
        key,
        max_uses,
        valid_from,
        valid_until,
        enabled,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_descriptions() {
        assert_eq!(
            validate_group_name("  Physics 101 ").unwrap(),
            "Physics 101"
        );
        assert!(validate_group_name(" ").is_err());
        assert!(validate_group_name(&"x".repeat(101)).is_err());
        assert!(validate_group_name(&"é".repeat(100)).is_ok());
        assert!(validate_group_name("a\nb").is_err());
        assert!(validate_group_description(&"d".repeat(1000)).is_ok());
        let e = validate_group_description(&"d".repeat(1001)).unwrap_err();
        assert_eq!(
            e.field_message("description").unwrap(),
            "Use at most 1000 characters (this has 1001)."
        );
    }

    #[test]
    fn keys() {
        assert_eq!(validate_key("  ").unwrap(), None);
        assert_eq!(validate_key(" ab-CD9 ").unwrap().as_deref(), Some("ab-CD9"));
        assert!(validate_key("abc").is_err());
        assert!(validate_key("has space").is_err());
        assert!(validate_key("ключ-ключ").is_err());
        assert!(validate_key(&"k".repeat(65)).is_err());
        assert_eq!(fold_key(" ab-cd "), "AB-CD");
        for weak in [
            "abc1",
            "ab-cd-12",
            "abcdefgh",
            "20262026",
            "aaaa1111",
            "abab1212",
            "ABCD-1234",
            "wxyz9876",
            "a1a1a1a1a1",
        ] {
            assert!(typed_key_problem(weak).is_some(), "{weak:?}");
        }
        for strong in [
            "phys-2026",
            "RACE-0001",
            "Physics-7a",
            "correcthorsebattery",
        ] {
            assert_eq!(typed_key_problem(strong), None, "{strong:?}");
        }
        for c in b"0O1IL5S2Z8B" {
            assert!(!KEY_ALPHABET.contains(c), "{}", *c as char);
        }
    }

    #[test]
    fn numbers_and_dates() {
        assert_eq!(parse_max_uses("").unwrap(), 0);
        assert_eq!(parse_max_uses(" 50 ").unwrap(), 50);
        assert!(parse_max_uses("-1").is_err());
        assert!(parse_max_uses("2.5").is_err());
        assert!(parse_max_uses("1000001").is_err());
        assert_eq!(parse_date("f", "").unwrap(), None);
        assert_eq!(parse_date("f", "1970-01-01").unwrap(), Some(0));
        assert_eq!(
            parse_date("f", "2026-11-26").unwrap(),
            Some(1_795_651_200_000)
        );
        assert_eq!(
            parse_date("f", "2000-02-29").unwrap(),
            Some(951_782_400_000)
        );
        assert!(parse_date("f", "2001-02-29").is_err());
        assert!(parse_date("f", "2026-13-01").is_err());
        assert!(parse_date("f", "tomorrow").is_err());
        let e = key_settings("KEY-1", "0", "2027-02-01", "2027-01-01", true).unwrap_err();
        assert!(e.field_message("valid_until").is_some());
    }

    #[test]
    fn key_status_follows_the_rules() {
        let day = DAY_MS;
        let mut k = KeySettings {
            key: Some("K".into()),
            max_uses: 2,
            valid_from: Some(10 * day),
            valid_until: Some(20 * day),
            enabled: true,
        };
        assert_eq!(k.status(0, 9 * day), KeyStatus::NotYetValid);
        assert_eq!(k.status(0, 10 * day), KeyStatus::Active);
        assert_eq!(k.status(0, 21 * day - 1), KeyStatus::Active);
        assert_eq!(k.status(0, 21 * day), KeyStatus::Expired);
        assert_eq!(k.status(2, 15 * day), KeyStatus::UsedUp);
        k.enabled = false;
        assert_eq!(k.status(0, 15 * day), KeyStatus::Disabled);
        k.key = None;
        assert_eq!(k.status(0, 15 * day), KeyStatus::None);
        assert_eq!(uses_text(3, 0), "3 / unlimited");
        assert_eq!(uses_text(3, 50), "3 / 50");
    }

    #[test]
    fn sorts() {
        assert_eq!(parse_sort("-members"), (GroupSort::Members, true));
        assert_eq!(parse_sort("created"), (GroupSort::Created, false));
        assert_eq!(parse_sort("whatever"), (GroupSort::Name, false));
    }
}
