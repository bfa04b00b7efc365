//! Every request, once: a request id (the proxy's or the client's
//! `X-Request-Id`, else a new one) on the answer and on everything logged
//! while it runs, one log line at its end, and its count and duration in
//! the metrics.
//!
//! The line names the method, the kind of resource, the status and the
//! time taken: never the path, a header or a body, which carry user names,
//! calendar names and credentials.

use crate::telemetry::{method_label, metrics, request_id};
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use std::time::Instant;
use tracing::Instrument;

pub(crate) async fn observe(mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = request_id::of(request.headers().get(&request_id::HEADER));
    request
        .headers_mut()
        .insert(request_id::HEADER.clone(), id.clone());
    let method = method_label(request.method().as_str());
    let kind = kind_of(request.uri().path());
    let span = tracing::info_span!("request", request_id = id.to_str().unwrap_or_default());
    let mut response = next.run(request).instrument(span.clone()).await;
    let took = started.elapsed();
    let status = response.status().as_u16();
    metrics().http_request(method, kind, status, took);
    span.in_scope(|| {
        tracing::info!(
            target: "reprise::http::request",
            method,
            kind,
            status,
            duration_ms = took.as_secs_f64() * 1000.0,
            "answered"
        )
    });
    response
        .headers_mut()
        .insert(request_id::HEADER.clone(), id);
    response
}

/// What a path names, as a metric label: one of a fixed set. Read from
/// the path's segments without decoding or allocating (every request
/// pays for it); the DAV handler parses the path properly.
pub(crate) fn kind_of(path: &str) -> &'static str {
    if path.starts_with("/admin") {
        return "admin";
    }
    if path.starts_with("/api/v1/mail") {
        return "mail";
    }
    if path == "/healthz" || path == "/readyz" {
        return "probe";
    }
    if path == "/" || path.starts_with("/.well-known/") {
        return "principal";
    }
    let Some(rest) = path.strip_prefix("/dav") else {
        return "other";
    };
    let mut segments = rest.split('/').filter(|s| !s.is_empty());
    let (collection, object) = match segments.next() {
        None | Some("principals") => return "principal",
        Some("files" | "attachments") => return "file",
        Some("calendars") => ("calendar", "object"),
        Some("addressbooks") => ("address_book", "card"),
        Some(_) => return "other",
    };
    // The principal's home, then a collection, then what is in it.
    match segments.count() {
        0 | 1 => "principal",
        2 => collection,
        _ => object,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_map_to_a_fixed_set_of_kinds() {
        let cases = [
            ("/dav/principals/alice@example.com/", "principal"),
            ("/dav/calendars/alice@example.com/", "principal"),
            ("/dav/calendars/alice@example.com/default/", "calendar"),
            ("/dav/calendars/alice@example.com/default/a.ics", "object"),
            (
                "/dav/addressbooks/alice@example.com/contacts/",
                "address_book",
            ),
            ("/dav/addressbooks/alice@example.com/contacts/b.vcf", "card"),
            ("/admin/v1/projections/status", "admin"),
            ("/api/v1/mail/alice@example.com/INBOX", "mail"),
            ("/readyz", "probe"),
            ("/nowhere", "other"),
        ];
        for (path, kind) in cases {
            assert_eq!(kind_of(path), kind, "{path}");
        }
    }
}
