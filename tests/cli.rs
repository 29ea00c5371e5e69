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
