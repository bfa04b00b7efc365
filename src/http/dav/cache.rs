//! Rendered multistatus bodies, keyed by what determines them.
//!
//! A PROPFIND or REPORT on a collection is a pure function of the request
//! (path, depth, body) and of the collection's state, and that state is
//! named by log positions (its sync token, its home's tag). So a body
//! rendered once can be served again for as long as that version is
//! current, and can never be served stale: a change moves the version and
//! the key with it. This is what lets a syncing client's repeated PROPFIND
//! cost a hash lookup instead of thousands of view reads.

use axum::body::Bytes;
use sha2::{Digest, Sha256};
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

pub type CacheKey = [u8; 32];

/// Builds a key from the parts that determine a response.
pub fn key(parts: &[&[u8]]) -> CacheKey {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part);
    }
    hasher.finalize().into()
}

/// A size-bounded map, evicting the oldest insertions first.
pub struct RenderCache {
    capacity: usize,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    bytes: usize,
    map: HashMap<CacheKey, Bytes>,
    order: VecDeque<CacheKey>,
}

impl RenderCache {
    pub fn new(capacity: usize) -> RenderCache {
        RenderCache {
            capacity,
            inner: Mutex::new(Inner::default()),
        }
    }

    pub fn get(&self, key: &CacheKey) -> Option<Bytes> {
        let found = {
            let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
            inner.map.get(key).cloned()
        };
        crate::telemetry::metrics().render_cache_lookup(found.is_some());
        found
    }

    pub fn insert(&self, key: CacheKey, body: Bytes) {
        if body.len() > self.capacity / 4 {
            return;
        }
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if inner.map.contains_key(&key) {
            return;
        }
        while inner.bytes + body.len() > self.capacity {
            let Some(old) = inner.order.pop_front() else {
                break;
            };
            if let Some(evicted) = inner.map.remove(&old) {
                inner.bytes -= evicted.len();
            }
        }
        inner.bytes += body.len();
        inner.order.push_back(key);
        inner.map.insert(key, body);
        let bytes = inner.bytes;
        drop(inner);
        crate::telemetry::metrics().render_cache_bytes(bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_oldest_first_and_stays_bounded() {
        let cache = RenderCache::new(40);
        for i in 0u8..6 {
            cache.insert(key(&[&[i]]), Bytes::from(vec![i; 10]));
        }
        assert!(cache.get(&key(&[&[0]])).is_none());
        assert!(cache.get(&key(&[&[1]])).is_none());
        assert_eq!(cache.get(&key(&[&[5]])).as_deref(), Some(&[5u8; 10][..]));
        assert_ne!(key(&[b"ab", b"c"]), key(&[b"a", b"bc"]));
    }
}
