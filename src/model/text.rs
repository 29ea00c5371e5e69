//! The one normaliser for text that people type and others read: names, titles, descriptions,
//! lesson text. Every such field goes through [`line`] (one line) or [`block`] (several lines).
//!
//! Both put the text in Unicode NFC (so "é" typed two ways is one name), trim it, count its
//! length in characters, and refuse control characters and the invisible characters that
//! reorder how text is shown (bidi overrides and isolates, U+202A–U+202E and U+2066–U+2069:
//! "Trojan Source"-style names that read differently from what they are). A line also refuses
//! the other invisible characters ([`is_invisible`]): two names that look alike are alike. A
//! block keeps line breaks (CRLF, CR and the Unicode line/paragraph separators become LF) and
//! tabs, drops byte-order marks, and refuses every other control character. Both refuse tag
//! characters (U+E0000–U+E007F: invisible, they can spell hidden text; the price is the few
//! emoji flags of regions that are built from them). A line must also show something: one made
//! only of spaces, combining marks, fillers and other invisible characters is refused.
//!
//! [`identifier`] is the stricter rule for what identifies an account (e-mail addresses):
//! no invisible, format, tag or text-direction character anywhere, no space inside.

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

/// Tag characters (U+E0000–U+E007F): invisible copies of ASCII, once meant for language tags.
pub fn is_tag(c: char) -> bool {
    matches!(c, '\u{E0000}'..='\u{E007F}')
}

/// Unicode's Default_Ignorable_Code_Point: characters a renderer shows as nothing unless it
/// supports them (Unicode 15, DerivedCoreProperties.txt). Includes the Hangul fillers,
/// variation selectors, joiners, direction marks and the tag characters.
pub fn is_default_ignorable(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{061C}'
            | '\u{115F}'
            | '\u{1160}'
            | '\u{17B4}'
            | '\u{17B5}'
            | '\u{180B}'..='\u{180F}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF0}'..='\u{FFF8}'
            | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0000}'..='\u{E0FFF}'
    )
}

/// Format characters (general category Cf) that are not default-ignorable: they change how
/// neighbouring text is shown (Arabic number signs, the interlinear annotation marks,
/// Egyptian hieroglyph and musical format controls) and have no place in an address.
fn is_other_format(c: char) -> bool {
    matches!(
        c,
        '\u{0600}'..='\u{0605}'
            | '\u{06DD}'
            | '\u{070F}'
            | '\u{0890}'
            | '\u{0891}'
            | '\u{08E2}'
            | '\u{110BD}'
            | '\u{110CD}'
            | '\u{13430}'..='\u{1343F}'
            | '\u{FFF9}'..='\u{FFFB}'
    )
}

/// Whether `c` draws something: not a space, not a combining mark (which draws only on the
/// character before it), not invisible, not a filler or a blank Braille cell (U+2800, drawn as
/// an empty space).
pub fn is_visible(c: char) -> bool {
    !(c.is_whitespace()
        || c.is_control()
        || unicode_normalization::char::is_combining_mark(c)
        || is_default_ignorable(c)
        || is_other_format(c)
        || is_invisible(c)
        || c == '\u{2800}')
}

const TAG_MESSAGE: &str = "Remove the invisible tag characters (U+E0000–U+E007F).";

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
    refuse_long_or_hidden_controls(field, &text, max)?;
    if text.chars().any(is_invisible) {
        return Err(AppError::invalid(
            field,
            "Remove invisible characters (zero-width spaces, direction marks and the like).",
        ));
    }
    if !text.chars().any(is_visible) {
        return Err(AppError::invalid(
            field,
            "Use at least one visible letter, digit or sign (not only spaces, accents or \
             invisible characters).",
        ));
    }
    Ok(text)
}

/// The refusals one-line names and identifiers share: longer than `max` characters, control
/// characters, text-direction controls and tag characters, each with its own message.
fn refuse_long_or_hidden_controls(field: &str, text: &str, max: usize) -> Result<(), AppError> {
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
    if text.chars().any(is_tag) {
        return Err(AppError::invalid(field, TAG_MESSAGE));
    }
    Ok(())
}

/// What identifies an account and is compared as typed (an e-mail address): NFC, trimmed, at
/// most `max` characters; `what` names it when it is blank. Refused anywhere in it, each with
/// its own message: control characters, text-direction controls, tag characters, the other
/// invisible and format characters (zero-width spaces, byte-order marks, fillers, variation
/// selectors, joiners), and spaces inside. Two identifiers that pass and look the same are the
/// same string.
pub fn identifier(field: &str, raw: &str, max: usize, what: &str) -> Result<String, AppError> {
    let text: String = raw.trim().nfc().collect();
    if text.is_empty() {
        return Err(AppError::invalid(field, format!("Enter {what}.")));
    }
    refuse_long_or_hidden_controls(field, &text, max)?;
    if text
        .chars()
        .any(|c| is_default_ignorable(c) || is_invisible(c) || is_other_format(c))
    {
        return Err(AppError::invalid(
            field,
            "Remove invisible characters (zero-width spaces, byte-order marks, fillers and the \
             like).",
        ));
    }
    if text.chars().any(char::is_whitespace) {
        return Err(AppError::invalid(field, "Remove the spaces."));
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
    if text.chars().any(is_tag) {
        return Err(AppError::invalid(field, TAG_MESSAGE));
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
    fn lines_show_something_and_hold_no_tags() {
        for blank in [
            "\u{301}",
            "\u{301}\u{302}\u{303}",
            " \u{20DD} ",
            "\u{3164}",
            "\u{115F}\u{1160}",
            "\u{FFA0}",
            "\u{2800}",
            "\u{FE0F}",
            "\u{200D}",
            "\u{180B}",
            "\u{3000}\u{301}",
        ] {
            let e = line("name", blank, 50, Some("a name")).unwrap_err();
            assert!(
                e.field_message("name").unwrap().contains("visible"),
                "{blank:?}: {e:?}"
            );
            // An optional name may be left empty, not filled with nothing to see.
            assert!(line("name", blank, 50, None).is_err(), "{blank:?}");
        }
        for tagged in ["Ada\u{E0041}", "\u{E0001}x", "a\u{E007F}b"] {
            let e = line("name", tagged, 50, None).unwrap_err();
            assert!(
                e.field_message("name").unwrap().contains("tag"),
                "{tagged:?}"
            );
            let e = block("text", tagged, 50, false).unwrap_err();
            assert!(
                e.field_message("text").unwrap().contains("tag"),
                "{tagged:?}"
            );
        }
        // Marks on letters, emoji with variation selectors and scripts with joiners stay.
        for fine in ["Zoë", "e\u{301}", "❤\u{FE0F}", "क्‍ष", "한글", "ᄀ"] {
            assert!(line("name", fine, 50, None).is_ok(), "{fine:?}");
        }
    }

    #[test]
    fn identifiers_refuse_everything_invisible() {
        assert_eq!(
            identifier("email", " alice@example.org ", 254, "an e-mail address").unwrap(),
            "alice@example.org"
        );
        let e = identifier("email", "  ", 254, "an e-mail address").unwrap_err();
        assert_eq!(
            e.field_message("email").as_deref(),
            Some("Enter an e-mail address.")
        );
        for (bad, says) in [
            ("alice\u{200B}@example.org", "invisible"),
            ("alice@example.org\u{200B}", "invisible"),
            ("\u{FEFF}alice@example.org", "invisible"),
            ("alice\u{180E}@example.org", "invisible"),
            ("alice\u{3164}@example.org", "invisible"),
            ("alice\u{FE0F}@example.org", "invisible"),
            ("alice\u{2060}@example.org", "invisible"),
            ("alice\u{AD}@example.org", "invisible"),
            ("alice\u{600}@example.org", "invisible"),
            ("alice\u{200D}@example.org", "invisible"),
            ("alice\u{202E}gro.elpmaxe@x.org", "text-direction"),
            ("alice\u{2066}@example.org", "text-direction"),
            ("alice\u{E0041}@example.org", "tag"),
            ("alice\u{E007F}@example.org", "tag"),
            ("alice@exa\nmple.org", "control"),
            ("alice@exa\u{85}mple.org", "control"),
            ("al ice@example.org", "spaces"),
            ("alice@example\u{A0}.org", "spaces"),
            ("alice@example\u{3000}.org", "spaces"),
        ] {
            let e = identifier("email", bad, 254, "an e-mail address").unwrap_err();
            let message = e.field_message("email").unwrap();
            assert!(message.contains(says), "{bad:?}: {message}");
        }
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

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    /// Characters from every class the rules treat apart, so short strings hit each rule.
    fn any_char() -> impl Strategy<Value = char> {
        prop_oneof![
            4 => proptest::char::range('a', 'z'),
            1 => Just(' '),
            1 => Just('@'),
            1 => Just('.'),
            1 => proptest::sample::select(vec![
                '\u{301}', '\u{20DD}', '\u{200B}', '\u{200D}', '\u{FEFF}', '\u{3164}',
                '\u{115F}', '\u{FFA0}', '\u{180E}', '\u{FE0F}', '\u{2800}', '\u{202E}',
                '\u{2066}', '\u{E0041}', '\u{E007F}', '\u{600}', '\u{A0}', '\u{3000}',
                '\n', '\u{85}', 'é', '한',
            ]),
            1 => any::<char>(),
        ]
    }

    proptest! {
        /// A name the normaliser accepts shows something, holds no tag or invisible
        /// character, and comes back unchanged when sent again (edit forms send it back).
        #[test]
        fn accepted_lines_are_visible_and_stable(chars in proptest::collection::vec(any_char(), 0..12)) {
            let raw: String = chars.into_iter().collect();
            if let Ok(t) = line("name", &raw, 100, None) {
                prop_assert!(t.is_empty() || t.chars().any(is_visible), "{:?}", t);
                prop_assert!(!t.chars().any(|c| is_tag(c) || is_invisible(c) || is_bidi_control(c)));
                prop_assert_eq!(line("name", &t, 100, None), Ok(t.clone()));
            }
            if let Ok(t) = block("text", &raw, 100, false) {
                prop_assert!(!t.chars().any(is_tag));
            }
        }

        /// An accepted identifier holds nothing invisible, no space and no format character,
        /// and is stable; a refusal always says what to fix.
        #[test]
        fn accepted_identifiers_hold_nothing_invisible(chars in proptest::collection::vec(any_char(), 0..12)) {
            let raw: String = chars.into_iter().collect();
            match identifier("email", &raw, 100, "an address") {
                Ok(t) => {
                    prop_assert!(!t.is_empty());
                    prop_assert!(t.chars().all(|c| !c.is_whitespace()
                        && !c.is_control()
                        && !is_default_ignorable(c)
                        && !is_other_format(c)
                        && !is_invisible(c)), "{:?}", t);
                    prop_assert_eq!(identifier("email", &t, 100, "an address"), Ok(t.clone()));
                }
                Err(e) => prop_assert!(e.field_message("email").is_some_and(|m| !m.is_empty())),
            }
        }
    }
}
