//! The logic calendars and address books share: collections per owner,
//! resources by href and by UID, and a change list per collection keyed by
//! version for RFC 6578 sync. Both views use the same key layout in their
//! own trees:
//!
//! - `col\0owner\0collection` → [`CollectionRecord`]
//! - `obj\0owner\0collection\0href` → [`ObjectRecord`] in a fixed binary
//!   frame (see [`object_bytes`]) with the body last, so that listing a
//!   collection (a PROPFIND of thousands of members) decodes no body and
//!   no CBOR
//! - `uid\0owner\0collection\0uid` → href
//! - `chg\0owner\0collection\0version href` → [`Change`] (latest change per
//!   href only; the href keeps apart the two changes of a move within one
//!   collection, which share a version)
//! - `tmb\0owner\0collection\0href` → version of the deletion (to prune its change)

mod shares;

pub use shares::{Grant, SharedCollection};

use crate::outcome::{check_expected, Outcome, Rejection};
use crate::projection::{check_name, Applied, ApplyError};
use crate::store::{StoreError, ViewTree};
use crate::view::{keys::key, keys::under, ReadTree, ViewTxn};
use events::payload::{DeadProperties, DeadPropertiesPatch};
use events::AggregateVersion;
use formats::ical::tree::Component;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

const COL: &[u8] = b"col\0";
const OBJ: &[u8] = b"obj\0";
const UID: &[u8] = b"uid\0";
const CHG: &[u8] = b"chg\0";
const TMB: &[u8] = b"tmb\0";

/// A collection and its versions. `ctag` changes whenever the collection
/// or any member changes; it is also the newest sync token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectionRecord<P> {
    pub props: P,
    /// When it was created: sync tokens from before are invalid.
    pub created: AggregateVersion,
    /// The last change to the collection's own properties.
    pub version: AggregateVersion,
    pub ctag: AggregateVersion,
}

/// A stored resource. Its ETag is derived from `version`, which comes
/// from the log position, so every instance serves the same ETag.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectRecord {
    pub uid: String,
    /// VEVENT, VTODO, VJOURNAL for calendar objects; None for vCards.
    pub component: Option<String>,
    pub body: String,
    pub version: AggregateVersion,
    /// `occurred_at` of the event that wrote it, in Unix milliseconds:
    /// `getlastmodified`, the same on every instance.
    pub modified_ms: i64,
}

impl ObjectRecord {
    /// The strong ETag, quotes included.
    pub fn etag(&self) -> String {
        format!("\"{}\"", self.version)
    }

    fn frame(&self) -> ObjectFrame<'_> {
        ObjectFrame {
            uid: &self.uid,
            component: self.component.as_deref(),
            body: &self.body,
            version: self.version,
            modified_ms: self.modified_ms,
        }
    }

    pub fn meta(&self) -> ObjectMeta {
        ObjectMeta {
            uid: self.uid.clone(),
            component: self.component.clone(),
            version: self.version,
            modified_ms: self.modified_ms,
            length: self.body.len() as u64,
        }
    }
}

/// Everything about a stored resource but its body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectMeta {
    pub uid: String,
    pub component: Option<String>,
    pub version: AggregateVersion,
    pub modified_ms: i64,
    /// Of the body, in bytes: `getcontentlength`.
    pub length: u64,
}

impl ObjectMeta {
    /// The strong ETag, quotes included (the same as the record's).
    pub fn etag(&self) -> String {
        format!("\"{}\"", self.version)
    }
}

/// A resource as it is written, borrowing its parts: a put frames the
/// event's body and UID directly, with no owned [`ObjectRecord`] between.
struct ObjectFrame<'a> {
    uid: &'a str,
    component: Option<&'a str>,
    body: &'a str,
    version: AggregateVersion,
    modified_ms: i64,
}

/// `version u64 ‖ modified_ms i64 ‖ length u64 ‖ component length u8 ‖
/// component ‖ uid length u32 ‖ uid ‖ body`, integers big-endian; an
/// absent component has length 255.
fn object_bytes(object: &ObjectFrame<'_>) -> Vec<u8> {
    let component = object.component.unwrap_or("");
    let mut out = Vec::with_capacity(33 + component.len() + object.uid.len() + object.body.len());
    out.extend_from_slice(&object.version.0.to_be_bytes());
    out.extend_from_slice(&object.modified_ms.to_be_bytes());
    out.extend_from_slice(&(object.body.len() as u64).to_be_bytes());
    match object.component {
        // Component names are short (VEVENT...); the projection checked it.
        Some(c) => {
            out.push(c.len().min(254) as u8);
            out.extend_from_slice(&c.as_bytes()[..c.len().min(254)]);
        }
        None => out.push(255),
    }
    out.extend_from_slice(&(object.uid.len() as u32).to_be_bytes());
    out.extend_from_slice(object.uid.as_bytes());
    out.extend_from_slice(object.body.as_bytes());
    out
}

/// Reads what [`object_bytes`] wrote, up to the body.
fn split_object(bytes: &[u8]) -> Result<(ObjectMeta, &[u8]), String> {
    fn take<'a>(bytes: &mut &'a [u8], n: usize) -> Result<&'a [u8], String> {
        if bytes.len() < n {
            return Err("object value cut short".into());
        }
        let (head, rest) = bytes.split_at(n);
        *bytes = rest;
        Ok(head)
    }
    fn text(bytes: &[u8]) -> Result<String, String> {
        std::str::from_utf8(bytes)
            .map(str::to_string)
            .map_err(|e| format!("object text: {e}"))
    }
    let mut rest = bytes;
    let u64_at = |b: &[u8]| u64::from_be_bytes(b.try_into().unwrap_or([0; 8]));
    let version = AggregateVersion(u64_at(take(&mut rest, 8)?));
    let modified_ms = u64_at(take(&mut rest, 8)?) as i64;
    let length = u64_at(take(&mut rest, 8)?);
    let component = match take(&mut rest, 1)?[0] {
        255 => None,
        n => Some(text(take(&mut rest, usize::from(n))?)?),
    };
    let uid_len = u32::from_be_bytes(take(&mut rest, 4)?.try_into().unwrap_or([0; 4]));
    let uid = text(take(&mut rest, uid_len as usize)?)?;
    let meta = ObjectMeta {
        uid,
        component,
        version,
        modified_ms,
        length,
    };
    Ok((meta, rest))
}

fn parse_meta(bytes: &[u8]) -> Result<ObjectMeta, String> {
    split_object(bytes).map(|(meta, _)| meta)
}

fn parse_object(bytes: &[u8]) -> Result<ObjectRecord, String> {
    let (meta, body) = split_object(bytes)?;
    let body = std::str::from_utf8(body).map_err(|e| format!("object body: {e}"))?;
    Ok(ObjectRecord {
        uid: meta.uid,
        component: meta.component,
        body: body.to_string(),
        version: meta.version,
        modified_ms: meta.modified_ms,
    })
}

/// One entry of a collection's change list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub href: String,
    pub deleted: bool,
}

/// A [`Change`] as it is written, borrowing the href: the same CBOR (a
/// map of `href` and `deleted`) without a String per write.
#[derive(Serialize)]
struct ChangeRef<'a> {
    href: &'a str,
    deleted: bool,
}

/// Applies a PROPPATCH of dead properties: `Some` sets, `None` removes.
pub(crate) fn patch_dead(dead: &mut DeadProperties, patch: &DeadPropertiesPatch) {
    for (name, value) in patch {
        match value {
            Some(xml) => dead.insert(name.clone(), xml.clone()),
            None => dead.remove(name),
        };
    }
}

/// What a put carries once its body was validated.
pub(crate) struct NewObject<'a> {
    pub collection: &'a str,
    pub href: &'a str,
    pub uid: &'a str,
    pub component: Option<&'a str>,
    pub body: &'a str,
}

/// What a write replaces at its href: the UID and version it held.
#[derive(Clone, Copy)]
struct Replaced<'a> {
    uid: &'a str,
    version: AggregateVersion,
}

impl ObjectMeta {
    fn replaced(&self) -> Replaced<'_> {
        Replaced {
            uid: &self.uid,
            version: self.version,
        }
    }
}

fn col_key(owner: &str, col: &str) -> Vec<u8> {
    key(COL, &[owner.as_bytes(), col.as_bytes()])
}
fn obj_key(owner: &str, col: &str, href: &str) -> Vec<u8> {
    key(OBJ, &[owner.as_bytes(), col.as_bytes(), href.as_bytes()])
}
fn uid_key(owner: &str, col: &str, uid: &str) -> Vec<u8> {
    key(UID, &[owner.as_bytes(), col.as_bytes(), uid.as_bytes()])
}
fn chg_key(owner: &str, col: &str, version: AggregateVersion, href: &str) -> Vec<u8> {
    let mut k = under(CHG, &[owner.as_bytes(), col.as_bytes()]);
    k.extend_from_slice(&version.0.to_be_bytes());
    k.extend_from_slice(href.as_bytes());
    k
}
fn tmb_key(owner: &str, col: &str, href: &str) -> Vec<u8> {
    key(TMB, &[owner.as_bytes(), col.as_bytes(), href.as_bytes()])
}

/// Keys a view version keeps per resource beside the resource itself
/// (`calendars@2`: its time index), written and dropped with it.
pub(crate) trait ObjectIndex: Sync {
    /// The prefixes of its keys, each followed by `owner\0collection\0`,
    /// so that deleting a collection drops its entries.
    fn prefixes(&self) -> &'static [&'static [u8]];
    /// Indexes the resource with `body` now at `(owner, collection,
    /// href)`; `tree` is the body's calendar tree when the caller has it.
    fn insert(
        &self,
        view: &mut ViewTxn<'_>,
        at: (&str, &str, &str),
        body: &str,
        tree: Option<&Component>,
    );
    /// Drops the entries of the resource at `(owner, collection, href)`.
    fn remove(&self, view: &mut ViewTxn<'_>, at: (&str, &str, &str)) -> Result<(), StoreError>;
}

/// The apply side, parameterised by the collection's property type.
pub(crate) struct Collections<'e, 'v, 't> {
    pub event: &'e Applied<'e>,
    pub view: &'v mut ViewTxn<'t>,
    /// "calendar" or "address book", for messages.
    pub noun: &'static str,
    pub index: Option<&'static dyn ObjectIndex>,
}

impl<'e, 'v, 't> Collections<'e, 'v, 't> {
    fn owner(&self) -> &'e str {
        &self.event.event.partition_key
    }

    fn load<P: DeserializeOwned>(
        &self,
        col: &str,
    ) -> Result<Option<CollectionRecord<P>>, StoreError> {
        self.view.get_as(&col_key(self.owner(), col))
    }

    pub fn create<P: Serialize + DeserializeOwned>(
        &mut self,
        col: &str,
        props: P,
    ) -> Result<Outcome, ApplyError> {
        check_name(self.noun, col)?;
        let current = self.load::<P>(col)?.map(|c| c.version);
        if let Some(version) = current {
            if let Err(r) = check_expected(self.event.event.expected_version, version) {
                return r.into();
            }
            return Rejection::AlreadyExists {
                what: format!("{} {col}", self.noun),
            }
            .into();
        }
        if let Err(r) = check_expected(self.event.event.expected_version, AggregateVersion::ABSENT)
        {
            return r.into();
        }
        let v = self.event.version();
        let record = CollectionRecord {
            props,
            created: v,
            version: v,
            ctag: v,
        };
        self.view.put_as(col_key(self.owner(), col), &record);
        Ok(Outcome::Applied { version: v })
    }

    pub fn update<P: Serialize + DeserializeOwned>(
        &mut self,
        col: &str,
        change: impl FnOnce(&mut P),
    ) -> Result<Outcome, ApplyError> {
        let Some(mut record) = self.load::<P>(col)? else {
            return self.not_found(col);
        };
        if let Err(r) = check_expected(self.event.event.expected_version, record.version) {
            return r.into();
        }
        change(&mut record.props);
        let v = self.event.version();
        record.version = v;
        record.ctag = v;
        self.view.put_as(col_key(self.owner(), col), &record);
        Ok(Outcome::Applied { version: v })
    }

    /// Deletes a collection and everything in it.
    pub fn delete<P: Serialize + DeserializeOwned>(
        &mut self,
        col: &str,
    ) -> Result<Outcome, ApplyError> {
        let Some(record) = self.load::<P>(col)? else {
            return self.not_found(col);
        };
        if let Err(r) = check_expected(self.event.event.expected_version, record.version) {
            return r.into();
        }
        self.drop_collection(col)?;
        Ok(Outcome::Applied {
            version: AggregateVersion::ABSENT,
        })
    }

    /// Deletes every collection of the owner (the owner was deleted), each
    /// the way [`Collections::delete`] does, without a version check.
    pub fn delete_all(&mut self) -> Result<Outcome, ApplyError> {
        let prefix = under(COL, &[self.owner().as_bytes()]);
        for k in self.view.keys_with_prefix(&prefix)? {
            let col = String::from_utf8_lossy(&k[prefix.len()..]).into_owned();
            self.drop_collection(&col)?;
        }
        Ok(Outcome::Applied {
            version: AggregateVersion::ABSENT,
        })
    }

    /// Removes a collection with everything kept under it.
    fn drop_collection(&mut self, col: &str) -> Result<(), StoreError> {
        let owner = self.owner();
        let extra = self.index.map_or(&[][..], |i| i.prefixes());
        for prefix in [OBJ, UID, CHG, TMB].iter().chain(extra) {
            for k in self
                .view
                .keys_with_prefix(&under(prefix, &[owner.as_bytes(), col.as_bytes()]))?
            {
                self.view.delete(k);
            }
        }
        self.drop_grants(col)?;
        self.view.delete(col_key(owner, col));
        Ok(())
    }

    fn not_found(&self, col: &str) -> Result<Outcome, ApplyError> {
        Rejection::NotFound {
            what: format!("{} {col}", self.noun),
        }
        .into()
    }

    /// Puts a resource. `accepts` says whether the collection takes the
    /// resource's component.
    pub fn put<P: Serialize + DeserializeOwned>(
        &mut self,
        object: NewObject<'_>,
        accepts: impl FnOnce(&P, Option<&str>) -> bool,
    ) -> Result<Outcome, ApplyError> {
        self.put_with_tree(object, None, accepts)
    }

    /// [`Collections::put`] of a calendar object whose validation built
    /// its tree (at least [`formats::ical::tree::TreeScope::Occurrences`]),
    /// so the index does not parse the body again.
    pub fn put_with_tree<P: Serialize + DeserializeOwned>(
        &mut self,
        object: NewObject<'_>,
        tree: Option<&Component>,
        accepts: impl FnOnce(&P, Option<&str>) -> bool,
    ) -> Result<Outcome, ApplyError> {
        let NewObject {
            collection: col,
            href,
            uid,
            component,
            body,
        } = object;
        check_name("href", href)?;
        check_name("UID", uid)?;
        let Some(record) = self.load::<P>(col)? else {
            return self.not_found(col);
        };
        // Only its UID and version matter: its body is not copied out.
        let existing = self.load_meta(col, href)?;
        let current = existing
            .as_ref()
            .map_or(AggregateVersion::ABSENT, |o| o.version);
        if let Err(r) = check_expected(self.event.event.expected_version, current) {
            return r.into();
        }
        if !accepts(&record.props, component) {
            return Rejection::UnsupportedComponent {
                component: component.unwrap_or_default().to_string(),
            }
            .into();
        }
        if let Some(rejection) = self.uid_taken(col, uid, href, None)? {
            return rejection.into();
        }
        let object = ObjectFrame {
            uid,
            component,
            body,
            version: self.event.version(),
            modified_ms: self.event.event.occurred_at.timestamp_millis(),
        };
        let existing = existing.as_ref().map(ObjectMeta::replaced);
        self.write_object(col, href, &object, existing, tree)?;
        self.touch(col, record);
        Ok(Outcome::Applied {
            version: self.event.version(),
        })
    }

    pub fn remove<P: Serialize + DeserializeOwned>(
        &mut self,
        col: &str,
        href: &str,
    ) -> Result<Outcome, ApplyError> {
        let Some(record) = self.load::<P>(col)? else {
            return self.not_found(col);
        };
        let Some(existing) = self.load_object(col, href)? else {
            return self.object_not_found(col, href);
        };
        if let Err(r) = check_expected(self.event.event.expected_version, existing.version) {
            return r.into();
        }
        self.erase_object(col, href, &existing)?;
        self.touch(col, record);
        Ok(Outcome::Applied {
            version: AggregateVersion::ABSENT,
        })
    }

    /// Moves a resource to another href, in its collection or another of
    /// the same owner. The expected version is the source's.
    pub fn move_object<P: Serialize + DeserializeOwned>(
        &mut self,
        from: (&str, &str),
        to: (&str, &str),
        overwrite: bool,
        accepts: impl FnOnce(&P, Option<&str>) -> bool,
    ) -> Result<Outcome, ApplyError> {
        let ((from_col, from_href), (to_col, to_href)) = (from, to);
        check_name("href", to_href)?;
        let Some(source_col) = self.load::<P>(from_col)? else {
            return self.not_found(from_col);
        };
        let Some(source) = self.load_object(from_col, from_href)? else {
            return self.object_not_found(from_col, from_href);
        };
        if let Err(r) = check_expected(self.event.event.expected_version, source.version) {
            return r.into();
        }
        if from == to {
            return Rejection::NotAllowed {
                reason: "a resource cannot be moved onto itself".into(),
            }
            .into();
        }
        let Some(target_col) = self.load::<P>(to_col)? else {
            return self.not_found(to_col);
        };
        if !accepts(&target_col.props, source.component.as_deref()) {
            return Rejection::UnsupportedComponent {
                component: source.component.clone().unwrap_or_default(),
            }
            .into();
        }
        let replaced = self.load_meta(to_col, to_href)?;
        if replaced.is_some() && !overwrite {
            return Rejection::AlreadyExists {
                what: format!("{to_href} in {} {to_col}", self.noun),
            }
            .into();
        }
        let moving_within = (from_col == to_col).then_some(from_href);
        if let Some(rejection) = self.uid_taken(to_col, &source.uid, to_href, moving_within)? {
            return rejection.into();
        }
        self.erase_object(from_col, from_href, &source)?;
        let moved = ObjectFrame {
            version: self.event.version(),
            modified_ms: self.event.event.occurred_at.timestamp_millis(),
            ..source.frame()
        };
        let replaced = replaced.as_ref().map(ObjectMeta::replaced);
        self.write_object(to_col, to_href, &moved, replaced, None)?;
        if from_col == to_col {
            self.touch(to_col, target_col);
        } else {
            self.touch(from_col, source_col);
            self.touch(to_col, target_col);
        }
        Ok(Outcome::Applied {
            version: self.event.version(),
        })
    }

    /// Writes a resource of a collection the projection derives itself
    /// (the directory's address book), which no client writes to: no
    /// expected version or UID check. A body equal to the stored one is
    /// left alone, so its ETag and the ctag stay. Nothing happens when the
    /// collection does not exist.
    pub fn put_derived<P: Serialize + DeserializeOwned>(
        &mut self,
        col: &str,
        href: &str,
        uid: &str,
        component: Option<&str>,
        body: &str,
    ) -> Result<(), StoreError> {
        let Some(record) = self.load::<P>(col)? else {
            return Ok(());
        };
        let existing = self.load_object(col, href)?;
        if existing
            .as_ref()
            .is_some_and(|o| o.body == body && o.uid == uid)
        {
            return Ok(());
        }
        let object = ObjectFrame {
            uid,
            component,
            body,
            version: self.event.version(),
            modified_ms: self.event.event.occurred_at.timestamp_millis(),
        };
        let existing = existing.as_ref().map(|o| Replaced {
            uid: &o.uid,
            version: o.version,
        });
        self.write_object(col, href, &object, existing, None)?;
        self.touch(col, record);
        Ok(())
    }

    /// Removes a resource of a derived collection (see
    /// [`Collections::put_derived`]); nothing happens when it is absent.
    pub fn remove_derived<P: Serialize + DeserializeOwned>(
        &mut self,
        col: &str,
        href: &str,
    ) -> Result<(), StoreError> {
        let Some(record) = self.load::<P>(col)? else {
            return Ok(());
        };
        let Some(existing) = self.load_object(col, href)? else {
            return Ok(());
        };
        self.erase_object(col, href, &existing)?;
        self.touch(col, record);
        Ok(())
    }

    /// The owner's collections, by name, as this event sees them.
    pub fn owned<P: DeserializeOwned>(
        &self,
    ) -> Result<Vec<(String, CollectionRecord<P>)>, StoreError> {
        let prefix = under(COL, &[self.owner().as_bytes()]);
        let mut out = Vec::new();
        for k in self.view.keys_with_prefix(&prefix)? {
            let col = String::from_utf8_lossy(&k[prefix.len()..]).into_owned();
            if let Some(record) = self.view.get_as(&k)? {
                out.push((col, record));
            }
        }
        Ok(out)
    }

    /// The href holding `uid` in `col`, as this event sees it.
    pub fn href_of_uid(&self, col: &str, uid: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .view
            .get(&uid_key(self.owner(), col, uid))?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    /// The hrefs of `col`, in order.
    pub fn hrefs(&self, col: &str) -> Result<Vec<String>, StoreError> {
        let prefix = under(OBJ, &[self.owner().as_bytes(), col.as_bytes()]);
        Ok(self
            .view
            .keys_with_prefix(&prefix)?
            .iter()
            .map(|k| String::from_utf8_lossy(&k[prefix.len()..]).into_owned())
            .collect())
    }

    /// The text of the object at `col`/`href`, as this event left it.
    pub fn object_body(&self, col: &str, href: &str) -> Result<Option<String>, StoreError> {
        Ok(self.load_object(col, href)?.map(|o| o.body))
    }

    fn load_object(&self, col: &str, href: &str) -> Result<Option<ObjectRecord>, StoreError> {
        self.view
            .get_with(&obj_key(self.owner(), col, href), parse_object)
    }

    fn load_meta(&self, col: &str, href: &str) -> Result<Option<ObjectMeta>, StoreError> {
        self.view
            .get_with(&obj_key(self.owner(), col, href), parse_meta)
    }

    /// The rejection when `uid` is held in `col` by another href than
    /// `href` (or than `leaving`, the source of a move within `col`).
    fn uid_taken(
        &self,
        col: &str,
        uid: &str,
        href: &str,
        leaving: Option<&str>,
    ) -> Result<Option<Rejection>, StoreError> {
        let Some(holder) = self.view.get(&uid_key(self.owner(), col, uid))? else {
            return Ok(None);
        };
        let held_by = |h: &str| holder == h.as_bytes();
        if held_by(href) || leaving.is_some_and(held_by) {
            return Ok(None);
        }
        Ok(Some(Rejection::UidConflict {
            href: String::from_utf8_lossy(&holder).into_owned(),
        }))
    }

    /// Stores `object` at `href`, replacing `existing`, with its UID index
    /// entry and its change, dropping the href's older change or tombstone;
    /// `tree` is the body's calendar tree, when the caller has it.
    fn write_object(
        &mut self,
        col: &str,
        href: &str,
        object: &ObjectFrame<'_>,
        existing: Option<Replaced<'_>>,
        tree: Option<&Component>,
    ) -> Result<(), StoreError> {
        let owner = self.owner();
        if let Some(old) = existing {
            self.view.delete(chg_key(owner, col, old.version, href));
            if old.uid != object.uid {
                self.view.delete(uid_key(owner, col, old.uid));
            }
        } else if let Some(deleted) = self
            .view
            .get_as::<AggregateVersion>(&tmb_key(owner, col, href))?
        {
            self.view.delete(chg_key(owner, col, deleted, href));
            self.view.delete(tmb_key(owner, col, href));
        }
        // An overwrite that keeps its UID already holds the index entry.
        if existing.is_none_or(|old| old.uid != object.uid) {
            self.view
                .put(uid_key(owner, col, object.uid), href.as_bytes().to_vec());
        }
        if let Some(index) = self.index {
            if existing.is_some() {
                index.remove(self.view, (owner, col, href))?;
            }
            index.insert(self.view, (owner, col, href), object.body, tree);
        }
        let v = object.version;
        self.view
            .put(obj_key(owner, col, href), object_bytes(object));
        self.view.put_as(
            chg_key(owner, col, v, href),
            &ChangeRef {
                href,
                deleted: false,
            },
        );
        Ok(())
    }

    /// Removes the resource at `href`, leaving a deletion in the change
    /// list and a tombstone pointing at it.
    fn erase_object(
        &mut self,
        col: &str,
        href: &str,
        existing: &ObjectRecord,
    ) -> Result<(), StoreError> {
        let owner = self.owner();
        if let Some(index) = self.index {
            index.remove(self.view, (owner, col, href))?;
        }
        let v = self.event.version();
        self.view.delete(obj_key(owner, col, href));
        self.view.delete(uid_key(owner, col, &existing.uid));
        self.view
            .delete(chg_key(owner, col, existing.version, href));
        self.view.put_as(
            chg_key(owner, col, v, href),
            &ChangeRef {
                href,
                deleted: true,
            },
        );
        self.view.put_as(tmb_key(owner, col, href), &v);
        Ok(())
    }

    /// Records that a collection's members changed at this event.
    fn touch<P: Serialize>(&mut self, col: &str, mut record: CollectionRecord<P>) {
        record.ctag = self.event.version();
        self.view.put_as(col_key(self.owner(), col), &record);
    }

    fn object_not_found(&self, col: &str, href: &str) -> Result<Outcome, ApplyError> {
        Rejection::NotFound {
            what: format!("{href} in {} {col}", self.noun),
        }
        .into()
    }
}

/// The read side of a collections view.
#[derive(Clone)]
pub struct CollectionsView<P> {
    tree: ReadTree,
    _props: std::marker::PhantomData<fn() -> P>,
}

impl<P: DeserializeOwned> CollectionsView<P> {
    pub(crate) fn new(tree: ViewTree) -> Self {
        CollectionsView {
            tree: ReadTree::new(tree),
            _props: std::marker::PhantomData,
        }
    }

    /// An owner's collections by name.
    pub fn collections(
        &self,
        owner: &str,
    ) -> Result<Vec<(String, CollectionRecord<P>)>, StoreError> {
        self.tree.list(&under(COL, &[owner.as_bytes()]))
    }

    pub fn collection(
        &self,
        owner: &str,
        col: &str,
    ) -> Result<Option<CollectionRecord<P>>, StoreError> {
        self.tree.get(&col_key(owner, col))
    }

    pub fn object(
        &self,
        owner: &str,
        col: &str,
        href: &str,
    ) -> Result<Option<ObjectRecord>, StoreError> {
        self.tree.get_with(&obj_key(owner, col, href), parse_object)
    }

    /// A resource without its body.
    pub fn object_meta(
        &self,
        owner: &str,
        col: &str,
        href: &str,
    ) -> Result<Option<ObjectMeta>, StoreError> {
        self.tree.get_with(&obj_key(owner, col, href), parse_meta)
    }

    /// The href holding a UID in a collection.
    pub fn href_of_uid(
        &self,
        owner: &str,
        col: &str,
        uid: &str,
    ) -> Result<Option<String>, StoreError> {
        Ok(self
            .tree
            .raw(&uid_key(owner, col, uid))?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    /// Every resource of a collection by href.
    pub fn objects(
        &self,
        owner: &str,
        col: &str,
    ) -> Result<Vec<(String, ObjectRecord)>, StoreError> {
        self.tree.list_with(
            &under(OBJ, &[owner.as_bytes(), col.as_bytes()]),
            parse_object,
        )
    }

    /// Every resource of a collection by href, without bodies.
    pub fn members(&self, owner: &str, col: &str) -> Result<Vec<(String, ObjectMeta)>, StoreError> {
        self.tree
            .list_with(&under(OBJ, &[owner.as_bytes(), col.as_bytes()]), parse_meta)
    }

    /// Changes after `since`, oldest first: each href once, at its latest
    /// change, deletions included.
    pub fn changes_since(
        &self,
        owner: &str,
        col: &str,
        since: AggregateVersion,
    ) -> Result<Vec<(AggregateVersion, Change)>, StoreError> {
        self.tree
            .after(&under(CHG, &[owner.as_bytes(), col.as_bytes()]), since)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_frames_round_trip_and_refuse_truncation() {
        for component in [Some("VEVENT".to_string()), None] {
            let object = ObjectRecord {
                uid: "ü-1@example.com".into(),
                component,
                body: "BEGIN:VCALENDAR\r\nX:é\r\nEND:VCALENDAR\r\n".into(),
                version: AggregateVersion(42),
                modified_ms: 1_767_225_600_000,
            };
            let bytes = object_bytes(&object.frame());
            assert_eq!(parse_object(&bytes), Ok(object.clone()));
            assert_eq!(parse_meta(&bytes), Ok(object.meta()));
            for cut in [0, 7, 24, 26, 30] {
                assert!(parse_meta(&bytes[..cut]).is_err(), "{cut}");
            }
        }
    }

    #[test]
    fn a_borrowed_change_is_stored_as_a_change() {
        for deleted in [false, true] {
            let href = "ü 1.ics";
            let owned = Change {
                href: href.to_string(),
                deleted,
            };
            let bytes = crate::store::encode(&ChangeRef { href, deleted });
            assert_eq!(bytes, crate::store::encode(&owned));
            assert_eq!(crate::store::decode::<Change>(&bytes), Ok(owned));
        }
    }
}
