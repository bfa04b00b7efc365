//! Grants on collections: who else may read or write an owner's calendar
//! or address book. Keys, beside the collection's own:
//!
//! - `shr\0owner\0collection\0u|g\0sharee` → [`Grant`]
//! - `sin\0u|g\0sharee\0owner\0collection` → [`Grant`] (what is shared
//!   with a user or group, for their home)
//!
//! A grant names its sharee by name and by the directory version that
//! created it (`sharee_since`); the DAV layer honours it only while the
//! directory still holds that incarnation, so a user deleted and created
//! again does not inherit the old one's shares. Group membership is the
//! directory's (another topic), so it is resolved when a request is
//! served, never here.

use super::{col_key, Collections, CollectionsView};
use crate::outcome::{check_expected, Outcome, Rejection};
use crate::projection::{check_name, ApplyError};
use crate::store::StoreError;
use crate::view::keys::{key, under};
use events::payload::{Access, Sharee};
use events::AggregateVersion;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

const SHR: &[u8] = b"shr\0";
const SIN: &[u8] = b"sin\0";

/// One sharee's access to a collection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub access: Access,
    /// The directory version at which the sharee was created.
    pub sharee_since: AggregateVersion,
    /// The event that granted or last changed it.
    pub version: AggregateVersion,
}

/// A collection shared with someone, seen from the sharee's side.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SharedCollection {
    pub owner: String,
    pub collection: String,
    pub grant: Grant,
}

fn sharee_parts(sharee: &Sharee) -> (&'static [u8], &str) {
    match sharee {
        Sharee::User(n) => (b"u", n),
        Sharee::Group(n) => (b"g", n),
    }
}

fn parse_sharee(rest: &str) -> Option<Sharee> {
    let (kind, name) = rest.split_once('\0')?;
    match kind {
        "u" => Some(Sharee::User(name.to_string())),
        "g" => Some(Sharee::Group(name.to_string())),
        _ => None,
    }
}

fn grant_keys(owner: &str, col: &str, sharee: &Sharee) -> (Vec<u8>, Vec<u8>) {
    let (kind, name) = sharee_parts(sharee);
    (
        key(
            SHR,
            &[owner.as_bytes(), col.as_bytes(), kind, name.as_bytes()],
        ),
        key(
            SIN,
            &[kind, name.as_bytes(), owner.as_bytes(), col.as_bytes()],
        ),
    )
}

/// Whether an actor names a user (`login@domain`) rather than the system
/// or an administrator (`system:…`, `admin:…`), who act for the owner.
fn is_principal(actor: &str) -> bool {
    actor.contains('@') && !actor.contains(':')
}

impl Collections<'_, '_, '_> {
    /// Grants (or changes) a sharee's access to a collection.
    pub fn share<P: Serialize + DeserializeOwned>(
        &mut self,
        col: &str,
        sharee: &Sharee,
        sharee_since: AggregateVersion,
        access: Access,
    ) -> Result<Outcome, ApplyError> {
        let (kind, name) = sharee_parts(sharee);
        check_name("sharee", name)?;
        if !name.contains('@') {
            return Err(ApplyError::Refused(format!(
                "sharee {name:?} is not of the form name@domain"
            )));
        }
        let owner = self.owner();
        if kind == b"u" && name == owner {
            return Rejection::NotAllowed {
                reason: "a collection cannot be shared with its owner".into(),
            }
            .into();
        }
        let Some(mut record) = self.load::<P>(col)? else {
            return self.not_found(col);
        };
        if let Err(r) = check_expected(self.event.event.expected_version, record.version) {
            return r.into();
        }
        let v = self.event.version();
        let grant = Grant {
            access,
            sharee_since,
            version: v,
        };
        let (shr, sin) = grant_keys(owner, col, sharee);
        self.view.put_as(shr, &grant);
        self.view.put_as(sin, &grant);
        // The owner's view of the collection (who it is shared with)
        // changed, not its members: the version moves, the ctag stays.
        record.version = v;
        self.view.put_as(col_key(owner, col), &record);
        Ok(Outcome::Applied { version: v })
    }

    /// Withdraws a grant.
    pub fn unshare<P: Serialize + DeserializeOwned>(
        &mut self,
        col: &str,
        sharee: &Sharee,
    ) -> Result<Outcome, ApplyError> {
        let owner = self.owner();
        let Some(mut record) = self.load::<P>(col)? else {
            return self.not_found(col);
        };
        if let Err(r) = check_expected(self.event.event.expected_version, record.version) {
            return r.into();
        }
        let (shr, sin) = grant_keys(owner, col, sharee);
        if !self.view.contains(&shr)? {
            return Rejection::NotFound {
                what: format!(
                    "a share of {} {col} with {}",
                    self.noun,
                    sharee_parts(sharee).1
                ),
            }
            .into();
        }
        self.view.delete(shr);
        self.view.delete(sin);
        let v = self.event.version();
        record.version = v;
        self.view.put_as(col_key(owner, col), &record);
        Ok(Outcome::Applied { version: v })
    }

    /// Drops every grant on a collection (it is being deleted).
    pub(super) fn drop_grants(&mut self, col: &str) -> Result<(), StoreError> {
        let owner = self.owner();
        let prefix = under(SHR, &[owner.as_bytes(), col.as_bytes()]);
        for k in self.view.keys_with_prefix(&prefix)? {
            let rest = String::from_utf8_lossy(&k[prefix.len()..]).into_owned();
            if let Some(sharee) = parse_sharee(&rest) {
                let (_, sin) = grant_keys(owner, col, &sharee);
                self.view.delete(sin);
            }
            self.view.delete(k);
        }
        Ok(())
    }

    /// The rejection for an event written by a user other than the owner
    /// (a sharee) that their grants do not allow, decided at this point
    /// of the log. `writes` are the collections the event writes into;
    /// `leaving` is the sharee an unshare removes.
    ///
    /// Only direct grants are checked here: a group grant's membership is
    /// the directory's, checked when the request is served, so any
    /// read-write group grant lets a write through.
    pub fn foreign_actor_refused(
        &self,
        writes: &[&str],
        leaving: Option<&Sharee>,
    ) -> Result<Option<Rejection>, StoreError> {
        let actor = self.event.event.actor.as_str();
        let owner = self.owner();
        if actor == owner || !is_principal(actor) {
            return Ok(None);
        }
        if let Some(sharee) = leaving {
            if *sharee == Sharee::User(actor.to_string()) && writes.is_empty() {
                return Ok(None);
            }
        }
        if writes.is_empty() {
            return Ok(Some(Rejection::NotAllowed {
                reason: format!("only the owner may change this {}", self.noun),
            }));
        }
        for col in writes {
            if !self.may_write(col, actor)? {
                return Ok(Some(Rejection::NotAllowed {
                    reason: format!("{actor} may not write into {} {col}", self.noun),
                }));
            }
        }
        Ok(None)
    }

    fn may_write(&self, col: &str, actor: &str) -> Result<bool, StoreError> {
        let owner = self.owner();
        let (direct, _) = grant_keys(owner, col, &Sharee::User(actor.to_string()));
        if let Some(grant) = self.view.get_as::<Grant>(&direct)? {
            return Ok(grant.access == Access::ReadWrite);
        }
        let groups = under(SHR, &[owner.as_bytes(), col.as_bytes(), b"g"]);
        for k in self.view.keys_with_prefix(&groups)? {
            if let Some(grant) = self.view.get_as::<Grant>(&k)? {
                if grant.access == Access::ReadWrite {
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }
}

impl<P: DeserializeOwned> CollectionsView<P> {
    /// Who a collection is shared with.
    pub fn grants(&self, owner: &str, col: &str) -> Result<Vec<(Sharee, Grant)>, StoreError> {
        let prefix = under(SHR, &[owner.as_bytes(), col.as_bytes()]);
        Ok(self
            .tree
            .list::<Grant>(&prefix)?
            .into_iter()
            .filter_map(|(rest, grant)| Some((parse_sharee(&rest)?, grant)))
            .collect())
    }

    /// The collections shared with a user or a group directly, by owner
    /// and collection.
    pub fn shared_with(&self, sharee: &Sharee) -> Result<Vec<SharedCollection>, StoreError> {
        let (kind, name) = sharee_parts(sharee);
        let prefix = under(SIN, &[kind, name.as_bytes()]);
        Ok(self
            .tree
            .list::<Grant>(&prefix)?
            .into_iter()
            .filter_map(|(rest, grant)| {
                let (owner, collection) = rest.split_once('\0')?;
                Some(SharedCollection {
                    owner: owner.to_string(),
                    collection: collection.to_string(),
                    grant,
                })
            })
            .collect())
    }
}
