//! A request body held to a pace: it must arrive by `body_read_timeout`
//! plus one second per `min_body_rate` bytes received. A per-read idle
//! timeout would let a client trickle one byte a second forever; a total
//! one would cut a large upload on a slow line. This bounds the time a
//! body holds a request (and its slot in flight) by its own size.

use axum::body::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::{Instant, Sleep};

/// Why a paced body ended early.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error(transparent)]
    Read(#[from] hyper::Error),
    #[error("the request body came too slowly")]
    TooSlow,
}

/// How fast a body must come.
#[derive(Debug, Clone, Copy)]
pub(super) struct Pace {
    /// Counted from the request's head.
    pub grace: Duration,
    /// Bytes per second beyond `grace`; 0: the whole body within `grace`.
    pub min_rate: u64,
}

impl Pace {
    /// When a body that started at `started` and has `received` bytes so
    /// far is late.
    pub(super) fn deadline(&self, started: Instant, received: u64) -> Instant {
        let earned = match self.min_rate {
            0 => Duration::ZERO,
            rate => Duration::from_secs_f64(received as f64 / rate as f64),
        };
        started + self.grace + earned
    }
}

pub(super) struct Paced {
    /// `None` only once dropped.
    inner: Option<Incoming>,
    pace: Pace,
    started: Instant,
    received: u64,
    sleep: Option<Pin<Box<Sleep>>>,
    /// Set when the body was cut off, so that the request is answered
    /// `408` whatever the handler made of the error.
    too_slow: Arc<AtomicBool>,
}

impl Paced {
    pub(super) fn new(inner: Incoming, pace: Pace, too_slow: Arc<AtomicBool>) -> Paced {
        Paced {
            inner: Some(inner),
            pace,
            started: Instant::now(),
            received: 0,
            sleep: None,
            too_slow,
        }
    }
}

impl Body for Paced {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = self.get_mut();
        let Some(inner) = this.inner.as_mut() else {
            return Poll::Ready(None);
        };
        match Pin::new(inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.received += data.len() as u64;
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => {
                let deadline = this.pace.deadline(this.started, this.received);
                let sleep = this
                    .sleep
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
                if sleep.deadline() != deadline {
                    sleep.as_mut().reset(deadline);
                }
                match sleep.as_mut().poll(cx) {
                    Poll::Ready(()) => {
                        this.too_slow.store(true, Ordering::Relaxed);
                        crate::telemetry::metrics().connection_timed_out("body");
                        Poll::Ready(Some(Err(BodyError::TooSlow)))
                    }
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(Body::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.inner
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), Body::size_hint)
    }
}

/// What is left of a body a handler did not read, when small, is read and
/// dropped at the same pace, so that the connection can serve the next
/// request: hyper closes one whose body was abandoned unless the rest is
/// already in its buffer, and a client that sent a body with a request
/// answered without it (a redirect, a 401) would find its next request's
/// connection gone.
const DRAINED: u64 = 64 * 1024;

impl Drop for Paced {
    fn drop(&mut self) {
        let Some(mut inner) = self.inner.take() else {
            return;
        };
        let small = inner.size_hint().upper().is_some_and(|n| n <= DRAINED);
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if inner.is_end_stream() || !small {
            return;
        }
        let deadline = self.pace.deadline(self.started, self.received + DRAINED);
        runtime.spawn(async move {
            let drain = async {
                while let Some(Ok(_)) =
                    std::future::poll_fn(|cx| Pin::new(&mut inner).poll_frame(cx)).await
                {
                }
            };
            let _ = tokio::time::timeout_at(deadline, drain).await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_earns_time_by_what_it_sent() {
        let pace = Pace {
            grace: Duration::from_secs(30),
            min_rate: 1000,
        };
        let start = Instant::now();
        assert_eq!(pace.deadline(start, 0), start + Duration::from_secs(30));
        assert_eq!(pace.deadline(start, 5000), start + Duration::from_secs(35));
        // One byte a second never catches up with the grace running out.
        assert!(pace.deadline(start, 31) < start + Duration::from_secs(31));
        let flat = Pace {
            min_rate: 0,
            ..pace
        };
        assert_eq!(
            flat.deadline(start, 1 << 30),
            start + Duration::from_secs(30)
        );
    }
}
