//! The DAV namespace: which resource a request path names, and the hrefs
//! we write back. Pure; every rule about paths lives here.
//!
//! ```text
//! /dav/                                   the DAV root
//! /dav/principals/{principal}/            a user's principal
//! /dav/principals/groups/{group@domain}/  a group's principal
//! /dav/principals/resources/{name@domain}/ a room's or equipment's
//! /dav/calendars/{principal}/             calendar home
//! /dav/calendars/{principal}/{calendar}/  calendar collection
//! /dav/calendars/{principal}/{calendar}/{object}
//! /dav/addressbooks/{principal}/…         the same for address books
//! /dav/files/{principal}/{path…}          a plain WebDAV file area
//! /dav/attachments/{owner}/{managed-id}   a managed attachment (RFC 8607)
//! ```
//!
//! `{principal}` is `login@domain`. A collection named `{name}@{owner}`
//! in a home is bound to another owner's collection: a share
//! (`work@alice@example.com`) or the domain's directory
//! (`directory@example.com`); see `reprise::http::dav::sharing`. Segments are
//! percent-decoded once;
//! a segment that decodes to `.`, `..`, or holds `/`, `\` or NUL is refused
//! rather than normalised, so no path can name anything outside its owner.

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

pub const ROOT: &str = "/dav/";

/// What a request path names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DavPath {
    /// `/`: only leads clients to their principal.
    ServerRoot,
    /// `/dav/`.
    DavRoot,
    /// `/dav/principals/`, `/dav/calendars/`, … without a principal.
    Area(Area),
    Principal(String),
    /// A group's principal: `group@domain`.
    GroupPrincipal(String),
    /// A room's or equipment's principal: `name@domain`.
    ResourcePrincipal(String),
    Home(Kind, String),
    Collection(Kind, String, String),
    Object(Kind, String, String, String),
    /// A path in a user's file area; `""` is the area's root.
    File(String, String),
    /// A managed attachment of one of `owner`'s calendar objects: whoever
    /// may read the object may read it (checked when it is loaded).
    Attachment(String, String),
}

/// The two kinds of groupware collection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    Calendar,
    AddressBook,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Area {
    Principals,
    /// `/dav/principals/groups/`.
    Groups,
    /// `/dav/principals/resources/`.
    Resources,
    Calendars,
    AddressBooks,
    Files,
}

impl Area {
    fn segment(self) -> &'static str {
        match self {
            Area::Principals => "principals",
            Area::Groups => "principals/groups",
            Area::Resources => "principals/resources",
            Area::Calendars => "calendars",
            Area::AddressBooks => "addressbooks",
            Area::Files => "files",
        }
    }
}

impl Kind {
    fn area(self) -> Area {
        match self {
            Kind::Calendar => Area::Calendars,
            Kind::AddressBook => Area::AddressBooks,
        }
    }

    /// The path segment of this kind's homes: `calendars`, `addressbooks`
    /// (the admin API names collection kinds the same way).
    pub fn segment(self) -> &'static str {
        self.area().segment()
    }

    pub fn from_segment(segment: &str) -> Option<Kind> {
        [Kind::Calendar, Kind::AddressBook]
            .into_iter()
            .find(|k| k.segment() == segment)
    }
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("the path segment {0:?} is not allowed")]
    BadSegment(String),
    #[error("no such resource")]
    NotFound,
}

impl DavPath {
    /// Parses the path of a request (no query; the router strips it).
    pub fn parse(path: &str) -> Result<DavPath, PathError> {
        if path == "/" || path.is_empty() {
            return Ok(DavPath::ServerRoot);
        }
        let Some(rest) = path.strip_prefix("/dav") else {
            return Err(PathError::NotFound);
        };
        if rest.is_empty() || rest == "/" {
            return Ok(DavPath::DavRoot);
        }
        let Some(rest) = rest.strip_prefix('/') else {
            return Err(PathError::NotFound);
        };
        let segments = decode_segments(rest)?;
        let Some((area, rest)) = segments.split_first() else {
            return Ok(DavPath::DavRoot);
        };
        if area == "attachments" {
            return match rest {
                [owner, id] => Ok(DavPath::Attachment(owner.clone(), id.clone())),
                _ => Err(PathError::NotFound),
            };
        }
        let area = match area.as_str() {
            "principals" => Area::Principals,
            "calendars" => Area::Calendars,
            "addressbooks" => Area::AddressBooks,
            "files" => Area::Files,
            _ => return Err(PathError::NotFound),
        };
        let Some((principal, rest)) = rest.split_first() else {
            return Ok(DavPath::Area(area));
        };
        let principal = principal.clone();
        let kind = match area {
            // User principals always hold an `@`; these two never do.
            Area::Principals if principal == "groups" || principal == "resources" => {
                let set = if principal == "groups" {
                    Area::Groups
                } else {
                    Area::Resources
                };
                return match rest {
                    [] => Ok(DavPath::Area(set)),
                    [name] if set == Area::Groups => Ok(DavPath::GroupPrincipal(name.clone())),
                    [name] => Ok(DavPath::ResourcePrincipal(name.clone())),
                    _ => Err(PathError::NotFound),
                };
            }
            Area::Principals if rest.is_empty() => return Ok(DavPath::Principal(principal)),
            Area::Principals | Area::Groups | Area::Resources => return Err(PathError::NotFound),
            Area::Files => return Ok(DavPath::File(principal, rest.join("/"))),
            Area::Calendars => Kind::Calendar,
            Area::AddressBooks => Kind::AddressBook,
        };
        match rest {
            [] => Ok(DavPath::Home(kind, principal)),
            [col] => Ok(DavPath::Collection(kind, principal, col.clone())),
            [col, object] => Ok(DavPath::Object(
                kind,
                principal,
                col.clone(),
                object.clone(),
            )),
            _ => Err(PathError::NotFound),
        }
    }

    /// The principal whose data this path names, if any.
    pub fn owner(&self) -> Option<&str> {
        match self {
            DavPath::ServerRoot
            | DavPath::DavRoot
            | DavPath::Area(_)
            | DavPath::GroupPrincipal(_)
            | DavPath::ResourcePrincipal(_)
            | DavPath::Attachment(..) => None,
            DavPath::Principal(p)
            | DavPath::Home(_, p)
            | DavPath::Collection(_, p, _)
            | DavPath::Object(_, p, _, _)
            | DavPath::File(p, _) => Some(p),
        }
    }

    /// Whether the path names a collection (its href ends with `/`).
    pub fn is_collection_path(&self) -> bool {
        !matches!(self, DavPath::Object(..) | DavPath::Attachment(..))
    }

    /// The canonical, percent-encoded href. File-area paths are written as
    /// files; callers that know a file path is a folder use [`folder_href`].
    pub fn href(&self) -> String {
        match self {
            DavPath::ServerRoot => "/".to_string(),
            DavPath::DavRoot => ROOT.to_string(),
            DavPath::Area(a) => format!("{ROOT}{}/", a.segment()),
            DavPath::Principal(p) => principal_href(p),
            DavPath::GroupPrincipal(g) => group_principal_href(g),
            DavPath::ResourcePrincipal(r) => resource_principal_href(r),
            DavPath::Home(k, p) => home_href(*k, p),
            DavPath::Collection(k, p, c) => collection_href(*k, p, c),
            DavPath::Object(k, p, c, o) => object_href(*k, p, c, o),
            DavPath::File(p, path) => file_href(p, path, false),
            DavPath::Attachment(owner, id) => attachment_href(owner, id),
        }
    }
}

/// Splits on `/` (a trailing slash is ignored) and decodes each segment.
fn decode_segments(rest: &str) -> Result<Vec<String>, PathError> {
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.is_empty() {
        return Ok(Vec::new());
    }
    rest.split('/').map(decode_segment).collect()
}

fn decode_segment(raw: &str) -> Result<String, PathError> {
    let bad = || PathError::BadSegment(raw.to_string());
    let decoded = percent_decode_str(raw).decode_utf8().map_err(|_| bad())?;
    if decoded.is_empty()
        || decoded == "."
        || decoded == ".."
        || decoded.contains(['/', '\\', '\0'])
        || decoded.chars().any(char::is_control)
    {
        return Err(bad());
    }
    Ok(decoded.into_owned())
}

/// Characters kept as they are in a path segment: RFC 3986 `pchar`
/// minus the few that clients mishandle unencoded (`;`, `=`, `,`, `+`,
/// `&`, `'`), so hrefs compare equal however a client normalises them.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'@')
    .remove(b':')
    .remove(b'!')
    .remove(b'$')
    .remove(b'(')
    .remove(b')')
    .remove(b'*');

pub fn encode_segment(segment: &str) -> String {
    utf8_percent_encode(segment, SEGMENT).to_string()
}

pub fn principal_href(principal: &str) -> String {
    format!("{ROOT}principals/{}/", encode_segment(principal))
}

pub fn group_principal_href(group: &str) -> String {
    format!("{ROOT}principals/groups/{}/", encode_segment(group))
}

pub fn resource_principal_href(resource: &str) -> String {
    format!("{ROOT}principals/resources/{}/", encode_segment(resource))
}

pub fn home_href(kind: Kind, principal: &str) -> String {
    format!(
        "{ROOT}{}/{}/",
        kind.area().segment(),
        encode_segment(principal)
    )
}

pub fn collection_href(kind: Kind, principal: &str, collection: &str) -> String {
    format!(
        "{}{}/",
        home_href(kind, principal),
        encode_segment(collection)
    )
}

pub fn object_href(kind: Kind, principal: &str, collection: &str, object: &str) -> String {
    format!(
        "{}{}",
        collection_href(kind, principal, collection),
        encode_segment(object)
    )
}

/// Where a managed attachment is read.
pub fn attachment_href(owner: &str, managed_id: &str) -> String {
    format!(
        "{ROOT}attachments/{}/{}",
        encode_segment(owner),
        encode_segment(managed_id)
    )
}

/// A file-area href; folders end with `/`.
pub fn file_href(principal: &str, path: &str, folder: bool) -> String {
    let mut href = format!("{ROOT}files/{}/", encode_segment(principal));
    if !path.is_empty() {
        let encoded: Vec<String> = path.split('/').map(encode_segment).collect();
        href.push_str(&encoded.join("/"));
        if folder {
            href.push('/');
        }
    }
    href
}

/// The path of an href from a request body or a `Destination` header:
/// an absolute URL (any host: we are behind proxies) or an absolute path.
pub fn href_path(href: &str) -> &str {
    let href = href.trim();
    let without_scheme = href
        .strip_prefix("http://")
        .or_else(|| href.strip_prefix("https://"));
    let path = match without_scheme {
        Some(rest) => rest.find('/').map_or("/", |i| &rest[i..]),
        None => href,
    };
    path.split(['?', '#']).next().unwrap_or(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "alice@example.com";

    #[test]
    fn parses_every_kind_of_path() {
        assert_eq!(DavPath::parse("/"), Ok(DavPath::ServerRoot));
        assert_eq!(DavPath::parse("/dav"), Ok(DavPath::DavRoot));
        assert_eq!(DavPath::parse("/dav/"), Ok(DavPath::DavRoot));
        assert_eq!(
            DavPath::parse("/dav/calendars/"),
            Ok(DavPath::Area(Area::Calendars))
        );
        assert_eq!(
            DavPath::parse("/dav/principals/alice@example.com/"),
            Ok(DavPath::Principal(A.into()))
        );
        assert_eq!(
            DavPath::parse("/dav/calendars/alice%40example.com"),
            Ok(DavPath::Home(Kind::Calendar, A.into()))
        );
        assert_eq!(
            DavPath::parse("/dav/addressbooks/alice@example.com/default/"),
            Ok(DavPath::Collection(
                Kind::AddressBook,
                A.into(),
                "default".into()
            ))
        );
        assert_eq!(
            DavPath::parse("/dav/calendars/alice@example.com/work/a%20b.ics"),
            Ok(DavPath::Object(
                Kind::Calendar,
                A.into(),
                "work".into(),
                "a b.ics".into()
            ))
        );
        assert_eq!(
            DavPath::parse("/dav/files/alice@example.com/litmus/res-%e2%82%ac"),
            Ok(DavPath::File(A.into(), "litmus/res-€".into()))
        );
        assert_eq!(
            DavPath::parse("/dav/files/alice@example.com/"),
            Ok(DavPath::File(A.into(), String::new()))
        );
        let attachment = DavPath::parse("/dav/attachments/alice@example.com/0196a");
        assert_eq!(
            attachment,
            Ok(DavPath::Attachment(A.into(), "0196a".into()))
        );
        assert_eq!(
            attachment.unwrap().href(),
            "/dav/attachments/alice@example.com/0196a"
        );
        for bad in [
            "/dav/attachments/",
            "/dav/attachments/a@b/",
            "/dav/attachments/a@b/c/d",
        ] {
            assert_eq!(DavPath::parse(bad), Err(PathError::NotFound), "{bad}");
        }
    }

    #[test]
    fn refuses_traversal_and_encoded_separators() {
        for bad in [
            "/dav/calendars/alice@example.com/../bob@example.com/",
            "/dav/calendars/alice@example.com/./x/",
            "/dav/calendars/alice@example.com/%2e%2e/x",
            "/dav/calendars/alice@example.com/a%2Fb/",
            "/dav/calendars/alice@example.com/a%5cb/",
            "/dav/files/alice@example.com/a%00b",
            "/dav/files/alice@example.com//x",
            "/dav/files/alice@example.com/%ff",
        ] {
            assert!(
                matches!(DavPath::parse(bad), Err(PathError::BadSegment(_))),
                "{bad}"
            );
        }
        assert_eq!(DavPath::parse("/other"), Err(PathError::NotFound));
        assert_eq!(
            DavPath::parse("/dav/calendars/a@b/c/d/e"),
            Err(PathError::NotFound)
        );
    }

    #[test]
    fn hrefs_round_trip() {
        for path in [
            DavPath::Principal(A.into()),
            DavPath::GroupPrincipal("team@example.com".into()),
            DavPath::ResourcePrincipal("room 1@example.com".into()),
            DavPath::Area(Area::Groups),
            DavPath::Area(Area::Resources),
            DavPath::Home(Kind::AddressBook, A.into()),
            DavPath::Collection(Kind::Calendar, A.into(), "Work & play".into()),
            DavPath::Object(Kind::Calendar, A.into(), "w".into(), "ü?#%.ics".into()),
            DavPath::File(A.into(), "a b/c€".into()),
        ] {
            assert_eq!(DavPath::parse(&path.href()), Ok(path.clone()), "{path:?}");
        }
        assert_eq!(
            object_href(Kind::Calendar, A, "default", "a b.ics"),
            "/dav/calendars/alice@example.com/default/a%20b.ics"
        );
    }

    #[test]
    fn destination_headers_are_urls_or_paths() {
        assert_eq!(href_path("http://h:8080/dav/x/?q=1"), "/dav/x/");
        assert_eq!(href_path("https://h"), "/");
        assert_eq!(href_path("/dav/x#frag"), "/dav/x");
    }
}
