//! One connection: hyper's HTTP/1 server on it, watched for the head and
//! keep-alive deadlines, each request admitted under the cap of requests
//! in flight and its body paced.

use super::body::{Pace, Paced};
use super::Limits;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, HeaderValue, Request, Response, StatusCode};
use axum::Router;
use http_body::Frame;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{watch, Semaphore};
use tokio::time::Instant;
use tower::ServiceExt;

/// What every connection of one listener shares.
pub(super) struct Shared {
    router: Router,
    limits: Limits,
    in_flight: Arc<Semaphore>,
}

impl Shared {
    pub(super) fn new(router: Router, limits: Limits) -> Shared {
        Shared {
            router,
            limits,
            in_flight: Arc::new(Semaphore::new(limits.max_requests_in_flight)),
        }
    }
}

/// Where a connection stands between requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Waiting for a request's first byte (kept alive).
    Idle,
    /// A request's head is arriving.
    Head,
    /// A request is being handled.
    Busy,
    /// Its answer is being written: the client must read it at the pace
    /// a body must arrive at (a client that never reads would hold the
    /// connection for ever).
    Answering,
}

/// A connection's stage and since when: its deadline, watched by
/// [`serve`] and moved on by the reads, the handler and the answer.
struct Phase {
    stage: Mutex<(Stage, Instant)>,
    /// Bytes written to the socket since the answer began: what the
    /// client has taken of it (give or take the socket's buffer).
    sent: AtomicU64,
}

impl Phase {
    fn new() -> Phase {
        Phase {
            stage: Mutex::new((Stage::Head, Instant::now())),
            sent: AtomicU64::new(0),
        }
    }

    fn get(&self) -> (Stage, Instant) {
        *self.stage.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn set(&self, stage: Stage) {
        *self.stage.lock().unwrap_or_else(|p| p.into_inner()) = (stage, Instant::now());
        if stage == Stage::Answering {
            self.sent.store(0, Ordering::Relaxed);
        }
    }

    /// Bytes arrived: an idle connection starts a request's head.
    fn read_some(&self) {
        let mut current = self.stage.lock().unwrap_or_else(|p| p.into_inner());
        if current.0 == Stage::Idle {
            *current = (Stage::Head, Instant::now());
        }
    }

    /// When the current stage runs out; `None` while a request is handled.
    fn deadline(&self, limits: &Limits) -> Option<(Stage, Instant)> {
        let (stage, since) = self.get();
        match stage {
            Stage::Idle => Some((stage, since + limits.keep_alive_timeout)),
            Stage::Head => Some((stage, since + limits.header_read_timeout)),
            Stage::Busy => None,
            Stage::Answering => {
                let pace = Pace {
                    grace: limits.body_read_timeout,
                    min_rate: limits.min_body_rate,
                };
                let sent = self.sent.load(Ordering::Relaxed);
                Some((stage, pace.deadline(since, sent)))
            }
        }
    }
}

/// Serves one connection until it closes, times out, or the listener
/// stops (`stopped` changes or closes: finish the request under way).
pub(super) async fn serve<S>(
    io: S,
    peer: SocketAddr,
    shared: Arc<Shared>,
    mut stopped: watch::Receiver<()>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let metrics = crate::telemetry::metrics();
    let _open = metrics.connection_open();
    let limits = shared.limits;
    let phase = Arc::new(Phase::new());
    let service = {
        let phase = phase.clone();
        hyper::service::service_fn(move |request| {
            handle(request, peer, phase.clone(), shared.clone())
        })
    };
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .max_buf_size(limits.max_header_size.max(Limits::MIN_HEADER_SIZE))
        // Ours, below: hyper's one timer covers both the head and the
        // keep-alive wait.
        .header_read_timeout(None);
    let watched = Watched {
        inner: io,
        phase: phase.clone(),
    };
    let connection = builder.serve_connection(TokioIo::new(watched), service);
    tokio::pin!(connection);
    // Once closing (stopped, or idle too long), the connection has a head
    // timeout's time to finish what it answers.
    let mut closing: Option<Instant> = None;
    // The deadlines are checked on a tick rather than woken by each change
    // of stage: a request then costs no wake-up of this task, and a
    // deadline is kept to within a tick.
    let mut ticks = tokio::time::interval(tick(&limits));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            served = connection.as_mut() => {
                if let Err(e) = served {
                    tracing::debug!(%peer, error = %e, "connection ended");
                }
                return;
            }
            _ = stopped.changed(), if closing.is_none() => {
                closing = Some(Instant::now());
                connection.as_mut().graceful_shutdown();
            }
            now = ticks.tick() => {
                if let Some(at) = closing {
                    if now >= at + limits.header_read_timeout {
                        return;
                    }
                    continue;
                }
                let Some((stage, at)) = phase.deadline(&limits) else { continue };
                if now < at {
                    continue;
                }
                match stage {
                    Stage::Idle => {
                        metrics.connection_timed_out("idle");
                        closing = Some(now);
                        connection.as_mut().graceful_shutdown();
                    }
                    Stage::Answering => {
                        metrics.connection_timed_out("answer");
                        tracing::debug!(%peer, "answer not read in time");
                        return;
                    }
                    // Dropped: the socket closes under the slow client.
                    _ => {
                        metrics.connection_timed_out("head");
                        tracing::debug!(%peer, "request head not received in time");
                        return;
                    }
                }
            }
        }
    }
}

/// How often a connection's deadlines are checked: a quarter of the
/// shortest, between 100 ms and a second.
fn tick(limits: &Limits) -> std::time::Duration {
    let shortest = limits
        .header_read_timeout
        .min(limits.keep_alive_timeout)
        .min(limits.body_read_timeout);
    (shortest / 4).clamp(
        std::time::Duration::from_millis(100),
        std::time::Duration::from_secs(1),
    )
}

/// One request: shed over the cap of requests in flight, else handed to
/// the router with its peer's address and a paced body.
async fn handle(
    request: Request<Incoming>,
    peer: SocketAddr,
    phase: Arc<Phase>,
    shared: Arc<Shared>,
) -> Result<Response<Body>, Infallible> {
    phase.set(Stage::Busy);
    let response = match shared.in_flight.clone().try_acquire_owned() {
        // hyper bounds what it buffers by the same size, but takes a head
        // that arrived whole in one read: the limit is held here exactly.
        _ if head_size(&request) > shared.limits.max_header_size => plain(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "the request head is larger than this server accepts\n",
        ),
        Err(_) => {
            crate::telemetry::metrics().request_shed();
            plain(
                StatusCode::SERVICE_UNAVAILABLE,
                "too many requests in flight; retry soon\n",
            )
        }
        Ok(_permit) => {
            let too_slow = Arc::new(AtomicBool::new(false));
            let pace = Pace {
                grace: shared.limits.body_read_timeout,
                min_rate: shared.limits.min_body_rate,
            };
            let mut request =
                request.map(|body| Body::new(Paced::new(body, pace, too_slow.clone())));
            request.extensions_mut().insert(ConnectInfo(peer));
            let response = match shared.router.clone().oneshot(request).await {
                Ok(response) => response,
                Err(never) => match never {},
            };
            if too_slow.load(Ordering::Relaxed) {
                plain(
                    StatusCode::REQUEST_TIMEOUT,
                    "the request body came too slowly\n",
                )
            } else {
                response
            }
        }
    };
    phase.set(Stage::Answering);
    Ok(response.map(|body| Body::new(Answer { inner: body, phase })))
}

/// The size of a request's head as sent, give or take its line ends.
fn head_size<B>(request: &Request<B>) -> usize {
    let uri = request.uri();
    let target = uri.path_and_query().map_or(0, |p| p.as_str().len())
        + uri.authority().map_or(0, |a| a.as_str().len());
    let line = request.method().as_str().len() + target + 11;
    let headers: usize = request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    line + headers
}

/// A short text answer of the connection layer itself, which closes the
/// connection (`503` asks to come back later, `408` ends a slow client).
fn plain(status: StatusCode, text: &'static str) -> Response<Body> {
    let mut response = Response::new(Body::from(text));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    if status == StatusCode::SERVICE_UNAVAILABLE {
        headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    response
}

/// An answer's body: when hyper is done with it (written, or the
/// connection gone), the connection is idle again.
struct Answer {
    inner: Body,
    phase: Arc<Phase>,
}

impl Drop for Answer {
    fn drop(&mut self) {
        self.phase.set(Stage::Idle);
    }
}

impl http_body::Body for Answer {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// The connection's socket, telling [`Phase`] when bytes arrive.
struct Watched<S> {
    inner: S,
    phase: Arc<Phase>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.phase.read_some();
        }
        polled
    }
}

impl<S> Watched<S> {
    fn wrote(&self, polled: &Poll<std::io::Result<usize>>) {
        if let Poll::Ready(Ok(n)) = polled {
            self.phase.sent.fetch_add(*n as u64, Ordering::Relaxed);
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.wrote(&polled);
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.wrote(&polled);
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
