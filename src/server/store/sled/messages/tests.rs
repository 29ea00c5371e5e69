//! The sled backend's own tests: what only sled has (its trees, its files, damage written
//! under the store).

#[allow(unused_imports)]
use crate::server::store::enrolments::tests_support::plain_group as group;
use crate::server::store::messages::tests::{deliver, join};
#[allow(unused_imports)]
use crate::server::store::sled::test_prelude::*;

/// A large group is delivered in bounded steps; a step replayed with its old cursor (a crash
/// between the step and its flush) changes nothing.
#[test]
fn a_large_group_is_delivered_in_steps() {
    let (_d, s) = temp_store();
    let admin = learner(&s, "admin");
    let g = group(&s, "Big");
    let n = STEP_BATCH * 2 + 7;
    let members: Vec<u64> = (0..n).map(|i| learner(&s, &format!("l{i}"))).collect();
    let entries: Vec<(u32, String)> = (0..n).map(|i| (i as u32 + 1, format!("l{i}"))).collect();
    s.bulk_add_members(Actor { user: 0, now: 5 }, g, &entries)
        .unwrap();
    let (m, job) = s
        .send_message(
            Actor {
                user: admin,
                now: 20,
            },
            g,
            "Hi",
            "All of you.",
            false,
        )
        .unwrap();
    let first = s.get_job(job).unwrap().unwrap();
    assert_eq!(s.run_job_step(job, 30).unwrap(), Step::More);
    assert_eq!(s.message_delivered(m).unwrap(), STEP_BATCH as u64);
    let after_one = dump(&s);
    // Replaying the first step with the job as it was: nothing changes.
    s.sled().deliver_step(&first, m, 30).unwrap();
    assert_eq!(dump(&s), after_one);
    deliver(&s, job);
    let rec = s.get_message(m).unwrap().unwrap();
    assert_eq!(
        (s.message_delivered(m).unwrap(), rec.delivering),
        (n as u64, false)
    );
    for u in &members {
        assert_eq!(s.unread_count(*u).unwrap(), 1);
    }
}

/// An e-mail whose message is gone is settled all the same (it must leave the queue), and
/// with SMTP switched off every waiting e-mail fails, counted on its message.
#[test]
fn waiting_mail_can_always_be_settled_or_cancelled() {
    let (_d, s) = sled_temp_store();
    let admin = learner(&s, "admin");
    let g = group(&s, "G");
    let [a, b] = ["a", "b"].map(|l| learner(&s, l));
    join(&s, g, a, 1);
    join(&s, g, b, 1);
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
    let due = s.due_mail(u64::MAX, 10).unwrap();
    s.sled().messages.remove(id_key(m)).unwrap();
    assert!(s
        .settle_mail(
            &due[0],
            &Settle::Failed {
                error: "gone".into()
            }
        )
        .unwrap());
    assert_eq!(s.cancel_waiting_mail("off").unwrap(), 1);
    assert_eq!(s.mail_waiting(), 0);
    assert_eq!(
        s.message_mail(m).unwrap(),
        MailCounts {
            queued: 0,
            sent: 0,
            failed: 2
        }
    );
    assert_eq!(s.cancel_waiting_mail("off").unwrap(), 0);
}
