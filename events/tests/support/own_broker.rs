//! A Kafka broker of one test's own, which the test may stop, kill and
//! restart: kept apart from `support` because only the server's tests do.

use crate::support::{kill_broker, restart_broker, start_broker, Broker};

/// A broker of the calling test's own.
pub struct OwnBroker {
    pub address: String,
    broker: Option<Broker>,
    /// Handles of killed brokers: their watchdogs remove the storage the
    /// restarted one uses when dropped, so they live as long as it.
    killed: Vec<Broker>,
}

impl OwnBroker {
    pub fn start() -> OwnBroker {
        match start_broker() {
            Ok(broker) => OwnBroker {
                address: broker.address.clone(),
                broker: Some(broker),
                killed: Vec::new(),
            },
            Err(reason) => panic!("no Kafka broker for the Kafka tests: {reason}"),
        }
    }

    /// Kills the broker with SIGKILL, keeping its storage for [`Self::restart`].
    pub fn kill(&mut self) {
        if let Some(broker) = self.broker.take() {
            kill_broker(&broker);
            self.killed.push(broker);
        }
    }

    /// Starts the killed broker again, on the same storage and ports.
    pub fn restart(&mut self) {
        let old = self.killed.last().expect("a killed broker to restart");
        let broker =
            restart_broker(old).unwrap_or_else(|e| panic!("restarting the Kafka broker: {e}"));
        self.broker = Some(broker);
    }

    /// Stops the broker: closing the lifeline makes the watchdog kill it
    /// and remove its storage.
    pub fn stop(&mut self) {
        for broker in self.broker.take().into_iter().chain(self.killed.drain(..)) {
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
