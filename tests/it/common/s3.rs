//! A real S3 server for the tests of the S3 object store: moto
//! (`moto_server`, PyPI `moto[server]`, installed by scripts/test in the
//! clients' venv) on a free port of 127.0.0.1, killed on drop.
//!
//! - `REPRISE_TEST_MOTO`: the `moto_server` to run, else the one beside
//!   the clients' Python (the venv's `bin/`, see `clients.rs`). A missing
//!   one fails the test, never skips it.
//!
//! What moto (5.x, default settings) does, and these helpers rely on:
//! - it keeps everything in memory: [`Moto::kill`] and [`Moto::restart`]
//!   lose every bucket and object;
//! - it checks no signature: any credentials are accepted;
//! - a request without an `Authorization` header is anonymous, and an
//!   anonymous GET, HEAD, DELETE or overwriting PUT of an existing object
//!   is refused (403, the object's ACL is private): the helpers send a
//!   well-formed dummy header (a malformed one, e.g. `x`, is a 500);
//! - a body sent as `application/x-www-form-urlencoded` (curl's default) is
//!   read as a form and the object stored empty: the helpers say
//!   `application/octet-stream`.

use super::server::free_port;
use std::fs::OpenOptions;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const INSTALL_HINT: &str = "run scripts/test (it installs moto[server] in the clients' venv \
     and sets REPRISE_TEST_PYTHON), or set REPRISE_TEST_MOTO to a moto_server";

/// The credentials and region `settings` gives; moto accepts any.
const ACCESS_KEY_ID: &str = "testing";
const SECRET_ACCESS_KEY: &str = "testing";
const REGION: &str = "us-east-1";

/// Well-formed, never checked (see the module's comment).
const AUTHORIZATION: &str = "AWS4-HMAC-SHA256 \
     Credential=testing/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0";

pub struct Moto {
    /// Started with `INITIAL_NO_AUTH_ACTION_COUNT=2`.
    checks_credentials: bool,
    port: u16,
    program: PathBuf,
    /// None once killed.
    process: Option<Process>,
    agent: ureq::Agent,
    /// Holds `moto.log`: the output of every process started, for the
    /// panic messages.
    dir: tempfile::TempDir,
}

struct Process {
    child: Child,
    /// Kills `child` when the test process exits without dropping us
    /// (killed, or a `Moto` in a static): see [`spawn_watchdog`].
    watchdog: Child,
}

impl Moto {
    /// A moto on a free port, answering.
    pub fn start() -> Moto {
        Moto::start_with(false)
    }

    /// A moto that checks credentials after its first two requests (the
    /// readiness probe and [`Moto::create_bucket`]): it knows none, so
    /// every later signed request is refused, 403 `InvalidAccessKeyId`.
    pub fn start_checking_credentials() -> Moto {
        Moto::start_with(true)
    }

    fn start_with(checks_credentials: bool) -> Moto {
        let mut moto = Moto {
            checks_credentials,
            port: 0,
            program: moto_server(),
            process: None,
            agent: ureq::Agent::config_builder()
                .http_status_as_error(false)
                // A helper called while moto is paused fails, not hangs.
                .timeout_global(Some(Duration::from_secs(30)))
                .build()
                .new_agent(),
            dir: tempfile::tempdir().expect("temp dir for moto's log"),
        };
        // A few tries: another process may take the port between our probe
        // and moto's bind.
        let mut last_error = String::new();
        for _ in 0..3 {
            moto.port = free_port();
            match moto.spawn() {
                Ok(()) => return moto,
                Err(e) => last_error = e,
            }
        }
        panic!("moto did not start: {last_error}")
    }

    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The `--object-store-config` that reaches this moto: its endpoint
    /// over plain HTTP and credentials it accepts (it checks none).
    pub fn settings(&self) -> String {
        format!(
            "aws_endpoint={}\naws_allow_http=true\naws_region={REGION}\n\
             aws_access_key_id={ACCESS_KEY_ID}\naws_secret_access_key={SECRET_ACCESS_KEY}\n",
            self.endpoint()
        )
    }

    pub fn create_bucket(&self, name: &str) {
        let url = format!("{}/{name}", self.endpoint());
        let response = self.agent.put(&url).send_empty();
        expect_ok(response, &format!("creating bucket {name}"));
    }

    pub fn put_object(&self, bucket: &str, key: &str, bytes: &[u8]) {
        let response = self
            .agent
            .put(&self.object_url(bucket, key))
            .header("Authorization", AUTHORIZATION)
            .content_type("application/octet-stream")
            .send(bytes);
        expect_ok(response, &format!("putting {bucket}/{key}"));
    }

    /// The object's bytes, or None when there is no such key.
    pub fn get_object(&self, bucket: &str, key: &str) -> Option<Vec<u8>> {
        let what = format!("getting {bucket}/{key}");
        let response = self
            .agent
            .get(&self.object_url(bucket, key))
            .header("Authorization", AUTHORIZATION)
            .call();
        let mut response = response.unwrap_or_else(|e| panic!("{what}: {e}"));
        if response.status() == 404 {
            return None;
        }
        let status = response.status();
        let body = response
            .body_mut()
            .with_config()
            .limit(u64::MAX)
            .read_to_vec()
            .unwrap_or_else(|e| panic!("{what}: reading the body: {e}"));
        assert!(
            status.is_success(),
            "{what}: {status}: {}",
            String::from_utf8_lossy(&body)
        );
        Some(body)
    }

    /// Deletes the object; no error when there is none (as S3).
    pub fn delete_object(&self, bucket: &str, key: &str) {
        let response = self
            .agent
            .delete(&self.object_url(bucket, key))
            .header("Authorization", AUTHORIZATION)
            .call();
        expect_ok(response, &format!("deleting {bucket}/{key}"));
    }

    /// The keys under `prefix` (`""`: all) and their sizes, in key order,
    /// with ListObjectsV2.
    pub fn list(&self, bucket: &str, prefix: &str) -> Vec<(String, u64)> {
        let what = format!("listing {bucket}/{prefix}*");
        let url = format!("{}/{bucket}", self.endpoint());
        let mut objects = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut request = self
                .agent
                .get(&url)
                .header("Authorization", AUTHORIZATION)
                .query("list-type", "2")
                .query("prefix", prefix);
            if let Some(token) = &token {
                request = request.query("continuation-token", token);
            }
            let xml = expect_ok(request.call(), &what);
            for entry in xml.split("<Contents>").skip(1) {
                let key =
                    element(entry, "Key").unwrap_or_else(|| panic!("{what}: no Key in {entry}"));
                let size = element(entry, "Size")
                    .and_then(|s| s.parse().ok())
                    .unwrap_or_else(|| panic!("{what}: no Size in {entry}"));
                objects.push((unescape(key), size));
            }
            if element(&xml, "IsTruncated") != Some("true") {
                return objects;
            }
            let next = element(&xml, "NextContinuationToken")
                .unwrap_or_else(|| panic!("{what}: truncated without a token: {xml}"));
            token = Some(unescape(next));
        }
    }

    /// Stops moto (SIGSTOP): connections are still accepted (by the
    /// kernel), requests hang until [`Self::resume`].
    pub fn pause(&self) {
        self.signal(libc::SIGSTOP, "SIGSTOP");
    }

    /// Lets a paused moto go on (SIGCONT): waiting requests are answered,
    /// the data is kept.
    pub fn resume(&self) {
        self.signal(libc::SIGCONT, "SIGCONT");
    }

    /// Kills moto (SIGKILL), as a crash would: its data is gone, its port
    /// refuses connections until [`Self::restart`].
    pub fn kill(&mut self) {
        if let Some(mut process) = self.process.take() {
            // The watchdog first: it must never signal a reaped (reusable) pid.
            let _ = process.watchdog.kill();
            let _ = process.watchdog.wait();
            let _ = process.child.kill();
            let _ = process.child.wait();
        }
    }

    /// Kills moto if it runs and starts a new one on the same port: no
    /// buckets, no objects.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn()
            .unwrap_or_else(|e| panic!("moto did not restart: {e}"));
    }

    fn object_url(&self, bucket: &str, key: &str) -> String {
        format!("{}/{bucket}/{}", self.endpoint(), encode_key(key))
    }

    fn signal(&self, signal: libc::c_int, name: &str) {
        let process = self.process.as_ref().expect("moto is not running (killed)");
        let pid = process.child.id() as libc::pid_t;
        // SAFETY: kill(2) has no memory effects; `pid` is our child, not
        // reaped yet, so still its own.
        let rc = unsafe { libc::kill(pid, signal) };
        assert_eq!(
            rc,
            0,
            "{name} to moto_server ({pid}): {}",
            std::io::Error::last_os_error()
        );
    }

    /// Starts moto on `self.port` and waits until it answers; on failure,
    /// kills what it started and says why, with moto's output.
    fn spawn(&mut self) -> Result<(), String> {
        let log_path = self.dir.path().join("moto.log");
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .expect("moto's log file");
        let log2 = log.try_clone().expect("moto's log file");
        let mut command = Command::new(&self.program);
        if self.checks_credentials {
            command.env("INITIAL_NO_AUTH_ACTION_COUNT", "2");
        }
        let child = command
            .args(["-H", "127.0.0.1", "-p", &self.port.to_string()])
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}; {INSTALL_HINT}", self.program.display()));
        let watchdog = spawn_watchdog(child.id());
        self.process = Some(Process { child, watchdog });
        match self.wait_ready() {
            Ok(()) => Ok(()),
            Err(e) => {
                self.kill();
                let output = std::fs::read_to_string(&log_path).unwrap_or_default();
                Err(format!(
                    "{} on port {}: {e}\n--- moto output ---\n{output}",
                    self.program.display(),
                    self.port
                ))
            }
        }
    }

    /// Waits (at most a minute: Python imports on a busy machine) until
    /// moto answers ListBuckets.
    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(60);
        let url = format!("{}/", self.endpoint());
        loop {
            let process = self.process.as_mut().expect("a moto process");
            if let Ok(Some(status)) = process.child.try_wait() {
                return Err(format!("moto_server exited with {status}"));
            }
            let answer = self
                .agent
                .get(&url)
                .config()
                .timeout_global(Some(Duration::from_secs(2)))
                .build()
                .call();
            if answer.is_ok_and(|r| r.status() == 200) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err("no answer within a minute".into());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `REPRISE_TEST_MOTO`, else `moto_server` beside the clients' Python
/// (found as every client test finds it: `clients::python_with`).
fn moto_server() -> PathBuf {
    if let Some(p) = std::env::var_os("REPRISE_TEST_MOTO").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let python = super::clients::python_with("moto.server");
    let program = python
        .parent()
        .map(|bin| bin.join("moto_server"))
        .unwrap_or_default();
    assert!(
        program.is_file(),
        "no moto_server beside {}: looked for {}; {INSTALL_HINT}",
        python.display(),
        program.display()
    );
    program
}

/// A shell that SIGKILLs `pid` when its stdin, a pipe whose other end we
/// hold, closes: when the test process exits, however it exits.
pub fn spawn_watchdog(pid: u32) -> Child {
    let mut cmd = Command::new("sh");
    cmd.args(["-c", r#"read -r line; kill -KILL "$0" 2>/dev/null"#])
        .arg(pid.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd.spawn().expect("starting moto's watchdog (sh)")
}

/// The body of a successful answer; panics with the status and body else.
fn expect_ok(
    response: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    what: &str,
) -> String {
    let mut response = response.unwrap_or_else(|e| panic!("{what}: {e}"));
    let status = response.status();
    let body = response
        .body_mut()
        .with_config()
        .limit(u64::MAX)
        .read_to_string()
        .unwrap_or_else(|e| panic!("{what}: reading the answer: {e}"));
    assert!(status.is_success(), "{what}: {status}: {body}");
    body
}

/// The text of the first `<name>…</name>` in `xml`.
fn element<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find(&format!("</{name}>"))?;
    Some(&xml[start..end])
}

/// XML's predefined entities, all S3 uses in keys.
fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// `key` for a URL path: bytes other than unreserved ones and `/`
/// percent-encoded.
fn encode_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
