//! `reprise export --user U --to DIR`: one user's own calendars and address
//! books as plain files any client imports, e.g. from a clone or a
//! point-in-time rebuild, to give back what a user lost:
//! `DIR/calendars/NAME.ics` (one VCALENDAR per calendar: VERSION, PRODID,
//! each VTIMEZONE once by TZID, then every component of every object) and
//! `DIR/contacts/NAME.vcf` (the vCards one after another). Shares and the
//! directory's global address book are not the user's own and stay out.
//! `reprise import` reads these files back into the same objects.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use projections::registry::{self, Views};
use projections::{BuildState, ProjectionId, StoreError, ViewStore};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// PRODID of exported calendars whose objects do not agree on their own.
pub const PRODID: &str = "-//reprise//export//EN";

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("no user {0}")]
    UnknownUser(String),
    #[error(
        "the {view} view of {} is not built; run `reprise rebuild` (or `serve` until ready) first",
        dir.display()
    )]
    NotBuilt { view: &'static str, dir: PathBuf },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One exported file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ExportFile {
    /// The collection's name.
    pub collection: String,
    /// The file's name in its folder.
    pub file: String,
    pub objects: usize,
    pub text: String,
}

/// Everything exported for one user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Export {
    pub principal: String,
    pub calendars: Vec<ExportFile>,
    pub contacts: Vec<ExportFile>,
}

/// Reads a user's own collections from the views.
pub fn export_user(views: &Views, user: &str) -> Result<Export, ExportError> {
    let record = views
        .directory
        .find_user(user)?
        .ok_or_else(|| ExportError::UnknownUser(user.to_string()))?;
    let principal = record.principal();
    let mut calendars = Vec::new();
    for (name, collection) in views.calendars.collections(&principal)? {
        let objects = views.calendars.objects(&principal, &name)?;
        let bodies: Vec<&str> = objects.iter().map(|(_, o)| o.body.as_str()).collect();
        calendars.push(ExportFile {
            file: file_name(&name, "ics"),
            objects: objects.len(),
            text: calendar_file(collection.props.display_name.as_deref(), &bodies),
            collection: name,
        });
    }
    let mut contacts = Vec::new();
    for (name, _) in views.contacts.collections(&principal)? {
        let objects = views.contacts.objects(&principal, &name)?;
        let mut text = String::new();
        for (_, card) in &objects {
            push_lines(&mut text, card.body.lines());
        }
        contacts.push(ExportFile {
            file: file_name(&name, "vcf"),
            objects: objects.len(),
            text,
            collection: name,
        });
    }
    Ok(Export {
        principal,
        calendars,
        contacts,
    })
}

/// What a file name keeps of a collection name as it is. Spelled here
/// rather than shared with the admin client's URL segments: a file name
/// must not change when the URL encoding does.
const FILE_NAME_KEEP: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'@')
    .remove(b'.')
    .remove(b'-')
    .remove(b'_');

/// A collection name as a file name: characters other than letters,
/// digits, `@ . - _` percent-encoded, and a leading dot too, so that no
/// name escapes its folder or hides.
pub fn file_name(collection: &str, extension: &str) -> String {
    let mut name = utf8_percent_encode(collection, FILE_NAME_KEEP).to_string();
    if name.starts_with('.') {
        name.replace_range(..1, "%2E");
    }
    if name.is_empty() {
        name = "%00".into();
    }
    format!("{name}.{extension}")
}

/// Appends lines with CRLF endings.
fn push_lines<'a>(out: &mut String, lines: impl Iterator<Item = &'a str>) {
    for line in lines {
        out.push_str(line.strip_suffix('\r').unwrap_or(line));
        out.push_str("\r\n");
    }
}

/// A logical content line: the first physical line and its folds.
struct Logical<'a> {
    lines: Vec<&'a str>,
}

impl Logical<'_> {
    /// The property name, uppercased (`BEGIN`, `TZID`...).
    fn name(&self) -> String {
        let first = self.lines.first().copied().unwrap_or("");
        let end = first.find([':', ';']).unwrap_or(first.len());
        first[..end].trim().to_ascii_uppercase()
    }

    /// The value, unfolded.
    fn value(&self) -> String {
        let mut text = String::new();
        for (i, line) in self.lines.iter().enumerate() {
            text.push_str(if i == 0 { line } else { &line[1..] });
        }
        match text.find(':') {
            Some(at) => text[at + 1..].trim().to_string(),
            None => String::new(),
        }
    }
}

fn logical_lines(text: &str) -> Vec<Logical<'_>> {
    let mut out: Vec<Logical<'_>> = Vec::new();
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.starts_with([' ', '\t']) {
            if let Some(last) = out.last_mut() {
                last.lines.push(line);
                continue;
            }
        }
        if line.is_empty() {
            continue;
        }
        out.push(Logical { lines: vec![line] });
    }
    out
}

/// What one stored object contributes to its calendar's file.
#[derive(Default)]
struct Parts {
    prodid: Option<String>,
    calscale: Option<String>,
    /// (TZID, text) of each VTIMEZONE.
    timezones: Vec<(String, String)>,
    /// Every other component, as text.
    components: Vec<String>,
}

/// Splits a stored calendar object into its calendar-level properties,
/// time zones and components, keeping each component's lines as stored.
fn parts(body: &str) -> Parts {
    let mut parts = Parts::default();
    let mut depth = 0usize;
    // (component name, text, TZID) of the top-level component being read.
    let mut current: Option<(String, String, Option<String>)> = None;
    for line in logical_lines(body) {
        let name = line.name();
        if name == "BEGIN" {
            depth += 1;
            if depth == 2 {
                current = Some((line.value().to_ascii_uppercase(), String::new(), None));
            }
        }
        if depth >= 2 {
            if let Some((_, text, tzid)) = current.as_mut() {
                push_lines(text, line.lines.iter().copied());
                if depth == 2 && name == "TZID" {
                    *tzid = Some(line.value());
                }
            }
        } else if depth == 1 {
            match name.as_str() {
                "PRODID" => parts.prodid = Some(line.value()),
                "CALSCALE" => parts.calscale = Some(line.value()),
                _ => {}
            }
        }
        if name == "END" {
            if depth == 2 {
                if let Some((component, text, tzid)) = current.take() {
                    if component == "VTIMEZONE" {
                        parts.timezones.push((tzid.unwrap_or_default(), text));
                    } else {
                        parts.components.push(text);
                    }
                }
            }
            depth = depth.saturating_sub(1);
        }
    }
    parts
}

/// One VCALENDAR holding every object: VERSION, PRODID (the objects' own
/// when they all agree, so that a re-import gives back the same text),
/// CALSCALE likewise, the calendar's name, each VTIMEZONE once by TZID
/// (the first definition met), then every component in object order.
pub fn calendar_file(display_name: Option<&str>, bodies: &[&str]) -> String {
    let all: Vec<Parts> = bodies.iter().map(|b| parts(b)).collect();
    let agreed = |pick: fn(&Parts) -> Option<&String>| -> Option<String> {
        let first = all.first().and_then(pick)?;
        all.iter()
            .all(|p| pick(p) == Some(first))
            .then(|| first.clone())
    };
    let mut out = String::from("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n");
    let prodid = agreed(|p| p.prodid.as_ref()).unwrap_or_else(|| PRODID.to_string());
    out.push_str(&format!("PRODID:{prodid}\r\n"));
    if let Some(calscale) = agreed(|p| p.calscale.as_ref()) {
        out.push_str(&format!("CALSCALE:{calscale}\r\n"));
    }
    if let Some(name) = display_name {
        out.push_str(&format!(
            "X-WR-CALNAME:{}\r\n",
            formats::vcard::escape_text(name)
        ));
    }
    let mut zones: Vec<&str> = Vec::new();
    for p in &all {
        for (tzid, text) in &p.timezones {
            if !zones.contains(&tzid.as_str()) {
                zones.push(tzid);
                out.push_str(text);
            }
        }
    }
    for p in &all {
        for component in &p.components {
            out.push_str(component);
        }
    }
    out.push_str("END:VCALENDAR\r\n");
    out
}

/// The live versions of the views an export reads, when each is built
/// and this build knows it; `dir` names the data directory in the error.
pub fn served_views(store: &ViewStore, dir: &Path) -> Result<Views, ExportError> {
    let mut ids = Vec::new();
    for name in ["directory", "calendars", "contacts"] {
        let live = store.live(name)?;
        let ready = match live {
            Some(v) => store.state(&ProjectionId::new(name, v))? == Some(BuildState::Ready),
            None => false,
        };
        match live {
            Some(v) if ready && registry::find(name, v).is_some() => {
                ids.push(ProjectionId::new(name, v))
            }
            _ => {
                return Err(ExportError::NotBuilt {
                    view: name,
                    dir: dir.to_path_buf(),
                })
            }
        }
    }
    Ok(Views::open_at(store, &ids)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PARIS: &str = "BEGIN:VTIMEZONE\r\nTZID:Europe/Paris\r\nBEGIN:STANDARD\r\nDTSTART:19701025T030000\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n";

    fn object(uid: &str, prodid: &str) -> String {
        format!(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:{prodid}\r\n{PARIS}BEGIN:VEVENT\r\nUID:{uid}\r\n\
DTSTART;TZID=Europe/Paris:20260302T090000\r\nSUMMARY:A long summary that is folded\r\n  onto a second line\r\n\
BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT5M\r\nEND:VALARM\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
        )
    }

    #[test]
    fn one_calendar_holds_every_component_and_each_zone_once() {
        let a = object("a", "-//x//y//EN");
        let b = object("b", "-//x//y//EN");
        let file = calendar_file(Some("Work, home"), &[&a, &b]);
        assert!(file.starts_with(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//x//y//EN\r\nX-WR-CALNAME:Work\\, home\r\n"
        ));
        assert_eq!(file.matches("BEGIN:VTIMEZONE").count(), 1);
        assert_eq!(file.matches("BEGIN:VEVENT").count(), 2);
        assert_eq!(file.matches("BEGIN:VALARM").count(), 2);
        assert!(file.contains("folded\r\n  onto"));
        assert!(file.ends_with("END:VEVENT\r\nEND:VCALENDAR\r\n"));
        // Importing splits it back into the same objects.
        let split = formats::ical::split_calendar_export(&file).unwrap();
        assert_eq!(split.len(), 2);
        assert_eq!(split[0].ical, a);
        assert_eq!(split[1].ical, b);

        let mixed = calendar_file(None, &[&a, &object("c", "-//other//EN")]);
        assert!(mixed.contains(&format!("PRODID:{PRODID}\r\n")));
        assert!(!mixed.contains("X-WR-CALNAME"));
        let empty = calendar_file(None, &[]);
        assert_eq!(
            empty,
            format!("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:{PRODID}\r\nEND:VCALENDAR\r\n")
        );
    }

    #[test]
    fn file_names_stay_in_their_folder() {
        assert_eq!(file_name("default", "ics"), "default.ics");
        assert_eq!(file_name("../x", "ics"), "%2E.%2Fx.ics");
        assert_eq!(file_name(".hidden", "vcf"), "%2Ehidden.vcf");
        assert_eq!(file_name("a b/c", "ics"), "a%20b%2Fc.ics");
        assert_ne!(file_name("a b", "ics"), file_name("a%20b", "ics"));
    }
}
