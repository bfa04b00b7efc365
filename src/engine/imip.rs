//! iMIP (RFC 6047): scheduling messages to calendar users outside the
//! directory, as mail through an SMTP relay (`serve --smtp-relay`).
//!
//! The scheduling process manager queues a mail by appending an
//! `ImipQueued` (with its Message-ID) in the sender's partition; the
//! calendars view keeps it pending until an `ImipSent` says how sending
//! went. The leader's mail sender ([`Engine::run_mail`]) reads what is
//! pending, sends each mail (retrying with backoff while the relay is
//! unreachable or answers with a temporary error), then appends the
//! `ImipSent`: `1.1` once the relay took it, `5.1` when it gave up, which
//! the organizer's object shows as the attendee's SCHEDULE-STATUS. A mail
//! is thus recorded before and after it is sent: the one duplicate is a
//! resend after a crash (or a switch of leader) between the two, with the
//! same Message-ID. Followers never send, and a rebuild reads the
//! `ImipSent`s and has nothing pending.
//!
//! The SMTP password is kept in a [`Secret`], whose `Debug` hides it, and
//! no log line names it.

use super::scheduling::LeaderPasses;
use super::{Engine, SubmitError};
use events::payload::{ImipQueued, ImipSent, Payload};
use events::scheduling::Cause;
use events::{EventEnvelope, EventId};
use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use projections::scheduling::PendingMail;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use tokio::sync::watch;

/// Who the leader's mail events are recorded as.
pub const ACTOR: &str = "system:imip";

/// Longest connecting to the relay may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// Longest one attempt at sending a mail may take, connection included:
/// lettre's asynchronous transport bounds only the connection, and a relay
/// that stops answering must not hold the sender. An attempt given up on
/// may have reached the relay: the retry is the same mail (same
/// Message-ID), as after a crash.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(120);

/// How much longer a mail under way may take once the server stops.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// Longest wait between two attempts, however many retries are allowed.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(300);

/// Request statuses an iMIP mail leaves on the attendee (RFC 6638
/// §3.2.9).
pub mod status {
    /// Queued, not sent yet.
    pub const PENDING: &str = "1.0";
    /// The relay took the mail.
    pub const SENT: &str = "1.1";
    /// Not sent: the relay refused it, or stayed unreachable.
    pub const NOT_SENT: &str = "5.1";
}

/// A secret read from a file or the environment: shown as `<hidden>` by
/// `Debug`, so that no log line or error carries it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<hidden>")
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Secret, Self::Err> {
        Ok(Secret::new(s))
    }
}

/// How mail to outside attendees is sent.
#[derive(Clone, Debug)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    /// Upgrade the connection with STARTTLS (required, not opportunistic:
    /// a relay that does not offer it is an error, not a plain-text send).
    pub starttls: bool,
    /// Login and password for SMTP AUTH.
    pub credentials: Option<(String, Secret)>,
    /// Attempts after the first one for a mail the relay did not take.
    pub retries: u32,
    /// Wait before the first retry; each next one waits twice as long.
    pub retry_delay: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("--smtp-relay {0:?} is not HOST:PORT")]
    Relay(String),
    #[error(
        "--smtp-user without --smtp-starttls would send the password in clear to {0}; only a \
         relay on this machine (localhost, 127.0.0.1, ::1) is trusted without TLS"
    )]
    PasswordInClear(String),
    #[error("--smtp-user needs a password (--smtp-password-file or REPRISE_SMTP_PASSWORD)")]
    NoPassword,
}

impl SmtpSettings {
    /// `relay` is `HOST:PORT` (`[::1]:25` for an IPv6 address).
    pub fn new(
        relay: &str,
        starttls: bool,
        credentials: Option<(String, Secret)>,
    ) -> Result<SmtpSettings, SettingsError> {
        let bad = || SettingsError::Relay(relay.to_string());
        let (host, port) = relay.rsplit_once(':').ok_or_else(bad)?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let port: u16 = port.parse().map_err(|_| bad())?;
        if host.is_empty() || port == 0 {
            return Err(bad());
        }
        if let Some((_, password)) = &credentials {
            if password.expose().is_empty() {
                return Err(SettingsError::NoPassword);
            }
            let local = matches!(host, "localhost" | "::1") || host.starts_with("127.");
            if !starttls && !local {
                return Err(SettingsError::PasswordInClear(relay.to_string()));
            }
        }
        Ok(SmtpSettings {
            host: host.to_string(),
            port,
            starttls,
            credentials,
            retries: 5,
            retry_delay: Duration::from_secs(1),
        })
    }

    pub fn with_retries(mut self, retries: u32, delay: Duration) -> SmtpSettings {
        self.retries = retries;
        self.retry_delay = delay;
        self
    }

    /// Whether a transport can be made (TLS set up): checked at start.
    pub fn check(&self) -> Result<(), lettre::transport::smtp::Error> {
        self.transport().map(|_| ())
    }

    fn transport(
        &self,
    ) -> Result<AsyncSmtpTransport<Tokio1Executor>, lettre::transport::smtp::Error> {
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&self.host)
            .port(self.port)
            .timeout(Some(CONNECT_TIMEOUT));
        if self.starttls {
            builder = builder.tls(Tls::Required(TlsParameters::new(self.host.clone())?));
        }
        if let Some((user, password)) = &self.credentials {
            builder = builder.credentials(Credentials::new(
                user.clone(),
                password.expose().to_string(),
            ));
        }
        Ok(builder.build())
    }

    /// The wait before retry `n` (0 for the first): the base delay doubled
    /// each time, at most [`MAX_RETRY_DELAY`].
    fn delay_before(&self, n: u32) -> Duration {
        self.retry_delay
            .saturating_mul(2u32.saturating_pow(n))
            .min(MAX_RETRY_DELAY)
    }
}

/// Why an address cannot be mailed to.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AddressError {
    #[error("{0:?} is not a mailto: address")]
    NotMailto(String),
    #[error("{0:?} is not a plain mail address (local@domain, without spaces, quotes, brackets, separators or control characters)")]
    NotPlain(String),
}

/// The mail address of a `mailto:` calendar user address, when it is a
/// plain addr-spec (`local@domain`): nothing a mail header could be made
/// to say more with (a second address after a comma, a display name, a
/// line break, an encoded character), and what lettre reads as one
/// address.
pub fn mail_address(calendar_address: &str) -> Result<lettre::Address, AddressError> {
    let not_plain = || AddressError::NotPlain(calendar_address.to_string());
    let email = calendar_address
        .get(..7)
        .filter(|scheme| scheme.eq_ignore_ascii_case("mailto:"))
        .map(|_| &calendar_address[7..])
        .ok_or_else(|| AddressError::NotMailto(calendar_address.to_string()))?;
    let forbidden = |c: char| {
        c.is_control() || c.is_whitespace() || "<>()[]\\,;:\"%".contains(c) || !c.is_ascii()
    };
    if email.is_empty() || email.len() > 254 || email.chars().any(forbidden) {
        return Err(not_plain());
    }
    let (local, domain) = email.split_once('@').ok_or_else(not_plain)?;
    if local.is_empty() || domain.is_empty() || domain.contains('@') {
        return Err(not_plain());
    }
    email.parse().map_err(|_| not_plain())
}

/// Why a queued mail cannot be made into a message (recorded as 5.x).
#[derive(Debug, thiserror::Error)]
pub enum MessageError {
    #[error(transparent)]
    Address(#[from] AddressError),
    #[error("the iTIP message cannot be read: {0}")]
    Itip(String),
    #[error("iTIP method {0:?} is not sent by mail")]
    Method(String),
    #[error("building the mail: {0}")]
    Build(String),
}

/// The mail (RFC 6047) that carries `mail`'s iTIP message: from the
/// sender to the recipient, with the queued Message-ID, a line of text for
/// people and the message as `text/calendar` with its method.
pub fn message(mail: &ImipQueued) -> Result<lettre::Message, MessageError> {
    let from = mail_address(&mail.from)?;
    let to = mail_address(&mail.to)?;
    let calendar = formats::ical::tree::parse_tree(&mail.message)
        .map_err(|e| MessageError::Itip(e.to_string()))?;
    let method = calendar
        .property("METHOD")
        .map(|m| m.value.trim().to_ascii_uppercase())
        .unwrap_or_default();
    let item = calendar
        .components
        .iter()
        .find(|c| matches!(c.name.as_str(), "VEVENT" | "VTODO" | "VJOURNAL"));
    let text_of = |name: &str| {
        item.and_then(|c| c.property(name))
            .map(|p| header_text(&p.value))
            .unwrap_or_default()
    };
    // A REPLY carries no SUMMARY (only what identifies the object and the
    // attendee's line, RFC 5546 §3.2.3): its subject says the answer.
    let summary = text_of("SUMMARY");
    let titled = if summary.is_empty() {
        "(no title)".to_string()
    } else {
        summary.clone()
    };
    let (subject, text) = match method.as_str() {
        "REQUEST" => (
            format!("Invitation: {titled}"),
            format!("{from} invites you to \"{titled}\"."),
        ),
        "CANCEL" => (
            format!("Cancelled: {titled}"),
            format!("{from} cancelled \"{titled}\"."),
        ),
        "REPLY" => {
            let answer = match item
                .and_then(|c| c.properties_named("ATTENDEE").next())
                .and_then(|a| a.param("PARTSTAT"))
                .map(str::to_ascii_uppercase)
                .as_deref()
            {
                Some("ACCEPTED") => "Accepted",
                Some("DECLINED") => "Declined",
                Some("TENTATIVE") => "Tentatively accepted",
                Some("DELEGATED") => "Delegated",
                Some("NEEDS-ACTION") | None => "Not answered yet",
                Some(_) => "Answered",
            };
            let subject = if summary.is_empty() {
                format!("{answer} by {from}")
            } else {
                format!("{answer}: {summary}")
            };
            (subject, format!("{answer} by {from}."))
        }
        other => return Err(MessageError::Method(other.to_string())),
    };
    let text = format!(
        "{text}\r\n\r\nThe {} is attached for your calendar program (iCalendar, RFC 6047).\r\n",
        match method.as_str() {
            "REPLY" => "answer",
            "CANCEL" => "cancellation",
            _ => "invitation",
        }
    );
    let calendar_type =
        ContentType::parse(&format!("text/calendar; method={method}; charset=UTF-8"))
            .map_err(|e| MessageError::Build(e.to_string()))?;
    lettre::Message::builder()
        .from(Mailbox::new(None, from))
        .to(Mailbox::new(None, to))
        .subject(subject)
        .message_id(Some(mail.message_id.clone()))
        .multipart(
            MultiPart::alternative()
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_PLAIN)
                        .body(text),
                )
                .singlepart(
                    SinglePart::builder()
                        .header(calendar_type)
                        .body(mail.message.clone()),
                ),
        )
        .map_err(|e| MessageError::Build(e.to_string()))
}

/// An iCalendar text value for a mail header or a line of text: its
/// escapes undone, control characters as spaces, at most 200 characters.
fn header_text(value: &str) -> String {
    let unescaped = value
        .replace("\\n", " ")
        .replace("\\N", " ")
        .replace("\\,", ",")
        .replace("\\;", ";")
        .replace("\\\\", "\\");
    unescaped
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(200)
        .collect::<String>()
        .trim()
        .to_string()
}

/// The Message-ID of the mail queued as event `id` by a sender at
/// `from` (`mailto:`): unique by the event's, in the sender's domain.
pub fn message_id(id: EventId, from: &str) -> String {
    let domain = from
        .rsplit_once('@')
        .map(|(_, d)| d)
        .filter(|d| {
            !d.is_empty()
                && d.chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".-".contains(c))
        })
        .unwrap_or("localhost");
    format!("<{id}@{domain}>")
}

/// Why one attempt at sending failed.
#[derive(Debug, thiserror::Error)]
enum AttemptError {
    #[error(transparent)]
    Smtp(lettre::transport::smtp::Error),
    #[error("the relay did not answer within {ATTEMPT_TIMEOUT:?}")]
    TimedOut,
    #[error("the server is stopping")]
    Stopped,
}

impl AttemptError {
    fn is_permanent(&self) -> bool {
        matches!(self, AttemptError::Smtp(e) if e.is_permanent())
    }
}

/// One attempt at handing `message` to the relay. When the server stops
/// meanwhile, the attempt gets [`STOP_GRACE`] more to be answered (so that
/// it is recorded, not sent again at the next start), then is given up.
async fn attempt_once(
    transport: &AsyncSmtpTransport<Tokio1Executor>,
    message: &lettre::Message,
    stop: &mut watch::Receiver<bool>,
) -> Result<(), AttemptError> {
    let answered = |r: Result<Result<_, lettre::transport::smtp::Error>, _>| match r {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(AttemptError::Smtp(e)),
        Err(_) => Err(AttemptError::TimedOut),
    };
    let send = tokio::time::timeout(ATTEMPT_TIMEOUT, transport.send(message.clone()));
    tokio::pin!(send);
    tokio::select! {
        r = &mut send => return answered(r),
        _ = stop.wait_for(|stopping| *stopping) => {}
    }
    match tokio::time::timeout(STOP_GRACE, send).await {
        Ok(r) => answered(r),
        Err(_) => Err(AttemptError::Stopped),
    }
}

/// One queued mail, as the mail sender tells them apart.
type MailKey = (String, Cause, String, u32);

fn key_of(owner: &str, mail: &ImipQueued) -> MailKey {
    (owner.to_string(), mail.cause, mail.to.clone(), mail.part)
}

/// How sending a mail went.
#[derive(Clone, Debug)]
struct Sent {
    status: &'static str,
    reason: Option<String>,
}

impl Engine {
    /// Sends mail to outside attendees through `settings`' relay from now
    /// on (`serve --smtp-relay`); without it, they get status 3.7.
    pub fn with_smtp(mut self, settings: SmtpSettings) -> Engine {
        self.smtp = Some(settings);
        self
    }

    /// Whether attendees outside the directory are sent mail.
    pub fn mails_outside(&self) -> bool {
        self.smtp.is_some()
    }

    /// Wakes the mail sender: a mail was queued.
    pub(super) fn wake_mail(&self) {
        self.mail_wake.notify_one();
    }

    /// Runs the mail sender until `stop` turns true: on the leader, once
    /// the views are ready, it sends what is queued; elsewhere it waits.
    /// Returns at once without a relay.
    pub async fn run_mail(&self, mut stop: watch::Receiver<bool>) {
        let Some(settings) = self.smtp.clone() else {
            return;
        };
        let transport = match settings.transport() {
            Ok(t) => t,
            Err(e) => {
                tracing::error!(error = %e, host = %settings.host, "imip: cannot set up the SMTP relay; no mail is sent");
                return;
            }
        };
        // Mails sent whose ImipSent could not be appended yet: appended on
        // the next pass rather than sent again.
        let mut unrecorded: BTreeMap<MailKey, Sent> = BTreeMap::new();
        let mut passes = LeaderPasses::new(
            self,
            &self.mail_wake,
            "imip: recording a mail failed; retrying",
        );
        while passes.next(&mut stop).await {
            let result = self
                .send_pending(&settings, &transport, &mut unrecorded, &mut stop)
                .await;
            passes.done(result);
        }
    }

    /// Sends every pending mail in turn and records each; stops early when
    /// `stop` turns true or this installation no longer leads.
    async fn send_pending(
        &self,
        settings: &SmtpSettings,
        transport: &AsyncSmtpTransport<Tokio1Executor>,
        unrecorded: &mut BTreeMap<MailKey, Sent>,
        stop: &mut watch::Receiver<bool>,
    ) -> Result<(), SubmitError> {
        let pending = self.views().calendars.mail_pending()?;
        // Recorded meanwhile (by another leader, before a switch back).
        let keys: BTreeSet<MailKey> = pending.iter().map(|p| key_of(&p.owner, &p.mail)).collect();
        unrecorded.retain(|key, _| keys.contains(key));
        for PendingMail {
            owner,
            queued,
            mail,
        } in pending
        {
            if *stop.borrow() {
                return Ok(());
            }
            let key = key_of(&owner, &mail);
            let sent = match unrecorded.get(&key) {
                Some(sent) => sent.clone(),
                None => {
                    let Some(sent) = self.send(settings, transport, &mail, stop).await else {
                        // Stopped, or no longer leading: the next leader
                        // (or this one, restarted) sends it.
                        return Ok(());
                    };
                    unrecorded.insert(key.clone(), sent.clone());
                    sent
                }
            };
            let id = EventId::derived(queued, &["ImipSent"]);
            let payload = Payload::ImipSent(ImipSent {
                cause: mail.cause,
                to: mail.to.clone(),
                part: mail.part,
                status: sent.status.to_string(),
                reason: sent.reason.clone(),
            });
            let event = EventEnvelope::new(id, chrono::Utc::now(), owner, ACTOR, payload)
                .with_correlation(queued.0);
            self.submit(vec![event]).await?;
            unrecorded.remove(&key);
        }
        Ok(())
    }

    /// Sends one mail, retrying with backoff while the failure may pass;
    /// None when `stop` turned true or the lead was lost before it went.
    async fn send(
        &self,
        settings: &SmtpSettings,
        transport: &AsyncSmtpTransport<Tokio1Executor>,
        mail: &ImipQueued,
        stop: &mut watch::Receiver<bool>,
    ) -> Option<Sent> {
        let not_sent = |reason: String| Sent {
            status: status::NOT_SENT,
            reason: Some(reason),
        };
        let message = match message(mail) {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(to = %mail.to, error = %e, "imip: not sendable");
                return Some(not_sent(e.to_string()));
            }
        };
        let mut attempt = 0u32;
        loop {
            if *stop.borrow() || !self.leads().await {
                return None;
            }
            let error = match attempt_once(transport, &message, stop).await {
                Ok(()) => {
                    tracing::info!(to = %mail.to, message_id = %mail.message_id, "imip: sent");
                    crate::telemetry::metrics().mail(true);
                    return Some(Sent {
                        status: status::SENT,
                        reason: None,
                    });
                }
                Err(AttemptError::Stopped) => {
                    tracing::info!(to = %mail.to, message_id = %mail.message_id, "imip: stopping before the relay answered; sent again at the next start");
                    return None;
                }
                Err(e) => e,
            };
            // A 5xx answer will not change by asking again.
            if error.is_permanent() || attempt >= settings.retries {
                tracing::warn!(to = %mail.to, attempts = attempt + 1, error = %error, "imip: not sent");
                crate::telemetry::metrics().mail(false);
                return Some(not_sent(error.to_string()));
            }
            let delay = settings.delay_before(attempt);
            tracing::info!(to = %mail.to, attempt = attempt + 1, retry_in = ?delay, error = %error, "imip: sending failed; retrying");
            tokio::select! {
                _ = stop.changed() => {}
                _ = tokio::time::sleep(delay) => {}
            }
            attempt += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_addresses_are_mailed() {
        assert_eq!(
            mail_address("mailto:carol@elsewhere.test").map(|a| a.to_string()),
            Ok("carol@elsewhere.test".to_string())
        );
        assert!(mail_address("MAILTO:carol@elsewhere.test").is_ok());
        for bad in [
            "urn:uuid:1234",
            "mailto:",
            "mailto:carol",
            "mailto:carol@",
            "mailto:@elsewhere.test",
            "mailto:carol@elsewhere.test,eve@evil.test",
            "mailto:carol@elsewhere.test\r\nBcc: eve@evil.test",
            "mailto:carol@elsewhere.test\nBcc:eve@evil.test",
            "mailto:Carol <carol@elsewhere.test>",
            "mailto:\"carol\"@elsewhere.test",
            "mailto:carol@elsewhere.test;eve@evil.test",
            "mailto:carol%0d%0aBcc:eve@elsewhere.test",
            "mailto:carol@eve@elsewhere.test",
            "mailto:carol@[127.0.0.1]",
            "mailto:car ol@elsewhere.test",
            "mailto:carol\u{0}@elsewhere.test",
            "mailto:carolé@elsewhere.test",
        ] {
            assert!(mail_address(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn relay_settings_refuse_a_password_in_clear() {
        let s = SmtpSettings::new("mail.example.com:587", true, None).unwrap();
        assert_eq!((s.host.as_str(), s.port), ("mail.example.com", 587));
        let s = SmtpSettings::new("[::1]:25", false, None).unwrap();
        assert_eq!(s.host, "::1");
        assert!(SmtpSettings::new("mail.example.com", false, None).is_err());
        assert!(SmtpSettings::new("mail.example.com:x", false, None).is_err());
        let login = || Some(("me".to_string(), Secret::new("pw")));
        assert!(matches!(
            SmtpSettings::new("mail.example.com:25", false, login()),
            Err(SettingsError::PasswordInClear(_))
        ));
        assert!(SmtpSettings::new("127.0.0.1:25", false, login()).is_ok());
        let s = SmtpSettings::new("mail.example.com:587", true, login()).unwrap();
        assert!(!format!("{s:?}").contains("pw"), "{s:?}");
        assert_eq!(s.delay_before(0), Duration::from_secs(1));
        assert_eq!(s.delay_before(3), Duration::from_secs(8));
        assert_eq!(s.delay_before(40), MAX_RETRY_DELAY);
    }

    #[test]
    fn a_request_is_mailed_with_its_method_and_message_id() {
        let id = EventId("01900000-0000-7000-8000-000000000007".parse().unwrap());
        let itip = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nMETHOD:REQUEST\r\n\
                    BEGIN:VEVENT\r\nUID:u1\r\nDTSTAMP:20310101T000000Z\r\n\
                    DTSTART:20310303T100000Z\r\nSUMMARY:Plan\\, then act\r\n\
                    ORGANIZER:mailto:alice@example.com\r\n\
                    ATTENDEE:mailto:carol@elsewhere.test\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        let mail = ImipQueued {
            cause: Cause {
                partition: 0,
                offset: 3,
            },
            to: "mailto:carol@elsewhere.test".into(),
            part: 0,
            from: "mailto:alice@example.com".into(),
            uid: "u1".into(),
            message: itip.into(),
            message_id: message_id(id, "mailto:alice@example.com"),
        };
        assert_eq!(
            mail.message_id,
            "<01900000-0000-7000-8000-000000000007@example.com>"
        );
        let text = String::from_utf8(message(&mail).unwrap().formatted()).unwrap();
        for wanted in [
            "From: alice@example.com\r\n",
            "To: carol@elsewhere.test\r\n",
            "Subject: Invitation: Plan, then act\r\n",
            "Message-ID: <01900000-0000-7000-8000-000000000007@example.com>\r\n",
            "multipart/alternative",
            "METHOD:REQUEST\r\n",
        ] {
            assert!(text.contains(wanted), "{wanted:?} not in\n{text}");
        }
        // The parameters' case is the mime crate's.
        assert!(
            text.to_ascii_lowercase()
                .contains("content-type: text/calendar; method=request; charset=utf-8"),
            "{text}"
        );
        let cancel = ImipQueued {
            message: itip.replace("METHOD:REQUEST", "METHOD:PUBLISH"),
            ..mail
        };
        assert!(matches!(message(&cancel), Err(MessageError::Method(_))));
    }
}
