//! Password guessing against a live server: failed logins limited per
//! account and per client address (429 with Retry-After, before any
//! argon2 work), the owner's devices working meanwhile, the client's
//! address taken from a trusted proxy's X-Forwarded-For, and `reprise
//! proxy` forwarding it.
//!
//! Waits are the backoff's own (1 s, doubling, capped by a flag at a few
//! seconds); nothing is timed.

use crate::common::cmd;
use crate::common::http::{assert_status, basic_auth, send, send_from, Reply};
use crate::common::server::{free_port, raw_get, TestServer};
use std::net::IpAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const PROPFIND: &str =
    r#"<propfind xmlns="DAV:"><prop><current-user-principal/></prop></propfind>"#;

/// A PROPFIND of the root with `authorization`, from `client` as a
/// trusted proxy on 127.0.0.1 would say it.
fn propfind_from(port: u16, client: &str, authorization: &str) -> Reply {
    let headers = [
        ("Authorization", authorization),
        ("X-Forwarded-For", client),
        ("Depth", "0"),
        ("Content-Type", "application/xml"),
    ];
    send(port, "PROPFIND", "/", &headers, PROPFIND.as_bytes())
}

/// The seconds of a 429's Retry-After.
fn retry_after(reply: &Reply) -> u64 {
    assert_status(reply, 429);
    reply
        .header("retry-after")
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("a 429 without a Retry-After in seconds: {reply:#?}"))
}

fn sleep_for(reply: &Reply) {
    std::thread::sleep(Duration::from_secs(retry_after(reply)));
}

#[test]
fn guessing_waits_and_the_owner_keeps_working() {
    let metrics = free_port();
    let server = TestServer::start_with(
        &[],
        &[
            "--trusted-proxy",
            "127.0.0.1",
            "--login-free-failures",
            "3",
            "--login-free-failures-per-address",
            "10",
            "--login-backoff-max",
            "5",
            "--metrics-listen",
            &format!("127.0.0.1:{metrics}"),
        ],
    );
    let port = server.port;
    let (phone, guesser, laptop) = ("192.0.2.10", "198.51.100.1", "192.0.2.30");
    let alice = basic_auth("alice", "alice-secret");

    // Alice's phone logged in before the attack: its credential is
    // remembered.
    assert_status(&propfind_from(port, phone, &alice), 207);

    // A guesser tries passwords for alice: the allowance, one more
    // admitted (which makes the account wait), then 429 with nothing
    // checked; after each wait one more guess, each wait twice as long,
    // up to the cap.
    let mut refused = 0;
    let mut waits = Vec::new();
    for guess in 0..40 {
        let reply = propfind_from(
            port,
            guesser,
            &basic_auth("alice", &format!("guess{guess}")),
        );
        if reply.status == 401 {
            refused += 1;
            continue;
        }
        let wait = retry_after(&reply);
        assert!(reply.body.contains("too many failed logins"), "{reply:#?}");
        waits.push(wait);
        if wait >= 4 {
            break;
        }
        sleep_for(&reply);
    }
    assert!(
        waits.last().is_some_and(|w| (4..=5).contains(w)),
        "the waits never reached the cap: {waits:?} after {refused} refusals"
    );
    assert!(
        refused >= 4,
        "429 before the allowance was spent: {refused}"
    );
    assert!(
        waits.iter().all(|w| *w <= 5),
        "a wait beyond the cap: {waits:?}"
    );

    // While alice's account waits (several seconds now):
    // the phone, remembered, works;
    assert_status(&propfind_from(port, phone, &alice), 207);
    // a device that has not logged in yet waits like the guesser (the
    // trade-off: a right password from a fresh address is not told from
    // the guesser's right guess);
    let by_email = basic_auth("alice@example.com", "alice-secret");
    let laptop_reply = propfind_from(port, laptop, &by_email);
    assert!(retry_after(&laptop_reply) >= 1);
    // the JSON APIs answer 429 too, as JSON with Retry-After;
    let wrong = basic_auth("alice", "another-guess");
    for path in [
        "/api/v1/mail/alice@example.com/mailboxes/INBOX/seen",
        "/admin/v1/users",
    ] {
        let reply = send(
            port,
            "GET",
            path,
            &[("Authorization", &wrong), ("X-Forwarded-For", guesser)],
            b"",
        );
        retry_after(&reply);
        let json: serde_json::Value = serde_json::from_str(&reply.body)
            .unwrap_or_else(|_| panic!("{path}: not JSON: {reply:#?}"));
        assert!(
            json["error"]
                .as_str()
                .is_some_and(|e| e.contains("too many")),
            "{json}"
        );
    }
    // and another user, from elsewhere, logs in as usual.
    let bob = basic_auth("bob", "bob-secret");
    assert_status(&propfind_from(port, "192.0.2.20", &bob), 207);

    // After the wait, alice's new device logs in: the limit is never a
    // lockout for good.
    sleep_for(&laptop_reply);
    let mut laptop_reply = propfind_from(port, laptop, &by_email);
    if laptop_reply.status == 429 {
        // Rounded up to whole seconds, the wait may end a moment later.
        sleep_for(&laptop_reply);
        laptop_reply = propfind_from(port, laptop, &by_email);
    }
    assert_status(&laptop_reply, 207);

    // A device sending an old password is one failure, not one per
    // request: repeated, it is 401 and never makes its owner wait.
    let stale = basic_auth("bob", "bob-old-secret");
    for _ in 0..10 {
        assert_status(&propfind_from(port, "192.0.2.40", &stale), 401);
    }
    assert_status(
        &propfind_from(
            port,
            "192.0.2.41",
            &basic_auth("bob@example.com", "bob-secret"),
        ),
        207,
    );

    // One address spraying names (none of them users: no argon2 at all)
    // is limited whatever the names; other addresses are not.
    let sprayer = "203.0.113.7";
    let mut sprayed = 0;
    let mut limited = None;
    for i in 0..30 {
        let reply = propfind_from(port, sprayer, &basic_auth(&format!("nobody{i}"), "x"));
        if reply.status == 429 {
            limited = Some(i);
            break;
        }
        assert_status(&reply, 401);
        sprayed += 1;
    }
    let limited = limited.expect("the sprayer was never limited");
    assert!(sprayed >= 10, "limited within the allowance: {sprayed}");
    let next = basic_auth(&format!("nobody{limited}"), "x");
    assert_status(&propfind_from(port, "203.0.113.8", &next), 401);

    // Throttled logins are counted.
    let scrape = raw_get(metrics, "/metrics").expect("a scrape");
    let throttled = scrape
        .lines()
        .find(|l| l.starts_with("reprise_authentications_total{outcome=\"throttled\"}"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no throttled series in:\n{scrape}"));
    assert!(throttled >= 5.0, "{throttled}");
}

/// `reprise proxy` in front of one server; killed on drop.
struct Proxy {
    port: u16,
    child: Child,
}

impl Proxy {
    fn start(backend: &str) -> Proxy {
        let (port, admin) = (free_port(), free_port());
        let mut proxy = Command::new(cmd::bin());
        cmd::without_reprise_env(&mut proxy);
        proxy
            .args(["--log-level", "warn", "proxy"])
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(["--admin", &format!("127.0.0.1:{admin}")])
            // A proxy switches between two; this one never does.
            .args(["--backend", &format!("only={backend}")])
            .args(["--backend", &format!("unused={backend}")])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        let proxy = Proxy {
            port,
            child: proxy.spawn().expect("spawn reprise proxy"),
        };
        crate::common::cluster::wait_for(port, "/readyz");
        proxy
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Behind the proxy every peer of the server is the proxy: it appends
/// each client's address to X-Forwarded-For, and the server, trusting
/// it, counts failures under the client's (here 127.0.0.2 and 127.0.0.3,
/// two clients on loopback) rather than its own.
#[test]
fn the_proxy_forwards_the_client_address() {
    let server = TestServer::start_with(
        &[],
        &[
            "--trusted-proxy",
            "127.0.0.1",
            "--login-free-failures-per-address",
            "2",
        ],
    );
    let proxy = Proxy::start(&server.url);
    let propfind = |client: &str, authorization: &str, spoofed: &str| {
        let client: IpAddr = client.parse().unwrap();
        let headers = [
            ("Authorization", authorization),
            // Whatever a client claims comes before what the proxy
            // appends, and is not believed.
            ("X-Forwarded-For", spoofed),
            ("Depth", "0"),
        ];
        send_from(
            client,
            proxy.port,
            "PROPFIND",
            "/",
            &headers,
            PROPFIND.as_bytes(),
        )
    };

    // 127.0.0.2 sprays names, each time claiming another address.
    let mut limited = false;
    for i in 0..20 {
        let spoofed = format!("192.0.2.{i}");
        let reply = propfind(
            "127.0.0.2",
            &basic_auth(&format!("nobody{i}"), "x"),
            &spoofed,
        );
        if reply.status == 429 {
            assert!(i >= 2, "limited within the allowance, at {i}");
            limited = true;
            break;
        }
        assert_status(&reply, 401);
    }
    assert!(limited, "the sprayer behind the proxy was never limited");

    // Another client behind the same proxy is not held up.
    let bob = basic_auth("bob", "bob-secret");
    assert_status(&propfind("127.0.0.3", &bob, "192.0.2.99"), 207);
}
