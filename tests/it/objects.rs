//! The object store: a file's bytes are stored under their SHA-256 before
//! the event that names them, read back checked, verified and collected
//! against the log: on the file store, and on S3 through a real S3 server
//! (moto), stopped and restarted under the server's feet.

use crate::common::cmd::{fails, ok, run};
use crate::common::http::{basic_auth, binary, send, send_declaring};
use crate::common::s3::Moto;
use crate::common::server::TestServer;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

const FILES: &str = "/dav/files/alice@example.com";
pub(crate) const MIB: usize = 1 << 20;
/// `--max-resource-size` of these servers: room for 20 MiB files.
pub(crate) const LIMIT: &str = "33554432";

pub(crate) fn authorization() -> String {
    basic_auth("alice", "alice-secret")
}

/// Bytes that do not compress and differ per `seed`.
pub(crate) fn bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub(crate) fn put(server: &TestServer, path: &str, body: &[u8]) -> u16 {
    let auth = authorization();
    let headers = [
        ("Authorization", auth.as_str()),
        ("Content-Type", "application/octet-stream"),
    ];
    binary(
        server.port,
        "PUT",
        &format!("{FILES}/{path}"),
        &headers,
        body,
    )
    .0
}

fn get(server: &TestServer, path: &str) -> (u16, Vec<u8>) {
    let auth = authorization();
    let headers = [("Authorization", auth.as_str())];
    binary(
        server.port,
        "GET",
        &format!("{FILES}/{path}"),
        &headers,
        b"",
    )
}

pub(crate) fn copy(server: &TestServer, from: &str, to: &str) -> u16 {
    let destination = format!("{}{FILES}/{to}", server.url);
    let headers = [
        ("Authorization", authorization()),
        ("Destination", destination),
    ];
    let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    send(
        server.port,
        "COPY",
        &format!("{FILES}/{from}"),
        &headers,
        b"",
    )
    .status
}

/// A file store object's path.
pub(crate) fn object_file(store: &Path, bytes: &[u8]) -> PathBuf {
    let hex = hex(bytes);
    store.join("sha256").join(&hex[..2]).join(hex)
}

fn stored_objects(store: &Path) -> usize {
    std::fs::read_dir(store.join("sha256"))
        .expect("the store's objects")
        .map(|fan| std::fs::read_dir(fan.unwrap().path()).unwrap().count())
        .sum()
}

/// `objects verify` through the server's log: (success, output).
pub(crate) fn verify(server: &TestServer, extra: &[&str]) -> (bool, String) {
    let mut cmd = server.command();
    cmd.args(extra)
        .args(["--server", &server.url, "objects", "verify"]);
    let out = run(cmd, "");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

#[test]
fn files_are_stored_before_their_event_and_the_log_keeps_only_their_names() {
    let server = TestServer::start_with(&[], &["--max-resource-size", LIMIT]);
    let store = server.data_dir().join("objects");
    let big = bytes(20 * MIB, 1);
    let small = b"a small file".to_vec();
    assert_eq!(put(&server, "big.bin", &big), 201);
    assert_eq!(put(&server, "small.txt", &small), 201);
    assert_eq!(get(&server, "big.bin"), (200, big.clone()));
    assert_eq!(get(&server, "small.txt"), (200, small.clone()));
    assert!(object_file(&store, &big).is_file());
    assert!(object_file(&store, &small).is_file());

    // The log holds names: no record is near a file's size.
    let largest = server.largest_record();
    assert!(largest < 4096, "the largest record is {largest} bytes");

    // A copy names the same object; the same bytes again are the same one.
    assert_eq!(copy(&server, "big.bin", "big-copy.bin"), 201);
    assert_eq!(put(&server, "again.bin", &big), 201);
    assert_eq!(stored_objects(&store), 2);
    assert_eq!(get(&server, "big-copy.bin"), (200, big.clone()));

    let (verified, text) = verify(&server, &[]);
    assert!(verified, "{text}");
    assert!(text.contains("2 objects named by the log"), "{text}");

    // Over the limit: 413 before the body is read, nothing appended.
    let records = server.log_records();
    let auth = authorization();
    let huge = send_declaring(
        server.port,
        "PUT",
        &format!("{FILES}/huge.bin"),
        &[("Authorization", &auth)],
        64 * MIB as u64,
    );
    assert_eq!(huge.status, 413);
    assert_eq!(server.log_records(), records);

    // A damaged object is a 500 for its readers, never its bytes, and
    // `objects verify` names it; so is a missing one.
    std::fs::write(object_file(&store, &small), b"A SMALL FILE").unwrap();
    assert_eq!(get(&server, "small.txt").0, 500);
    std::fs::remove_file(object_file(&store, &big)).unwrap();
    assert_eq!(get(&server, "big.bin").0, 500);
    let (verified, text) = verify(&server, &[]);
    assert!(!verified, "{text}");
    assert!(text.contains(&format!("damaged {}", hex(&small))), "{text}");
    assert!(text.contains(&format!("missing {}", hex(&big))), "{text}");
}

#[test]
fn gc_removes_only_what_no_record_names() {
    let server = TestServer::start_with(&[], &[]);
    let store = server.data_dir().join("objects");
    let kept = b"named by the log".to_vec();
    assert_eq!(put(&server, "kept.txt", &kept), 201);
    // Overwritten: its old bytes are still named by the past event.
    let old = b"the first version".to_vec();
    assert_eq!(put(&server, "versions.txt", &old), 201);
    assert_eq!(put(&server, "versions.txt", b"the second version"), 204);
    // An orphan, as a write that failed after storing its object leaves.
    let orphan = b"no event names me".to_vec();
    let path = object_file(&store, &orphan);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, &orphan).unwrap();

    let gc = |extra: &[&str]| {
        let mut cmd = server.command();
        cmd.args(["--server", &server.url, "objects", "gc"])
            .args(extra);
        ok(cmd, "")
    };
    // Too young to judge.
    let young = gc(&["--older-than", "1h"]);
    assert!(young.contains("1 too young"), "{young}");
    assert!(path.is_file());
    let dry = gc(&["--older-than", "0s", "--dry-run"]);
    assert!(
        dry.contains(&format!("would remove {}", hex(&orphan))),
        "{dry}"
    );
    assert!(path.is_file());
    let done = gc(&["--older-than", "0s"]);
    assert!(
        done.contains(&format!("removed {}", hex(&orphan))),
        "{done}"
    );
    assert!(done.contains("3 named by the log"), "{done}");
    assert!(!path.exists());
    assert!(object_file(&store, &old).is_file());
    assert_eq!(get(&server, "kept.txt"), (200, kept));
    let (verified, text) = verify(&server, &[]);
    assert!(verified, "{text}");
}

/// The flags of a server on `moto`'s `bucket`, prefix `blue`.
pub(crate) fn s3_flags(moto: &Moto, dir: &Path, bucket: &str) -> Vec<String> {
    let settings = dir.join("s3.conf");
    std::fs::write(&settings, moto.settings()).unwrap();
    [
        "--object-store".to_string(),
        format!("s3://{bucket}/blue"),
        "--object-store-config".to_string(),
        settings.display().to_string(),
        "--object-store-timeout".to_string(),
        "2".to_string(),
    ]
    .into()
}

#[test]
fn an_s3_store_takes_large_files_in_parts_and_its_outages_are_503s_not_hangs() {
    let mut moto = Moto::start();
    moto.create_bucket("reprise");
    let dir = tempfile::tempdir().unwrap();
    let flags = s3_flags(&moto, dir.path(), "reprise");
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let server = TestServer::start_with(&flags, &["--max-resource-size", LIMIT]);

    let big = bytes(20 * MIB, 2);
    let small = b"small, on S3".to_vec();
    assert_eq!(put(&server, "big.bin", &big), 201);
    assert_eq!(put(&server, "small.txt", &small), 201);
    assert_eq!(put(&server, "big-again.bin", &big), 201);
    let key = |bytes: &[u8]| format!("blue/sha256/{}/{}", &hex(bytes)[..2], hex(bytes));
    let mut listed = moto.list("reprise", "blue/sha256/");
    listed.sort();
    let mut expected = vec![
        (key(&big), big.len() as u64),
        (key(&small), small.len() as u64),
    ];
    expected.sort();
    assert_eq!(listed, expected);
    assert_eq!(
        moto.get_object("reprise", &key(&small)),
        Some(small.clone())
    );
    assert_eq!(get(&server, "big.bin"), (200, big.clone()));
    assert_eq!(get(&server, "small.txt"), (200, small.clone()));
    assert!(server.largest_record() < 4096);

    // The store stops answering: writes get 503 with nothing appended,
    // reads 503, and nothing hangs (the helpers give up after 60 s).
    let records = server.log_records();
    moto.pause();
    assert_eq!(put(&server, "during.txt", b"written while S3 is down"), 503);
    assert_eq!(get(&server, "big.bin").0, 503);
    assert_eq!(get(&server, "small.txt").0, 503);
    assert_eq!(server.log_records(), records);
    moto.resume();
    // Back without restarting reprise.
    assert_eq!(put(&server, "after.txt", b"written after"), 201);
    assert_eq!(get(&server, "big.bin"), (200, big.clone()));
    let (verified, text) = verify(&server, &[]);
    assert!(verified, "{text}");

    // gc on S3: an orphan in the bucket goes, named objects stay.
    let orphan = b"an upload whose event never came".to_vec();
    moto.put_object("reprise", &key(&orphan), &orphan);
    let mut cmd = server.command();
    cmd.args([
        "--server",
        &server.url,
        "objects",
        "gc",
        "--older-than",
        "0s",
    ]);
    let collected = ok(cmd, "");
    assert!(
        collected.contains(&format!("removed {}", hex(&orphan))),
        "{collected}"
    );
    assert_eq!(moto.get_object("reprise", &key(&orphan)), None);
    assert_eq!(
        moto.get_object("reprise", &key(&small)),
        Some(small.clone())
    );

    // Gone altogether (connections refused), then back empty: writes work
    // again, and verify names what the empty store lost.
    moto.kill();
    assert_eq!(put(&server, "refused.txt", b"no one listens"), 503);
    moto.restart();
    moto.create_bucket("reprise");
    assert_eq!(put(&server, "new.txt", b"a new store"), 201);
    assert_eq!(get(&server, "new.txt"), (200, b"a new store".to_vec()));
    // Damaged in the bucket: a 500 for its reader, and verify names it.
    moto.put_object("reprise", &key(b"a new store"), b"A NEW STORE");
    assert_eq!(get(&server, "new.txt").0, 500);
    let (verified, text) = verify(&server, &[]);
    assert!(!verified, "{text}");
    assert!(text.contains(&format!("missing {}", hex(&big))), "{text}");
    assert!(
        text.contains(&format!("damaged {}", hex(b"a new store"))),
        "{text}"
    );
}

#[test]
fn a_store_that_cannot_be_used_stops_serve_with_one_line_naming_it() {
    let moto = Moto::start();
    moto.create_bucket("present");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let serve = |flags: &[String]| {
        let mut cmd = crate::common::cmd::reprise(&data);
        cmd.args(flags).args(["serve", "--listen", "127.0.0.1:0"]);
        fails(cmd, "")
    };
    let no_bucket = serve(&s3_flags(&moto, dir.path(), "absent"));
    assert!(
        no_bucket.contains("s3://absent/blue") && no_bucket.contains("does not exist"),
        "{no_bucket}"
    );
    let mut unreachable = s3_flags(&moto, dir.path(), "present");
    let settings = dir.path().join("s3.conf");
    let port = crate::common::server::free_port();
    std::fs::write(
        &settings,
        format!(
            "aws_endpoint=http://127.0.0.1:{port}\naws_allow_http=true\naws_region=us-east-1\n\
             aws_access_key_id=test\naws_secret_access_key=test\n"
        ),
    )
    .unwrap();
    unreachable[3] = settings.display().to_string();
    let unreachable = serve(&unreachable);
    assert!(
        unreachable.contains("s3://present/blue") && unreachable.contains("unavailable"),
        "{unreachable}"
    );
    let checking = Moto::start_checking_credentials();
    checking.create_bucket("guarded");
    let denied = serve(&s3_flags(&checking, dir.path(), "guarded"));
    let line = denied.lines().find(|l| l.starts_with("error:"));
    assert!(
        line.is_some_and(|l| l.contains("s3://guarded/blue")
            && l.contains("refused access")
            && l.contains("InvalidAccessKeyId")),
        "{denied}"
    );
    let bad = serve(&["--object-store".into(), "http://example.com/x".into()]);
    assert!(bad.contains("not an object store URL"), "{bad}");
    std::fs::write(&settings, "aws_no_such_setting=1\n").unwrap();
    let unknown = serve(&[
        "--object-store".into(),
        "s3://present".into(),
        "--object-store-config".into(),
        settings.display().to_string(),
    ]);
    assert!(unknown.contains("aws_no_such_setting"), "{unknown}");
}
