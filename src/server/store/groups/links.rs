//! The courses and curricula attached to a group.

use super::*;

impl Store {
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
        let event = self.db.generate_id()?;
        let (targets, forward, backward, what) = match kind {
            LinkKind::Course => (
                &self.courses,
                &self.group_courses,
                &self.course_groups,
                "course",
            ),
            LinkKind::Curriculum => (
                &self.curricula,
                &self.group_curricula,
                &self.curriculum_groups,
                "curriculum",
            ),
        };
        let r = (&self.groups, targets, forward, backward, &self.audit).transaction(
            |(groups, targets, forward, backward, audit)| {
                let mut rec = tx_get(groups, group)?;
                let there = forward.get(pair_key(group, target))?.is_some();
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
                    forward.insert(&pair_key(group, target), &[])?;
                    backward.insert(&pair_key(target, group), &[])?;
                } else {
                    forward.remove(&pair_key(group, target))?;
                    backward.remove(&pair_key(target, group))?;
                }
                let delta: i32 = if add { 1 } else { -1 };
                match kind {
                    LinkKind::Course => rec.courses = rec.courses.saturating_add_signed(delta),
                    LinkKind::Curriculum => {
                        rec.curricula = rec.curricula.saturating_add_signed(delta)
                    }
                }
                tx_put(groups, &rec)?;
                let verb = if add { "Attached" } else { "Detached" };
                tx_audit(
                    audit,
                    group,
                    event,
                    actor,
                    AuditAction::CoursesChanged,
                    format!("{verb} {what} {label}."),
                )?;
                Ok(true)
            },
        )?;
        Ok(r)
    }

    /// The group's course ids and curriculum ids.
    pub fn group_links(&self, group: u64) -> Result<(Vec<u64>, Vec<u64>), StoreError> {
        Ok((
            suffix_ids(&self.group_courses, "group_courses", group)?,
            suffix_ids(&self.group_curricula, "group_curricula", group)?,
        ))
    }

    /// Every course the group leads to: its own and its curricula's, without repeats.
    pub fn group_course_ids_with_curricula(&self, group: u64) -> Result<Vec<u64>, StoreError> {
        let (mut courses, curricula) = self.group_links(group)?;
        for cur in curricula {
            if let Some(c) = self.get_curriculum(cur)? {
                courses.extend(c.courses);
            }
        }
        let mut seen = HashSet::new();
        courses.retain(|c| seen.insert(*c));
        Ok(courses)
    }

    /// Detaches a course (or curriculum) that is being deleted from every group. Run after the
    /// deletion committed: no new link to it can appear then, so nothing is left behind.
    pub(crate) fn unlink_deleted(&self, target: u64, curriculum: bool) -> Result<(), StoreError> {
        let (forward, backward, name) = if curriculum {
            (
                &self.group_curricula,
                &self.curriculum_groups,
                "curriculum_groups",
            )
        } else {
            (&self.group_courses, &self.course_groups, "course_groups")
        };
        for group in suffix_ids(backward, name, target)? {
            (&self.groups, forward, backward).transaction(|(groups, forward, backward)| {
                backward.remove(&pair_key(target, group))?;
                if forward.remove(&pair_key(group, target))?.is_none() {
                    return Ok(());
                }
                if groups.get(id_key(group))?.is_none() {
                    return Ok(());
                }
                let mut rec = tx_get(groups, group)?;
                if curriculum {
                    rec.curricula = rec.curricula.saturating_sub(1);
                } else {
                    rec.courses = rec.courses.saturating_sub(1);
                }
                tx_put(groups, &rec)
            })?;
        }
        Ok(())
    }
}
