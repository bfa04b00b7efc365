//! The `reprise` command as an operator runs it, on the embedded log.

use crate::common;

use crate::common::cmd::{bin, fails, fixture, ok, reprise};
use crate::common::server::{free_port, raw_get};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn add_user(data: &Path, login: &str, extra: &[&str]) -> String {
    common::cmd::add_user(reprise(data), login, "correct horse", extra)
}

/// Total records in the log, from `log stats --json`.
fn log_count(data: &Path) -> u64 {
    let mut cmd = reprise(data);
    cmd.args(["log", "stats", "--json"]);
    let text = ok(cmd, "");
    let json = &text[text.find('[').unwrap()..];
    let stats: Vec<serde_json::Value> = serde_json::from_str(json).unwrap();
    stats.iter().map(|s| s["count"].as_u64().unwrap()).sum()
}

/// `projections digest --json` of a data directory, as text.
fn digest_of(mut cmd: Command) -> String {
    cmd.args(["projections", "digest", "--json"]);
    ok(cmd, "")
}

fn distinct_uids(ics: &str) -> usize {
    ics.lines()
        .filter_map(|l| l.strip_prefix("UID:"))
        .map(|u| u.trim().to_string())
        .collect::<BTreeSet<_>>()
        .len()
}

#[test]
fn every_command_has_help() {
    for args in [
        vec![],
        vec!["serve"],
        vec!["rebuild"],
        vec!["projections"],
        vec!["projections", "status"],
        vec!["projections", "digest"],
        vec!["projections", "quarantine"],
        vec!["log"],
        vec!["log", "tail"],
        vec!["log", "stats"],
        vec!["domain"],
        vec!["domain", "add"],
        vec!["domain", "list"],
        vec!["domain", "show"],
        vec!["user"],
        vec!["user", "add"],
        vec!["user", "list"],
        vec!["user", "show"],
        vec!["user", "update"],
        vec!["user", "passwd"],
        vec!["user", "disable"],
        vec!["user", "enable"],
        vec!["user", "delete"],
        vec!["group"],
        vec!["group", "add"],
        vec!["group", "list"],
        vec!["group", "show"],
        vec!["group", "update"],
        vec!["group", "delete"],
        vec!["group", "add-member"],
        vec!["group", "remove-member"],
        vec!["resource"],
        vec!["resource", "add"],
        vec!["resource", "list"],
        vec!["resource", "show"],
        vec!["resource", "update"],
        vec!["resource", "delete"],
        vec!["import"],
        vec!["import", "calendar"],
        vec!["import", "contacts"],
        vec!["bench"],
        vec!["bench", "rebuild"],
    ] {
        let out = Command::new(bin())
            .args(&args)
            .arg("--help")
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}");
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.contains("Usage:"), "{args:?}: {text}");
        if !args.is_empty() {
            assert!(
                text.contains("REPRISE_DATA_DIR"),
                "{args:?} shows its environment variables"
            );
        }
    }
}

#[test]
fn users_are_created_listed_and_refused_when_invalid() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = add_user(&data, "alice", &["--name", "Alice Liddell", "--admin"]);
    assert!(out.contains("created user alice@example.com"), "{out}");
    // The data directory can come from the environment.
    let mut cmd = Command::new(bin());
    cmd.env("REPRISE_DATA_DIR", &data)
        .args(["user", "list", "--json"]);
    let users: Vec<serde_json::Value> = serde_json::from_str(&ok(cmd, "")).unwrap();
    assert_eq!(users.len(), 1);
    assert_eq!(users[0]["principal"], "alice@example.com");
    assert_eq!(users[0]["display_name"], "Alice Liddell");
    assert_eq!(users[0]["admin"], true);

    let before = log_count(&data);
    // Domain + user, then a default calendar and address book.
    assert_eq!(before, 4);
    let refused = |login: &str, email: &str, stdin: &str| {
        let mut cmd = reprise(&data);
        cmd.args(["user", "add", login, "--email", email, "--password-stdin"]);
        fails(cmd, stdin)
    };
    assert!(refused("alice", "x@example.com", "pw\n").contains("already exists"));
    assert!(refused("Bad Login", "b@example.com", "pw\n").contains("invalid login"));
    assert!(refused("bob", "bob@example.com", "\n").contains("no password"));
    assert_eq!(log_count(&data), before, "refused commands append nothing");
}

#[test]
fn imports_split_exports_and_refuse_malformed_files_whole() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    add_user(&data, "alice", &[]);
    let google = fixture("ical/google_export.ics");
    let expected = distinct_uids(&std::fs::read_to_string(&google).unwrap());
    let mut cmd = reprise(&data);
    cmd.args(["import", "calendar", "alice"]).arg(&google);
    let out = ok(cmd, "");
    assert!(
        out.contains(&format!(
            "imported {expected} object(s) into alice@example.com/default"
        )),
        "{out}"
    );
    let after_good = log_count(&data);

    for bad in [
        "ical/bad_no_colon.ics",
        "ical/bad_unterminated.ics",
        "ical/bad_missing_uid.ics",
    ] {
        let mut cmd = reprise(&data);
        cmd.args(["import", "calendar", "alice"]).arg(fixture(bad));
        let err = fails(cmd, "");
        let name = Path::new(bad).file_name().unwrap().to_str().unwrap();
        assert!(err.contains(&format!("{name}:")), "names the file: {err}");
        let after = err.split(&format!("{name}:")).nth(1).unwrap();
        assert!(
            after.trim_start().chars().next().unwrap().is_ascii_digit(),
            "names the line: {err}"
        );
    }
    let mut cmd = reprise(&data);
    cmd.args(["import", "contacts", "alice@example.com"])
        .arg(fixture("vcard/vcard21.vcf"));
    assert!(fails(cmd, "").contains("vcard21.vcf:"));
    assert_eq!(
        log_count(&data),
        after_good,
        "malformed files append nothing"
    );

    // Re-importing updates objects in place: same hrefs, no UID conflict.
    let mut again = reprise(&data);
    again.args(["import", "calendar", "alice"]).arg(&google);
    assert!(ok(again, "").contains(&format!("imported {expected} object(s)")));

    let mut cards = reprise(&data);
    cards
        .args(["import", "contacts", "alice", "--collection", "work"])
        .arg(fixture("vcard/google_contacts.vcf"));
    assert!(ok(cards, "").contains("into alice@example.com/work"));
    let mut no_user = reprise(&data);
    no_user
        .args(["import", "calendar", "nobody@example.com"])
        .arg(&google);
    assert!(fails(no_user, "").contains("no user nobody@example.com"));
}

#[test]
fn a_foreign_data_directory_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("photos");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("holiday.jpg"), b"not ours").unwrap();
    for args in [
        vec!["user", "list"],
        vec!["rebuild"],
        vec!["log", "stats"],
        vec!["projections", "status"],
    ] {
        let mut cmd = reprise(&data);
        cmd.args(&args);
        let err = fails(cmd, "");
        assert!(
            err.contains("not a reprise data directory"),
            "{args:?}: {err}"
        );
    }
    let names: Vec<_> = std::fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("holiday.jpg")]);
    assert_eq!(
        std::fs::read(data.join("holiday.jpg")).unwrap(),
        b"not ours"
    );
}

struct Server {
    child: Child,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_running_server_holds_the_data_directory_and_serves_the_commands() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    add_user(&data, "alice", &["--admin"]);
    let port = free_port();
    let mut serve = reprise(&data);
    serve
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let server = Server {
        child: serve.spawn().unwrap(),
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if raw_get(port, "/readyz").is_some_and(|r| r.starts_with("HTTP/1.1 200")) {
            break;
        }
        assert!(Instant::now() < deadline, "server never became ready");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(raw_get(port, "/healthz")
        .unwrap()
        .starts_with("HTTP/1.1 200"));
    let url = format!("http://127.0.0.1:{port}");

    // Opening the directory directly is refused, with the way that works.
    let mut direct = reprise(&data);
    direct.args(["user", "list"]);
    let err = fails(direct, "");
    assert!(
        err.contains("in use by `reprise serve`") && err.contains(&format!("--server {url}")),
        "{err}"
    );

    let mut add = reprise(&data);
    add.args(["--server", &url]);
    assert!(common::cmd::add_user(add, "bob", "pw", &[]).contains("created user bob@example.com"));
    let mut dup = reprise(&data);
    dup.args([
        "--server",
        &url,
        "user",
        "add",
        "bob",
        "--email",
        "bob@example.com",
        "--password-stdin",
    ]);
    assert!(fails(dup, "pw\n").contains("already exists"));
    let mut import = reprise(&data);
    import
        .args(["--server", &url, "import", "calendar", "bob"])
        .arg(fixture("ical/outlook_export.ics"));
    assert!(ok(import, "").contains("into bob@example.com/default"));
    let mut bad = reprise(&data);
    bad.args(["--server", &url, "import", "calendar", "bob"])
        .arg(fixture("ical/bad_no_colon.ics"));
    assert!(fails(bad, "").contains("bad_no_colon.ics:"));
    let mut list = reprise(&data);
    list.args(["--server", &url, "user", "list"]);
    let users = ok(list, "");
    assert!(
        users.contains("alice@example.com") && users.contains("bob@example.com"),
        "{users}"
    );
    let mut status = reprise(&data);
    status.args(["--server", &url, "projections", "status", "--json"]);
    let report: serde_json::Value = serde_json::from_str(&ok(status, "")).unwrap();
    assert_eq!(report["projections"].as_array().unwrap().len(), 5);

    // The log, read through the server that holds it.
    let mut tail = reprise(&data);
    tail.args(["--server", &url, "log", "tail", "--type", "UserCreated"]);
    let lines = ok(tail, "");
    assert_eq!(lines.lines().count(), 2, "{lines}");
    assert!(lines.contains("\"login\":\"bob\""), "{lines}");
    let mut stats = reprise(&data);
    stats.args(["--server", &url, "log", "stats", "--json"]);
    let text = ok(stats, "");
    assert!(text.contains("through http://127.0.0.1"), "{text}");
    let mut follow = reprise(&data);
    follow
        .args([
            "--server",
            &url,
            "log",
            "tail",
            "--follow",
            "-o",
            "end",
            "--type",
            "UserCreated",
            "-c",
            "1",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let follower = follow.spawn().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let mut add = reprise(&data);
    add.args(["--server", &url]);
    common::cmd::add_user(add, "carol", "pw", &[]);
    let followed = follower.wait_with_output().unwrap();
    assert!(followed.status.success());
    assert!(String::from_utf8_lossy(&followed.stdout).contains("\"login\":\"carol\""));

    // Without the local token (another machine): admin credentials.
    let elsewhere = dir.path().join("elsewhere");
    let remote_list = |password: &str| {
        let mut cmd = Command::new(bin());
        cmd.arg("--data-dir")
            .arg(&elsewhere)
            .args(["--server", &url, "user", "list"])
            .env("REPRISE_ADMIN_USER", "alice@example.com")
            .env("REPRISE_ADMIN_PASSWORD", password);
        cmd
    };
    assert!(fails(remote_list("wrong"), "").contains("401"));
    assert!(ok(remote_list("correct horse"), "").contains("bob@example.com"));

    // A graceful stop releases the directory and removes serve.json.
    let pid = server.child.id() as i32;
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(20);
    while data.join("serve.json").exists() {
        assert!(Instant::now() < deadline, "server did not stop");
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(server);
    let mut list = reprise(&data);
    list.args(["user", "list"]);
    assert!(ok(list, "").contains("bob@example.com"));
}

#[test]
fn log_tail_filters_like_kcat() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    add_user(&data, "alice", &[]);
    add_user(&data, "bob", &[]);
    let tail = |args: &[&str]| -> Vec<serde_json::Value> {
        let mut cmd = reprise(&data);
        cmd.args(["log", "tail"]).args(args);
        ok(cmd, "")
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let all = tail(&[]);
    assert_eq!(
        all.len(),
        2 + 3 * 2 - 1,
        "domain once, user, calendar and book twice"
    );
    let users = tail(&["--type", "UserCreated"]);
    assert_eq!(users.len(), 2);
    for u in &users {
        assert_eq!(u["topic"], "directory");
        assert_eq!(u["key"], "example.com");
        assert_eq!(u["event"]["payload"]["type"], "UserCreated");
        let schema = events::codec::CURRENT_SCHEMA_VERSION.to_string();
        assert_eq!(
            u["headers"]["reprise-schema"].as_str(),
            Some(schema.as_str())
        );
        assert!(u["partition"].is_u64() && u["offset"].is_u64() && u["timestamp"].is_string());
    }
    assert_eq!(
        tail(&["--topic", "calendar", "--key", "bob@example.com"]).len(),
        1
    );
    assert_eq!(tail(&["-c", "3"]).len(), 3);
    assert_eq!(tail(&["--topic", "directory", "-o", "-1"]).len(), 1);
    assert_eq!(tail(&["--topic", "directory", "-o", "end"]).len(), 0);
    assert_eq!(tail(&["--since", "2999-01-01"]).len(), 0);
    assert_eq!(tail(&["--until", "2000-01-01"]).len(), 0);
    let mut pretty = reprise(&data);
    pretty.args([
        "log",
        "tail",
        "--format",
        "pretty",
        "--type",
        "UserCreated",
        "-c",
        "1",
    ]);
    let text = ok(pretty, "");
    assert!(
        text.contains("UserCreated") && text.contains("\"login\": \"alice\""),
        "{text}"
    );
    let mut bad = reprise(&data);
    bad.args(["log", "tail", "-o", "soon"]);
    assert!(fails(bad, "").contains("-o takes"));
}

#[test]
fn rebuild_status_and_digest_agree_across_rebuilds() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    add_user(&data, "alice", &[]);
    let mut import = reprise(&data);
    import
        .args(["import", "calendar", "alice"])
        .arg(fixture("ical/google_export.ics"));
    ok(import, "");
    let digest = || digest_of(reprise(&data));
    let before = digest();
    let mut rebuild = reprise(&data);
    rebuild.arg("rebuild");
    let out = ok(rebuild, "");
    assert!(
        out.starts_with("rebuilt 5 projection(s):") && out.contains("events/s"),
        "{out}"
    );
    assert_eq!(
        digest(),
        before,
        "a rebuild reproduces the views byte for byte"
    );
    let mut one = reprise(&data);
    one.args(["rebuild", "--projection", "calendars"]);
    assert!(ok(one, "").starts_with("rebuilt 1 projection(s)"));
    let mut unknown = reprise(&data);
    unknown.args(["rebuild", "--projection", "calendars", "--version", "9"]);
    assert!(fails(unknown, "").contains("this build can build"));
    let mut status = reprise(&data);
    status.args(["projections", "status", "--json"]);
    let report: serde_json::Value = serde_json::from_str(&ok(status, "")).unwrap();
    for p in report["projections"].as_array().unwrap() {
        let v = &p["versions"][0];
        assert_eq!(v["state"], "ready");
        assert_eq!(v["live"], true);
        assert_eq!(v["lag"], 0);
        assert_eq!(v["quarantined"], 0);
    }
}

/// A rebuild killed with SIGKILL at arbitrary points resumes from its
/// stored positions and ends with the digest of an uninterrupted one.
#[test]
fn a_killed_rebuild_resumes_to_the_same_digest() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // A synthetic log big enough that a debug-build rebuild takes seconds.
    let mut bench = Command::new(bin());
    bench
        .args(["bench", "rebuild", "--events", "20000", "--dir"])
        .arg(&data);
    ok(bench, "");
    let digest = || digest_of(reprise(&data));
    let reference = digest();
    let mut cut_mid_build = 0;
    // Spread from start-up (opening the log and the views) to the end.
    for kill_after_ms in [300, 1200, 3000, 6000] {
        let mut rebuild = reprise(&data);
        rebuild
            .args(["rebuild", "--batch-size", "100"])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut child = rebuild.spawn().unwrap();
        std::thread::sleep(Duration::from_millis(kill_after_ms));
        let _ = child.kill();
        let _ = child.wait();
        let mut status = reprise(&data);
        status.args(["projections", "status", "--json"]);
        if ok(status, "").contains("\"building\"") {
            cut_mid_build += 1;
        }
        let mut resume = reprise(&data);
        resume.arg("rebuild");
        ok(resume, "");
        assert_eq!(digest(), reference, "killed after {kill_after_ms} ms");
    }
    assert!(cut_mid_build > 0, "no kill landed during a build");
}

/// The views are the same, byte for byte, whatever the number of threads
/// applying a projection's partitions, the batch size, and wherever a
/// rebuild was interrupted (a batch picked by a seed) and resumed.
#[test]
fn the_views_are_the_same_whatever_the_workers_batches_and_interruptions() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut bench = Command::new(bin());
    bench
        .args([
            "bench",
            "rebuild",
            "--events",
            "6000",
            "--workers",
            "1",
            "--dir",
        ])
        .arg(&data);
    ok(bench, "");
    let digest = || digest_of(reprise(&data));
    let rebuild = |args: &[&str]| {
        let mut cmd = reprise(&data);
        cmd.arg("rebuild").args(args);
        ok(cmd, "")
    };
    let reference = digest();
    for (workers, batch) in [(1, 1), (2, 7), (4, 2000), (4, 1), (2, 2000), (1, 7)] {
        let (w, b) = (workers.to_string(), batch.to_string());
        rebuild(&["--workers", &w, "--batch-size", &b]);
        assert_eq!(
            digest(),
            reference,
            "{workers} worker(s), batches of {batch}"
        );
    }
    for seed in 1u64..=5 {
        // A batch somewhere in the first half of the smallest projection's
        // batches of 7 (the directory has about 300 events).
        let stop = 1 + seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) % 20;
        let out = rebuild(&[
            "--batch-size",
            "7",
            "--workers",
            "2",
            "--stop-after-batches",
            &stop.to_string(),
        ]);
        assert!(out.starts_with("interrupted"), "seed {seed}: {out}");
        rebuild(&["--workers", "4", "--batch-size", "2000"]);
        assert_eq!(
            digest(),
            reference,
            "seed {seed}: stopped after {stop} batches"
        );
    }
}

/// A damaged log or view database is refused, naming what it is, and left
/// as it was: a damaged format file of the storage engine, or a journal
/// entry (the newest writes) that fails its checksum.
#[test]
fn a_corrupt_log_or_view_database_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    add_user(&data, "alice", &[]);
    let refused = |part: &str, what: &str, damaged: &Path, bytes: &[u8]| {
        let mut cmd = reprise(&data);
        cmd.args(["user", "list"]);
        let err = fails(cmd, "");
        assert!(
            err.contains(&format!("cannot be used as a reprise {what}")),
            "{part}: {err}"
        );
        assert_eq!(std::fs::read(damaged).unwrap(), bytes, "{part} untouched");
    };
    for (part, what) in [("views", "view database"), ("log", "log")] {
        // The engine's format file.
        let version = data.join(part).join("version");
        let mut bytes = std::fs::read(&version).unwrap();
        bytes[0] ^= 0x5a;
        std::fs::write(&version, &bytes).unwrap();
        refused(part, what, &version, &bytes);
        bytes[0] ^= 0x5a;
        std::fs::write(&version, &bytes).unwrap();

        // A letter of alice's address in the journal, where the newest
        // writes are until they reach a table.
        let journal = std::fs::read_dir(data.join(part))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "jnl"))
            .max()
            .expect("a journal");
        let mut bytes = std::fs::read(&journal).unwrap();
        let at = bytes
            .windows(5)
            .position(|w| w == b"alice")
            .expect("alice's record in the journal");
        bytes[at] ^= 0x01;
        std::fs::write(&journal, &bytes).unwrap();
        refused(part, what, &journal, &bytes);
        bytes[at] ^= 0x01;
        std::fs::write(&journal, &bytes).unwrap();
    }
    let mut cmd = reprise(&data);
    cmd.args(["user", "list"]);
    assert!(
        ok(cmd, "").contains("alice@example.com"),
        "restored files open again"
    );
}

#[test]
fn a_full_disk_fails_the_rebuild_clearly_and_a_rerun_with_space_finishes_it() {
    let dir = tempfile::tempdir().unwrap();
    let reference = dir.path().join("reference");
    let mut bench = reprise(&dir.path().join("unused"));
    bench
        .args(["bench", "rebuild", "--events", "20000", "--dir"])
        .arg(&reference);
    ok(bench, "");
    let expected = digest_of(reprise(&reference));

    let disk = common::disk::SmallDisk::new(64);
    std::fs::create_dir(disk.path("data")).unwrap();
    disk.copy_in(&reference.join("log"), "data/log");
    std::fs::copy(
        reference.join("REPRISE-DATA-DIR"),
        disk.path("data/REPRISE-DATA-DIR"),
    )
    .unwrap();
    // Room to open the views and start, not to finish.
    disk.fill(1 << 20);
    let mut rebuild = disk.reprise("data");
    rebuild.arg("rebuild");
    let err = fails(rebuild, "");
    assert!(err.contains("No space left on device"), "{err}");
    assert!(
        !err.contains("oisoned"),
        "the first cause, not its echoes: {err}"
    );

    // With space again, the same command resumes from what was kept.
    disk.free();
    let mut rebuild = disk.reprise("data");
    rebuild.arg("rebuild");
    ok(rebuild, "");
    assert_eq!(digest_of(disk.reprise("data")), expected);
}

#[test]
fn the_directory_commands_work_on_the_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let run = |args: &[&str]| {
        let mut cmd = reprise(&data);
        cmd.args(args);
        cmd
    };
    let out = ok(
        run(&["domain", "add", "corp.example", "--name", "Corp"]),
        "",
    );
    assert!(out.contains("created domain corp.example"), "{out}");
    assert!(fails(run(&["domain", "add", "corp.example"]), "").contains("already exists"));
    let domains: Vec<serde_json::Value> =
        serde_json::from_str(&ok(run(&["domain", "list", "--json"]), "")).unwrap();
    assert_eq!(domains[0]["display_name"], "Corp");
    assert!(ok(run(&["domain", "show", "corp.example"]), "").contains("display name: Corp"));

    for login in ["ann", "ben", "cid"] {
        let mut add = run(&["user", "add", login, "--domain", "corp.example"]);
        add.args([
            "--email",
            &format!("{login}@corp.example"),
            "--password-stdin",
        ]);
        ok(add, "pw\n");
    }
    let out = ok(
        run(&[
            "user",
            "update",
            "ann@corp.example",
            "--name",
            "Ann A",
            "--phone",
            "+1 555",
            "--admin",
            "true",
        ]),
        "",
    );
    assert!(out.contains("updated user ann@corp.example"), "{out}");
    let shown: serde_json::Value = serde_json::from_str(&ok(
        run(&["user", "show", "ann@corp.example", "--json"]),
        "",
    ))
    .unwrap();
    assert_eq!(
        (&shown["display_name"], &shown["phone"], &shown["admin"]),
        (
            &serde_json::json!("Ann A"),
            &serde_json::json!("+1 555"),
            &serde_json::json!(true)
        )
    );
    ok(
        run(&["user", "update", "ann@corp.example", "--no-phone"]),
        "",
    );
    assert!(ok(run(&["user", "show", "ann@corp.example"]), "").contains("phone: \n"));
    assert!(fails(run(&["user", "update", "ann@corp.example"]), "").contains("nothing to change"));
    assert!(fails(
        run(&[
            "user",
            "update",
            "ben@corp.example",
            "--email",
            "ann@corp.example"
        ]),
        ""
    )
    .contains("already in use"));
    ok(
        run(&["user", "passwd", "ann@corp.example", "--password-stdin"]),
        "new pw\n",
    );
    assert!(fails(
        run(&["user", "passwd", "ann@corp.example", "--password-stdin"]),
        ""
    )
    .contains("no password"));
    // Pages of two, followed to the end.
    let users: Vec<serde_json::Value> = serde_json::from_str(&ok(
        run(&[
            "user",
            "list",
            "--domain",
            "corp.example",
            "--json",
            "--page-size",
            "2",
        ]),
        "",
    ))
    .unwrap();
    assert_eq!(users.len(), 3);

    ok(
        run(&[
            "group",
            "add",
            "staff@corp.example",
            "--email",
            "staff@corp.example",
        ]),
        "",
    );
    ok(
        run(&["group", "add-member", "staff@corp.example", "--user", "ben"]),
        "",
    );
    assert!(fails(
        run(&[
            "group",
            "add-member",
            "staff@corp.example",
            "--group",
            "staff"
        ]),
        ""
    )
    .contains("cannot contain itself"));
    ok(
        run(&[
            "group",
            "update",
            "staff@corp.example",
            "--display-name",
            "Staff",
        ]),
        "",
    );
    let out = ok(
        run(&[
            "resource",
            "add",
            "boardroom@corp.example",
            "--kind",
            "room",
            "--capacity",
            "12",
            "--location",
            "Floor 5",
        ]),
        "",
    );
    assert!(out.contains("created room boardroom@corp.example"), "{out}");
    ok(
        run(&[
            "resource",
            "update",
            "boardroom@corp.example",
            "--no-capacity",
        ]),
        "",
    );
    let rooms = ok(run(&["resource", "list"]), "");
    assert!(
        rooms.contains("boardroom@corp.example") && rooms.contains("Floor 5"),
        "{rooms}"
    );

    let before = log_count(&data);
    assert!(fails(run(&["user", "delete", "nobody@corp.example"]), "").contains("no user"));
    assert!(fails(run(&["group", "add", "Bad@corp.example"]), "").contains("invalid group name"));
    assert_eq!(
        log_count(&data),
        before,
        "refused commands appended nothing"
    );
    let out = ok(run(&["user", "delete", "ben@corp.example"]), "");
    assert!(out.contains("deleted user ben@corp.example"), "{out}");
    assert!(ok(run(&["group", "show", "staff@corp.example"]), "").contains("members: \n"));
    ok(run(&["resource", "delete", "boardroom@corp.example"]), "");
    ok(run(&["group", "delete", "staff@corp.example"]), "");
    assert!(ok(run(&["group", "list"]), "").contains("no groups"));
    assert!(
        ok(run(&["resource", "list", "--domain", "corp.example"]), "").contains("no resources")
    );
}
