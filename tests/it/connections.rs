//! The connection layer's limits (src/net) against clients that misbehave
//! on purpose: a head sent one byte at a time (slowloris), a body that
//! trickles, a head too large, idle kept-alive connections, more
//! connections or requests than the caps; a legitimate client is served
//! all along.

use crate::common::server::TestServer;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// alice:alice-secret
const ALICE: &str = "Basic YWxpY2U6YWxpY2Utc2VjcmV0";

fn connect(port: u16) -> TcpStream {
    let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    // Generous: a test must end even if the server never closes.
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    stream
}

/// Everything the server sends until it closes the connection (a reset
/// counts as closed).
fn read_until_closed(stream: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                panic!("the server kept the connection open for a minute")
            }
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                panic!("the server kept the connection open for a minute")
            }
            Err(_) => break,
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A legitimate PROPFIND on a fresh connection: its status line.
fn propfind(port: u16) -> String {
    let mut s = connect(port);
    write!(
        s,
        "PROPFIND /dav/calendars/alice@example.com/ HTTP/1.1\r\nHost: x\r\nDepth: 0\r\n\
         Authorization: {ALICE}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    )
    .unwrap();
    let answer = read_until_closed(&mut s);
    answer.lines().next().unwrap_or_default().to_string()
}

fn tight() -> TestServer {
    TestServer::start_with(
        &[],
        &[
            "--header-read-timeout",
            "2",
            "--keep-alive-timeout",
            "2",
            "--body-read-timeout",
            "2",
            "--min-body-rate",
            "100",
        ],
    )
}

/// Fifty connections that send their heads a byte at a time are cut off
/// after --header-read-timeout, while a client that sends whole requests
/// is answered.
#[test]
fn a_head_sent_a_byte_at_a_time_is_cut_off() {
    let server = tight();
    let port = server.port;
    let slow: Vec<_> = (0..50)
        .map(|_| {
            std::thread::spawn(move || {
                let mut s = connect(port);
                // At 300 ms a byte, about 20 s of head: ten times the
                // timeout.
                let head = format!(
                    "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Padding: {}\r\n",
                    "a".repeat(30)
                );
                for byte in head.bytes() {
                    if s.write_all(&[byte]).is_err() {
                        // Cut off before the head was sent.
                        return true;
                    }
                    std::thread::sleep(Duration::from_millis(300));
                }
                false
            })
        })
        .collect();
    // Meanwhile, whole requests are answered.
    for _ in 0..5 {
        assert_eq!(propfind(port), "HTTP/1.1 207 Multi-Status");
        std::thread::sleep(Duration::from_millis(200));
    }
    for thread in slow {
        assert!(
            thread.join().unwrap(),
            "a head sent a byte at a time was let finish"
        );
    }
}

/// A body that trickles in under --min-body-rate is cut off with 408, and
/// nothing of it is stored.
#[test]
fn a_body_that_trickles_gets_408_and_stores_nothing() {
    let server = tight();
    let mut s = connect(server.port);
    write!(
        s,
        "PUT /dav/calendars/alice@example.com/default/slow.ics HTTP/1.1\r\nHost: x\r\n\
         Authorization: {ALICE}\r\nContent-Type: text/calendar\r\nContent-Length: 2000\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    for _ in 0..40 {
        if s.write_all(b"B").is_err() {
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
        // The answer may come while we still write.
        s.set_nonblocking(true).unwrap();
        let mut buf = [0u8; 1024];
        if let Ok(n) = s.read(&mut buf) {
            answer.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
        s.set_nonblocking(false).unwrap();
        if !answer.is_empty() {
            break;
        }
    }
    if answer.is_empty() {
        answer = read_until_closed(&mut s);
    }
    assert!(
        answer.starts_with("HTTP/1.1 408 Request Timeout"),
        "{answer}"
    );
    let mut get = connect(server.port);
    write!(
        get,
        "GET /dav/calendars/alice@example.com/default/slow.ics HTTP/1.1\r\nHost: x\r\n\
         Authorization: {ALICE}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let got = read_until_closed(&mut get);
    assert!(got.starts_with("HTTP/1.1 404"), "{got}");
}

/// A head over --max-header-size gets 431; one just under it is served.
#[test]
fn a_head_over_the_limit_gets_431() {
    let server = TestServer::start_with(&[], &["--max-header-size", "16384"]);
    let ask = |padding: usize| {
        let mut s = connect(server.port);
        let head = format!(
            "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Padding: {}\r\nConnection: close\r\n\r\n",
            "a".repeat(padding)
        );
        // Whole, in one write: the limit must hold even so.
        s.write_all(head.as_bytes()).unwrap();
        read_until_closed(&mut s)
    };
    let fits = ask(15_000);
    assert!(fits.starts_with("HTTP/1.1 200"), "{fits}");
    for padding in [17_000, 200_000] {
        let too_large = ask(padding);
        assert!(
            too_large.starts_with("HTTP/1.1 431"),
            "{padding}: {}",
            &too_large[..too_large.len().min(200)]
        );
    }
}

/// An idle kept-alive connection is closed after --keep-alive-timeout; one
/// that keeps asking is kept.
#[test]
fn an_idle_kept_alive_connection_is_closed() {
    let server = tight();
    let mut s = connect(server.port);
    let ask = |s: &mut TcpStream| {
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let mut buf = [0u8; 1024];
        let n = s.read(&mut buf).unwrap();
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    // Busier than the timeout: still the same connection after 3 s.
    for _ in 0..6 {
        assert!(ask(&mut s).starts_with("HTTP/1.1 200"));
        std::thread::sleep(Duration::from_millis(500));
    }
    // Then idle: closed without a word.
    assert_eq!(read_until_closed(&mut s), "");
}

/// Over --max-connections, a connection is answered 503 and closed; when
/// one closes, the next is served.
#[test]
fn connections_over_the_cap_get_503() {
    let server = TestServer::start_with(&[], &["--max-connections", "3"]);
    let held: Vec<TcpStream> = (0..3).map(|_| connect(server.port)).collect();
    // Let the server accept them all before the fourth.
    std::thread::sleep(Duration::from_millis(300));
    let mut fourth = connect(server.port);
    let refused = read_until_closed(&mut fourth);
    assert!(
        refused.starts_with("HTTP/1.1 503 Service Unavailable"),
        "{refused}"
    );
    assert!(refused.contains("retry-after: 1"), "{refused}");
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status = propfind(server.port);
        if status == "HTTP/1.1 207 Multi-Status" {
            break;
        }
        assert!(Instant::now() < deadline, "never served again: {status}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Over --max-requests-in-flight, a request is answered 503 with
/// Retry-After before any work; the one in flight finishes.
#[test]
fn requests_over_the_cap_get_503() {
    let server = TestServer::start_with(&[], &["--max-requests-in-flight", "1"]);
    // A PUT whose body is held back keeps the only slot.
    let mut busy = connect(server.port);
    let event = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VEVENT\r\n\
        UID:held\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260101T100000Z\r\nSUMMARY:Held\r\n\
        END:VEVENT\r\nEND:VCALENDAR\r\n";
    write!(
        busy,
        "PUT /dav/calendars/alice@example.com/default/held.ics HTTP/1.1\r\nHost: x\r\n\
         Authorization: {ALICE}\r\nContent-Type: text/calendar\r\nConnection: close\r\n\
         Content-Length: {}\r\n\r\n",
        event.len()
    )
    .unwrap();
    // Once the server has the PUT in hand (its head may take a moment to
    // be read), every other request is shed.
    let deadline = Instant::now() + Duration::from_secs(30);
    let shed = loop {
        let mut other = connect(server.port);
        other
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
        let answer = read_until_closed(&mut other);
        if !answer.starts_with("HTTP/1.1 200") || Instant::now() > deadline {
            break answer;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        shed.starts_with("HTTP/1.1 503 Service Unavailable"),
        "{shed}"
    );
    assert!(shed.contains("retry-after: 1"), "{shed}");
    busy.write_all(event.as_bytes()).unwrap();
    let stored = read_until_closed(&mut busy);
    assert!(stored.starts_with("HTTP/1.1 201"), "{stored}");
    assert_eq!(propfind(server.port), "HTTP/1.1 207 Multi-Status");
}

/// Limits that would refuse everything are refused at start, by name.
#[test]
fn limits_that_refuse_everything_are_refused_at_start() {
    for (flag, value, says) in [
        ("--max-header-size", "100", "--max-header-size 100"),
        ("--max-connections", "0", "--max-connections 0"),
        ("--header-read-timeout", "0", "--header-read-timeout 0"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let out = crate::common::cmd::reprise(&dir.path().join("data"))
            .args(["serve", "--listen", "127.0.0.1:0", flag, value])
            .output()
            .unwrap();
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "{flag}: {stderr}");
    }
}

/// A client that asks for a large answer and never reads it is cut off
/// once it falls behind --min-body-rate, rather than holding the
/// connection for ever; one that reads gets it whole.
#[test]
fn an_answer_the_client_does_not_read_is_cut_off() {
    const SIZE: usize = 32 << 20;
    let mut server = TestServer::start_with(&[], &["--max-resource-size", "67108864"]);
    let path = "/dav/files/alice@example.com/large.bin";
    let mut put = connect(server.port);
    write!(
        put,
        "PUT {path} HTTP/1.1\r\nHost: x\r\nAuthorization: {ALICE}\r\n\
         Content-Type: application/octet-stream\r\nContent-Length: {SIZE}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    put.write_all(&vec![b'x'; SIZE]).unwrap();
    let stored = read_until_closed(&mut put);
    assert!(stored.starts_with("HTTP/1.1 201"), "{stored}");
    // 1 MB/s: a debug server on a loaded machine still writes faster. A
    // client that stops reading earns at most what the sockets buffer on
    // loopback (Linux's defaults: about 10 MB, so 10 s), then falls behind.
    server.restart_with(
        &[],
        &[
            "--max-resource-size",
            "67108864",
            "--body-read-timeout",
            "2",
            "--min-body-rate",
            "1000000",
        ],
    );
    let get = format!(
        "GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: {ALICE}\r\nConnection: close\r\n\r\n"
    );
    let mut reader = connect(server.port);
    reader.write_all(get.as_bytes()).unwrap();
    assert!(
        read_until_closed(&mut reader).len() > SIZE,
        "a reader got it whole"
    );
    let mut stalled = connect(server.port);
    stalled.write_all(get.as_bytes()).unwrap();
    std::thread::sleep(Duration::from_secs(20));
    let got = read_until_closed(&mut stalled).len();
    assert!(got < SIZE, "a client that did not read got all {got} bytes");
}
