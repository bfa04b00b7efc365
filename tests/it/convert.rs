//! Data directories of reprise's first, sled-based build: recognised,
//! refused with the way forward, converted by `reprise data-dir convert`
//! with every identifier a client holds unchanged, however often the
//! conversion is interrupted; damaged or unknown ones refused untouched.
//!
//! The sled-era directory is a real one, written by that build
//! (`fixtures/sled-era/`), with what its clients held in `expected.json`.

use crate::common::cmd::{fails, fixture, ok, reprise};
use crate::common::server::TestServer;
use sha2::Digest;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// A copy of the sled-era data directory in a new temporary directory.
fn sled_era_copy() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    copy_dir(&fixture("sled-era/data"), &data);
    (dir, data)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Every file under `dir` with a digest of its bytes, to prove it
/// untouched.
fn contents(dir: &Path) -> Vec<(PathBuf, u64, String)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let bytes = std::fs::read(&path).unwrap();
                let digest = sha2::Sha256::digest(&bytes);
                let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
                out.push((path.clone(), bytes.len() as u64, hex));
            }
        }
    }
    out.sort();
    out
}

fn convert(data: &Path) -> Command {
    let mut cmd = reprise(data);
    cmd.args(["data-dir", "convert"]);
    cmd
}

/// What clients read of the installation on `data`, served by this build
/// (the same script that recorded `expected.json` from the old one).
fn what_clients_see(dir: tempfile::TempDir, data: PathBuf) -> serde_json::Value {
    let server = TestServer::on_existing(dir, data);
    let out = Command::new("python3")
        .arg(fixture("sled-era/clients.py"))
        .arg(&server.url)
        .output()
        .expect("run python3 fixtures/sled-era/clients.py");
    assert!(
        out.status.success(),
        "clients.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn expected() -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(fixture("sled-era/expected.json")).unwrap()).unwrap()
}

#[test]
fn a_sled_era_directory_is_refused_with_the_way_forward_then_converts_keeping_every_identifier() {
    let (dir, data) = sled_era_copy();
    let before = contents(&data);
    for args in [&["user", "list"][..], &["serve"], &["rebuild"]] {
        let mut cmd = reprise(&data);
        cmd.args(args);
        let err = fails(cmd, "");
        assert!(
            err.contains("sled-based build") && err.contains("data-dir convert"),
            "{args:?}: {err}"
        );
    }
    assert_eq!(contents(&data), before, "refusals change nothing");

    let out = ok(convert(&data), "");
    assert!(out.contains("format 2"), "{out}");
    // The old databases are kept, moved aside.
    for part in ["log", "views"] {
        assert!(
            data.join("sled-era").join(part).join("db").is_file(),
            "{part}"
        );
    }
    // Running it again is harmless.
    let again = ok(convert(&data), "");
    assert!(again.contains("already in format 2"), "{again}");

    assert_eq!(what_clients_see(dir, data), expected());
}

/// A conversion killed at any moment, then run again, ends as one that
/// was never interrupted.
#[test]
fn an_interrupted_conversion_runs_again_to_the_same_result() {
    let mut interrupted_mid_way = 0;
    for kill_after_ms in [0, 15, 40, 80, 150, 300] {
        let (dir, data) = sled_era_copy();
        let mut child = convert(&data)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(kill_after_ms));
        let _ = child.kill();
        let finished = child.wait().unwrap().success();
        if !finished {
            interrupted_mid_way += 1;
        }
        ok(convert(&data), "");
        assert_eq!(
            what_clients_see(dir, data),
            expected(),
            "killed after {kill_after_ms} ms"
        );
    }
    assert!(
        interrupted_mid_way > 0,
        "no kill landed during a conversion"
    );
}

/// The states a conversion passes through, reached by hand: each is
/// completed by running it again.
#[test]
fn every_intermediate_state_completes() {
    // An unfinished copy of the log beside the sled-era one.
    let (dir, data) = sled_era_copy();
    std::fs::create_dir_all(data.join("log.converting")).unwrap();
    std::fs::write(data.join("log.converting/partial"), b"half a copy").unwrap();
    ok(convert(&data), "");
    assert!(!data.join("log.converting").exists());
    assert_eq!(what_clients_see(dir, data), expected());

    // The copy finished and the old log moved aside, but the new one not
    // yet in place (and the views not moved).
    let (done_dir, done) = sled_era_copy();
    ok(convert(&done), "");
    let (dir, data) = sled_era_copy();
    std::fs::create_dir_all(data.join("sled-era")).unwrap();
    std::fs::rename(data.join("log"), data.join("sled-era/log")).unwrap();
    std::fs::rename(done.join("log"), data.join("log.converting")).unwrap();
    drop(done_dir);
    ok(convert(&data), "");
    assert!(data.join("sled-era/views/db").is_file());
    assert_eq!(what_clients_see(dir, data), expected());
}

#[test]
fn a_damaged_sled_era_log_is_refused_and_left_untouched() {
    for damage in ["truncated", "header"] {
        let (_dir, data) = sled_era_copy();
        let db = data.join("log/db");
        let mut bytes = std::fs::read(&db).unwrap();
        match damage {
            // Where the last records are: sled itself would recover the
            // rest as a shorter log, without a word.
            "truncated" => bytes.truncate(20_000),
            _ => bytes[6] ^= 0x5a,
        }
        std::fs::write(&db, &bytes).unwrap();
        let before = contents(&data);
        let err = fails(convert(&data), "");
        let why = match damage {
            "truncated" => "truncated or damaged",
            _ => "corrupt",
        };
        assert!(
            err.contains("sled-era log")
                && err.contains(why)
                && err.contains("nothing was changed"),
            "{damage}: {err}"
        );
        assert_eq!(contents(&data), before, "{damage}: untouched");
    }
}

#[test]
fn unknown_and_newer_data_directories_are_refused_naming_what_was_found() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut cmd = reprise(&data);
    cmd.args(["user", "list"]);
    ok(cmd, "");
    let marker = data.join("REPRISE-DATA-DIR");
    assert_eq!(
        std::fs::read_to_string(&marker).unwrap(),
        "reprise data directory, format 2\n"
    );
    for (text, expect) in [
        ("reprise data directory, format 9\n", "format 9, newer"),
        ("something else\n", "\"something else\""),
    ] {
        std::fs::write(&marker, text).unwrap();
        for args in [&["user", "list"][..], &["data-dir", "convert"]] {
            let mut cmd = reprise(&data);
            cmd.args(args);
            let err = fails(cmd, "");
            assert!(err.contains(expect), "{text:?} {args:?}: {err}");
        }
        assert_eq!(std::fs::read_to_string(&marker).unwrap(), text);
    }
}
