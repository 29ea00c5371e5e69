//! Messages to a group over the real router: who may send, what each member's inbox and unread
//! count show, and e-mail to a real SMTP server on 127.0.0.1 (delivered, retried, given up,
//! and sent after a restart).

mod common;

use axum::body::Body;
use axum::http::{Response, StatusCode};
use common::smtp::SmtpSink;
use common::{body_text, ok_json, TestApp, LEARNER_PASSWORD};
use serde_json::Value;
use std::time::Duration;
use tessera::server::config::{Config, MailConfig};

async fn json(res: Response<Body>) -> Value {
    ok_json(res).await
}

async fn group_with(t: &TestApp, admin: &str, name: &str, members: &[u64]) -> u64 {
    let g = t.create_group(admin, name).await;
    for u in members {
        t.add_member(admin, g, *u).await;
    }
    g
}

async fn send(t: &TestApp, who: &str, group: u64, subject: &str, body: &str) -> Response<Body> {
    let form = format!(
        "id={group}&subject={}&body={}",
        urlencode(subject),
        urlencode(body)
    );
    t.call("/api/send_group_message", &form, Some(who)).await
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn unread(t: &TestApp, who: &str) -> u64 {
    json(t.call("/api/unread_count", "opening=0", Some(who)).await)
        .await
        .as_u64()
        .unwrap()
}

/// Mail through 127.0.0.1:`port`, retrying after `retry_ms` (doubling), giving an e-mail up
/// after `give_up_ms`.
fn mail_config(port: u16, give_up_ms: u64, retry_ms: u64) -> Config {
    Config {
        mail: Some(MailConfig {
            url: format!("smtp://127.0.0.1:{port}"),
            from: "Tessera <lms@example.org>".parse().unwrap(),
            retry_after: Duration::from_millis(retry_ms),
            give_up_after: Duration::from_millis(give_up_ms),
        }),
        ..Config::default()
    }
}

/// Reads the group's sent list until `done` holds for its newest row (mail is sent in the
/// background), up to 30 s.
async fn sent_row_until(t: &TestApp, admin: &str, g: u64, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let page = json(
            t.call(
                "/api/group_messages",
                &format!("id={g}&page=1"),
                Some(admin),
            )
            .await,
        )
        .await;
        let row = page["rows"][0].clone();
        if done(&row) || std::time::Instant::now() > deadline {
            return row;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// An administrator messages a group: each member gets it once, unread; opening marks it read,
/// "mark unread" undoes that; nobody else gets or opens it; bad fields send nothing.
#[tokio::test]
async fn a_message_reaches_each_member_and_the_unread_count_follows() {
    let t = TestApp::new();
    let admin = t.setup_admin().await;
    let lee_id = t.create_learner(&admin, "lee").await;
    let ann_id = t.create_learner(&admin, "ann").await;
    t.create_learner(&admin, "out").await;
    let g = group_with(&t, &admin, "Physics", &[lee_id, ann_id]).await;
    let lee = t.login("lee", LEARNER_PASSWORD).await;
    let out = t.login("out", LEARNER_PASSWORD).await;

    // Bad fields: typed errors on their field; nothing is sent.
    for (subject, body, field) in [
        ("", "Hi", "subject"),
        ("Hi", "  ", "body"),
        (&"s".repeat(201)[..], "Hi", "subject"),
    ] {
        let res = send(&t, &admin, g, subject, body).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(body_text(res).await.contains(field));
    }
    let body = "Exam on Monday.\nSlides: https://example.org/slides?a=1&b=2.";
    let sent = json(send(&t, &admin, g, "Exam", body).await).await;
    assert_eq!(
        (
            sent["recipients"].as_u64(),
            sent["delivered"].as_u64(),
            sent["delivering"].as_bool()
        ),
        (Some(2), Some(2), Some(false))
    );
    let id = sent["id"].as_u64().unwrap();
    assert_eq!(unread(&t, &lee).await, 1);
    assert_eq!(unread(&t, &out).await, 0);
    let inbox = json(t.call("/api/inbox", "page=1", Some(&lee)).await).await;
    assert_eq!(inbox["total"], 1);
    assert_eq!(inbox["rows"][0]["subject"], "Exam");
    assert_eq!(inbox["rows"][0]["sender"], "Ada Admin");
    assert_eq!(inbox["rows"][0]["group"], "Physics");
    assert_eq!(inbox["rows"][0]["read"], false);
    // The count the top bar shows on the message's own page leaves it out.
    let on_page = json(
        t.call("/api/unread_count", &format!("opening={id}"), Some(&lee))
            .await,
    )
    .await;
    assert_eq!(on_page, 0);

    // Pages: the inbox lists it as unread with the count in the top bar; the message page
    // shows the body with its link (and no count).
    let page = body_text(t.get("/inbox", Some(&lee)).await).await;
    assert!(
        page.contains("Exam") && page.contains("1<span class=\"visually-hidden\"> unread"),
        "{page}"
    );
    let page = body_text(t.get(&format!("/inbox/{id}"), Some(&lee)).await).await;
    assert!(
        page.contains("href=\"https://example.org/slides?a=1&amp;b=2\""),
        "{page}"
    );
    assert!(!page.contains("> unread</span>"), "read by opening: {page}");
    assert_eq!(unread(&t, &lee).await, 0);

    let opened = json(
        t.call("/api/open_message", &format!("id={id}"), Some(&lee))
            .await,
    )
    .await;
    assert_eq!(opened["body"], body);
    assert_eq!(unread(&t, &lee).await, 0);
    json(
        t.call("/api/mark_message_unread", &format!("id={id}"), Some(&lee))
            .await,
    )
    .await;
    assert_eq!(unread(&t, &lee).await, 1);

    // Someone who is not a member: not found, whatever the id.
    for path in ["/api/open_message", "/api/mark_message_unread"] {
        let res = t.call(path, &format!("id={id}"), Some(&out)).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}");
    }
    assert_eq!(unread(&t, &out).await, 0);

    // A member who joins afterwards does not get the old message.
    let late = t.create_learner(&admin, "late").await;
    json(
        t.call(
            "/api/add_group_member",
            &format!("id={g}&user={late}"),
            Some(&admin),
        )
        .await,
    )
    .await;
    let late_c = t.login("late", LEARNER_PASSWORD).await;
    assert_eq!(
        json(t.call("/api/inbox", "page=1", Some(&late_c)).await).await["total"],
        0
    );

    // The group page's Messages tab lists it with its counts.
    let sent = json(
        t.call(
            "/api/group_messages",
            &format!("id={g}&page=1"),
            Some(&admin),
        )
        .await,
    )
    .await;
    assert_eq!(sent["rows"][0]["delivered"], 2);
    assert_eq!(sent["rows"][0]["mail"], Value::Null);
    let page = body_text(
        t.get(&format!("/groups/{g}?tab=messages&sent={id}"), Some(&admin))
            .await,
    )
    .await;
    assert!(
        page.contains("Sent to 2 members.") && page.contains("Not mailed"),
        "{page}"
    );
}

/// A group's managers message their own group only; learners message none.
#[tokio::test]
async fn managers_message_their_own_groups_and_learners_none() {
    let t = TestApp::new();
    let admin = t.setup_admin().await;
    let mia = t.create_learner(&admin, "mia").await;
    let lee = t.create_learner(&admin, "lee").await;
    let mine = group_with(&t, &admin, "Mine", &[lee]).await;
    let other = group_with(&t, &admin, "Other", &[lee]).await;
    json(
        t.call(
            "/api/change_group_manager",
            &format!("id={mine}&user={mia}&op=add"),
            Some(&admin),
        )
        .await,
    )
    .await;
    let mia_c = t.login("mia", LEARNER_PASSWORD).await;
    let lee_c = t.login("lee", LEARNER_PASSWORD).await;
    let sent = json(send(&t, &mia_c, mine, "From your manager", "Hello").await).await;
    assert_eq!(sent["delivered"], 1);
    for (who, g) in [(&mia_c, other), (&lee_c, mine), (&lee_c, other)] {
        let res = send(&t, who, g, "Nope", "Nope").await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
        let res = t
            .call("/api/group_messages", &format!("id={g}&page=1"), Some(who))
            .await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
    }
    let inbox = json(t.call("/api/inbox", "page=1", Some(&lee_c)).await).await;
    assert_eq!(inbox["total"], 1);
    assert_eq!(inbox["rows"][0]["sender"], "Learner mia");
}

/// With SMTP configured, a message to a 3-member group arrives 3 times at a real SMTP server,
/// with the sender, the member's address and the subject; the group page counts 3 sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mailed_messages_arrive_at_the_smtp_server() {
    let sink = SmtpSink::start().await;
    let t = TestApp::with_config(mail_config(sink.port, 60_000, 100));
    let admin = t.setup_admin().await;
    let mut ids = Vec::new();
    for l in ["lee", "ann", "zoe"] {
        ids.push(t.create_learner(&admin, l).await);
    }
    let g = group_with(&t, &admin, "Physics", &ids).await;
    let sent = json(send(&t, &admin, g, "Exam moved", "To Tuesday, room 4.").await).await;
    assert_eq!(sent["mailed"], true);
    let mails = sink.wait_for(3).await;
    assert_eq!(mails.len(), 3, "{mails:?}");
    let mut to: Vec<String> = mails.iter().flat_map(|m| m.to.clone()).collect();
    to.sort();
    assert_eq!(
        to,
        ["ann@example.org", "lee@example.org", "zoe@example.org"]
    );
    for m in &mails {
        assert_eq!(m.from, "lms@example.org");
        assert_eq!(m.header("Subject").as_deref(), Some("Exam moved"));
        assert!(m.header("From").unwrap().contains("lms@example.org"));
        assert!(
            m.header("To").unwrap().contains(&m.to[0])
                || m.header("To").unwrap().contains("=?utf-8?")
        );
        assert!(m.header("Content-Type").unwrap().starts_with("text/plain"));
        assert!(m.data.contains("To Tuesday, room 4."));
    }
    let row = sent_row_until(&t, &admin, g, |r| r["mail"]["sent"] == 3).await;
    assert_eq!(
        (
            row["mail"]["sent"].as_u64(),
            row["mail"]["failed"].as_u64(),
            row["mail"]["queued"].as_u64()
        ),
        (Some(3), Some(0), Some(0))
    );
    let page = body_text(
        t.get(&format!("/groups/{g}?tab=messages"), Some(&admin))
            .await,
    )
    .await;
    assert!(page.contains("3 sent"), "{page}");
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(sink.received().len(), 3, "each member mailed once");
}

/// With the SMTP server down for longer than an e-mail may wait (here 1 s), each is tried
/// again until then, then counted failed on the group page; the members' inboxes have the
/// message all the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_smtp_server_means_retries_then_failed() {
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let t = TestApp::with_config(mail_config(port, 1_000, 100));
    let admin = t.setup_admin().await;
    let lee = t.create_learner(&admin, "lee").await;
    let ann = t.create_learner(&admin, "ann").await;
    let g = group_with(&t, &admin, "Physics", &[lee, ann]).await;
    json(send(&t, &admin, g, "Hello", "Body").await).await;
    let row = sent_row_until(&t, &admin, g, |r| r["mail"]["failed"] == 2).await;
    assert_eq!(
        (
            row["mail"]["sent"].as_u64(),
            row["mail"]["failed"].as_u64(),
            row["mail"]["queued"].as_u64()
        ),
        (Some(0), Some(2), Some(0)),
        "{row}"
    );
    assert_eq!(t.state.store().unwrap().mail_waiting(), 0);
    let page = body_text(
        t.get(&format!("/groups/{g}?tab=messages"), Some(&admin))
            .await,
    )
    .await;
    assert!(page.contains("0 sent · 2 failed"), "{page}");
    let lee_c = t.login("lee", LEARNER_PASSWORD).await;
    assert_eq!(unread(&t, &lee_c).await, 1);
}

/// E-mails left in the queue when the server stopped are sent when it starts again: the queue
/// is in the data directory. (The first "run" here is the store alone, with no mailer.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_mail_is_sent_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let g = queue_mail_offline(dir.path());
    let sink = SmtpSink::start().await;
    let t = TestApp::in_dir(dir, mail_config(sink.port, 60_000, 100), |_| {});
    let mails = sink.wait_for(2).await;
    assert_eq!(mails.len(), 2);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while t.state.store().unwrap().mail_waiting() > 0 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (rows, _) = t.state.store().unwrap().group_messages(g, 1).unwrap();
    assert_eq!(rows[0].mail.unwrap().sent, 2);
}

/// Mail queued by an earlier run; returns the group. (The "run" is the store alone.)
fn queue_mail_offline(dir: &std::path::Path) -> u64 {
    use tessera::server::store::groups::{Actor, GroupFields};
    use tessera::server::store::users::{PasswordHash, UserFields};
    use tessera::server::store::Store;
    let s = Store::open(dir).unwrap();
    let mut ids = Vec::new();
    for l in ["boss", "lee", "ann"] {
        let f = UserFields {
            login: l.into(),
            email: format!("{l}@example.org"),
            display_name: l.into(),
            role: tessera::model::user::Role::Admin,
        };
        ids.push(
            s.create_user(&f, &PasswordHash::from_phc("$x".into()), false, 0)
                .unwrap()
                .id,
        );
    }
    let f = GroupFields {
        name: "G".into(),
        description: String::new(),
        branch: None,
        key: Default::default(),
        is_default: false,
    };
    let actor = Actor {
        user: ids[0],
        now: 1,
    };
    let g = s.create_group(actor, &f).unwrap().0.id;
    for u in &ids[1..] {
        s.add_member(actor, g, *u, tessera::model::group::JoinedHow::Manual)
            .unwrap();
    }
    s.send_message(
        Actor {
            user: ids[0],
            now: 2,
        },
        g,
        "Queued",
        "Body",
        true,
    )
    .unwrap();
    s.run_pending_jobs(3).unwrap();
    assert_eq!(s.mail_waiting(), 2);
    s.flush().unwrap();
    g
}

/// Mail waiting when SMTP is switched off fails with a reason instead of waiting for ever
/// (and the group page stops counting it as waiting).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_mail_fails_when_smtp_is_switched_off() {
    let dir = tempfile::tempdir().unwrap();
    let g = queue_mail_offline(dir.path());
    let t = TestApp::in_dir(dir, Config::default(), |_| {});
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while t.state.store().unwrap().mail_waiting() > 0 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (rows, _) = t.state.store().unwrap().group_messages(g, 1).unwrap();
    let mail = rows[0].mail.unwrap();
    assert_eq!((mail.queued, mail.sent, mail.failed), (0, 0, 2));
}

/// An outage shorter than an e-mail may wait loses nothing: the mailer pauses, fails
/// nothing, and sends everything once the server is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_outage_loses_no_mail() {
    let reserved = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = reserved.local_addr().unwrap().port();
    drop(reserved);
    let t = TestApp::with_config(mail_config(port, 60_000, 50));
    let admin = t.setup_admin().await;
    let lee = t.create_learner(&admin, "lee").await;
    let ann = t.create_learner(&admin, "ann").await;
    let g = group_with(&t, &admin, "Physics", &[lee, ann]).await;
    json(send(&t, &admin, g, "During the outage", "Body").await).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let row = sent_row_until(&t, &admin, g, |_| true).await;
    assert_eq!(
        (
            row["mail"]["sent"].as_u64(),
            row["mail"]["failed"].as_u64(),
            row["mail"]["queued"].as_u64()
        ),
        (Some(0), Some(0), Some(2)),
        "{row}"
    );
    let sink = SmtpSink::on(port).await;
    t.state.mailer.wake();
    assert_eq!(sink.wait_for(2).await.len(), 2);
    let row = sent_row_until(&t, &admin, g, |r| r["mail"]["sent"] == 2).await;
    assert_eq!(
        (row["mail"]["sent"].as_u64(), row["mail"]["failed"].as_u64()),
        (Some(2), Some(0)),
        "{row}"
    );
}

/// A group larger than one delivery step, over HTTP, with the job runner running too: every
/// member gets the message exactly once, and each unread count is 1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_group_gets_each_message_exactly_once() {
    use tessera::server::store::groups::Actor;
    use tessera::server::store::users::{PasswordHash, UserFields};
    let t = TestApp::new();
    let admin = t.setup_admin().await;
    let g = group_with(&t, &admin, "Everyone", &[]).await;
    let n = tessera::server::store::jobs::STEP_BATCH * 2 + 3;
    let s = &t.state.store().unwrap();
    let mut users = Vec::new();
    for i in 0..n {
        let f = UserFields {
            login: format!("m{i}"),
            email: format!("m{i}@example.org"),
            display_name: format!("M {i}"),
            role: tessera::model::user::Role::Learner,
        };
        let u = s
            .create_user(&f, &PasswordHash::from_phc("$x".into()), false, 0)
            .unwrap()
            .id;
        s.add_member(
            Actor { user: 0, now: 1 },
            g,
            u,
            tessera::model::group::JoinedHow::Manual,
        )
        .unwrap();
        users.push(u);
    }
    // The runner is woken again and again while the request delivers: both run the job's
    // steps at the same time.
    let jobs = t.state.jobs.clone();
    let waker = tokio::spawn(async move {
        loop {
            jobs.wake();
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    });
    json(send(&t, &admin, g, "All of you", "Body").await).await;
    waker.abort();
    t.state.jobs.wait_idle(s).await;
    let row = sent_row_until(&t, &admin, g, |r| r["delivering"] == false).await;
    assert_eq!(row["delivered"].as_u64(), Some(n as u64));
    for u in &users {
        assert_eq!(s.unread_count(*u).unwrap(), 1);
        assert_eq!(s.inbox(*u, 1).unwrap().1, 1);
    }
}

/// A body is text: markup in it is shown as typed, and only http(s) addresses become links.
#[tokio::test]
async fn a_body_is_shown_as_text() {
    let t = TestApp::new();
    let admin = t.setup_admin().await;
    let lee = t.create_learner(&admin, "lee").await;
    let g = group_with(&t, &admin, "G", &[lee]).await;
    let body = "<script>alert(1)</script> <a href=\"https://evil.test\">x</a> javascript:alert(2) https://ok.test/a";
    let id = json(send(&t, &admin, g, "<b>Hi</b>", body).await).await["id"]
        .as_u64()
        .unwrap();
    let lee_c = t.login("lee", LEARNER_PASSWORD).await;
    let page = body_text(t.get(&format!("/inbox/{id}"), Some(&lee_c)).await).await;
    assert!(
        page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{page}"
    );
    assert!(page.contains("&lt;b&gt;Hi&lt;/b&gt;"), "{page}");
    assert!(
        !page.contains("<script>alert(1)") && !page.contains("href=\"javascript:"),
        "{page}"
    );
    assert!(
        !page.contains("<a href=\"https://evil.test\">x</a>"),
        "{page}"
    );
    assert!(page.contains("href=\"https://ok.test/a\""), "{page}");
}
