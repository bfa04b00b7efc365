//! Running the `reprise` binary in tests.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_reprise"))
}

pub fn fixture(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(path)
}

/// A command on a data directory, with no `REPRISE_*` variable leaking in.
pub fn reprise(data: &Path) -> Command {
    let mut cmd = Command::new(bin());
    without_reprise_env(&mut cmd);
    cmd.arg("--data-dir").arg(data);
    cmd
}

/// Keeps the test's own `REPRISE_*` variables from configuring `cmd`, and
/// its `AWS_*` ones from reaching an s3:// store (the tests give theirs in
/// `--object-store-config`).
pub fn without_reprise_env(cmd: &mut Command) {
    for (k, _) in std::env::vars() {
        if k.starts_with("REPRISE_") || k.starts_with("AWS_") {
            cmd.env_remove(k);
        }
    }
    // Many servers and proxies run at once: each takes a free port for its
    // metrics rather than the fixed default (a test that scrapes one says
    // where with --metrics-listen).
    cmd.env("REPRISE_METRICS_LISTEN", "127.0.0.1:0");
    cmd.env("REPRISE_PROXY_METRICS_LISTEN", "127.0.0.1:0");
}

/// `user add LOGIN --email LOGIN@example.com --password-stdin EXTRA...`
/// on `cmd` (its data directory and log flags set); the command's output.
pub fn add_user(mut cmd: Command, login: &str, password: &str, extra: &[&str]) -> String {
    cmd.args(["user", "add", login, "--email"])
        .arg(format!("{login}@example.com"))
        .arg("--password-stdin")
        .args(extra);
    ok(cmd, &format!("{password}\n"))
}

pub fn run(mut cmd: Command, stdin: &str) -> Output {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn reprise");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

pub fn ok(cmd: Command, stdin: &str) -> String {
    let out = run(cmd, stdin);
    assert!(
        out.status.success(),
        "failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

pub fn fails(cmd: Command, stdin: &str) -> String {
    let out = run(cmd, stdin);
    assert!(
        !out.status.success(),
        "unexpected success: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8(out.stderr).unwrap()
}
