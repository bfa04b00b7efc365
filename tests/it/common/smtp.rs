//! A real SMTP server for the iMIP tests: `tests/clients/smtp_sink.py`
//! (aiosmtpd, installed by scripts/test in the clients' venv) on a free
//! port of 127.0.0.1, writing each mail it accepts to a directory; killed
//! on drop. A Python without aiosmtpd fails the test, never skips it.

use super::clients::{client_script, python_with};
use super::s3::spawn_watchdog;
use super::server::free_port;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct SmtpSink {
    pub port: u16,
    child: Child,
    watchdog: Child,
    /// Where the mails go (`NNNN.json`), and the sink's output.
    dir: tempfile::TempDir,
}

impl SmtpSink {
    /// A sink answering every mail at once.
    pub fn start() -> SmtpSink {
        SmtpSink::start_with(None, None)
    }

    /// A sink that, after storing the first mail, waits `stall` before
    /// answering it (a sender killed meanwhile sent it without knowing).
    pub fn stalling_first(stall: Duration) -> SmtpSink {
        SmtpSink::start_with(Some(stall), None)
    }

    /// A sink that takes mail only after SMTP AUTH as `login`, `password`
    /// (offered without TLS, on 127.0.0.1).
    pub fn with_login(login: &str, password: &str) -> SmtpSink {
        SmtpSink::start_with(None, Some((login, password)))
    }

    fn start_with(stall: Option<Duration>, login: Option<(&str, &str)>) -> SmtpSink {
        let python = python_with("aiosmtpd.controller");
        let dir = tempfile::tempdir().expect("temp dir for the mails");
        let port = free_port();
        let log = std::fs::File::create(dir.path().join("sink.log")).expect("sink log");
        let mut cmd = Command::new(&python);
        cmd.arg(client_script("smtp_sink.py"))
            .args(["--port", &port.to_string()])
            .arg("--dir")
            .arg(dir.path());
        if let Some(stall) = stall {
            cmd.args(["--stall-first", &stall.as_secs_f64().to_string()]);
        }
        if let Some((login, password)) = login {
            cmd.args(["--login", login, "--password", password]);
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("sink log"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", python.display()));
        let watchdog = spawn_watchdog(child.id());
        let mut sink = SmtpSink {
            port,
            child,
            watchdog,
            dir,
        };
        sink.wait_ready();
        sink
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !self.dir.path().join(".ready").is_file() {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("the SMTP sink exited with {status}: {}", self.output());
            }
            assert!(
                Instant::now() < deadline,
                "the SMTP sink did not start within a minute: {}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn output(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sink.log")).unwrap_or_default()
    }

    /// `--smtp-relay` for this sink.
    pub fn relay(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Every mail received so far, in the order received.
    pub fn mails(&self) -> Vec<serde_json::Value> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .expect("reading the mails")
            .map(|e| e.expect("reading the mails").path())
            .filter(|p| {
                p.extension().is_some_and(|e| e == "json")
                    && !p
                        .file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            })
            .collect();
        names.sort();
        names
            .iter()
            .map(|p| {
                let text = std::fs::read_to_string(p).expect("reading a mail");
                serde_json::from_str(&text).expect("a mail's JSON")
            })
            .collect()
    }

    /// Waits (at most 30 s) until `n` mails were received; returns them all.
    pub fn wait_for(&self, n: usize) -> Vec<serde_json::Value> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let mails = self.mails();
            if mails.len() >= n {
                return mails;
            }
            assert!(
                Instant::now() < deadline,
                "{} mail(s) received, {n} expected: {mails:#?}\n{}",
                mails.len(),
                self.output()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        // The watchdog first: it must never signal a reaped (reusable) pid.
        let _ = self.watchdog.kill();
        let _ = self.watchdog.wait();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
