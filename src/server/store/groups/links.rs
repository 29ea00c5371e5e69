//! The courses and curricula attached to a group.
//!
//! A group's links are one [`GroupLinksRecord`] (tree `group_links`), changed in the same
//! transaction as the group's counts, so any transaction can expand a group into the courses it
//! gives: its own, then its curricula's, each once ([`tx_group_courses`]). The reverse indexes
//! `course_groups` / `curriculum_groups` (target id ++ group id) find the groups of a course or
//! curriculum that is being deleted.

use super::*;

#[derive(Clone, Copy)]
pub enum LinkKind {
    Course,
    Curriculum,
}

/// Inside a transaction: a group's links (none yet: empty).
pub(crate) fn tx_links(links: &TransactionalTree, group: u64) -> Tx<GroupLinksRecord> {
    let key = id_key(group);
    match links.get(key)? {
        Some(b) => codec::decode(&key, &b).or_else(abort),
        None => Ok(GroupLinksRecord::default()),
    }
}

pub(crate) fn tx_put_links(
    links: &TransactionalTree,
    group: u64,
    rec: &GroupLinksRecord,
) -> Tx<()> {
    if rec.courses.is_empty() && rec.curricula.is_empty() {
        links.remove(&id_key(group))?;
    } else {
        links.insert(&id_key(group), codec::encode(rec).or_else(abort)?)?;
    }
    Ok(())
}

/// Inside a transaction: every course `group` gives, its own first and then its curricula's
/// in their order, each once; courses and curricula deleted since are left out.
pub(crate) fn tx_group_courses(
    links: &TransactionalTree,
    curricula: &TransactionalTree,
    courses: &TransactionalTree,
    group: u64,
) -> Tx<Vec<CourseRecord>> {
    let rec = tx_links(links, group)?;
    let mut ids = rec.courses.clone();
    for cur in &rec.curricula {
        if let Some(c) = super::super::curricula::tx_get_curriculum(curricula, *cur)? {
            ids.extend(c.courses);
        }
    }
    super::super::enrolments::tx_courses(courses, &ids)
}

impl Store {
    /// Every course `group` gives (see [`tx_group_courses`]), read in a transaction of its own.
    pub fn group_course_records(&self, group: u64) -> Result<Vec<CourseRecord>, StoreError> {
        let r = (&self.group_links, &self.curricula, &self.courses).transaction(
            |(links, curricula, courses)| tx_group_courses(links, curricula, courses, group),
        );
        match r.map_err(StoreError::from) {
            // sled refuses every transaction, reads too, once it cannot write (`storage.rs`);
            // no writer runs then, so plain reads cannot see half of a change.
            Err(StoreError::Db(_)) => self.group_courses_read_plainly(group),
            other => other,
        }
    }

    /// [`tx_group_courses`] without a transaction: for a store that cannot write.
    fn group_courses_read_plainly(&self, group: u64) -> Result<Vec<CourseRecord>, StoreError> {
        let rec = self.group_links_record(group)?;
        let mut ids = rec.courses.clone();
        for cur in &rec.curricula {
            if let Some(c) = self.get_curriculum(*cur)? {
                ids.extend(c.courses);
            }
        }
        let mut out: Vec<CourseRecord> = Vec::with_capacity(ids.len());
        for id in ids {
            if out.iter().any(|c| c.id == id) {
                continue;
            }
            if let Some(c) = self.get_course(id)? {
                out.push(c);
            }
        }
        Ok(out)
    }

    /// Attaches (`add`) or detaches a course. Attaching twice or detaching an absent link
    /// changes nothing (`Ok(false)`); an unknown course is `NotFound`.
    pub fn link_group_course(
        &self,
        actor: Actor,
        group: u64,
        course: u64,
        add: bool,
    ) -> Result<bool, StoreError> {
        self.link(actor, group, course, add, LinkKind::Course)
    }

    /// Attaches (`add`) or detaches a curriculum, like [`Store::link_group_course`].
    pub fn link_group_curriculum(
        &self,
        actor: Actor,
        group: u64,
        curriculum: u64,
        add: bool,
    ) -> Result<bool, StoreError> {
        self.link(actor, group, curriculum, add, LinkKind::Curriculum)
    }

    fn link(
        &self,
        actor: Actor,
        group: u64,
        target: u64,
        add: bool,
        kind: LinkKind,
    ) -> Result<bool, StoreError> {
        let _w = self.writing();
        let event = self.db.generate_id()?;
        let (targets, backward, what) = match kind {
            LinkKind::Course => (&self.courses, &self.course_groups, "course"),
            LinkKind::Curriculum => (&self.curricula, &self.curriculum_groups, "curriculum"),
        };
        let r = (
            &self.groups,
            targets,
            &self.group_links,
            backward,
            &self.audit,
            &self.audit_index,
        )
            .transaction(|(groups, targets, links, backward, trail, index)| {
                let mut rec = tx_get(groups, group)?;
                let mut l = tx_links(links, group)?;
                let list = match kind {
                    LinkKind::Course => &mut l.courses,
                    LinkKind::Curriculum => &mut l.curricula,
                };
                let there = list.contains(&target);
                if add == there {
                    return Ok(false);
                }
                let label = match (targets.get(id_key(target))?, kind) {
                    (None, _) if add => return abort(StoreError::NotFound(what)),
                    (None, _) => format!("#{target}"),
                    (Some(b), LinkKind::Course) => {
                        codec::decode::<CourseRecord>(&id_key(target), &b)
                            .map(|c| c.code)
                            .or_else(abort)?
                    }
                    (Some(b), LinkKind::Curriculum) => {
                        codec::decode::<CurriculumRecord>(&id_key(target), &b)
                            .map(|c| c.name)
                            .or_else(abort)?
                    }
                };
                if add {
                    list.push(target);
                    backward.insert(&pair_key(target, group), &[])?;
                } else {
                    list.retain(|t| *t != target);
                    backward.remove(&pair_key(target, group))?;
                }
                rec.courses = l.courses.len() as u32;
                rec.curricula = l.curricula.len() as u32;
                tx_put_links(links, group, &l)?;
                tx_put(groups, &rec)?;
                let verb = if add { "Attached" } else { "Detached" };
                tx_audit(
                    AuditTrees { trail, index },
                    group,
                    event,
                    actor,
                    AuditAction::CoursesChanged,
                    format!("{verb} {what} {label}."),
                )?;
                Ok(true)
            })?;
        Ok(r)
    }

    /// The group's links record (empty when it has none).
    pub fn group_links_record(&self, group: u64) -> Result<GroupLinksRecord, StoreError> {
        let key = id_key(group);
        self.group_links
            .get(key)?
            .map(|b| codec::decode(&key, &b))
            .transpose()
            .map(Option::unwrap_or_default)
    }

    /// The group's course ids and curriculum ids, in the order they were attached.
    pub fn group_links(&self, group: u64) -> Result<(Vec<u64>, Vec<u64>), StoreError> {
        let rec = self.group_links_record(group)?;
        Ok((rec.courses, rec.curricula))
    }

    /// Every course the group gives: its own and its curricula's, each once.
    pub fn group_course_ids_with_curricula(&self, group: u64) -> Result<Vec<u64>, StoreError> {
        Ok(self
            .group_course_records(group)?
            .into_iter()
            .map(|c| c.id)
            .collect())
    }

    /// Detaches a course (or curriculum) that was deleted from every group still linking it;
    /// returns how many. Run by the job that follows the deletion: no new link to it can
    /// appear once it is gone, so nothing is left behind, and it may run again after a crash.
    pub(crate) fn unlink_deleted(&self, target: u64, kind: LinkKind) -> Result<u64, StoreError> {
        let _w = self.writing();
        let (backward, name) = match kind {
            LinkKind::Course => (&self.course_groups, "course_groups"),
            LinkKind::Curriculum => (&self.curriculum_groups, "curriculum_groups"),
        };
        let mut n = 0;
        for group in suffix_ids(backward, name, target)? {
            (&self.groups, &self.group_links, backward).transaction(
                |(groups, links, backward)| {
                    backward.remove(&pair_key(target, group))?;
                    let mut l = tx_links(links, group)?;
                    match kind {
                        LinkKind::Course => l.courses.retain(|c| *c != target),
                        LinkKind::Curriculum => l.curricula.retain(|c| *c != target),
                    }
                    tx_put_links(links, group, &l)?;
                    if groups.get(id_key(group))?.is_some() {
                        let mut rec = tx_get(groups, group)?;
                        rec.courses = l.courses.len() as u32;
                        rec.curricula = l.curricula.len() as u32;
                        tx_put(groups, &rec)?;
                    }
                    Ok::<_, ConflictableTransactionError<StoreError>>(())
                },
            )?;
            n += 1;
        }
        Ok(n)
    }
}
