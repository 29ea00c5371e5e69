//! Importing 50,000 users from one CSV file through the real server binary: how long the
//! upload and preview take, how long applying takes, the server's peak memory, and what a
//! signed-in page costs while the import is applied.
//!
//! The server runs on a fresh data directory with a default group (two courses) and a group
//! "Year 7" (one course) that every second row names, so each new user is also enrolled in two
//! or three courses. Rows carry no password (each user gets a set-password link); a second
//! file of 2,000 rows with passwords shows what hashing them at upload costs.
//!
//! Prints its section of BENCHMARKS.md: `bash scripts/bench.sh import`.

#[path = "../tests/process/mod.rs"]
mod process;

use std::time::{Duration, Instant};

const ROWS: usize = 50_000;
const PASSWORD_ROWS: usize = 2_000;

fn form(addr: &str, path: &str, body: &str, cookie: &str) -> process::Reply {
    let r = process::post(addr, path, body, Some(cookie));
    assert_eq!(r.status, 200, "{path}: {}", r.body);
    r
}

fn id_of(body: &str, key: &str) -> u64 {
    let v: serde_json::Value = serde_json::from_str(body).expect("json");
    key.split('.')
        .fold(&v, |v, k| &v[k])
        .as_u64()
        .expect("an id")
}

/// Uploads `csv` as a file; returns the import's id and the seconds it took.
fn upload(addr: &str, cookie: &str, csv: &str) -> (u64, f64) {
    let boundary = "tessera-bench-boundary";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"people.csv\"\r\nContent-Type: text/csv\r\n\r\n{csv}\r\n--{boundary}--\r\n"
    );
    let t = Instant::now();
    let r = process::request(
        addr,
        None,
        "POST",
        "/api/upload_user_import",
        &body,
        Some(cookie),
        &[
            "Accept: application/json",
            &format!("Content-Type: multipart/form-data; boundary={boundary}"),
        ],
    );
    let secs = t.elapsed().as_secs_f64();
    assert_eq!(
        r.status,
        200,
        "upload: {}",
        &r.body[..r.body.len().min(300)]
    );
    (id_of(&r.body, "id"), secs)
}

fn state_of(addr: &str, cookie: &str, id: u64) -> serde_json::Value {
    let r = form(addr, "/api/get_import", &format!("id={id}"), cookie);
    serde_json::from_str(&r.body).expect("json")
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = process::start_with(dir.path(), &[], None);
    let addr = server.addr.clone();
    let cookie = process::setup_admin(&addr);
    let group = |name: &str, default: bool| {
        let extra = if default { "&is_default=on" } else { "" };
        let r = form(
            &addr,
            "/api/create_group",
            &format!(
                "name={name}&description=&branch=&key=&max_uses=&valid_from=&valid_until={extra}"
            ),
            &cookie,
        );
        id_of(&r.body, "group.id")
    };
    let course = |code: &str| {
        let r = form(
            &addr,
            "/api/create_course",
            &format!("code={code}&title={code}&description="),
            &cookie,
        );
        id_of(&r.body, "id")
    };
    let everyone = group("Everyone", true);
    let year7 = group("Year+7", false);
    for (g, code) in [
        (everyone, "WELCOME"),
        (everyone, "SAFETY"),
        (year7, "MATHS-7"),
    ] {
        let c = course(code);
        form(
            &addr,
            "/api/change_group_link",
            &format!("id={g}&kind=course&target={c}&op=add"),
            &cookie,
        );
    }

    let mut csv = String::from("login,email,display name,role,groups\n");
    for i in 0..ROWS {
        let groups = if i % 2 == 0 { "Year 7" } else { "" };
        csv.push_str(&format!(
            "pupil{i:05},pupil{i:05}@school.example.org,\"Pupil, Number {i}\",learner,{groups}\n"
        ));
    }
    let rss_start = server.rss_kib();
    let (id, upload_secs) = upload(&addr, &cookie, &csv);
    let preview = state_of(&addr, &cookie, id);
    assert_eq!(preview["counts"]["create"].as_u64(), Some(ROWS as u64));
    let rss_preview = server.rss_kib();

    // Apply, while another client asks for a signed-in page every 20 ms.
    let page = |c: &str| {
        let t = Instant::now();
        let r = process::get(&addr, "/users", Some(c));
        assert_eq!(r.status, 200);
        t.elapsed()
    };
    let t = Instant::now();
    form(&addr, "/api/apply_import", &format!("id={id}"), &cookie);
    let mut during = Vec::new();
    let mut last_check = Instant::now();
    loop {
        during.push(page(&cookie));
        if last_check.elapsed() > Duration::from_millis(250) {
            last_check = Instant::now();
            if state_of(&addr, &cookie, id)["state"] == "Done" {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let apply_secs = t.elapsed().as_secs_f64();
    during.sort();
    let done = state_of(&addr, &cookie, id);
    assert_eq!(
        done["counts"]["created"].as_u64(),
        Some(ROWS as u64),
        "{done}"
    );
    let rss_applied = server.rss_kib();

    let t = Instant::now();
    let result = process::get(&addr, &format!("/imports/{id}/result.csv"), Some(&cookie));
    let result_secs = t.elapsed().as_secs_f64();
    assert_eq!(result.status, 200);
    let result_rows = result.body.lines().count() - 1;
    assert_eq!(result_rows, ROWS);

    let mut with_passwords = String::from("login,email,display name,password\n");
    for i in 0..PASSWORD_ROWS {
        with_passwords.push_str(&format!(
            "teacher{i:04},teacher{i:04}@school.example.org,Teacher {i},teacher-password-{i:04}\n"
        ));
    }
    let (_, password_secs) = upload(&addr, &cookie, &with_passwords);
    let peak = server.peak_rss_kib();

    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mib = |kib: u64| kib as f64 / 1024.0;
    println!("## Importing {ROWS} users from CSV\n");
    println!("```\nbash scripts/bench.sh import\n```\n");
    println!(
        "Machine: {cores} logical cores. The release-profile server binary on a fresh data \
         directory; a default group with 2 courses and a group \"Year 7\" with 1 course that every \
         second row names. One file of {ROWS} rows ({:.1} MB) without passwords: each user is \
         created in its own transaction with the default group, the named group, their \
         enrolments and a set-password link. While it is applied, another client requests \
         `/users` (signed in, server-rendered) every 20 ms. Then a file of {PASSWORD_ROWS} rows \
         that give passwords (hashed at upload on the hashing pool).\n",
        csv.len() as f64 / 1e6
    );
    println!("| | figure |\n|---|--:|");
    println!("| upload, parse and preview of {ROWS} rows | {upload_secs:.1} s |");
    println!(
        "| apply (the background job, {ROWS} users, {} enrolments) | {apply_secs:.1} s ({:.0} users/s) |",
        ROWS * 2 + ROWS / 2,
        ROWS as f64 / apply_secs
    );
    println!(
        "| result CSV ({result_rows} rows, {:.1} MB) | {result_secs:.2} s |",
        result.body.len() as f64 / 1e6
    );
    println!(
        "| `/users` while applying: p50 / p99 / max ({} requests) | {:.1} / {:.1} / {:.1} ms |",
        during.len(),
        pct(&during, 0.5),
        pct(&during, 0.99),
        during.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    );
    println!(
        "| upload and preview of {PASSWORD_ROWS} rows with passwords | {password_secs:.1} s |"
    );
    println!(
        "| server memory (RSS): at start / after the preview / after applying | {:.0} / {:.0} / {:.0} MiB |",
        mib(rss_start),
        mib(rss_preview),
        mib(rss_applied)
    );
    println!(
        "| server peak memory (VmHWM), whole run | {:.0} MiB |",
        mib(peak)
    );
    println!();
}
