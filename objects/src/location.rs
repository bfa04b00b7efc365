//! Where a store is (`--object-store URL`) and how an object is named in
//! it: pure, so both are tested without a store.

use events::ObjectId;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// A store's place, parsed from its URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreLocation {
    /// `file:///absolute/path`: a folder of this machine (or a shared
    /// mount every installation sees).
    Local { root: PathBuf },
    /// `s3://bucket` or `s3://bucket/prefix`: endpoint, region and
    /// credentials come from the AWS environment variables or the store's
    /// settings file.
    S3 { bucket: String, prefix: String },
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BadLocation {
    #[error("{0:?} is not an object store URL: use file:///absolute/path or s3://bucket/prefix")]
    Scheme(String),
    #[error("{0:?}: a file:// store needs an absolute path (file:///var/lib/reprise/objects)")]
    RelativePath(String),
    #[error("{0:?}: an s3:// URL names a bucket (s3://bucket or s3://bucket/prefix)")]
    NoBucket(String),
    #[error("{0:?}: a prefix may not have empty, `.` or `..` segments")]
    BadPrefix(String),
}

impl FromStr for StoreLocation {
    type Err = BadLocation;

    fn from_str(url: &str) -> Result<StoreLocation, BadLocation> {
        if let Some(path) = url.strip_prefix("file://") {
            if !path.starts_with('/') {
                return Err(BadLocation::RelativePath(url.into()));
            }
            return Ok(StoreLocation::Local {
                root: PathBuf::from(path),
            });
        }
        let Some(rest) = url.strip_prefix("s3://") else {
            return Err(BadLocation::Scheme(url.into()));
        };
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(BadLocation::NoBucket(url.into()));
        }
        let prefix = prefix.trim_end_matches('/');
        if !prefix.is_empty()
            && prefix
                .split('/')
                .any(|s| s.is_empty() || s == "." || s == "..")
        {
            return Err(BadLocation::BadPrefix(url.into()));
        }
        Ok(StoreLocation::S3 {
            bucket: bucket.into(),
            prefix: prefix.into(),
        })
    }
}

impl fmt::Display for StoreLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreLocation::Local { root } => write!(f, "file://{}", root.display()),
            StoreLocation::S3 { bucket, prefix } if prefix.is_empty() => {
                write!(f, "s3://{bucket}")
            }
            StoreLocation::S3 { bucket, prefix } => write!(f, "s3://{bucket}/{prefix}"),
        }
    }
}

/// The folder under a store's root that holds objects; everything else
/// there (a file store's spool) is not an object.
pub const OBJECTS: &str = "sha256";

/// An object's key below the store's root: `sha256/ab/abcdef…`. The
/// two-character fan-out keeps a file store's folders small; S3 does not
/// mind either way.
pub fn key_of(id: &ObjectId) -> String {
    let hex = id.hex();
    format!("{OBJECTS}/{}/{hex}", &hex[..2])
}

/// The object a key names, if it is an object's key (the inverse of
/// [`key_of`]; anything else, such as a half-written upload, is not).
pub fn id_of_key(key: &str) -> Option<ObjectId> {
    let rest = key.strip_prefix(OBJECTS)?.strip_prefix('/')?;
    let (fan, hex) = rest.split_once('/')?;
    let id: ObjectId = hex.parse().ok()?;
    (fan == &hex[..2]).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_and_print_back() {
        for url in ["file:///var/lib/objects", "s3://bucket", "s3://bucket/a/b"] {
            let location: StoreLocation = url.parse().unwrap();
            assert_eq!(location.to_string(), url);
        }
        assert_eq!(
            "s3://b/p/".parse(),
            Ok(StoreLocation::S3 {
                bucket: "b".into(),
                prefix: "p".into()
            })
        );
    }

    #[test]
    fn bad_urls_say_what_is_wrong() {
        let bad = |url: &str| url.parse::<StoreLocation>().unwrap_err();
        assert!(matches!(bad("/var/objects"), BadLocation::Scheme(_)));
        assert!(matches!(bad("http://x/y"), BadLocation::Scheme(_)));
        assert!(matches!(
            bad("file://objects"),
            BadLocation::RelativePath(_)
        ));
        assert!(matches!(bad("s3://"), BadLocation::NoBucket(_)));
        assert!(matches!(bad("s3:///p"), BadLocation::NoBucket(_)));
        assert!(matches!(bad("s3://b/a//c"), BadLocation::BadPrefix(_)));
        assert!(matches!(bad("s3://b/../c"), BadLocation::BadPrefix(_)));
    }

    #[test]
    fn keys_name_objects_and_nothing_else() {
        let id = ObjectId([0xab; 32]);
        let key = key_of(&id);
        assert_eq!(key, format!("sha256/ab/{}", "ab".repeat(32)));
        assert_eq!(id_of_key(&key), Some(id));
        assert_eq!(id_of_key(&format!("sha256/cd/{}", "ab".repeat(32))), None);
        assert_eq!(id_of_key("sha256/ab/short"), None);
        assert_eq!(id_of_key(&format!(".spool/{}", "ab".repeat(32))), None);
    }
}
