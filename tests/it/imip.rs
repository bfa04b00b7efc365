//! Mail to calendar users outside the directory (iMIP, RFC 6047) against
//! a running `reprise serve --smtp-relay` and a real SMTP server
//! (aiosmtpd, see `common::smtp`): an outside attendee's invitation and
//! cancellation and an outside organizer's reply arrive as well-formed
//! iMIP mails and the organizer's copy says they were sent (1.1); a relay
//! nobody answers ends in 5.1 after the retries; a crash between sending
//! and recording resends once with the same Message-ID; a rebuild sends
//! nothing; a relay that wants a login gets the one from the password
//! file; an address that would inject mail headers is refused.

use crate::common::cmd::ok;
use crate::common::http::assert_status;
use crate::common::server::{free_port, TestServer};
use crate::common::smtp::SmtpSink;
use crate::scheduling::{alice, bob, eventually, line_of, meeting, put_ics, ALICE_CAL, BOB_CAL};
use serde_json::Value;
use std::time::Duration;

/// `serve` flags for a relay, with quick retries.
fn relay_flags(relay: &str) -> Vec<String> {
    [
        "--smtp-relay",
        relay,
        "--smtp-retries",
        "2",
        "--smtp-retry-delay-ms",
        "100",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn serve_with(relay: &str) -> TestServer {
    let flags = relay_flags(relay);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    TestServer::start_with(&[], &flags)
}

/// The part of a mail whose Content-Type starts with `content_type`.
fn part<'m>(mail: &'m Value, content_type: &str) -> &'m Value {
    mail["parts"]
        .as_array()
        .and_then(|parts| {
            parts.iter().find(|p| {
                p["content_type"]
                    .as_str()
                    .is_some_and(|c| c.starts_with(content_type))
            })
        })
        .unwrap_or_else(|| panic!("no {content_type} part in {mail:#}"))
}

/// Checks `mail` is an iMIP mail (RFC 6047 §2) of `method` from `from` to
/// `to`, about `uid`; returns its iCalendar text.
fn assert_imip(mail: &Value, method: &str, from: &str, to: &str, uid: &str) -> String {
    assert_eq!(mail["from"], from, "{mail:#}");
    assert_eq!(mail["to"], to, "{mail:#}");
    assert_eq!(mail["mail_from"], from, "{mail:#}");
    assert_eq!(mail["rcpt_tos"], serde_json::json!([to]), "{mail:#}");
    let message_id = mail["message_id"].as_str().unwrap_or_default();
    assert!(
        message_id.starts_with('<') && message_id.ends_with('>') && message_id.contains('@'),
        "{mail:#}"
    );
    assert!(
        mail["content_type"]
            .as_str()
            .is_some_and(|c| c.starts_with("multipart/alternative")),
        "{mail:#}"
    );
    part(mail, "text/plain");
    let calendar = part(mail, "text/calendar");
    // As Python's email package writes it back: parameters quoted.
    let content_type = calendar["content_type"]
        .as_str()
        .unwrap_or_default()
        .replace('"', "");
    assert!(
        content_type.contains(&format!("method={method}")) && content_type.contains("charset"),
        "{mail:#}"
    );
    let text = calendar["text"].as_str().unwrap_or_default().to_string();
    assert!(text.contains(&format!("METHOD:{method}")), "{text}");
    assert!(text.contains(&format!("UID:{uid}")), "{text}");
    text
}

#[test]
fn outside_attendees_are_mailed_invitations_and_cancellations_and_outside_organizers_replies() {
    let sink = SmtpSink::start();
    let server = serve_with(&sink.relay());
    let (alice, bob) = (alice(&server), bob(&server));

    // Alice invites Bob (in the directory) and Carol (outside it).
    let path = format!("{ALICE_CAL}imip-1.ics");
    let text = meeting(
        "imip-1",
        "alice@example.com",
        &[
            "alice@example.com",
            "bob@example.com",
            "carol@elsewhere.test",
        ],
        3,
        10,
    );
    assert_status(&put_ics(&alice, &path, &text, &[]), 201);
    // Pending until the mail is sent.
    let stored = alice.get(&path);
    assert!(line_of(&stored.body, "ATTENDEE", "bob@").contains("SCHEDULE-STATUS=1.2"));
    let carol = line_of(&stored.body, "ATTENDEE", "carol@");
    assert!(
        carol.contains("SCHEDULE-STATUS=1.0") || carol.contains("SCHEDULE-STATUS=1.1"),
        "{carol}"
    );

    let mails = sink.wait_for(1);
    let invitation = &mails[0];
    let itip = assert_imip(
        invitation,
        "REQUEST",
        "alice@example.com",
        "carol@elsewhere.test",
        "imip-1",
    );
    assert!(itip.contains("ORGANIZER"), "{itip}");
    assert_eq!(invitation["subject"], "Invitation: Planning");
    assert!(invitation["message_id"]
        .as_str()
        .is_some_and(|id| id.ends_with("@example.com>")));
    eventually(&alice, &path, "Carol's status: sent", |r| {
        line_of(&r.body, "ATTENDEE", "carol@").contains("SCHEDULE-STATUS=1.1")
    });

    // Bob stores an invitation Dave (outside) mailed him: that answers
    // nothing yet. His acceptance is mailed to Dave.
    let dave_path = format!("{BOB_CAL}outside-1.ics");
    let dave = meeting(
        "outside-1",
        "dave@outside.test",
        &["bob@example.com", "erin@outside.test"],
        4,
        9,
    );
    assert_status(&put_ics(&bob, &dave_path, &dave, &[]), 201);
    let stored = bob.get(&dave_path);
    let accepted = stored.body.replace("\r\n ", "").replace(
        "PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:bob@",
        "PARTSTAT=ACCEPTED;RSVP=TRUE:mailto:bob@",
    );
    assert!(accepted.contains("PARTSTAT=ACCEPTED"), "{}", stored.body);
    assert_status(&put_ics(&bob, &dave_path, &accepted, &[]), 204);
    let mails = sink.wait_for(2);
    let reply = &mails[1];
    let itip = assert_imip(
        reply,
        "REPLY",
        "bob@example.com",
        "dave@outside.test",
        "outside-1",
    );
    assert!(
        line_of(&itip, "ATTENDEE", "bob@").contains("PARTSTAT=ACCEPTED"),
        "{itip}"
    );
    // Only Bob's own line is in a reply (RFC 5546 §3.2.3).
    assert!(!itip.contains("erin@"), "{itip}");
    assert_eq!(reply["subject"], "Accepted by bob@example.com");

    // Alice cancels: Carol is mailed the cancellation.
    assert_status(&alice.request("DELETE", &path, &[], ""), 204);
    let mails = sink.wait_for(3);
    let cancel = &mails[2];
    assert_imip(
        cancel,
        "CANCEL",
        "alice@example.com",
        "carol@elsewhere.test",
        "imip-1",
    );
    assert_eq!(cancel["subject"], "Cancelled: Planning");
    assert_ne!(cancel["message_id"], invitation["message_id"]);

    // Nothing else goes.
    std::thread::sleep(Duration::from_millis(1000));
    assert_eq!(sink.mails().len(), 3, "{:#?}", sink.mails());
}

#[test]
fn a_relay_that_never_answers_leaves_status_5_1_after_the_retries() {
    // Nobody listens on this port.
    let relay = format!("127.0.0.1:{}", free_port());
    let server = serve_with(&relay);
    let alice = alice(&server);
    let path = format!("{ALICE_CAL}unsent.ics");
    let text = meeting(
        "unsent",
        "alice@example.com",
        &["bob@example.com", "carol@elsewhere.test"],
        5,
        10,
    );
    assert_status(&put_ics(&alice, &path, &text, &[]), 201);
    let failed = eventually(&alice, &path, "Carol's status: not sent", |r| {
        line_of(&r.body, "ATTENDEE", "carol@").contains("SCHEDULE-STATUS=5.1")
    });
    assert!(line_of(&failed.body, "ATTENDEE", "bob@").contains("SCHEDULE-STATUS=1.2"));
}

#[test]
fn a_crash_between_sending_and_recording_resends_once_with_the_same_message_id_and_a_rebuild_sends_nothing(
) {
    // The sink keeps the first mail unanswered long enough to kill the
    // server after it was sent and before it could be recorded as sent.
    let sink = SmtpSink::stalling_first(Duration::from_secs(5));
    let mut server = serve_with(&sink.relay());
    let alice = alice(&server);
    let path = format!("{ALICE_CAL}crash.ics");
    let text = meeting(
        "crash",
        "alice@example.com",
        &["carol@elsewhere.test"],
        6,
        10,
    );
    assert_status(&put_ics(&alice, &path, &text, &[]), 201);
    let first = sink.wait_for(1)[0].clone();
    server.stop();
    assert_eq!(sink.mails().len(), 1);

    // Restarted, the server finds the mail queued and not recorded as
    // sent: it sends it again, as the same mail.
    server.restart(false);
    let mails = sink.wait_for(2);
    let second = &mails[1];
    assert_imip(
        second,
        "REQUEST",
        "alice@example.com",
        "carol@elsewhere.test",
        "crash",
    );
    assert_eq!(second["message_id"], first["message_id"]);
    eventually(&alice, &path, "Carol's status: sent", |r| {
        line_of(&r.body, "ATTENDEE", "carol@").contains("SCHEDULE-STATUS=1.1")
    });
    // The first connection's answer comes after the stall, to a sender
    // that is gone: no third copy.
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(sink.mails().len(), 2, "{:#?}", sink.mails());

    // A rebuild of the views from the log sends nothing and writes
    // nothing: every mail's sending is in the log.
    let records = server.log_records();
    server.stop();
    let mut rebuild = server.command();
    rebuild.arg("rebuild");
    ok(rebuild, "");
    server.restart(false);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(sink.mails().len(), 2, "{:#?}", sink.mails());
    assert_eq!(server.log_records(), records);
    let stored = alice.get(&path);
    assert!(line_of(&stored.body, "ATTENDEE", "carol@").contains("SCHEDULE-STATUS=1.1"));
}

#[test]
fn the_relay_login_is_read_from_a_file_and_a_refused_login_is_5_1() {
    let sink = SmtpSink::with_login("reprise", "s3cret pass");
    let secrets = tempfile::tempdir().expect("temp dir");
    let right = secrets.path().join("right");
    std::fs::write(&right, "s3cret pass\n").unwrap();
    let wrong = secrets.path().join("wrong");
    std::fs::write(&wrong, "guess\n").unwrap();
    let flags = |file: &std::path::Path| {
        let mut flags = relay_flags(&sink.relay());
        flags.extend([
            "--smtp-user".to_string(),
            "reprise".to_string(),
            "--smtp-password-file".to_string(),
            file.display().to_string(),
        ]);
        flags
    };
    let right_flags = flags(&right);
    let right_flags: Vec<&str> = right_flags.iter().map(String::as_str).collect();
    let mut server = TestServer::start_with(&[], &right_flags);
    let alice = alice(&server);
    let path = format!("{ALICE_CAL}login.ics");
    let text = meeting(
        "login",
        "alice@example.com",
        &["carol@elsewhere.test"],
        8,
        10,
    );
    assert_status(&put_ics(&alice, &path, &text, &[]), 201);
    let mails = sink.wait_for(1);
    assert_imip(
        &mails[0],
        "REQUEST",
        "alice@example.com",
        "carol@elsewhere.test",
        "login",
    );
    eventually(&alice, &path, "Carol's status: sent", |r| {
        line_of(&r.body, "ATTENDEE", "carol@").contains("SCHEDULE-STATUS=1.1")
    });

    // A refused login (535) is no failure that passes: 5.1 at once.
    let wrong_flags = flags(&wrong);
    let wrong_flags: Vec<&str> = wrong_flags.iter().map(String::as_str).collect();
    server.restart_with(&[], &wrong_flags);
    let path = format!("{ALICE_CAL}login-2.ics");
    let text = meeting(
        "login-2",
        "alice@example.com",
        &["carol@elsewhere.test"],
        9,
        10,
    );
    assert_status(&put_ics(&alice, &path, &text, &[]), 201);
    eventually(&alice, &path, "Carol's status: not sent", |r| {
        line_of(&r.body, "ATTENDEE", "carol@").contains("SCHEDULE-STATUS=5.1")
    });
    assert_eq!(sink.mails().len(), 1, "{:#?}", sink.mails());
}

#[test]
fn addresses_that_would_inject_mail_headers_are_refused_and_append_nothing() {
    let relay = format!("127.0.0.1:{}", free_port());
    let server = serve_with(&relay);
    let (alice, bob) = (alice(&server), bob(&server));
    let before = server.log_records();
    for (n, attendee) in [
        "carol@elsewhere.test,eve@evil.test",
        "carol@elsewhere.test;eve@evil.test",
        "carol%0d%0aBcc:eve@elsewhere.test",
        "\"carol\"@elsewhere.test",
        "carol@elsewhere.test>\\r\\nBcc: <eve@evil.test",
        "carol@eve@elsewhere.test",
    ]
    .iter()
    .enumerate()
    {
        let text = meeting(
            &format!("inject-{n}"),
            "alice@example.com",
            &["bob@example.com", attendee],
            7,
            10,
        );
        let reply = put_ics(&alice, &format!("{ALICE_CAL}inject-{n}.ics"), &text, &[]);
        assert_status(&reply, 403);
        assert!(reply.body.contains("valid-calendar-data"), "{}", reply.body);
    }
    // A folded line that unfolds into a second header.
    let folded = meeting(
        "inject-folded",
        "alice@example.com",
        &["carol@elsewhere.test"],
        7,
        10,
    )
    .replace(
        "mailto:carol@elsewhere.test\r\n",
        "mailto:carol@elsewhere.test\r\n Bcc: eve@evil.test\r\n",
    );
    let reply = put_ics(
        &alice,
        &format!("{ALICE_CAL}inject-folded.ics"),
        &folded,
        &[],
    );
    assert_status(&reply, 403);
    // An outside organizer Bob's answer would be mailed to.
    let theirs = meeting(
        "inject-organizer",
        "dave@outside.test,eve@evil.test",
        &["bob@example.com"],
        7,
        10,
    );
    let reply = put_ics(
        &bob,
        &format!("{BOB_CAL}inject-organizer.ics"),
        &theirs,
        &[],
    );
    assert_status(&reply, 403);
    assert!(reply.body.contains("valid-calendar-data"), "{}", reply.body);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(server.log_records(), before);
}
