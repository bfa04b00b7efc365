//! `clone --objects share|copy`: a clone that shares its source's object
//! store is checked against that store; one that copies gets every object
//! its log names (file bodies, old versions too, and managed attachments;
//! only up to its `--until`) in a store of its own, checked, and serves
//! them byte for byte once the source and its store are gone: from a file
//! store and from S3 (moto).

use crate::common::cmd::{add_user, fails, ok, reprise};
use crate::common::http::{binary, send};
use crate::common::s3::Moto;
use crate::common::server::TestServer;
use crate::objects::{
    authorization, bytes, copy, hex, object_file, put, s3_flags, verify, LIMIT, MIB,
};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const FILES: &str = "/dav/files/alice@example.com";

const EVENT: &str = "/dav/calendars/alice@example.com/work/weekly.ics";
const WEEKLY: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//reprise//test//EN\r\n\
BEGIN:VEVENT\r\nUID:weekly-1\r\nDTSTAMP:20260101T000000Z\r\n\
DTSTART:20260105T090000Z\r\nDTEND:20260105T100000Z\r\n\
RRULE:FREQ=WEEKLY;COUNT=8\r\nSUMMARY:Weekly review\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

/// What a source was given.
struct Written {
    /// Every file and attachment by its full path, with the bytes a GET
    /// must give.
    files: Vec<(String, Vec<u8>)>,
    /// Every body stored, an overwritten version included: what the log
    /// names.
    objects: Vec<Vec<u8>>,
}

/// `method path` as alice, with `headers`: (status, Location).
fn request(
    server: &TestServer,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, Option<String>) {
    let auth = authorization();
    let mut all = vec![("Authorization", auth.as_str())];
    all.extend_from_slice(headers);
    let reply = send(server.port, method, path, &all, body);
    (reply.status, reply.header("location").map(str::to_string))
}

/// The bytes at `path` (a full path), as alice.
fn get(server: &TestServer, path: &str) -> (u16, Vec<u8>) {
    let auth = authorization();
    binary(
        server.port,
        "GET",
        path,
        &[("Authorization", auth.as_str())],
        b"",
    )
}

/// A managed attachment (RFC 8607) added to a new event: its location.
fn attach(server: &TestServer, body: &[u8]) -> String {
    let calendar = EVENT.rsplit_once('/').expect("a calendar").0;
    assert_eq!(request(server, "MKCALENDAR", calendar, &[], b"").0, 201);
    let headers = [("Content-Type", "text/calendar")];
    assert_eq!(
        request(server, "PUT", EVENT, &headers, WEEKLY.as_bytes()).0,
        201
    );
    let headers = [
        ("Content-Type", "application/pdf"),
        ("Content-Disposition", "attachment;filename=agenda.pdf"),
    ];
    let path = format!("{EVENT}?action=attachment-add");
    let (status, location) = request(server, "POST", &path, &headers, body);
    assert_eq!(status, 201);
    location.expect("the attachment's Location")
}

/// Files of every kind a log names objects for: a small one, one of 12
/// MiB (streamed and uploaded in parts), one overwritten (its first
/// version stays named by its past event) and a folder copied (the copy
/// names the same objects); and a calendar object's managed attachment.
fn write_files(server: &TestServer, seed: u64) -> Written {
    let small = bytes(1000, seed);
    let big = bytes(12 * MIB, seed + 1);
    let old = bytes(3000, seed + 2);
    let new = bytes(5000, seed + 3);
    let a = bytes(100, seed + 4);
    let b = bytes(300_000, seed + 5);
    assert_eq!(put(server, "small.txt", &small), 201);
    assert_eq!(put(server, "big.bin", &big), 201);
    assert_eq!(put(server, "versions.txt", &old), 201);
    assert_eq!(put(server, "versions.txt", &new), 204);
    let folder = format!("{FILES}/folder/");
    assert_eq!(request(server, "MKCOL", &folder, &[], b"").0, 201);
    assert_eq!(put(server, "folder/a.bin", &a), 201);
    assert_eq!(put(server, "folder/b.bin", &b), 201);
    assert_eq!(copy(server, "folder/", "folder-copy/"), 201);
    let agenda = bytes(50_000, seed + 6);
    let location = attach(server, &agenda);
    let files = [
        ("small.txt", &small),
        ("big.bin", &big),
        ("versions.txt", &new),
        ("folder/a.bin", &a),
        ("folder/b.bin", &b),
        ("folder-copy/a.bin", &a),
        ("folder-copy/b.bin", &b),
    ];
    let mut files: Vec<(String, Vec<u8>)> = files
        .into_iter()
        .map(|(path, body)| (format!("{FILES}/{path}"), body.clone()))
        .collect();
    files.push((location, agenda.clone()));
    Written {
        files,
        objects: vec![small, big, old, new, a, b, agenda],
    }
}

/// An admin the clones read the source server's log as.
fn add_admin(server: &TestServer) {
    let mut cmd = server.command();
    cmd.args(["--server", &server.url]);
    add_user(cmd, "root", "root-secret", &["--admin"]);
}

/// `reprise clone --from-server` of `server` into `dest`, with `args`
/// after it.
fn clone_from(server: &TestServer, dest: &Path, global: &[&str], args: &[&str]) -> Command {
    let mut cmd = reprise(dest);
    cmd.args(global)
        .args(["clone", "--from-server", &server.url])
        .args(args)
        .env("REPRISE_ADMIN_USER", "root@example.com")
        .env("REPRISE_ADMIN_PASSWORD", "root-secret");
    cmd
}

fn file_url(path: &Path) -> String {
    format!("file://{}", path.display())
}

/// Serves `data` (made by a clone in `dir`) and checks every file reads
/// back as written and `objects verify` finds every object whole.
fn serves_everything(dir: tempfile::TempDir, data: &Path, written: &Written) {
    let clone = TestServer::on_existing(dir, data.to_path_buf());
    for (path, body) in &written.files {
        let (status, got) = get(&clone, path);
        assert_eq!(status, 200, "{path}");
        assert!(
            got == *body,
            "{path}: {} bytes, not the {} written",
            got.len(),
            body.len()
        );
    }
    let (verified, text) = verify(&clone, &[]);
    assert!(verified, "{text}");
    assert!(
        text.contains(&format!(
            "{} objects named by the log",
            written.objects.len()
        )),
        "{text}"
    );
}

#[test]
fn a_clone_with_copied_objects_serves_every_file_without_its_source() {
    let mut source = TestServer::start_with(&[], &["--max-resource-size", LIMIT]);
    add_admin(&source);
    let written = write_files(&source, 10);
    // A cut: the clone up to it names every object but the late one.
    std::thread::sleep(Duration::from_millis(50));
    let cut = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    std::thread::sleep(Duration::from_millis(50));
    let late = bytes(700, 99);
    assert_eq!(put(&source, "late.txt", &late), 201);
    let source_store = source.data_dir().join("objects");
    let from_store = file_url(&source_store);

    let dir = tempfile::tempdir().unwrap();
    let until = dir.path().join("until");
    let mut cmd = clone_from(
        &source,
        &until,
        &[],
        &["--objects", "copy", "--until", &cut],
    );
    cmd.args(["--from-object-store", &from_store]);
    let out = ok(cmd, "");
    let n = written.objects.len();
    assert!(out.contains(&format!("copied {n} objects")), "{out}");
    for body in &written.objects {
        assert!(object_file(&until.join("objects"), body).is_file());
    }
    assert!(!object_file(&until.join("objects"), &late).exists());

    let whole = dir.path().join("whole");
    let mut cmd = clone_from(&source, &whole, &[], &["--objects", "copy"]);
    cmd.args(["--from-object-store", &from_store]);
    let out = ok(cmd, "");
    let total: usize = written.objects.iter().map(Vec::len).sum::<usize>() + late.len();
    assert!(
        out.contains(&format!("copied {} objects ({total} bytes)", n + 1)),
        "{out}"
    );
    assert!(
        out.contains(&format!("into {}", file_url(&whole.join("objects")))),
        "{out}"
    );

    // The source and its store are gone: the clone has what it needs.
    source.stop();
    std::fs::remove_dir_all(&source_store).unwrap();
    let mut everything = written;
    everything
        .files
        .push((format!("{FILES}/late.txt"), late.clone()));
    everything.objects.push(late);
    serves_everything(dir, &whole, &everything);
}

#[test]
fn a_clone_copies_its_objects_out_of_s3_and_serves_them_once_the_bucket_is_empty() {
    let moto = Moto::start();
    moto.create_bucket("source");
    let settings_dir = tempfile::tempdir().unwrap();
    let flags = s3_flags(&moto, settings_dir.path(), "source");
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let source = TestServer::start_with(&flags, &["--max-resource-size", LIMIT]);
    add_admin(&source);
    let written = write_files(&source, 20);
    let stored = moto.list("source", "blue/sha256/");
    assert_eq!(stored.len(), written.objects.len());

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("clone");
    let settings = settings_dir.path().join("s3.conf");
    let mut cmd = clone_from(&source, &data, &[], &["--objects", "copy"]);
    cmd.args(["--from-object-store", "s3://source/blue"])
        .arg("--from-object-store-config")
        .arg(&settings);
    let out = ok(cmd, "");
    assert!(
        out.contains(&format!(
            "copied {} objects ({} bytes) from s3://source/blue into {}",
            written.objects.len(),
            written.objects.iter().map(Vec::len).sum::<usize>(),
            file_url(&data.join("objects"))
        )),
        "{out}"
    );

    // The bucket loses every object; the clone, on its own store, serves.
    for (key, _) in moto.list("source", "") {
        moto.delete_object("source", &key);
    }
    assert!(moto.list("source", "").is_empty());
    let small = format!("{FILES}/small.txt");
    assert_eq!(get(&source, &small).0, 500, "the source lost them");
    serves_everything(dir, &data, &written);
}

#[test]
fn a_shared_store_is_checked_and_a_copy_needs_a_source_store() {
    let source = TestServer::start();
    add_admin(&source);
    let kept = bytes(2000, 30);
    let old = bytes(2500, 31);
    assert_eq!(put(&source, "kept.bin", &kept), 201);
    assert_eq!(put(&source, "versions.bin", &old), 201);
    assert_eq!(put(&source, "versions.bin", b"second"), 204);
    let source_store = source.data_dir().join("objects");
    let shared = file_url(&source_store);
    let dir = tempfile::tempdir().unwrap();

    // Shared: checked, nothing copied, and told how to serve it.
    let data = dir.path().join("shared");
    let out = ok(
        clone_from(&source, &data, &["--object-store", &shared], &[]),
        "",
    );
    assert!(
        out.contains(&format!("serve it with --object-store {shared}")),
        "{out}"
    );
    assert!(out.contains("the 3 objects"), "{out}");
    let mut verify = reprise(&data);
    verify.args(["--object-store", &shared, "objects", "verify"]);
    let text = ok(verify, "");
    assert!(text.contains("3 objects named by the log"), "{text}");
    assert!(!object_file(&data.join("objects"), &kept).exists());

    // An empty store (the default, the clone's own): refused, naming each
    // object, old versions included, and nothing is left.
    let empty = dir.path().join("empty-store");
    for global in [vec!["--object-store".to_string(), file_url(&empty)], vec![]] {
        let data = dir.path().join("refused");
        let global: Vec<&str> = global.iter().map(String::as_str).collect();
        let err = fails(
            clone_from(&source, &data, &global, &["--objects", "share"]),
            "",
        );
        assert!(err.contains("3 object(s)"), "{err}");
        for body in [&kept, &old, &b"second".to_vec()] {
            assert!(err.contains(&format!("missing {}", hex(body))), "{err}");
        }
        assert!(err.contains("--objects copy"), "{err}");
        assert!(!data.exists(), "a refused clone leaves nothing");
    }

    // A copy needs the source's store, and another one than its own.
    let data = dir.path().join("copy");
    let err = fails(clone_from(&source, &data, &[], &["--objects", "copy"]), "");
    assert!(err.contains("--from-object-store"), "{err}");
    let err = fails(
        clone_from(
            &source,
            &data,
            &["--object-store", &shared],
            &["--objects", "copy", "--from-object-store", &shared],
        ),
        "",
    );
    assert!(err.contains("are both"), "{err}");
    let err = fails(
        clone_from(&source, &data, &[], &["--from-object-store", &shared]),
        "",
    );
    assert!(err.contains("--objects copy"), "{err}");
    // A source store that is not there is named, and not made.
    let absent = dir.path().join("no-store");
    let err = fails(
        clone_from(
            &source,
            &data,
            &[],
            &[
                "--objects",
                "copy",
                "--from-object-store",
                &file_url(&absent),
            ],
        ),
        "",
    );
    assert!(err.contains("does not exist"), "{err}");
    assert!(!absent.exists());
    assert!(!data.exists());

    // Into a store of its own outside the data directory: a second clone
    // finds the objects there and copies none; one held at a wrong size
    // is replaced.
    let own = dir.path().join("own-store");
    let copy_into_own = |name: &str| {
        let global = ["--object-store".to_string(), file_url(&own)];
        let global: Vec<&str> = global.iter().map(String::as_str).collect();
        let args = ["--objects", "copy", "--from-object-store", &shared];
        clone_from(&source, &dir.path().join(name), &global, &args)
    };
    let out = ok(copy_into_own("first"), "");
    assert!(out.contains("copied 3 objects"), "{out}");
    let out = ok(copy_into_own("second"), "");
    assert!(out.contains("copied 0 objects (0 bytes)"), "{out}");
    assert!(out.contains("3 were there already"), "{out}");
    std::fs::write(object_file(&own, &kept), b"short").unwrap();
    let out = ok(copy_into_own("third"), "");
    assert!(out.contains("copied 1 objects"), "{out}");
    assert!(
        out.contains("1 held there at a wrong size were replaced"),
        "{out}"
    );
    assert_eq!(std::fs::read(object_file(&own, &kept)).unwrap(), kept);

    // The source lost one and holds another damaged: both named, in one
    // run, and nothing of the copy is kept.
    std::fs::remove_file(object_file(&source_store, &kept)).unwrap();
    std::fs::write(object_file(&source_store, &old), vec![0u8; old.len()]).unwrap();
    let err = fails(
        clone_from(
            &source,
            &data,
            &[],
            &["--objects", "copy", "--from-object-store", &shared],
        ),
        "",
    );
    assert!(err.contains("2 object(s)"), "{err}");
    assert!(err.contains(&format!("missing {}", hex(&kept))), "{err}");
    assert!(err.contains(&format!("damaged {}", hex(&old))), "{err}");
    assert!(!data.exists());
}
