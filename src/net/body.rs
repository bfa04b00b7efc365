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
    fn deadline(&self, started: Instant, received: u64) -> Instant {
        let earned = match self.min_rate {
            0 => Duration::ZERO,
            rate => Duration::from_secs_f64(received as f64 / rate as f64),
        };
        started + self.grace + earned
    }
}

pub(super) struct Paced {
    inner: Incoming,
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
            inner,
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
        match Pin::new(&mut this.inner).poll_frame(cx) {
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
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
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
