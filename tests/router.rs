//! The real router end to end in process: sessions, login, throttling, guards, CSRF, limits.

mod common;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use common::*;
use std::collections::BTreeMap;
use tessera::server::config::Config;
use tessera::server::throttle::ACCOUNT_BURST;

#[tokio::test]
async fn login_sets_a_safe_cookie_and_a_new_session_id_each_time() {
    let t = TestApp::new();
    let first = t.setup_admin().await;
    assert_eq!(t.whoami(&first).await.as_deref(), Some("admin"));

    let res = t
        .call(
            "/api/login",
            &format!("identifier=ADMIN%40example.org&password={ADMIN_PASSWORD}"),
            Some(&first),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let raw = set_cookie(&res).expect("cookie set at login");
    let lower = raw.to_ascii_lowercase();
    assert!(lower.contains("httponly"), "{raw}");
    assert!(lower.contains("samesite=lax"), "{raw}");
    assert!(
        !lower.contains("secure"),
        "no Secure without --secure-cookies: {raw}"
    );
    let second = session_cookie(&res).unwrap();
    assert_ne!(first, second, "logging in gives a new session id");
    assert_eq!(t.whoami(&first).await, None, "the old session id is dead");
    assert_eq!(t.whoami(&second).await.as_deref(), Some("admin"));
}

#[tokio::test]
async fn secure_cookies_when_configured() {
    let t = TestApp::with_config(Config {
        secure_cookies: true,
        ..Config::default()
    });
    t.setup_admin().await;
    let res = t
        .call(
            "/api/login",
            &format!("identifier=admin&password={ADMIN_PASSWORD}"),
            None,
        )
        .await;
    assert!(set_cookie(&res)
        .unwrap()
        .to_ascii_lowercase()
        .contains("secure"));
    // The device cookie is Secure too.
    let secure = |res: &axum::http::Response<Body>, name: &str| {
        res.headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with(&format!("{name}=")))
            .is_some_and(|v| v.contains("; Secure"))
    };
    assert!(secure(&res, tessera::server::throttle::DEVICE_COOKIE));
}

#[tokio::test]
async fn wrong_password_and_unknown_user_look_the_same() {
    let t = TestApp::new();
    t.setup_admin().await;
    let wrong = t
        .call(
            "/api/login",
            "identifier=admin&password=not-the-password",
            None,
        )
        .await;
    let unknown = t
        .call(
            "/api/login",
            "identifier=nobody&password=not-the-password",
            None,
        )
        .await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    assert!(set_cookie(&wrong).is_none());
    assert_eq!(body_text(wrong).await, body_text(unknown).await);
}

#[tokio::test]
async fn failed_logins_are_throttled_per_account() {
    let t = TestApp::new();
    t.setup_admin().await;
    for _ in 0..ACCOUNT_BURST {
        let res = t
            .call("/api/login", "identifier=admin&password=wrong-guess", None)
            .await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    let res = t
        .call("/api/login", "identifier=admin&password=wrong-guess", None)
        .await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = res.headers()[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry >= 1);
    assert!(body_text(res).await.contains("TooManyAttempts"));
    // Even the right password waits now, and the same goes for the account's e-mail spelling...
    let res = t
        .call(
            "/api/login",
            &format!("identifier=admin&password={ADMIN_PASSWORD}"),
            None,
        )
        .await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let res = t
        .call(
            "/api/login",
            &format!("identifier=ADMIN%40example.org&password={ADMIN_PASSWORD}"),
            None,
        )
        .await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    // ...while other accounts are unaffected (same message as any wrong password).
    let res = t
        .call(
            "/api/login",
            "identifier=someone-else&password=wrong-guess",
            None,
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn deactivation_and_password_reset_end_sessions() {
    let t = TestApp::new();
    let admin = t.setup_admin().await;
    let id = t.create_learner(&admin, "lee").await;
    let lee = t.login("lee", LEARNER_PASSWORD).await;
    assert_eq!(t.whoami(&lee).await.as_deref(), Some("lee"));

    let res = t
        .call(
            "/api/set_user_active",
            &format!("id={id}&active=false"),
            Some(&admin),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(t.whoami(&lee).await, None, "deactivated: session over");
    let res = t
        .call(
            "/api/login",
            &format!("identifier=lee&password={LEARNER_PASSWORD}"),
            None,
        )
        .await;
    assert_eq!(
        res.status(),
        StatusCode::UNAUTHORIZED,
        "deactivated users cannot log in"
    );

    t.call(
        "/api/set_user_active",
        &format!("id={id}&active=true"),
        Some(&admin),
    )
    .await;
    let lee = t.login("lee", LEARNER_PASSWORD).await;
    let res = t
        .call(
            "/api/reset_password",
            &format!("id={id}&password=brand-new-pass&password_confirm=brand-new-pass"),
            Some(&admin),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(t.whoami(&lee).await, None, "password changed: session over");
    t.login("lee", "brand-new-pass").await;
}

#[tokio::test]
async fn admins_cannot_lock_themselves_out() {
    let t = TestApp::new();
    let admin = t.setup_admin().await;
    let me = t
        .state
        .store()
        .unwrap()
        .find_for_login("admin")
        .unwrap()
        .unwrap()
        .0
        .id;
    let res = t
        .call(
            "/api/set_user_active",
            &format!("id={me}&active=false"),
            Some(&admin),
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let res = t
        .call(
            "/api/update_user",
            &format!("id={me}&login=admin&email=admin%40example.org&display_name=A&role=learner"),
            Some(&admin),
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body_text(res).await.contains("last active administrator"));
}

#[tokio::test]
async fn field_errors_are_typed_and_store_is_unchanged() {
    let t = TestApp::new();
    let admin = t.setup_admin().await;
    let res = t
        .call("/api/create_user", "login=ADMIN&email=x%40example.org&display_name=X&role=learner&password=password1&password_confirm=password1", Some(&admin))
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let err: serde_json::Value = serde_json::from_str(&body_text(res).await).unwrap();
    assert_eq!(err["Invalid"]["field"], "login");
    let res = t
        .call("/api/create_user", "login=x&email=x%40example.org&display_name=X&role=learner&password=password1&password_confirm=password2", Some(&admin))
        .await;
    let err: serde_json::Value = serde_json::from_str(&body_text(res).await).unwrap();
    assert_eq!(err["Invalid"]["field"], "password_confirm");
    assert_eq!(t.state.store().unwrap().user_count().unwrap(), 1);
}

#[tokio::test]
async fn cross_site_posts_are_refused() {
    let t = TestApp::new();
    t.setup_admin().await;
    let form = format!("identifier=admin&password={ADMIN_PASSWORD}");
    let post = |extra: &[(&str, &str)]| {
        let mut r = Request::post("/api/login")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::HOST, "tessera.example:3000");
        for (k, v) in extra {
            r = r.header(*k, *v);
        }
        r.body(Body::from(form.clone())).unwrap()
    };
    let res = t.send(post(&[("origin", "http://evil.example")])).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(set_cookie(&res).is_none());
    let res = t
        .send(post(&[
            ("sec-fetch-site", "cross-site"),
            ("origin", "http://tessera.example:3000"),
        ]))
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = t.send(post(&[("origin", "null")])).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = t
        .send(post(&[
            ("sec-fetch-site", "same-origin"),
            ("origin", "http://tessera.example:3000"),
        ]))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = t
        .send(post(&[("origin", "http://tessera.example:3000")]))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    // The scheme counts too: this server is reached over http here.
    let res = t
        .send(post(&[("origin", "https://tessera.example:3000")]))
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}

/// The login name and the e-mail of one account share one throttle: five wrong guesses in
/// any mix of the two block both.
#[tokio::test]
async fn the_login_throttle_counts_per_account_whatever_identifier_was_typed() {
    let t = TestApp::new();
    t.setup_admin().await;
    for who in [
        "admin",
        "admin%40example.org",
        "ADMIN",
        "Admin%40Example.org",
        "admin",
    ] {
        let res = t
            .call(
                "/api/login",
                &format!("identifier={who}&password=wrong-guess"),
                None,
            )
            .await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{who}");
    }
    // The sixth failure, by the e-mail, uses up the account's allowance.
    let res = t
        .call(
            "/api/login",
            "identifier=admin%40example.org&password=wrong-guess",
            None,
        )
        .await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    for who in ["admin%40example.org", "admin"] {
        let res = t
            .call(
                "/api/login",
                &format!("identifier={who}&password={ADMIN_PASSWORD}"),
                None,
            )
            .await;
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS, "{who}");
    }
}

#[tokio::test]
async fn oversized_bodies_get_413() {
    let t = TestApp::new();
    let body = vec![b'a'; tessera::server::router::BODY_LIMIT + 1];
    let req = Request::post("/api/login")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::CONTENT_LENGTH, body.len())
        .body(Body::from(body))
        .unwrap();
    let res = t.send(req).await;
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let err: serde_json::Value = serde_json::from_str(&body_text(res).await).unwrap();
    assert!(err.get("TooLarge").is_some(), "{err}");

    // The same without a declared length (chunked): still 413, not a decoding error.
    let chunks = (0..17).map(|_| Ok::<_, std::io::Error>(vec![b'a'; 64 * 1024]));
    let req = Request::post("/api/login")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from_stream(futures_util::stream::iter(chunks)))
        .unwrap();
    let res = t.send(req).await;
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let text = body_text(res).await;
    assert!(text.contains("TooLarge"), "{text}");

    // A form that is not UTF-8 says so.
    let req = Request::post("/api/login")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(b"identifier=\xff\xfe&password=x".to_vec()))
        .unwrap();
    let res = t.send(req).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(body_text(res).await.contains("not valid UTF-8"));
}

#[tokio::test]
async fn pages_lead_to_setup_then_login_then_by_role() {
    let t = TestApp::new();
    let res = t.get("/users", None).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()[header::LOCATION], "/setup");
    let res = t.get("/setup", None).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(body_text(res).await.contains("Create administrator"));

    let admin = t.setup_admin().await;
    let res = t.get("/setup", None).await;
    assert_eq!(
        res.headers()[header::LOCATION],
        "/",
        "set-up is gone for good"
    );
    let res = t.get("/users", None).await;
    assert_eq!(
        res.headers()[header::LOCATION],
        "/login?next=%2Fusers",
        "the login page is told where the visitor was going"
    );
    let res = t.get("/login?next=%2Fusers", None).await;
    let html = body_text(res).await;
    assert!(html.contains("Login name or e-mail") && html.contains("Log in"));

    let res = t.get("/users", Some(&admin)).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(body_text(res).await.contains("admin@example.org"));

    t.create_learner(&admin, "lee").await;
    let lee = t.login("lee", LEARNER_PASSWORD).await;
    let res = t.get("/", Some(&lee)).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(body_text(res).await.contains("My courses"));
    let res = t.get("/users", Some(&lee)).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let html = body_text(res).await;
    assert!(html.contains("Access denied") && !html.contains("admin@example.org"));

    let res = t.get("/no/such/page", Some(&admin)).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = t.get("/users/999999", Some(&admin)).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn self_registration_follows_the_admin_setting() {
    let t = TestApp::new();
    let admin = t.setup_admin().await;
    let form = "login=newbie&email=newbie%40example.org&display_name=New&password=password12&password_confirm=password12";
    let res = t.call("/api/signup", form, None).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(t
        .state
        .store()
        .unwrap()
        .find_for_login("newbie")
        .unwrap()
        .is_none());

    let res = t
        .call("/api/save_settings", "self_registration=on", Some(&admin))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = t.call("/api/signup", form, None).await;
    assert_eq!(res.status(), StatusCode::OK);
    let cookie = session_cookie(&res).expect("signed in after sign-up");
    assert_eq!(t.whoami(&cookie).await.as_deref(), Some("newbie"));
    let user = t
        .state
        .store()
        .unwrap()
        .find_for_login("newbie")
        .unwrap()
        .unwrap()
        .0;
    assert_eq!(user.role(), tessera::model::user::Role::Learner);

    t.call("/api/save_settings", "", Some(&admin)).await;
    let res = t.call("/api/signup", "login=late&email=late%40example.org&display_name=L&password=password12&password_confirm=password12", None).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}

/// Every registered server function, called as a visitor and as a learner with valid
/// arguments, answers 401/403 unless it is on the reviewed allow-list. A new server function
/// fails this test until it is added to the table below.
#[tokio::test]
async fn every_server_function_is_guarded() {
    // path → (arguments, open to visitors, open to learners)
    let table: BTreeMap<&str, (&str, bool, bool)> = BTreeMap::from([
        ("/api/current_user", ("", true, true)),
        ("/api/signup_open", ("", true, true)),
        ("/api/login", ("identifier=someone&password=some-password", true, true)),
        ("/api/setup", ("login=x&email=x%40x.org&display_name=X&password=password1&password_confirm=password1", false, false)),
        ("/api/signup", ("login=y&email=y%40x.org&display_name=Y&password=password1&password_confirm=password1", false, false)),
        ("/api/logout", ("", false, true)),
        ("/api/list_users", ("query=&page=1", false, false)),
        ("/api/get_user", ("id=1", false, false)),
        ("/api/create_user", ("login=z&email=z%40x.org&display_name=Z&role=admin&password=password1&password_confirm=password1", false, false)),
        ("/api/update_user", ("id=1&login=z&email=z%40x.org&display_name=Z&role=learner", false, false)),
        ("/api/set_user_active", ("id=1&active=false", false, false)),
        ("/api/reset_password", ("id=1&password=password1&password_confirm=password1", false, false)),
        ("/api/get_settings", ("", false, false)),
        ("/api/save_settings", ("self_registration=on", false, false)),
        ("/api/get_backup_status", ("", false, false)),
        ("/api/list_branches", ("query=&page=1", false, false)),
        ("/api/branch_options", ("", false, false)),
        ("/api/get_branch", ("id=1", false, false)),
        ("/api/create_branch", ("name=B&description=&parent=", false, false)),
        ("/api/update_branch", ("id=1&name=B&description=&parent=", false, false)),
        ("/api/delete_branch", ("id=1", false, false)),
        ("/api/list_courses", ("query=&page=1", false, false)),
        ("/api/get_course", ("id=1", false, false)),
        ("/api/create_course", ("code=C&title=T&description=", false, false)),
        ("/api/update_course", ("id=1&code=C&title=T&description=", false, false)),
        ("/api/delete_course", ("id=1", false, false)),
        ("/api/change_lesson", ("course=1&op=add&title=L&text=x", false, false)),
        ("/api/course_enrolments", ("course=1&page=1", false, false)),
        ("/api/enrol_user", ("course=1&user=1", false, false)),
        ("/api/unenrol_user", ("course=1&user=1", false, false)),
        ("/api/list_curricula", ("query=&page=1", false, false)),
        ("/api/get_curriculum", ("id=1", false, false)),
        ("/api/create_curriculum", ("name=N&description=", false, false)),
        ("/api/update_curriculum", ("id=1&name=N&description=", false, false)),
        ("/api/delete_curriculum", ("id=1", false, false)),
        ("/api/change_curriculum_course", ("id=1&course=1&op=add", false, false)),
        ("/api/enrol_in_curriculum", ("id=1&user=1", false, false)),
        ("/api/my_courses", ("", false, true)),
        ("/api/course_for_learner", ("id=1", false, true)),
        ("/api/mark_lesson", ("course=1&lesson=1&done=true", false, true)),
        ("/api/list_groups", ("query=&sort=name&page=1", false, false)),
        ("/api/get_group", ("id=1", false, false)),
        ("/api/create_group", ("name=G&description=&branch=&key=&max_uses=0&valid_from=&valid_until=", false, false)),
        ("/api/update_group", ("id=1&name=G&description=&branch=&key=&max_uses=0&valid_from=&valid_until=", false, false)),
        ("/api/delete_group", ("id=1&back=%2Fgroups", false, false)),
        ("/api/generate_group_key", ("", false, false)),
        ("/api/current_default_group", ("", false, false)),
        ("/api/list_group_members", ("id=1&query=&page=1", false, false)),
        ("/api/add_group_member", ("id=1&user=1", false, false)),
        ("/api/remove_group_member", ("id=1&user=1", false, false)),
        ("/api/bulk_add_group_members", ("id=1&text=lee", false, false)),
        ("/api/bulk_upload_group_members", ("multipart: id=1, file=lee", false, false)),
        ("/api/last_bulk_result", ("id=1", false, false)),
        ("/api/get_group_links", ("id=1", false, false)),
        ("/api/change_group_link", ("id=1&kind=course&target=1&op=add", false, false)),
        ("/api/courses_to_attach", ("id=1&query=&page=1", false, false)),
        ("/api/curricula_to_attach", ("id=1&query=&page=1", false, false)),
        ("/api/attach_group_links", ("id=1&courses%5B%5D=1", false, false)),
        ("/api/list_group_managers", ("id=1", false, false)),
        ("/api/change_group_manager", ("id=1&user=1&op=add", false, false)),
        ("/api/group_activity", ("id=1", false, false)),
        ("/api/start_mass_enrolment", ("id=1", false, false)),
        ("/api/mass_enrolment_status", ("id=1", false, false)),
        ("/api/upload_user_import", ("multipart: file=lee", false, false)),
        ("/api/get_import", ("id=1", false, false)),
        ("/api/import_rows", ("id=1&show=&page=1", false, false)),
        ("/api/recent_imports", ("", false, false)),
        ("/api/apply_import", ("id=1", false, false)),
        ("/api/discard_import", ("id=1", false, false)),
        ("/api/password_link_login", ("token=x", true, true)),
        ("/api/redeem_group_key", ("key=NOPE-1234", false, true)),
        ("/api/joined_group_courses", ("id=1", false, true)),
        ("/api/group_key_redemptions", ("id=1&page=1", false, false)),
        ("/api/change_group_key", ("id=1&op=disable", false, false)),
        ("/api/regenerate_group_key", ("id=1", false, false)),
        ("/api/send_group_message", ("id=1&subject=S&body=B", false, false)),
        ("/api/group_messages", ("id=1&page=1", false, false)),
        ("/api/inbox", ("page=1", false, true)),
        ("/api/unread_count", ("opening=0", false, true)),
        ("/api/open_message", ("id=1", false, true)),
        ("/api/mark_message_unread", ("id=1", false, true)),
        ("/api/set_password_by_link", ("token=x&password=password1&password_confirm=password1", true, true)),
        ("/api/group_report", ("id=1&status=&course=&page=1", false, false)),
        ("/api/report_groups", ("query=&page=1", false, false)),
        ("/api/learner_report", ("id=1", false, false)),
        ("/api/activity", ("actor=&group=&kind=&from=&to=&before=&after=", false, false)),
    ]);
    let registered: Vec<&str> = leptos::server_fn::axum::server_fn_paths()
        .map(|(p, _)| p)
        .collect();
    let mut sorted = registered.clone();
    sorted.sort();
    let expected: Vec<&str> = table.keys().copied().collect();
    assert_eq!(
        sorted, expected,
        "every server function must be in the guard table"
    );

    let t = TestApp::new();
    let admin = t.setup_admin().await;
    t.create_learner(&admin, "lee").await;
    let lee = t.login("lee", LEARNER_PASSWORD).await;
    let users_before = t.state.store().unwrap().user_count().unwrap();

    // logout last: it ends the learner's session.
    let mut order: Vec<_> = table.iter().collect();
    order.sort_by_key(|(p, _)| **p == "/api/logout");
    for (path, (args, anon_ok, learner_ok)) in order {
        for (who, cookie, allowed) in [
            ("visitor", None, *anon_ok),
            ("learner", Some(lee.as_str()), *learner_ok),
        ] {
            let res = match args.strip_prefix("multipart:") {
                Some(_) => {
                    let fields: &[(&str, Option<&str>, &[u8])] =
                        &[("id", None, b"1"), ("file", Some("list.csv"), b"lee\n")];
                    t.upload(path, fields, cookie, None).await
                }
                None => t.call(path, args, cookie).await,
            };
            let status = res.status();
            if !allowed {
                assert!(
                    status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN,
                    "{path} as {who}: expected 401/403, got {status}"
                );
            }
        }
    }
    assert_eq!(
        t.state.store().unwrap().user_count().unwrap(),
        users_before,
        "nothing was created"
    );
    let settings = t.state.store().unwrap().settings().unwrap();
    assert_eq!(settings.self_registration, None, "settings untouched");
}

/// Pages are rendered on the server (only islands are hydrated), so a form that worked says so
/// through its way back: `__done=<function path>` on the form's own page, and the page shows
/// "Changes saved.". A redirect the function chose, or a failure, gets no such mark.
#[tokio::test]
async fn a_form_that_worked_says_so_on_its_page() {
    let t = TestApp::new();
    let admin = t.setup_admin().await;
    let g = t.create_group(&admin, "Physics").await;
    let fields = "&description=Lab&branch=&key=&max_uses=0&valid_from=&valid_until=";
    // Back to the form, with an earlier outcome in its URL replaced.
    let (status, to) = plain_form_post(
        &t,
        &admin,
        "/api/update_group",
        &format!("http://localhost/groups/{g}/edit?__done=%2Fapi%2Fsave_settings"),
        &format!("id={g}&name=Physics+2{fields}"),
    )
    .await;
    assert_eq!(status, StatusCode::FOUND);
    assert_eq!(to, format!("/groups/{g}/edit?__done=%2Fapi%2Fupdate_group"));
    let page = |path: String| {
        let (t, admin) = (&t, &admin);
        async move { body_text(t.get(&path, Some(admin)).await).await }
    };
    assert!(
        page(to).await.contains("Changes saved."),
        "the page says so"
    );
    assert!(
        !page(format!("/groups/{g}/edit"))
            .await
            .contains("Changes saved."),
        "only right after the save"
    );
    // A mark of no known function says nothing; the marks' words are the server's own.
    let other = page(format!("/groups/{g}/edit?__done=%2Fapi%2Fwhatever")).await;
    assert!(!other.contains("Changes saved.") && !other.contains("whatever"));
    // A failed save: the page again, no mark.
    let failing = format!("id={g}&name={fields}");
    let back = format!("http://localhost/groups/{g}/edit");
    let (status, to) = plain_form_post(&t, &admin, "/api/update_group", &back, &failing).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(to.is_empty(), "{to}");
    // That page's address is the function's. Posted again from there (its Referer), the form
    // still belongs to the edit page, which its cookie names: refused, the edit page again;
    // saved, back to the edit page with the mark, never to the function's address.
    let from_shown_page = |form: String, cookie: String| {
        let t = &t;
        async move {
            let req = Request::post("/api/update_group")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header(header::ACCEPT, "text/html")
                .header(header::REFERER, "http://localhost/api/update_group")
                .header(header::COOKIE, cookie)
                .body(Body::from(form))
                .unwrap();
            t.send(req).await
        }
    };
    let req = Request::post("/api/update_group")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, "text/html")
        .header(header::REFERER, &back)
        .header(header::COOKIE, &admin)
        .body(Body::from(failing.clone()))
        .unwrap();
    let shown = t.send(req).await;
    let remembered = cookie_set(&shown, "tessera_back_update_group").expect("the page is named");
    let jar = browser_cookies(Some(&admin), &shown);
    let again = from_shown_page(failing.clone(), jar.clone()).await;
    assert_eq!(again.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body_text(again).await.contains("Enter a group name."));
    let saved = from_shown_page(format!("id={g}&name=Physics+3{fields}"), jar).await;
    assert_eq!(
        saved.headers()[header::LOCATION],
        format!("/groups/{g}/edit?__done=%2Fapi%2Fupdate_group").as_str(),
        "{remembered}"
    );
    // Without that cookie the function's address is no page to go back to: home.
    let lost = from_shown_page(failing.clone(), admin.clone()).await;
    assert!(lost.status().is_redirection());
    assert!(!lost.headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .starts_with("/api/"));
    // A relative Referer (no browser sends one): the failure must not pass for a success.
    let relative = format!("/groups/{g}/edit");
    let (_, to) = plain_form_post(&t, &admin, "/api/update_group", &relative, &failing).await;
    assert!(!to.contains("__done"), "{to}");
    // A function that sends the browser elsewhere (a new group's page) says what it did there.
    let (_, to) = plain_form_post(
        &t,
        &admin,
        "/api/create_group",
        "http://localhost/groups/new",
        &format!("name=Chemistry{fields}"),
    )
    .await;
    assert!(
        to.starts_with("/groups/") && to.ends_with("?__done=%2Fapi%2Fcreate_group"),
        "{to}"
    );
    let html = page(to).await;
    assert!(
        html.contains(r#"<h2>Group created.</h2>"#),
        "told on the group's page"
    );
    assert!(
        html.contains(r#"id="outcome" role="status" tabindex="-1" autofocus"#),
        "and it takes the focus"
    );
}

/// A form posted by a browser without JavaScript (Accept: text/html, a Referer); the status and
/// the Location it is sent to (empty when the answer is a page: a refusal).
async fn plain_form_post(
    t: &TestApp,
    cookie: &str,
    path: &str,
    referer: &str,
    form: &str,
) -> (StatusCode, String) {
    let req = Request::post(path)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, "text/html")
        .header(header::REFERER, referer)
        .header(header::COOKIE, cookie)
        .body(Body::from(form.to_string()))
        .unwrap();
    let res = t.send(req).await;
    let to = res
        .headers()
        .get(header::LOCATION)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (res.status(), to)
}

/// A refused form post (JavaScript on or off: pages are rendered on the server) is answered
/// with its page rendered again, in place: every error at once, each beside its field and all
/// listed at the top, linked to their fields, in the page's first heading, which takes the
/// focus; every typed value kept but the passwords; nothing in any URL; the store unchanged.
#[tokio::test]
async fn a_refused_form_comes_back_filled_in_with_every_error() {
    let t = TestApp::new();
    let req = Request::post("/api/setup")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, "text/html")
        .header(header::REFERER, "http://localhost/setup")
        .body(Body::from("login=ad+min&email=not-an-address&display_name=Ada+Lovelace&password=password1&password_confirm=password2"))
        .unwrap();
    let res = t.send(req).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.headers().get(header::LOCATION).is_none());
    let html = body_text(res).await;
    assert!(
        html.contains("<title>Error: Welcome to Tessera · Tessera</title>"),
        "{html}"
    );
    let outcome = html
        .split(r#"id="outcome""#)
        .nth(1)
        .expect("the outcome box");
    let first_heading = html
        .find("<h2>There are 3 problems</h2>")
        .expect("the heading");
    assert!(
        first_heading < html.find("<h1").unwrap(),
        "the first heading"
    );
    for (field, words) in [
        ("login", "Remove the spaces."),
        ("email", "Enter an e-mail address like name@example.org."),
        ("password_confirm", "The two passwords are not the same."),
    ] {
        assert!(
            outcome.contains(&format!(r##"<a href="#problem-{field}">"##)),
            "{field} linked from the summary"
        );
        assert!(
            html.contains(&format!(r#"id="problem-{field}""#)),
            "{field}'s target"
        );
        assert!(html.contains(words), "{words}: {outcome}");
    }
    assert_eq!(html.matches(r#"aria-invalid="true""#).count(), 3);
    // What was typed is kept, the passwords are not.
    assert!(html.contains(r#"value="ad min""#));
    assert!(html.contains(r#"value="not-an-address""#));
    assert!(html.contains(r#"value="Ada Lovelace""#));
    assert!(!html.contains("password1") && !html.contains("password2"));
    assert_eq!(t.state.store().unwrap().user_count().unwrap(), 0);
    // The refusal is not in any URL: a link with one shows nothing and is cleaned.
    let res = t.get("/setup?__path=%2Fapi%2Fsetup&__err=x", None).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()[header::LOCATION], "/setup");
}

/// Sessions end after the idle timeout (the stored expiry) and after the absolute timeout since
/// login, whichever comes first.
#[tokio::test]
async fn sessions_end_after_idle_and_absolute_timeouts() {
    let t = TestApp::new();
    let cookie = t.setup_admin().await;
    let id = cookie.split_once('=').unwrap().1.to_string();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let idle = t.state.config.session_idle.as_secs() as i64;
    let stored = t
        .state
        .store()
        .unwrap()
        .load_session(&id, now)
        .unwrap()
        .expect("session stored in sled");
    assert!(
        stored.expires_at > now && stored.expires_at <= now + idle + 5,
        "idle expiry set"
    );

    // Absolute: logged in longer ago than the limit, though active just now.
    let mut data: serde_json::Value = serde_json::from_slice(&stored.data).unwrap();
    let max = t.state.config.session_absolute.as_secs() as i64;
    data["login_at"] = serde_json::json!(now - max - 1);
    let aged = tessera::server::store::sessions::SessionRecord {
        expires_at: stored.expires_at,
        data: serde_json::to_vec(&data).unwrap(),
    };
    assert!(t.state.store().unwrap().save_session(&id, &aged).unwrap());
    assert_eq!(t.whoami(&cookie).await, None);

    // Idle: a fresh login whose stored expiry has passed.
    let cookie = t.login("admin", ADMIN_PASSWORD).await;
    let id = cookie.split_once('=').unwrap().1.to_string();
    let mut stored = t
        .state
        .store()
        .unwrap()
        .load_session(&id, now)
        .unwrap()
        .unwrap();
    stored.expires_at = now - 1;
    assert!(t.state.store().unwrap().save_session(&id, &stored).unwrap());
    assert_eq!(t.whoami(&cookie).await, None);
}

/// Learners see and change only their own enrolments: another course answers 404 like a course
/// that does not exist, and marking its lessons changes nothing.
#[tokio::test]
async fn learners_reach_only_their_own_courses() {
    let t = TestApp::new();
    let admin = t.setup_admin().await;
    let lee = t.create_learner(&admin, "lee").await;
    let res = t
        .call(
            "/api/create_course",
            "code=PHY&title=Physics&description=",
            Some(&admin),
        )
        .await;
    let course: serde_json::Value = serde_json::from_str(&body_text(res).await).unwrap();
    let course = course["id"].as_u64().unwrap();
    let res = t
        .call(
            "/api/change_lesson",
            &format!("course={course}&op=add&title=One&text=Hello"),
            Some(&admin),
        )
        .await;
    let lessons: serde_json::Value = serde_json::from_str(&body_text(res).await).unwrap();
    let lesson = lessons[0]["id"].as_u64().unwrap();
    let other = t.create_learner(&admin, "other").await;
    let cookie = t.login("lee", LEARNER_PASSWORD).await;

    let res = t
        .call(
            "/api/course_for_learner",
            &format!("id={course}"),
            Some(&cookie),
        )
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = t
        .call(
            "/api/mark_lesson",
            &format!("course={course}&lesson={lesson}&done=true"),
            Some(&cookie),
        )
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    t.call(
        "/api/enrol_user",
        &format!("course={course}&user={other}"),
        Some(&admin),
    )
    .await;
    let res = t
        .call(
            "/api/enrol_user",
            &format!("course={course}&user={lee}"),
            Some(&admin),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = t
        .call(
            "/api/mark_lesson",
            &format!("course={course}&lesson={lesson}&done=true"),
            Some(&cookie),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let p: serde_json::Value = serde_json::from_str(&body_text(res).await).unwrap();
    assert_eq!(p["status"], "completed");
    let other_progress = t
        .state
        .store()
        .unwrap()
        .enrolment(other, course)
        .unwrap()
        .unwrap()
        .progress;
    assert_eq!(other_progress.done, 0, "only the caller's progress moved");
    let res = t
        .get(&format!("/learn/{}", course + 1000), Some(&cookie))
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

/// A group manager reads their own groups (table, page, members, links, managers, activity)
/// and nothing else; they change nothing. A learner who manages nothing gets 403 everywhere.
#[tokio::test]
async fn group_managers_reach_only_their_groups_and_change_only_members() {
    let t = TestApp::new();
    let admin = t.setup_admin().await;
    let mia = t.create_learner(&admin, "mia").await;
    let lee = t.create_learner(&admin, "lee").await;
    let json = ok_json;
    let mine = t.create_group(&admin, "Physics").await;
    let other = t.create_group(&admin, "Chemistry").await;
    json(
        t.call(
            "/api/change_group_manager",
            &format!("id={mine}&user={mia}&op=add"),
            Some(&admin),
        )
        .await,
    )
    .await;
    json(
        t.call(
            "/api/add_group_member",
            &format!("id={mine}&user={lee}"),
            Some(&admin),
        )
        .await,
    )
    .await;

    let mia_c = t.login("mia", LEARNER_PASSWORD).await;
    let me = json(t.call("/api/current_user", "", Some(&mia_c)).await).await;
    assert_eq!(me["manages_groups"], true);
    let table = json(
        t.call("/api/list_groups", "query=&sort=name&page=1", Some(&mia_c))
            .await,
    )
    .await;
    let names: Vec<&str> = table["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["Physics"], "only the managed group is listed");
    let g = json(
        t.call("/api/get_group", &format!("id={mine}"), Some(&mia_c))
            .await,
    )
    .await;
    assert_eq!(
        (g["name"].as_str(), g["can_edit"].as_bool()),
        (Some("Physics"), Some(false))
    );
    let members = json(
        t.call(
            "/api/list_group_members",
            &format!("id={mine}&query=&page=1"),
            Some(&mia_c),
        )
        .await,
    )
    .await;
    assert_eq!(members["rows"][0]["login"], "lee");
    for read in [
        "get_group_links",
        "list_group_managers",
        "group_activity",
        "mass_enrolment_status",
    ] {
        json(
            t.call(&format!("/api/{read}"), &format!("id={mine}"), Some(&mia_c))
                .await,
        )
        .await;
    }
    // Someone else's group: 403 for every read, whether it exists or not.
    for id in [other, 999_999] {
        for (path, args) in [
            ("get_group", format!("id={id}")),
            ("list_group_members", format!("id={id}&query=&page=1")),
            ("get_group_links", format!("id={id}")),
            ("list_group_managers", format!("id={id}")),
            ("group_activity", format!("id={id}")),
            ("mass_enrolment_status", format!("id={id}")),
        ] {
            let res = t.call(&format!("/api/{path}"), &args, Some(&mia_c)).await;
            assert_eq!(res.status(), StatusCode::FORBIDDEN, "{path} of group {id}");
        }
    }
    // No changes to their own group but its members (see
    // `group_managers_add_members_by_exact_name_and_remove_them`): no picking users from the
    // directory by id, no upload, nothing else.
    for (path, args) in [
        ("update_group", format!("id={mine}&name=Hacked&description=&branch=&key=&max_uses=0&valid_from=&valid_until=")),
        ("delete_group", format!("id={mine}&back=%2Fgroups")),
        ("add_group_member", format!("id={mine}&user={mia}")),
        ("change_group_link", format!("id={mine}&kind=course&target=1&op=add")),
        ("change_group_manager", format!("id={mine}&user={lee}&op=add")),
        ("generate_group_key", String::new()),
        ("start_mass_enrolment", format!("id={mine}")),
    ] {
        let res = t.call(&format!("/api/{path}"), &args, Some(&mia_c)).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{path}");
    }
    let id_text = mine.to_string();
    let fields: &[(&str, Option<&str>, &[u8])] = &[
        ("id", None, id_text.as_bytes()),
        ("file", Some("l.csv"), b"mia\n"),
    ];
    let res = t
        .upload("/api/bulk_upload_group_members", fields, Some(&mia_c), None)
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "bulk upload");
    let g = t.state.store().unwrap().get_group(mine).unwrap().unwrap();
    assert_eq!((g.name.as_str(), g.members), ("Physics", 1), "unchanged");

    // A learner who manages nothing sees no groups at all.
    let lee_c = t.login("lee", LEARNER_PASSWORD).await;
    let res = t
        .call("/api/list_groups", "query=&sort=name&page=1", Some(&lee_c))
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let me = json(t.call("/api/current_user", "", Some(&lee_c)).await).await;
    assert_eq!(me["manages_groups"], false);
    // The admin sees both, and a removed manager loses access at once.
    let table = json(
        t.call("/api/list_groups", "query=&sort=name&page=1", Some(&admin))
            .await,
    )
    .await;
    assert_eq!(table["total"], 2);
    json(
        t.call(
            "/api/change_group_manager",
            &format!("id={mine}&user={mia}&op=remove"),
            Some(&admin),
        )
        .await,
    )
    .await;
    let res = t
        .call("/api/get_group", &format!("id={mine}"), Some(&mia_c))
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}

/// Working out the route table switches resource loading off process-wide for a moment; a
/// second router built while another serves pages (as the tests do) must not leave those pages
/// waiting for data that never loads. Each request is bounded by `TestApp::send`'s timeout.
#[test]
fn building_routers_does_not_stall_pages_being_served() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let runtime = || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    };
    let stop = Arc::new(AtomicBool::new(false));
    let builder = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let rt = runtime();
            while !stop.load(Ordering::Relaxed) {
                rt.block_on(async { drop(TestApp::new()) });
            }
        })
    };
    let servers: Vec<_> = (0..2)
        .map(|_| {
            std::thread::spawn(move || {
                runtime().block_on(async {
                    let t = TestApp::new();
                    let admin = t.setup_admin().await;
                    for _ in 0..40 {
                        let res = t.get("/login", None).await;
                        assert!(body_text(res).await.contains("Log in"));
                        let res = t.get("/users", Some(&admin)).await;
                        assert!(body_text(res).await.contains("admin@example.org"));
                        let res = t.get("/users/999999", Some(&admin)).await;
                        assert_eq!(res.status(), StatusCode::NOT_FOUND);
                    }
                })
            })
        })
        .collect();
    let outcome: Vec<_> = servers.into_iter().map(|s| s.join()).collect();
    stop.store(true, Ordering::Relaxed);
    builder.join().unwrap();
    for o in outcome {
        o.unwrap();
    }
}

/// Bulk add by file upload works as a plain form post (no JavaScript): the list is applied and
/// reported on the page the browser is sent to; an empty, non-UTF-8 or oversized file is
/// refused with a message next to the file field and changes nothing.
#[tokio::test]
async fn bulk_upload_works_without_javascript_and_refuses_bad_files() {
    let t = TestApp::new();
    let admin = t.setup_admin().await;
    let lee = t.create_learner(&admin, "lee").await;
    t.create_learner(&admin, "mia").await;
    let res = t
        .call(
            "/api/create_group",
            "name=Upload&description=&branch=&key=&max_uses=0&valid_from=&valid_until=",
            Some(&admin),
        )
        .await;
    let v: serde_json::Value = serde_json::from_str(&body_text(res).await).unwrap();
    let id = v["group"]["id"].as_u64().unwrap();
    let page = format!("/groups/{id}?tab=users");
    let id_text = id.to_string();
    let upload = |file: Vec<u8>| {
        let (t, admin, page, id_text) = (&t, admin.clone(), page.clone(), id_text.clone());
        async move {
            let fields: &[(&str, Option<&str>, &[u8])] = &[
                ("id", None, id_text.as_bytes()),
                ("file", Some("members.csv"), &file),
            ];
            let res = t
                .upload(
                    "/api/bulk_upload_group_members",
                    fields,
                    Some(&admin),
                    Some(&page),
                )
                .await;
            // Refused: the page again, in place, with the error (no URL carries it).
            if !res.status().is_redirection() {
                assert!(res.status().is_client_error(), "{}", res.status());
                return (String::new(), body_text(res).await);
            }
            let to = res.headers()[header::LOCATION]
                .to_str()
                .unwrap()
                .to_string();
            let to = to.trim_start_matches("http://localhost").to_string();
            let cookies = browser_cookies(Some(&admin), &res);
            let html = body_text(t.get(&to, Some(&cookies)).await).await;
            (to, html)
        }
    };
    let members = |t: &TestApp| {
        t.state
            .store()
            .unwrap()
            .get_group(id)
            .unwrap()
            .unwrap()
            .members
    };

    // Refused files: message by the file field, nothing added.
    for (file, message) in [
        (Vec::new(), "Choose a file to upload."),
        (
            vec![0xff, 0xfe, b'l', 0, b'e', 0, b'e', 0],
            "This file is not UTF-8 text.",
        ),
        (
            "lee\n".repeat(250_001).into_bytes(),
            "This file is larger than 1 MB.",
        ),
        (
            b"login\n\n".to_vec(),
            "Paste or upload at least one login name",
        ),
    ] {
        let (to, html) = upload(file).await;
        assert!(to.is_empty(), "shown in place, not sent to {to}");
        assert!(html.contains(message), "{message} shown");
        assert!(
            html.contains(r#"aria-describedby="bulk-upload-hint bulk-upload-error""#),
            "the message is tied to the file field"
        );
        assert_eq!(members(&t), 0, "nothing added for {message}");
    }

    // Over the request limit: back to the page with the message by the field, not a bare 413.
    let (to, html) = upload("lee\n".repeat(300_000).into_bytes()).await;
    assert!(to.is_empty(), "shown in place, not sent to {to}");
    assert!(html.contains("What you sent is larger than 1 MB."));
    assert!(html.contains(r#"id="bulk-upload-error""#));
    assert_eq!(members(&t), 0);

    // A good file (with a byte-order mark and a header): applied and reported row by row.
    let (to, html) =
        upload(b"\xef\xbb\xbflogin,name\nlee,Lee\nMIA@example.org,Mia\nnobody,?\n".to_vec()).await;
    assert!(to.starts_with(&page) && !to.contains("__err="), "{to}");
    assert!(
        html.contains("Last bulk add: 2 added, 0 already members, 1 unknown, 0 invalid."),
        "report shown"
    );
    assert_eq!(members(&t), 2);
    let (rows, _, _) = t
        .state
        .store()
        .unwrap()
        .list_members(id, "", 1, 20)
        .unwrap();
    assert!(rows.iter().any(|(user, _)| *user == lee));
}

/// A page builds its content once per request: Suspense's dry run must not start a second,
/// discarded copy of the page's data loads (which would also outlive the request). So every
/// load of the same page costs the same number of store calls.
#[tokio::test]
async fn a_page_loads_its_data_once_per_request() {
    use std::sync::atomic::Ordering;
    let t = TestApp::new();
    let admin = t.setup_admin().await;
    for path in ["/groups", "/users", "/courses", "/activity", "/"] {
        let mut costs = Vec::new();
        for _ in 0..12 {
            let before = t.state.store_calls.load(Ordering::SeqCst);
            let res = t.get(path, Some(&admin)).await;
            assert_eq!(res.status(), StatusCode::OK);
            // Anything still loading after the answer would show up as a later call.
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            costs.push(t.state.store_calls.load(Ordering::SeqCst) - before);
        }
        let (min, max) = (costs.iter().min(), costs.iter().max());
        assert_eq!(min, max, "{path}: store calls per load {costs:?}");
    }
}

/// Store calls and blocking-thread reads of one page load, after the answer (anything still
/// loading then would show up as a later call).
async fn page_cost(t: &TestApp, path: &str, cookie: &str) -> (u64, u64) {
    use std::sync::atomic::Ordering;
    let (calls, hops) = (&t.state.store_calls, &t.state.blocking_reads);
    let before = (calls.load(Ordering::SeqCst), hops.load(Ordering::SeqCst));
    let res = t.get(path, Some(cookie)).await;
    assert_eq!(res.status(), StatusCode::OK, "{path}");
    let html = body_text(res).await;
    assert!(html.contains("<main"), "{path} is a signed-in page");
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    (
        calls.load(Ordering::SeqCst) - before.0,
        hops.load(Ordering::SeqCst) - before.1,
    )
}

/// A signed-in page has its session checked once, by the page gate; the server functions it
/// calls while rendering take that user instead of reading the session and the user again.
/// Its reads of a few keys (who is asking, the first page of a list, a group) run on the
/// request's task; a search, which may read thousands of entries, goes to a blocking thread.
/// Refusals still hold: a manager sees only their own group's page.
#[tokio::test]
async fn pages_check_the_session_once_and_keep_short_reads_on_the_task() {
    let t = TestApp::new();
    let admin = t.setup_admin().await;
    let group = t.create_group(&admin, "Hop+Group").await;
    let other = t.create_group(&admin, "Other+Group").await;
    let lee = t.create_learner(&admin, "lee").await;
    t.add_member(&admin, group, lee).await;
    let res = t
        .call(
            "/api/change_group_manager",
            &format!("id={group}&user={lee}&op=add"),
            Some(&admin),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK, "{}", body_text(res).await);
    let manager = t.login("lee", LEARNER_PASSWORD).await;

    // The user, whether they manage groups, the unread count, the rows.
    assert_eq!(page_cost(&t, "/groups", &admin).await, (4, 0), "/groups");
    assert_eq!(
        page_cost(&t, "/groups", &manager).await,
        (4, 0),
        "/groups as a manager"
    );
    // The user, manages, unread, the group, its first page of members.
    let page = format!("/groups/{group}");
    assert_eq!(page_cost(&t, &page, &admin).await, (5, 0), "{page}");
    // A manager's group page checks that they manage it: one more read.
    assert_eq!(
        page_cost(&t, &page, &manager).await.1,
        0,
        "{page} as a manager"
    );
    let (_, hops) = page_cost(&t, "/groups?q=hop", &admin).await;
    assert_eq!(hops, 1, "a search is read on a blocking thread");

    let res = t.get(&format!("/groups/{other}"), Some(&manager)).await;
    let html = body_text(res).await;
    assert!(
        !html.contains("Other Group"),
        "a manager sees no other group"
    );
}

/// The group page reads only what its shown tab shows: each tab costs the page's own reads (the
/// user, whether they manage groups, the unread count, the group) and its tab's loads, never
/// another tab's. Creating every tab's loads on every page cost a task, a memo and signals
/// each, and a tab shown by mistake would read its data for nothing.
#[tokio::test]
async fn the_group_page_reads_only_the_shown_tabs_data() {
    let t = TestApp::new();
    let admin = t.setup_admin().await;
    let group = t.create_group(&admin, "Tab+Group").await;
    let lee = t.create_learner(&admin, "lee").await;
    t.add_member(&admin, group, lee).await;
    let page = format!("/groups/{group}");
    // (tab, its loads): the members; the links, the courses and curricula to attach and the
    // mass enrolment's status; the managers; the messages; the audit trail and the key's uses;
    // the report.
    for (tab, loads) in [
        ("users", 1),
        ("courses", 4),
        ("managers", 1),
        ("messages", 1),
        ("activity", 2),
        ("report", 1),
    ] {
        let (calls, _) = page_cost(&t, &format!("{page}?tab={tab}"), &admin).await;
        assert_eq!(calls, 4 + loads, "{page}?tab={tab}: store calls");
    }
}

/// "Enrol all members": the job runs in the background after the request returns, and the
/// group page's status then shows its summary; the group's activity has it too.
#[tokio::test]
async fn mass_enrolment_runs_in_the_background_and_reports() {
    let t = TestApp::new();
    let admin = t.setup_admin().await;
    let mut learners = Vec::new();
    for i in 0..5 {
        learners.push(t.create_learner(&admin, &format!("mass{i}")).await);
    }
    let course: serde_json::Value = serde_json::from_str(
        &body_text(
            t.call(
                "/api/create_course",
                "code=MASS&title=Mass&description=",
                Some(&admin),
            )
            .await,
        )
        .await,
    )
    .unwrap();
    let course = course["id"].as_u64().unwrap();
    let saved: serde_json::Value = serde_json::from_str(
        &body_text(
            t.call(
                "/api/create_group",
                "name=Cohort&description=&branch=&key=&max_uses=0&valid_from=&valid_until=",
                Some(&admin),
            )
            .await,
        )
        .await,
    )
    .unwrap();
    let g = saved["group"]["id"].as_u64().unwrap();
    for u in &learners {
        let res = t
            .call(
                "/api/add_group_member",
                &format!("id={g}&user={u}"),
                Some(&admin),
            )
            .await;
        assert_eq!(res.status(), StatusCode::OK);
    }
    let res = t
        .call(
            "/api/change_group_link",
            &format!("id={g}&kind=course&target={course}&op=add"),
            Some(&admin),
        )
        .await;
    assert_eq!(
        res.headers()[header::LOCATION],
        format!("/groups/{g}?tab=courses&added=1").as_str(),
        "the Courses tab asks whether to enrol the members now"
    );
    let res = t
        .call(
            "/api/mass_enrolment_status",
            &format!("id={g}"),
            Some(&admin),
        )
        .await;
    assert_eq!(body_text(res).await, "null", "never run yet");
    let res = t
        .call(
            "/api/start_mass_enrolment",
            &format!("id={g}"),
            Some(&admin),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    t.state.jobs.wait_idle(&t.state.store().unwrap()).await;
    let status: serde_json::Value = serde_json::from_str(
        &body_text(
            t.call(
                "/api/mass_enrolment_status",
                &format!("id={g}"),
                Some(&admin),
            )
            .await,
        )
        .await,
    )
    .unwrap();
    assert_eq!(status["running"], false, "{status}");
    assert_eq!(status["enrolled"], 5);
    assert_eq!(status["done"], 5);
    assert_eq!(status["started_by"], "admin");
    assert_eq!(t.state.store().unwrap().enrolled_count(course).unwrap(), 5);
    let html = body_text(
        t.get(&format!("/groups/{g}?tab=courses"), Some(&admin))
            .await,
    )
    .await;
    assert!(
        html.contains("Last run finished."),
        "the summary is on the page"
    );
    assert!(
        html.contains("5 new enrolments, 0 already there, 0 failed"),
        "{html}"
    );
    let activity = body_text(
        t.call("/api/group_activity", &format!("id={g}"), Some(&admin))
            .await,
    )
    .await;
    assert!(activity.contains("MassEnrolment"), "{activity}");
}

/// Importing users: a CSV file (quoted names with commas, a bad row) is previewed without
/// JavaScript, applied by the job, and its result downloaded; a set-password link works once;
/// a file over the 1 MiB request limit but within the import's is taken, up to 50,000 rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_are_imported_from_a_csv_file_with_preview_result_and_links() {
    let t = TestApp::with_config(Config {
        public_url: Some("https://lms.example.org".parse().unwrap()),
        ..Config::default()
    });
    let admin = t.setup_admin().await;
    t.create_learner(&admin, "lee").await;
    let lee = t.login("lee", LEARNER_PASSWORD).await;
    let res = t
        .call(
            "/api/create_group",
            "name=Physics&description=&branch=&key=&max_uses=0&valid_from=&valid_until=",
            Some(&admin),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let upload = |file: Vec<u8>| {
        let (t, admin) = (&t, admin.clone());
        async move {
            let fields: &[(&str, Option<&str>, &[u8])] = &[("file", Some("people.csv"), &file)];
            let res = t
                .upload(
                    "/api/upload_user_import",
                    fields,
                    Some(&admin),
                    Some("/imports"),
                )
                .await;
            // Refused: the page again, in place, with the error (no URL carries it).
            if !res.status().is_redirection() {
                assert!(res.status().is_client_error(), "{}", res.status());
                return (String::new(), body_text(res).await);
            }
            let to = res.headers()[header::LOCATION]
                .to_str()
                .unwrap()
                .to_string();
            let to = to.trim_start_matches("http://localhost").to_string();
            let cookies = browser_cookies(Some(&admin), &res);
            let html = body_text(t.get(&to, Some(&cookies)).await).await;
            (to, html)
        }
    };
    let users_before = t.state.store().unwrap().user_count().unwrap();
    for (file, message) in [
        (Vec::new(), "Choose a CSV file to upload."),
        (vec![0xff, 0xfe, b'l', 0], "This file is not UTF-8 text."),
        (b"login,email,shoe size\n".to_vec(), "unknown column"),
        (b"login,email,name\n".to_vec(), "no users below it"),
    ] {
        let (to, html) = upload(file).await;
        assert!(to.is_empty(), "shown in place, not sent to {to}");
        assert!(html.contains(message), "{message}");
        assert!(html.contains(r#"id="import-file-error""#));
    }
    assert!(t
        .state
        .store()
        .unwrap()
        .recent_imports(5)
        .unwrap()
        .is_empty());

    let csv = "\u{feff}login,email,display name,role,password,groups\r\n\
               ada,ada@example.org,\"Lovelace, Ada\",learner,,Physics\r\n\
               bob,bob@example.org,Bob,admin,bob-password-1,\r\n\
               bad,not-an-email,Bad,,,\r\n\
               eve,eve@example.org,=HYPERLINK(\"http://evil.example/\"),,,\r\n";
    let (to, html) = upload(csv.as_bytes().to_vec()).await;
    assert!(to.starts_with("/imports/"), "{to}");
    let id: u64 = to.trim_start_matches("/imports/").parse().unwrap();
    for text in [
        "Lovelace, Ada",
        "Will be created",
        "Invalid email",
        "Create 3 user(s)",
    ] {
        assert!(html.contains(text), "preview shows {text}");
    }
    assert_eq!(
        t.state.store().unwrap().user_count().unwrap(),
        users_before,
        "preview creates nobody"
    );
    // Learners cannot see or apply it.
    assert_eq!(
        t.call("/api/apply_import", &format!("id={id}"), Some(&lee))
            .await
            .status(),
        StatusCode::FORBIDDEN
    );

    let res = t
        .call("/api/apply_import", &format!("id={id}"), Some(&admin))
        .await;
    assert_eq!(res.status(), StatusCode::OK, "{}", body_text(res).await);
    t.state.jobs.wait_idle(&t.state.store().unwrap()).await;
    let again = t
        .call("/api/apply_import", &format!("id={id}"), Some(&admin))
        .await;
    assert_eq!(again.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body_text(again).await.contains("applied already"));
    assert_eq!(
        t.state.store().unwrap().user_count().unwrap(),
        users_before + 3
    );
    let html = body_text(
        t.get(&format!("/imports/{id}?show=created"), Some(&admin))
            .await,
    )
    .await;
    assert!(
        html.contains("3 created; 0 skipped because the user exists; 1 invalid; 0 failed."),
        "summary"
    );
    assert!(html.contains("/set-password?token="), "the link to copy");
    // The live region's own reads (`live=1`) carry the state panel but not the rows.
    let live = body_text(
        t.get(&format!("/imports/{id}?show=created&live=1"), Some(&admin))
            .await,
    )
    .await;
    assert!(live.contains(r#"id="import-live""#) && live.contains("3 created;"));
    assert!(!live.contains("/set-password?token="), "no rows table");

    // The result file: every row, the link for Ada (no password given), none for Bob.
    let path = format!("/imports/{id}/result.csv");
    assert_eq!(t.get(&path, None).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        t.get(&path, Some(&lee)).await.status(),
        StatusCode::FORBIDDEN
    );
    let res = t.get(&path, Some(&admin)).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    assert!(res.headers()[header::CONTENT_DISPOSITION]
        .to_str()
        .unwrap()
        .contains("attachment"));
    let result = body_text(res).await;
    let lines: Vec<&str> = result.lines().collect();
    assert_eq!(lines.len(), 5, "{result}");
    assert!(lines[0].starts_with("line,login,email,display name,role,groups,result"));
    assert!(lines[1].starts_with("2,ada,ada@example.org,\"Lovelace, Ada\",learner,Physics,created,,https://lms.example.org/set-password?token="), "{}", lines[1]);
    // The links start with public_url whatever host the request names.
    let req = Request::get(&path)
        .header(header::HOST, "attacker.test")
        .header(header::COOKIE, &admin)
        .body(Body::empty())
        .unwrap();
    let other_host = body_text(t.send(req).await).await;
    assert!(!other_host.contains("attacker.test"), "{other_host}");
    assert!(other_host.contains("https://lms.example.org/set-password?token="));
    assert!(
        lines[2].starts_with("3,bob,") && lines[2].ends_with(",created,,"),
        "{}",
        lines[2]
    );
    assert!(lines[3].contains(",invalid,"), "{}", lines[3]);
    // A cell a spreadsheet would run as a formula is written as text.
    assert!(
        lines[4].starts_with("5,eve,eve@example.org,\"'=HYPERLINK("),
        "{}",
        lines[4]
    );
    let token = lines[1].rsplit("token=").next().unwrap().to_string();

    // Bob logs in with the password of the file; Ada sets hers with the link, once.
    t.login("bob", "bob-password-1").await;
    let page = body_text(t.get(&format!("/set-password?token={token}"), None).await).await;
    assert!(
        page.contains("your account ada"),
        "the link names the account"
    );
    let set = |pw: &str| format!("token={token}&password={pw}&password_confirm={pw}");
    let res = t
        .call("/api/set_password_by_link", &set("ada-password-1"), None)
        .await;
    assert_eq!(res.status(), StatusCode::OK, "{}", body_text(res).await);
    t.login("ada", "ada-password-1").await;
    let res = t
        .call("/api/set_password_by_link", &set("other-password-1"), None)
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body_text(res).await.contains("used already"));
    let page = body_text(t.get(&format!("/set-password?token={token}"), None).await).await;
    assert!(page.contains("used already"), "a used link says so");

    // Larger than the 1 MiB every other request may send: taken, up to 50,000 rows, from an
    // administrator only (a visitor is refused before the body is read).
    let fields: &[(&str, Option<&str>, &[u8])] = &[("file", Some("big.csv"), &[b'x'; 4 << 20])];
    let res = t
        .upload("/api/upload_user_import", fields, None, None)
        .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let fields: &[(&str, Option<&str>, &[u8])] = &[("file", Some("big.csv"), &[b'x'; 18 << 20])];
    let res = t
        .upload("/api/upload_user_import", fields, Some(&admin), None)
        .await;
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let big = |n: usize| {
        let mut s = String::from("login,email,display name\n");
        for i in 0..n {
            s.push_str(&format!(
                "student{i:05},student{i:05}@school.example.org,\"Student, Number {i}\"\n"
            ));
        }
        s.into_bytes()
    };
    let file = big(50_000);
    assert!(file.len() > 2 * 1024 * 1024);
    let (to, html) = upload(file).await;
    assert!(to.starts_with("/imports/"), "{to}");
    assert!(
        html.contains("50,000 will be created"),
        "the whole file previewed"
    );
    let (to, html) = upload(big(50_001)).await;
    assert!(to.is_empty(), "shown in place, not sent to {to}");
    assert!(html.contains("Import at most 50000 users at a time"));
}

/// Group keys over HTTP: each outcome has its message on the `key` field and changes nothing;
/// spaces and case do not matter; learners racing for a limited key never exceed it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn learners_join_a_group_with_its_key_and_a_limit_holds_under_a_race() {
    let t = TestApp::new();
    let admin = t.setup_admin().await;
    let res = t
        .call(
            "/api/create_course",
            "code=PHY-1&title=Mechanics&description=",
            Some(&admin),
        )
        .await;
    let course: serde_json::Value = serde_json::from_str(&body_text(res).await).unwrap();
    let group = |name: &str, key: &str, max: u32| {
        let (t, admin) = (&t, admin.clone());
        let form = format!("name={name}&description=&branch=&key={key}&max_uses={max}&valid_from=&valid_until=&key_enabled=on");
        async move {
            let res = t.call("/api/create_group", &form, Some(&admin)).await;
            assert_eq!(res.status(), StatusCode::OK);
            let v: serde_json::Value = serde_json::from_str(&body_text(res).await).unwrap();
            v["group"]["id"].as_u64().unwrap()
        }
    };
    let g = group("Physics", "PHYS-2026", 2).await;
    let res = t
        .call(
            "/api/change_group_link",
            &format!("id={g}&kind=course&target={}&op=add", course["id"]),
            Some(&admin),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let mut cookies = Vec::new();
    for l in ["ka", "kb", "kc"] {
        t.create_learner(&admin, l).await;
        cookies.push(t.login(l, LEARNER_PASSWORD).await);
    }
    let redeem = |cookie: &str, key: &str| {
        let (t, cookie, form) = (
            &t,
            cookie.to_string(),
            format!("key={}", key.replace(' ', "+")),
        );
        async move {
            let res = t.call("/api/redeem_group_key", &form, Some(&cookie)).await;
            (res.status(), body_text(res).await)
        }
    };
    let (status, body) = redeem(&cookies[0], " phys-2026 ").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        body.contains("Mechanics") && body.contains("Physics"),
        "{body}"
    );
    for (cookie, key, want, message) in [
        (
            &cookies[0],
            "PHYS-2026",
            StatusCode::CONFLICT,
            "You are already a member of Physics.",
        ),
        (
            &cookies[2],
            "",
            StatusCode::UNPROCESSABLE_ENTITY,
            "Type the group key you were given.",
        ),
        (
            &cookies[2],
            "NOPE-0000",
            StatusCode::NOT_FOUND,
            "No group has this key.",
        ),
    ] {
        let (status, body) = redeem(cookie, key).await;
        assert_eq!(status, want, "{body}");
        assert!(body.contains(message), "{body}");
    }
    assert_eq!(redeem(&cookies[1], "PHYS-2026").await.0, StatusCode::OK);
    let (status, body) = redeem(&cookies[2], "PHYS-2026").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body.contains("used as many times as it may be"), "{body}");
    let rec = t.state.store().unwrap().get_group(g).unwrap().unwrap();
    assert_eq!((rec.key_uses, rec.members), (2, 2));
    // The group page lists who joined with the key; learners cannot read it.
    let html = body_text(
        t.get(&format!("/groups/{g}?tab=activity"), Some(&admin))
            .await,
    )
    .await;
    let table = &html[html.find("Key redemptions").expect("the list")..];
    assert!(table.contains("ka") && table.contains("kb") && table.contains("PHYS-2026"));
    let res = t
        .call(
            "/api/group_key_redemptions",
            &format!("id={g}&page=1"),
            Some(&cookies[0]),
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    // The join page shows the group and its courses to a member only.
    let page = body_text(t.get(&format!("/join?joined={g}"), Some(&cookies[0])).await).await;
    assert!(page.contains("You joined Physics") && page.contains("Mechanics"));
    let page = body_text(t.get(&format!("/join?joined={g}"), Some(&cookies[2])).await).await;
    assert!(!page.contains("You joined Physics"));

    // Wrong keys are throttled per learner: 10 are answered, then 429 with the wait, even for
    // a good key; the rest of the site still works for them, and other learners are not held.
    t.create_learner(&admin, "guesser").await;
    let guesser = t.login("guesser", LEARNER_PASSWORD).await;
    for i in 0..10 {
        let (status, _) = redeem(&guesser, &format!("GUESS-{i:04}")).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "guess {i}");
    }
    let (status, body) = redeem(&guesser, "GUESS-9999").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert!(
        body.contains("TooManyAttempts") && body.contains("retry_after_secs"),
        "{body}"
    );
    let (status, _) = redeem(&guesser, "PHYS-2026").await;
    assert_eq!(
        status,
        StatusCode::TOO_MANY_REQUESTS,
        "blocked for good keys too"
    );
    assert_eq!(t.get("/", Some(&guesser)).await.status(), StatusCode::OK);
    assert_eq!(
        redeem(&cookies[2], "NOPE-0001").await.0,
        StatusCode::NOT_FOUND,
        "another learner is not held"
    );

    // 30 learners race for a key with 5 uses, 3 rounds: exactly 5 join each time.
    let mut racers = Vec::new();
    for i in 0..30 {
        let login = format!("racer{i}");
        t.create_learner(&admin, &login).await;
        racers.push(t.login(&login, LEARNER_PASSWORD).await);
    }
    for round in 0..3 {
        let key = format!("RACE-{round:04}");
        let g = group(&format!("Race+{round}"), &key, 5).await;
        let outcomes = futures_util::future::join_all(racers.iter().map(|c| redeem(c, &key))).await;
        let ok = outcomes
            .iter()
            .filter(|(s, _)| *s == StatusCode::OK)
            .count();
        assert_eq!(ok, 5, "round {round}");
        assert!(outcomes
            .iter()
            .filter(|(s, _)| *s != StatusCode::OK)
            .all(|(_, b)| b.contains("used as many times")));
        assert_eq!(
            t.state
                .store()
                .unwrap()
                .get_group(g)
                .unwrap()
                .unwrap()
                .key_uses,
            5
        );
    }
}

/// Creates a group with a key over HTTP and returns its id; `extra` sets the key's maximum
/// and window (`max_uses`, `valid_from`, `valid_until`: the form's defaults otherwise).
async fn keyed_group(t: &TestApp, admin: &str, name: &str, key: &str, extra: &str) -> u64 {
    let mut fields: BTreeMap<&str, &str> =
        BTreeMap::from([("max_uses", "0"), ("valid_from", ""), ("valid_until", "")]);
    for pair in extra.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap();
        fields.insert(k, v);
    }
    let rest: String = fields.iter().map(|(k, v)| format!("&{k}={v}")).collect();
    let form = format!("name={name}&description=&branch=&key={key}&key_enabled=on{rest}");
    let res = t.call("/api/create_group", &form, Some(admin)).await;
    let body = body_text(res).await;
    let v: serde_json::Value = serde_json::from_str(&body).expect(&body);
    v["group"]["id"].as_u64().expect(&body)
}

async fn try_key(t: &TestApp, cookie: &str, key: &str) -> (StatusCode, String) {
    let res = t
        .call("/api/redeem_group_key", &format!("key={key}"), Some(cookie))
        .await;
    (res.status(), body_text(res).await)
}

/// Every refusal has its own status; the admin's key buttons regenerate (the old key becomes
/// unknown, members stay), disable and enable, and learners cannot use them.
#[tokio::test]
async fn key_refusals_have_their_own_statuses_and_admins_regenerate_disable_and_enable() {
    let t = TestApp::new();
    let admin = t.setup_admin().await;
    let g = keyed_group(&t, &admin, "Physics", "PHYS-2026", "&max_uses=1").await;
    keyed_group(&t, &admin, "Soon", "SOON-2026", "&valid_from=2999-01-01").await;
    keyed_group(&t, &admin, "Past", "PAST-2026", "&valid_until=2001-01-01").await;
    let mut learners = Vec::new();
    for l in ["sa", "sb", "sc"] {
        t.create_learner(&admin, l).await;
        learners.push(t.login(l, LEARNER_PASSWORD).await);
    }
    let [a, b, c] = [&learners[0], &learners[1], &learners[2]];
    let mut seen = std::collections::BTreeSet::new();
    for (who, key, want, text) in [
        (a, "PHYS-2026", StatusCode::OK, "Physics"),
        (
            a,
            "PHYS-2026",
            StatusCode::CONFLICT,
            "already a member of Physics",
        ),
        (b, "PHYS-2026", StatusCode::FORBIDDEN, "used as many times"),
        (
            b,
            "",
            StatusCode::UNPROCESSABLE_ENTITY,
            "Type the group key",
        ),
        (
            b,
            "NOPE-2026",
            StatusCode::NOT_FOUND,
            "No group has this key",
        ),
        (b, "SOON-2026", StatusCode::TOO_EARLY, "cannot be used yet"),
        (b, "PAST-2026", StatusCode::GONE, "has expired"),
    ] {
        let (status, body) = try_key(&t, who, key).await;
        assert_eq!(status, want, "{key}: {body}");
        assert!(body.contains(text), "{key}: {body}");
        seen.insert(status);
    }

    let change = |op: &str, cookie: &str| {
        let form = format!("id={g}&op={op}");
        let cookie = cookie.to_string();
        let t = &t;
        async move {
            t.call("/api/change_group_key", &form, Some(&cookie))
                .await
                .status()
        }
    };
    assert_eq!(
        change("disable", c).await,
        StatusCode::FORBIDDEN,
        "learners cannot"
    );
    assert_eq!(change("disable", &admin).await, StatusCode::OK);
    let (status, body) = try_key(&t, b, "PHYS-2026").await;
    assert_eq!(status, StatusCode::LOCKED, "{body}");
    assert!(body.contains("turned off"), "{body}");
    seen.insert(status);
    assert_eq!(seen.len(), 8, "eight outcomes, eight statuses: {seen:?}");
    assert_eq!(change("enable", &admin).await, StatusCode::OK);
    assert_eq!(
        change("explode", &admin).await,
        StatusCode::UNPROCESSABLE_ENTITY
    );

    assert_eq!(change("regenerate", &admin).await, StatusCode::OK);
    let rec = t.state.store().unwrap().get_group(g).unwrap().unwrap();
    let fresh = rec.key.key.clone().unwrap();
    assert_ne!(fresh, "PHYS-2026");
    assert_eq!(
        (rec.key_uses, rec.members),
        (0, 1),
        "a new key's uses start at 0; A stays"
    );
    assert_eq!(try_key(&t, b, "PHYS-2026").await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        try_key(&t, b, &fresh.to_lowercase()).await.0,
        StatusCode::OK
    );
    // The group page shows the new key with its buttons to the admin.
    let html = body_text(t.get(&format!("/groups/{g}"), Some(&admin)).await).await;
    for text in [
        fresh.as_str(),
        "Regenerate key",
        "Disable key",
        "Copy the group key",
    ] {
        assert!(html.contains(text), "{text}");
    }
    let activity = t.state.store().unwrap().group_activity(g, 100).unwrap();
    assert!(activity
        .iter()
        .any(|(_, e)| e.detail.contains("New key generated")));
    assert!(
        activity.iter().all(|(_, e)| !e.detail.contains(&fresh)),
        "keys stay out of the audit trail"
    );
}

/// With self-registration on, a visitor signs up with a group key: a refused key makes no
/// account and uses nothing; a good one makes the account in the group and its courses.
#[tokio::test]
async fn visitors_sign_up_with_a_group_key() {
    let t = TestApp::new();
    let admin = t.setup_admin().await;
    t.call("/api/save_settings", "self_registration=on", Some(&admin))
        .await;
    let res = t
        .call(
            "/api/create_course",
            "code=PHY-1&title=Mechanics&description=",
            Some(&admin),
        )
        .await;
    let course: serde_json::Value = serde_json::from_str(&body_text(res).await).unwrap();
    let g = keyed_group(&t, &admin, "Physics", "PHYS-2026", "&max_uses=1").await;
    t.call(
        "/api/change_group_link",
        &format!("id={g}&kind=course&target={}&op=add", course["id"]),
        Some(&admin),
    )
    .await;
    let signup = |login: &str, key: &str| {
        let form = format!(
            "login={login}&email={login}%40x.org&display_name={login}&password=password-123&password_confirm=password-123&key={key}"
        );
        let t = &t;
        async move { t.call("/api/signup", &form, None).await }
    };
    let users = t.state.store().unwrap().user_count().unwrap();
    let res = signup("nora", "NOPE-2026").await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert!(session_cookie(&res).is_none(), "not signed in");
    assert!(body_text(res).await.contains("No group has this key"));
    assert_eq!(
        t.state.store().unwrap().user_count().unwrap(),
        users,
        "no account"
    );

    let res = signup("nora", "+phys-2026+").await;
    assert_eq!(res.status(), StatusCode::OK);
    let cookie = session_cookie(&res).expect("signed in");
    let nora = t
        .state
        .store()
        .unwrap()
        .find_for_login("nora")
        .unwrap()
        .unwrap()
        .0;
    assert!(t
        .state
        .store()
        .unwrap()
        .membership(g, nora.id)
        .unwrap()
        .is_some());
    let html = body_text(t.get(&format!("/join?joined={g}"), Some(&cookie)).await).await;
    assert!(html.contains("You joined Physics") && html.contains("Mechanics"));

    // Used up now: the next visitor gets no account, and the key's count stays at 1.
    let res = signup("otto", "PHYS-2026").await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(t
        .state
        .store()
        .unwrap()
        .find_for_login("otto")
        .unwrap()
        .is_none());
    assert_eq!(
        t.state
            .store()
            .unwrap()
            .get_group(g)
            .unwrap()
            .unwrap()
            .key_uses,
        1
    );
    // Without a key, sign-up is as before.
    assert_eq!(signup("otto", "").await.status(), StatusCode::OK);
    // The sign-up page offers the field, filled from the link.
    let html = body_text(t.get("/signup?key=PHYS-2026", None).await).await;
    assert!(
        html.contains("Group key") && html.contains("value=\"PHYS-2026\""),
        "{html}"
    );
}

/// Wrong keys over HTTP: 429 with the wait after the allowance, the rest of the site fine
/// meanwhile, and normal answers again once the window has passed (a short window here).
#[tokio::test]
async fn key_throttling_ends_when_its_window_has_passed() {
    let t = TestApp::with_state(Config::default(), |state| {
        state.key_throttle =
            std::sync::Arc::new(tessera::server::throttle::LoginThrottle::with_allowances(
                (3, std::time::Duration::from_secs(1)),
                (50, std::time::Duration::from_secs(1)),
            ));
    });
    let admin = t.setup_admin().await;
    keyed_group(&t, &admin, "Physics", "PHYS-2026", "").await;
    t.create_learner(&admin, "gus").await;
    let gus = t.login("gus", LEARNER_PASSWORD).await;
    for i in 0..3 {
        assert_eq!(
            try_key(&t, &gus, &format!("GUESS-{i:04}")).await.0,
            StatusCode::NOT_FOUND
        );
    }
    let (status, body) = try_key(&t, &gus, "GUESS-0004").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    let wait: serde_json::Value = serde_json::from_str(&body).unwrap();
    let secs = wait["TooManyAttempts"]["retry_after_secs"]
        .as_u64()
        .unwrap();
    assert!((1..=2).contains(&secs), "{body}");
    assert_eq!(
        try_key(&t, &gus, "PHYS-2026").await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
    // The page says how long to wait; the rest of the site works.
    let html = body_text(t.get("/", Some(&gus)).await).await;
    assert!(html.contains("My courses"), "{html}");
    tokio::time::sleep(std::time::Duration::from_millis(secs * 1000 + 200)).await;
    assert_eq!(
        try_key(&t, &gus, "PHYS-2026").await.0,
        StatusCode::OK,
        "the window passed"
    );
}

/// Reports: a group's manager reads that group's report and CSV and no other group's; the list
/// of groups and a learner's report are for administrators; learners and visitors get nothing.
/// The CSV is a UTF-8 attachment with a header row and the learner's completion.
#[tokio::test]
async fn group_reports_reach_admins_and_that_groups_managers_only() {
    use tessera::server::store::courses::{CourseFields, LessonChange};
    use tessera::server::store::enrolments::Source;
    let t = TestApp::new();
    let admin = t.setup_admin().await;
    let mia = t.create_learner(&admin, "mia").await;
    let lee = t.create_learner(&admin, "lee").await;
    let mine = t.create_group(&admin, "Physics").await;
    let other = t.create_group(&admin, "Chemistry").await;
    let s = &t.state.store().unwrap();
    let course = s
        .create_course(
            &CourseFields {
                code: "PHY".into(),
                title: "Physics, \"basics\"".into(),
                description: String::new(),
                archived: false,
            },
            0,
        )
        .unwrap()
        .id;
    let lesson = s
        .change_lessons(
            course,
            LessonChange::Add {
                title: "One".into(),
                text: "x".into(),
            },
        )
        .unwrap()
        .0[0]
        .id;
    for (path, args) in [
        (
            "/api/change_group_link",
            format!("id={mine}&kind=course&target={course}&op=add"),
        ),
        (
            "/api/change_group_manager",
            format!("id={mine}&user={mia}&op=add"),
        ),
        ("/api/add_group_member", format!("id={mine}&user={lee}")),
    ] {
        ok_json(t.call(path, &args, Some(&admin)).await).await;
    }
    s.enrol(lee, course, Source::Manual, 1).unwrap();
    s.mark_lesson(lee, course, lesson, true, 86_400_000)
        .unwrap();

    let mia_c = t.login("mia", LEARNER_PASSWORD).await;
    let lee_c = t.login("lee", LEARNER_PASSWORD).await;
    let csv = |g: u64| format!("/groups/{g}/report.csv");
    assert_eq!(
        t.get(&csv(mine), None).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        t.get(&csv(mine), Some(&lee_c)).await.status(),
        StatusCode::FORBIDDEN
    );
    for g in [other, 999_999] {
        assert_eq!(
            t.get(&csv(g), Some(&mia_c)).await.status(),
            StatusCode::FORBIDDEN
        );
        let res = t
            .call(
                "/api/group_report",
                &format!("id={g}&status=&course=&page=1"),
                Some(&mia_c),
            )
            .await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "group {g}");
    }
    assert_eq!(
        t.get(&csv(999_999), Some(&admin)).await.status(),
        StatusCode::NOT_FOUND
    );

    // The manager's own group: the report and its file.
    let r = ok_json(
        t.call(
            "/api/group_report",
            &format!("id={mine}&status=completed&course=&page=1"),
            Some(&mia_c),
        )
        .await,
    )
    .await;
    assert_eq!(r["rows"]["rows"][0]["login"], "lee");
    assert_eq!(r["courses"][0]["counts"]["completed"], 1);
    let res = t.get(&csv(mine), Some(&mia_c)).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()[header::CONTENT_TYPE],
        "text/csv; charset=utf-8"
    );
    assert!(res.headers()[header::CONTENT_DISPOSITION]
        .to_str()
        .unwrap()
        .starts_with("attachment; filename=\"group-"));
    let text = body_text(res).await;
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines,
        vec![
            "login,display name,PHY status,PHY progress %,PHY completed on",
            "lee,Learner lee,Completed,100,1970-01-02",
        ],
        "{text}"
    );
    let filtered = body_text(
        t.get(
            &format!("{}?status=not_started&course={course}", csv(mine)),
            Some(&admin),
        )
        .await,
    )
    .await;
    assert_eq!(filtered.lines().count(), 1, "only the header: {filtered}");

    // Admin-only reports.
    for (path, args) in [
        ("/api/report_groups", "query=&page=1".to_string()),
        ("/api/learner_report", format!("id={lee}")),
    ] {
        assert_eq!(
            t.call(path, &args, Some(&mia_c)).await.status(),
            StatusCode::FORBIDDEN
        );
        ok_json(t.call(path, &args, Some(&admin)).await).await;
    }
    let mine_report = ok_json(
        t.call("/api/learner_report", &format!("id={lee}"), Some(&admin))
            .await,
    )
    .await;
    assert_eq!(mine_report[0]["groups"][0], "Physics");

    // The pages: the Report tab with its chart and download, the admin-only list.
    let html = body_text(
        t.get(&format!("/groups/{mine}?tab=report"), Some(&mia_c))
            .await,
    )
    .await;
    assert!(
        html.contains(r#"role="img""#) && html.contains("Completion in Physics"),
        "chart"
    );
    assert!(
        html.contains(&format!(r#"href="/groups/{mine}/report.csv""#)),
        "download link"
    );
    assert!(html.contains("Completion per course"), "data table");
    // What the browser test finds by label and role.
    for needle in [
        r#"<label for="report-status">Status</label>"#,
        r#"<label for="report-course">Course</label>"#,
        ">Apply filters</button>",
        ">Download CSV</a>",
        "Members by course",
        r#"aria-labelledby="group-report-chart-title""#,
    ] {
        assert!(html.contains(needle), "{needle}");
    }
    let user_page = body_text(t.get(&format!("/users/{lee}"), Some(&admin)).await).await;
    assert!(
        user_page.contains("Courses and progress") && user_page.contains(">PHY</a>"),
        "{user_page}"
    );
    assert_eq!(
        t.get("/reports", Some(&mia_c)).await.status(),
        StatusCode::FORBIDDEN
    );
    let list = t.get("/reports", Some(&admin)).await;
    assert_eq!(list.status(), StatusCode::OK);
    assert!(body_text(list).await.contains("100 %"));
}

/// The report CSV is streamed: a group whose file is larger than one chunk arrives in several
/// body frames (the server never held it whole), and every member is in it once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_csv_arrives_in_several_frames() {
    use http_body_util::BodyExt;
    use tessera::model::group::{JoinedHow, KeySettings};
    use tessera::server::store::groups::{Actor, GroupFields};
    use tessera::server::store::users::{PasswordHash, UserFields};
    use tower::ServiceExt;
    let t = TestApp::new();
    let admin = t.setup_admin().await;
    let s = &t.state.store().unwrap();
    let actor = Actor { user: 0, now: 1 };
    let f = GroupFields {
        name: "Big".into(),
        description: String::new(),
        branch: None,
        key: KeySettings::default(),
        is_default: false,
    };
    let g = s.create_group(actor, &f).unwrap().0.id;
    let n = 3_000;
    for i in 0..n {
        let f = UserFields {
            login: format!("member{i:05}"),
            email: format!("member{i:05}@example.org"),
            display_name: format!("Member number {i:05}"),
            role: tessera::model::user::Role::Learner,
        };
        let u = s
            .create_user(&f, &PasswordHash::from_phc("$x".into()), false, 0)
            .unwrap()
            .id;
        s.add_member(actor, g, u, JoinedHow::Manual).unwrap();
    }
    let req = Request::get(format!("/groups/{g}/report.csv"))
        .header(header::HOST, "localhost")
        .header(header::COOKIE, &admin)
        .body(Body::empty())
        .unwrap();
    let res = t.app.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let mut body = res.into_body();
    let (mut frames, mut bytes) = (0, Vec::new());
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.unwrap().into_data() {
            frames += 1;
            bytes.extend_from_slice(&data);
        }
    }
    let text = String::from_utf8(bytes).unwrap();
    assert!(
        text.len() > 64 * 1024,
        "larger than one chunk: {}",
        text.len()
    );
    assert!(frames >= 2, "streamed in frames, got {frames}");
    assert_eq!(
        text.lines().count(),
        n + 1,
        "a header row and every member once"
    );
    assert_eq!(text.lines().filter(|l| l.starts_with("member")).count(), n);
}

/// The Backup page's download: administrators only; the file restores into a store that
/// `check` accepts and that holds the same data; the page then shows that backup, and no
/// temporary file is left in the data directory.
#[tokio::test]
async fn an_administrator_downloads_a_backup_that_restores() {
    use http_body_util::BodyExt;
    let t = TestApp::new();
    let admin = t.setup_admin().await;
    let lee = t.create_learner(&admin, "lee").await;
    let g = t.create_group(&admin, "Year 7").await;
    t.add_member(&admin, g, lee).await;
    let lee_c = t.login("lee", LEARNER_PASSWORD).await;
    // A visitor's browser is sent to sign in first.
    let res = t.get("/backup/download", None).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        res.headers()[header::LOCATION],
        "/login?next=%2Fbackup%2Fdownload"
    );
    assert_eq!(
        t.get("/backup/download", Some(&lee_c)).await.status(),
        StatusCode::FORBIDDEN
    );
    let status = ok_json(t.call("/api/get_backup_status", "", Some(&admin)).await).await;
    assert!(status["last"].is_null(), "{status}");
    let html = body_text(t.get("/backup", Some(&admin)).await).await;
    assert!(html.contains("No backup has been made yet."));

    let res = t.get("/backup/download", Some(&admin)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let head = |name: header::HeaderName| {
        res.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let disposition = head(header::CONTENT_DISPOSITION);
    assert!(
        disposition.starts_with("attachment; filename=\"tessera-")
            && disposition.ends_with(".tessera-backup\""),
        "{disposition}"
    );
    assert_eq!(head(header::CACHE_CONTROL), "no-store");
    let length: usize = head(header::CONTENT_LENGTH).parse().unwrap();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(bytes.len(), length);
    assert!(bytes.starts_with(b"tessera-backup 1\n"));

    let dir = tempfile::tempdir().unwrap();
    let (restored, summary) =
        tessera::server::store::restore(&bytes[..], &dir.path().join("restored")).unwrap();
    assert!(summary.violations.is_empty(), "{:?}", summary.violations);
    assert!(restored.find_for_login("lee").unwrap().is_some());
    assert_eq!(restored.get_group(g).unwrap().unwrap().members, 1);

    let status = ok_json(t.call("/api/get_backup_status", "", Some(&admin)).await).await;
    assert_eq!(status["last"]["bytes"], length as u64, "{status}");
    assert_eq!(status["last"]["downloaded_by"], "Ada Admin");
    let html = body_text(t.get("/backup", Some(&admin)).await).await;
    assert!(
        html.contains("downloaded by Ada Admin"),
        "the page shows it"
    );
    let leftovers: Vec<_> = std::fs::read_dir(&t.state.config.data_dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".backup-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// The Activity page, its server function and its CSV are for administrators only; filters
/// narrow the events, pages follow each other without gaps or repeats, filters at fault are
/// named next to their fields, and the file holds every match with formula-like cells inert.
#[tokio::test]
async fn activity_reaches_admins_only_with_filters_pages_and_csv() {
    let t = TestApp::new();
    let admin = t.setup_admin().await;
    let mia = t.create_learner(&admin, "mia").await;
    let lee = t.create_learner(&admin, "lee").await;
    let physics = t.create_group(&admin, "Physics").await;
    let formula = t.create_group(&admin, "%3DSUM(A1)").await;
    ok_json(
        t.call(
            "/api/change_group_manager",
            &format!("id={physics}&user={mia}&op=add"),
            Some(&admin),
        )
        .await,
    )
    .await;
    // 24 membership changes in Physics, one in the other group.
    for _ in 0..12 {
        t.add_member(&admin, physics, lee).await;
        ok_json(
            t.call(
                "/api/remove_group_member",
                &format!("id={physics}&user={lee}"),
                Some(&admin),
            )
            .await,
        )
        .await;
    }
    t.add_member(&admin, formula, lee).await;
    let mia_c = t.login("mia", LEARNER_PASSWORD).await;
    let lee_c = t.login("lee", LEARNER_PASSWORD).await;

    // Only administrators: the function, the page and the file.
    let args = "actor=&group=&kind=&from=&to=&before=&after=";
    assert_eq!(
        t.call("/api/activity", args, None).await.status(),
        StatusCode::UNAUTHORIZED
    );
    for who in [&mia_c, &lee_c] {
        assert_eq!(
            t.call("/api/activity", args, Some(who)).await.status(),
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            t.get("/activity", Some(who)).await.status(),
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            t.get("/activity.csv", Some(who)).await.status(),
            StatusCode::FORBIDDEN
        );
    }
    assert_eq!(
        t.get("/activity.csv", None).await.status(),
        StatusCode::UNAUTHORIZED
    );

    // Pages of 20, newest first, one after the other.
    let first = ok_json(t.call("/api/activity", args, Some(&admin)).await).await;
    let rows = first["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 20);
    assert_eq!(rows[0]["group"], "=SUM(A1)", "the newest first");
    assert_eq!(rows[0]["action"], "MembersAdded");
    assert!(first["newer"].is_null());
    let older = &first["older"];
    let place = format!("{}-{}", older["at"], older["event"]);
    let second = ok_json(
        t.call(
            "/api/activity",
            &format!("actor=&group=&kind=&from=&to=&before={place}&after="),
            Some(&admin),
        )
        .await,
    )
    .await;
    let more = second["rows"].as_array().unwrap();
    // 2 groups created, a manager made, 25 membership changes.
    assert_eq!(more.len(), 28 - 20);
    assert!(second["older"].is_null(), "the last page");
    assert_eq!(more.last().unwrap()["action"], "GroupCreated");
    let ids: std::collections::HashSet<u64> = rows
        .iter()
        .chain(more)
        .map(|r| r["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids.len(), 28, "no event twice");

    // Filters: a group and a kind, by name and key.
    let removed = ok_json(
        t.call(
            "/api/activity",
            "actor=ADMIN&group=physics&kind=members_removed&from=&to=&before=&after=",
            Some(&admin),
        )
        .await,
    )
    .await;
    let removed = removed["rows"].as_array().unwrap();
    assert_eq!(removed.len(), 12);
    assert!(removed.iter().all(|r| r["group"] == "Physics"
        && r["actor"] == "admin"
        && r["detail"] == "Removed lee; enrolments kept."));

    // Filters at fault: each named, no rows, and the page shows them by their fields.
    let bad = ok_json(
        t.call(
            "/api/activity",
            "actor=nobody&group=&kind=&from=2026-02-02&to=2026-02-01&before=&after=",
            Some(&admin),
        )
        .await,
    )
    .await;
    assert!(bad["rows"].as_array().unwrap().is_empty());
    assert_eq!(bad["problems"].as_array().unwrap().len(), 2);
    let html = body_text(
        t.get(
            "/activity?actor=nobody&from=2026-02-02&to=2026-02-01",
            Some(&admin),
        )
        .await,
    )
    .await;
    for needle in [
        "No user has the login name or e-mail “nobody”.",
        r#"aria-describedby="activity-actor-hint activity-actor-error""#,
        r#"id="activity-to-error""#,
        "is before “From”",
        "Correct the filters marked above",
    ] {
        assert!(html.contains(needle), "{needle}");
    }
    assert!(
        !html.contains("Download CSV"),
        "no file for filters at fault"
    );
    let page = t
        .get("/activity?group=Physics&kind=members_added", Some(&admin))
        .await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = body_text(page).await;
    for needle in [
        r#"<label for="activity-actor">Who</label>"#,
        r#"<label for="activity-group">Group</label>"#,
        r#"<label for="activity-kind">Kind</label>"#,
        r#"<option value="members_added" selected"#,
        r#"href="/activity.csv?group=Physics&amp;kind=members_added""#,
        ">Apply filters</button>",
        "Added lee (manual).",
        r#"href="/activity""#,
    ] {
        assert!(html.contains(needle), "{needle}: {html}");
    }
    assert!(!html.contains("Removed lee"), "filtered out");

    // The file: every match, newest first, with inert formula-like cells.
    let res = t.get("/activity.csv", Some(&admin)).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()[header::CONTENT_TYPE],
        "text/csv; charset=utf-8"
    );
    assert_eq!(
        res.headers()[header::CONTENT_DISPOSITION],
        "attachment; filename=\"activity.csv\""
    );
    let text = body_text(res).await;
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "time (UTC),actor,group,group id,event,detail");
    assert_eq!(lines.len(), 1 + 28);
    assert!(
        lines[1].starts_with("20")
            && lines[1].contains(&format!(
                ",admin,'=SUM(A1),{formula},Members added,Added lee"
            )),
        "{}",
        lines[1]
    );
    let filtered = body_text(
        t.get(
            "/activity.csv?group=Physics&kind=members_removed&before=1-1",
            Some(&admin),
        )
        .await,
    )
    .await;
    assert_eq!(filtered.lines().count(), 1 + 12, "{filtered}");
    let refused = t.get("/activity.csv?to=tomorrow", Some(&admin)).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body_text(refused).await.contains("Enter a date like"));
}

/// A form POST to a server function from a client at `ip` (its TCP peer), carrying `cookie`.
async fn call_from(
    t: &TestApp,
    ip: &str,
    path: &str,
    form: &str,
    cookie: Option<&str>,
) -> axum::http::Response<Body> {
    let peer = std::net::SocketAddr::new(ip.parse().expect("an address"), 40_000);
    let mut req = Request::post(path)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, "application/json")
        .extension(axum::extract::ConnectInfo(peer));
    if let Some(c) = cookie {
        req = req.header(header::COOKIE, c);
    }
    t.send(req.body(Body::from(form.to_string())).unwrap())
        .await
}

/// Failures from anywhere lock an account for every client without a device cookie for it,
/// even with the right password from an address that never failed; the owner's browser, which
/// signed in before, gets in, and is locked in its turn only by its own failures.
#[tokio::test]
async fn a_locked_account_still_lets_in_its_owners_browser() {
    use tessera::server::throttle::{DEVICE_BURST, DEVICE_COOKIE};
    let t = TestApp::new();
    t.setup_admin().await;
    let right = format!("identifier=admin&password={ADMIN_PASSWORD}");
    let wrong = "identifier=admin&password=wrong-guess";
    let login = |ip: &'static str, form: String, cookie: Option<String>| {
        let t = &t;
        async move { call_from(t, ip, "/api/login", &form, cookie.as_deref()).await }
    };
    // The owner signs in from home: the browser gets a device cookie.
    let res = login("198.51.100.10", right.clone(), None).await;
    assert_eq!(res.status(), StatusCode::OK);
    let device = cookie_set(&res, DEVICE_COOKIE).expect("a device cookie");
    let set = res
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(DEVICE_COOKIE))
        .unwrap()
        .to_string();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict") && set.contains("Max-Age="),
        "{set}"
    );
    // A learner's browser has a device cookie too, for another account.
    let admin = t.login("admin", ADMIN_PASSWORD).await;
    t.create_learner(&admin, "lee").await;
    let res = login(
        "198.51.100.20",
        format!("identifier=lee&password={LEARNER_PASSWORD}"),
        None,
    )
    .await;
    let lees_device = cookie_set(&res, DEVICE_COOKIE).expect("a device cookie");

    // Six wrong passwords from A lock the account...
    for _ in 0..ACCOUNT_BURST {
        let res = login("203.0.113.1", wrong.into(), None).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    let res = login("203.0.113.1", wrong.into(), None).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    // ...and more from B keep it locked.
    for _ in 0..3 {
        let res = login("203.0.113.2", wrong.into(), None).await;
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    }
    // The right password without a device cookie, from an address that never failed: still
    // refused (else every address of a guesser would get one free try).
    let res = login("192.0.2.50", right.clone(), None).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    // A forged device cookie, or another account's, is no device cookie.
    let parts: Vec<&str> = device.split('.').collect();
    let forged = format!(
        "{DEVICE_COOKIE}={}.{}.{}.{}",
        parts[0],
        parts[1],
        "ab".repeat(16),
        parts[3]
    );
    let others = format!("{DEVICE_COOKIE}={lees_device}");
    for cookie in [forged, others] {
        let res = login("198.51.100.10", right.clone(), Some(cookie.clone())).await;
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS, "{cookie}");
    }
    // The owner's browser gets in, and gets a fresh device cookie.
    let mine = format!("{DEVICE_COOKIE}={device}");
    let res = login("198.51.100.10", right.clone(), Some(mine.clone())).await;
    assert_eq!(res.status(), StatusCode::OK, "{}", body_text(res).await);
    let fresh = cookie_set(&res, DEVICE_COOKIE).expect("a new device cookie");
    assert_ne!(fresh, device);
    let session = session_cookie(&res).expect("signed in");
    assert_eq!(t.whoami(&session).await.as_deref(), Some("admin"));

    // A device cookie that fails too often is locked out in its turn.
    for _ in 0..DEVICE_BURST {
        let res = login("198.51.100.10", wrong.into(), Some(mine.clone())).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    let res = login("198.51.100.10", wrong.into(), Some(mine.clone())).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let res = login("198.51.100.10", right.clone(), Some(mine)).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    // The other browser's cookie is its own.
    let res = login(
        "198.51.100.10",
        right,
        Some(format!("{DEVICE_COOKIE}={fresh}")),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
}

/// "Already in use" tells whether an account exists: a visitor may hear it only so often per
/// address (a whole IPv6 /64 counts as one address), then gets 429 with Retry-After; other
/// addresses are not held back.
#[tokio::test]
async fn signups_that_hit_a_taken_name_are_throttled_per_address() {
    use tessera::server::throttle::SIGNUP_IP_BURST;
    let t = TestApp::with_config(Config {
        self_registration: true,
        ..Config::default()
    });
    t.setup_admin().await;
    let probe = |i: u32| {
        format!("login=probe{i}&email=admin%40example.org&display_name=P&password=password12&password_confirm=password12")
    };
    let mut statuses = Vec::new();
    for i in 0..30 {
        // A different address of the same /64 each time.
        let ip = format!("2001:db8:5:6::{:x}", i + 1);
        let res = call_from(&t, &ip, "/api/signup", &probe(i), None).await;
        let status = res.status();
        if status == StatusCode::TOO_MANY_REQUESTS {
            let retry: u64 = res.headers()[header::RETRY_AFTER]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!(retry >= 1);
        } else {
            let text = body_text(res).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{text}");
            assert!(text.contains("already in use"), "{text}");
        }
        statuses.push(status);
    }
    let told = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNPROCESSABLE_ENTITY)
        .count();
    assert_eq!(told, SIGNUP_IP_BURST as usize, "{statuses:?}");
    assert_eq!(
        statuses[SIGNUP_IP_BURST as usize],
        StatusCode::TOO_MANY_REQUESTS
    );
    assert!(statuses[SIGNUP_IP_BURST as usize..]
        .iter()
        .all(|s| *s == StatusCode::TOO_MANY_REQUESTS));
    // Someone at another address signs up as usual; a taken name is still said so there.
    let res = call_from(&t, "2001:db8:5:7::1", "/api/signup", &probe(99), None).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let res = call_from(
        &t,
        "192.0.2.7",
        "/api/signup",
        "login=newbie&email=newbie%40example.org&display_name=N&password=password12&password_confirm=password12",
        None,
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK, "{}", body_text(res).await);
    assert_eq!(t.state.store().unwrap().user_count().unwrap(), 2);
}

/// Every download (the backup, the import result, a group's report, the activity CSV) started
/// by another site is refused (403, a short page) before the file is made: by
/// `Sec-Fetch-Site` (`cross-site` and `same-site`), or, without it, by an `Origin` or
/// `Referer` of another site. A link on Tessera's pages (`same-origin`), a typed address
/// (`none`) and a client that sends none of these headers get the file. A refused backup is
/// not recorded as made.
#[tokio::test]
async fn downloads_started_by_another_site_are_refused() {
    let t = TestApp::new();
    let admin = t.setup_admin().await;
    let g = t.create_group(&admin, "Physics").await;
    let routes =
        tessera::server::router::DOWNLOAD_ROUTES.map(|r| r.replace("{id}", &g.to_string()));
    assert_eq!(routes.len(), 4, "each download route is walked");
    let send = |path: String, headers: Vec<(&'static str, &'static str)>| {
        let (t, admin) = (&t, admin.clone());
        async move {
            let mut req = Request::get(&path)
                .header(header::ACCEPT, "text/html")
                .header(header::COOKIE, &admin);
            for (name, value) in headers {
                req = req.header(name, value);
            }
            let res = t.send(req.body(Body::empty()).unwrap()).await;
            let status = res.status();
            (status, body_text(res).await)
        }
    };
    let refused: [Vec<(&str, &str)>; 5] = [
        vec![("sec-fetch-site", "cross-site")],
        vec![("sec-fetch-site", "same-site")],
        vec![
            ("sec-fetch-site", "cross-site"),
            ("referer", "http://localhost/backup"),
        ],
        vec![("origin", "https://evil.example")],
        vec![("referer", "https://evil.example/page")],
    ];
    for path in &routes {
        for headers in &refused {
            let (status, page) = send(path.clone(), headers.clone()).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{path} {headers:?}");
            assert!(page.contains("Download refused"), "{path}: {page}");
        }
    }
    let status = ok_json(t.call("/api/get_backup_status", "", Some(&admin)).await).await;
    assert!(
        status["last"].is_null(),
        "a refused backup is not recorded: {status}"
    );

    let allowed: [Vec<(&str, &str)>; 5] = [
        vec![("sec-fetch-site", "same-origin")],
        vec![("sec-fetch-site", "none")],
        vec![],
        vec![("referer", "http://localhost/backup")],
        vec![("origin", "http://localhost")],
    ];
    for path in &routes {
        for headers in &allowed {
            let (status, page) = send(path.clone(), headers.clone()).await;
            // The import does not exist (404); the others are files.
            let expected = if path.starts_with("/imports/") {
                StatusCode::NOT_FOUND
            } else {
                StatusCode::OK
            };
            assert_eq!(
                status,
                expected,
                "{path} {headers:?}: {}",
                &page[..page.len().min(200)]
            );
        }
    }
}

/// Set-password links are made from `public_url` only: without it the import's page says why
/// there are none and how to get them, the result CSV says the same in the link column, and no
/// link is made from the request's `Host` (which anyone can set).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_password_links_are_made_only_from_public_url() {
    let t = TestApp::new();
    let admin = t.setup_admin().await;
    let file = b"login,email,display name\nada,ada@example.org,Ada\n";
    let fields: &[(&str, Option<&str>, &[u8])] = &[("file", Some("people.csv"), file)];
    let res = t
        .upload("/api/upload_user_import", fields, Some(&admin), None)
        .await;
    let id = ok_json(res).await["id"].as_u64().expect("import id");
    let res = t
        .call("/api/apply_import", &format!("id={id}"), Some(&admin))
        .await;
    assert_eq!(res.status(), StatusCode::OK, "{}", body_text(res).await);
    t.state.jobs.wait_idle(&t.state.store().unwrap()).await;

    let page_as = |host: &'static str, path: String| {
        let (t, admin) = (&t, admin.clone());
        async move {
            let req = Request::get(path)
                .header(header::HOST, host)
                .header(header::ACCEPT, "text/html")
                .header(header::COOKIE, &admin)
                .body(Body::empty())
                .unwrap();
            body_text(t.send(req).await).await
        }
    };
    for host in ["localhost", "evil.example"] {
        let html = page_as(host, format!("/imports/{id}?show=created")).await;
        assert!(html.contains("1 created;"), "{html}");
        assert!(!html.contains("set-password?token="), "no link: {html}");
        assert!(html.contains("public_url is not set"), "{html}");
        assert!(html.contains("--public-url"), "says how: {html}");
        let csv = page_as(host, format!("/imports/{id}/result.csv")).await;
        assert!(!csv.contains("token="), "{csv}");
        assert!(csv.contains("not shown: public_url is not set"), "{csv}");
    }
    let view = ok_json(
        t.call("/api/get_import", &format!("id={id}"), Some(&admin))
            .await,
    )
    .await;
    assert!(view["link_base"].is_null(), "{view}");
}

/// The top bar names the caller's role: a learner in charge of a group is a "Group manager",
/// an administrator stays "Administrator" even when they manage a group too.
#[tokio::test]
async fn the_top_bar_calls_a_group_manager_so() {
    let t = TestApp::new();
    let admin = t.setup_admin().await;
    let mia = t.create_learner(&admin, "mia").await;
    t.create_learner(&admin, "lee").await;
    let g = t.create_group(&admin, "Physics").await;
    let admin_id = t
        .state
        .store()
        .unwrap()
        .user_id_by_login_or_email("admin")
        .unwrap()
        .unwrap();
    for user in [mia, admin_id] {
        ok_json(
            t.call(
                "/api/change_group_manager",
                &format!("id={g}&user={user}&op=add"),
                Some(&admin),
            )
            .await,
        )
        .await;
    }
    let mia_c = t.login("mia", LEARNER_PASSWORD).await;
    let lee_c = t.login("lee", LEARNER_PASSWORD).await;
    for (who, cookie, label, not) in [
        ("mia", &mia_c, "Group manager", ["Learner", "Administrator"]),
        ("lee", &lee_c, "Learner", ["Group manager", "Administrator"]),
        (
            "admin",
            &admin,
            "Administrator",
            ["Group manager", "Learner"],
        ),
    ] {
        let res = t.get("/inbox", Some(cookie)).await;
        assert_eq!(res.status(), StatusCode::OK, "{who}");
        let html = body_text(res).await;
        let role = html
            .split("class=\"role\"")
            .nth(1)
            .and_then(|r| r.split("</span>").next())
            .unwrap_or_else(|| panic!("{who}: no role in the top bar"));
        assert!(role.contains(label), "{who}: {role}");
        for n in not {
            assert!(!role.contains(n), "{who}: {role}");
        }
    }
}

/// A group's managers see its key (to hand it out) with its state, on the page and from
/// `get_group`; a member who manages nothing and the manager of another group never get it,
/// from any server function.
#[tokio::test]
async fn group_managers_see_their_groups_key_and_nobody_else_does() {
    const KEY: &str = "PHYS-4821-KEY";
    let t = TestApp::new();
    let admin = t.setup_admin().await;
    let mia = t.create_learner(&admin, "mia").await;
    let lee = t.create_learner(&admin, "lee").await;
    let ola = t.create_learner(&admin, "ola").await;
    let mine = keyed_group(&t, &admin, "Physics", KEY, "max_uses=30").await;
    let other = t.create_group(&admin, "Chemistry").await;
    for (g, user) in [(mine, mia), (other, ola)] {
        ok_json(
            t.call(
                "/api/change_group_manager",
                &format!("id={g}&user={user}&op=add"),
                Some(&admin),
            )
            .await,
        )
        .await;
    }
    t.add_member(&admin, mine, lee).await;
    let mia_c = t.login("mia", LEARNER_PASSWORD).await;
    let lee_c = t.login("lee", LEARNER_PASSWORD).await;
    let ola_c = t.login("ola", LEARNER_PASSWORD).await;

    let g = ok_json(
        t.call("/api/get_group", &format!("id={mine}"), Some(&mia_c))
            .await,
    )
    .await;
    assert_eq!(g["key"]["key"], KEY);
    assert_eq!(g["key"]["enabled"], true);
    assert_eq!(g["key"]["max_uses"], 30);
    assert_eq!(g["key_uses"], 0);
    assert_eq!(
        g["can_edit"], false,
        "a manager still cannot edit the group"
    );
    let html = body_text(t.get(&format!("/groups/{mine}"), Some(&mia_c)).await).await;
    assert!(html.contains(KEY), "the key is on the manager's page");
    assert!(html.contains("Copy the group key"), "with its copy button");
    assert!(html.contains("0 / 30"), "and its uses");

    // Every server function, as the member and as the other group's manager, with this
    // group's id wherever one is asked for: the key is in no answer.
    let paths: Vec<&str> = leptos::server_fn::axum::server_fn_paths()
        .map(|(p, _)| p)
        .filter(|p| *p != "/api/logout")
        .collect();
    for (who, cookie) in [("member", &lee_c), ("other manager", &ola_c)] {
        for path in &paths {
            let args = format!(
                "id={mine}&group={mine}&query=&page=1&status=&course=&sort=name&show=&opening=0"
            );
            let body = body_text(t.call(path, &args, Some(cookie)).await).await;
            assert!(!body.contains(KEY), "{path} as {who}: {body}");
        }
        let res = t
            .call("/api/get_group", &format!("id={mine}"), Some(cookie))
            .await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "get_group as {who}");
        let res = t.get(&format!("/groups/{mine}"), Some(cookie)).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "the page as {who}");
        assert!(!body_text(res).await.contains(KEY), "the page as {who}");
    }
}

/// A manager adds members to their group by exact login or e-mail, one per line; anything
/// else, a real user's partial name included, is "No such user", the same answer as for a
/// name nobody has. They remove members, and can do neither on a group they do not manage.
#[tokio::test]
async fn group_managers_add_members_by_exact_name_and_remove_them() {
    let t = TestApp::new();
    let admin = t.setup_admin().await;
    let mia = t.create_learner(&admin, "mia").await;
    let lee = t.create_learner(&admin, "lee").await;
    let ola = t.create_learner(&admin, "ola").await;
    t.create_learner(&admin, "leonora").await;
    let mine = t.create_group(&admin, "Physics").await;
    let other = t.create_group(&admin, "Chemistry").await;
    ok_json(
        t.call(
            "/api/change_group_manager",
            &format!("id={mine}&user={mia}&op=add"),
            Some(&admin),
        )
        .await,
    )
    .await;
    t.add_member(&admin, other, ola).await;
    let mia_c = t.login("mia", LEARNER_PASSWORD).await;

    let text = "lee\nOla%40Example.org\nleo\nleonora%40example\nnobody\nnobody%40example.org";
    let r = ok_json(
        t.call(
            "/api/bulk_add_group_members",
            &format!("id={mine}&text={text}"),
            Some(&mia_c),
        )
        .await,
    )
    .await;
    let outcomes: Vec<(&str, &serde_json::Value)> = r["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| (row["input"].as_str().unwrap(), &row["outcome"]))
        .collect();
    let added = serde_json::json!("Added");
    let none = serde_json::json!("UnknownUser");
    assert_eq!(
        outcomes,
        vec![
            ("lee", &added),
            ("Ola@Example.org", &added),
            ("leo", &none),
            ("leonora@example", &none),
            ("nobody", &none),
            ("nobody@example.org", &none),
        ]
    );
    assert_eq!(
        (r["added"].as_u64(), r["unknown"].as_u64()),
        (Some(2), Some(4))
    );
    let store = t.state.store().unwrap();
    assert_eq!(store.get_group(mine).unwrap().unwrap().members, 2);
    assert!(store.membership(mine, lee).unwrap().is_some());
    assert!(store.membership(mine, ola).unwrap().is_some());

    // The report on the page says "No such user", never "Unknown user", to a manager.
    let last = ok_json(
        t.call("/api/last_bulk_result", &format!("id={mine}"), Some(&mia_c))
            .await,
    )
    .await;
    assert_eq!(last["added"], 2);
    let html = body_text(
        t.get(&format!("/groups/{mine}?tab=users&bulk=1"), Some(&mia_c))
            .await,
    )
    .await;
    assert!(html.contains("No such user"), "per-row wording");
    assert!(!html.contains("Unknown user"));
    assert!(
        html.contains("Remove from group: lee"),
        "a remove button per member"
    );
    assert!(
        !html.contains("Find users to add"),
        "no browsing the directory"
    );

    // Removing.
    ok_json(
        t.call(
            "/api/remove_group_member",
            &format!("id={mine}&user={lee}"),
            Some(&mia_c),
        )
        .await,
    )
    .await;
    assert!(store.membership(mine, lee).unwrap().is_none());
    assert_eq!(store.get_group(mine).unwrap().unwrap().members, 1);

    // Another group (or none): refused, nothing changes.
    for id in [other, 999_999] {
        for (path, args) in [
            ("bulk_add_group_members", format!("id={id}&text=lee")),
            ("remove_group_member", format!("id={id}&user={ola}")),
            ("last_bulk_result", format!("id={id}")),
        ] {
            let res = t.call(&format!("/api/{path}"), &args, Some(&mia_c)).await;
            assert_eq!(res.status(), StatusCode::FORBIDDEN, "{path} of group {id}");
        }
    }
    assert_eq!(store.get_group(other).unwrap().unwrap().members, 1);
    assert!(store.membership(other, lee).unwrap().is_none());
    assert!(store.membership(other, ola).unwrap().is_some());
}

/// Regenerating a group's key says so on the page it goes back to, with the new key, like
/// every other action that worked; disabling and enabling say so too.
#[tokio::test]
async fn a_regenerated_key_is_announced() {
    let t = TestApp::new();
    let admin = t.setup_admin().await;
    let g = t.create_group(&admin, "Physics").await;
    let back = format!("http://localhost/groups/{g}");
    let (status, to) = plain_form_post(
        &t,
        &admin,
        "/api/regenerate_group_key",
        &back,
        &format!("id={g}"),
    )
    .await;
    assert_eq!(status, StatusCode::FOUND);
    assert_eq!(
        to,
        format!("/groups/{g}?__done=%2Fapi%2Fregenerate_group_key")
    );
    let html = body_text(t.get(&to, Some(&admin)).await).await;
    let said = html
        .find("New key made: ")
        .expect("the page says the key was made");
    let key: String = html[said + "New key made: ".len()..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    assert_eq!(key.len(), 14, "{key}");
    // The notice and the key's own place on the page name the same key.
    assert!(
        html.matches(key.as_str()).count() >= 2,
        "the key shown is the new one: {html}"
    );
    let plain = body_text(t.get(&format!("/groups/{g}"), Some(&admin)).await).await;
    assert!(
        !plain.contains("New key made"),
        "only right after the change"
    );

    let (_, to) = plain_form_post(
        &t,
        &admin,
        "/api/change_group_key",
        &back,
        &format!("id={g}&op=disable"),
    )
    .await;
    let html = body_text(t.get(&to, Some(&admin)).await).await;
    assert!(html.contains("Key disabled.") && !html.contains("New key made"));
}

/// The Courses tab without JavaScript: the courses not yet attached are listed at once as a
/// checklist, a search matches any part of a code or title, one plain form post attaches
/// every ticked course and curriculum, an unknown id refuses them all (nothing changed), and
/// removing is behind a confirmation.
#[tokio::test]
async fn courses_are_attached_several_at_once_with_a_plain_form() {
    let t = TestApp::new();
    let admin = t.setup_admin().await;
    let mut ids = Vec::new();
    for (code, title) in [
        ("PHY-101", "Introductory Physics"),
        ("CHEM-101", "General Chemistry"),
        ("BIO-7", "Cells and Genes"),
    ] {
        let c = ok_json(
            t.call(
                "/api/create_course",
                &format!("code={code}&title={title}&description="),
                Some(&admin),
            )
            .await,
        )
        .await;
        ids.push(c["id"].as_u64().unwrap());
    }
    let cur = ok_json(
        t.call(
            "/api/create_curriculum",
            "name=Science+Path&description=",
            Some(&admin),
        )
        .await,
    )
    .await["id"]
        .as_u64()
        .unwrap();
    let g = t.create_group(&admin, "Year 7").await;
    let tab = format!("/groups/{g}?tab=courses");

    // Listed at once, each with its box; nothing asks to search first.
    let html = body_text(t.get(&tab, Some(&admin)).await).await;
    for (id, code) in ids.iter().zip(["PHY-101", "CHEM-101", "BIO-7"]) {
        assert!(html.contains(code), "{code} offered: {html}");
        assert!(
            html.contains(&format!(r#"id="attach-course-{id}""#)),
            "{code} has a box"
        );
    }
    assert!(html.contains(&format!(r#"id="attach-curriculum-{cur}""#)));
    assert!(html.contains(r#"name="courses[]""#) && html.contains("Attach selected courses"));
    assert!(!html.contains("Search above"), "{html}");
    // Any part of the code or title, ignoring case.
    let found = body_text(t.get(&format!("{tab}&cq=YSIC"), Some(&admin)).await).await;
    assert!(found.contains("attach-course-") && found.contains("PHY-101"));
    assert!(!found.contains("CHEM-101") && !found.contains("BIO-7"));

    // An unknown id among them: refused, back to the form with the error, nothing attached.
    let store = t.state.store().unwrap();
    let events = store.group_activity(g, 1000).unwrap().len();
    let back = format!("http://localhost{tab}");
    let req = Request::post("/api/attach_group_links")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, "text/html")
        .header(header::REFERER, &back)
        .header(header::COOKIE, &admin)
        .body(Body::from(format!(
            "id={g}&courses%5B%5D={}&courses%5B%5D=424242",
            ids[0]
        )))
        .unwrap();
    let res = t.send(req).await;
    // The page again, in place, with the error and the boxes still ticked.
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = body_text(res).await;
    assert!(
        html.contains(&format!(r#"value="{}" checked"#, ids[0])),
        "the ticked course stays ticked"
    );
    assert!(html.contains("There is no course #424242"), "{html}");
    assert_eq!(store.group_links(g).unwrap(), (vec![], vec![]));
    assert_eq!(store.group_activity(g, 1000).unwrap().len(), events);

    // Two courses and the curriculum in one post.
    let (status, to) = plain_form_post(
        &t,
        &admin,
        "/api/attach_group_links",
        &back,
        &format!(
            "id={g}&courses%5B%5D={}&courses%5B%5D={}&curricula%5B%5D={cur}",
            ids[0], ids[1]
        ),
    )
    .await;
    assert_eq!(status, StatusCode::FOUND);
    assert!(
        to.starts_with(&format!("/groups/{g}?tab=courses&added=1")),
        "{to}"
    );
    assert_eq!(
        store.group_links(g).unwrap(),
        (vec![ids[0], ids[1]], vec![cur])
    );
    let trail = store.group_activity(g, 1000).unwrap();
    assert_eq!(trail.len(), events + 1, "one audit event");
    assert!(trail.iter().any(
        |(_, e)| e.detail == "Attached courses PHY-101, CHEM-101 and curriculum Science Path."
    ));
    let html = body_text(t.get(&tab, Some(&admin)).await).await;
    assert!(
        !html.contains(&format!(r#"id="attach-course-{}""#, ids[0])),
        "attached: no longer offered"
    );
    assert!(html.contains(&format!(r#"id="attach-course-{}""#, ids[2])));
    assert!(!html.contains("attach-curriculum-"), "{html}");
    // Removing asks first: the button sits inside a confirmation.
    let remove = html
        .find("Remove course PHY-101 from the group")
        .expect("a remove button");
    let confirm = html[..remove]
        .rfind("<details class=\"confirm\"")
        .expect("a confirmation");
    assert!(
        !html[confirm..remove].contains("</details>"),
        "the button is inside it"
    );

    // Nothing ticked: a typed error, nothing changed.
    let (status, to) = plain_form_post(
        &t,
        &admin,
        "/api/attach_group_links",
        &back,
        &format!("id={g}"),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{to}");
    assert_eq!(store.group_links(g).unwrap().0.len(), 2);
}

/// "Managers may regenerate the key", a group setting on the group form (off by default): a
/// manager's regenerate is refused with Forbidden while it is off, the key unchanged and no
/// button shown; allowed once the admin turns it on; administrators always may.
#[tokio::test]
async fn managers_regenerate_the_key_only_when_the_group_allows_it() {
    const KEY: &str = "PHYS-4821-KEY";
    let t = TestApp::new();
    let admin = t.setup_admin().await;
    let mia = t.create_learner(&admin, "mia").await;
    let g = keyed_group(&t, &admin, "Physics", KEY, "").await;
    ok_json(
        t.call(
            "/api/change_group_manager",
            &format!("id={g}&user={mia}&op=add"),
            Some(&admin),
        )
        .await,
    )
    .await;
    let mia_c = t.login("mia", LEARNER_PASSWORD).await;
    let store = t.state.store().unwrap();
    let key_now = || store.get_group(g).unwrap().unwrap().key.key;

    let page = format!("/groups/{g}");
    let html = body_text(t.get(&page, Some(&mia_c)).await).await;
    assert!(
        html.contains(KEY) && !html.contains("Regenerate key"),
        "{html}"
    );
    let res = t
        .call(
            "/api/regenerate_group_key",
            &format!("id={g}"),
            Some(&mia_c),
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        key_now().as_deref(),
        Some(KEY),
        "refused: the key unchanged"
    );

    // The admin ticks the setting on the edit form (a plain post).
    let edit = format!("http://localhost/groups/{g}/edit");
    let form = |key: &str, extra: &str| {
        format!("id={g}&name=Physics&description=&branch=&key={key}&max_uses=0&valid_from=&valid_until=&key_enabled=on{extra}")
    };
    let (status, to) = plain_form_post(
        &t,
        &admin,
        "/api/update_group",
        &edit,
        &form(KEY, "&managers_regenerate_key=on"),
    )
    .await;
    assert_eq!(status, StatusCode::FOUND);
    assert!(!to.contains("__err="), "{to}");
    let form_html = body_text(t.get(&format!("/groups/{g}/edit"), Some(&admin)).await).await;
    assert!(form_html.contains("Group managers may regenerate the key"));
    assert!(store.get_group(g).unwrap().unwrap().managers_regenerate_key);

    let html = body_text(t.get(&page, Some(&mia_c)).await).await;
    assert!(
        html.contains("Regenerate key"),
        "the manager has the button"
    );
    assert!(!html.contains("Disable key"), "and only that one");
    let (status, to) = plain_form_post(
        &t,
        &mia_c,
        "/api/regenerate_group_key",
        &format!("http://localhost{page}"),
        &format!("id={g}"),
    )
    .await;
    assert_eq!(status, StatusCode::FOUND);
    assert!(!to.contains("__err="), "{to}");
    let new = key_now().expect("a key");
    assert_ne!(new, KEY);

    // Turned off again (the box unticked is absent): refused again.
    let (_, to) = plain_form_post(&t, &admin, "/api/update_group", &edit, &form(&new, "")).await;
    assert!(!to.contains("__err="), "{to}");
    let res = t
        .call(
            "/api/regenerate_group_key",
            &format!("id={g}"),
            Some(&mia_c),
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(key_now(), Some(new));
    // The admin may, whatever the setting.
    let res = t
        .call(
            "/api/regenerate_group_key",
            &format!("id={g}"),
            Some(&admin),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
}
