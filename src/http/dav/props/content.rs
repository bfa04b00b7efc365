//! The live properties of what holds content: calendar objects, vCards,
//! and the file area's folders and files.

use super::collection::owner_of;
use super::{requester, text, Listed, Live, Table, EVERY, ON_REQUEST};
use crate::http::dav::resource::{Ctx, Resource};
use crate::http::dav::sharing::Place;
use formats::davpath::Kind;
use formats::xml::{Value, CALDAV, CARDDAV, DAV};
use projections::calendars::ObjectMeta;
use projections::files::{FileEntry, FileKind};

/// What a calendar object and a vCard have.
const OBJECT: &[Live] = &[
    Live::always(DAV, "owner", |_, r| owner_of(object(r)?.0)),
    Live::always(DAV, "getetag", |_, r| text(object(r)?.1.etag())),
    Live::always(DAV, "getcontenttype", |_, r| {
        let (place, meta) = object(r)?;
        text(object_content_type(place.kind, meta.component.as_deref()))
    }),
    Live::always(DAV, "getcontentlength", |_, r| {
        text(object(r)?.1.length.to_string())
    }),
    Live::always(DAV, "getlastmodified", |_, r| {
        text(http_date(object(r)?.1.modified_ms))
    }),
];

pub(super) const CALENDAR_OBJECT: Table = &[
    EVERY,
    OBJECT,
    &[
        Live::new(CALDAV, "calendar-data", Listed::NotInAllProp, body),
        Live::if_set(CALDAV, "schedule-tag", |ctx, r| {
            let Resource::Object { place, meta, .. } = r else {
                return None;
            };
            let tag = ctx
                .views
                .calendars
                .schedule_tag(&place.owner, &meta.uid)
                .ok()??;
            text(format!("\"{tag}\""))
        }),
    ],
    ON_REQUEST,
];

pub(super) const VCARD: Table = &[
    EVERY,
    OBJECT,
    &[Live::new(
        CARDDAV,
        "address-data",
        Listed::NotInAllProp,
        body,
    )],
    ON_REQUEST,
];

pub(super) const FOLDER: Table = &[
    EVERY,
    &[
        Live::always(DAV, "owner", |ctx, _| requester(ctx)),
        // The area's root is no entry: it has no dates.
        Live::if_set(DAV, "getlastmodified", |_, r| {
            text(http_date(folder(r)?.modified_ms))
        }),
        Live::if_set(DAV, "creationdate", |_, r| {
            text(rfc3339(folder(r)?.created_ms))
        }),
    ],
    ON_REQUEST,
];

pub(super) const FILE: Table = &[
    EVERY,
    &[
        Live::always(DAV, "owner", |ctx, _| requester(ctx)),
        Live::always(DAV, "getetag", |_, r| text(file(r)?.etag())),
        Live::always(DAV, "getcontenttype", |_, r| {
            text(file_content_type(file(r)?))
        }),
        Live::always(DAV, "getcontentlength", |_, r| {
            let length = match &file(r)?.kind {
                FileKind::File { length, .. } => *length,
                FileKind::Folder => 0,
            };
            text(length.to_string())
        }),
        Live::always(DAV, "getlastmodified", |_, r| {
            text(http_date(file(r)?.modified_ms))
        }),
        Live::always(DAV, "creationdate", |_, r| {
            text(rfc3339(file(r)?.created_ms))
        }),
    ],
    ON_REQUEST,
];

// The tables are only used with their own kinds, so these match there.

fn object(r: &Resource) -> Option<(&Place, &ObjectMeta)> {
    match r {
        Resource::Object { place, meta, .. } => Some((place, meta)),
        _ => None,
    }
}

fn folder(r: &Resource) -> Option<&FileEntry> {
    match r {
        Resource::Folder { entry, .. } => entry.as_ref(),
        _ => None,
    }
}

fn file(r: &Resource) -> Option<&FileEntry> {
    match r {
        Resource::File { entry, .. } => Some(entry),
        _ => None,
    }
}

/// `calendar-data` and `address-data`: the object's body.
fn body(ctx: &Ctx<'_>, r: &Resource) -> Option<Value> {
    r.body(ctx).map(Value::Text)
}

/// `getlastmodified`: an HTTP date.
pub fn http_date(ms: i64) -> String {
    let at = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0).unsigned_abs());
    httpdate::fmt_http_date(at)
}

/// `creationdate`: RFC 3339.
fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

pub fn object_content_type(kind: Kind, component: Option<&str>) -> String {
    match kind {
        Kind::Calendar => format!(
            "text/calendar; charset=utf-8; component={}",
            component.unwrap_or("vevent").to_ascii_lowercase()
        ),
        Kind::AddressBook => "text/vcard; charset=utf-8".to_string(),
    }
}

pub fn file_content_type(entry: &FileEntry) -> String {
    match &entry.kind {
        FileKind::File { content_type, .. } => content_type.clone(),
        FileKind::Folder => "httpd/unix-directory".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates_are_imf_fixdate() {
        assert_eq!(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(rfc3339(86_400_000), "1970-01-02T00:00:00Z");
    }
}
