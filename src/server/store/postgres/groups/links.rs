//! The PostgreSQL backend's GroupLinks (the interface: `crate::server::store::groups::links`;
//! the behaviour: `sled/groups/links.rs`). A group's links are rows of `group_courses` and
//! `group_curricula` in attach order (`position`); its `courses` / `curricula` counts change
//! in the same transaction.

use super::*;
use crate::model::group::AuditAction;
use crate::server::store::courses::LessonRecord;
use crate::server::store::groups::links::*;
use crate::server::store::postgres::audit;
use crate::server::store::prelude::*;
use std::collections::HashSet;

/// The course records of these ids that exist, in order, each once (sled's `tx_courses`).
pub(crate) fn course_records(
    c: &mut impl GenericClient,
    ids: &[u64],
) -> Result<Vec<CourseRecord>, postgres::Error> {
    let mut seen = HashSet::new();
    let ids: Vec<i64> = ids
        .iter()
        .filter(|i| seen.insert(**i))
        .map(|i| *i as i64)
        .collect();
    let mut found: std::collections::HashMap<u64, CourseRecord> = c
        .query(
            "SELECT id, code, title, description, archived, created_at_ms FROM courses \
             WHERE id = ANY($1)",
            &[&ids],
        )?
        .iter()
        .map(|r| {
            let id = r.get::<_, i64>(0) as u64;
            let rec = CourseRecord {
                id,
                code: r.get(1),
                title: r.get(2),
                description: r.get(3),
                archived: r.get(4),
                lessons: Vec::new(),
                created_at: r.get::<_, i64>(5) as u64,
            };
            (id, rec)
        })
        .collect();
    for r in c.query(
        "SELECT course_id, id, title, text FROM course_lessons WHERE course_id = ANY($1) \
         ORDER BY course_id, position",
        &[&ids],
    )? {
        if let Some(course) = found.get_mut(&(r.get::<_, i64>(0) as u64)) {
            course.lessons.push(LessonRecord {
                id: r.get::<_, i64>(1) as u64,
                title: r.get(2),
                text: r.get(3),
            });
        }
    }
    Ok(ids
        .iter()
        .filter_map(|i| found.remove(&(*i as u64)))
        .collect())
}

/// A group's course ids and curriculum ids, in the order attached.
pub(crate) fn links_of(
    c: &mut impl GenericClient,
    group: u64,
) -> Result<GroupLinksRecord, postgres::Error> {
    let g = group as i64;
    let ids = |rows: Vec<postgres::Row>| rows.iter().map(|r| r.get::<_, i64>(0) as u64).collect();
    Ok(GroupLinksRecord {
        courses: ids(c.query(
            "SELECT course_id FROM group_courses WHERE group_id = $1 ORDER BY position",
            &[&g],
        )?),
        curricula: ids(c.query(
            "SELECT curriculum_id FROM group_curricula WHERE group_id = $1 ORDER BY position",
            &[&g],
        )?),
    })
}

/// Every course `group` gives, its own first and then its curricula's in their order, each
/// once; courses and curricula deleted since are left out (sled's `tx_group_courses`).
pub(crate) fn group_courses(
    c: &mut impl GenericClient,
    group: u64,
) -> Result<Vec<CourseRecord>, postgres::Error> {
    let l = links_of(c, group)?;
    let mut ids = l.courses;
    for cur in &l.curricula {
        let rows = c.query(
            "SELECT course_id FROM curriculum_courses WHERE curriculum_id = $1 ORDER BY position",
            &[&(*cur as i64)],
        )?;
        ids.extend(rows.iter().map(|r| r.get::<_, i64>(0) as u64));
    }
    course_records(c, &ids)
}

/// Sets the group's link counts to what its link rows hold.
fn recount(t: &mut postgres::Transaction<'_>, group: u64) -> Result<(), postgres::Error> {
    t.execute(
        "UPDATE groups SET courses = (SELECT count(*) FROM group_courses WHERE group_id = $1), \
         curricula = (SELECT count(*) FROM group_curricula WHERE group_id = $1) WHERE id = $1",
        &[&(group as i64)],
    )?;
    Ok(())
}

/// The table, its target column and the next position's query for a kind of link.
fn link_table(kind: LinkKind) -> (&'static str, &'static str) {
    match kind {
        LinkKind::Course => ("group_courses", "course_id"),
        LinkKind::Curriculum => ("group_curricula", "curriculum_id"),
    }
}

/// Appends a link (the caller knows it is not there).
fn append(
    t: &mut postgres::Transaction<'_>,
    kind: LinkKind,
    group: u64,
    target: u64,
) -> Result<(), postgres::Error> {
    let (table, column) = link_table(kind);
    t.execute(
        &format!(
            "INSERT INTO {table} (group_id, {column}, position) SELECT $1, $2, \
             coalesce(max(position) + 1, 0) FROM {table} WHERE group_id = $1"
        ),
        &[&(group as i64), &(target as i64)],
    )?;
    Ok(())
}

/// Removes a link and closes the gap it leaves in the positions.
fn detach(
    t: &mut postgres::Transaction<'_>,
    kind: LinkKind,
    group: u64,
    target: u64,
) -> Result<(), postgres::Error> {
    let (table, column) = link_table(kind);
    let removed = t.query_opt(
        &format!("DELETE FROM {table} WHERE group_id = $1 AND {column} = $2 RETURNING position"),
        &[&(group as i64), &(target as i64)],
    )?;
    if let Some(r) = removed {
        let position: i32 = r.get(0);
        t.execute(
            &format!(
                "UPDATE {table} SET position = position - 1 WHERE group_id = $1 AND position > $2"
            ),
            &[&(group as i64), &position],
        )?;
    }
    Ok(())
}

impl GroupLinks for PgStore {
    fn group_course_records(&self, group: u64) -> Result<Vec<CourseRecord>, StoreError> {
        self.page_tx(|t| Ok(group_courses(t, group)?))
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
        let event = self.new_id()?;
        self.write_tx(|t| {
            must(t, group, true)?;
            let mut l = links_of(t, group)?;
            let label = |sql: &'static str| {
                move |t: &mut postgres::Transaction<'_>, id: u64| -> Result<_, PgError> {
                    Ok(t.query_opt(sql, &[&(id as i64)])?
                        .map(|r| r.get::<_, String>(0)))
                }
            };
            let course_labels = attach_kind(
                t,
                LinkKind::Course,
                courses,
                &mut l.courses,
                label("SELECT code FROM courses WHERE id = $1"),
                |t, c| Ok(append(t, LinkKind::Course, group, c)?),
                PgError::from,
            )?;
            let curriculum_labels = attach_kind(
                t,
                LinkKind::Curriculum,
                curricula,
                &mut l.curricula,
                label("SELECT name FROM curricula WHERE id = $1"),
                |t, c| Ok(append(t, LinkKind::Curriculum, group, c)?),
                PgError::from,
            )?;
            let n = (course_labels.len() + curriculum_labels.len()) as u32;
            if n == 0 {
                return Ok(0);
            }
            recount(t, group)?;
            audit::record(
                t,
                group,
                event,
                actor,
                AuditAction::CoursesChanged,
                attached_detail(&course_labels, &curriculum_labels),
            )?;
            Ok(n)
        })
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
        self.courses_except_of(query, page, per_page, &except)
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
        self.curricula_except_of(query, page, per_page, &except)
    }

    fn group_links_record(&self, group: u64) -> Result<GroupLinksRecord, StoreError> {
        self.page_tx(|t| Ok(links_of(t, group)?))
    }
}

/// Ids matching a search, each at its first row, in the order given, that `keep` accepts:
/// skips `skip`, returns up to `take`, counts up to [`TOTAL_CAP`] (sled's `search::page_where`).
fn page_where(
    rows: &[postgres::Row],
    skip: usize,
    take: usize,
    mut keep: impl FnMut(&postgres::Row) -> bool,
) -> (Vec<u64>, u64, bool) {
    let mut seen = HashSet::new();
    let mut ids = Vec::new();
    let mut count = 0u64;
    for r in rows {
        let id = r.get::<_, i64>(0) as u64;
        if !seen.insert(id) || !keep(r) {
            continue;
        }
        if count as usize >= skip && ids.len() < take {
            ids.push(id);
        }
        count += 1;
        if count >= TOTAL_CAP {
            break;
        }
    }
    (ids, count, count >= TOTAL_CAP)
}

impl PgStore {
    /// A page of the courses not in `except`, searched as the course list searches (any part
    /// of the code or title), as sled's `courses_except`.
    fn courses_except_of(
        &self,
        query: &str,
        page: u32,
        per_page: u32,
        except: &HashSet<u64>,
    ) -> Result<(Vec<crate::model::catalog::CourseRow>, u64, bool), StoreError> {
        let (skip, take) = window(page, per_page);
        let q = fold(query);
        let except_ids: Vec<i64> = except.iter().map(|i| *i as i64).collect();
        self.page_tx(|t| {
            let (ids, total, capped) = if q.is_empty() {
                let ids = t
                    .query(
                        "SELECT id FROM courses WHERE NOT (id = ANY($1)) ORDER BY code_folded \
                         OFFSET $2 LIMIT $3",
                        &[&except_ids, &(skip as i64), &(take as i64)],
                    )?
                    .iter()
                    .map(|r| r.get::<_, i64>(0) as u64)
                    .collect();
                let all: i64 = t.query_one("SELECT count(*) FROM courses", &[])?.get(0);
                (ids, (all as u64).saturating_sub(except.len() as u64), false)
            } else {
                let prefix: String = q.chars().take(SUFFIX_MAX).collect();
                let long = prefix.len() < q.len();
                let rows = t.query(
                    "SELECT s.course_id, c.code, c.title FROM course_suffixes s \
                     JOIN courses c ON c.id = s.course_id \
                     WHERE starts_with(s.suffix, $1) ORDER BY s.suffix, s.course_id",
                    &[&prefix],
                )?;
                page_where(&rows, skip, take, |r| {
                    let id = r.get::<_, i64>(0) as u64;
                    !except.contains(&id)
                        && (!long
                            || fold(r.get::<_, &str>(1)).contains(&q)
                            || fold(r.get::<_, &str>(2)).contains(&q))
                })
            };
            let recs = course_records(t, &ids)?;
            let mut out = Vec::with_capacity(recs.len());
            for rec in recs {
                let enrolled: i64 = t
                    .query_one(
                        "SELECT enrolled FROM courses WHERE id = $1",
                        &[&(rec.id as i64)],
                    )?
                    .get(0);
                out.push(rec.row(enrolled as u64));
            }
            Ok((out, total, capped))
        })
    }

    /// A page of the curricula not in `except`, searched as the curricula list searches, as
    /// sled's `curricula_except`.
    fn curricula_except_of(
        &self,
        query: &str,
        page: u32,
        per_page: u32,
        except: &HashSet<u64>,
    ) -> Result<(Vec<crate::model::catalog::CurriculumView>, u64, bool), StoreError> {
        let (skip, take) = window(page, per_page);
        let q = fold(query);
        let except_ids: Vec<i64> = except.iter().map(|i| *i as i64).collect();
        self.page_tx(|t| {
            let (ids, total, capped) = if q.is_empty() {
                let ids: Vec<u64> = t
                    .query(
                        "SELECT id FROM curricula WHERE NOT (id = ANY($1)) ORDER BY name_folded \
                         OFFSET $2 LIMIT $3",
                        &[&except_ids, &(skip as i64), &(take as i64)],
                    )?
                    .iter()
                    .map(|r| r.get::<_, i64>(0) as u64)
                    .collect();
                let all: i64 = t.query_one("SELECT count(*) FROM curricula", &[])?.get(0);
                (ids, (all as u64).saturating_sub(except.len() as u64), false)
            } else {
                let rows = t.query(
                    "SELECT curriculum_id FROM curriculum_terms WHERE starts_with(term, $1) \
                     ORDER BY term, curriculum_id",
                    &[&q],
                )?;
                page_where(&rows, skip, take, |r| {
                    !except.contains(&(r.get::<_, i64>(0) as u64))
                })
            };
            let mut out = Vec::with_capacity(ids.len());
            for id in ids {
                let head = t
                    .query_opt(
                        "SELECT name, description, created_at_ms FROM curricula WHERE id = $1",
                        &[&(id as i64)],
                    )?
                    .ok_or(StoreError::NotFound("curriculum"))?;
                let courses = t
                    .query(
                        "SELECT course_id FROM curriculum_courses WHERE curriculum_id = $1 \
                         ORDER BY position",
                        &[&(id as i64)],
                    )?
                    .iter()
                    .map(|r| r.get::<_, i64>(0) as u64)
                    .collect();
                let rec = crate::server::store::curricula::CurriculumRecord {
                    id,
                    name: head.get(0),
                    description: head.get(1),
                    courses,
                    created_at: head.get::<_, i64>(2) as u64,
                };
                out.push(rec.view());
            }
            Ok((out, total, capped))
        })
    }

    /// Attaches or detaches one course or curriculum, as sled's `link`.
    pub(crate) fn link(
        &self,
        actor: Actor,
        group: u64,
        target: u64,
        add: bool,
        kind: LinkKind,
    ) -> Result<bool, StoreError> {
        let event = self.new_id()?;
        let (what, label_sql) = match kind {
            LinkKind::Course => ("course", "SELECT code FROM courses WHERE id = $1"),
            LinkKind::Curriculum => ("curriculum", "SELECT name FROM curricula WHERE id = $1"),
        };
        self.write_tx(|t| {
            must(t, group, true)?;
            let l = links_of(t, group)?;
            let list = match kind {
                LinkKind::Course => &l.courses,
                LinkKind::Curriculum => &l.curricula,
            };
            let there = list.contains(&target);
            if add == there {
                return Ok(false);
            }
            let label = match t.query_opt(label_sql, &[&(target as i64)])? {
                Some(r) => r.get::<_, String>(0),
                None if add => return Err(StoreError::NotFound(what).into()),
                None => format!("#{target}"),
            };
            if add {
                append(t, kind, group, target)?;
            } else {
                detach(t, kind, group, target)?;
            }
            recount(t, group)?;
            let verb = if add { "Attached" } else { "Detached" };
            audit::record(
                t,
                group,
                event,
                actor,
                AuditAction::CoursesChanged,
                format!("{verb} {what} {label}."),
            )?;
            Ok(true)
        })
    }
}
