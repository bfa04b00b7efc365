//! A `reprise serve` process for tests that talk HTTP to it: a fresh data
//! directory, two users, a free port on 127.0.0.1, killed on drop.

use super::cmd::{add_user, ok, reprise};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Users every test server has: login, password.
pub const USERS: [(&str, &str); 2] = [("alice", "alice-secret"), ("bob", "bob-secret")];

pub struct TestServer {
    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub url: String,
    pub port: u16,
    pub data: PathBuf,
    /// Log flags (e.g. `--kafka-brokers`) every command on this server needs.
    pub log_args: Vec<String>,
    serve_args: Vec<String>,
    child: Child,
    _dir: tempfile::TempDir,
}

impl TestServer {
    /// A server on the embedded log.
    pub fn start() -> TestServer {
        TestServer::start_with(&[], &[])
    }

    /// A server with extra log flags (given to every command) and extra
    /// `serve` flags.
    pub fn start_with(log_args: &[&str], serve_args: &[&str]) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let data = dir.path().join("data");
        let log_args: Vec<String> = log_args.iter().map(|s| s.to_string()).collect();
        for (login, password) in USERS {
            let mut cmd = reprise(&data);
            cmd.args(&log_args);
            add_user(cmd, login, password, &["--name", &capitalised(login)]);
        }
        let port = free_port();
        let serve_args: Vec<String> = serve_args.iter().map(|s| s.to_string()).collect();
        let child = spawn(&data, &log_args, port, &serve_args);
        let server = TestServer {
            url: format!("http://127.0.0.1:{port}"),
            port,
            data,
            log_args,
            serve_args,
            child,
            _dir: dir,
        };
        server.wait_ready();
        server
    }

    /// A server on a data directory that already exists (in `dir`), as it
    /// is: no user is added.
    pub fn on_existing(dir: tempfile::TempDir, data: PathBuf) -> TestServer {
        let port = free_port();
        let child = spawn(&data, &[], port, &[]);
        let server = TestServer {
            url: format!("http://127.0.0.1:{port}"),
            port,
            data,
            log_args: Vec::new(),
            serve_args: Vec::new(),
            child,
            _dir: dir,
        };
        server.wait_ready();
        server
    }

    /// Another installation on this server's (Kafka) log, with its own
    /// data directory and `serve` flags; no user is added, they are in the log.
    pub fn beside(&self, serve_args: &[&str]) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let data = dir.path().join("data");
        let port = free_port();
        let serve_args: Vec<String> = serve_args.iter().map(|s| s.to_string()).collect();
        let child = spawn(&data, &self.log_args, port, &serve_args);
        let server = TestServer {
            url: format!("http://127.0.0.1:{port}"),
            port,
            data,
            log_args: self.log_args.clone(),
            serve_args,
            child,
            _dir: dir,
        };
        server.wait_ready();
        server
    }

    /// Stops the server and starts it again on the same port; with
    /// `rebuild`, its views are deleted first, so it rebuilds them from
    /// the log before it is ready.
    pub fn restart(&mut self, rebuild: bool) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if rebuild {
            std::fs::remove_dir_all(self.data.join("views")).expect("remove the views");
        }
        self.child = spawn(&self.data, &self.log_args, self.port, &self.serve_args);
        self.wait_ready();
    }

    /// Stops the server (SIGKILL), keeping its data directory for
    /// offline commands.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Restarts with other log flags (given to every command from now on)
    /// and other `serve` flags, keeping the data.
    pub fn restart_with(&mut self, log_args: &[&str], serve_args: &[&str]) {
        self.log_args = log_args.iter().map(|s| s.to_string()).collect();
        self.serve_args = serve_args.iter().map(|s| s.to_string()).collect();
        self.restart(false);
    }

    fn wait_ready(&self) {
        wait_ready(self.port);
    }

    /// A `reprise` command on this server's data and log.
    pub fn command(&self) -> Command {
        let mut cmd = reprise(&self.data);
        cmd.args(&self.log_args);
        cmd
    }

    /// `log stats --json` through the server: one object per partition.
    fn log_stats(&self) -> Vec<serde_json::Value> {
        let mut cmd = self.command();
        cmd.args(["--server", &self.url, "log", "stats", "--json"]);
        let text = ok(cmd, "");
        let json = &text[text.find('[').expect("JSON")..];
        serde_json::from_str(json).expect("log stats")
    }

    /// Records in the log, counted from the records themselves.
    pub fn log_records(&self) -> u64 {
        let stats = self.log_stats();
        stats.iter().map(|s| s["count"].as_u64().unwrap()).sum()
    }

    /// The largest record of the log, in bytes.
    pub fn largest_record(&self) -> u64 {
        let stats = self.log_stats();
        let largest = stats
            .iter()
            .map(|s| s["largest"].as_u64().expect("largest"));
        largest.max().unwrap_or(0)
    }

    pub fn data_dir(&self) -> &Path {
        &self.data
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(data: &Path, log_args: &[String], port: u16, serve_args: &[String]) -> Child {
    let mut serve = reprise(data);
    serve
        .args(["--log-level", "warn"])
        .args(log_args)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .args(serve_args)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    serve.spawn().expect("spawn reprise serve")
}

fn capitalised(login: &str) -> String {
    let mut chars = login.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// Waits (at most a minute) until the server on `port` says it is ready.
pub fn wait_ready(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if raw_get(port, "/readyz").is_some_and(|r| r.starts_with("HTTP/1.1 200")) {
            return;
        }
        assert!(Instant::now() < deadline, "server never became ready");
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A bare HTTP/1.1 GET, for readiness probes; None while nothing listens.
pub fn raw_get(port: u16, path: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}
