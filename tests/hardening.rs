//! What a hostile or careless client meets, on the real router: malformed bodies, panics,
//! framing, forged error links, off-site redirects, control characters, unknown host names
//! before set-up, forwarded addresses, and sessions that outlive their idle timeout only while
//! used.

mod common;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, Request, Response, StatusCode};
use axum::routing::post;
use axum::Router;
use common::*;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tessera::server::config::Config;
use tessera::server::throttle::IP_BURST;

fn header_of(res: &Response<Body>, name: header::HeaderName) -> &str {
    res.headers()
        .get(&name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// The headers every response carries, whatever it is.
fn assert_protected(what: &str, res: &Response<Body>) {
    let csp = header_of(res, header::CONTENT_SECURITY_POLICY);
    assert!(
        csp.contains("frame-ancestors 'none'"),
        "{what}: CSP {csp:?}"
    );
    assert_eq!(header_of(res, header::X_FRAME_OPTIONS), "DENY", "{what}");
    assert_eq!(
        header_of(res, header::X_CONTENT_TYPE_OPTIONS),
        "nosniff",
        "{what}"
    );
    assert_eq!(
        header_of(res, header::REFERRER_POLICY),
        "same-origin",
        "{what}"
    );
}

#[tokio::test]
async fn multipart_without_a_boundary_is_400_before_any_decoder() {
    let t = TestApp::new();
    let admin = t.setup_admin().await;
    for (content_type, cookie) in [
        ("text/plain", None),
        ("multipart/form-data", None),
        ("multipart/form-data; boundary=", None),
        ("application/x-www-form-urlencoded", Some(admin.as_str())),
        ("multipart/form-data", Some(admin.as_str())),
    ] {
        let mut req = Request::post("/api/bulk_upload_group_members")
            .header(header::CONTENT_TYPE, content_type)
            .header(header::ACCEPT, "application/json");
        if let Some(c) = cookie {
            req = req.header(header::COOKIE, c);
        }
        let res = t
            .send(req.body(Body::from("group=1&text=x")).unwrap())
            .await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{content_type}");
        assert_protected(content_type, &res);
        assert!(
            body_text(res)
                .await
                .contains("multipart/form-data with a boundary"),
            "{content_type}"
        );
    }
}

/// A handler that panics answers 500 with a log id (and the security headers), and the
/// server goes on serving.
#[tokio::test]
async fn a_panicking_handler_answers_500_with_a_log_id() {
    tessera::server::layers::install_panic_hook();
    let t = TestApp::new();
    let app = Router::new().route(
        "/api/explode",
        post(|| async {
            panic!("a handler bug");
            #[allow(unreachable_code)]
            ""
        }),
    );
    let app = tessera::server::router::with_layers(t.state.clone(), app);
    let req = Request::post("/api/explode")
        .header(header::HOST, "localhost")
        .body(Body::empty())
        .unwrap();
    let res = tower::ServiceExt::oneshot(app.clone(), req).await.unwrap();
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_protected("panic", &res);
    let body = body_text(res).await;
    let err: tessera::model::AppError = serde_json::from_str(&body).unwrap();
    match err {
        tessera::model::AppError::Internal { log_id } => {
            assert_eq!(log_id.len(), 8, "{log_id}");
            assert!(log_id.chars().all(|c| c.is_ascii_hexdigit()), "{log_id}");
        }
        other => panic!("expected an internal error, got {other:?}"),
    }
    // Still serving.
    let res = t.get("/login", None).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn every_kind_of_response_carries_the_security_headers() {
    let t = TestApp::new();
    // Before set-up: a redirect and the set-up page.
    let res = t.get("/groups", None).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_protected("redirect", &res);
    let admin = t.setup_admin().await;

    // A page: its policy allows exactly the scripts that carry this render's nonce.
    let res = t.get("/settings", Some(&admin)).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_protected("page", &res);
    assert_eq!(header_of(&res, header::CACHE_CONTROL), "no-store");
    let csp = header_of(&res, header::CONTENT_SECURITY_POLICY).to_string();
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .and_then(|r| r.split('\'').next())
        .expect("a nonce in the page's policy")
        .to_string();
    assert!(nonce.len() >= 16, "{nonce}");
    assert!(csp.contains("'wasm-unsafe-eval'") && !csp.contains("unsafe-inline"));
    let html = body_text(res).await;
    let scripts = html.matches("<script").count();
    assert!(scripts > 0);
    assert_eq!(
        html.matches(&format!("nonce=\"{nonce}\"")).count(),
        scripts,
        "every script carries the nonce"
    );
    assert!(!html.contains(" style=\""), "no inline styles");
    assert!(!html.contains(" onclick="), "no inline handlers");
    // Another render, another nonce.
    let again = t.get("/settings", Some(&admin)).await;
    assert!(!header_of(&again, header::CONTENT_SECURITY_POLICY).contains(&nonce));

    // JSON, an API error, a 404 page, a throttled or refused request.
    let res = t.call("/api/current_user", "", Some(&admin)).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_protected("json", &res);
    assert_eq!(header_of(&res, header::CACHE_CONTROL), "no-store");
    let res = t.call("/api/list_users", "query=&page=1", None).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_protected("401", &res);
    let res = t.get("/no-such-page", Some(&admin)).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_protected("404", &res);
    let res = t
        .send(
            Request::post("/api/login")
                .header(header::ORIGIN, "http://evil.example")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_protected("cross-site 403", &res);
}

fn encoded_error(field: &str, message: &str) -> String {
    use base64::Engine;
    let err = tessera::model::AppError::invalid(field, message);
    base64::engine::general_purpose::URL_SAFE.encode(serde_json::to_string(&err).unwrap())
}

/// No error in a page's URL is ever shown: a refused form is answered with its page rendered
/// again, so a link with a forged error (signed or not) leads to the page without it, and a
/// Referer that carries one changes nothing of what the refusal shows.
#[tokio::test]
async fn forged_form_errors_in_the_url_are_not_shown() {
    let t = TestApp::new();
    t.setup_admin().await;
    let forged = encoded_error(
        "identifier",
        "Your account is locked. Call 0800 to unlock it",
    );
    let res = t
        .get(&format!("/login?__path=/api/login&__err={forged}"), None)
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(header_of(&res, header::LOCATION), "/login");
    let res = t
        .get(
            &format!("/login?next=%2Fgroups&__path=/api/login&__err={forged}&__sig=00112233445566778899aabbccddeeff"),
            None,
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(header_of(&res, header::LOCATION), "/login?next=%2Fgroups");

    // A genuine refusal is the page itself, with the error, and no URL to share.
    let req = Request::post("/api/login")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, "text/html")
        .header(header::REFERER, "http://localhost/login")
        .body(Body::from("identifier=&password=x"))
        .unwrap();
    let res = t.send(req).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.headers().get(header::LOCATION).is_none());
    assert!(body_text(res)
        .await
        .contains("Enter your login name or e-mail."));

    // A Referer that carries a forged error: only this call's own outcome is shown.
    let planted = format!("http://localhost/login?__path=/api/login&__err={forged}");
    for form in [
        "identifier=&password=x",
        "identifier=admin&password=admin-password-1",
    ] {
        let req = Request::post("/api/login")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "text/html")
            .header(header::REFERER, planted.as_str())
            .body(Body::from(form))
            .unwrap();
        let res = t.send(req).await;
        let back = header_of(&res, header::LOCATION).to_string();
        assert!(!back.contains("__err"), "{form}: {back}");
        let html = body_text(res).await;
        assert!(!html.contains("Call 0800"), "{form}");
    }

    // The clean-up redirect itself never leaves the site.
    for path in ["//evil.example?__err=x", "/\\evil.example?__err=x"] {
        let res = t.get(path, None).await;
        if res.status().is_redirection() {
            let to = header_of(&res, header::LOCATION);
            assert!(
                to.starts_with('/') && !to.starts_with("//"),
                "{path} -> {to}"
            );
        }
    }
}

/// Guesses sent in parallel against one account are checked one at a time, so the throttle
/// counts each before the next is tried: at most the allowance is ever hashed.
#[tokio::test]
async fn parallel_guesses_do_not_outrun_the_throttle() {
    let t = TestApp::with_config(Config {
        hash_workers: 2,
        ..Config::default()
    });
    t.setup_admin().await;
    let before = t.state.hasher.hashes_done();
    let guesses = (0..12).map(|i| {
        let t = &t;
        async move {
            t.call(
                "/api/login",
                &format!("identifier=admin&password=guess-{i}"),
                None,
            )
            .await
            .status()
        }
    });
    let statuses = futures_util::future::join_all(guesses).await;
    let checked = t.state.hasher.hashes_done() - before;
    assert!(
        checked <= tessera::server::throttle::ACCOUNT_BURST as u64 + 1,
        "{checked} guesses were checked: {statuses:?}"
    );
    assert!(statuses.contains(&StatusCode::TOO_MANY_REQUESTS));
}

/// The redirect after a form post without JavaScript never leaves this site, whatever
/// `Referer` said.
#[tokio::test]
async fn form_posts_redirect_only_to_this_site() {
    let t = TestApp::new();
    t.setup_admin().await;
    // A failed post from another site's page goes home; from this site's, it is that page
    // again, rendered in place.
    for (referer, expected) in [
        ("https://evil.example/phish", Some("/")),
        ("//evil.example/phish", Some("/")),
        ("http://localhost/login?x=1", None),
    ] {
        let req = Request::post("/api/login")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "text/html")
            .header(header::REFERER, referer)
            .body(Body::from("identifier=admin&password=wrong-guess"))
            .unwrap();
        let res = t.send(req).await;
        match expected {
            Some(home) => {
                assert!(res.status().is_redirection(), "{referer}");
                assert_eq!(header_of(&res, header::LOCATION), home, "{referer}");
            }
            None => {
                assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{referer}");
                assert!(body_text(res).await.contains("is not correct"));
            }
        }
    }
    // A `next` that points off-site is dropped too.
    let res = t
        .call(
            "/api/login",
            &format!(
                "identifier=admin&password={ADMIN_PASSWORD}&next=https%3A%2F%2Fevil.example%2F"
            ),
            None,
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = t
        .call(
            "/api/login",
            &format!("identifier=admin&password={ADMIN_PASSWORD}&next=%2Fgroups%3Fpage%3D2"),
            None,
        )
        .await;
    assert_eq!(header_of(&res, header::LOCATION), "/groups?page=2");
}

/// Every entity's names and texts go through the one normaliser: control characters and
/// direction overrides are refused with a field error and nothing is stored; logins are ASCII.
#[tokio::test]
async fn control_and_direction_characters_are_refused_on_every_entity() {
    let t = TestApp::new();
    let admin = t.setup_admin().await;
    let created = t
        .call(
            "/api/create_course",
            "code=C1&title=Course&description=",
            Some(&admin),
        )
        .await;
    assert_eq!(created.status(), StatusCode::OK);
    let course: serde_json::Value = serde_json::from_str(&body_text(created).await).unwrap();
    let course = course["id"].as_u64().unwrap();
    let nul = "%00";
    let esc = "%1B%5B31m";
    let rlo = "%E2%80%AE";
    let cases: Vec<(&str, String, &str)> = vec![
        ("/api/create_branch", format!("name=A{nul}B&description=&parent="), "name"),
        ("/api/create_branch", format!("name=A{rlo}B&description=&parent="), "name"),
        ("/api/create_branch", format!("name=Ok&description=x{esc}y&parent="), "description"),
        ("/api/create_course", format!("code=C2&title=T{nul}&description="), "title"),
        ("/api/create_course", format!("code=C2&title=T&description=d{nul}"), "description"),
        ("/api/create_course", "code=C%D0%86&title=T&description=".to_string(), "code"),
        ("/api/change_lesson", format!("course={course}&op=add&title=L{rlo}&text=x"), "title"),
        ("/api/change_lesson", format!("course={course}&op=add&title=L&text=x{nul}"), "text"),
        ("/api/create_curriculum", format!("name=N{esc}&description="), "name"),
        ("/api/create_curriculum", format!("name=N&description={rlo}"), "description"),
        (
            "/api/create_group",
            format!("name=G{nul}&description=&branch=&key=&max_uses=&valid_from=&valid_until="),
            "name",
        ),
        (
            "/api/create_group",
            format!("name=G&description={rlo}&branch=&key=&max_uses=&valid_from=&valid_until="),
            "description",
        ),
        (
            "/api/create_user",
            format!("login=lee&email=lee%40x.org&display_name=L{rlo}&role=learner&password=password-1&password_confirm=password-1"),
            "display_name",
        ),
        (
            // "аdmin" with a Cyrillic а.
            "/api/create_user",
            "login=%D0%B0dmin&email=a2%40x.org&display_name=A&role=learner&password=password-1&password_confirm=password-1".to_string(),
            "login",
        ),
    ];
    for (path, form, field) in cases {
        let res = t.call(path, &form, Some(&admin)).await;
        assert_eq!(
            res.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{path} {form}"
        );
        let err: tessera::model::AppError = serde_json::from_str(&body_text(res).await).unwrap();
        assert!(err.field_message(field).is_some(), "{path} {form}: {err:?}");
    }
    let s = &t.state.store().unwrap();
    assert_eq!(s.user_count().unwrap(), 1, "no user stored");
    let courses = t
        .call("/api/list_courses", "query=&page=1", Some(&admin))
        .await;
    let courses = body_text(courses).await;
    assert!(courses.contains("\"total\":1"), "{courses}");
    // NFC: the same name typed two ways is the same name.
    let res = t
        .call(
            "/api/create_branch",
            "name=Caf%C3%A9&description=&parent=",
            Some(&admin),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = t
        .call(
            "/api/create_branch",
            "name=Cafe%CC%81&description=&parent=",
            Some(&admin),
        )
        .await;
    assert_eq!(
        res.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "a duplicate"
    );
}

/// Look-alike accounts and blank names are refused, each with a message on its field, and
/// nothing is stored: e-mail addresses and logins with invisible, format, tag or
/// text-direction characters (a second "alice@example.org" that reads the same), names with
/// tag characters or nothing visible, and weak typed group keys.
#[tokio::test]
async fn look_alike_addresses_blank_names_and_weak_keys_are_refused() {
    let t = TestApp::new();
    let admin = t.setup_admin().await;
    t.create_learner(&admin, "alice").await;
    let before = store_dump(&t);
    let user = |login: &str, email: &str, name: &str| {
        format!("login={login}&email={email}&display_name={name}&role=learner&password=password-1&password_confirm=password-1")
    };
    let group = |name: &str, key: &str| {
        format!("name={name}&description=&branch=&key={key}&key_enabled=on&max_uses=0&valid_from=&valid_until=")
    };
    let cases: Vec<(&str, String, &str, &str)> = vec![
        (
            "/api/create_user",
            user("a1", "alice%E2%80%8B%40example.org", "A"),
            "email",
            "invisible",
        ),
        (
            "/api/create_user",
            user("a2", "alice%40example.org%E2%80%8B", "A"),
            "email",
            "invisible",
        ),
        (
            "/api/create_user",
            user("a3", "%EF%BB%BFalice%40example.org", "A"),
            "email",
            "invisible",
        ),
        (
            "/api/create_user",
            user("a4", "alice%E1%A0%8E%40example.org", "A"),
            "email",
            "invisible",
        ),
        (
            "/api/create_user",
            user("a5", "alice%E3%85%A4%40example.org", "A"),
            "email",
            "invisible",
        ),
        (
            "/api/create_user",
            user("a6", "alice%E2%80%AE%40example.org", "A"),
            "email",
            "text-direction",
        ),
        (
            "/api/create_user",
            user("a7", "alice%E2%81%A6%40example.org", "A"),
            "email",
            "text-direction",
        ),
        (
            "/api/create_user",
            user("a8", "alice%F3%A0%81%81%40example.org", "A"),
            "email",
            "tag",
        ),
        (
            "/api/create_user",
            user("a9", "%D0%B0lice%40example.org", "A"),
            "email",
            "plain letters",
        ),
        (
            "/api/create_user",
            user("alice%E2%80%8B", "b%40example.org", "A"),
            "login",
            "invisible",
        ),
        (
            "/api/create_user",
            user("b1", "b1%40example.org", "Ada%F3%A0%81%81"),
            "display_name",
            "tag",
        ),
        (
            "/api/create_user",
            user("b2", "b2%40example.org", "%CC%81%CC%81"),
            "display_name",
            "visible",
        ),
        (
            "/api/create_user",
            user("b3", "b3%40example.org", "%E3%85%A4"),
            "display_name",
            "visible",
        ),
        (
            "/api/create_branch",
            "name=%E2%A0%80&description=&parent=".into(),
            "name",
            "visible",
        ),
        (
            "/api/create_branch",
            "name=North&description=a%F3%A0%81%81&parent=".into(),
            "description",
            "tag",
        ),
        (
            "/api/create_group",
            group("%E1%85%9F", ""),
            "name",
            "visible",
        ),
        ("/api/create_group", group("G", "abc1"), "key", "at least 8"),
        (
            "/api/create_group",
            group("G", "abcdefgh"),
            "key",
            "Mix letters and digits",
        ),
        (
            "/api/create_group",
            group("G", "ABCD-1234"),
            "key",
            "too easy to guess",
        ),
    ];
    for (path, form, field, says) in cases {
        let res = t.call(path, &form, Some(&admin)).await;
        assert_eq!(
            res.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{path} {form}"
        );
        let err: tessera::model::AppError = serde_json::from_str(&body_text(res).await).unwrap();
        let message = err.field_message(field).unwrap_or_default();
        assert!(message.contains(says), "{path} {form}: {err:?}");
    }
    assert!(store_dump(&t) == before, "nothing was stored");
    // The key field says what a key needs before anyone is refused.
    let form = body_text(t.get("/groups/new", Some(&admin)).await).await;
    assert!(form.contains("At least 8 letters and digits"), "{form}");
}

/// Users stored before the stricter rules (an address with a zero-width space, a name of
/// combining marks only) still load and show, and `check` (what `tessera check` runs) finds
/// nothing wrong; an edit that keeps such an address is told what to fix.
#[tokio::test]
async fn users_stored_before_the_stricter_rules_still_load() {
    use tessera::model::user::Role;
    use tessera::server::store::users::{PasswordHash, UserFields};
    let t = TestApp::new();
    let admin = t.setup_admin().await;
    let store = t.state.store().unwrap();
    let old = store
        .create_user(
            &UserFields {
                login: "old".into(),
                email: "old\u{200B}@example.org".into(),
                display_name: "\u{301}\u{301}".into(),
                role: Role::Learner,
            },
            &PasswordHash::from_phc("$x".into()),
            false,
            1,
        )
        .unwrap();
    let page = t.get(&format!("/users/{}", old.id), Some(&admin)).await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(body_text(page).await.contains("old\u{200B}@example.org"));
    let list = body_text(t.get("/users?q=old", Some(&admin)).await).await;
    assert!(list.contains("old\u{200B}@example.org"), "{list}");
    let report = store.check().unwrap();
    assert!(report.violations.is_empty(), "{:?}", report.violations);
    let res = t
        .call(
            "/api/update_user",
            &format!(
                "id={}&login=old&email=old%E2%80%8B%40example.org&display_name=Old&role=learner",
                old.id
            ),
            Some(&admin),
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let err: tessera::model::AppError = serde_json::from_str(&body_text(res).await).unwrap();
    assert!(err
        .field_message("email")
        .is_some_and(|m| m.contains("invisible")));
}

fn from_host(host: &str, req: axum::http::request::Builder) -> axum::http::request::Builder {
    req.header(header::HOST, host)
}

/// Before any account exists, only IP addresses, localhost and configured names reach the
/// server: a DNS-rebinding page cannot create the first administrator. Afterwards any host.
#[tokio::test]
async fn unknown_host_names_are_refused_until_set_up() {
    let t = TestApp::with_config(Config {
        allowed_hosts: vec!["lms.school.example".into()],
        ..Config::default()
    });
    let setup = |host: &str| {
        from_host(host, Request::post("/api/setup"))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "application/json")
            .body(Body::from(format!(
                "login=admin&email=admin%40example.org&display_name=A&password={ADMIN_PASSWORD}&password_confirm={ADMIN_PASSWORD}"
            )))
            .unwrap()
    };
    for host in [
        "rebind.attacker.example",
        "rebind.attacker.example:3000",
        "",
    ] {
        let res = t.send(setup(host)).await;
        assert_eq!(res.status(), StatusCode::MISDIRECTED_REQUEST, "{host:?}");
        let page = t
            .send(
                from_host(host, Request::get("/setup"))
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(page.status(), StatusCode::MISDIRECTED_REQUEST, "{host:?}");
    }
    assert_eq!(t.state.store().unwrap().user_count().unwrap(), 0);
    for host in [
        "127.0.0.1:3000",
        "[::1]:3000",
        "192.168.1.20",
        "localhost:3000",
        "LMS.school.example",
    ] {
        let page = t
            .send(
                from_host(host, Request::get("/setup"))
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(page.status(), StatusCode::OK, "{host}");
    }
    let res = t.send(setup("lms.school.example")).await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = t
        .send(
            from_host("other-name.example", Request::get("/login"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK, "after set-up any host name");
}

/// Failed logins from `peer`, each for a fresh unknown name; returns the statuses.
async fn failed_logins(t: &TestApp, peer: &str, forwarded: Option<&str>, n: usize) -> Vec<u16> {
    let mut out = Vec::new();
    for i in 0..n {
        let mut req = Request::post("/api/login")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "application/json");
        if let Some(f) = forwarded {
            req = req.header("x-forwarded-for", f);
        }
        let mut req = req
            .body(Body::from(format!(
                "identifier=nobody-{peer}-{i}-{}&password=x",
                forwarded.unwrap_or("")
            )))
            .unwrap();
        let addr: SocketAddr = peer.parse().unwrap();
        req.extensions_mut().insert(ConnectInfo(addr));
        out.push(t.send(req).await.status().as_u16());
    }
    out
}

/// Behind a trusted proxy each forwarded client has its own throttle bucket; a peer that is
/// not trusted cannot escape its bucket by writing `X-Forwarded-For`.
#[tokio::test]
async fn forwarded_clients_are_believed_only_from_trusted_proxies() {
    let t = TestApp::with_config(Config {
        trusted_proxies: tessera::server::client::TrustedProxies::new(vec!["10.0.0.0/8"
            .parse()
            .unwrap()]),
        hash_workers: 2,
        ..Config::default()
    });
    t.setup_admin().await;
    let burst = IP_BURST as usize;
    // Through the proxy: client A uses up its allowance...
    let a = failed_logins(&t, "10.0.0.5:4000", Some("198.51.100.1"), burst + 1).await;
    assert!(a[..burst].iter().all(|s| *s == 401), "{a:?}");
    assert_eq!(a[burst], 429);
    // ...while client B behind the same proxy, and a chain whose rightmost untrusted hop is B,
    // are still let through.
    let b = failed_logins(&t, "10.0.0.5:4001", Some("198.51.100.2"), 1).await;
    assert_eq!(b, vec![401]);
    let chain = failed_logins(
        &t,
        "10.0.0.5:4002",
        Some("198.51.100.1, 198.51.100.2, 10.1.2.3"),
        1,
    )
    .await;
    assert_eq!(
        chain,
        vec![401],
        "198.51.100.2 is the client, not the forged .1"
    );
    // A peer outside the trusted networks is its own bucket, whatever it claims.
    let forged: Vec<u16> = {
        let mut all = Vec::new();
        for i in 0..=burst {
            let claim = format!("203.0.113.{i}");
            all.extend(failed_logins(&t, "192.0.2.9:5000", Some(&claim), 1).await);
        }
        all
    };
    assert!(forged[..burst].iter().all(|s| *s == 401), "{forged:?}");
    assert_eq!(forged[burst], 429, "the forged addresses were ignored");
}

/// Sessions: used every 40% of the idle timeout they outlive several timeouts, written at most
/// once per extension interval; unused they end after one; the absolute timeout still ends an
/// active one. Real time, with a 3-second idle timeout.
#[tokio::test]
async fn active_sessions_slide_and_idle_ones_end() {
    let idle = Duration::from_secs(3);
    let t = TestApp::with_config(Config {
        session_idle: idle,
        session_absolute: Duration::from_secs(3600),
        ..Config::default()
    });
    let admin = t.setup_admin().await;
    let unused = t.login("admin", ADMIN_PASSWORD).await;
    let started = std::time::Instant::now();
    let mut uses = 0;
    while started.elapsed() < idle * 3 {
        tokio::time::sleep(idle * 2 / 5).await;
        assert_eq!(
            t.whoami(&admin).await.as_deref(),
            Some("admin"),
            "still signed in after {:?}",
            started.elapsed()
        );
        uses += 1;
    }
    assert!(uses >= 7);
    assert_eq!(t.whoami(&unused).await, None, "the unused session ended");

    // A burst of requests within one extension interval writes the session at most once.
    let before = t.state.session_writes.load(Ordering::Relaxed);
    for _ in 0..20 {
        assert!(t.whoami(&admin).await.is_some());
    }
    let writes = t.state.session_writes.load(Ordering::Relaxed) - before;
    assert!(writes <= 1, "{writes} writes for 20 requests");
}

#[tokio::test]
async fn the_absolute_timeout_ends_even_an_active_session() {
    let t = TestApp::with_config(Config {
        session_idle: Duration::from_secs(60),
        session_absolute: Duration::from_secs(3),
        ..Config::default()
    });
    let admin = t.setup_admin().await;
    let started = std::time::Instant::now();
    while started.elapsed() < Duration::from_millis(2000) {
        assert!(t.whoami(&admin).await.is_some());
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(t.whoami(&admin).await, None);
}

/// A visitor sent to the login page from a page comes back to it after logging in, with and
/// without JavaScript.
#[tokio::test]
async fn logging_in_again_returns_to_the_page() {
    let t = TestApp::new();
    t.setup_admin().await;
    let res = t.get("/groups?page=2&q=a%20b", None).await;
    let login_url = header_of(&res, header::LOCATION).to_string();
    assert_eq!(login_url, "/login?next=%2Fgroups%3Fpage%3D2%26q%3Da%2520b");
    let html = body_text(t.get(&login_url, None).await).await;
    assert!(
        html.contains(r#"name="next" value="/groups?page=2&amp;q=a%20b""#),
        "the login form carries where to go: {}",
        html.split("name=\"next\"")
            .nth(1)
            .unwrap_or(&html[..html.len().min(3000)])
    );
    let req = Request::post("/api/login")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, "text/html")
        .header(header::REFERER, format!("http://localhost{login_url}"))
        .body(Body::from(format!(
            "identifier=admin&password={ADMIN_PASSWORD}&next=%2Fgroups%3Fpage%3D2%26q%3Da%2520b"
        )))
        .unwrap();
    let res = t.send(req).await;
    assert_eq!(header_of(&res, header::LOCATION), "/groups?page=2&q=a%20b");
    // Without JavaScript too, the browser gets its device cookie.
    assert!(cookie_set(&res, tessera::server::throttle::DEVICE_COOKIE).is_some());
}

/// Everything the store holds but its sessions (which a signed-in request may touch to slide
/// their expiry).
fn store_dump(t: &TestApp) -> tessera::server::store::Snapshot {
    let mut snapshot = t.state.store().unwrap().snapshot().unwrap();
    snapshot.retain(|(table, _)| table != "sessions");
    snapshot
}

/// A url-encoded form whose percent-escapes decode to bytes that are not UTF-8 is refused
/// (400, with the reason) before any server function runs, instead of being stored with
/// U+FFFD in place of the bytes.
#[tokio::test]
async fn percent_escapes_that_are_not_utf8_are_refused() {
    let t = TestApp::new();
    let admin = t.setup_admin().await;
    let before = store_dump(&t);
    for form in [
        "name=%C0%80x&description=&parent=",
        "name=x%FF&description=&parent=",
        "name=x%E2%82&description=&parent=",
        "name=North&description=%ED%A0%80&parent=",
        "name%C3=North&description=&parent=",
    ] {
        let res = t.call("/api/create_branch", form, Some(&admin)).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{form}");
        let text = body_text(res).await;
        assert!(text.contains("percent-encoded"), "{form}: {text}");
    }
    assert!(store_dump(&t) == before, "the store changed");
    // Escapes of real UTF-8 (and a literal % that is no escape) still arrive as typed.
    let res = t
        .call(
            "/api/create_branch",
            "name=Caf%C3%A9+100%&description=&parent=",
            Some(&admin),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(body_text(res).await.contains("Café 100%"));
}

/// Malformed, wrong-typed, mis-encoded and oversized requests to every server function, as an
/// administrator (who passes every guard): none is answered 5xx, each one that carries
/// arguments is a 4xx with a message, and the store is exactly as it was.
#[tokio::test]
async fn malformed_requests_to_every_server_function_change_nothing() {
    let t = TestApp::new();
    let admin = t.setup_admin().await;
    let g = t.create_group(&admin, "Physics").await;
    let lee = t.create_learner(&admin, "lee").await;
    t.add_member(&admin, g, lee).await;
    let before = store_dump(&t);
    let form = "application/x-www-form-urlencoded";
    let big = format!("id={}", "9".repeat(2 * 1024 * 1024));
    let cases: [(&str, &str, Vec<u8>); 7] = [
        ("no arguments", form, Vec::new()),
        (
            // ASCII on the wire, but `%C0%80` decodes to bytes that are not UTF-8.
            "percent-escapes not UTF-8",
            form,
            b"name=%C0%80x&description=&parent=&title=%FFx".to_vec(),
        ),
        (
            "wrong types",
            form,
            format!("id=abc&page=-1&user=x&course=%25&target=1.5&group={g}x").into_bytes(),
        ),
        ("unknown fields only", form, b"zzz=1&id[]=2".to_vec()),
        ("not UTF-8", form, b"id=\xff\xfe&name=\xc3".to_vec()),
        (
            "JSON with wrong types",
            "application/json",
            br#"{"id":[],"page":"x"}"#.to_vec(),
        ),
        ("oversized", form, big.into_bytes()),
    ];
    // Functions whose arguments may all be absent: an empty form is a valid call (a checkbox
    // left unticked is absent), so those cases may succeed; they must still change nothing
    // but what they are for, which is checked by their own tests.
    let no_args = [
        "/api/current_user",
        "/api/signup_open",
        "/api/get_settings",
        "/api/get_backup_status",
        "/api/branch_options",
        "/api/generate_group_key",
        "/api/current_default_group",
        "/api/recent_imports",
        "/api/my_courses",
    ];
    let mut paths: Vec<&str> = leptos::server_fn::axum::server_fn_paths()
        .map(|(p, _)| p)
        .collect();
    paths.sort();
    let mut failures = Vec::new();
    for path in paths {
        // Logging out and saving the settings with every box unticked are what an empty form
        // means for them.
        if path == "/api/logout" || path == "/api/save_settings" {
            continue;
        }
        for (what, content_type, body) in &cases {
            let req = Request::post(path)
                .header(header::CONTENT_TYPE, *content_type)
                .header(header::ACCEPT, "application/json")
                .header(header::COOKIE, &admin)
                .body(Body::from(body.clone()))
                .unwrap();
            let res = t.send(req).await;
            let status = res.status();
            let text = body_text(res).await;
            let ok = if no_args.contains(&path) && !matches!(*what, "oversized") {
                !status.is_server_error()
            } else {
                status.is_client_error() && !text.trim().is_empty()
            };
            if !ok {
                failures.push(format!(
                    "{path} ({what}): {status} {}",
                    text.chars().take(160).collect::<String>()
                ));
            }
        }
    }
    assert_eq!(failures, Vec::<String>::new());
    assert!(store_dump(&t) == before, "the store changed");
}

/// A storage error (here a record the store cannot decode) reaches the browser as an opaque
/// 500 with a log id, never the tree, key or reason; the page shows the same; the rest of the
/// site goes on working.
#[tokio::test]
async fn a_storage_error_is_opaque_with_a_log_id() {
    let t = TestApp::new();
    let admin = t.setup_admin().await;
    let g = t.create_group(&admin, "Physics").await;
    t.state
        .store()
        .unwrap()
        .sled()
        .sled_db()
        .open_tree("groups")
        .unwrap()
        .insert(g.to_be_bytes(), b"\x01garbage".as_slice())
        .unwrap();
    let res = t
        .call("/api/get_group", &format!("id={g}"), Some(&admin))
        .await;
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body = body_text(res).await;
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let log_id = v["Internal"]["log_id"]
        .as_str()
        .expect("a log id")
        .to_string();
    assert_eq!(log_id.len(), 8, "{body}");
    for internal in ["groups", "garbage", "corrupt", "decode"] {
        assert!(
            !body.to_lowercase().contains(internal),
            "{internal} leaked: {body}"
        );
    }
    let page = t.get(&format!("/groups/{g}"), Some(&admin)).await;
    let html = body_text(page).await;
    assert!(html.contains("log id"), "the page names a log id: {html}");
    assert!(
        !html.contains("garbage") && !html.to_lowercase().contains("corrupt"),
        "{html}"
    );
    let users = t.get("/users", Some(&admin)).await;
    assert_eq!(users.status(), StatusCode::OK, "the rest of the site works");
}

/// The router on a state whose request timeout and concurrency cap are `timeout` and `max`,
/// with `app`'s routes inside every layer.
fn limited(timeout: Duration, max: usize, app: Router<tessera::server::state::AppState>) -> Router {
    let t = TestApp::with_config(Config {
        limits: tessera::server::listen::Limits {
            request_timeout: timeout,
            max_requests: max,
            ..Default::default()
        },
        ..Config::default()
    });
    tessera::server::router::with_layers(t.state.clone(), app)
}

async fn post_to(app: &Router, path: &str) -> Response<Body> {
    let req = Request::post(path)
        .header(header::HOST, "localhost")
        .body(Body::empty())
        .unwrap();
    tower::ServiceExt::oneshot(app.clone(), req).await.unwrap()
}

/// A handler that has not answered by the request timeout is dropped and the request answers
/// 503 with `Retry-After`, the typed error that says the work may still be done, and the
/// security headers. An upload or the backup download may take longer.
#[tokio::test]
async fn a_handler_slower_than_the_request_timeout_answers_503() {
    let timeout = Duration::from_millis(100);
    let app = Router::new()
        // Never answers: only the timeout ends it.
        .route("/api/never", post(std::future::pending::<&'static str>))
        .route(
            "/backup/download",
            post(move || async move {
                tokio::time::sleep(timeout * 3).await;
                "the file"
            }),
        );
    let app = limited(timeout, 8, app);
    let res = tokio::time::timeout(Duration::from_secs(10), post_to(&app, "/api/never"))
        .await
        .expect("the request timeout ends the request");
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_protected("timeout", &res);
    assert_eq!(header_of(&res, header::RETRY_AFTER), "1");
    let err: tessera::model::AppError = serde_json::from_str(&body_text(res).await).unwrap();
    assert_eq!(err, tessera::model::AppError::TimedOut { secs: 1 });
    let res = post_to(&app, "/backup/download").await;
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "the backup download is not timed"
    );
}

/// Beyond the concurrency cap a request waits for a turn, and the wait counts against the
/// request timeout: with one slot held, a quick request times out; once the slot is free it is
/// answered.
#[tokio::test]
async fn requests_beyond_the_concurrency_limit_wait_their_turn() {
    let (entered_tx, entered_rx) = tokio::sync::oneshot::channel::<()>();
    let entered = std::sync::Arc::new(std::sync::Mutex::new(Some(entered_tx)));
    let release = std::sync::Arc::new(tokio::sync::Notify::new());
    let app = Router::new()
        // Not timed (the backup download may take long), so it holds its slot until released.
        .route(
            "/backup/download",
            post({
                let (entered, release) = (entered.clone(), release.clone());
                move || async move {
                    let told = entered.lock().unwrap().take();
                    if let Some(tx) = told {
                        let _ = tx.send(());
                    }
                    release.notified().await;
                    "held"
                }
            }),
        )
        .route("/api/quick", post(|| async { "quick" }));
    let app = limited(Duration::from_millis(300), 1, app);
    let holder = tokio::spawn({
        let app = app.clone();
        async move { post_to(&app, "/backup/download").await.status() }
    });
    entered_rx
        .await
        .expect("the holding request is in its handler");
    let res = post_to(&app, "/api/quick").await;
    assert_eq!(
        res.status(),
        StatusCode::SERVICE_UNAVAILABLE,
        "no turn while the only slot is held"
    );
    release.notify_one();
    assert_eq!(holder.await.unwrap(), StatusCode::OK);
    let res = post_to(&app, "/api/quick").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(body_text(res).await, "quick");
}
