//! Fences: how one installation hands the right to write to another.
//!
//! A fence is a [`LeaderFenced`] event in every partition of a topic, all
//! with the new leader's epoch. Projections reject, partition by
//! partition, any later event written under an older epoch; an
//! installation reading past the fence in every partition has seen every
//! write the old leader made.

use crate::codec;
use crate::domain::Domain;
use crate::envelope::EventEnvelope;
use crate::log::OutgoingRecord;
use crate::payload::{LeaderFenced, Payload};

/// The partition key fences are written under (their partition is given
/// explicitly, so the key is only for people reading the log).
pub const FENCE_KEY: &str = "fence";

/// One `LeaderFenced` record for each of the `partitions` of `topic`.
pub fn records(
    topic: Domain,
    partitions: u32,
    epoch: u64,
    leader: &str,
    actor: &str,
) -> Vec<OutgoingRecord> {
    (0..partitions)
        .map(|partition| {
            let mut event = EventEnvelope::now(
                FENCE_KEY,
                actor,
                Payload::LeaderFenced(LeaderFenced {
                    topic,
                    epoch,
                    leader: leader.to_string(),
                }),
            );
            event.leader_epoch = epoch;
            OutgoingRecord {
                partition: Some(partition),
                ..codec::encode(&event)
            }
        })
        .collect()
}
