//! Users as the browser sees them (never with a password hash), and the rules for their fields.

use super::AppError;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Learner,
}

impl Role {
    pub fn label(self) -> &'static str {
        match self {
            Role::Admin => "Administrator",
            Role::Learner => "Learner",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Learner => "learner",
        }
    }
}

/// A user as shown to administrators (and to the user themself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserView {
    pub id: u64,
    pub login: String,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub active: bool,
    /// Milliseconds since the Unix epoch.
    pub created_at: u64,
}

/// One page of the users table (the total is capped at `TOTAL_CAP` for searches).
pub type UserPage = super::Paged<UserView>;

/// The caller's own identity, as the pages need it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Me {
    pub id: u64,
    pub login: String,
    pub display_name: String,
    pub role: Role,
    /// Whether they manage at least one group (and so see "Groups").
    pub manages_groups: bool,
    /// Why the server cannot save anything right now (its disk is full, ...), for the banner
    /// on every page; `None` when saving works.
    #[serde(default)]
    pub saving_paused: Option<String>,
}

impl Me {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// What the top bar calls them: an administrator stays "Administrator" whatever groups
    /// they manage; anyone else in charge of at least one group is a "Group manager".
    pub fn role_label(&self) -> &'static str {
        if !self.is_admin() && self.manages_groups {
            "Group manager"
        } else {
            self.role.label()
        }
    }
}

pub const PER_PAGE: u32 = 20;
pub const LOGIN_MAX: usize = 64;
pub const EMAIL_MAX: usize = 254;
pub const NAME_MAX: usize = 100;
pub const PASSWORD_MIN: usize = 8;
pub const PASSWORD_MAX: usize = 128;

/// A login name: 1–64 characters of ASCII letters, digits, `.`, `_`, `-`; trimmed; case is kept
/// for display but uniqueness ignores it. ASCII only, so no login can pass for another with a
/// look-alike letter from another script (Cyrillic "а" in "аdmin"). It goes through the text
/// normaliser's rule for identifiers first, so an invisible character gets its own message.
pub fn validate_login(raw: &str) -> Result<String, AppError> {
    let login = super::text::identifier("login", raw, LOGIN_MAX, "a login name")?;
    if !login
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        return Err(AppError::invalid(
            "login",
            "Use only letters a–z, digits, dots, underscores and hyphens (no spaces, accents or @).",
        ));
    }
    Ok(login)
}

/// Signs an address's local part may hold besides letters, digits and dots (RFC 5322 `atext`).
const LOCAL_SIGNS: &[u8] = b"!#$%&'*+-/=?^_`{|}~.";

/// An e-mail address: the text normaliser's rule for identifiers (nothing invisible, no
/// text-direction or tag character, no space), then plain ASCII: a local part of letters,
/// digits and the signs of RFC 5322, one `@`, and a domain of dot-separated labels of letters,
/// digits and hyphens.
///
/// ASCII only, deliberately: an address tells accounts apart and is where set-up mail goes,
/// so an address with a look-alike letter from another script ("аlice" with a Cyrillic "а")
/// must not become a second account that reads the same, and a mail server without SMTPUTF8
/// could not deliver to a non-ASCII one. An international domain name is written in its
/// `xn--` form; addresses with a non-ASCII local part (rare, and their owners nearly always
/// have an ASCII one too) are refused with a message that says so.
pub fn validate_email(raw: &str) -> Result<String, AppError> {
    let email = super::text::identifier("email", raw, EMAIL_MAX, "an e-mail address")?;
    if !email.is_ascii() {
        return Err(AppError::invalid(
            "email",
            "Use an address in plain letters a–z, digits and signs (write an international \
             domain name in its xn-- form).",
        ));
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    let valid = match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && local
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || LOCAL_SIGNS.contains(&b))
                && domain.contains('.')
                && domain.split('.').all(label_ok)
        }
        None => false,
    };
    if !valid {
        return Err(AppError::invalid(
            "email",
            "Enter an e-mail address like name@example.org.",
        ));
    }
    Ok(email)
}

/// A display name: one line (the text normaliser's rules), 1–100 characters.
pub fn validate_display_name(raw: &str) -> Result<String, AppError> {
    super::text::line("display_name", raw, NAME_MAX, Some("a display name"))
}

/// A new password typed twice: 8–128 characters, both the same. `field` names the first input.
pub fn validate_new_password(password: &str, confirm: &str, field: &str) -> Result<(), AppError> {
    let len = password.chars().count();
    if len < PASSWORD_MIN {
        return Err(AppError::invalid(
            field,
            format!("Use at least {PASSWORD_MIN} characters."),
        ));
    }
    if len > PASSWORD_MAX {
        return Err(AppError::invalid(
            field,
            format!("Use at most {PASSWORD_MAX} characters."),
        ));
    }
    if password != confirm {
        return Err(AppError::invalid(
            &format!("{field}_confirm"),
            "The two passwords are not the same.",
        ));
    }
    Ok(())
}

/// Parses the role a form sends.
pub fn parse_role(raw: &str) -> Result<Role, AppError> {
    match raw.trim() {
        "admin" => Ok(Role::Admin),
        "learner" => Ok(Role::Learner),
        _ => Err(AppError::invalid("role", "Choose a role.")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_rules() {
        assert_eq!(validate_login("  Ada.L_1-x ").unwrap(), "Ada.L_1-x");
        assert!(validate_login("")
            .unwrap_err()
            .field_message("login")
            .is_some());
        assert!(validate_login("has space").is_err());
        assert!(validate_login("a@b").is_err());
        assert!(validate_login(&"x".repeat(65)).is_err());
        assert!(validate_login(&"x".repeat(64)).is_ok());
        for (bad, says) in [
            ("alice\u{200B}", "invisible"),
            ("\u{FEFF}alice", "invisible"),
            ("ali\u{202E}ce", "text-direction"),
            ("alice\u{E0041}", "tag"),
            ("\u{430}lice", "letters a–z"),
        ] {
            let e = validate_login(bad).unwrap_err();
            let message = e.field_message("login").unwrap();
            assert!(message.contains(says), "{bad:?}: {message}");
        }
    }

    #[test]
    fn email_rules() {
        assert_eq!(validate_email(" a@b.org ").unwrap(), "a@b.org");
        for bad in [
            "",
            "a",
            "a@",
            "@b.org",
            "a@b",
            "a@@b.org",
            "a b@c.org",
            "a@.org",
            "a@b.",
            "a@[127.0.0.1]",
            "a<b>@c.org",
            "a@b_c.org",
            "a@-b.org",
        ] {
            assert!(validate_email(bad).is_err(), "{bad} should be refused");
        }
        assert!(validate_email("o'brien+tag@mail.example.co.uk").is_ok());
        assert!(validate_email("x@xn--bcher-kva.example").is_ok());
        // The look-alikes of the security review, each with the message for its kind.
        for (bad, says) in [
            ("alice\u{200B}@example.org", "invisible"),
            ("alice@example.org\u{200B}", "invisible"),
            ("alice\u{FEFF}@example.org", "invisible"),
            ("alice\u{180E}@example.org", "invisible"),
            ("alice\u{3164}@example.org", "invisible"),
            ("alice\u{202E}@example.org", "text-direction"),
            ("alice\u{2066}@example.org", "text-direction"),
            ("alice\u{E0041}@example.org", "tag"),
            ("\u{430}lice@example.org", "plain letters"),
            ("alice@bücher.example", "xn--"),
        ] {
            let e = validate_email(bad).unwrap_err();
            let message = e.field_message("email").unwrap();
            assert!(message.contains(says), "{bad:?}: {message}");
        }
        // NFC folds the Kelvin sign into the letter it looks like.
        assert_eq!(
            validate_email("\u{212A}@example.org").unwrap(),
            "K@example.org"
        );
    }

    #[test]
    fn password_rules() {
        assert!(validate_new_password("short", "short", "password").is_err());
        assert!(validate_new_password("long enough", "long enough", "password").is_ok());
        let err = validate_new_password("long enough", "different!", "password").unwrap_err();
        assert!(err.field_message("password_confirm").is_some());
        assert!(validate_new_password(&"p".repeat(129), &"p".repeat(129), "password").is_err());
    }

    #[test]
    fn display_name_and_role() {
        assert_eq!(validate_display_name("  Ada  ").unwrap(), "Ada");
        assert!(validate_display_name(" ").is_err());
        for blank in ["\u{301}\u{301}", "\u{3164}", "\u{E0041}", "Ada\u{E0041}"] {
            assert!(validate_display_name(blank).is_err(), "{blank:?}");
        }
        assert_eq!(parse_role("admin").unwrap(), Role::Admin);
        assert!(parse_role("root").is_err());
    }
}
