//! `X-Request-Id`: set by the proxy (or kept when the client sent one),
//! passed to the backend, answered back, and named on every log line of
//! the request on both sides.

use axum::http::{HeaderName, HeaderValue};

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

/// A fresh request id: time-ordered, unique across installations.
pub fn fresh() -> HeaderValue {
    let id = uuid::Uuid::now_v7().simple().to_string();
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
    }
}
