//! The connection layer of `reprise serve` and `reprise proxy`: accepting
//! TCP connections (optionally TLS) and holding each one to limits, so that
//! a flood of connections, a client that sends one byte a second
//! (slowloris) or one that never finishes its body cannot take the server.
//!
//! - At most [`Limits::max_connections`] connections are open; one more is
//!   answered `503` and closed (plain HTTP), or closed (TLS).
//! - At most [`Limits::max_requests_in_flight`] requests are handled at
//!   once; one more is answered `503` with `Retry-After` before the router
//!   sees it.
//! - A request's head must arrive within [`Limits::header_read_timeout`] of
//!   its first byte (of the connection, for the first request, and of the
//!   TLS handshake's start), and be at most [`Limits::max_header_size`]
//!   bytes (`431` beyond).
//! - An idle kept-alive connection is closed after
//!   [`Limits::keep_alive_timeout`].
//! - A request's body must keep up: by `body_read_timeout` plus one second
//!   per `min_body_rate` bytes received since its head; a body that falls
//!   behind is cut off and the request answered `408`.
//!
//! The router never sees any of this: it gets requests with their peer's
//! address as axum's `ConnectInfo<SocketAddr>`.

mod body;
mod connection;
pub mod tls;

pub use self::tls::{Tls, TlsError, TlsFiles};

use axum::Router;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};

/// What one connection and one request may take. See the module's doc.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_connections: usize,
    pub max_requests_in_flight: usize,
    pub header_read_timeout: Duration,
    pub keep_alive_timeout: Duration,
    pub body_read_timeout: Duration,
    /// Bytes per second a body must average beyond `body_read_timeout`.
    pub min_body_rate: u64,
    /// The largest request head (request line and headers), in bytes.
    pub max_header_size: usize,
}

impl Limits {
    /// The defaults of `serve` and `proxy`. Connections are cheap (a task
    /// and two buffers), so the cap is high and only stops a flood from
    /// taking every file descriptor; requests in flight are bounded so
    /// that a burst waits at the client rather than in our memory.
    pub const DEFAULT: Limits = Limits {
        max_connections: 4096,
        max_requests_in_flight: 512,
        header_read_timeout: Duration::from_secs(10),
        keep_alive_timeout: Duration::from_secs(60),
        body_read_timeout: Duration::from_secs(30),
        min_body_rate: 16 * 1024,
        max_header_size: 64 * 1024,
    };

    /// The smallest head limit hyper's buffer takes.
    pub const MIN_HEADER_SIZE: usize = 8192;
}

/// A bound TCP listener, its limits and, with TLS, its certificates.
pub struct Listener {
    tcp: TcpListener,
    limits: Limits,
    tls: Option<Arc<Tls>>,
}

impl Listener {
    pub fn new(tcp: TcpListener, limits: Limits, tls: Option<Arc<Tls>>) -> Listener {
        Listener { tcp, limits, tls }
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.tcp.local_addr()
    }

    /// `http` or `https`, as this listener's URLs start.
    pub fn scheme(&self) -> &'static str {
        if self.tls.is_some() {
            "https"
        } else {
            "http"
        }
    }

    /// Answers with `router` until `shutdown` completes, then lets the
    /// requests under way finish (idle connections are closed at once).
    pub async fn serve(
        self,
        router: Router,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let Listener { tcp, limits, tls } = self;
        let connections = Arc::new(Semaphore::new(limits.max_connections));
        let shared = Arc::new(connection::Shared::new(router, limits));
        // Closed when we stop accepting: every connection then shuts down
        // gracefully; each holds a receiver, so `closed()` below waits for
        // the last one.
        let (stopping, stopped) = watch::channel(());
        let (open, _) = watch::channel(());
        tokio::pin!(shutdown);
        loop {
            let (stream, peer) = tokio::select! {
                accepted = tcp.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        if !is_connection_error(&e) {
                            // Out of file descriptors, say: accepting again
                            // at once would spin.
                            tracing::warn!(error = %e, "accepting a connection");
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                        continue;
                    }
                },
                _ = &mut shutdown => break,
            };
            let _ = stream.set_nodelay(true);
            let Ok(permit) = connections.clone().try_acquire_owned() else {
                crate::telemetry::metrics().connection_refused();
                refuse(stream, tls.is_some());
                continue;
            };
            let (shared, stopped, open) = (shared.clone(), stopped.clone(), open.subscribe());
            let tls = tls.as_ref().map(|tls| tls.acceptor());
            tokio::spawn(async move {
                let _permit = permit;
                let _open = open;
                match tls {
                    None => connection::serve(stream, peer, shared, stopped).await,
                    Some(acceptor) => {
                        let handshake = acceptor.accept(stream);
                        match tokio::time::timeout(limits.header_read_timeout, handshake).await {
                            Ok(Ok(stream)) => {
                                connection::serve(stream, peer, shared, stopped).await
                            }
                            Ok(Err(e)) => {
                                tracing::debug!(%peer, error = %e, "TLS handshake failed")
                            }
                            Err(_) => crate::telemetry::metrics().connection_timed_out("head"),
                        }
                    }
                }
            });
        }
        drop(tcp);
        drop(stopping);
        open.closed().await;
        Ok(())
    }
}

/// One connection over the cap: a plain `503` for an HTTP client (written
/// if the socket takes it at once, never waited for), nothing for TLS.
fn refuse(stream: TcpStream, tls: bool) {
    const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nretry-after: 1\r\n\
        connection: close\r\ncontent-type: text/plain\r\ncontent-length: 33\r\n\r\n\
        too many connections; retry soon\n";
    if !tls {
        let _ = stream.try_write(BUSY);
    }
}

/// Errors of one connection that `accept` reports, not of the listener.
fn is_connection_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    )
}
