//! Installations sharing one Kafka log (the test process's broker) behind
//! `reprise proxy`: what the blue/green and the scheduling-across-a-switch
//! tests both run.

use super::cmd::{add_user, ok, reprise};
use super::http::{assert_status, send};
use super::server::{free_port, raw_get};
use crate::support;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const TOKEN: &str = "cluster-token-of-the-tests";
pub const USERS: [(&str, &str); 3] = [
    ("alice", "alice-secret"),
    ("bob", "bob-secret"),
    ("carol", "carol-secret"),
];

/// The flags every command of one test needs: the broker and the test's
/// own topics.
pub fn log_args(prefix: &str) -> Vec<String> {
    [
        "--kafka-brokers",
        &support::kafka_brokers(),
        "--topic-prefix",
        prefix,
        "--partitions",
        "4",
    ]
    .map(String::from)
    .to_vec()
}

/// One `reprise serve` with its own data directory; SIGKILLed on drop.
pub struct Installation {
    pub name: &'static str,
    pub url: String,
    pub port: u16,
    data: PathBuf,
    prefix: String,
    child: Child,
}

impl Installation {
    pub fn start(name: &'static str, data: &Path, prefix: &str, extra: &[&str]) -> Installation {
        let port = free_port();
        Installation {
            name,
            url: format!("http://127.0.0.1:{port}"),
            port,
            data: data.to_path_buf(),
            prefix: prefix.to_string(),
            child: spawn(name, data, prefix, port, extra),
        }
    }

    /// Starts it again on its port (the proxy knows it there), with
    /// `extra` `serve` flags, after a [`Installation::kill`].
    pub fn restart(&mut self, extra: &[&str]) {
        self.kill();
        self.child = spawn(self.name, &self.data, &self.prefix, self.port, extra);
    }

    /// A `reprise` command on this installation's data directory and log.
    pub fn command(&self) -> Command {
        let mut cmd = reprise(&self.data);
        cmd.args(log_args(&self.prefix));
        cmd
    }

    /// `projections digest --json`, asked of the running server.
    pub fn digest(&self) -> String {
        let mut cmd = self.command();
        cmd.args(["--server", &self.url, "projections", "digest", "--json"]);
        ok(cmd, "")
    }

    /// `GET /admin/v1/cluster`.
    pub fn cluster(&self) -> Value {
        self.get_json("/admin/v1/cluster", TOKEN)
    }

    /// A GET answered 200 with JSON, with a bearer token.
    fn get_json(&self, path: &str, token: &str) -> Value {
        let bearer = format!("Bearer {token}");
        let reply = send(self.port, "GET", path, &[("Authorization", &bearer)], b"");
        assert_status(&reply, 200);
        serde_json::from_str(&reply.body).unwrap()
    }

    /// `GET /admin/v1/console` with the local admin token, once its
    /// switches are read from the whole log (at most a minute).
    pub fn console(&self) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let console = self.console_once();
            if console["switches_complete"] == true {
                return console;
            }
            assert!(
                Instant::now() < deadline,
                "the console never read the whole log: {console}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn console_once(&self) -> Value {
        let info = std::fs::read_to_string(self.data.join("serve.json")).expect("serve.json");
        let info: Value = serde_json::from_str(&info).expect("serve.json is JSON");
        self.get_json(
            "/admin/v1/console",
            info["token"].as_str().expect("a token"),
        )
    }

    /// Sends `signal` (`STOP`, `CONT`) to the server: a stopped one takes
    /// connections and answers nothing until continued.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal} {}", self.child.id());
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Installation {
    fn drop(&mut self) {
        self.kill();
    }
}

fn spawn(name: &str, data: &Path, prefix: &str, port: u16, extra: &[&str]) -> Child {
    let mut serve = reprise(data);
    serve
        .args(["--log-level", "warn"])
        .args(log_args(prefix))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .args(["--installation", name, "--cluster-token", TOKEN])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    let child = serve.spawn().expect("spawn reprise serve");
    wait_for(port, "/readyz");
    child
}

pub struct Proxy {
    pub port: u16,
    pub admin: String,
    pub admin_port: u16,
    /// The `proxy` command's arguments, for a restart.
    args: Vec<String>,
    child: Child,
}

impl Proxy {
    pub fn start(backends: &[&Installation]) -> Proxy {
        Proxy::start_with(backends, &[])
    }

    /// A proxy with extra `proxy` flags.
    pub fn start_with(backends: &[&Installation], extra: &[&str]) -> Proxy {
        let (port, admin_port) = (free_port(), free_port());
        let mut args: Vec<String> = ["--log-level", "warn", "proxy", "--listen"]
            .map(String::from)
            .to_vec();
        args.push(format!("127.0.0.1:{port}"));
        args.push("--admin".into());
        args.push(format!("127.0.0.1:{admin_port}"));
        args.extend(["--cluster-token", TOKEN].map(String::from));
        args.extend(extra.iter().map(|s| s.to_string()));
        for b in backends {
            args.push("--backend".into());
            args.push(format!("{}={}", b.name, b.url));
        }
        let child = spawn_proxy(&args, port);
        Proxy {
            port,
            admin: format!("http://127.0.0.1:{admin_port}"),
            admin_port,
            args,
            child,
        }
    }

    /// SIGKILLs the proxy.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts it again on its ports, as an operator would after a crash:
    /// without `--active`, so it finds the leader itself.
    pub fn restart(&mut self) {
        self.kill();
        self.child = spawn_proxy(&self.args, self.port);
    }

    /// `GET /status` of the admin API: the active backend, whether a
    /// switch holds requests, the requests in flight per backend.
    pub fn status(&self) -> Value {
        let bearer = format!("Bearer {TOKEN}");
        let reply = send(
            self.admin_port,
            "GET",
            "/status",
            &[("Authorization", &bearer)],
            b"",
        );
        assert_status(&reply, 200);
        serde_json::from_str(&reply.body).unwrap()
    }

    /// `reprise switch`; its JSON report.
    pub fn switch(&self, to: &str) -> Value {
        let mut cmd = Command::new(super::cmd::bin());
        cmd.args(["switch", "--proxy", &self.admin, "--to", to])
            .args(["--cluster-token", TOKEN, "--json"]);
        let out = ok(cmd, "");
        let report: Value = serde_json::from_str(&out[out.find('{').expect("JSON")..]).unwrap();
        assert_eq!(report["to"], to, "{report}");
        eprintln!(
            "switch {} -> {}: epoch {}, held {} request(s), longest hold {} ms, total {} ms \
             (drain {} ms, hand-over {} ms, take-over {} ms)",
            report["from"],
            report["to"],
            report["epoch"],
            report["held_requests"],
            report["longest_hold_ms"],
            report["total_ms"],
            report["drain_ms"],
            report["hand_over_ms"],
            report["take_over_ms"]
        );
        report
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn_proxy(args: &[String], port: u16) -> Child {
    let mut cmd = Command::new(super::cmd::bin());
    super::cmd::without_reprise_env(&mut cmd);
    cmd.args(args);
    cmd.stdout(Stdio::null()).stderr(Stdio::inherit());
    let child = cmd.spawn().expect("spawn reprise proxy");
    wait_for(port, "/readyz");
    child
}

pub fn wait_for(port: u16, path: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !raw_get(port, path).is_some_and(|r| r.starts_with("HTTP/1.1 200")) {
        assert!(Instant::now() < deadline, "port {port} never answered 200");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Users on the test's topics, written through the first data directory.
pub fn add_users(data: &Path, prefix: &str) {
    for (login, password) in USERS {
        let mut cmd = reprise(data);
        cmd.args(log_args(prefix));
        add_user(cmd, login, password, &[]);
    }
}

/// Appends `event` to the test's calendar topic as a writer of its own
/// (an installation that wrote it and is gone, or a stray one), bypassing
/// every installation.
pub fn append_directly(prefix: &str, event: &events::EventEnvelope) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let mut config = support::kafka_config(prefix);
        config.partitions = Some(4);
        let log = events::log::KafkaLog::connect(config).await.unwrap();
        events::EventLog::append(
            &log,
            events::Domain::Calendar,
            vec![events::codec::encode(event)],
        )
        .await
        .unwrap();
    });
}
