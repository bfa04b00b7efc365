//! What the log asks of a Kafka cluster and of its client: the operator's
//! client properties (`--kafka-config`), and the topic settings without
//! which events could be lost or refused.

use crate::log::{BadTopicSetting, LogError};
use rdkafka::config::ClientConfig;
use std::fmt;

/// librdkafka properties an operator adds to every client of the log
/// (`--kafka-config FILE`): `security.protocol`, `sasl.*`, `ssl.*`,
/// tuning. The values of secrets are never shown, not even by `Debug`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ClientProperties(Vec<(String, String)>);

/// Properties the log sets itself, because its guarantees rest on them.
const RESERVED: [(&str, &str); 10] = [
    ("bootstrap.servers", "give the brokers with --kafka-brokers"),
    (
        "enable.idempotence",
        "an acknowledged write must appear once",
    ),
    (
        "acks",
        "an append returns only once every in-sync replica has it",
    ),
    ("transactional.id", "reprise does not write in transactions"),
    (
        "group.id",
        "readers keep their positions in the views, not in a consumer group",
    ),
    (
        "enable.auto.commit",
        "readers keep their positions in the views",
    ),
    (
        "enable.auto.offset.store",
        "readers keep their positions in the views",
    ),
    ("auto.offset.reset", "readers start where their views say"),
    (
        "enable.partition.eof",
        "readers learn that they caught up from it",
    ),
    (
        "message.max.bytes",
        "derived from the largest record reprise writes",
    ),
];

impl ClientProperties {
    /// Reads Java-style properties: `key=value` (or `key: value`) lines,
    /// `#` and `!` comments, blank lines. Keys the log sets itself are
    /// refused, with the reason.
    pub fn parse(text: &str) -> Result<ClientProperties, LogError> {
        let mut properties = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
                continue;
            }
            let Some(split) = line.find(['=', ':']) else {
                return Err(LogError::ClientSettings(format!(
                    "line {}: expected key=value",
                    n + 1
                )));
            };
            let key = line[..split].trim();
            let value = line[split + 1..].trim();
            if key.is_empty() {
                return Err(LogError::ClientSettings(format!(
                    "line {}: a value without a key",
                    n + 1
                )));
            }
            if let Some((_, why)) = RESERVED.iter().find(|(k, _)| *k == key) {
                return Err(LogError::ClientSettings(format!(
                    "line {}: {key} is set by reprise ({why})",
                    n + 1
                )));
            }
            properties.retain(|(k, _): &(String, String)| k != key);
            properties.push((key.to_string(), value.to_string()));
        }
        Ok(ClientProperties(properties))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Sets every property on a client's configuration.
    pub(super) fn apply_to(&self, config: &mut ClientConfig) {
        for (key, value) in &self.0 {
            config.set(key, value);
        }
    }
}

/// Whether a property's value is a secret: passwords, private keys, tokens.
fn secret(key: &str) -> bool {
    ["password", "secret", "key.pem", "ssl.key", "token", "jaas"]
        .iter()
        .any(|word| key.contains(word))
}

impl fmt::Debug for ClientProperties {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|(k, v)| {
                let shown = if secret(k) { "(hidden)" } else { v.as_str() };
                (k, shown)
            }))
            .finish()
    }
}

/// A topic setting the log needs, and what another value would do.
pub(super) struct TopicRule {
    pub setting: &'static str,
    pub wanted: &'static str,
    /// Whether the value a topic has is acceptable.
    accepts: fn(&str) -> bool,
    harm: &'static str,
}

/// The log is the truth: topics this log creates keep every record, and a
/// topic that would expire or compact records away is refused at connect.
pub(super) const KEPT_FOREVER: [TopicRule; 3] = [
    TopicRule {
        setting: "retention.ms",
        wanted: "-1",
        accepts: |v| v == "-1",
        harm: "delete events once they are that old",
    },
    TopicRule {
        setting: "retention.bytes",
        wanted: "-1",
        accepts: |v| v == "-1",
        harm: "delete the oldest events once a partition is that large",
    },
    TopicRule {
        setting: "cleanup.policy",
        wanted: "delete",
        // "delete" with infinite retention deletes nothing; compaction
        // would keep only the newest event of each key.
        accepts: |v| v.split(',').all(|p| p.trim() != "compact"),
        harm: "compact away every event but the newest of each key",
    },
];

/// What the log needs of an existing topic's settings (as the broker
/// describes them, by name): nothing expires or is compacted, records as
/// large as the producer sends fit, and the `min.insync.replicas` asked
/// for, if one was. The first setting that differs is the error.
pub(super) fn judge_topic(
    brokers: &str,
    topic: &str,
    setting: impl Fn(&str) -> Option<String>,
    batch_bytes: usize,
    min_insync_replicas: Option<u16>,
) -> Result<(), LogError> {
    let refuse = |setting: &'static str, value: String, wanted: String, harm: String| {
        Err(LogError::TopicSetting(Box::new(BadTopicSetting {
            brokers: brokers.to_string(),
            topic: topic.to_string(),
            setting,
            value,
            wanted,
            harm,
        })))
    };
    for rule in &KEPT_FOREVER {
        let value = setting(rule.setting).unwrap_or_else(|| "(not reported)".into());
        if !(rule.accepts)(&value) {
            return refuse(
                rule.setting,
                value,
                rule.wanted.to_string(),
                rule.harm.to_string(),
            );
        }
    }
    let max = setting("max.message.bytes");
    if max
        .as_deref()
        .and_then(|v| v.parse::<usize>().ok())
        .is_some_and(|max| max < batch_bytes)
    {
        return refuse(
            "max.message.bytes",
            max.unwrap_or_default(),
            batch_bytes.to_string(),
            format!("refuse batches of up to {batch_bytes} bytes, which reprise writes"),
        );
    }
    if let Some(wanted) = min_insync_replicas {
        let value = setting("min.insync.replicas").unwrap_or_else(|| "(not reported)".into());
        if value != wanted.to_string() {
            return refuse(
                "min.insync.replicas",
                value,
                wanted.to_string(),
                format!("differ from the {wanted} in-sync replicas --min-insync-replicas asks for every write"),
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_are_read_like_javas_and_secrets_never_shown() {
        let text = "# SASL\nsecurity.protocol=SASL_PLAINTEXT\n\n! PLAIN\nsasl.mechanism : PLAIN\n\
                    sasl.username=reprise\nsasl.password=s3cr=t\n";
        let p = ClientProperties::parse(text).unwrap();
        assert_eq!(p.get("sasl.mechanism"), Some("PLAIN"));
        assert_eq!(p.get("sasl.password"), Some("s3cr=t"));
        let shown = format!("{p:?}");
        assert!(shown.contains("SASL_PLAINTEXT") && shown.contains("reprise"));
        assert!(!shown.contains("s3cr"), "{shown}");
        assert!(shown.contains("(hidden)"), "{shown}");
    }

    #[test]
    fn properties_the_log_sets_itself_and_lines_without_values_are_refused() {
        let e = ClientProperties::parse("acks=1").unwrap_err().to_string();
        assert!(e.contains("line 1: acks is set by reprise"), "{e}");
        let e = ClientProperties::parse("ok=1\nnot a property")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2: expected key=value"), "{e}");
    }

    fn settings<'a>(pairs: &'a [(&str, &str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn a_topic_is_judged_on_retention_compaction_record_size_and_replicas() {
        let good = [
            ("retention.ms", "-1"),
            ("retention.bytes", "-1"),
            ("cleanup.policy", "delete"),
            ("max.message.bytes", "2000000"),
            ("min.insync.replicas", "2"),
        ];
        assert!(judge_topic("b", "t", settings(&good), 1_000_000, Some(2)).is_ok());
        let small = [
            ("retention.ms", "-1"),
            ("retention.bytes", "-1"),
            ("cleanup.policy", "delete"),
            ("max.message.bytes", "1000"),
        ];
        let e = judge_topic("b", "t", settings(&small), 1_000_000, None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("max.message.bytes=1000"), "{e}");
        assert!(e.contains("--add-config max.message.bytes=1000000"), "{e}");
        let e = judge_topic("b", "t", settings(&good), 1_000_000, Some(3))
            .unwrap_err()
            .to_string();
        assert!(e.contains("min.insync.replicas=2"), "{e}");
        let compacting = [
            ("retention.ms", "-1"),
            ("retention.bytes", "-1"),
            ("cleanup.policy", "compact,delete"),
        ];
        let e = judge_topic("b", "t", settings(&compacting), 1, None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("cleanup.policy=compact,delete"), "{e}");
    }
}
