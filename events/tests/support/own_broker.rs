//! A Kafka broker of one test's own, which the test may stop: kept apart
//! from `support` because only the server's tests stop brokers.

use crate::support::{start_broker, Broker};

/// A broker of the calling test's own, which the test may stop (e.g. to
/// see what writers get when Kafka is gone).
pub struct OwnBroker {
    pub address: String,
    broker: Option<Broker>,
}

impl OwnBroker {
    pub fn start() -> OwnBroker {
        match start_broker() {
            Ok(broker) => OwnBroker {
                address: broker.address.clone(),
                broker: Some(broker),
            },
            Err(reason) => panic!("no Kafka broker for the Kafka tests: {reason}"),
        }
    }

    /// Stops the broker: closing the lifeline makes the watchdog kill it.
    pub fn stop(&mut self) {
        if let Some(broker) = self.broker.take() {
            drop(broker._lifeline);
            let mut child = broker
                ._child
                .into_inner()
                .unwrap_or_else(|p| p.into_inner());
            let _ = child.wait();
        }
    }
}

impl Drop for OwnBroker {
    fn drop(&mut self) {
        self.stop();
    }
}
