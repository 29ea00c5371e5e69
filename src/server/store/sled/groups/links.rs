//! The sled backend's GroupLinks (the interface: `crate::server::store::groups::links`).

pub(crate) use crate::server::store::groups::links::*;

#[allow(unused_imports)]
use crate::server::store::prelude::*;
use crate::server::store::sled::tables::{of, TxOf};

use super::*;
use crate::server::store::sled::tx::tree_set;

/// Inside a transaction: a group's links (none yet: empty).
pub(crate) fn tx_links(links: &TransactionalTree, group: u64) -> Tx<GroupLinksRecord> {
    Ok(TxOf::<of::group_links>::from(links)
        .row(group)?
        .unwrap_or_default())
}

pub(crate) fn tx_put_links(
    links: &TransactionalTree,
    group: u64,
    rec: &GroupLinksRecord,
) -> Tx<()> {
    if rec.courses.is_empty() && rec.curricula.is_empty() {
        links.remove(&id_key(group))?;
    } else {
        TxOf::<of::group_links>::from(links).put(group, rec)?;
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

tree_set! {
    /// The trees attaching courses and curricula to a group writes.
    struct AttachTx {
        groups, courses, curricula, group_links, course_groups, curriculum_groups, audit, audit_index,
    }
}

impl GroupLinks for SledStore {
    fn group_course_records(&self, group: u64) -> Result<Vec<CourseRecord>, StoreError> {
        // Read as it is, not in a transaction: every caller shows or counts the courses, and
        // a sled transaction, even one that only reads, appends a batch marker to the log
        // when it commits (under load of the report tab, the log's I/O threads took a tenth of
        // the server's CPU). What a redemption or a mass enrolment gives is read inside its own
        // transaction (`tx_group_courses`).
        self.group_courses_read_plainly(group)
    }

    fn link_group_course(
        &self,
        actor: Actor,
        group: u64,
        course: u64,
        add: bool,
    ) -> Result<bool, StoreError> {
        self.link(actor, group, course, add, LinkKind::Course)
    }

    fn link_group_curriculum(
        &self,
        actor: Actor,
        group: u64,
        curriculum: u64,
        add: bool,
    ) -> Result<bool, StoreError> {
        self.link(actor, group, curriculum, add, LinkKind::Curriculum)
    }

    fn attach_links(
        &self,
        actor: Actor,
        group: u64,
        courses: &[u64],
        curricula: &[u64],
    ) -> Result<u32, StoreError> {
        check_attach(courses, curricula)?;
        let _w = self.writing();
        let event = self.new_id()?;
        let n = AttachTx::run(self, |t| {
            let AttachTx {
                groups,
                courses: course_t,
                curricula: curriculum_t,
                group_links: links,
                course_groups: course_back,
                curriculum_groups: curriculum_back,
                audit: trail,
                audit_index: index,
            } = *t;
            let mut rec = tx_get(&groups, group)?;
            let mut l = tx_links(&links, group)?;
            let course_labels = attach_kind(
                &mut (),
                LinkKind::Course,
                courses,
                &mut l.courses,
                |_, c| Ok(super::super::courses::tx_get_course(&course_t, c)?.map(|c| c.code)),
                |_, c| Ok(course_back.insert(&pair_key(c, group), &[]).map(drop)?),
                ConflictableTransactionError::Abort,
            )?;
            let curriculum_labels = attach_kind(
                &mut (),
                LinkKind::Curriculum,
                curricula,
                &mut l.curricula,
                |_, c| {
                    Ok(
                        super::super::curricula::tx_get_curriculum(&curriculum_t, c)?
                            .map(|c| c.name),
                    )
                },
                |_, c| Ok(curriculum_back.insert(&pair_key(c, group), &[]).map(drop)?),
                ConflictableTransactionError::Abort,
            )?;
            let n = (course_labels.len() + curriculum_labels.len()) as u32;
            if n == 0 {
                return Ok(0);
            }
            rec.courses = l.courses.len() as u32;
            rec.curricula = l.curricula.len() as u32;
            tx_put_links(&links, group, &l)?;
            tx_put(&groups, &rec)?;
            tx_audit(
                AuditTrees {
                    trail: &trail,
                    index,
                },
                group,
                event,
                actor,
                AuditAction::CoursesChanged,
                attached_detail(&course_labels, &curriculum_labels),
            )?;
            Ok(n)
        })?;
        Ok(n)
    }

    fn courses_to_attach(
        &self,
        group: u64,
        query: &str,
        page: u32,
        per_page: u32,
    ) -> Result<(Vec<crate::model::catalog::CourseRow>, u64, bool), StoreError> {
        self.get_group(group)?
            .ok_or(StoreError::NotFound("group"))?;
        let except: HashSet<u64> = self
            .group_links_record(group)?
            .courses
            .into_iter()
            .collect();
        self.courses_except(query, page, per_page, &except)
    }

    fn curricula_to_attach(
        &self,
        group: u64,
        query: &str,
        page: u32,
        per_page: u32,
    ) -> Result<(Vec<crate::model::catalog::CurriculumView>, u64, bool), StoreError> {
        self.get_group(group)?
            .ok_or(StoreError::NotFound("group"))?;
        let except: HashSet<u64> = self
            .group_links_record(group)?
            .curricula
            .into_iter()
            .collect();
        self.curricula_except(query, page, per_page, &except)
    }

    fn group_links_record(&self, group: u64) -> Result<GroupLinksRecord, StoreError> {
        self.group_links.row(group).map(Option::unwrap_or_default)
    }
}

impl SledStore {
    /// [`tx_group_courses`] without a transaction: for a page, or a store that cannot write.
    pub(crate) fn group_courses_read_plainly(
        &self,
        group: u64,
    ) -> Result<Vec<CourseRecord>, StoreError> {
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

    pub(crate) fn link(
        &self,
        actor: Actor,
        group: u64,
        target: u64,
        add: bool,
        kind: LinkKind,
    ) -> Result<bool, StoreError> {
        let _w = self.writing();
        let event = self.new_id()?;
        let (targets, backward, what) = match kind {
            LinkKind::Course => (&*self.courses, &self.course_groups, "course"),
            LinkKind::Curriculum => (&*self.curricula, &self.curriculum_groups, "curriculum"),
        };
        let r = (
            &*self.groups,
            targets,
            &*self.group_links,
            backward,
            &*self.audit,
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
                let label = match kind {
                    LinkKind::Course => TxOf::<of::courses>::from(targets)
                        .row(target)?
                        .map(|c| c.code),
                    LinkKind::Curriculum => TxOf::<of::curricula>::from(targets)
                        .row(target)?
                        .map(|c| c.name),
                };
                let label = match label {
                    Some(label) => label,
                    None if add => return abort(StoreError::NotFound(what)),
                    None => format!("#{target}"),
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
            (&*self.groups, &*self.group_links, backward).transaction(
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
