//! Messages on PostgreSQL with several servers on one database: what only a shared database
//! has (two stores, as two Tessera servers, on the same rows).

use super::*;
use crate::model::group::JoinedHow;
use crate::server::store::jobs::tests::{keyed_group, learners, ACTOR};
use crate::server::store::jobs::LEASE_MS;
use crate::server::store::postgres::tests::TestDatabase;
use crate::server::store::tests::dump;
#[allow(unused_imports)]
use crate::server::store::tests::prelude::*;

/// Two servers on one new database (`None`: no cluster).
fn two_servers() -> Option<(TestDatabase, Store, Store)> {
    let db = TestDatabase::new()?;
    let open = || Store::new(PgStore::connect(&db.url, 4).expect("connect"));
    let (a, b) = (open(), open());
    Some((db, a, b))
}

/// Rows of `table` per user for `message`: every member has at most one.
fn most_per_user(s: &Store, table: &str, message: u64) -> i64 {
    let pg = s.as_any().downcast_ref::<PgStore>().expect("PostgreSQL");
    pg.conn()
        .unwrap()
        .query_one(
            &format!(
                "SELECT coalesce(max(c), 0) FROM (SELECT count(*) AS c FROM {table} \
                 WHERE message_id = $1 GROUP BY user_id) n"
            ),
            &[&(message as i64)],
        )
        .unwrap()
        .get(0)
}

/// A mailed message to a group of more than two batches: server A delivers the first batch
/// and dies; B takes the job over once A's lease has run out, and A's late step, on the job as
/// it read it, writes nothing. Every member gets one inbox entry and one e-mail, the counts
/// say so, and the finished job is gone.
#[test]
fn a_delivery_taken_over_after_its_lease_reaches_each_member_once() {
    let Some((_db, a, b)) = two_servers() else {
        return;
    };
    let n = STEP_BATCH * 2 + 3;
    let users = learners(&a, n + 1);
    let (sender, members) = (users[0], &users[1..]);
    let g = keyed_group(&a, "Everyone");
    for u in members {
        a.add_member(ACTOR, g, *u, JoinedHow::Manual).unwrap();
    }
    let actor = Actor {
        user: sender,
        now: 10,
    };
    let (m, job) = b
        .send_message(actor, g, "Closed", "Snow day.", true)
        .unwrap();
    let t0 = 1_000;
    assert_eq!(a.run_job_step_as(11, job, t0).unwrap(), Step::More);
    assert_eq!(b.run_job_step_as(22, job, t0 + 1).unwrap(), Step::Held);
    assert_eq!(b.message_delivered(m).unwrap(), STEP_BATCH as u64);
    // A's view of the job just before it died.
    let stale = a.take_job(job, 11, t0 + 2).unwrap().unwrap();
    let later = t0 + 2 + LEASE_MS;
    assert_eq!(b.run_job_step_as(22, job, later).unwrap(), Step::More);
    let after_b = dump(&b);
    let pg_a = a.as_any().downcast_ref::<PgStore>().unwrap();
    assert_eq!(deliver_step(pg_a, &stale, later + 1).unwrap(), Step::Held);
    assert_eq!(
        dump(&b),
        after_b,
        "a step after the takeover writes nothing"
    );
    while b.run_job_step_as(22, job, later + 2).unwrap() == Step::More {}
    assert_eq!(b.get_job(job).unwrap(), None);
    let rec = a.get_message(m).unwrap().unwrap();
    assert_eq!(
        (rec.delivering, a.message_delivered(m).unwrap()),
        (false, n as u64)
    );
    assert_eq!(a.message_mail(m).unwrap().queued, n as u64);
    assert_eq!(a.mail_waiting(), n);
    assert_eq!(most_per_user(&a, "inbox", m), 1);
    assert_eq!(most_per_user(&a, "outbox", m), 1);
    for u in members {
        assert_eq!(b.unread_count(*u).unwrap(), 1);
    }
    assert_eq!(b.unread_count(sender).unwrap(), 0);
}

/// Two servers mailing the same queue at the same time: each e-mail is taken by one of them
/// and sent once; the counts add up.
#[test]
fn two_servers_mailing_at_once_send_each_mail_once() {
    let Some((_db, a, b)) = two_servers() else {
        return;
    };
    let users = learners(&a, 41);
    let g = keyed_group(&a, "Mailed");
    for u in &users[1..] {
        a.add_member(ACTOR, g, *u, JoinedHow::Manual).unwrap();
    }
    let actor = Actor {
        user: users[0],
        now: 10,
    };
    let (m, job) = a.send_message(actor, g, "Mail", "Body", true).unwrap();
    while a.run_job_step(job, 50).unwrap() == Step::More {}
    let mailer = |s: Store| {
        std::thread::spawn(move || {
            let mut sent = 0u64;
            loop {
                let due = s.due_mail(100, 7).unwrap();
                if due.is_empty() {
                    return sent;
                }
                for mail in due {
                    if let Some(taken) = s.take_mail(&mail, 100).unwrap() {
                        assert!(s.settle_mail(&taken, &Settle::Sent).unwrap());
                        sent += 1;
                    }
                }
            }
        })
    };
    let (ta, tb) = (mailer(a.clone()), mailer(b.clone()));
    let sent = ta.join().unwrap() + tb.join().unwrap();
    assert_eq!(sent, 40);
    assert_eq!(
        a.message_mail(m).unwrap(),
        MailCounts {
            queued: 0,
            sent: 40,
            failed: 0
        }
    );
    assert_eq!(b.mail_waiting(), 0);
    assert_eq!(b.next_mail_due().unwrap(), None);
}
