//! `X-Request-Id`: set by the proxy (or kept when the client sent one),
//! passed to the backend, answered back, and named on every log line of
//! the request on both sides.

use axum::http::{HeaderName, HeaderValue};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::LazyLock;
use std::time::{SystemTime, UNIX_EPOCH};

pub static HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// The id a client or proxy gave, when it is one we can log safely: short,
/// visible ASCII.
pub fn given(value: Option<&HeaderValue>) -> Option<HeaderValue> {
    let value = value?;
    let ok = !value.is_empty()
        && value.len() <= 128
        && value.as_bytes().iter().all(|b| b.is_ascii_graphic());
    ok.then(|| value.clone())
}

/// A fresh request id, unique across processes: this process's random
/// prefix and a counter (a UUID per request asked the OS for randomness
/// on every one).
pub fn fresh() -> HeaderValue {
    static PREFIX: LazyLock<u64> = LazyLock::new(|| {
        let random = uuid::Uuid::now_v7().as_u64_pair().1;
        // The time too, should two processes draw the same bits.
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        random ^ nanos.rotate_left(32)
    });
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let id = format!("{:016x}{n:016x}", *PREFIX);
    HeaderValue::from_str(&id).unwrap_or_else(|_| HeaderValue::from_static("unknown"))
}

/// The request's id: the one given, else a fresh one.
pub fn of(value: Option<&HeaderValue>) -> HeaderValue {
    given(value).unwrap_or_else(fresh)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_short_visible_ids_are_kept() {
        let given = |s: &str| given(Some(&HeaderValue::from_str(s).unwrap()));
        assert!(given("abc-123").is_some());
        assert!(given("has space").is_none());
        assert!(given(&"x".repeat(129)).is_none());
        assert!(super::given(None).is_none());
        assert_eq!(fresh().len(), 32);
        assert_ne!(fresh(), fresh());
    }
}
