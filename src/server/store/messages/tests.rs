use super::*;

use crate::model::group::JoinedHow;

use crate::model::message::MailCounts;

#[allow(unused_imports)]
use crate::server::store::tests::prelude::*;

use crate::server::store::tests::{dump, temp_store};

use crate::server::store::enrolments::tests_support::{learner, plain_group as group};

pub(crate) fn join(s: &Store, g: u64, u: u64, now: u64) {
    s.add_member(Actor { user: 0, now }, g, u, JoinedHow::Manual)
        .unwrap();
}

pub(crate) fn deliver(s: &Store, job: u64) {
    while s.run_job_step(job, 50).unwrap() == Step::More {}
}

pub(crate) fn inbox_ids(s: &Store, u: u64) -> Vec<u64> {
    s.inbox(u, 1).unwrap().0.iter().map(|r| r.id).collect()
}

/// Members when the message was sent get it, once each; who joins afterwards (even before
/// the delivery ran) or left before the delivery does not.
#[test]
fn a_message_reaches_the_members_of_the_moment_it_was_sent() {
    let (_d, s) = temp_store();
    let admin = learner(&s, "admin");
    let g = group(&s, "Physics");
    let other = group(&s, "Chemistry");
    let [a, b, c, late, outsider] = ["a", "b", "c", "late", "out"].map(|l| learner(&s, l));
    for u in [a, b, c] {
        join(&s, g, u, 10);
    }
    join(&s, other, outsider, 10);
    let (m, job) = s
        .send_message(
            Actor {
                user: admin,
                now: 20,
            },
            g,
            "Exam",
            "On Monday.",
            false,
        )
        .unwrap();
    // Before delivery runs: c leaves, `late` joins.
    s.remove_member(Actor { user: 0, now: 21 }, g, c, false)
        .unwrap();
    join(&s, g, late, 22);
    deliver(&s, job);
    for u in [a, b] {
        assert_eq!(inbox_ids(&s, u), vec![m]);
        assert_eq!(s.unread_count(u).unwrap(), 1);
    }
    for u in [c, late, outsider, admin] {
        assert!(inbox_ids(&s, u).is_empty());
        assert_eq!(s.unread_count(u).unwrap(), 0);
    }
    let rec = s.get_message(m).unwrap().unwrap();
    assert_eq!(
        (
            rec.recipients,
            s.message_delivered(m).unwrap(),
            rec.delivering
        ),
        (3, 2, false)
    );
    assert_eq!(
        s.get_job(job).unwrap(),
        None,
        "a finished delivery leaves no job behind"
    );
    assert_eq!(
        (rec.sender_name.as_str(), rec.group_name.as_str()),
        ("admin", "Physics")
    );
    // The step run again (a restart) delivers nothing twice.
    let before = dump(&s);
    assert_eq!(s.run_job_step(job, 60).unwrap(), Step::Finished);
    assert_eq!(dump(&s), before);
    let (rows, total) = s.group_messages(g, 1).unwrap();
    assert_eq!((rows.len(), total), (1, 1));
    assert_eq!((rows[0].delivered, rows[0].mail), (2, None));
    // Past the last page: nothing, and the total.
    assert_eq!(s.group_messages(g, 9).unwrap(), (vec![], 1));
    assert_eq!(s.inbox(a, 9).unwrap(), (vec![], 1));
}

/// Opening marks read, "mark unread" undoes it, the count follows and never goes below 0;
/// nobody opens a message that is not in their inbox.
#[test]
fn read_and_unread() {
    let (_d, s) = temp_store();
    let admin = learner(&s, "admin");
    let g = group(&s, "G");
    let [a, b] = ["a", "b"].map(|l| learner(&s, l));
    join(&s, g, a, 1);
    let ids: Vec<u64> = (0..3)
        .map(|i| {
            let (m, job) = s
                .send_message(
                    Actor {
                        user: admin,
                        now: 10 + i,
                    },
                    g,
                    &format!("S{i}"),
                    "B",
                    false,
                )
                .unwrap();
            deliver(&s, job);
            m
        })
        .collect();
    assert_eq!(s.unread_count(a).unwrap(), 3);
    // The top bar's count: with no message open (0), every unread one; on an unread
    // message's own page, the others.
    assert_eq!(s.unread_count_besides(a, 0).unwrap(), 3);
    assert_eq!(s.unread_count_besides(a, ids[1]).unwrap(), 2);
    // Newest first.
    assert_eq!(inbox_ids(&s, a), vec![ids[2], ids[1], ids[0]]);
    let v = s.open_message(a, ids[0]).unwrap();
    assert_eq!(
        (v.subject.as_str(), v.body.as_str(), v.read),
        ("S0", "B", true)
    );
    s.open_message(a, ids[0]).unwrap();
    assert_eq!(s.unread_count(a).unwrap(), 2);
    // A message already read is not taken off again.
    assert_eq!(s.unread_count_besides(a, ids[0]).unwrap(), 2);
    assert_eq!(s.unread_count_besides(a, 0).unwrap(), 2);
    let (rows, total) = s.inbox(a, 1).unwrap();
    assert_eq!(total, 3);
    assert_eq!(
        rows.iter().map(|r| r.read).collect::<Vec<_>>(),
        vec![false, false, true]
    );
    s.set_message_read(a, ids[0], false).unwrap();
    s.set_message_read(a, ids[0], false).unwrap();
    assert_eq!(s.unread_count(a).unwrap(), 3);
    let before = dump(&s);
    assert!(matches!(
        s.open_message(b, ids[0]),
        Err(StoreError::NotFound("message"))
    ));
    assert!(matches!(
        s.set_message_read(b, ids[1], true),
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        s.open_message(a, 999_999),
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(dump(&s), before);
}

#[test]
fn the_inbox_is_paged() {
    let (_d, s) = temp_store();
    let admin = learner(&s, "admin");
    let g = group(&s, "G");
    let a = learner(&s, "a");
    join(&s, g, a, 1);
    let n = PER_PAGE as u64 + 3;
    for i in 0..n {
        let (_, job) = s
            .send_message(
                Actor {
                    user: admin,
                    now: 10 + i,
                },
                g,
                &format!("S{i}"),
                "B",
                false,
            )
            .unwrap();
        deliver(&s, job);
    }
    let (p1, total) = s.inbox(a, 1).unwrap();
    let (p2, _) = s.inbox(a, 2).unwrap();
    assert_eq!(total, n);
    assert_eq!(p1.len(), PER_PAGE as usize);
    assert_eq!(p1[0].subject, format!("S{}", n - 1));
    assert_eq!(
        p2.iter().map(|r| r.subject.as_str()).collect::<Vec<_>>(),
        vec!["S2", "S1", "S0"]
    );
    let (sent, total) = s.group_messages(g, 2).unwrap();
    assert_eq!((sent.len(), total), (3, n));
}

/// Sending to a group that does not exist writes nothing.
#[test]
fn no_group_no_message() {
    let (_d, s) = temp_store();
    let admin = learner(&s, "admin");
    let before = dump(&s);
    assert!(matches!(
        s.send_message(
            Actor {
                user: admin,
                now: 1
            },
            424_242,
            "S",
            "B",
            true
        ),
        Err(StoreError::NotFound("group"))
    ));
    assert_eq!(dump(&s), before);
}

/// Mailed messages queue one e-mail per active member; one to try again moves to its later
/// time with the attempt and the error; sent and failed are counted on the message, once
/// each; the queue is stored, so a restart (or another server on the same database) keeps it.
#[test]
fn the_outbox_settles_each_mail_once_and_survives_a_restart() {
    let (place, s) = temp_store();
    let (m, first_key) = {
        let admin = learner(&s, "admin");
        let g = group(&s, "G");
        let [a, b, gone] = ["a", "b", "gone"].map(|l| learner(&s, l));
        for u in [a, b, gone] {
            join(&s, g, u, 1);
        }
        s.set_active(gone, false).unwrap();
        let (m, job) = s
            .send_message(
                Actor {
                    user: admin,
                    now: 10,
                },
                g,
                "Mail",
                "Body",
                true,
            )
            .unwrap();
        deliver(&s, job);
        assert_eq!(s.message_delivered(m).unwrap(), 3);
        assert_eq!(
            s.message_mail(m).unwrap(),
            MailCounts {
                queued: 2,
                sent: 0,
                failed: 0
            },
            "no e-mail to an inactive user"
        );
        assert_eq!(
            s.due_mail(49, 10).unwrap(),
            vec![],
            "nothing due before it was queued"
        );
        let due = s.due_mail(50, 10).unwrap();
        assert_eq!(due.len(), 2);
        assert_eq!(
            (due[0].out.to.as_str(), due[0].out.queued_at),
            ("a@x.org", 50)
        );
        assert!(s.settle_mail(&due[0], &Settle::Sent).unwrap());
        let retry = Settle::Retry {
            at: 1_000,
            error: "connection refused".into(),
        };
        assert!(s.settle_mail(&due[1], &retry).unwrap());
        // Settling an entry twice counts it once.
        assert!(!s.settle_mail(&due[0], &Settle::Sent).unwrap());
        assert_eq!(s.due_mail(999, 10).unwrap(), vec![]);
        assert_eq!(s.next_mail_due().unwrap(), Some(1_000));
        s.flush().unwrap();
        (m, due[1].key.clone())
    };
    drop(s);
    let s = place.reopen();
    assert_eq!(
        s.message_mail(m).unwrap(),
        MailCounts {
            queued: 1,
            sent: 1,
            failed: 0
        }
    );
    let due = s.due_mail(1_000, 10).unwrap();
    assert_eq!(due.len(), 1);
    assert_ne!(due[0].key, first_key, "moved to its retry time");
    assert_eq!(
        (due[0].out.attempts, due[0].out.last_error.as_str()),
        (1, "connection refused")
    );
    assert!(s
        .settle_mail(
            &due[0],
            &Settle::Failed {
                error: "refused".into()
            }
        )
        .unwrap());
    assert_eq!(s.mail_waiting(), 0);
    assert_eq!(
        s.message_mail(m).unwrap(),
        MailCounts {
            queued: 0,
            sent: 1,
            failed: 1
        }
    );
}

/// Two mailers on one store: an e-mail one has taken is not due for the other until the
/// taker's lease runs out, so it is sent once; when the taker dies without settling it, the
/// other takes it after the lease and settles it, and the dead one's late settling counts
/// nothing.
#[test]
fn a_taken_mail_is_sent_by_one_mailer_and_taken_over_after_its_lease() {
    use crate::server::store::messages::MAIL_LEASE_MS;
    let (_d, s) = temp_store();
    let admin = learner(&s, "admin");
    let g = group(&s, "G");
    let a = learner(&s, "a");
    join(&s, g, a, 1);
    let actor = Actor {
        user: admin,
        now: 10,
    };
    let (m, job) = s.send_message(actor, g, "Mail", "Body", true).unwrap();
    deliver(&s, job);
    let seen_by_both = s.due_mail(100, 10).unwrap();
    assert_eq!(seen_by_both.len(), 1);
    let first = s.take_mail(&seen_by_both[0], 100).unwrap().expect("taken");
    // The second mailer read the queue at the same moment: its take finds nothing.
    assert_eq!(s.take_mail(&seen_by_both[0], 101).unwrap(), None);
    assert_eq!(s.due_mail(100 + MAIL_LEASE_MS - 1, 10).unwrap(), vec![]);
    // The first mailer died: after its lease the mail is due again and the second takes it.
    let again = s.due_mail(100 + MAIL_LEASE_MS, 10).unwrap();
    assert_eq!(again.len(), 1);
    let second = s
        .take_mail(&again[0], 100 + MAIL_LEASE_MS)
        .unwrap()
        .expect("taken over");
    assert!(s.settle_mail(&second, &Settle::Sent).unwrap());
    assert!(
        !s.settle_mail(&first, &Settle::Sent).unwrap(),
        "the late settle counts nothing"
    );
    assert_eq!(
        s.message_mail(m).unwrap(),
        MailCounts {
            queued: 0,
            sent: 1,
            failed: 0
        }
    );
}

/// A delivery job that fails for good leaves its message saying what it delivered, no longer
/// "delivering".
#[test]
fn a_failed_delivery_stops_saying_delivering() {
    let (_d, s) = temp_store();
    let admin = learner(&s, "admin");
    let g = group(&s, "G");
    let (m, job) = s
        .send_message(
            Actor {
                user: admin,
                now: 10,
            },
            g,
            "S",
            "B",
            false,
        )
        .unwrap();
    s.fail_job(job, "broken", 11).unwrap();
    assert!(!s.get_message(m).unwrap().unwrap().delivering);
    assert!(!s.group_messages(g, 1).unwrap().0[0].delivering);
}
