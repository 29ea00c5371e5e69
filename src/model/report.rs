//! Reports as the browser sees them: a group's members × courses with status and progress, the
//! rates per course and overall, the groups with their completion, and one learner's courses.
//!
//! Statuses are derived from lessons done (see `derive_progress`), never stored. A member not
//! enrolled in a course of the group has a "not enrolled" cell, which no rate counts.

use super::catalog::{Progress, ProgressStatus};
use super::Paged;
use serde::{Deserialize, Serialize};

/// One member's standing in one course of the group; `None`: not enrolled.
pub type ReportCell = Option<Progress>;

/// Whole percent of `part` in `whole` (0 when `whole` is 0), rounded down so that 100 %
/// means all of it.
pub fn percent(part: u64, whole: u64) -> u32 {
    (part * 100).checked_div(whole).unwrap_or(0) as u32
}

/// Whole percents of parts that make a whole together (a legend, a stacked bar), which add up
/// to exactly 100 (or are all 0 when every part is): each part gets its rounded-down share,
/// then the points still missing go one each to the parts with the largest remainders
/// (largest-remainder rounding). Ties go to the smaller part, so a part that is not the whole
/// does not reach 100 % while another part is still more than nothing.
pub fn percents(parts: &[u64]) -> Vec<u32> {
    let whole: u128 = parts.iter().map(|&p| u128::from(p)).sum();
    if whole == 0 {
        return vec![0; parts.len()];
    }
    let mut out: Vec<u32> = Vec::with_capacity(parts.len());
    let mut rest: Vec<(u128, u64, usize)> = Vec::with_capacity(parts.len());
    for (i, &p) in parts.iter().enumerate() {
        let scaled = u128::from(p) * 100;
        // At most 100: a part is never more than the whole.
        out.push(u32::try_from(scaled / whole).unwrap_or(100));
        rest.push((scaled % whole, p, i));
    }
    let given: u32 = out.iter().sum();
    rest.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    for &(_, _, i) in rest.iter().take(100u32.saturating_sub(given) as usize) {
        out[i] += 1;
    }
    out
}

/// A cell's progress in whole percent of lessons done (a course without lessons: 0, or 100
/// once completed).
pub fn cell_percent(p: &Progress) -> u32 {
    if p.status == ProgressStatus::Completed {
        100
    } else {
        percent(p.done.into(), p.total.into())
    }
}

/// How many enrolled cells have each status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusCounts {
    pub not_started: u64,
    pub in_progress: u64,
    pub completed: u64,
    /// Members of the group not enrolled in the course (not counted in rates).
    pub not_enrolled: u64,
}

impl StatusCounts {
    pub fn add(&mut self, cell: &ReportCell) {
        match cell.as_ref().map(|p| p.status) {
            None => self.not_enrolled += 1,
            Some(ProgressStatus::NotStarted) => self.not_started += 1,
            Some(ProgressStatus::InProgress) => self.in_progress += 1,
            Some(ProgressStatus::Completed) => self.completed += 1,
        }
    }

    /// Enrolled cells.
    pub fn enrolled(&self) -> u64 {
        self.not_started + self.in_progress + self.completed
    }

    /// Completed of enrolled, in whole percent.
    pub fn rate(&self) -> u32 {
        percent(self.completed, self.enrolled())
    }
}

/// A course of the group with its counts over every member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportCourse {
    pub id: u64,
    pub code: String,
    pub title: String,
    pub counts: StatusCounts,
}

/// One member's row: a cell per shown course, in the order of [`GroupReportView::shown`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportRow {
    pub user_id: u64,
    pub login: String,
    pub display_name: String,
    pub cells: Vec<ReportCell>,
}

/// What a report shows: rows with a cell of this status (`None`: every row), and the columns of
/// one course (`None`: every course).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportFilter {
    pub status: Option<StatusFilter>,
    pub course: Option<u64>,
}

/// The statuses a report can be filtered by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusFilter {
    NotStarted,
    InProgress,
    Completed,
    NotEnrolled,
}

impl StatusFilter {
    pub const ALL: [StatusFilter; 4] = [
        StatusFilter::NotStarted,
        StatusFilter::InProgress,
        StatusFilter::Completed,
        StatusFilter::NotEnrolled,
    ];

    /// The value in a URL (`status=in_progress`).
    pub fn key(self) -> &'static str {
        match self {
            StatusFilter::NotStarted => "not_started",
            StatusFilter::InProgress => "in_progress",
            StatusFilter::Completed => "completed",
            StatusFilter::NotEnrolled => "not_enrolled",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            StatusFilter::NotEnrolled => "Not enrolled",
            StatusFilter::NotStarted => "Not started",
            StatusFilter::InProgress => "In progress",
            StatusFilter::Completed => "Completed",
        }
    }

    /// A URL value; anything else (blank included) is no filter.
    pub fn parse(raw: &str) -> Option<StatusFilter> {
        Self::ALL.into_iter().find(|s| s.key() == raw.trim())
    }

    /// Whether a cell has this status.
    pub fn matches(self, cell: &ReportCell) -> bool {
        matches!(
            (self, cell.as_ref().map(|p| p.status)),
            (StatusFilter::NotEnrolled, None)
                | (StatusFilter::NotStarted, Some(ProgressStatus::NotStarted))
                | (StatusFilter::InProgress, Some(ProgressStatus::InProgress))
                | (StatusFilter::Completed, Some(ProgressStatus::Completed))
        )
    }
}

/// A cell's status in words.
pub fn cell_label(cell: &ReportCell) -> &'static str {
    match cell {
        None => StatusFilter::NotEnrolled.label(),
        Some(p) => p.status.label(),
    }
}

impl ReportFilter {
    /// The filter of a report URL's `status` and `course` values (unknown values: no filter).
    pub fn parse(status: &str, course: &str) -> ReportFilter {
        ReportFilter {
            status: StatusFilter::parse(status),
            course: course.trim().parse().ok(),
        }
    }
}

/// A group's report: every course with its counts over all members (whatever the filter), the
/// courses shown as columns, and a page of the members matching the filter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupReportView {
    pub group_id: u64,
    pub group_name: String,
    pub members: u64,
    pub courses: Vec<ReportCourse>,
    /// Indexes into `courses` of the columns shown, in order.
    pub shown: Vec<usize>,
    /// All cells of all members.
    pub overall: StatusCounts,
    pub rows: Paged<ReportRow>,
}

/// A row of the Reports page: a group with its completion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportGroupRow {
    pub id: u64,
    pub name: String,
    pub members: u64,
    /// Courses the group gives, its curricula's included.
    pub courses: u32,
    /// Every cell of its members together; `None` for a group of more than
    /// [`LIST_COMPLETION_MAX_MEMBERS`] (its own report has it).
    pub overall: Option<StatusCounts>,
}

/// The largest group whose completion the Reports list works out (a page of 20 such groups
/// reads at most 100,000 members).
pub const LIST_COMPLETION_MAX_MEMBERS: u64 = 5_000;

/// One course of a learner's report: what the groups give and what they are enrolled in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LearnerReportRow {
    pub course_id: u64,
    pub code: String,
    pub title: String,
    /// Names of the learner's groups that give the course (empty: enrolled some other way).
    pub groups: Vec<String>,
    pub cell: ReportCell,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(done: u32, total: u32) -> Progress {
        let status = match done {
            0 => ProgressStatus::NotStarted,
            d if d == total => ProgressStatus::Completed,
            _ => ProgressStatus::InProgress,
        };
        Progress {
            done,
            total,
            status,
            completed_at: None,
        }
    }

    #[test]
    fn counts_rates_and_filters() {
        let mut c = StatusCounts::default();
        for cell in [
            None,
            Some(p(0, 3)),
            Some(p(1, 3)),
            Some(p(3, 3)),
            Some(p(3, 3)),
        ] {
            c.add(&cell);
        }
        assert_eq!((c.enrolled(), c.not_enrolled, c.rate()), (4, 1, 50));
        assert_eq!(StatusCounts::default().rate(), 0);
        assert_eq!(cell_percent(&p(1, 3)), 33);
        // Parts of one whole add up to 100, where rounding each down gives 99.
        assert_eq!(percents(&[1, 1, 1]), [34, 33, 33]);
        assert_eq!(percents(&[2, 2, 3]), [29, 28, 43]);
        assert_eq!(percents(&[199, 1]), [99, 1]);
        assert_eq!(percents(&[1, 199]), [1, 99]);
        assert_eq!(percents(&[5, 0, 0]), [100, 0, 0]);
        assert_eq!(percents(&[0, 0]), [0, 0]);
        assert_eq!(percents(&[u64::MAX, u64::MAX, u64::MAX]), [34, 33, 33]);
        for n in 1..40u64 {
            let parts = [n, 2 * n + 1, 7, n % 5];
            assert_eq!(percents(&parts).iter().sum::<u32>(), 100, "{parts:?}");
        }
        assert!(StatusFilter::NotEnrolled.matches(&None));
        assert!(!StatusFilter::Completed.matches(&Some(p(1, 3))));
        let f = ReportFilter::parse("in_progress", " 7 ");
        assert_eq!(f.status, Some(StatusFilter::InProgress));
        assert_eq!(f.course, Some(7));
        assert_eq!(ReportFilter::parse("x", "y"), ReportFilter::default());
    }
}
