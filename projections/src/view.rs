//! The write side of a view during one batch: an overlay of pending writes
//! over the projection's tree, so an apply step reads its own earlier
//! writes, writes to one key coalesce within a batch, and one refused
//! event's partial writes can be dropped without touching the others.

use crate::store::{decode, encode, StoreError, ViewTree, Writes};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::collections::BTreeMap;

/// Key layout shared by every projection. Each projection adds its own
/// prefixes; parts are joined with NUL, which names may not contain.
pub mod keys {
    use events::Domain;

    pub const POSITION: &[u8] = b"pos\0";
    pub const OUTCOME: &[u8] = b"out\0";
    pub const QUARANTINE: &[u8] = b"qua\0";
    pub const FENCE: &[u8] = b"fen\0";

    /// `prefix part \0 part \0 ...`
    pub fn key(prefix: &[u8], parts: &[&[u8]]) -> Vec<u8> {
        let len = prefix.len() + parts.iter().map(|p| p.len() + 1).sum::<usize>();
        let mut k = Vec::with_capacity(len);
        k.extend_from_slice(prefix);
        for (i, part) in parts.iter().enumerate() {
            if i > 0 {
                k.push(0);
            }
            k.extend_from_slice(part);
        }
        k
    }

    /// The same key with a trailing NUL: the prefix of everything under it.
    pub fn under(prefix: &[u8], parts: &[&[u8]]) -> Vec<u8> {
        let mut k = key(prefix, parts);
        k.push(0);
        k
    }

    pub fn position(domain: Domain, partition: u32) -> Vec<u8> {
        key(
            POSITION,
            &[domain.as_str().as_bytes(), &partition.to_be_bytes()],
        )
    }

    pub fn parse_position(k: &[u8]) -> Option<(Domain, u32)> {
        parse_partition(POSITION, k)
    }

    /// The topic and partition of a per-partition key under `prefix`.
    pub fn parse_partition(prefix: &[u8], k: &[u8]) -> Option<(Domain, u32)> {
        let rest = k.strip_prefix(prefix)?;
        let (name, partition) = rest.split_at(rest.len().checked_sub(5)?);
        let domain = std::str::from_utf8(name).ok()?.parse().ok()?;
        let partition = partition.strip_prefix(&[0])?;
        Some((domain, u32::from_be_bytes(partition.try_into().ok()?)))
    }

    /// The last fence applied in a partition (same layout as positions).
    pub fn fence(domain: Domain, partition: u32) -> Vec<u8> {
        key(
            FENCE,
            &[domain.as_str().as_bytes(), &partition.to_be_bytes()],
        )
    }

    /// Event ids are stored as their 16 raw bytes.
    pub fn outcome(event_id: &[u8; 16]) -> Vec<u8> {
        key(OUTCOME, &[event_id])
    }

    pub fn quarantine(domain: Domain, partition: u32, offset: u64) -> Vec<u8> {
        key(
            QUARANTINE,
            &[
                domain.as_str().as_bytes(),
                &partition.to_be_bytes(),
                &offset.to_be_bytes(),
            ],
        )
    }
}

/// A stored key and its value.
pub type Entry = (Vec<u8>, Vec<u8>);

/// Writes staged by one batch, over the projection's keyspace.
pub struct ViewTxn<'t> {
    tree: &'t ViewTree,
    batch: Writes,
    pending: Writes,
}

impl<'t> ViewTxn<'t> {
    pub(crate) fn new(tree: &'t ViewTree) -> ViewTxn<'t> {
        ViewTxn {
            tree,
            batch: BTreeMap::new(),
            pending: BTreeMap::new(),
        }
    }

    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        if let Some(v) = self.pending.get(key).or_else(|| self.batch.get(key)) {
            return Ok(v.clone());
        }
        Ok(self.tree.get(key)?.map(|v| v.to_vec()))
    }

    pub fn contains(&self, key: &[u8]) -> Result<bool, StoreError> {
        if let Some(v) = self.pending.get(key).or_else(|| self.batch.get(key)) {
            return Ok(v.is_some());
        }
        self.tree.contains(key)
    }

    /// Reads and decodes a CBOR value.
    pub fn get_as<T: DeserializeOwned>(&self, key: &[u8]) -> Result<Option<T>, StoreError> {
        self.get_with(key, decode)
    }

    /// Reads a value with its own decoder (for values not stored as CBOR).
    pub fn get_with<T>(
        &self,
        key: &[u8],
        parse: impl Fn(&[u8]) -> Result<T, String>,
    ) -> Result<Option<T>, StoreError> {
        match self.get(key)? {
            None => Ok(None),
            Some(bytes) => parse(&bytes)
                .map(Some)
                .map_err(|reason| StoreError::Corrupt {
                    projection: self.tree.name().to_string(),
                    key: String::from_utf8_lossy(key).into_owned(),
                    reason,
                }),
        }
    }

    pub fn put(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.pending.insert(key, Some(value));
    }

    pub fn put_as<T: Serialize>(&mut self, key: Vec<u8>, value: &T) {
        self.put(key, encode(value));
    }

    pub fn delete(&mut self, key: Vec<u8>) {
        self.pending.insert(key, None);
    }

    /// Every live key under `prefix`, in key order, with staged writes.
    pub fn keys_with_prefix(&self, prefix: &[u8]) -> Result<Vec<Vec<u8>>, StoreError> {
        let stored = self
            .tree
            .prefix_keys(prefix)
            .map(|k| k.map(|k| (k.to_vec(), ())))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(self
            .with_staged(prefix, stored, |_| ())
            .into_iter()
            .map(|(k, ())| k)
            .collect())
    }

    /// Every live entry (key, value) under `prefix`, in key order, with
    /// staged writes.
    pub fn entries_with_prefix(&self, prefix: &[u8]) -> Result<Vec<Entry>, StoreError> {
        let stored = self
            .tree
            .prefix(prefix)
            .map(|kv| kv.map(|(k, v)| (k.to_vec(), v.to_vec())))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(self.with_staged(prefix, stored, <[u8]>::to_vec))
    }

    /// `stored` (what the tree holds under `prefix`, in key order) with
    /// this batch's and this event's writes under `prefix` laid over it.
    fn with_staged<T>(
        &self,
        prefix: &[u8],
        stored: Vec<(Vec<u8>, T)>,
        value: impl Fn(&[u8]) -> T,
    ) -> Vec<(Vec<u8>, T)> {
        let staged = |layer: &Writes| {
            layer
                .range(prefix.to_vec()..)
                .next()
                .is_some_and(|(k, _)| k.starts_with(prefix))
        };
        if !staged(&self.batch) && !staged(&self.pending) {
            return stored;
        }
        let mut merged: BTreeMap<Vec<u8>, Option<T>> =
            stored.into_iter().map(|(k, v)| (k, Some(v))).collect();
        for layer in [&self.batch, &self.pending] {
            for (k, v) in layer.range(prefix.to_vec()..) {
                if !k.starts_with(prefix) {
                    break;
                }
                merged.insert(k.clone(), v.as_deref().map(&value));
            }
        }
        merged
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k, v)))
            .collect()
    }

    /// Keeps the current event's writes.
    pub(crate) fn commit_event(&mut self) {
        let pending = std::mem::take(&mut self.pending);
        self.batch.extend(pending);
    }

    /// Drops the current event's writes (it was refused).
    pub(crate) fn abort_event(&mut self) {
        self.pending.clear();
    }

    /// The batch's writes, to commit atomically (with the positions).
    pub(crate) fn into_writes(mut self) -> Writes {
        self.commit_event();
        self.batch
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use events::Domain;

    #[test]
    fn position_keys_round_trip() {
        let k = keys::position(Domain::Directory, 7);
        assert_eq!(keys::parse_position(&k), Some((Domain::Directory, 7)));
        assert_eq!(keys::parse_position(b"pos\0x"), None);
    }

    #[test]
    fn overlay_reads_its_own_writes_and_aborts_cleanly() {
        let store = crate::testing::TestStore::new(crate::ProjectionId::new("t", 1));
        let tree = store.tree();
        tree.commit([(b"a\0x".to_vec(), Some(b"old".to_vec()))].into())
            .unwrap();
        let mut txn = ViewTxn::new(&tree);
        txn.put(b"a\0y".to_vec(), b"1".to_vec());
        txn.commit_event();
        txn.delete(b"a\0x".to_vec());
        txn.put(b"a\0z".to_vec(), b"2".to_vec());
        assert_eq!(
            txn.keys_with_prefix(b"a\0").unwrap(),
            vec![b"a\0y".to_vec(), b"a\0z".to_vec()]
        );
        txn.abort_event();
        assert_eq!(txn.get(b"a\0x").unwrap(), Some(b"old".to_vec()));
        assert_eq!(txn.keys_with_prefix(b"a\0").unwrap().len(), 2);
        tree.commit(txn.into_writes()).unwrap();
        assert_eq!(tree.prefix_keys(b"").count(), 2);
    }
}

/// Typed reads over a projection's keyspace, shared by the read views.
#[derive(Clone)]
pub(crate) struct ReadTree {
    tree: ViewTree,
}

impl ReadTree {
    pub(crate) fn new(tree: ViewTree) -> ReadTree {
        ReadTree { tree }
    }

    fn corrupt(&self, key: &[u8], reason: String) -> StoreError {
        StoreError::Corrupt {
            projection: self.tree.name().to_string(),
            key: String::from_utf8_lossy(key).into_owned(),
            reason,
        }
    }

    pub(crate) fn raw(&self, key: &[u8]) -> Result<Option<fjall::Slice>, StoreError> {
        self.tree.get(key)
    }

    pub(crate) fn get<T: DeserializeOwned>(&self, key: &[u8]) -> Result<Option<T>, StoreError> {
        self.get_with(key, decode)
    }

    /// A value read with its own decoder (for values not stored as CBOR).
    pub(crate) fn get_with<T>(
        &self,
        key: &[u8],
        parse: impl Fn(&[u8]) -> Result<T, String>,
    ) -> Result<Option<T>, StoreError> {
        match self.raw(key)? {
            None => Ok(None),
            Some(v) => parse(&v).map(Some).map_err(|r| self.corrupt(key, r)),
        }
    }

    /// Values under `prefix`, with the rest of each key as a string.
    pub(crate) fn list<T: DeserializeOwned>(
        &self,
        prefix: &[u8],
    ) -> Result<Vec<(String, T)>, StoreError> {
        self.list_with(prefix, decode)
    }

    /// [`ReadTree::list`] with its own decoder.
    pub(crate) fn list_with<T>(
        &self,
        prefix: &[u8],
        parse: impl Fn(&[u8]) -> Result<T, String>,
    ) -> Result<Vec<(String, T)>, StoreError> {
        let mut out = Vec::new();
        for item in self.tree.prefix(prefix) {
            let (k, v) = item?;
            let name = String::from_utf8_lossy(&k[prefix.len()..]).into_owned();
            out.push((name, parse(&v).map_err(|r| self.corrupt(&k, r))?));
        }
        Ok(out)
    }

    /// A number that grows with every event the view applies, and only
    /// then: the sum of the next offsets it stored (with its data, in the
    /// same batch). Caches of what the view holds are keyed by it.
    pub(crate) fn applied(&self) -> Result<u64, StoreError> {
        let mut sum = 0u64;
        for item in self.tree.prefix(keys::POSITION) {
            let (k, v) = item?;
            let offset = <[u8; 8]>::try_from(v.as_ref())
                .map(u64::from_be_bytes)
                .map_err(|_| self.corrupt(&k, "bad position value".into()))?;
            sum = sum.wrapping_add(offset);
        }
        Ok(sum)
    }

    /// The rest of each key under `prefix`, as strings.
    pub(crate) fn names(&self, prefix: &[u8]) -> Result<Vec<String>, StoreError> {
        let mut out = Vec::new();
        for k in self.tree.prefix_keys(prefix) {
            let k = k?;
            out.push(String::from_utf8_lossy(&k[prefix.len()..]).into_owned());
        }
        Ok(out)
    }

    /// Up to `limit` entries under `prefix`, in key order, with their full
    /// keys: those after the key `after` when it lies within `prefix`,
    /// else from the start of `prefix`.
    pub(crate) fn page<T: DeserializeOwned>(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(fjall::Slice, T)>, StoreError> {
        use std::ops::Bound;
        let start = match after {
            Some(a) if a >= prefix => Bound::Excluded(a.to_vec()),
            _ => Bound::Included(prefix.to_vec()),
        };
        let mut out = Vec::new();
        for item in self.tree.range((start, Bound::Unbounded)) {
            let (k, v) = item?;
            if !k.starts_with(prefix) || out.len() >= limit {
                break;
            }
            let value = decode(&v).map_err(|r| self.corrupt(&k, r))?;
            out.push((k, value));
        }
        Ok(out)
    }

    /// The keys from `from` (included) to `to` (excluded).
    pub(crate) fn keys_between(
        &self,
        from: &[u8],
        to: &[u8],
    ) -> Result<Vec<fjall::Slice>, StoreError> {
        let mut out = Vec::new();
        for item in self.tree.range(from.to_vec()..to.to_vec()) {
            out.push(item?.0);
        }
        Ok(out)
    }

    /// Entries `prefix + version [+ suffix]` with a version above `since`,
    /// oldest first: the change lists of collections and mailboxes.
    pub(crate) fn after<T: DeserializeOwned>(
        &self,
        prefix: &[u8],
        since: events::AggregateVersion,
    ) -> Result<Vec<(events::AggregateVersion, T)>, StoreError> {
        let mut start = prefix.to_vec();
        start.extend_from_slice(&since.0.saturating_add(1).to_be_bytes());
        let mut out = Vec::new();
        for item in self.tree.range(start..) {
            let (k, v) = item?;
            if !k.starts_with(prefix) {
                break;
            }
            // The version is the first 8 bytes after the prefix; what may
            // follow only keeps several changes of one version apart.
            let raw: [u8; 8] = k
                .get(prefix.len()..prefix.len() + 8)
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| self.corrupt(&k, "bad change key".into()))?;
            let value = decode(&v).map_err(|r| self.corrupt(&k, r))?;
            out.push((events::AggregateVersion(u64::from_be_bytes(raw)), value));
        }
        Ok(out)
    }
}
