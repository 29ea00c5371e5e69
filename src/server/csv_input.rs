//! Reading the CSV files administrators upload or paste: the user import (a header row naming
//! the columns) and the group bulk add (one login name or e-mail per row, first column).
//!
//! Both go through the csv crate, so quoted fields with commas, quotes and line breaks inside
//! read as spreadsheets write them. The separator is the first of comma, semicolon or tab found
//! on the first line (spreadsheets in many languages save with semicolons); a byte-order mark
//! at the start is dropped.

use crate::model::group::BULK_ROWS_MAX;
use crate::model::import::IMPORT_ROWS_MAX;
use crate::model::AppError;

/// One row of an import file, as written (nothing validated but the shape).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportInput {
    /// Line of the file the row starts on (the header is line 1).
    pub line: u32,
    pub login: String,
    pub email: String,
    pub display_name: String,
    pub role: String,
    /// Empty when the file has no password column or the cell is empty.
    pub password: String,
    /// Group names, from the `groups` cell split on `;`.
    pub groups: Vec<String>,
    /// A fault in the row's shape (a cell too many), with the column it concerns.
    pub problem: Option<(String, String)>,
}

/// The columns of an import file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column {
    Login,
    Email,
    DisplayName,
    Role,
    Password,
    Groups,
}

impl Column {
    /// The column a header cell names (case, spaces, `-` and `_` ignored).
    fn named(header: &str) -> Option<Column> {
        let key: String = header
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '_'))
            .flat_map(char::to_lowercase)
            .collect();
        Some(match key.as_str() {
            "login" | "loginname" | "username" | "user" => Column::Login,
            "email" | "emailaddress" | "mail" => Column::Email,
            "displayname" | "name" | "fullname" => Column::DisplayName,
            "role" => Column::Role,
            "password" => Column::Password,
            "groups" | "group" => Column::Groups,
            _ => return None,
        })
    }
}

const COLUMNS_HELP: &str =
    "The columns are: login, email, display name, role, password (optional), groups (optional).";

/// The separator of `text`: the first of `,` `;` or tab on its first line (comma if none).
fn separator(text: &str) -> u8 {
    let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    first
        .bytes()
        .find(|b| matches!(b, b',' | b';' | b'\t'))
        .unwrap_or(b',')
}

/// A reader over `text` (without its byte-order mark), and where its lines start.
fn reader(text: &str, headers: bool) -> (csv::Reader<&[u8]>, Lines<'_>) {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let rdr = csv::ReaderBuilder::new()
        .delimiter(separator(text))
        .has_headers(headers)
        .flexible(true)
        .from_reader(text.as_bytes());
    (rdr, Lines::of(text))
}

/// Where a text's lines start, to tell the line a record starts on. The csv crate's own count
/// passes over blank lines, and the position it gives a record may be the end of the line
/// before (line breaks are skipped forward here). A line ends as the csv crate ends records:
/// at LF, CRLF, or a CR alone (spreadsheets saving "CSV (Macintosh)").
struct Lines<'a> {
    text: &'a [u8],
    breaks: Vec<usize>,
}

impl<'a> Lines<'a> {
    fn of(text: &'a str) -> Lines<'a> {
        let text = text.as_bytes();
        let breaks = (0..text.len())
            .filter(|&i| match text[i] {
                b'\n' => true,
                b'\r' => text.get(i + 1) != Some(&b'\n'),
                _ => false,
            })
            .collect();
        Lines { text, breaks }
    }

    /// The line (from 1) of the record at `pos`.
    fn line(&self, pos: Option<&csv::Position>) -> u32 {
        let mut byte = pos.map_or(0, |p| p.byte() as usize);
        while matches!(self.text.get(byte), Some(b'\r' | b'\n')) {
            byte += 1;
        }
        u32::try_from(self.breaks.partition_point(|&nl| nl < byte) + 1).unwrap_or(u32::MAX)
    }
}

/// Reads the next record into `record`; `Ok(false)` at the end of the text. A line that cannot
/// be read is an error on `field` naming the line.
fn next_record(
    rdr: &mut csv::Reader<&[u8]>,
    lines: &Lines<'_>,
    record: &mut csv::StringRecord,
    field: &str,
) -> Result<bool, AppError> {
    rdr.read_record(record).map_err(|e| {
        AppError::invalid(
            field,
            format!("Line {} could not be read: {e}", lines.line(e.position())),
        )
    })
}

fn file_error(message: impl Into<String>) -> AppError {
    AppError::invalid("file", message)
}

/// Reads an import file: a header row naming the columns (login, email and display name are
/// required), then up to [`IMPORT_ROWS_MAX`] rows; blank rows are skipped. Errors about the
/// file as a whole name the `file` field; faults of one row are kept with the row.
pub fn import_rows(text: &str) -> Result<Vec<ImportInput>, AppError> {
    let (mut rdr, lines) = reader(text, true);
    let header = rdr
        .headers()
        .map_err(|e| file_error(format!("The header row could not be read: {e}")))?
        .clone();
    if header.iter().all(str::is_empty) {
        return Err(file_error(format!(
            "The file is empty. Its first row names the columns. {COLUMNS_HELP}"
        )));
    }
    let mut columns = Vec::with_capacity(header.len());
    for cell in header.iter().map(str::trim) {
        let Some(col) = Column::named(cell) else {
            return Err(file_error(format!(
                "The header names an unknown column \"{cell}\". {COLUMNS_HELP}"
            )));
        };
        if columns.contains(&col) {
            return Err(file_error(format!(
                "The header names the column \"{cell}\" twice."
            )));
        }
        columns.push(col);
    }
    for (needed, name) in [
        (Column::Login, "login"),
        (Column::Email, "email"),
        (Column::DisplayName, "display name"),
    ] {
        if !columns.contains(&needed) {
            return Err(file_error(format!(
                "The header has no \"{name}\" column. {COLUMNS_HELP}"
            )));
        }
    }
    let mut out = Vec::new();
    let mut record = csv::StringRecord::new();
    while next_record(&mut rdr, &lines, &mut record, "file")? {
        if record.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        if out.len() == IMPORT_ROWS_MAX {
            return Err(file_error(format!(
                "Import at most {IMPORT_ROWS_MAX} users at a time; split the file."
            )));
        }
        let mut row = ImportInput {
            line: lines.line(record.position()),
            login: String::new(),
            email: String::new(),
            display_name: String::new(),
            role: String::new(),
            password: String::new(),
            groups: Vec::new(),
            problem: None,
        };
        if record.len() != columns.len() {
            // Its cells would land in the wrong columns (a password shown as a role): none is
            // kept, only the fault.
            let hint = if record.len() > columns.len() {
                " Put quotes around a value that contains a comma."
            } else {
                ""
            };
            row.problem = Some((
                "row".into(),
                format!(
                    "This row has {} cells; the header names {}.{hint}",
                    record.len(),
                    columns.len()
                ),
            ));
            out.push(row);
            continue;
        }
        for (col, cell) in columns.iter().zip(record.iter()) {
            // Passwords are taken as written; spaces around other cells are dropped.
            let cell = if *col == Column::Password {
                cell.to_string()
            } else {
                cell.trim().to_string()
            };
            match col {
                Column::Login => row.login = cell,
                Column::Email => row.email = cell,
                Column::DisplayName => row.display_name = cell,
                Column::Role => row.role = cell,
                Column::Password => row.password = cell,
                Column::Groups => {
                    row.groups = cell
                        .split(';')
                        .map(str::trim)
                        .filter(|g| !g.is_empty())
                        .map(String::from)
                        .collect()
                }
            }
        }
        out.push(row);
    }
    if out.is_empty() {
        return Err(file_error("The file has a header but no users below it."));
    }
    Ok(out)
}

/// Reads a bulk-add list: the first cell of each row (a login name or e-mail) with its line;
/// blank rows and a header row (`login`, `email`, …) are skipped; up to [`BULK_ROWS_MAX`] rows.
/// Errors name the `text` field.
pub fn bulk_entries(text: &str) -> Result<Vec<(u32, String)>, AppError> {
    let (mut rdr, lines) = reader(text, false);
    let mut out = Vec::new();
    let mut record = csv::StringRecord::new();
    while next_record(&mut rdr, &lines, &mut record, "text")? {
        // Logins and e-mails hold none of the separators: a list that mixes them still gives
        // the right first cell.
        let first = record
            .get(0)
            .unwrap_or("")
            .split([',', ';', '\t'])
            .next()
            .unwrap_or("")
            .trim();
        if first.is_empty() {
            continue;
        }
        if out.is_empty()
            && matches!(
                first.to_lowercase().as_str(),
                "login" | "email" | "e-mail" | "user" | "username"
            )
        {
            continue;
        }
        out.push((lines.line(record.position()), first.to_string()));
        if out.len() > BULK_ROWS_MAX {
            return Err(AppError::invalid(
                "text",
                format!("Add at most {BULK_ROWS_MAX} rows at a time; split the list."),
            ));
        }
    }
    if out.is_empty() {
        return Err(AppError::invalid(
            "text",
            "Paste or upload at least one login name or e-mail address.",
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn import_reads_quotes_commas_newlines_and_a_bom() {
        let text = "\u{feff}Login,E-mail,Display name,Role,Password,Groups\r\n\
                    ada,ada@x.org,\"Lovelace, Ada\",learner,,Physics; Maths\r\n\
                    \r\n\
                    bob,bob@x.org,\"Bob \"\"the\"\"\nBuilder\",admin,s3cret-pass,\r\n";
        let rows = import_rows(text).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].line, 2);
        assert_eq!(rows[0].display_name, "Lovelace, Ada");
        assert_eq!(rows[0].groups, vec!["Physics", "Maths"]);
        assert_eq!(rows[0].password, "");
        assert_eq!(rows[1].line, 4);
        assert_eq!(rows[1].display_name, "Bob \"the\"\nBuilder");
        assert_eq!(rows[1].role, "admin");
        assert_eq!(rows[1].password, "s3cret-pass");
        assert!(rows[1].groups.is_empty());
    }

    #[test]
    fn import_takes_semicolons_and_any_column_order() {
        let rows = import_rows("email;login;name\nc@x.org;carl;Carl\n").unwrap();
        assert_eq!(
            (
                rows[0].login.as_str(),
                rows[0].email.as_str(),
                rows[0].role.as_str()
            ),
            ("carl", "c@x.org", "")
        );
    }

    #[test]
    fn import_refuses_bad_headers_and_flags_bad_rows() {
        let field = |r: Result<Vec<ImportInput>, AppError>| r.unwrap_err().field_message("file");
        assert!(field(import_rows("")).unwrap().contains("empty"));
        assert!(field(import_rows("login,email\na,b\n"))
            .unwrap()
            .contains("display name"));
        assert!(field(import_rows("login,email,name,shoe\n"))
            .unwrap()
            .contains("\"shoe\""));
        assert!(field(import_rows("login,email,name,login\n"))
            .unwrap()
            .contains("twice"));
        assert!(field(import_rows("login,email,name\n\n"))
            .unwrap()
            .contains("no users"));
        let rows = import_rows(
            "login,email,name,role,password\na,a@x.org,Lovelace, Ada,,\nb,b@x.org,Bob,S3cret!!\nc,c@x.org,C,, pass word \n",
        )
        .unwrap();
        assert!(rows[0].problem.as_ref().unwrap().1.contains("Put quotes"));
        assert_eq!(rows[0].login, "", "a misshapen row keeps none of its cells");
        let (col, message) = rows[1].problem.as_ref().unwrap();
        assert_eq!((col.as_str(), rows[1].role.as_str()), ("row", ""));
        assert!(message.contains("4 cells; the header names 5"), "{message}");
        assert_eq!(rows[2].problem, None);
        assert_eq!(
            rows[2].password, " pass word ",
            "passwords are taken as written"
        );
        let big = format!(
            "login,email,name\n{}",
            "a,b,c\n".repeat(IMPORT_ROWS_MAX + 1)
        );
        assert!(field(import_rows(&big)).unwrap().contains("at most"));
        let most = format!("login,email,name\n{}", "a,b,c\n".repeat(IMPORT_ROWS_MAX));
        assert_eq!(import_rows(&most).unwrap().len(), IMPORT_ROWS_MAX);
    }

    /// Found by the csv fuzz target: with CR alone ending lines, every row was said to be on
    /// line 1.
    #[test]
    fn lines_ended_by_cr_alone_are_counted() {
        let rows = import_rows("login,email,name\rada,a@x.org,Ada\r\rbob,b@x.org,Bob\r").unwrap();
        let lines: Vec<u32> = rows.iter().map(|r| r.line).collect();
        assert_eq!(lines, vec![2, 4]);
        let mixed = bulk_entries("ada\r\nbob\rcarl\n\rdee").unwrap();
        let lines: Vec<u32> = mixed.iter().map(|(l, _)| *l).collect();
        assert_eq!(lines, vec![1, 2, 3, 5]);
    }

    #[test]
    fn bulk_lists_take_the_first_cell() {
        let rows =
            bulk_entries("\u{feff}login,name\nada,Ada\n\n\"bob@x.org\";Bob\n  carl  \n\"x,y\",z\n")
                .unwrap();
        assert_eq!(
            rows,
            vec![
                (2, "ada".to_string()),
                (4, "bob@x.org".to_string()),
                (5, "carl".to_string()),
                (6, "x".to_string()),
            ]
        );
        let semi = bulk_entries("\"bob@x.org\";Bob\nann;Ann\n").unwrap();
        assert_eq!(semi[0].1, "bob@x.org");
        assert!(bulk_entries("\n \n").is_err());
        let big = "u\n".repeat(BULK_ROWS_MAX + 1);
        assert!(bulk_entries(&big).is_err());
        assert_eq!(
            bulk_entries(&"u\n".repeat(BULK_ROWS_MAX)).unwrap().len(),
            BULK_ROWS_MAX
        );
    }
}
