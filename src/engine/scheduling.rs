//! The scheduling process manager: the leader's reader of what
//! scheduling writes recorded as to be sent (the calendars view's pending
//! records, see `projections::scheduling`), which turns each into events.
//!
//! For one pending record, in log order per sender: every recipient of the
//! directory gets one `SchedulingDelivered` in their partition (a room or
//! equipment answering by itself), with an id derived from the causing
//! event and the recipient; then one `SchedulingCompleted` in the
//! sender's partition records each recipient's delivery status and ends
//! the record. A recipient outside the directory, when a relay is set
//! (`serve --smtp-relay`), is queued a mail instead (`ImipQueued`, in the
//! sender's partition, before the completion; the mail sender in
//! `imip.rs` sends it). Its state is the view: a record stays until its
//! completion is applied, so an installation that takes the lead finds
//! the same records and finishes them; what the previous leader had
//! already delivered is applied once, since a delivery from a cause not
//! newer than the last one applied changes nothing. Followers never act,
//! and a rebuild or a clone reads the completions in the log and has
//! nothing pending.

use super::{imip, Engine, Role, SubmitError};
use events::payload::{ImipQueued, Payload, SchedulingCompleted, SchedulingDelivered};
use events::{EventEnvelope, EventId};
use formats::ical::itip::normalized_address;
use projections::directory::DirectoryView;
use projections::registry::Views;
use projections::scheduling::Pending;
use projections::{Outcome, Rejection};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use tokio::sync::watch;

/// Who the leader's scheduling events are recorded as.
pub const ACTOR: &str = "system:scheduling";

/// How often the process manager and the mail sender look for pending
/// work when nothing wakes them (a write of this installation does).
const IDLE: Duration = Duration::from_millis(250);

/// Request statuses (RFC 5546 §3.6, RFC 6638 §3.2.9) the server records on
/// the organizer's ATTENDEE lines.
pub mod status {
    /// Delivered to the attendee's calendar.
    pub const DELIVERED: &str = "1.2";
    /// No calendar user of the directory has the address, and no mail is
    /// sent to it (no `--smtp-relay`, or not a plain mail address).
    pub const UNKNOWN: &str = "3.7";
    /// The attendee's account is disabled.
    pub const NO_SCHEDULING: &str = "5.3";
    /// The attendee's calendars refused it (none to deliver to).
    pub const NOT_DELIVERED: &str = "5.1";
}

/// Where an address leads in the directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Recipient {
    /// A user's or a resource's calendars: their partition key.
    Calendar { owner: String, auto_answer: bool },
    /// Someone outside the directory with a plain mail address, sent mail
    /// (iMIP) since a relay is set.
    Outside,
    /// Nobody who can be delivered to; the status says why.
    Undeliverable(&'static str),
}

/// The calendar user an address names (`mailto:` an email of a user or a
/// resource), preferring the sender's domain when an email is in several;
/// anyone else is [`Recipient::Outside`] when `mails_outside` (a relay is
/// set) and their address is a plain mail address.
pub fn recipient(
    directory: &DirectoryView,
    address: &str,
    sender_domain: &str,
    mails_outside: bool,
) -> Result<Recipient, projections::StoreError> {
    let address = normalized_address(address);
    let Some(email) = address.strip_prefix("mailto:") else {
        return Ok(Recipient::Undeliverable(status::UNKNOWN));
    };
    let user = match directory.email_holder(sender_domain, email)? {
        Some(login) => directory.user(sender_domain, &login)?,
        None => directory.find_user(email)?,
    };
    if let Some(user) = user {
        if !user.enabled {
            return Ok(Recipient::Undeliverable(status::NO_SCHEDULING));
        }
        return Ok(Recipient::Calendar {
            owner: user.principal(),
            auto_answer: false,
        });
    }
    for domain in [sender_domain.to_string()]
        .into_iter()
        .chain(email.rsplit_once('@').map(|(_, d)| d.to_string()))
    {
        let found = directory.resources(&domain)?.into_iter().find(|r| {
            r.email
                .as_deref()
                .is_some_and(|e| e.eq_ignore_ascii_case(email))
        });
        if let Some(resource) = found {
            return Ok(Recipient::Calendar {
                owner: resource.calendar_owner(),
                auto_answer: true,
            });
        }
    }
    if mails_outside && imip::mail_address(&address).is_ok() {
        return Ok(Recipient::Outside);
    }
    Ok(Recipient::Undeliverable(status::UNKNOWN))
}

/// The status an attendee gets from the outcome of a delivery to them.
fn status_of(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Applied { .. } => status::DELIVERED,
        Outcome::Rejected {
            rejection: Rejection::NotFound { .. },
        } => status::NO_SCHEDULING,
        _ => status::NOT_DELIVERED,
    }
}

/// Recipients one pass delivers to at most (a record with more goes
/// alone): the deliveries are applied ahead of the writes appended after
/// them, so a larger pass drains a backlog faster but holds those writes
/// longer.
const BATCH_RECIPIENTS: usize = 200;

/// One pending record as events: its deliveries (to `addressed`, in
/// order), the mails it queues, and the statuses known before delivery.
struct Planned {
    owner: String,
    outgoing: projections::scheduling::Outgoing,
    deliveries: Vec<EventEnvelope>,
    addressed: Vec<String>,
    statuses: BTreeMap<String, String>,
    mails: Vec<EventEnvelope>,
}

impl Planned {
    /// The `SchedulingCompleted` that closes the record, with every
    /// recipient's status.
    fn completion(&self) -> EventEnvelope {
        let outgoing = &self.outgoing;
        let id = EventId::derived(
            outgoing.cause_event,
            &["SchedulingCompleted", &outgoing.cause.offset.to_string()],
        );
        let completed = Payload::SchedulingCompleted(SchedulingCompleted {
            cause: outgoing.cause,
            statuses: self.statuses.clone(),
        });
        EventEnvelope::new(id, chrono::Utc::now(), &self.owner, ACTOR, completed)
            .with_correlation(outgoing.cause_event.0)
    }
}

/// The rhythm of a loop only the leader runs (this process manager, the
/// mail sender of `imip.rs`): a pass when woken, else every [`IDLE`],
/// backing off after failures (up to 32 times longer); none on a follower
/// or before the views are ready.
pub(super) struct LeaderPasses<'e> {
    engine: &'e Engine,
    wake: &'e tokio::sync::Notify,
    failures: u32,
    /// Logged when a pass fails.
    failed: &'static str,
}

impl<'e> LeaderPasses<'e> {
    pub(super) fn new(
        engine: &'e Engine,
        wake: &'e tokio::sync::Notify,
        failed: &'static str,
    ) -> LeaderPasses<'e> {
        LeaderPasses {
            engine,
            wake,
            failures: 0,
            failed,
        }
    }

    /// Waits until a pass is due on the leader; false once `stop` turned
    /// true.
    pub(super) async fn next(&mut self, stop: &mut watch::Receiver<bool>) -> bool {
        loop {
            let pause = IDLE * 2u32.pow(self.failures.min(5));
            tokio::select! {
                _ = stop.changed() => {}
                _ = tokio::time::sleep(pause) => {}
                _ = self.wake.notified() => {}
            }
            if *stop.borrow() {
                return false;
            }
            if self.engine.ready() && self.engine.leads().await {
                return true;
            }
        }
    }

    /// Counts a pass: another installation leading now is no failure.
    pub(super) fn done<T>(&mut self, result: Result<T, SubmitError>) {
        match result {
            Ok(_) | Err(SubmitError::NotLeader { .. }) => self.failures = 0,
            Err(e) => {
                self.failures += 1;
                tracing::warn!(error = %e, "{}", self.failed);
            }
        }
    }
}

impl Engine {
    /// Whether this installation leads (writes) now.
    pub(super) async fn leads(&self) -> bool {
        matches!(self.role().await, Role::Leader { .. })
    }

    /// Runs the process manager until `stop` turns true: on the leader,
    /// once the views are ready, it delivers what is pending; elsewhere it
    /// waits.
    pub async fn run_scheduling(&self, mut stop: watch::Receiver<bool>) {
        let mut passes = LeaderPasses::new(
            self,
            &self.scheduling_wake,
            "scheduling: delivering failed; retrying",
        );
        while passes.next(&mut stop).await {
            let result = self.schedule_pending().await;
            passes.done(result);
        }
    }

    /// Delivers what is pending: the first record of each sender, up to
    /// [`BATCH_RECIPIENTS`] recipients, together (a sender's records go in log
    /// order, one at a time), in two appends: every delivery, then every
    /// completion with the mails queued. Returns how many records it
    /// completed; its own appends wake it for the next ones.
    pub async fn schedule_pending(&self) -> Result<usize, SubmitError> {
        let views = self.views();
        let mut senders = BTreeSet::new();
        let mut recipients = 0;
        let batch: Vec<Pending> = views
            .calendars
            .scheduling_pending()?
            .into_iter()
            .filter(|record| senders.insert(record.owner.clone()))
            .take_while(|record| {
                let first = recipients == 0;
                recipients += record.outgoing.to.len();
                first || recipients <= BATCH_RECIPIENTS
            })
            .collect();
        let mut planned = Vec::with_capacity(batch.len());
        for record in batch {
            planned.push(self.plan(&views, record)?);
        }
        let deliveries: Vec<EventEnvelope> = planned
            .iter_mut()
            .flat_map(|p| std::mem::take(&mut p.deliveries))
            .collect();
        let delivered = deliveries.len() as u64;
        let mut outcomes = self.submit(deliveries).await?.into_iter();
        crate::telemetry::metrics().scheduling_effects("delivery", delivered);
        let mut closing = Vec::new();
        let mut queued = false;
        for p in planned.iter_mut() {
            for (to, outcome) in p.addressed.iter().zip(outcomes.by_ref()) {
                if !matches!(outcome, Outcome::Applied { .. }) {
                    tracing::info!(to = %to, outcome = ?outcome, "scheduling: delivery refused");
                }
                p.statuses
                    .insert(to.clone(), status_of(&outcome).to_string());
            }
            // The mails are queued before the record completes, in the
            // same partition: a crash in between leaves the record, and
            // queuing them again changes nothing.
            queued |= !p.mails.is_empty();
            closing.append(&mut p.mails);
            closing.push(p.completion());
        }
        let mails = (closing.len() - planned.len()) as u64;
        self.submit(closing).await?;
        let metrics = crate::telemetry::metrics();
        metrics.scheduling_effects("completion", planned.len() as u64);
        metrics.scheduling_effects("mail_queued", mails);
        if queued {
            self.wake_mail();
        }
        Ok(planned.len())
    }

    /// The events one pending record becomes, its outcomes aside.
    fn plan(&self, views: &Views, record: Pending) -> Result<Planned, SubmitError> {
        let Pending { owner, outgoing } = record;
        let sender_domain = owner.rsplit_once('@').map_or("", |(_, d)| d).to_string();
        let mut planned = Planned {
            owner,
            outgoing,
            deliveries: Vec::new(),
            addressed: Vec::new(),
            statuses: BTreeMap::new(),
            mails: Vec::new(),
        };
        let outgoing = &planned.outgoing;
        let (partition, offset) = (
            outgoing.cause.partition.to_string(),
            outgoing.cause.offset.to_string(),
        );
        for to in outgoing.to.keys() {
            match recipient(&views.directory, to, &sender_domain, self.mails_outside())? {
                Recipient::Calendar {
                    owner: target,
                    auto_answer,
                } => {
                    let id = EventId::derived(
                        outgoing.cause_event,
                        &["SchedulingDelivered", &partition, &offset, &target],
                    );
                    let payload = Payload::SchedulingDelivered(SchedulingDelivered {
                        cause: outgoing.cause,
                        from: outgoing.from.clone(),
                        to: to.clone(),
                        uid: outgoing.uid.clone(),
                        messages: outgoing.messages_for(to),
                        auto_answer,
                    });
                    planned.deliveries.push(
                        EventEnvelope::new(id, chrono::Utc::now(), target, ACTOR, payload)
                            .with_correlation(outgoing.cause_event.0),
                    );
                    planned.addressed.push(to.clone());
                }
                Recipient::Outside => {
                    // One mail per message: an iMIP mail carries one METHOD.
                    for (part, message) in outgoing.messages_for(to).into_iter().enumerate() {
                        let part_text = part.to_string();
                        let id = EventId::derived(
                            outgoing.cause_event,
                            &["ImipQueued", &partition, &offset, to, &part_text],
                        );
                        let payload = Payload::ImipQueued(ImipQueued {
                            cause: outgoing.cause,
                            to: to.clone(),
                            part: part as u32,
                            from: outgoing.from.clone(),
                            uid: outgoing.uid.clone(),
                            message,
                            message_id: imip::message_id(id, &outgoing.from),
                        });
                        planned.mails.push(
                            EventEnvelope::new(
                                id,
                                chrono::Utc::now(),
                                &planned.owner,
                                ACTOR,
                                payload,
                            )
                            .with_correlation(outgoing.cause_event.0),
                        );
                    }
                    // Sent or not is known later: its ImipSent says.
                    planned
                        .statuses
                        .insert(to.clone(), imip::status::PENDING.to_string());
                }
                Recipient::Undeliverable(status) => {
                    planned.statuses.insert(to.clone(), status.to_string());
                }
            }
        }
        Ok(planned)
    }

    /// Wakes the process manager: a write that may have recorded something
    /// to send was applied.
    pub fn wake_scheduling(&self) {
        self.scheduling_wake.notify_one();
    }
}
