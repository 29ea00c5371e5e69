//! The one normaliser for text that people type and others read: names, titles, descriptions,
//! lesson text. Every such field goes through [`line`] (one line) or [`block`] (several lines).
//!
//! Both put the text in Unicode NFC (so "é" typed two ways is one name), trim it, count its
//! length in characters, and refuse control characters and the invisible characters that
//! reorder how text is shown (bidi overrides and isolates, U+202A–U+202E and U+2066–U+2069:
//! "Trojan Source"-style names that read differently from what they are). A line also refuses
//! the other invisible characters ([`is_invisible`]): two names that look alike are alike. A
//! block keeps line breaks (CRLF, CR and the Unicode line/paragraph separators become LF) and
//! tabs, drops byte-order marks, and refuses every other control character.

use super::AppError;
use unicode_normalization::UnicodeNormalization;

/// The characters that override or isolate text direction.
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Characters that show nothing (or a blank) and so let two names that look the same differ:
/// zero-width space, direction marks, word joiner and invisible operators, the byte-order mark,
/// soft hyphen, Hangul fillers, line and paragraph separators. Zero-width (non-)joiners are
/// not here: scripts and emoji need them.
pub fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{061C}'
            | '\u{115F}'
            | '\u{1160}'
            | '\u{17B4}'
            | '\u{17B5}'
            | '\u{180E}'
            | '\u{200B}'
            | '\u{200E}'
            | '\u{200F}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{2060}'..='\u{2064}'
            | '\u{206A}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FEFF}'
            | '\u{FFA0}'
    )
}

const BIDI_MESSAGE: &str =
    "Remove the invisible text-direction characters (U+202A–U+202E, U+2066–U+2069).";

fn too_long(field: &str, max: usize, n: usize) -> AppError {
    AppError::invalid(
        field,
        format!("Use at most {max} characters (this has {n})."),
    )
}

/// One line of text for `field`: NFC, trimmed, at most `max` characters; `what` names it in
/// the message when it is blank and `required` (e.g. "a group name"). No control characters,
/// line breaks included, and no bidi controls.
pub fn line(
    field: &str,
    raw: &str,
    max: usize,
    required: Option<&str>,
) -> Result<String, AppError> {
    let text: String = raw.trim().nfc().collect();
    if text.is_empty() {
        return match required {
            Some(what) => Err(AppError::invalid(field, format!("Enter {what}."))),
            None => Ok(text),
        };
    }
    let n = text.chars().count();
    if n > max {
        return Err(too_long(field, max, n));
    }
    if text.chars().any(char::is_control) {
        return Err(AppError::invalid(
            field,
            "Remove line breaks, tabs and other control characters.",
        ));
    }
    if text.chars().any(is_bidi_control) {
        return Err(AppError::invalid(field, BIDI_MESSAGE));
    }
    if text.chars().any(is_invisible) {
        return Err(AppError::invalid(
            field,
            "Remove invisible characters (zero-width spaces, direction marks and the like).",
        ));
    }
    Ok(text)
}

/// Several lines of text for `field`: NFC, line ends made `\n`, trailing space of the whole
/// trimmed (and leading space too unless `keep_indent`), at most `max` characters. Line breaks
/// and tabs are kept; other control characters and bidi controls are refused.
pub fn block(field: &str, raw: &str, max: usize, keep_indent: bool) -> Result<String, AppError> {
    let unified = raw
        .replace("\r\n", "\n")
        .replace(['\r', '\u{2028}', '\u{2029}'], "\n")
        .replace('\u{FEFF}', "");
    let trimmed = if keep_indent {
        unified.trim_end().trim_start_matches('\n')
    } else {
        unified.trim()
    };
    let text: String = trimmed.nfc().collect();
    let n = text.chars().count();
    if n > max {
        return Err(too_long(field, max, n));
    }
    if text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\t'))
    {
        return Err(AppError::invalid(
            field,
            "Remove control characters (only line breaks and tabs may be used).",
        ));
    }
    if text.chars().any(is_bidi_control) {
        return Err(AppError::invalid(field, BIDI_MESSAGE));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_nfc_trimmed_and_clean() {
        // "é" as e + combining acute becomes the one precomposed character.
        assert_eq!(
            line("name", "  Cafe\u{301} ", 10, None).unwrap(),
            "Caf\u{e9}"
        );
        assert_eq!(
            line("name", "Caf\u{e9}", 4, None).unwrap(),
            line("name", "Cafe\u{301}", 4, None).unwrap(),
            "length counts characters after NFC"
        );
        assert_eq!(line("name", "   ", 10, None).unwrap(), "");
        let e = line("name", "  ", 10, Some("a name")).unwrap_err();
        assert_eq!(e.field_message("name").as_deref(), Some("Enter a name."));
        for bad in [
            "a\u{0}b",
            "a\nb",
            "a\tb",
            "a\u{7f}b",
            "a\u{1b}[31mb",
            "a\u{85}b",
        ] {
            let e = line("name", bad, 50, None).unwrap_err();
            assert!(
                e.field_message("name").unwrap().contains("control"),
                "{bad:?}"
            );
        }
        for bad in [
            "admin\u{202E}txt.exe",
            "a\u{2066}b",
            "\u{202A}x",
            "x\u{2069}",
        ] {
            let e = line("name", bad, 50, None).unwrap_err();
            assert!(
                e.field_message("name").unwrap().contains("text-direction"),
                "{bad:?}"
            );
        }
        let e = line("title", "abcdef", 5, None).unwrap_err();
        assert_eq!(
            e.field_message("title").as_deref(),
            Some("Use at most 5 characters (this has 6).")
        );
        for bad in [
            "ad\u{200B}min",
            "admin\u{FEFF}",
            "a\u{2028}b",
            "a\u{200F}b",
            "a\u{AD}b",
        ] {
            let e = line("name", bad, 50, None).unwrap_err();
            assert!(
                e.field_message("name").unwrap().contains("invisible"),
                "{bad:?}"
            );
        }
        // Joiners stay: emoji and scripts need them.
        assert!(line("name", "👩\u{200D}🏫 Teachers", 50, None).is_ok());
        // Right-to-left scripts themselves are fine.
        assert!(line("name", "שלום עולם", 50, None).is_ok());
        assert!(line("name", "مرحبا", 50, None).is_ok());
    }

    #[test]
    fn blocks_keep_lines_and_tabs_only() {
        assert_eq!(
            block("text", "\r\n  one\r\n\ttwo\rthree  \n\n", 100, true).unwrap(),
            "  one\n\ttwo\nthree"
        );
        assert_eq!(
            block("text", "  one\n two  ", 100, false).unwrap(),
            "one\n two"
        );
        assert_eq!(
            block("text", "\u{FEFF}one\u{2028}two", 100, false).unwrap(),
            "one\ntwo"
        );
        for bad in ["a\u{0}b", "a\u{7}b", "a\u{1b}b", "a\u{202E}b"] {
            assert!(block("text", bad, 100, false).is_err(), "{bad:?}");
        }
        assert!(block("text", &"x".repeat(101), 100, false).is_err());
        assert_eq!(block("text", "", 100, false).unwrap(), "");
    }
}
