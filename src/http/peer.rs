//! The client's address, which failed logins are counted under: the
//! connection's peer, or, when the peer is a proxy this server is told to
//! trust (`serve --trusted-proxy`), the address that proxy and the
//! trusted ones before it say in `X-Forwarded-For`.

use crate::http::Shared;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{Extensions, HeaderMap};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};

const FORWARDED_FOR: &str = "x-forwarded-for";

/// The client's address, as a handler's argument; `None` when the
/// listener does not say who the peer is.
pub(crate) struct ClientAddress(pub Option<IpAddr>);

impl FromRequestParts<Shared> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Shared,
    ) -> Result<Self, Self::Rejection> {
        Ok(ClientAddress(client_address(
            &parts.extensions,
            &parts.headers,
            state.dav.trusted_proxies(),
        )))
    }
}

/// The client of a request, from its connection's peer (the
/// `ConnectInfo` the listener adds) and its `X-Forwarded-For`.
pub(crate) fn client_address(
    extensions: &Extensions,
    headers: &HeaderMap,
    trusted: &[IpAddr],
) -> Option<IpAddr> {
    let peer = extensions.get::<ConnectInfo<SocketAddr>>()?.0.ip();
    let forwarded: Vec<&str> = headers
        .get_all(FORWARDED_FOR)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .collect();
    if !forwarded.is_empty() && !trusted.contains(&canonical(peer)) {
        static TOLD: AtomicBool = AtomicBool::new(false);
        if !TOLD.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                %peer,
                "a request came with X-Forwarded-For from a peer that is not a --trusted-proxy: \
                 failed logins are counted under the peer's address (behind `reprise proxy`, \
                 every client's); pass the proxy's address to --trusted-proxy"
            );
        }
    }
    Some(through_trusted(peer, &forwarded, trusted))
}

/// Walks `X-Forwarded-For` from its end (the entry the nearest proxy
/// appended) while the address reached is a trusted proxy: the first
/// address that is not one is the client. Entries left of it are
/// whatever the client sent, and never believed.
fn through_trusted(peer: IpAddr, forwarded: &[&str], trusted: &[IpAddr]) -> IpAddr {
    let mut client = canonical(peer);
    for entry in forwarded.iter().rev() {
        if !trusted.contains(&client) {
            break;
        }
        match parse(entry) {
            Some(address) => client = address,
            // Not an address: nothing left of it is believed either.
            None => break,
        }
    }
    client
}

/// An entry of `X-Forwarded-For`: an address, possibly with a port.
fn parse(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    let address = entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|s| s.ip()))?;
    Some(canonical(address))
}

/// IPv4-mapped IPv6 addresses as IPv4, as `--trusted-proxy` names them.
pub(crate) fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn request(peer: Option<&str>, forwarded: &[&str]) -> (Extensions, HeaderMap) {
        let mut extensions = Extensions::new();
        if let Some(peer) = peer {
            extensions.insert(ConnectInfo(SocketAddr::new(ip(peer), 40_000)));
        }
        let mut headers = HeaderMap::new();
        for value in forwarded {
            headers.append(FORWARDED_FOR, value.parse().unwrap());
        }
        (extensions, headers)
    }

    fn client(peer: Option<&str>, forwarded: &[&str], trusted: &[&str]) -> Option<IpAddr> {
        let (extensions, headers) = request(peer, forwarded);
        let trusted: Vec<IpAddr> = trusted.iter().map(|t| ip(t)).collect();
        client_address(&extensions, &headers, &trusted)
    }

    #[test]
    fn only_trusted_proxies_are_believed() {
        let proxy = "10.0.0.2";
        // No listener information: unknown.
        assert_eq!(client(None, &["192.0.2.1"], &[proxy]), None);
        // Straight from a client, whatever it says.
        assert_eq!(
            client(Some("198.51.100.4"), &["192.0.2.1"], &[proxy]),
            Some(ip("198.51.100.4"))
        );
        // Through the proxy: what it appended, not what the client sent
        // before it.
        assert_eq!(
            client(Some(proxy), &["192.0.2.1, 198.51.100.4"], &[proxy]),
            Some(ip("198.51.100.4"))
        );
        // The proxy appends a header line of its own: the same list.
        assert_eq!(
            client(Some(proxy), &["192.0.2.1", "198.51.100.4"], &[proxy]),
            Some(ip("198.51.100.4"))
        );
        // Two trusted proxies in a row, an address with a port, and an
        // IPv4-mapped peer.
        assert_eq!(
            client(
                Some("::ffff:10.0.0.2"),
                &["192.0.2.1, 198.51.100.4:5000, 10.0.0.3"],
                &[proxy, "10.0.0.3"]
            ),
            Some(ip("198.51.100.4"))
        );
        // A trusted proxy with nothing to say, or nonsense: itself.
        assert_eq!(client(Some(proxy), &[], &[proxy]), Some(ip(proxy)));
        assert_eq!(
            client(Some(proxy), &["192.0.2.1, unknown"], &[proxy]),
            Some(ip(proxy))
        );
        // Trusting nobody (the default): the peer.
        assert_eq!(client(Some(proxy), &["192.0.2.1"], &[]), Some(ip(proxy)));
    }
}
