//! The catalog as the browser sees it: branches, courses with lessons, curricula, enrolments
//! and progress; with the rules for their fields.

use super::AppError;
use serde::{Deserialize, Serialize};

pub const CODE_MAX: usize = 32;
pub const TITLE_MAX: usize = 200;
pub const DESCRIPTION_MAX: usize = 2_000;
pub const LESSON_TEXT_MAX: usize = 100_000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BranchView {
    pub id: u64,
    pub name: String,
    pub description: String,
    pub parent: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CourseStatus {
    Active,
    Archived,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LessonView {
    pub id: u64,
    pub title: String,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CourseView {
    pub id: u64,
    pub code: String,
    pub title: String,
    pub description: String,
    pub status: CourseStatus,
    pub lessons: Vec<LessonView>,
    pub enrolled: u64,
}

/// A row of the courses table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CourseRow {
    pub id: u64,
    pub code: String,
    pub title: String,
    pub status: CourseStatus,
    pub lessons: u32,
    pub enrolled: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurriculumView {
    pub id: u64,
    pub name: String,
    pub description: String,
    /// Course ids in order.
    pub courses: Vec<u64>,
}

/// How an enrolment was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EnrolSource {
    Manual,
    Curriculum,
    GroupSync,
    GroupKey,
    DefaultGroup,
    Import,
}

impl EnrolSource {
    pub fn label(self) -> &'static str {
        match self {
            EnrolSource::Manual => "manual",
            EnrolSource::Curriculum => "curriculum",
            EnrolSource::GroupSync => "group sync",
            EnrolSource::GroupKey => "group key",
            EnrolSource::DefaultGroup => "default group",
            EnrolSource::Import => "import",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProgressStatus {
    NotStarted,
    InProgress,
    Completed,
}

impl ProgressStatus {
    pub fn label(self) -> &'static str {
        match self {
            ProgressStatus::NotStarted => "Not started",
            ProgressStatus::InProgress => "In progress",
            ProgressStatus::Completed => "Completed",
        }
    }
}

/// A learner's standing in one course, derived from the lessons they completed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    pub done: u32,
    pub total: u32,
    pub status: ProgressStatus,
    /// When the course was completed (the last lesson done), while it is.
    pub completed_at: Option<u64>,
}

/// One enrolment with its progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrolmentView {
    pub user_id: u64,
    pub course_id: u64,
    pub source: EnrolSource,
    pub via_curriculum: Option<u64>,
    pub enrolled_at: u64,
    pub progress: Progress,
}

/// What enrolling in a curriculum did, course by course.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrolSummary {
    pub enrolled: u32,
    pub already: u32,
    /// Archived courses of the curriculum, which take no new enrolments.
    pub skipped_archived: u32,
}

/// A name or title: one line (the text normaliser's rules), 1 to `TITLE_MAX` characters.
/// `what` names it when blank ("title" → "Enter a title.").
pub fn validate_title(field: &str, raw: &str, what: &str) -> Result<String, AppError> {
    super::text::line(field, raw, TITLE_MAX, Some(&format!("a {what}")))
}

/// A course code: trimmed, 1–32 ASCII letters, digits, `-`, `_`, `.`; unique ignoring case.
pub fn validate_code(raw: &str) -> Result<String, AppError> {
    let code = super::text::line("code", raw, CODE_MAX, Some("a course code"))?;
    if !code
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(AppError::invalid(
            "code",
            "Use only letters A–Z, digits, '-', '_' and '.'.",
        ));
    }
    Ok(code)
}

/// An optional description: several lines, up to `DESCRIPTION_MAX` characters.
pub fn validate_description(raw: &str) -> Result<String, AppError> {
    super::text::block("description", raw, DESCRIPTION_MAX, false)
}

/// A lesson's text: several lines (indentation kept), up to `LESSON_TEXT_MAX` characters
/// (shown as text, never as HTML).
pub fn validate_lesson_text(raw: &str) -> Result<String, AppError> {
    super::text::block("text", raw, LESSON_TEXT_MAX, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_rules() {
        assert_eq!(validate_code(" PHY-101 ").unwrap(), "PHY-101");
        assert!(validate_code("has space").is_err());
        assert!(validate_code("").is_err());
        assert!(validate_code(&"x".repeat(33)).is_err());
        assert_eq!(
            validate_title("name", "  Physics ", "name").unwrap(),
            "Physics"
        );
        assert_eq!(
            validate_title("name", "", "name")
                .unwrap_err()
                .field_message("name")
                .unwrap(),
            "Enter a name."
        );
        assert!(validate_description(&"d".repeat(2001)).is_err());
        assert!(validate_lesson_text(&"t".repeat(100_001)).is_err());
    }
}

/// An enrolment on a course's page: who, how, and how far.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrolmentRow {
    pub user_id: u64,
    pub login: String,
    pub display_name: String,
    pub source: EnrolSource,
    pub enrolled_at: u64,
    pub progress: Progress,
}

/// A curriculum with its courses resolved, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurriculumDetail {
    pub curriculum: CurriculumView,
    pub courses: Vec<CourseRow>,
}

/// One of the learner's own courses on "My courses".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MyCourse {
    pub course_id: u64,
    pub code: String,
    pub title: String,
    pub progress: Progress,
    /// The curriculum the enrolment came from, if any: (id, name).
    pub curriculum: Option<(u64, String)>,
}

/// A course as its learner reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LearnerCourse {
    pub id: u64,
    pub code: String,
    pub title: String,
    pub description: String,
    pub lessons: Vec<LessonView>,
    /// Ids of the lessons this learner has done.
    pub done: Vec<u64>,
    pub progress: Progress,
}
