//! Files the server makes on request (not site files): the result of a user import, a group's
//! report and the audit events of the Activity page, as CSV, and a backup of the store.

use super::session_guards::user_of_session;
use super::state::AppState;
use crate::model::import::{password_link, ImportOutcome};
use crate::model::user::Role;
use crate::model::AppError;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use tower_sessions::Session;

/// Where this server is reached, for links handed to people: `public_url`'s scheme and host,
/// or `None` when it is not configured. Never the request's `Host` header: anyone can send any
/// host (or reach the server by an internal name), and a set-password link pointing at a host
/// an attacker chose would hand them the token.
pub fn link_base(state: &AppState) -> Option<String> {
    let url = state.config.public_url.as_ref()?;
    let scheme = url.scheme_str().unwrap_or("https");
    let authority = url.authority()?.as_str();
    Some(format!("{scheme}://{authority}"))
}

/// A cell a spreadsheet will not run as a formula: text starting with `=`, `+`, `-`, `@`, a
/// tab or a carriage return gets a leading `'` (the cells come from an uploaded file).
pub fn inert(cell: String) -> String {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}")
    } else {
        cell
    }
}

/// `GET /imports/{id}/result.csv`: every row of an import with its outcome and, for users
/// created without a password, their set-password link (administrators only).
pub async fn import_result(
    State(state): State<AppState>,
    Path(id): Path<u64>,
    session: Session,
) -> Response {
    csv_download(
        import_result_csv(&state, id, &session).await,
        &format!("import-{id}-result.csv"),
    )
}

/// A CSV file to save as `file_name`, or the error with its status.
fn csv_download(body: Result<impl IntoResponse, AppError>, file_name: &str) -> Response {
    match body {
        Ok(body) => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{file_name}\""),
                ),
            ],
            body,
        )
            .into_response(),
        Err(e) => (e.status_code(), e.to_string()).into_response(),
    }
}

/// The signed-in user of a download request: `Unauthenticated` without one.
async fn signed_in(
    state: &AppState,
    session: &Session,
) -> Result<super::store::users::UserRecord, AppError> {
    user_of_session(state, session)
        .await?
        .ok_or(AppError::Unauthenticated)
}

/// Guard of the administrators' downloads: `Unauthenticated` or `Forbidden` otherwise.
async fn require_admin(
    state: &AppState,
    session: &Session,
) -> Result<super::store::users::UserRecord, AppError> {
    let user = signed_in(state, session).await?;
    if user.role() != Role::Admin {
        return Err(AppError::Forbidden);
    }
    Ok(user)
}

async fn import_result_csv(
    state: &AppState,
    id: u64,
    session: &Session,
) -> Result<Vec<u8>, AppError> {
    require_admin(state, session).await?;
    let base = link_base(state);
    state
        .read(move |s| {
            if s.get_import(id)?.is_none() {
                return Err(super::store::StoreError::NotFound("import"));
            }
            let mut w = csv::Writer::from_writer(Vec::new());
            let csv_err = csv_error("import_rows", id.to_string());
            w.write_record([
                "line",
                "login",
                "email",
                "display name",
                "role",
                "groups",
                "result",
                "detail",
                "set-password link",
            ])
            .map_err(&csv_err)?;
            s.import_rows_all(id, super::store::now_ms(), &mut |row| {
                let link = match &row.outcome {
                    ImportOutcome::Created {
                        link: Some(token), ..
                    } => match &base {
                        Some(base) => password_link(base, token),
                        None => "not shown: public_url is not set".into(),
                    },
                    _ => String::new(),
                };
                let detail = match &row.outcome {
                    ImportOutcome::Created { .. } | ImportOutcome::Create => String::new(),
                    other => other.describe(),
                };
                w.write_record([
                    row.line.to_string(),
                    inert(row.login),
                    inert(row.email),
                    inert(row.display_name),
                    inert(row.role),
                    inert(row.groups.join("; ")),
                    row.outcome.kind().to_string(),
                    inert(detail),
                    link,
                ])
                .map_err(&csv_err)
            })?;
            w.into_inner().map_err(|e| csv_err(e.into_error().into()))
        })
        .await
}

/// What writing a report's CSV did: rows written, bytes, and the largest chunk handed on (the
/// most the writer buffers before the receiver takes it: `chunk` plus one row, whatever the
/// number of rows).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CsvStats {
    pub rows: u64,
    pub bytes: u64,
    pub max_chunk: usize,
}

/// Bytes of CSV gathered before they are handed on.
pub const REPORT_CHUNK: usize = 64 * 1024;

/// A failure to write CSV (to memory, so not expected) as the store's error, naming what was
/// being written.
fn csv_error(tree: &'static str, key: String) -> impl Fn(csv::Error) -> super::store::StoreError {
    move |e| super::store::StoreError::Corrupt {
        tree,
        key: key.clone(),
        reason: e.to_string(),
    }
}

/// A CSV writer that hands its bytes to `send` in chunks of about `chunk` bytes, row by row,
/// so a file is never held whole: the most it holds is `chunk` plus one row.
pub struct ChunkedCsv<F: FnMut(Vec<u8>) -> bool> {
    w: csv::Writer<Vec<u8>>,
    chunk: usize,
    send: F,
    stats: CsvStats,
    /// False once `send` said the receiver is gone.
    open: bool,
}

impl<F: FnMut(Vec<u8>) -> bool> ChunkedCsv<F> {
    pub fn new(chunk: usize, send: F) -> Self {
        ChunkedCsv {
            w: Self::writer(chunk),
            chunk,
            send,
            stats: CsvStats::default(),
            open: true,
        }
    }

    fn writer(chunk: usize) -> csv::Writer<Vec<u8>> {
        csv::Writer::from_writer(Vec::with_capacity(chunk + 8 * 1024))
    }

    /// The header row (not counted as a row).
    pub fn header<I, T>(&mut self, record: I) -> Result<(), csv::Error>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<[u8]>,
    {
        self.w.write_record(record)
    }

    /// One row; `Ok(false)` once the receiver has gone (write no more).
    pub fn row<I, T>(&mut self, record: I) -> Result<bool, csv::Error>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<[u8]>,
    {
        self.w.write_record(record)?;
        // Into the chunk at once (a copy in memory), so a chunk is `chunk` bytes plus a row.
        self.w.flush()?;
        self.stats.rows += 1;
        if self.w.get_ref().len() >= self.chunk {
            let full = std::mem::replace(&mut self.w, Self::writer(self.chunk));
            let buf = full.into_inner().map_err(|e| e.into_error())?;
            self.open = self.hand_on(buf);
        }
        Ok(self.open)
    }

    fn hand_on(&mut self, buf: Vec<u8>) -> bool {
        self.stats.bytes += buf.len() as u64;
        self.stats.max_chunk = self.stats.max_chunk.max(buf.len());
        buf.is_empty() || (self.send)(buf)
    }

    /// Hands on what is left (unless the receiver is gone); what was written.
    pub fn finish(mut self) -> Result<CsvStats, csv::Error> {
        if self.open {
            let rest = std::mem::replace(&mut self.w, Self::writer(0));
            let rest = rest.into_inner().map_err(|e| e.into_error())?;
            self.hand_on(rest);
        }
        Ok(self.stats)
    }
}

/// Writes the report of `plan` as CSV (UTF-8, a header row, then one row per matching member:
/// login, display name and per shown course its status, progress % and completion date),
/// handing it to `send` in chunks of about `chunk` bytes, member by member: the report is never
/// held whole. Stops early when `send` returns false (the client went away). Names are made
/// inert for spreadsheets.
pub fn write_report_csv(
    store: &super::store::Store,
    plan: &super::store::reports::ReportPlan,
    chunk: usize,
    send: impl FnMut(Vec<u8>) -> bool,
) -> Result<CsvStats, super::store::StoreError> {
    use crate::components::widgets::date;
    use crate::model::report::{cell_label, cell_percent};
    let csv_err = csv_error("groups", plan.group.id.to_string());
    let mut w = ChunkedCsv::new(chunk, send);
    let mut record: Vec<String> = vec!["login".into(), "display name".into()];
    for &i in &plan.shown {
        let code = &plan.courses[i].code;
        record.push(inert(format!("{code} status")));
        record.push(inert(format!("{code} progress %")));
        record.push(inert(format!("{code} completed on")));
    }
    w.header(&record).map_err(&csv_err)?;
    store.walk_report(plan, &mut |user, cells| {
        if !plan.matches(&cells) {
            return Ok(true);
        }
        let row = store.report_row(user, plan.shown_cells(&cells))?;
        record.clear();
        record.push(inert(row.login));
        record.push(inert(row.display_name));
        for cell in &row.cells {
            record.push(cell_label(cell).to_string());
            record.push(
                cell.as_ref()
                    .map_or(String::new(), |p| cell_percent(p).to_string()),
            );
            record.push(
                cell.as_ref()
                    .and_then(|p| p.completed_at)
                    .map_or(String::new(), date),
            );
        }
        w.row(&record).map_err(&csv_err)
    })?;
    w.finish().map_err(csv_err)
}

/// Writes the audit events matching `filter` as CSV, newest first: the time (UTC, to the
/// second), who did it, the group (blank once deleted) and its id, the kind and what
/// happened, handed to `send` in chunks of about `chunk` bytes. Stops early when `send`
/// returns false. Names and details are made inert for spreadsheets.
pub fn write_activity_csv(
    store: &super::store::Store,
    filter: &super::store::audit::AuditFilter,
    chunk: usize,
    send: impl FnMut(Vec<u8>) -> bool,
) -> Result<CsvStats, super::store::StoreError> {
    use crate::components::widgets::timestamp;
    let csv_err = csv_error("audit", String::new());
    let mut w = ChunkedCsv::new(chunk, send);
    w.header([
        "time (UTC)",
        "actor",
        "group",
        "group id",
        "event",
        "detail",
    ])
    .map_err(&csv_err)?;
    let mut names = super::store::audit::AuditNames::default();
    store.walk_audit(filter, &mut |hit| {
        let row = names.row(&**store, &hit)?;
        w.row([
            timestamp(row.at),
            inert(row.actor),
            inert(row.group.unwrap_or_default()),
            row.group_id.to_string(),
            row.action.label().to_string(),
            inert(row.detail),
        ])
        .map_err(&csv_err)
    })?;
    w.finish().map_err(csv_err)
}

/// How long the CSV export waits for a client to take a chunk.
const SEND_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

/// `GET /groups/{id}/report.csv?status=&course=`: the group's report as CSV, with the filters
/// of the Report tab (administrators and the group's managers). Streamed: a blocking task
/// walks the members and hands chunks to the response through a channel of two, so a slow
/// client holds back the walk instead of the server buffering the file.
pub async fn group_report_csv(
    State(state): State<AppState>,
    Path(id): Path<u64>,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
    session: Session,
) -> Response {
    csv_download(
        start_report_csv(&state, id, query.as_deref().unwrap_or(""), &session).await,
        &format!("group-{id}-report.csv"),
    )
}

async fn start_report_csv(
    state: &AppState,
    id: u64,
    query: &str,
    session: &Session,
) -> Result<axum::body::Body, AppError> {
    use crate::model::report::ReportFilter;
    let user = signed_in(state, session).await?;
    if user.role() != Role::Admin {
        let uid = user.id;
        if !state.read(move |s| s.manages_group(uid, id)).await? {
            return Err(AppError::Forbidden);
        }
    }
    let (mut status, mut course) = (String::new(), String::new());
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        match k.as_ref() {
            "status" => status = v.into_owned(),
            "course" => course = v.into_owned(),
            _ => {}
        }
    }
    let filter = ReportFilter::parse(&status, &course);
    let plan = state.read(move |s| s.report_plan(id, filter)).await?;
    stream_csv(state, format!("group {id} report"), move |store, send| {
        write_report_csv(store, &plan, REPORT_CHUNK, send)
    })
    .await
}

/// The body of a streamed CSV download: `write` runs on a blocking thread and hands chunks
/// to the response through a channel of two, so a slow client holds back the writing instead
/// of the server buffering the file. The export holds one of the report turns throughout (a
/// client that reads slowly takes a turn, not the server); a client that takes no chunk for
/// [`SEND_WAIT`] (gone without closing) ends it. `what` names the file in the log.
async fn stream_csv<W>(
    state: &AppState,
    what: String,
    write: W,
) -> Result<axum::body::Body, AppError>
where
    W: FnOnce(
            &super::store::Store,
            &mut dyn FnMut(Vec<u8>) -> bool,
        ) -> Result<CsvStats, super::store::StoreError>
        + Send
        + 'static,
{
    use axum::body::Bytes;
    let turn = state.report_turn().await?;
    let (mut tx, body) = http_body_util::channel::Channel::<Bytes, std::io::Error>::new(2);
    let store = state.store()?;
    let handle = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let _turn = turn;
        let sent = write(&store, &mut |chunk| {
            handle
                .block_on(tokio::time::timeout(
                    SEND_WAIT,
                    tx.send_data(Bytes::from(chunk)),
                ))
                .is_ok_and(|r| r.is_ok())
        });
        if let Err(e) = sent {
            tracing::error!(error = %e, file = %what, "a CSV download stopped");
            tx.abort(std::io::Error::other("the file could not be read"));
        }
    });
    Ok(axum::body::Body::new(body))
}

/// `GET /backup/download`: a backup of the whole store (administrators only), streamed from
/// the temporary file it was written to (see `backup_control.rs`).
pub async fn backup_download(State(state): State<AppState>, session: Session) -> Response {
    match start_backup(&state, &session).await {
        Ok((body, bytes, at_ms)) => {
            let minutes = (at_ms / 60_000) % 1_440;
            let stamp = format!(
                "{}-{:02}{:02}",
                crate::components::widgets::date(at_ms),
                minutes / 60,
                minutes % 60
            );
            (
                [
                    (header::CONTENT_TYPE, "application/octet-stream".to_string()),
                    (
                        header::CONTENT_DISPOSITION,
                        format!("attachment; filename=\"tessera-{stamp}.tessera-backup\""),
                    ),
                    (header::CONTENT_LENGTH, bytes.to_string()),
                    (header::CACHE_CONTROL, "no-store".to_string()),
                ],
                body,
            )
                .into_response()
        }
        Err(e) => (e.status_code(), e.to_string()).into_response(),
    }
}

async fn start_backup(
    state: &AppState,
    session: &Session,
) -> Result<(axum::body::Body, u64, u64), AppError> {
    use axum::body::Bytes;
    use std::io::Read;
    let user = require_admin(state, session).await?;
    // The file is written where the store is when that is a directory (the same disk, the
    // same private permissions); a database's server has none, so the system's temporary
    // directory takes it.
    let dir = match state.config.database_url {
        None => state.config.data_dir.clone(),
        Some(_) => std::env::temp_dir(),
    };
    let (store, by) = (state.store()?, user.id);
    let at_ms = super::store::now_ms();
    let (mut file, summary) = tokio::task::spawn_blocking(move || {
        super::backup_control::backup_to_temp(
            &store,
            &dir,
            super::store::backup::BackupVia::Download { by },
        )
    })
    .await
    .map_err(|e| super::internal(&e))?
    .map_err(|e| super::internal(&e))?;
    tracing::info!(admin = user.id, bytes = summary.bytes, "backup downloaded");
    let (mut tx, body) = http_body_util::channel::Channel::<Bytes, std::io::Error>::new(2);
    let handle = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let mut buf = vec![0u8; REPORT_CHUNK];
        loop {
            match file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    let sent = handle.block_on(tokio::time::timeout(
                        SEND_WAIT,
                        tx.send_data(Bytes::copy_from_slice(&buf[..n])),
                    ));
                    if !sent.is_ok_and(|r| r.is_ok()) {
                        break;
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "the backup download stopped");
                    tx.abort(std::io::Error::other("the backup could not be read"));
                    break;
                }
            }
        }
    });
    Ok((axum::body::Body::new(body), summary.bytes, at_ms))
}

/// `GET /activity.csv?actor=&group=&kind=&from=&to=`: every audit event matching the Activity
/// page's filters, newest first, as CSV (administrators). Streamed like the report.
pub async fn activity_csv(
    State(state): State<AppState>,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
    session: Session,
) -> Response {
    csv_download(
        start_activity_csv(&state, query.as_deref().unwrap_or(""), &session).await,
        "activity.csv",
    )
}

async fn start_activity_csv(
    state: &AppState,
    query: &str,
    session: &Session,
) -> Result<axum::body::Body, AppError> {
    use crate::model::activity::ActivityQuery;
    require_admin(state, session).await?;
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let mut q = ActivityQuery::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    // The file holds every match, not the page the link was on.
    (q.before, q.after) = (String::new(), String::new());
    let filter = match state.read(move |s| s.activity_filter(&q)).await? {
        Ok((filter, _)) => filter,
        Err(problems) => {
            let field = problems.first().and_then(|e| e.field()).unwrap_or("actor");
            let message: Vec<String> = problems.iter().map(|e| e.to_string()).collect();
            return Err(AppError::invalid(field, message.join(" ")));
        }
    };
    stream_csv(state, "activity".into(), move |store, send| {
        write_activity_csv(store, &filter, REPORT_CHUNK, send)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::group::{JoinedHow, KeySettings};
    use crate::model::report::{cell_label, cell_percent, ReportFilter};
    use crate::model::user::Role;
    use crate::server::store::courses::tests::{add_lesson, course_fields};
    use crate::server::store::enrolments::Source;
    use crate::server::store::groups::{Actor, GroupFields};
    use crate::server::store::tests::temp_store;
    use crate::server::store::users::{PasswordHash, UserFields};

    /// The CSV read back with the csv crate is the report, cell for cell: names with commas,
    /// quotes, line breaks and non-Latin letters survive, formula-like ones are made inert,
    /// and the file comes in chunks however small they are asked to be.
    #[test]
    fn report_csv_reads_back_as_the_report() {
        let (_dir, s) = temp_store();
        let actor = Actor { user: 0, now: 1 };
        let f = GroupFields {
            name: "Group".into(),
            description: String::new(),
            branch: None,
            key: KeySettings::default(),
            is_default: false,
        };
        let g = s.create_group(actor, &f).unwrap().0.id;
        let a = s.create_course(&course_fields("-A"), 0).unwrap().id;
        let lesson = add_lesson(&s, a, "L1");
        add_lesson(&s, a, "L2");
        let b = s.create_course(&course_fields("B"), 0).unwrap().id;
        let b_lesson = add_lesson(&s, b, "L1");
        for c in [a, b] {
            s.link_group_course(actor, g, c, true).unwrap();
        }
        let names = [
            "Lovelace, Ada",
            "Say \"hi\"",
            "Two\nlines",
            "Лев Толстой 李白",
            "=HYPERLINK(\"x\")",
        ];
        let mut many = Vec::new();
        for i in 0..60 {
            let name = names[i % names.len()];
            let f = UserFields {
                login: format!("u{i}"),
                email: format!("u{i}@x.org"),
                display_name: name.into(),
                role: Role::Learner,
            };
            let u = s
                .create_user(&f, &PasswordHash::from_phc("$x".into()), false, 0)
                .unwrap()
                .id;
            s.add_member(actor, g, u, JoinedHow::Manual).unwrap();
            if i % 3 != 0 {
                s.enrol(u, a, Source::Manual, 1).unwrap();
                s.mark_lesson(u, a, lesson, i % 2 == 0, 86_400_000 * 400)
                    .unwrap();
            }
            if i % 4 == 0 {
                s.enrol(u, b, Source::Manual, 1).unwrap();
                s.mark_lesson(u, b, b_lesson, true, 86_400_000 * 400)
                    .unwrap();
            }
            many.push(u);
        }
        let plan = s.report_plan(g, ReportFilter::default()).unwrap();
        let mut chunks = Vec::new();
        let stats = write_report_csv(&s, &plan, 256, |c| {
            chunks.push(c);
            true
        })
        .unwrap();
        assert!(chunks.len() > 1, "handed on in chunks");
        let bytes = chunks.concat();
        assert_eq!(stats.bytes as usize, bytes.len());
        assert_eq!(stats.rows, 60);
        let text = String::from_utf8(bytes).expect("UTF-8");
        assert!(text.starts_with(
            "login,display name,'-A status,'-A progress %,'-A completed on,B status,B progress %,B completed on\n"
        ), "{text}");

        let report = s.group_report(g, ReportFilter::default(), 1, 100).unwrap();
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let read: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
        assert_eq!(read.len(), report.rows.rows.len());
        for (rec, row) in read.iter().zip(&report.rows.rows) {
            assert_eq!(&rec[0], row.login);
            assert_eq!(rec[1], inert(row.display_name.clone()));
            for (k, cell) in row.cells.iter().enumerate() {
                assert_eq!(&rec[2 + 3 * k], cell_label(cell));
                let pct = cell
                    .as_ref()
                    .map_or(String::new(), |p| cell_percent(p).to_string());
                assert_eq!(rec[3 + 3 * k], pct);
                let done = cell.as_ref().and_then(|p| p.completed_at);
                assert_eq!(
                    rec[4 + 3 * k],
                    done.map_or(String::new(), crate::components::widgets::date)
                );
            }
        }
        let shown: Vec<&str> = read.iter().take(5).map(|r| r.get(1).unwrap()).collect();
        assert_eq!(
            shown,
            vec![
                "Lovelace, Ada",
                "Say \"hi\"",
                "Two\nlines",
                "Лев Толстой 李白",
                "'=HYPERLINK(\"x\")"
            ]
        );
        assert_eq!(&read[0][7], "1971-02-05", "completion date");

        // A filter narrows rows and columns; a receiver that goes away stops the walk.
        let plan = s
            .report_plan(g, ReportFilter::parse("completed", &b.to_string()))
            .unwrap();
        let mut out = Vec::new();
        let stats = write_report_csv(&s, &plan, 1 << 20, |c| {
            out.extend(c);
            true
        })
        .unwrap();
        assert_eq!(stats.rows, 15);
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("login,display name,B status,B progress %,B completed on\n"));
        let mut calls = 0;
        write_report_csv(&s, &plan, 1, |_| {
            calls += 1;
            false
        })
        .unwrap();
        assert_eq!(calls, 1);
    }
}
