//! The school-sized store the benchmarks share: 100,000 users, 100 courses and 1,000,000
//! enrolments (each user in 10 courses), written straight into the store.

use std::path::Path;
use std::time::Instant;
use tessera::model::user::Role;
use tessera::server::store::enrolments::Source;
use tessera::server::store::users::{PasswordHash, UserFields};
use tessera::server::store::Store;

pub const USERS: u64 = 100_000;
pub const COURSES: u64 = 100;
pub const PER_USER: u64 = 10;

/// Builds the school in `dir`; returns the users' ids, in order.
pub fn build(dir: &Path) -> Vec<u64> {
    let s = Store::open(dir).expect("open");
    let t = Instant::now();
    let hash = PasswordHash::from_phc("$argon2id$v=19$m=19456,t=2,p=1$x$y".into());
    let mut users = Vec::with_capacity(USERS as usize);
    for i in 0..USERS {
        let f = UserFields {
            login: format!("user{i}"),
            email: format!("user{i}@school.example"),
            display_name: format!("First{} Last{}", i % 997, i % 1009),
            role: Role::Learner,
        };
        users.push(s.create_user(&f, &hash, false, 0).expect("user").id);
    }
    let mut courses = Vec::new();
    for c in 0..COURSES {
        let f = tessera::server::store::courses::CourseFields {
            code: format!("C{c:03}"),
            title: format!("Course {c}"),
            description: String::new(),
            archived: false,
        };
        courses.push(s.create_course(&f, 0).expect("course").id);
    }
    for (n, chunk) in users.chunks(1_000).enumerate() {
        let first = (n as u64 * PER_USER) % COURSES;
        let set: Vec<u64> = (0..PER_USER)
            .map(|k| courses[((first + k) % COURSES) as usize])
            .collect();
        s.enrol_users_in_courses(chunk, &set, Source::Import, 0)
            .expect("enrol");
    }
    s.flush().expect("flush");
    eprintln!("built the store in {:.0} s", t.elapsed().as_secs_f64());
    users
}

/// Bytes under `p`.
pub fn dir_size(p: &Path) -> std::io::Result<u64> {
    let mut n = 0;
    for e in std::fs::read_dir(p)? {
        let e = e?;
        let m = e.metadata()?;
        n += if m.is_dir() {
            dir_size(&e.path())?
        } else {
            m.len()
        };
    }
    Ok(n)
}
