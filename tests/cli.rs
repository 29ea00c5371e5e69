//! The real `tessera` binary: exit codes for bad data directories and configuration, and
//! durability of an acknowledged write across `kill -9`.

mod process;

use process::{post, start};
use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_tessera");

/// Runs the binary to completion; returns its exit code and standard error.
fn run(args: &[&str], cwd: &Path) -> (i32, String) {
    let out = Command::new(BIN)
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("run tessera");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn help_explains_the_flags() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["serve", "--help"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--addr",
        "--data-dir",
        "TESSERA_ADDR",
        "TESSERA_DATA_DIR",
        "--secure-cookies",
        "--session-idle-minutes",
    ] {
        assert!(text.contains(flag), "help mentions {flag}");
    }
}

#[test]
fn a_data_directory_in_use_is_refused_with_code_4() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let _first = start(&data);
    let (code, err) = run(
        &[
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--data-dir",
            data.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("in use by another running Tessera"), "{err}");
}

#[test]
fn an_unreadable_data_directory_gives_code_5() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "not a directory").unwrap();
    let (code, err) = run(
        &[
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--data-dir",
            file.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert_eq!(code, 5, "{err}");
    assert!(err.contains("cannot be opened"), "{err}");
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "not a directory",
        "left alone"
    );
}

#[test]
fn a_newer_schema_gives_code_6_and_is_not_touched() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    {
        let db = sled::open(&data).unwrap();
        db.open_tree("meta")
            .unwrap()
            .insert("schema_version", &999u32.to_be_bytes())
            .unwrap();
        db.flush().unwrap();
    }
    let (code, err) = run(
        &[
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--data-dir",
            data.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert_eq!(code, 6, "{err}");
    assert!(err.contains("newer Tessera"), "{err}");
    let db = sled::open(&data).unwrap();
    let v = db
        .open_tree("meta")
        .unwrap()
        .get("schema_version")
        .unwrap()
        .unwrap();
    assert_eq!(v.as_ref(), &999u32.to_be_bytes());
    drop(db);
    // `tessera migrate` refuses it the same way, and leaves it alone too.
    let (code, err) = run(
        &["migrate", "--data-dir", data.to_str().unwrap()],
        dir.path(),
    );
    assert_eq!(code, 6, "{err}");
    assert!(err.contains("newer Tessera"), "{err}");
}

/// The data directory the schema-1 release wrote (`tests/fixtures`), unpacked at `dir/data`.
fn schema_v1_directory(dir: &Path) -> std::path::PathBuf {
    let archive = dir.join("v1.tar.gz");
    std::fs::write(&archive, include_bytes!("fixtures/schema-v1.tar.gz")).unwrap();
    let status = Command::new("tar")
        .arg("xzf")
        .arg(&archive)
        .current_dir(dir)
        .status()
        .expect("tar");
    assert!(status.success());
    dir.join("data")
}

/// `serve` on a directory at an older schema: a process of its own migrates it first, the
/// server opens it up to date and serves, the directory checks clean, and the next start
/// knows from the schema hint that there is nothing to do.
#[test]
fn serve_has_an_older_directory_migrated_by_a_process_of_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let data = schema_v1_directory(dir.path());
    let serve_logged = |name: &str| {
        let log = dir.path().join(name);
        let port = process::free_port();
        let mut child = Command::new(BIN)
            .args([
                "serve",
                "--addr",
                &format!("127.0.0.1:{port}"),
                "--data-dir",
            ])
            .arg(&data)
            .current_dir(dir.path())
            .env("RUST_LOG", "info")
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let addr = format!("127.0.0.1:{port}");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while !process::listens_on(child.id(), port) {
            let exited = child.try_wait().unwrap();
            assert!(exited.is_none(), "server exited: {exited:?}");
            assert!(std::time::Instant::now() < deadline, "server did not start");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let page = process::get(&addr, "/login", None);
        child.kill().unwrap();
        child.wait().unwrap();
        (page.status, std::fs::read_to_string(&log).unwrap())
    };

    let (status, log) = serve_logged("first.log");
    assert_eq!(status, 200, "{log}");
    let asked = log
        .find("running `tessera migrate` first")
        .unwrap_or_else(|| panic!("no migration apart: {log}"));
    let done = log
        .find("`tessera migrate` brought the data directory up to date")
        .unwrap_or_else(|| panic!("the migration apart did not succeed: {log}"));
    // Every migration step ran between the two, in the child: none in the server after it.
    let steps: Vec<usize> = log
        .match_indices("migrated data directory")
        .map(|(at, _)| at)
        .collect();
    assert_eq!(
        steps.len(),
        tessera::server::store::SCHEMA_VERSION as usize - 1,
        "{log}"
    );
    assert!(steps.iter().all(|&at| asked < at && at < done), "{log}");
    assert_eq!(
        std::fs::read_to_string(data.join("tessera-schema")).unwrap(),
        format!("{}\n", tessera::server::store::SCHEMA_VERSION)
    );

    let (code, err) = run(&["check", "--data-dir", data.to_str().unwrap()], dir.path());
    assert_eq!(code, 0, "{err}");
    let (status, log) = serve_logged("second.log");
    assert_eq!(status, 200, "{log}");
    assert!(!log.contains("tessera migrate"), "{log}");
    assert!(!log.contains("migrated data directory"), "{log}");
}

/// `tessera migrate` brings an older directory up to date, and says so again, changing
/// nothing, when run twice.
#[test]
fn migrate_brings_an_older_directory_up_to_date() {
    let dir = tempfile::tempdir().unwrap();
    let data = schema_v1_directory(dir.path());
    for first in [true, false] {
        let out = Command::new(BIN)
            .args(["migrate", "--data-dir"])
            .arg(&data)
            .current_dir(dir.path())
            .env("RUST_LOG", "info")
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        assert!(String::from_utf8_lossy(&out.stdout).contains("the schema is up to date"));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.contains("migrated data directory"), first, "{err}");
    }
    let (code, err) = run(&["check", "--data-dir", data.to_str().unwrap()], dir.path());
    assert_eq!(code, 0, "{err}");
}

#[test]
fn a_bad_configuration_file_gives_code_3() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Leptos.toml"), "adress = \"127.0.0.1:1\"\n").unwrap();
    let (code, err) = run(&["serve"], dir.path());
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("adress"), "{err}");
}

#[test]
fn an_acknowledged_write_survives_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut server = start(&data);
    let setup = post(
        &server.addr,
        "/api/setup",
        "login=admin&email=a%40example.org&display_name=A&password=password-123&password_confirm=password-123",
        None,
    );
    assert_eq!(setup.status, 200, "{}", setup.body);
    let login = post(
        &server.addr,
        "/api/login",
        "identifier=admin&password=password-123",
        None,
    );
    assert_eq!(login.status, 200);
    let created = post(
        &server.addr,
        "/api/create_user",
        "login=lee&email=lee%40example.org&display_name=Lee&role=learner&password=password-456&password_confirm=password-456",
        login.session.as_deref(),
    );
    assert_eq!(created.status, 200, "{}", created.body);
    // SIGKILL right after the acknowledgement: no graceful shutdown, no final flush.
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    drop(server);

    let server = start(&data);
    let login = post(
        &server.addr,
        "/api/login",
        "identifier=lee&password=password-456",
        None,
    );
    assert_eq!(
        login.status, 200,
        "the learner created before kill -9 can log in: {}",
        login.body
    );
}

/// A logout answered to the browser is on disk: after `kill -9` and a restart the old session
/// cookie does not work again.
#[test]
fn a_logout_survives_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut server = start(&data);
    let setup = post(
        &server.addr,
        "/api/setup",
        "login=admin&email=a%40example.org&display_name=A&password=password-123&password_confirm=password-123",
        None,
    );
    assert_eq!(setup.status, 200, "{}", setup.body);
    let login = post(
        &server.addr,
        "/api/login",
        "identifier=admin&password=password-123",
        None,
    );
    let cookie = login.session.expect("a session cookie");
    let me = post(&server.addr, "/api/current_user", "", Some(&cookie));
    assert!(me.body.contains("\"login\":\"admin\""), "{}", me.body);
    let out = post(&server.addr, "/api/logout", "", Some(&cookie));
    assert_eq!(out.status, 200, "{}", out.body);
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    drop(server);

    let server = start(&data);
    let me = post(&server.addr, "/api/current_user", "", Some(&cookie));
    assert_eq!(me.status, 200);
    assert!(
        !me.body.contains("admin"),
        "the logged-out session came back: {}",
        me.body
    );
}

/// `tessera check` passes a data directory written by the store's own operations, and names
/// the keys of the damage in one whose index lost an entry (exit 1), changing nothing.
#[test]
fn check_passes_a_healthy_directory_and_names_damage() {
    use tessera::model::group::{JoinedHow, KeySettings};
    use tessera::server::store::groups::{Actor, GroupFields};
    use tessera::server::store::users::{PasswordHash, UserFields};
    use tessera::server::store::Store;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (g, u) = {
        let s = Store::open(&data).unwrap();
        let f = UserFields {
            login: "lee".into(),
            email: "lee@example.org".into(),
            display_name: "Lee".into(),
            role: tessera::model::user::Role::Learner,
        };
        let u = s
            .create_user(&f, &PasswordHash::from_phc("$x".into()), false, 0)
            .unwrap()
            .id;
        let f = GroupFields {
            name: "Physics".into(),
            description: String::new(),
            branch: None,
            key: KeySettings::default(),
            is_default: true,
        };
        let actor = Actor { user: 0, now: 1 };
        let g = s.create_group(actor, &f).unwrap().0.id;
        s.add_member(actor, g, u, JoinedHow::Manual).unwrap();
        s.flush().unwrap();
        (g, u)
    };
    // sled's flush thread may hold the directory's lock a moment after the store is dropped.
    let check = || {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let out = Command::new(BIN)
                .args(["check", "--data-dir", data.to_str().unwrap()])
                .current_dir(dir.path())
                .output()
                .expect("run tessera check");
            let code = out.status.code().unwrap_or(-1);
            if code != 4 || std::time::Instant::now() > deadline {
                return (code, String::from_utf8_lossy(&out.stdout).into_owned());
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    };
    let (code, out) = check();
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("every invariant holds"), "{out}");

    {
        let db = sled::open(&data).unwrap();
        let mut key = u.to_be_bytes().to_vec();
        key.extend_from_slice(&g.to_be_bytes());
        db.open_tree("user_groups").unwrap().remove(key).unwrap();
        db.flush().unwrap();
    }
    let (code, out) = check();
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!(
            "group_members: group {g} user {u} has no reverse entry"
        )),
        "{out}"
    );
    assert!(out.contains("1 violation(s)"), "{out}");
}

/// `tessera backup` while the server runs (through its control socket) and on a stopped data
/// directory; `tessera restore` into a new directory, which `check` accepts and a server then
/// serves with the same accounts and settings; a non-empty target and a file that is no backup
/// are refused with their exit codes, leaving nothing behind.
#[test]
fn backup_and_restore_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let live = dir.path().join("live.tessera-backup");
    let stopped = dir.path().join("stopped.tessera-backup");
    {
        let server = start(&data);
        let admin = process::setup_admin(&server.addr);
        let saved = post(
            &server.addr,
            "/api/save_settings",
            "self_registration=on",
            Some(&admin),
        );
        assert_eq!(saved.status, 200, "{}", saved.body);
        let (code, err) = run(
            &["backup", "--data-dir", &s(&data), "--out", &s(&live)],
            dir.path(),
        );
        assert_eq!(code, 0, "{err}");
        assert!(err.contains("taken by the running server"), "{err}");
        let size = std::fs::metadata(&live).unwrap().len();
        assert!(err.contains(&format!("{size} bytes")), "{err}");
        let status = post(&server.addr, "/api/get_backup_status", "", Some(&admin));
        let status: serde_json::Value = serde_json::from_str(&status.body).unwrap();
        assert_eq!(status["last"]["bytes"], size, "{status}");
        assert!(status["last"]["downloaded_by"].is_null());
    }
    // The server is gone (killed): the command reads the directory itself.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let (code, err) = loop {
        let (code, err) = run(
            &["backup", "--data-dir", &s(&data), "--out", &s(&stopped)],
            dir.path(),
        );
        if code != 4 || std::time::Instant::now() > deadline {
            break (code, err);
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("read from the directory"), "{err}");

    let restored = dir.path().join("restored");
    let (code, err) = run(
        &["restore", "--in", &s(&live), "--data-dir", &s(&restored)],
        dir.path(),
    );
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("every invariant holds"), "{err}");
    let (code, err) = run(&["check", "--data-dir", &s(&restored)], dir.path());
    assert_eq!(code, 0, "{err}");

    // Not over anything: the restored directory is not empty now.
    let (code, err) = run(
        &["restore", "--in", &s(&stopped), "--data-dir", &s(&restored)],
        dir.path(),
    );
    assert_eq!(code, 10, "{err}");
    assert!(err.contains("is not empty"), "{err}");
    // Not from something else.
    let junk = dir.path().join("notes.txt");
    std::fs::write(&junk, "not a backup").unwrap();
    let fresh = dir.path().join("fresh");
    let (code, err) = run(
        &["restore", "--in", &s(&junk), "--data-dir", &s(&fresh)],
        dir.path(),
    );
    assert_eq!(code, 11, "{err}");
    assert!(err.contains("not a Tessera backup"), "{err}");
    assert!(!fresh.exists());
    // A backup of a directory that holds no store.
    let (code, err) = run(
        &["backup", "--data-dir", &s(&fresh), "--out", &s(&junk)],
        dir.path(),
    );
    assert_eq!(code, 5, "{err}");
    assert_eq!(std::fs::read_to_string(&junk).unwrap(), "not a backup");

    // The restored directory serves the same data.
    let server = start(&restored);
    let login = post(
        &server.addr,
        "/api/login",
        &format!("identifier=admin&password={}", process::ADMIN_PASSWORD),
        None,
    );
    assert_eq!(login.status, 200, "{}", login.body);
    let open = post(&server.addr, "/api/signup_open", "", None);
    assert_eq!(open.body.trim(), "true", "self-registration came back on");
}

#[test]
fn seed_fills_a_new_directory_that_serves_and_checks_and_refuses_one_with_accounts() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_arg = data.to_str().unwrap();
    // Exit code, and what it printed (the summary on standard output, the rest on error).
    let seed = |extra: &[&str]| {
        let out = Command::new(BIN)
            .args(["seed", "--data-dir", data_arg])
            .args(extra)
            .current_dir(dir.path())
            .output()
            .expect("run tessera seed");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let plan = [
        "--users",
        "60",
        "--groups",
        "4",
        "--courses",
        "5",
        "--courses-per-group",
        "2",
        "--password",
        "seeded-pass-1",
    ];
    // Refused plans and passwords write nothing (the directory is not even made).
    for bad in [
        &["--users", "0"][..],
        &["--groups", "61", "--users", "60"][..],
        &["--courses", "2", "--courses-per-group", "3"][..],
        &["--password", "short"][..],
    ] {
        let (code, out) = seed(bad);
        assert_eq!(code, 12, "{bad:?}: {out}");
        assert!(out.contains("error: "), "{out}");
        assert!(!data.exists(), "{bad:?} wrote something");
    }
    let (code, out) = seed(&plan);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("60 learners, 4 groups, 5 courses, 120 enrolments"),
        "{out}"
    );
    let (code, out) = run(&["check", "--data-dir", data_arg], dir.path());
    assert_eq!(code, 0, "{out}");
    // Once more into the same directory: refused, nothing changed.
    let (code, out) = seed(&plan);
    assert_eq!(code, 12, "{out}");
    assert!(out.contains("already has accounts"), "{out}");
    // The seeded school serves: a learner logs in and has the group's two courses.
    let server = start(&data);
    let login = post(
        &server.addr,
        "/api/login",
        "identifier=learner1&password=seeded-pass-1",
        None,
    );
    assert_eq!(login.status, 200, "{}", login.body);
    let home = process::get(&server.addr, "/", login.session.as_deref());
    assert_eq!(home.status, 200);
    let courses = home.body.matches("href=\"/learn/").count();
    assert!(courses >= 2, "{}", home.body);
    let admin = post(
        &server.addr,
        "/api/login",
        "identifier=admin&password=seeded-pass-1",
        None,
    );
    assert_eq!(admin.status, 200, "{}", admin.body);
    let groups = process::get(&server.addr, "/groups", admin.session.as_deref());
    assert!(groups.body.contains("Class 0004"), "{}", groups.body);
}
