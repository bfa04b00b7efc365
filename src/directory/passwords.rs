//! Hashing and checking passwords (argon2id) on a small, fixed pool of
//! threads.
//!
//! argon2 is slow and memory-hard on purpose: one hash or check takes tens
//! of milliseconds and a 19 MiB work area. On the async runtime it would
//! stall every request sharing the worker. On tokio's blocking pool a
//! burst of logins or user creations runs hundreds at once, and each
//! thread's malloc arena keeps the work areas it saw: a server creating
//! 10,000 users four at a time grew to 2.8 GB. One thread per core (at
//! most four) with a bounded queue keeps that to a few work areas, and a
//! burst beyond the queue is refused as busy (503, retry) instead of
//! exhausting memory.

use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier};
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::OnceLock;
use tokio::sync::oneshot;

/// Checks and hashes waiting for a thread, beyond which callers are told
/// to retry.
const QUEUE: usize = 256;

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("too many password checks are waiting; retry shortly")]
    Busy,
    #[error("cannot hash the password: {0}")]
    Hash(String),
}

enum Job {
    Hash {
        password: String,
        reply: oneshot::Sender<Result<String, PasswordError>>,
    },
    Verify {
        password: String,
        hash: String,
        reply: oneshot::Sender<bool>,
    },
}

struct Pool {
    jobs: SyncSender<Job>,
}

fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| {
        let (jobs, queue) = sync_channel::<Job>(QUEUE);
        let queue = std::sync::Arc::new(std::sync::Mutex::new(queue));
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
        for i in 0..threads {
            let queue = queue.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("reprise-passwords-{i}"))
                .spawn(move || loop {
                    // The lock is held only while waiting for a job.
                    let job = match queue.lock().unwrap_or_else(|p| p.into_inner()).recv() {
                        Ok(job) => job,
                        Err(_) => return,
                    };
                    crate::telemetry::metrics().password_queue(-1);
                    run(job);
                });
            if let Err(e) = spawned {
                tracing::error!("cannot start a password thread: {e}");
            }
        }
        Pool { jobs }
    })
}

fn run(job: Job) {
    match job {
        Job::Hash { password, reply } => {
            // argon2 draws the salt from the OS random source.
            let hash = Argon2::default()
                .hash_password(password.as_bytes())
                .map(|h| h.to_string())
                .map_err(|e| PasswordError::Hash(e.to_string()));
            let _ = reply.send(hash);
        }
        Job::Verify {
            password,
            hash,
            reply,
        } => {
            let ok = PasswordHash::new(&hash).is_ok_and(|hash| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &hash)
                    .is_ok()
            });
            let _ = reply.send(ok);
        }
    }
}

fn submit(job: Job) -> Result<(), PasswordError> {
    // Counted before it is sent, so that a thread taking it at once never
    // makes the gauge negative.
    crate::telemetry::metrics().password_queue(1);
    let sent = pool().jobs.try_send(job);
    if sent.is_err() {
        crate::telemetry::metrics().password_queue(-1);
    }
    match sent {
        Ok(()) => Ok(()),
        Err(TrySendError::Full(_)) => Err(PasswordError::Busy),
        // No thread could be started.
        Err(TrySendError::Disconnected(_)) => Err(PasswordError::Busy),
    }
}

/// An argon2id PHC string (`$argon2id$...`) of `password`, with a fresh salt.
pub async fn hash(password: &str) -> Result<String, PasswordError> {
    let (reply, answer) = oneshot::channel();
    submit(Job::Hash {
        password: password.to_string(),
        reply,
    })?;
    answer.await.map_err(|_| PasswordError::Busy)?
}

/// Whether `password` matches the PHC string `hash`; a malformed hash
/// matches nothing.
pub async fn verify(password: &str, hash: &str) -> Result<bool, PasswordError> {
    let (reply, answer) = oneshot::channel();
    submit(Job::Verify {
        password: password.to_string(),
        hash: hash.to_string(),
        reply,
    })?;
    answer.await.map_err(|_| PasswordError::Busy)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let hash = super::hash("correct horse").await.unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify("correct horse", &hash).await.unwrap());
        assert!(!verify("wrong", &hash).await.unwrap());
        assert!(!verify("correct horse", "not a hash").await.unwrap());
    }
}
