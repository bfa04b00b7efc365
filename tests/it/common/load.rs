//! A steady client load for tests that change the server under it (an
//! upgrade, a switch): writer threads PUT new events, reader threads run a
//! read, each request's status is checked, and every acknowledged write
//! is remembered with its ETag so the test can look for it afterwards.

use super::http::{Dav, Reply};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

/// A read the readers repeat: `(dav, iteration)` → (what, reply, expected status).
pub type Read = fn(&Dav, u64) -> (String, Reply, u16);

#[derive(Default)]
struct Tally {
    requests: AtomicU64,
    failures: Mutex<Vec<String>>,
    written: Mutex<Vec<(String, String)>>,
    answers: Mutex<Vec<Answer>>,
}

/// One request as its client saw it.
#[derive(Clone, Copy, Debug)]
pub struct Answer {
    /// When the answer came.
    pub at: Instant,
    pub write: bool,
    pub status: u16,
    pub retry_after: bool,
}

pub struct Load {
    stop: Arc<AtomicBool>,
    tally: Arc<Tally>,
    threads: Vec<JoinHandle<()>>,
}

/// What a load saw, once stopped.
pub struct Finished {
    pub requests: u64,
    /// `"what: status"` of every request that got another status.
    pub failures: Vec<String>,
    /// (href, ETag) of every PUT answered 201.
    pub written: Vec<(String, String)>,
    /// Every answer, in the order they came.
    pub answers: Vec<Answer>,
}

impl Finished {
    pub fn assert_no_failure(&self) {
        assert!(
            self.failures.is_empty(),
            "{} of {} requests failed: {:?}",
            self.failures.len(),
            self.requests,
            &self.failures[..self.failures.len().min(10)]
        );
    }
}

impl Load {
    /// `writers` threads PUT new events into `collection`, `readers`
    /// threads repeat `read`; all as `(user, password)` on `port`.
    pub fn start(
        port: u16,
        (user, password): (&'static str, &'static str),
        collection: &'static str,
        writers: usize,
        readers: usize,
        read: Read,
    ) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let tally = Arc::new(Tally::default());
        let threads = (0..writers + readers)
            .map(|worker| {
                let (stop, tally) = (stop.clone(), tally.clone());
                std::thread::spawn(move || {
                    let dav = Dav::new(port, user, password);
                    let mut i = 0;
                    while !stop.load(Ordering::Acquire) {
                        i += 1;
                        let (what, reply, want) = if worker < writers {
                            let href = format!("{collection}load-{worker}-{i}.ics");
                            let body =
                                super::ical(&format!("load-{worker}-{i}"), "Written under load");
                            let reply = dav.put(&href, "text/calendar", &body, &[]);
                            if reply.status == 201 {
                                let etag = reply.header("etag").unwrap_or_default().to_string();
                                tally.written.lock().unwrap().push((href.clone(), etag));
                            }
                            (format!("PUT {href}"), reply, 201)
                        } else {
                            read(&dav, i)
                        };
                        tally.requests.fetch_add(1, Ordering::Relaxed);
                        tally.answers.lock().unwrap().push(Answer {
                            at: Instant::now(),
                            write: worker < writers,
                            status: reply.status,
                            retry_after: reply.header("retry-after").is_some(),
                        });
                        if reply.status != want {
                            let line = reply.body.lines().next().unwrap_or_default().to_string();
                            tally
                                .failures
                                .lock()
                                .unwrap()
                                .push(format!("{what}: {} {line}", reply.status));
                        }
                    }
                })
            })
            .collect();
        Load {
            stop,
            tally,
            threads,
        }
    }

    pub fn requests(&self) -> u64 {
        self.tally.requests.load(Ordering::Relaxed)
    }

    pub fn writes(&self) -> usize {
        self.tally.written.lock().unwrap().len()
    }

    /// Whether a write was acknowledged after `since`.
    pub fn acknowledged_since(&self, since: Instant) -> bool {
        self.tally
            .answers
            .lock()
            .unwrap()
            .iter()
            .any(|a| a.write && a.status == 201 && a.at > since)
    }

    pub fn finish(self) -> Finished {
        self.stop.store(true, Ordering::Release);
        for t in self.threads {
            t.join().unwrap();
        }
        let tally = Arc::try_unwrap(self.tally).unwrap_or_else(|_| unreachable!());
        Finished {
            requests: tally.requests.into_inner(),
            failures: tally.failures.into_inner().unwrap(),
            written: tally.written.into_inner().unwrap(),
            answers: tally.answers.into_inner().unwrap(),
        }
    }
}
