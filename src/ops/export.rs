//! `reprise export --user U --to DIR`: one user's own calendars and address
//! books as plain files any client imports, e.g. from a clone or a
//! point-in-time rebuild, to give back what a user lost:
//! `DIR/calendars/NAME.ics` (one VCALENDAR per calendar: VERSION, PRODID,
//! each VTIMEZONE once by TZID, then every component of every object) and
//! `DIR/contacts/NAME.vcf` (the vCards one after another). Shares and the
//! directory's global address book are not the user's own and stay out.
//! `reprise import` reads these files back into the same objects.

use crate::cli::ExportArgs;
use crate::cli::LogArgs;
use anyhow::{bail, Context};
use projections::registry::{self, Views};
use projections::{BuildState, ProjectionId, StoreError};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::process::ExitCode;

/// PRODID of exported calendars whose objects do not agree on their own.
pub const PRODID: &str = "-//reprise//export//EN";

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("no user {0}")]
    UnknownUser(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One exported file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportFile {
    /// The collection's name.
    pub collection: String,
    /// The file's name in its folder.
    pub file: String,
    pub objects: usize,
    pub text: String,
}

/// Everything exported for one user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
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

/// A collection name as a file name: characters other than letters,
/// digits, `@ . - _` percent-encoded, and a leading dot too, so that no
/// name escapes its folder or hides.
pub fn file_name(collection: &str, extension: &str) -> String {
    let mut name = crate::remote::segment(collection);
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

/// Writes an export under `dir` (new or empty).
pub fn write_files(export: &Export, dir: &Path) -> anyhow::Result<()> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                bail!(
                    "{} is not empty; export writes into a new or empty directory",
                    dir.display()
                );
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
    }
    for (folder, files) in [
        ("calendars", &export.calendars),
        ("contacts", &export.contacts),
    ] {
        let folder = dir.join(folder);
        std::fs::create_dir_all(&folder)
            .with_context(|| format!("creating {}", folder.display()))?;
        for f in files {
            let path = folder.join(&f.file);
            std::fs::write(&path, &f.text)
                .with_context(|| format!("writing {}", path.display()))?;
        }
    }
    Ok(())
}

/// Opens the served views of a stopped data directory for reading.
fn offline_views(args: &LogArgs) -> anyhow::Result<Views> {
    if !args.data_dir.join("views").is_dir() {
        bail!(
            "{} has no views (is it a reprise data directory whose views were built?)",
            args.data_dir.display()
        );
    }
    let store = args.open_views()?;
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
            _ => bail!(
                "the {name} view of {} is not built; run `reprise rebuild` (or `serve` until \
                 ready) first",
                args.data_dir.display()
            ),
        }
    }
    Ok(Views::open_at(&store, &ids)?)
}

pub async fn run(args: &LogArgs, opts: ExportArgs) -> anyhow::Result<ExitCode> {
    let export: Export = match &args.server {
        Some(url) => {
            let client = crate::remote::Client::new(&args.data_dir, url)?;
            let path = format!("/admin/v1/export/{}", crate::remote::segment(&opts.user));
            tokio::task::spawn_blocking(move || client.get::<Export>(&path, &[])).await??
        }
        None => {
            let views = offline_views(args)?;
            export_user(&views, &opts.user)?
        }
    };
    write_files(&export, &opts.to)?;
    println!("exported {} to {}:", export.principal, opts.to.display());
    for (folder, files) in [
        ("calendars", &export.calendars),
        ("contacts", &export.contacts),
    ] {
        for f in files {
            println!("  {folder}/{}  {} object(s)", f.file, f.objects);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `GET /admin/v1/export/{user}`: the files as JSON.
pub(crate) async fn http_export(
    axum::extract::State(state): axum::extract::State<crate::http::Shared>,
    axum::extract::Path(user): axum::extract::Path<String>,
) -> axum::response::Response {
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    let error = |status: StatusCode, message: String| {
        (status, axum::Json(serde_json::json!({ "error": message }))).into_response()
    };
    if !state.engine.ready() {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the views are still catching up with the log".into(),
        );
    }
    let views = state.engine.views();
    match tokio::task::spawn_blocking(move || export_user(&views, &user)).await {
        Ok(Ok(export)) => axum::Json(export).into_response(),
        Ok(Err(e @ ExportError::UnknownUser(_))) => error(StatusCode::NOT_FOUND, e.to_string()),
        Ok(Err(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
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
