//! The bodies of the fuzz targets (`fuzz/`, run with cargo fuzz) and of the test that replays
//! their committed corpus on every test run: the same code, so whatever a fuzz run finds stays
//! checked. Each body takes any bytes and panics only when an invariant breaks.
//!
//! - [`normalise`]: group keys (folding, validation, the key options), the folded form logins
//!   and e-mails are indexed under, and the text normaliser for names and descriptions.
//! - [`csv`]: the user import file and the group bulk-add list.
//! - [`RequestHarness::request`]: a request to one of the main mutations' server functions on
//!   the real router and a real store, with any body and content type.

use crate::components::widgets::date;
use crate::model::group::{
    fold_key, key_settings, parse_date, validate_key, BULK_ROWS_MAX, KEY_MAX, KEY_MIN, KEY_USES_MAX,
};
use crate::model::import::IMPORT_ROWS_MAX;
use crate::model::text::{block, is_bidi_control, is_invisible, is_tag, is_visible, line};
use crate::model::user::{validate_email, validate_login};
use crate::model::AppError;
use crate::server::csv_input::{bulk_entries, import_rows};
use crate::server::store::codec::fold;

/// Asserts that `err` is a field error on `field` with something to show.
fn assert_field_error(what: &str, input: &str, err: &AppError, field: &str) {
    assert!(
        err.field_message(field)
            .is_some_and(|m| !m.trim().is_empty()),
        "{what} of {input:?}: expected a message on {field:?}, got {err:?}"
    );
}

/// Key and text normalisation, on the input as text (invalid UTF-8 replaced, as a form decoder
/// would refuse it before these run). Its lines are also read as the key options' fields (key,
/// maximum uses, first and last valid day).
pub fn normalise(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    group_key(&text);
    identifier(&text);
    names(&text);
    let mut fields = text.split('\n');
    let mut next = || fields.next().unwrap_or("");
    let (key, uses, from, until) = (next(), next(), next(), next());
    key_options(
        key,
        uses,
        from,
        until,
        data.first().is_some_and(|b| b & 1 == 1),
    );
}

/// Keys are stored as typed and indexed folded; a learner's typing is folded to look one up.
fn group_key(raw: &str) {
    let folded = fold_key(raw);
    assert_eq!(
        fold_key(&folded),
        folded,
        "fold_key of {raw:?} is not stable"
    );
    match validate_key(raw) {
        Ok(None) => assert!(
            folded.is_empty(),
            "{raw:?} is no key but folds to {folded:?}"
        ),
        Ok(Some(key)) => {
            let n = key.chars().count();
            assert!((KEY_MIN..=KEY_MAX).contains(&n), "{key:?}: {n} characters");
            assert!(
                key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'),
                "{key:?}"
            );
            assert_eq!(key, raw.trim(), "a key is kept as typed, trimmed");
            // The index holds the key in capitals, itself a key the form accepts.
            assert_eq!(folded, key.to_ascii_uppercase(), "{raw:?}");
            assert_eq!(validate_key(&folded), Ok(Some(folded.clone())));
            // However it is typed back (case, spaces, invisible spaces around it), it finds
            // the same index entry.
            for typed in [
                key.to_ascii_lowercase(),
                format!(" \u{a0}{key}\u{200b}\t"),
                format!("\u{feff}\u{2060}{}\r\n", key.to_ascii_lowercase()),
            ] {
                assert_eq!(fold_key(&typed), folded, "{typed:?}");
            }
        }
        Err(e) => assert_field_error("validate_key", raw, &e, "key"),
    }
}

fn nfc(s: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    s.nfc().collect()
}

/// Logins and e-mails are unique under their folded form.
fn identifier(raw: &str) {
    let folded = fold(raw);
    assert_eq!(fold(&folded), folded, "fold of {raw:?} is not stable");
    match validate_login(raw) {
        Ok(login) => {
            assert!(login.is_ascii() && login == nfc(raw.trim()), "{login:?}");
            assert_eq!(fold(&login), login.to_ascii_lowercase());
            assert_eq!(validate_login(&fold(&login)), Ok(fold(&login)));
        }
        Err(e) => assert_field_error("validate_login", raw, &e, "login"),
    }
    match validate_email(raw) {
        Ok(email) => {
            // Kept as typed, but for NFC (which makes a Kelvin sign the letter K).
            assert_eq!(email, nfc(raw.trim()));
            assert!(
                email.is_ascii() && !email.contains(char::is_whitespace),
                "{email:?}"
            );
            assert_eq!(validate_email(&email), Ok(email.clone()), "not stable");
            assert_eq!(fold(&email).matches('@').count(), 1, "{email:?}");
        }
        Err(e) => assert_field_error("validate_email", raw, &e, "email"),
    }
}

/// Names (one line) and descriptions (several): what the normaliser returns is returned
/// unchanged when it comes back (an edit form sends it back as shown).
fn names(raw: &str) {
    use unicode_normalization::is_nfc;
    match line("name", raw, 100, Some("a name")) {
        Ok(t) => {
            assert!(!t.is_empty() && t.chars().count() <= 100, "{t:?}");
            assert_eq!(t.trim(), t, "{raw:?}");
            assert!(is_nfc(&t), "{t:?} is not NFC");
            assert!(
                !t.chars()
                    .any(|c| c.is_control() || is_bidi_control(c) || is_invisible(c) || is_tag(c)),
                "{t:?}"
            );
            assert!(t.chars().any(is_visible), "{t:?} shows nothing");
            assert_eq!(line("name", &t, 100, Some("a name")), Ok(t.clone()));
        }
        Err(e) => assert_field_error("line", raw, &e, "name"),
    }
    for keep_indent in [false, true] {
        match block("description", raw, 1_000, keep_indent) {
            Ok(t) => {
                assert!(t.chars().count() <= 1_000, "{raw:?}");
                assert!(is_nfc(&t), "{t:?} is not NFC");
                assert!(
                    !t.chars()
                        .any(|c| (c.is_control() && !matches!(c, '\n' | '\t'))
                            || is_bidi_control(c)
                            || is_tag(c)
                            || c == '\u{feff}'),
                    "{t:?}"
                );
                assert_eq!(
                    block("description", &t, 1_000, keep_indent),
                    Ok(t.clone()),
                    "{raw:?} (keep_indent {keep_indent})"
                );
            }
            Err(e) => assert_field_error("block", raw, &e, "description"),
        }
    }
}

/// The key options of the group form.
fn key_options(key: &str, uses: &str, from: &str, until: &str, enabled: bool) {
    for field in [from, until] {
        if let Ok(Some(day)) = parse_date("valid_from", field) {
            assert_eq!(day % 86_400_000, 0, "{field:?}");
            // What the form shows for a stored day reads back as that day.
            let shown = date(day);
            assert_eq!(parse_date("valid_from", &shown), Ok(Some(day)), "{field:?}");
        }
    }
    match key_settings(key, uses, from, until, enabled) {
        Ok(s) => {
            assert!(s.max_uses <= KEY_USES_MAX);
            assert_eq!(s.enabled, enabled);
            assert_eq!(s.key, validate_key(key).ok().flatten());
            if let (Some(f), Some(u)) = (s.valid_from, s.valid_until) {
                assert!(f <= u, "{from:?}..{until:?}");
            }
        }
        Err(e) => assert!(
            ["key", "max_uses", "valid_from", "valid_until"]
                .iter()
                .any(|f| e.field_message(f).is_some_and(|m| !m.is_empty())),
            "{e:?}"
        ),
    }
}

/// The number of the last line of `text` (lines end at LF, CRLF or CR), for checking the
/// lines rows are said to be on.
fn last_line(text: &str) -> u32 {
    let breaks = text.replace("\r\n", "\n").matches(['\n', '\r']).count();
    u32::try_from(breaks + 1).unwrap_or(u32::MAX)
}

/// The import reader and the bulk-add reader on the input as text (uploads that are not UTF-8
/// are refused before either runs).
pub fn csv(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let last = last_line(&text);
    match import_rows(&text) {
        Ok(rows) => {
            assert!(!rows.is_empty() && rows.len() <= IMPORT_ROWS_MAX);
            let mut previous = 1;
            for row in &rows {
                assert!(row.line > previous && row.line <= last, "{row:?}");
                previous = row.line;
                let cells = [&row.login, &row.email, &row.display_name, &row.role];
                match &row.problem {
                    Some((field, message)) => {
                        assert!(!field.is_empty() && !message.is_empty(), "{row:?}");
                        assert!(
                            cells.iter().all(|c| c.is_empty()) && row.password.is_empty(),
                            "a misshapen row keeps none of its cells: {row:?}"
                        );
                    }
                    None => {
                        assert!(cells.iter().all(|c| c.trim() == c.as_str()), "{row:?}");
                        assert!(
                            row.groups
                                .iter()
                                .all(|g| !g.is_empty() && g.trim() == g && !g.contains(';')),
                            "{row:?}"
                        );
                    }
                }
            }
        }
        Err(e) => assert_field_error("import_rows", &text, &e, "file"),
    }
    match bulk_entries(&text) {
        Ok(entries) => {
            assert!(!entries.is_empty() && entries.len() <= BULK_ROWS_MAX);
            let mut previous = 0;
            for (line, entry) in &entries {
                assert!(*line > previous && *line <= last, "{line} {entry:?}");
                previous = *line;
                assert!(
                    !entry.is_empty() && entry.trim() == entry && !entry.contains([',', ';', '\t']),
                    "{entry:?}"
                );
            }
        }
        Err(e) => assert_field_error("bulk_entries", &text, &e, "text"),
    }
}

pub use requests::RequestHarness;

mod requests {
    use crate::server::config::Config;
    use crate::server::state::AppState;
    use crate::server::store::Store;
    use crate::server::throttle::LoginThrottle;
    use axum::body::Body;
    use axum::http::{header, Request, Response, StatusCode};
    use http_body_util::BodyExt;
    use std::path::{Path, PathBuf};
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::Duration;
    use tower::ServiceExt;

    /// The server functions a request may go to, and whether it is sent signed out whoever the
    /// input names as caller (signing in or up while signed in would replace the harness's own
    /// sessions).
    pub const ENDPOINTS: &[(&str, bool)] = &[
        ("/api/setup", true),
        ("/api/signup", true),
        ("/api/login", true),
        ("/api/create_group", false),
        ("/api/update_group", false),
        ("/api/change_group_key", false),
        ("/api/regenerate_group_key", false),
        ("/api/change_group_link", false),
        ("/api/add_group_member", false),
        ("/api/bulk_add_group_members", false),
        ("/api/bulk_upload_group_members", false),
        ("/api/redeem_group_key", false),
        ("/api/enrol_user", false),
        ("/api/send_group_message", false),
        ("/api/upload_user_import", false),
        ("/api/apply_import", false),
        ("/api/create_user", false),
    ];

    /// Multipart bodies in the corpus use this boundary.
    pub const BOUNDARY: &str = "fuzz";

    /// The content types a request may declare (`None`: no header).
    const CONTENT_TYPES: [Option<&str>; 8] = [
        Some("application/x-www-form-urlencoded"),
        Some("application/json"),
        Some("multipart/form-data; boundary=fuzz"),
        Some("multipart/form-data"),
        Some("text/plain"),
        None,
        Some("application/x-www-form-urlencoded; charset=utf-8"),
        Some("multipart/form-data; boundary=\"fuzz\"; charset=utf-8"),
    ];

    /// Checks the store's invariants (`tessera check`) after this many requests.
    const CHECK_EVERY: u64 = 1_000;

    /// A temporary directory under the system's, removed when dropped. A fuzz run is ended by
    /// its time limit without dropping it, so directories of processes that are gone are
    /// removed when the next harness starts.
    struct TempDir(PathBuf);

    const DIR_PREFIX: &str = "tessera-fuzz-";

    impl TempDir {
        fn new() -> std::io::Result<TempDir> {
            static NEXT: AtomicU64 = AtomicU64::new(0);
            let base = std::env::temp_dir();
            remove_orphans(&base);
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let dir = base.join(format!("{DIR_PREFIX}{}-{n}", std::process::id()));
            std::fs::create_dir_all(&dir)?;
            Ok(TempDir(dir))
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// Removes the harness directories in `base` whose process has ended (Linux: by `/proc`).
    fn remove_orphans(base: &Path) {
        if !Path::new("/proc/self").exists() {
            return;
        }
        let Ok(entries) = std::fs::read_dir(base) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(pid) = name
                .to_str()
                .and_then(|n| n.strip_prefix(DIR_PREFIX))
                .and_then(|rest| rest.split('-').next())
                .and_then(|pid| pid.parse::<u32>().ok())
            else {
                continue;
            };
            if !Path::new(&format!("/proc/{pid}")).exists() {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }

    /// The real router on a real store in a temporary directory, set up with an administrator,
    /// a learner, a course, a group with a key (the learner a member, the course attached) and
    /// an import in preview, so that requests naming them reach past the lookups. Throttles
    /// allow a million failures, so the code behind them is reached too.
    ///
    /// Fields drop in order: the router and state before the runtime (whose tasks hold the
    /// store), the directory last.
    pub struct RequestHarness {
        app: axum::Router,
        state: AppState,
        rt: tokio::runtime::Runtime,
        admin: String,
        learner: String,
        /// `$G`, `$U`, `$C`, `$I`, `$K` in a body become these (group, learner, course, import
        /// ids, the group's key).
        placeholders: Vec<(u8, Vec<u8>)>,
        sent: AtomicU64,
        _dir: TempDir,
    }

    impl RequestHarness {
        /// Sets the harness up; panics if it cannot (that is not a finding of the input).
        pub fn new() -> RequestHarness {
            let dir = TempDir::new().expect("a temporary directory");
            let store = Store::open(&dir.0).expect("the store opens");
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("a runtime");
            let config = Config {
                self_registration: true,
                ..Config::default()
            };
            let options = crate::server::leptos_options(config.addr);
            // Building the state and the router spawns tasks and sets Leptos's executor up.
            let in_runtime = rt.enter();
            let state = {
                let mut state = AppState::new(options, store, config);
                let parts = state.parts_mut().expect("not shared yet");
                let lax = || {
                    let allowance = (1_000_000, Duration::from_millis(1));
                    std::sync::Arc::new(LoginThrottle::with_allowances(allowance, allowance))
                };
                parts.throttle = lax();
                parts.key_throttle = lax();
                parts.signup_throttle = lax();
                state
            };
            let app = crate::server::router::build(state.clone());
            drop(in_runtime);
            let mut h = RequestHarness {
                app,
                state,
                rt,
                admin: String::new(),
                learner: String::new(),
                placeholders: Vec::new(),
                sent: AtomicU64::new(0),
                _dir: dir,
            };
            h.set_up();
            h
        }

        fn set_up(&mut self) {
            let pw = "fuzz-password-1";
            self.form(
                "/api/setup",
                &format!("login=admin&email=admin%40example.org&display_name=Admin&password={pw}&password_confirm={pw}"),
                None,
            );
            self.admin = self.sign_in("admin", pw);
            let admin = Some(self.admin.clone());
            let learner = self.form(
                "/api/create_user",
                &format!("login=lee&email=lee%40example.org&display_name=Lee&role=learner&password={pw}&password_confirm={pw}"),
                admin.as_deref(),
            )["id"]
                .as_u64()
                .expect("learner id");
            self.learner = self.sign_in("lee", pw);
            let course = self.form(
                "/api/create_course",
                "code=PHY101&title=Physics&description=",
                admin.as_deref(),
            )["id"]
                .as_u64()
                .expect("course id");
            let key = "FUZZ-KEY-1";
            let group = self.form(
                "/api/create_group",
                &format!("name=Physics&description=&branch=&key={key}&max_uses=0&valid_from=&valid_until=&key_enabled=on"),
                admin.as_deref(),
            )["group"]["id"]
                .as_u64()
                .expect("group id");
            self.form(
                "/api/add_group_member",
                &format!("id={group}&user={learner}"),
                admin.as_deref(),
            );
            self.form(
                "/api/change_group_link",
                &format!("id={group}&kind=course&target={course}&op=add"),
                admin.as_deref(),
            );
            let import = self.upload_import(admin.as_deref());
            self.placeholders = vec![
                (b'G', group.to_string().into_bytes()),
                (b'U', learner.to_string().into_bytes()),
                (b'C', course.to_string().into_bytes()),
                (b'I', import.to_string().into_bytes()),
                (b'K', key.as_bytes().to_vec()),
            ];
        }

        fn upload_import(&self, cookie: Option<&str>) -> u64 {
            let body = format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"users.csv\"\r\nContent-Type: text/csv\r\n\r\nlogin,email,name,groups\r\nada,ada@example.org,Ada,Physics\r\n\r\n--{BOUNDARY}--\r\n"
            );
            let res = self.send(
                "/api/upload_user_import",
                Some(&format!("multipart/form-data; boundary={BOUNDARY}")),
                body.into_bytes(),
                cookie,
                false,
            );
            json_ok("upload_user_import", res)["id"]
                .as_u64()
                .expect("import id")
        }

        /// A set-up step: a form post that must succeed; its JSON answer.
        fn form(&self, path: &str, body: &str, cookie: Option<&str>) -> serde_json::Value {
            let res = self.send(
                path,
                Some("application/x-www-form-urlencoded"),
                body.as_bytes().to_vec(),
                cookie,
                false,
            );
            json_ok(path, res)
        }

        fn sign_in(&self, login: &str, password: &str) -> String {
            let res = self.send(
                "/api/login",
                Some("application/x-www-form-urlencoded"),
                format!("identifier={login}&password={password}").into_bytes(),
                None,
                false,
            );
            let cookie = res
                .0
                .headers()
                .get_all(header::SET_COOKIE)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .find(|v| v.starts_with(crate::server::router::SESSION_COOKIE))
                .and_then(|v| v.split(';').next())
                .map(str::to_string);
            cookie.unwrap_or_else(|| panic!("no session for {login}: {}", res.0.status()))
        }

        /// Sends one request and waits for the whole answer (30 s at most: a request that
        /// hangs is a finding too).
        fn send(
            &self,
            path: &str,
            content_type: Option<&str>,
            body: Vec<u8>,
            cookie: Option<&str>,
            as_form_post: bool,
        ) -> (Response<()>, Vec<u8>) {
            let mut req = Request::post(path).header(header::HOST, "localhost");
            if let Some(ct) = content_type {
                req = req.header(header::CONTENT_TYPE, ct);
            }
            req = if as_form_post {
                // A browser without JavaScript: the answer is a redirect back to the form.
                req.header(header::ACCEPT, "text/html")
                    .header(header::REFERER, "http://localhost/groups")
            } else {
                req.header(header::ACCEPT, "application/json")
            };
            if let Some(c) = cookie {
                req = req.header(header::COOKIE, c);
            }
            let req = req.body(Body::from(body)).expect("a valid request");
            let app = self.app.clone();
            let answer = async move {
                let res = app.oneshot(req).await.expect("the router answers");
                let (parts, body) = res.into_parts();
                let bytes = body.collect().await.expect("the whole body").to_bytes();
                (Response::from_parts(parts, ()), bytes.to_vec())
            };
            self.rt
                .block_on(async { tokio::time::timeout(Duration::from_secs(30), answer).await })
                .unwrap_or_else(|_| panic!("POST {path}: no complete answer within 30 s"))
        }

        /// `body` with each placeholder (`$G` ...) replaced.
        fn fill(&self, body: &[u8]) -> Vec<u8> {
            let mut out = Vec::with_capacity(body.len());
            let mut i = 0;
            while i < body.len() {
                let value = (body[i] == b'$')
                    .then(|| body.get(i + 1))
                    .flatten()
                    .and_then(|c| self.placeholders.iter().find(|(p, _)| p == c));
                match value {
                    Some((_, v)) => {
                        out.extend_from_slice(v);
                        i += 2;
                    }
                    None => {
                        out.push(body[i]);
                        i += 1;
                    }
                }
            }
            out
        }

        /// One request from fuzz input: byte 0 picks the server function ([`ENDPOINTS`]),
        /// byte 1 the content type (bits 0–2), the caller (bits 3–4: signed out, the learner,
        /// the administrator) and whether it comes as a form post without JavaScript (bit 5);
        /// the rest is the body, placeholders filled. The answer must be a success, a redirect
        /// or a client error with a message: never a server error (a panic in a handler is
        /// answered 500) and never a hang. Every [`CHECK_EVERY`] requests the store's
        /// invariants are checked.
        pub fn request(&self, data: &[u8]) {
            let Some((&[pick, how], body)) = data.split_first_chunk::<2>() else {
                return;
            };
            let (path, signed_out) = ENDPOINTS[usize::from(pick) % ENDPOINTS.len()];
            let content_type = CONTENT_TYPES[usize::from(how & 7)];
            let cookie = match (signed_out, (how >> 3) & 3) {
                (true, _) | (_, 0) => None,
                (_, 1) => Some(self.learner.as_str()),
                _ => Some(self.admin.as_str()),
            };
            let as_form_post = how & 0x20 != 0;
            let (res, bytes) = self.send(path, content_type, self.fill(body), cookie, as_form_post);
            let status = res.status();
            let text = String::from_utf8_lossy(&bytes);
            let excerpt: String = text.chars().take(300).collect();
            assert!(
                !status.is_server_error(),
                "POST {path} ({content_type:?}, caller {cookie:?}): {status} {excerpt}"
            );
            if status.is_client_error() {
                assert!(
                    !text.trim().is_empty(),
                    "POST {path}: {status} without a message"
                );
            }
            if status.is_redirection() {
                assert!(
                    res.headers().contains_key(header::LOCATION),
                    "POST {path}: {status} without a Location"
                );
            }
            assert!(
                status.is_success() || status.is_redirection() || status.is_client_error(),
                "POST {path}: {status}"
            );
            if (self.sent.fetch_add(1, Ordering::Relaxed) + 1).is_multiple_of(CHECK_EVERY) {
                self.check_store();
            }
        }

        /// Panics unless every invariant of the store holds (what `tessera check` verifies).
        pub fn check_store(&self) {
            let report = self
                .state
                .store()
                .expect("the store is open")
                .check()
                .expect("the store can be read");
            assert!(
                report.violations.is_empty(),
                "store invariants broken: {:?}",
                report.violations
            );
        }
    }

    impl Default for RequestHarness {
        fn default() -> Self {
            Self::new()
        }
    }

    fn json_ok(what: &str, (res, body): (Response<()>, Vec<u8>)) -> serde_json::Value {
        let text = String::from_utf8_lossy(&body);
        assert_eq!(res.status(), StatusCode::OK, "set-up step {what}: {text}");
        serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null)
    }
}

#[cfg(test)]
mod tests {
    //! The committed corpus (`fuzz/corpus/<target>/`) replayed through the targets' bodies.

    use super::*;
    use std::path::PathBuf;

    fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("fuzz/corpus")
            .join(target);
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.expect("a directory entry").path())
            .collect();
        files.sort();
        assert!(!files.is_empty(), "{}: no corpus", dir.display());
        files
            .into_iter()
            .map(|p| {
                let bytes = std::fs::read(&p).expect("a corpus file");
                (p, bytes)
            })
            .collect()
    }

    fn replay(target: &str, body: impl Fn(&[u8])) {
        for (path, bytes) in corpus(target) {
            let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| body(&bytes)));
            assert!(run.is_ok(), "{target}: {} fails", path.display());
        }
    }

    #[test]
    fn the_normalise_corpus_keeps_its_invariants() {
        replay("normalise", normalise);
    }

    #[test]
    fn the_csv_corpus_keeps_its_invariants() {
        replay("csv", csv);
    }

    #[test]
    fn the_requests_corpus_gets_no_server_error_and_keeps_the_store_whole() {
        let harness = RequestHarness::new();
        replay("requests", |data| harness.request(data));
        harness.check_store();
    }
}
