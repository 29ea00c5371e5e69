//! Messages to a group and the learners' inbox: wire types, validation and the one rule for
//! showing a body (plain text, with web links made clickable and nothing else interpreted).

use super::AppError;
use serde::{Deserialize, Serialize};

pub const SUBJECT_MAX: usize = 200;
pub const BODY_MAX: usize = 20_000;

/// A message's subject: one line, 1 to `SUBJECT_MAX` characters.
pub fn validate_subject(raw: &str) -> Result<String, AppError> {
    super::text::line("subject", raw, SUBJECT_MAX, Some("a subject"))
}

/// A message's body: plain text over several lines (indentation kept), 1 to `BODY_MAX`
/// characters.
pub fn validate_body(raw: &str) -> Result<String, AppError> {
    let body = super::text::block("body", raw, BODY_MAX, true)?;
    if body.trim().is_empty() {
        return Err(AppError::invalid("body", "Write the message."));
    }
    Ok(body)
}

/// One message in a learner's inbox list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboxRow {
    pub id: u64,
    pub subject: String,
    pub sender: String,
    pub group: String,
    pub sent_at: u64,
    pub read: bool,
}

/// A message opened from the inbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageView {
    pub id: u64,
    pub subject: String,
    pub body: String,
    pub sender: String,
    pub group_id: u64,
    pub group: String,
    pub sent_at: u64,
    pub read: bool,
}

/// What became of a message's e-mails.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MailCounts {
    /// Waiting to be sent (or to be tried again).
    pub queued: u64,
    pub sent: u64,
    /// Given up after every attempt.
    pub failed: u64,
}

/// A message as the group page lists it (what was sent, by whom, to how many).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentRow {
    pub id: u64,
    pub subject: String,
    pub sender: String,
    pub sent_at: u64,
    /// Members when it was sent.
    pub recipients: u64,
    /// Inbox entries made so far.
    pub delivered: u64,
    /// Still being delivered (a large group, a step at a time).
    pub delivering: bool,
    /// E-mail, when the server mails messages.
    pub mail: Option<MailCounts>,
}

/// The answer to sending a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sent {
    pub id: u64,
    pub recipients: u64,
    pub delivered: u64,
    pub delivering: bool,
    /// Whether the members are also mailed.
    pub mailed: bool,
}

impl Sent {
    /// What the sender is told.
    pub fn summary(&self) -> String {
        let members = |n: u64| format!("{n} member{}", if n == 1 { "" } else { "s" });
        let mut s = if self.delivering {
            format!(
                "Sending to {}: {} delivered so far; the list below shows the rest as it goes.",
                members(self.recipients),
                self.delivered
            )
        } else {
            format!("Sent to {}.", members(self.delivered))
        };
        if self.mailed {
            s.push_str(" E-mails are on their way.");
        }
        s
    }
}

/// A piece of a message body: text, or a web link to show as one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Text(String),
    Link(String),
}

/// Splits a body into text and `http://` / `https://` links. A link ends at white space or
/// a character that cannot be in one; trailing punctuation (`.,;:!?'"`) and a closing bracket
/// without its opening one are left outside, as people write "see https://x.org/a.".
pub fn linkify(body: &str) -> Vec<Segment> {
    let mut out = Vec::new();
    let mut text_start = 0;
    let mut i = 0;
    let bytes = body.as_bytes();
    while i < body.len() {
        let rest = &body[i..];
        let at_word_start = i == 0 || !bytes[i - 1].is_ascii_alphanumeric();
        let scheme = if at_word_start && starts_with_ignore_case(rest, "https://") {
            8
        } else if at_word_start && starts_with_ignore_case(rest, "http://") {
            7
        } else {
            0
        };
        if scheme == 0 {
            i += rest.chars().next().map_or(1, char::len_utf8);
            continue;
        }
        let mut end = i + rest
            .char_indices()
            .find(|(_, c)| c.is_whitespace() || matches!(c, '<' | '>' | '"' | '`' | '{' | '}'))
            .map_or(rest.len(), |(n, _)| n);
        loop {
            let link = &body[i..end];
            let Some(last) = link.chars().last() else {
                break;
            };
            let unmatched_close = |open: char, close: char| {
                last == close && link.matches(open).count() < link.matches(close).count()
            };
            if matches!(last, '.' | ',' | ';' | ':' | '!' | '?' | '\'')
                || unmatched_close('(', ')')
                || unmatched_close('[', ']')
            {
                end -= last.len_utf8();
            } else {
                break;
            }
        }
        if end - i <= scheme {
            // "https://" alone is no link.
            i += scheme;
            continue;
        }
        if text_start < i {
            out.push(Segment::Text(body[text_start..i].to_string()));
        }
        out.push(Segment::Link(body[i..end].to_string()));
        text_start = end;
        i = end;
    }
    if text_start < body.len() {
        out.push(Segment::Text(body[text_start..].to_string()));
    }
    out
}

fn starts_with_ignore_case(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len() && s.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::Segment::{Link, Text};
    use super::*;

    #[test]
    fn links_are_found_and_nothing_else_is_interpreted() {
        assert_eq!(
            linkify("See https://example.org/a?b=1&c=2. Then <b>bold</b>"),
            vec![
                Text("See ".into()),
                Link("https://example.org/a?b=1&c=2".into()),
                Text(". Then <b>bold</b>".into()),
            ]
        );
        assert_eq!(
            linkify("(read http://x.org/wiki/A_(b)) now"),
            vec![
                Text("(read ".into()),
                Link("http://x.org/wiki/A_(b)".into()),
                Text(") now".into()),
            ]
        );
        assert_eq!(
            linkify("HTTPS://X.ORG\nnext line"),
            vec![Link("HTTPS://X.ORG".into()), Text("\nnext line".into())]
        );
        // Not links: other schemes, a scheme inside a word, a bare scheme.
        for plain in [
            "javascript://alert(1)",
            "xhttps://x.org",
            "https:// spaced",
            "ftp://x.org",
        ] {
            assert_eq!(linkify(plain), vec![Text(plain.into())], "{plain}");
        }
        assert_eq!(linkify(""), vec![]);
        assert_eq!(
            linkify("Grüße: https://bücher.example/ä"),
            vec![
                Text("Grüße: ".into()),
                Link("https://bücher.example/ä".into())
            ]
        );
    }

    #[test]
    fn subject_and_body_rules() {
        assert!(validate_subject("  ").unwrap_err().is_field_error());
        assert_eq!(validate_subject(" Hello ").unwrap(), "Hello");
        assert!(validate_subject(&"x".repeat(SUBJECT_MAX + 1)).is_err());
        assert!(validate_subject("two\nlines").is_err());
        assert!(validate_body(" \n ").is_err());
        assert!(validate_body(&"x".repeat(BODY_MAX + 1)).is_err());
        assert_eq!(validate_body("a\r\n  b\n").unwrap(), "a\n  b");
    }
}
