//! Shared harness for the router tests: a real sled store in a temp dir, the real axum router,
//! requests sent with `tower::ServiceExt::oneshot`.

#![allow(dead_code)]

pub mod smtp;

use axum::body::Body;
use axum::http::{header, Request, Response, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use tessera::server::config::Config;
use tessera::server::state::{AppState, Shared};
use tessera::server::{router, store::Store};
use tower::ServiceExt;

pub struct TestApp {
    pub app: Router,
    pub state: AppState,
    _dir: tempfile::TempDir,
}

pub const ADMIN_PASSWORD: &str = "admin-password-1";
pub const LEARNER_PASSWORD: &str = "learner-password-1";

impl TestApp {
    pub fn new() -> TestApp {
        Self::with_config(Config::default())
    }

    pub fn with_config(config: Config) -> TestApp {
        Self::with_state(config, |_| {})
    }

    /// With the state changed by `tweak` before the router is built (a shorter throttle, say).
    pub fn with_state(config: Config, tweak: impl FnOnce(&mut Shared)) -> TestApp {
        Self::in_dir(tempfile::tempdir().expect("temp dir"), config, tweak)
    }

    /// On the data in `dir` (a restart, when an earlier app on it was dropped).
    pub fn in_dir(
        dir: tempfile::TempDir,
        mut config: Config,
        tweak: impl FnOnce(&mut Shared),
    ) -> TestApp {
        config.data_dir = dir.path().to_path_buf();
        // sled's flush thread may hold the lock a moment after an earlier store was dropped.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let store = loop {
            match Store::open(dir.path()) {
                Ok(s) => break s,
                Err(e) if std::time::Instant::now() > deadline => panic!("store: {e}"),
                Err(_) => std::thread::sleep(std::time::Duration::from_millis(50)),
            }
        };
        let options = tessera::server::leptos_options(config.addr);
        let mut state = AppState::new(options, store, config);
        tweak(state.parts_mut().expect("the state is not shared yet"));
        TestApp {
            app: router::build(state.clone()),
            state,
            _dir: dir,
        }
    }

    /// Sends one request; a request unanswered within 30 s (body included) fails the test
    /// with its method and path instead of hanging the run.
    pub async fn send(&self, mut req: Request<Body>) -> Response<Body> {
        // As a browser on this machine would (HTTP/1.1 requires it).
        req.headers_mut()
            .entry(header::HOST)
            .or_insert(header::HeaderValue::from_static("localhost"));
        let what = format!("{} {}", req.method(), req.uri());
        let answer = async {
            let res = self.app.clone().oneshot(req).await.expect("router answers");
            let (parts, body) = res.into_parts();
            let bytes = body.collect().await.expect("body").to_bytes();
            Response::from_parts(parts, Body::from(bytes))
        };
        match tokio::time::timeout(std::time::Duration::from_secs(30), answer).await {
            Ok(res) => res,
            Err(_) => panic!("{what}: no complete answer within 30 s"),
        }
    }

    /// POSTs a form to a server function the way the app's own client does.
    pub async fn call(&self, path: &str, form: &str, cookie: Option<&str>) -> Response<Body> {
        let mut req = Request::post(path)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "application/json");
        if let Some(c) = cookie {
            req = req.header(header::COOKIE, c);
        }
        self.send(req.body(Body::from(form.to_string())).unwrap())
            .await
    }

    /// POSTs a multipart form: `fields` are (name, file name for a file, content). With a
    /// `referer` it is sent as a browser without JavaScript does (`Accept: text/html`: answers
    /// are redirects); without, as a client asking for JSON.
    pub async fn upload(
        &self,
        path: &str,
        fields: &[(&str, Option<&str>, &[u8])],
        cookie: Option<&str>,
        referer: Option<&str>,
    ) -> Response<Body> {
        let boundary = "tessera-test-boundary-7d1f";
        let mut body = Vec::new();
        for (name, file, content) in fields {
            body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
            match file {
                Some(f) => body.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: text/csv\r\n\r\n").as_bytes(),
                ),
                None => body.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
                ),
            }
            body.extend_from_slice(content);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        let mut req = Request::post(path)
            .header(
                header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={boundary}"),
            )
            .header(header::CONTENT_LENGTH, body.len());
        req = match referer {
            Some(r) => req
                .header(header::ACCEPT, "text/html")
                .header(header::REFERER, format!("http://localhost{r}")),
            None => req.header(header::ACCEPT, "application/json"),
        };
        if let Some(c) = cookie {
            req = req.header(header::COOKIE, c);
        }
        self.send(req.body(Body::from(body)).unwrap()).await
    }

    pub async fn get(&self, path: &str, cookie: Option<&str>) -> Response<Body> {
        let mut req = Request::get(path).header(header::ACCEPT, "text/html");
        if let Some(c) = cookie {
            req = req.header(header::COOKIE, c);
        }
        self.send(req.body(Body::empty()).unwrap()).await
    }

    /// Sets up the first administrator; returns their session cookie.
    pub async fn setup_admin(&self) -> String {
        let res = self
            .call(
                "/api/setup",
                &format!("login=admin&email=admin%40example.org&display_name=Ada+Admin&password={ADMIN_PASSWORD}&password_confirm={ADMIN_PASSWORD}"),
                None,
            )
            .await;
        assert_eq!(
            res.status(),
            StatusCode::OK,
            "setup: {}",
            body_text(res).await
        );
        self.login("admin", ADMIN_PASSWORD).await
    }

    /// Logs in; panics unless it succeeds. Returns the `name=value` session cookie.
    pub async fn login(&self, who: &str, password: &str) -> String {
        let res = self
            .call(
                "/api/login",
                &format!("identifier={who}&password={password}"),
                None,
            )
            .await;
        assert_eq!(res.status(), StatusCode::OK, "login of {who}");
        session_cookie(&res).expect("login sets the session cookie")
    }

    /// Creates a learner as `admin_cookie`; returns their id.
    pub async fn create_learner(&self, admin_cookie: &str, login: &str) -> u64 {
        let res = self
            .call(
                "/api/create_user",
                &format!("login={login}&email={login}%40example.org&display_name=Learner+{login}&role=learner&password={LEARNER_PASSWORD}&password_confirm={LEARNER_PASSWORD}"),
                Some(admin_cookie),
            )
            .await;
        assert_eq!(res.status(), StatusCode::OK);
        let v: serde_json::Value = serde_json::from_str(&body_text(res).await).unwrap();
        v["id"].as_u64().expect("user id")
    }

    /// Creates a group without key or branch as `admin_cookie`; returns its id.
    pub async fn create_group(&self, admin_cookie: &str, name: &str) -> u64 {
        let res = self
            .call(
                "/api/create_group",
                &format!(
                    "name={name}&description=&branch=&key=&max_uses=0&valid_from=&valid_until="
                ),
                Some(admin_cookie),
            )
            .await;
        ok_json(res).await["group"]["id"]
            .as_u64()
            .expect("group id")
    }

    /// Adds user `user` to group `group` as `admin_cookie`.
    pub async fn add_member(&self, admin_cookie: &str, group: u64, user: u64) {
        let res = self
            .call(
                "/api/add_group_member",
                &format!("id={group}&user={user}"),
                Some(admin_cookie),
            )
            .await;
        ok_json(res).await;
    }

    /// The login name of whoever `cookie` belongs to, per the server.
    pub async fn whoami(&self, cookie: &str) -> Option<String> {
        let res = self.call("/api/current_user", "", Some(cookie)).await;
        assert_eq!(res.status(), StatusCode::OK);
        let v: serde_json::Value = serde_json::from_str(&body_text(res).await).unwrap();
        v["login"].as_str().map(str::to_string)
    }
}

/// `tessera_session=...` from a response's Set-Cookie, if any.
pub fn session_cookie(res: &Response<Body>) -> Option<String> {
    set_cookie(res).map(|c| c.split(';').next().unwrap_or("").trim().to_string())
}

/// The `Cookie` header a browser sends after `res`: `cookie` (`a=1; b=2`, or none) with each
/// cookie `res` sets added or replaced.
pub fn browser_cookies(cookie: Option<&str>, res: &Response<Body>) -> String {
    let mut jar: Vec<(String, String)> = cookie
        .unwrap_or("")
        .split(';')
        .filter_map(|p| p.trim().split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    for set in res
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
    {
        let Some((k, v)) = set.split(';').next().and_then(|p| p.trim().split_once('=')) else {
            continue;
        };
        jar.retain(|(name, _)| name != k);
        jar.push((k.to_string(), v.to_string()));
    }
    jar.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The value of the cookie `name` that `res` sets, if any.
pub fn cookie_set(res: &Response<Body>, name: &str) -> Option<String> {
    res.headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .filter_map(|p| p.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

pub fn set_cookie(res: &Response<Body>) -> Option<String> {
    res.headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(router::SESSION_COOKIE))
        .map(str::to_string)
}

pub async fn body_text(res: Response<Body>) -> String {
    let bytes = res.into_body().collect().await.expect("body").to_bytes();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// A 200 answer's JSON; any other status fails the test with the body.
pub async fn ok_json(res: Response<Body>) -> serde_json::Value {
    let status = res.status();
    let text = body_text(res).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    serde_json::from_str(&text).unwrap()
}
