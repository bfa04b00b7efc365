//! A Kafka broker of one test's own, which the test may stop, kill and
//! restart: kept apart from `support` because only the server's tests do.

use crate::support::{find_script, spawn_broker, start_broker, wait_until_ready, Broker};
use std::process::Command;
use std::sync::Mutex;

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

/// Kills the broker with SIGKILL, as a crash would, leaving its storage.
fn kill_broker(broker: &Broker) {
    let pid = std::fs::read_to_string(broker.dir.join("broker.pid"))
        .unwrap_or_else(|e| panic!("the broker's pid file: {e}"));
    let status = Command::new("kill")
        .args(["-KILL", pid.trim()])
        .status()
        .unwrap_or_else(|e| panic!("kill: {e}"));
    assert!(status.success(), "kill -KILL {pid} failed");
    // The watchdog's shell exits with the broker.
    let _ = broker
        ._child
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .wait();
}

/// Starts a broker again on a killed one's storage and ports. The old
/// handle must be kept until the test ends: its watchdog removes the
/// storage when it is dropped.
fn restart_broker(old: &Broker) -> Result<Broker, String> {
    let script = find_script()?;
    let log_path = old
        .dir
        .join(format!("broker-{}-restarted.log", old.ports[0]));
    let (mut child, lifeline) = spawn_broker(&script, old.ports, &old.dir, &log_path)?;
    wait_until_ready(&old.address, &mut child)?;
    Ok(Broker {
        address: old.address.clone(),
        sasl_address: old.sasl_address.clone(),
        tls_address: old.tls_address.clone(),
        ca: old.ca.clone(),
        dir: old.dir.clone(),
        ports: old.ports,
        _lifeline: Mutex::new(lifeline),
        _child: Mutex::new(child),
    })
}
