//! An in-place upgrade: a server whose views serve calendars@1 restarts
//! with a build that serves calendars@2. It serves from v1 while v2 builds
//! from the log beside it, switches once v2 caught up, and drops v1; no
//! request fails meanwhile, and v2 answers what v1 answered.

use crate::common;

use crate::common::cmd::ok;
use crate::common::http::{assert_status, Dav};
use crate::common::load::Load;
use crate::common::server::TestServer;
use std::time::{Duration, Instant};

const WORK: &str = "/dav/calendars/alice@example.com/work/";

/// `count` events, every fifth recurring weekly, spread over 2025 (also
/// the console test's long build).
pub(crate) fn calendar(count: usize) -> String {
    let mut ics = String::from("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//reprise tests//EN\r\n");
    for i in 0..count {
        let day = 1 + (i % 28);
        let month = 1 + (i / 28) % 12;
        let rule = if i % 5 == 0 {
            "RRULE:FREQ=WEEKLY;COUNT=10\r\n"
        } else {
            ""
        };
        ics.push_str(&format!(
            "BEGIN:VEVENT\r\nUID:event-{i}\r\nDTSTAMP:20250101T000000Z\r\n\
             DTSTART:2025{month:02}{day:02}T{h:02}0000Z\r\nDURATION:PT1H\r\n{rule}\
             SUMMARY:Event {i}\r\nEND:VEVENT\r\n",
            h = 8 + i % 10
        ));
    }
    ics.push_str("END:VCALENDAR\r\n");
    ics
}

fn month_query(month: u32) -> String {
    format!(
        r#"<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/><C:calendar-data/></D:prop><C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:time-range start="2025{month:02}01T000000Z" end="2025{:02}01T000000Z"/></C:comp-filter></C:comp-filter></C:filter></C:calendar-query>"#,
        month + 1
    )
}

/// The calendars projection's live version and the versions present.
fn calendars_status(server: &TestServer) -> (Option<u64>, Vec<u64>) {
    let mut cmd = server.command();
    cmd.args(["--server", &server.url, "projections", "status", "--json"]);
    let text = ok(cmd, "");
    let json: serde_json::Value = serde_json::from_str(&text[text.find('{').unwrap()..]).unwrap();
    let calendars = json["projections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "calendars")
        .unwrap()
        .clone();
    let versions = calendars["versions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v["version"].as_u64())
        .collect();
    (calendars["live"].as_u64(), versions)
}

#[test]
fn an_upgrade_serves_from_the_old_version_until_the_new_one_caught_up() {
    let pin = ["--projection-version", "calendars=1"];
    let mut server = TestServer::start_with(&pin, &[]);
    assert_eq!(calendars_status(&server), (Some(1), vec![1]));
    let alice = Dav::new(server.port, "alice", "alice-secret");
    assert_status(&alice.request("MKCALENDAR", WORK, &[], ""), 201);
    let file = server.data_dir().parent().unwrap().join("work.ics");
    std::fs::write(&file, calendar(4000)).unwrap();
    let mut import = server.command();
    import.args([
        "--server",
        &server.url,
        "import",
        "calendar",
        "alice",
        file.to_str().unwrap(),
        "--collection",
        "work",
    ]);
    ok(import, "");
    let before: Vec<String> = (1..=11)
        .map(|m| {
            let reply = alice.report(WORK, &month_query(m));
            assert_status(&reply, 207);
            reply.body
        })
        .collect();

    // A pin to a version this build does not know is refused (views newer
    // than the build are refused too: `engine::tests`).
    let mut unknown = server.command();
    unknown.args([
        "--projection-version",
        "calendars=9",
        "projections",
        "status",
    ]);
    common::cmd::fails(unknown, "");

    // The new version builds at a bounded rate, so the old one serves
    // for seconds whatever the machine's speed.
    server.restart_with(&[], &["--build-rate", "400"]);
    let load = Load::start(
        server.port,
        ("alice", "alice-secret"),
        WORK,
        1,
        3,
        |alice, i| {
            let reply = alice.report(WORK, &month_query(1 + (i % 11) as u32));
            ("calendar-query".to_string(), reply, 207)
        },
    );

    let started = Instant::now();
    let mut served_v1_under_load = false;
    loop {
        let (live, versions) = calendars_status(&server);
        if live == Some(1) && load.requests() > 0 {
            served_v1_under_load = true;
        }
        if live == Some(2) && versions == [2] {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no switch: live {live:?}, versions {versions:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let done = load.finish();
    done.assert_no_failure();
    assert!(
        served_v1_under_load,
        "the load never ran while calendars@1 served"
    );
    eprintln!("{} requests during the upgrade, none failed", done.requests);

    // Every acknowledged write is there, and v2 answers what v1 did.
    for (href, etag) in &done.written {
        let reply = alice.get(href);
        assert_status(&reply, 200);
        assert_eq!(&reply.etag(), etag, "{href}");
    }
    let after: Vec<String> = (1..=11)
        .map(|m| alice.report(WORK, &month_query(m)).body)
        .collect();
    for (m, (a, b)) in before.iter().zip(&after).enumerate() {
        assert_eq!(a, b, "month {} differs after the upgrade", m + 1);
    }
}
