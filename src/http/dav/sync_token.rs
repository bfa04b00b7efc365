//! Sync tokens (RFC 6578) and home tags: what `sync-token` and `getctag`
//! say, and how a `sync-collection` REPORT reads back the token it is
//! given. Both come from log positions, so every instance agrees.

use super::resource::Resource;
use events::AggregateVersion;
use projections::calendars::CollectionRecord;
use sha2::{Digest, Sha256};

/// A collection's sync token (RFC 6578): its creation and its last change,
/// both log positions, so every instance hands out the same tokens and a
/// collection deleted and created again invalidates the old ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SyncToken {
    pub created: AggregateVersion,
    pub ctag: AggregateVersion,
}

const SYNC_PREFIX: &str = "urn:reprise:sync:";
const HOME_PREFIX: &str = "urn:reprise:home:";

impl SyncToken {
    pub fn of<P>(record: &CollectionRecord<P>) -> SyncToken {
        SyncToken {
            created: record.created,
            ctag: record.ctag,
        }
    }

    pub fn parse(token: &str) -> Option<SyncToken> {
        let (created, ctag) = token.strip_prefix(SYNC_PREFIX)?.split_once(':')?;
        Some(SyncToken {
            created: AggregateVersion(created.parse().ok()?),
            ctag: AggregateVersion(ctag.parse().ok()?),
        })
    }
}

impl std::fmt::Display for SyncToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{SYNC_PREFIX}{}:{}", self.created.0, self.ctag.0)
    }
}

/// A home's tag: a digest of its collections' names, versions and the
/// requester's rights, so it changes when any of them is created,
/// changed, deleted, written to, shared or unshared.
pub fn home_tag(collections: &[Resource]) -> String {
    let mut hasher = Sha256::new();
    for resource in collections {
        let (place, created, ctag, version) = match resource {
            Resource::Calendar { place, record } => {
                (place, record.created, record.ctag, record.version)
            }
            Resource::AddressBook { place, record } => {
                (place, record.created, record.ctag, record.version)
            }
            _ => continue,
        };
        hasher.update(place.name.as_bytes());
        hasher.update([0, place.rights as u8]);
        hasher.update(created.0.to_be_bytes());
        hasher.update(ctag.0.to_be_bytes());
        hasher.update(version.0.to_be_bytes());
    }
    let digest = hasher.finalize();
    let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
    format!("{HOME_PREFIX}{hex}")
}

pub fn is_home_token(token: &str) -> bool {
    token.starts_with(HOME_PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sync_tokens_round_trip_and_refuse_strangers() {
        let t = SyncToken {
            created: AggregateVersion(3),
            ctag: AggregateVersion(42),
        };
        assert_eq!(t.to_string(), "urn:reprise:sync:3:42");
        assert_eq!(SyncToken::parse(&t.to_string()), Some(t));
        for bad in [
            "",
            "urn:reprise:sync:3",
            "urn:reprise:sync:a:1",
            "http://x/1",
        ] {
            assert_eq!(SyncToken::parse(bad), None, "{bad}");
        }
    }
}
