//! The courses and curricula attached to a group.
//!
//! A group's links are one [`GroupLinksRecord`] (tree `group_links`), changed in the same
//! transaction as the group's counts, so any transaction can expand a group into the courses it
//! gives: its own, then its curricula's, each once ([`tx_group_courses`]). The reverse indexes
//! `course_groups` / `curriculum_groups` (target id ++ group id) find the groups of a course or
//! curriculum that is being deleted.

use crate::server::store::StoreError;

use super::*;

#[derive(Clone, Copy)]
pub enum LinkKind {
    Course,
    Curriculum,
}

/// The store's operations on this area (see the contract in `store/mod.rs`).
pub trait GroupLinks: Send + Sync {
    /// Every course `group` gives: its own and its curricula's, each once, in the order they
    /// were attached. For showing and counting: a change made at the same moment may show
    /// half done (a redemption or a mass enrolment reads what it gives in its own
    /// transaction).
    fn group_course_records(&self, group: u64) -> Result<Vec<CourseRecord>, StoreError>;

    /// Attaches (`add`) or detaches a course. Attaching twice or detaching an absent link
    /// changes nothing (`Ok(false)`); an unknown course is `NotFound`.
    fn link_group_course(
        &self,
        actor: Actor,
        group: u64,
        course: u64,
        add: bool,
    ) -> Result<bool, StoreError>;

    /// Attaches (`add`) or detaches a curriculum, like [`Store::link_group_course`].
    fn link_group_curriculum(
        &self,
        actor: Actor,
        group: u64,
        curriculum: u64,
        add: bool,
    ) -> Result<bool, StoreError>;

    /// Attaches several courses and curricula to `group` at once (the Courses tab's checklist):
    /// in one transaction with one audit event naming them, so either all are attached or
    /// none is. Ones already attached, or listed twice, are passed over; returns how many were
    /// attached. Refused, with nothing changed: no id at all, or more than [`ATTACH_MAX`]
    /// (`Invalid` on `courses`); an id that is no course or curriculum (`Invalid` on `courses`
    /// or `curricula`, naming it); an unknown group (`NotFound`).
    fn attach_links(
        &self,
        actor: Actor,
        group: u64,
        courses: &[u64],
        curricula: &[u64],
    ) -> Result<u32, StoreError>;

    /// A page of the courses not yet attached to `group` (its own; those of its curricula may
    /// still be attached by themselves), searched as [`Store::list_courses`] does.
    fn courses_to_attach(
        &self,
        group: u64,
        query: &str,
        page: u32,
        per_page: u32,
    ) -> Result<(Vec<crate::model::catalog::CourseRow>, u64, bool), StoreError>;

    /// A page of the curricula not yet attached to `group`, searched as
    /// [`Store::list_curricula`] does.
    fn curricula_to_attach(
        &self,
        group: u64,
        query: &str,
        page: u32,
        per_page: u32,
    ) -> Result<(Vec<crate::model::catalog::CurriculumView>, u64, bool), StoreError>;

    /// The group's links record (empty when it has none).
    fn group_links_record(&self, group: u64) -> Result<GroupLinksRecord, StoreError>;

    /// The group's course ids and curriculum ids, in the order they were attached.
    fn group_links(&self, group: u64) -> Result<(Vec<u64>, Vec<u64>), StoreError> {
        let rec = self.group_links_record(group)?;
        Ok((rec.courses, rec.curricula))
    }

    /// Every course the group gives: its own and its curricula's, each once.
    fn group_course_ids_with_curricula(&self, group: u64) -> Result<Vec<u64>, StoreError> {
        Ok(self
            .group_course_records(group)?
            .into_iter()
            .map(|c| c.id)
            .collect())
    }
}

/// Most courses and curricula one [`SledStore::attach_links`] attaches (a page of the checklist is
/// far fewer): bounds the transaction and its audit line.
pub const ATTACH_MAX: usize = 100;

/// [`GroupLinks::attach_links`]' refusals before any transaction: nothing to attach, or more
/// than [`ATTACH_MAX`].
pub fn check_attach(courses: &[u64], curricula: &[u64]) -> Result<(), StoreError> {
    if courses.is_empty() && curricula.is_empty() {
        return Err(StoreError::invalid(
            "courses",
            "Tick at least one course or curriculum to attach.",
        ));
    }
    if courses.len() + curricula.len() > ATTACH_MAX {
        return Err(StoreError::invalid(
            "courses",
            format!("Attach at most {ATTACH_MAX} at a time."),
        ));
    }
    Ok(())
}

/// One kind's part of [`GroupLinks::attach_links`], inside the caller's transaction `t`: each
/// of `ids` not yet in `list` is appended to it and handed to `append` (the backend's write);
/// returns the labels of those attached, in order. `label` looks a target up (its course code
/// or curriculum name); one that is not there refuses the whole attach through `refuse`
/// (`Invalid` on `courses` or `curricula`, naming it), so the caller's transaction writes
/// nothing.
pub fn attach_kind<T, E>(
    t: &mut T,
    kind: LinkKind,
    ids: &[u64],
    list: &mut Vec<u64>,
    label: impl Fn(&mut T, u64) -> Result<Option<String>, E>,
    append: impl Fn(&mut T, u64) -> Result<(), E>,
    refuse: impl Fn(StoreError) -> E,
) -> Result<Vec<String>, E> {
    let mut labels = Vec::new();
    for &id in ids {
        let Some(name) = label(t, id)? else {
            let (field, what) = match kind {
                LinkKind::Course => ("courses", "course"),
                LinkKind::Curriculum => ("curricula", "curriculum"),
            };
            return Err(refuse(StoreError::invalid(
                field,
                format!(
                    "There is no {what} #{id} (deleted meanwhile?): nothing was attached. \
                     Reload the page and choose again."
                ),
            )));
        };
        if !list.contains(&id) {
            list.push(id);
            append(t, id)?;
            labels.push(name);
        }
    }
    Ok(labels)
}

/// The audit line of an attach, e.g. "Attached courses A, B and curriculum C."
pub fn attached_detail(courses: &[String], curricula: &[String]) -> String {
    let parts: Vec<String> = [
        (courses, "course", "courses"),
        (curricula, "curriculum", "curricula"),
    ]
    .into_iter()
    .filter(|(labels, ..)| !labels.is_empty())
    .map(|(labels, one, many)| {
        let what = if labels.len() == 1 { one } else { many };
        format!("{what} {}", labels.join(", "))
    })
    .collect();
    format!("Attached {}.", parts.join(" and "))
}
