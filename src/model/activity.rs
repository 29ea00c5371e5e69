//! The Activity page: every audit event across groups, newest first, filtered by who did it,
//! the group, the kind and a date range, a page at a time.

use super::group::{parse_date, AuditAction};
use super::AppError;
use serde::{Deserialize, Serialize};

const DAY_MS: u64 = 86_400_000;
/// Typed text echoed back in an error is cut to this many characters.
const ECHO_MAX: usize = 60;

/// The filters and the place in the list as the page's URL carries them, unchecked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityQuery {
    /// Who did it: a login name or e-mail (blank: anyone).
    pub actor: String,
    /// A group's name (blank: any group).
    pub group: String,
    /// An [`AuditAction::key`] (blank: any kind).
    pub kind: String,
    /// The first day, `YYYY-MM-DD` (UTC), included.
    pub from: String,
    /// The last day, included.
    pub to: String,
    /// Events older than this place ([`Place::param`]): the "Older" link.
    pub before: String,
    /// Events at or newer than this place: the "Newer" link.
    pub after: String,
}

/// A point in the list's order: an event's time, then its id (ids are unique, so two events of
/// the same millisecond still have an order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Place {
    pub at: u64,
    pub event: u64,
}

impl Place {
    /// As a URL parameter: `at-event`.
    pub fn param(self) -> String {
        format!("{}-{}", self.at, self.event)
    }

    pub fn parse(raw: &str) -> Option<Place> {
        let (at, event) = raw.trim().split_once('-')?;
        Some(Place {
            at: at.parse().ok()?,
            event: event.parse().ok()?,
        })
    }

    /// The place just after this one: "at or after" it leaves this one out.
    pub fn next(self) -> Place {
        match self.event.checked_add(1) {
            Some(event) => Place { at: self.at, event },
            None => Place {
                at: self.at.saturating_add(1),
                event: 0,
            },
        }
    }
}

/// Which way a page goes from its place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Toward {
    /// The newest events (`None`), or those older than the place.
    Older(Option<Place>),
    /// The oldest events at or newer than the place (the page before, going back).
    Newer(Place),
}

/// An [`ActivityQuery`] with its dates, kind and place read; actor and group are still names
/// (the store looks them up).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedActivity {
    pub actor: Option<String>,
    pub group: Option<String>,
    pub kind: Option<AuditAction>,
    /// Start of the first day (ms), included.
    pub from: Option<u64>,
    /// Start of the day after the last (ms), left out.
    pub until: Option<u64>,
    pub toward: Toward,
}

impl ActivityQuery {
    /// Reads the dates, the kind and the place. Every field at fault is named (an `Invalid`
    /// error each), so the form can show them all at once. A place that does not read (an
    /// edited URL) is the first page.
    pub fn parse(&self) -> Result<ParsedActivity, Vec<AppError>> {
        let mut problems = Vec::new();
        let kind = match self.kind.trim() {
            "" => None,
            k => AuditAction::from_key(k).or_else(|| {
                problems.push(AppError::invalid("kind", "Choose one of the listed kinds."));
                None
            }),
        };
        let mut day = |field: &str, raw: &str| {
            parse_date(field, raw).unwrap_or_else(|e| {
                problems.push(e);
                None
            })
        };
        let from = day("from", &self.from);
        let to = day("to", &self.to);
        if let (Some(f), Some(t)) = (from, to) {
            if t < f {
                problems.push(AppError::invalid(
                    "to",
                    "“To” is before “From”: choose a later day or clear one of them.",
                ));
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        let toward = match (Place::parse(&self.after), Place::parse(&self.before)) {
            (Some(p), _) => Toward::Newer(p),
            (None, p) => Toward::Older(p),
        };
        let name = |raw: &str| Some(raw.trim().to_string()).filter(|s| !s.is_empty());
        Ok(ParsedActivity {
            actor: name(&self.actor),
            group: name(&self.group),
            kind,
            from,
            until: to.map(|t| t + DAY_MS),
            toward,
        })
    }

    /// The filters that are set, as URL parameters (the place left out): for the page links
    /// and the CSV link.
    pub fn filters(&self) -> Vec<(&'static str, String)> {
        [
            ("actor", &self.actor),
            ("group", &self.group),
            ("kind", &self.kind),
            ("from", &self.from),
            ("to", &self.to),
        ]
        .into_iter()
        .filter(|(_, v)| !v.trim().is_empty())
        .map(|(k, v)| (k, v.trim().to_string()))
        .collect()
    }

    /// The query with only its filters, from a URL's query string parameters.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> ActivityQuery {
        let mut q = ActivityQuery::default();
        for (k, v) in pairs {
            let slot = match k {
                "actor" => &mut q.actor,
                "group" => &mut q.group,
                "kind" => &mut q.kind,
                "from" => &mut q.from,
                "to" => &mut q.to,
                "before" => &mut q.before,
                "after" => &mut q.after,
                _ => continue,
            };
            *slot = v.to_string();
        }
        q
    }
}

/// What a filter naming nobody says.
pub fn unknown_actor(raw: &str) -> AppError {
    AppError::invalid(
        "actor",
        format!(
            "No user has the login name or e-mail “{}”.",
            echo(raw.trim())
        ),
    )
}

/// What a filter naming no group says.
pub fn unknown_group(raw: &str) -> AppError {
    AppError::invalid(
        "group",
        format!(
            "No group is named “{}” (a deleted group's events are found by kind or date).",
            echo(raw.trim())
        ),
    )
}

fn echo(raw: &str) -> String {
    let mut s: String = raw
        .chars()
        .filter(|c| !c.is_control())
        .take(ECHO_MAX)
        .collect();
    if raw.chars().count() > ECHO_MAX {
        s.push('…');
    }
    s
}

/// One event as the Activity page lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityRow {
    /// The event's id.
    pub id: u64,
    pub at: u64,
    /// The login of who did it ("system" for Tessera itself or a visitor without an account).
    pub actor: String,
    pub group_id: u64,
    /// The group's name; `None` once the group is deleted.
    pub group: Option<String>,
    pub action: AuditAction,
    pub detail: String,
}

/// A page of the Activity list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityList {
    /// Newest first.
    pub rows: Vec<ActivityRow>,
    /// Where the "Newer" link goes (`after=`), when there may be newer events.
    pub newer: Option<Place>,
    /// Where the "Older" link goes (`before=`), when there are older events to look at.
    pub older: Option<Place>,
    /// Set when the page stopped looking before it was full (a rare combination of filters
    /// over many events): the time of the last event it looked at. The links go on from there.
    pub searched_to: Option<u64>,
    /// The filters at fault (`Invalid` errors naming their fields); no rows then.
    pub problems: Vec<AppError>,
}

impl ActivityList {
    /// The message for filter field `field`, if it is at fault.
    pub fn problem(&self, field: &str) -> Option<String> {
        self.problems.iter().find_map(|e| e.field_message(field))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(from: &str, to: &str, kind: &str) -> ActivityQuery {
        ActivityQuery {
            from: from.into(),
            to: to.into(),
            kind: kind.into(),
            ..Default::default()
        }
    }

    #[test]
    fn dates_kinds_and_places_are_read() {
        let p = q("2026-01-02", "2026-01-02", "key_refused")
            .parse()
            .unwrap();
        assert_eq!(p.from, Some(1_767_312_000_000));
        assert_eq!(
            p.until,
            Some(1_767_312_000_000 + DAY_MS),
            "the last day whole"
        );
        assert_eq!(p.kind, Some(AuditAction::KeyRefused));
        assert_eq!(p.toward, Toward::Older(None));
        let all = q("", "", "").parse().unwrap();
        assert_eq!((all.from, all.until, all.kind), (None, None, None));

        let bad = q("2026-02-30", "2026-01-01", "nonsense")
            .parse()
            .unwrap_err();
        let fields: Vec<_> = bad.iter().filter_map(|e| e.field()).collect();
        assert_eq!(fields, vec!["kind", "from"]);
        let reversed = q("2026-01-02", "2026-01-01", "").parse().unwrap_err();
        assert_eq!(reversed.len(), 1);
        assert!(reversed[0].field_message("to").unwrap().contains("before"));

        let place = Place { at: 5, event: 7 };
        assert_eq!(Place::parse(&place.param()), Some(place));
        for junk in ["", "5", "-", "a-b", "5-", "1-2-3", "99999999999999999999-1"] {
            assert_eq!(Place::parse(junk), None, "{junk}");
        }
        let mut newer = q("", "", "");
        newer.after = "5-7".into();
        newer.before = "9-9".into();
        assert_eq!(newer.parse().unwrap().toward, Toward::Newer(place));
        newer.after = "x".into();
        assert_eq!(
            newer.parse().unwrap().toward,
            Toward::Older(Some(Place { at: 9, event: 9 }))
        );
        assert_eq!(
            Place {
                at: 1,
                event: u64::MAX
            }
            .next(),
            Place { at: 2, event: 0 }
        );
    }

    #[test]
    fn filters_round_trip_through_the_url() {
        let q = ActivityQuery::from_pairs([
            ("actor", " ada "),
            ("kind", "key_redeemed"),
            ("to", "2026-01-01"),
            ("before", "1-2"),
            ("page", "3"),
        ]);
        assert_eq!(q.before, "1-2");
        assert_eq!(
            q.filters(),
            vec![
                ("actor", "ada".to_string()),
                ("kind", "key_redeemed".to_string()),
                ("to", "2026-01-01".to_string())
            ]
        );
        for a in AuditAction::ALL {
            assert_eq!(AuditAction::from_key(a.key()), Some(a));
        }
        let long = "x".repeat(500);
        let msg = unknown_actor(&long).field_message("actor").unwrap();
        assert!(msg.chars().count() < 120, "{msg}");
    }
}
