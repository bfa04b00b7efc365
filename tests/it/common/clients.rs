//! Running real clients and tools against a test server: finding them
//! (installed by `.ci/run`), and running them with a timeout.
//!
//! - `REPRISE_TEST_PYTHON`: a Python with the client libraries, else
//!   `$REPRISE_TEST_VENV/bin/python`, else
//!   `$HOME/.cache/reprise-clients-venv/bin/python`.
//!
//! A missing tool fails the test (never skips it), naming `.ci/run`.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub const INSTALL_HINT: &str = "run .ci/run (it installs the Debian package litmus and a venv \
     with vdirsyncer, caldav, caldav-server-tester and khal), or point the variable at an \
     existing install";

pub fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join(name))
        .find(|c| c.is_file())
}

/// The venv Python, checked to import `modules` (one `import` statement's
/// list, e.g. `"caldav_server_tester, vobject"`).
pub fn python_with(modules: &str) -> PathBuf {
    let (python, from) = if let Some(p) = std::env::var_os("REPRISE_TEST_PYTHON") {
        (PathBuf::from(p), "REPRISE_TEST_PYTHON")
    } else if let Some(v) = std::env::var_os("REPRISE_TEST_VENV") {
        (PathBuf::from(v).join("bin/python"), "REPRISE_TEST_VENV")
    } else {
        let home = std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_default();
        (
            home.join(".cache/reprise-clients-venv/bin/python"),
            "the default venv",
        )
    };
    assert!(
        python.is_file(),
        "no Python for the client tests at {} ({from}; set REPRISE_TEST_PYTHON or \
         REPRISE_TEST_VENV); {INSTALL_HINT}",
        python.display()
    );
    let out = Command::new(&python)
        .args(["-c", &format!("import {modules}")])
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}; {INSTALL_HINT}", python.display()));
    assert!(
        out.status.success(),
        "{} ({from}) cannot import {modules}: {}; {INSTALL_HINT}",
        python.display(),
        String::from_utf8_lossy(&out.stderr).trim()
    );
    python
}

/// A script of `tests/clients/`.
pub fn client_script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/clients")
        .join(name)
}

pub struct Ran {
    pub success: bool,
    pub status: String,
    pub output: String,
}

/// Runs `cmd` in `cwd` with stdout and stderr merged into one file, in its
/// own process group, killed (the whole group) after `timeout`.
pub fn run_with_timeout(mut cmd: Command, cwd: &Path, timeout: Duration) -> Ran {
    use std::os::unix::process::CommandExt;
    let log_path = cwd.join("tool-output.log");
    let log = File::create(&log_path).expect("output file");
    for (k, _) in std::env::vars() {
        // Nothing meant for reprise reaches the tools.
        if k.starts_with("REPRISE_") {
            cmd.env_remove(k);
        }
    }
    cmd.current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .process_group(0);
    let started = Instant::now();
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("starting {cmd:?}: {e}"));
    let (success, status) = loop {
        if let Some(status) = child.try_wait().expect("waiting for the tool") {
            let took = started.elapsed().as_secs_f64();
            break (status.success(), format!("{status} after {took:.1}s"));
        }
        if started.elapsed() > timeout {
            let _ = Command::new("kill")
                .args(["-KILL", &format!("-{}", child.id())])
                .status();
            let _ = child.kill();
            let _ = child.wait();
            break (
                false,
                format!("killed after the {}s timeout", timeout.as_secs()),
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let bytes = std::fs::read(&log_path).unwrap_or_default();
    Ran {
        success,
        status,
        output: String::from_utf8_lossy(&bytes).into_owned(),
    }
}
