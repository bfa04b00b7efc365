//! A projection applied in unit tests through the runner's own per-event
//! step ([`runner::apply_event`]): a temporary view store, events at
//! consecutive offsets of partition 0, grouped in atomic batches as the
//! runner groups them. What the step says is returned, refused events as
//! quarantined; outcomes and quarantine are not recorded in the view, so
//! that a test can tell by its digest that a rejection changed nothing.

use crate::outcome::Outcome;
use crate::projection::{Applied, Projection};
use crate::runner::{self, Fence, Step};
use crate::store::{ProjectionId, ViewStore, ViewTree};
use crate::view::ViewTxn;
use events::log::TopicPartition;
use events::{Domain, EventEnvelope, LogPosition};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

pub(crate) struct TestStore {
    dir: PathBuf,
    pub store: ViewStore,
    pub id: ProjectionId,
    /// The offset the next event gets.
    pub next: u64,
    /// The fences applied so far, as the runner keeps them across batches.
    fences: BTreeMap<TopicPartition, Fence>,
}

impl Drop for TestStore {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl TestStore {
    pub fn new(id: ProjectionId) -> TestStore {
        static RUN: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "reprise-{}-test-{}-{}",
            id.name,
            std::process::id(),
            RUN.fetch_add(1, Ordering::Relaxed)
        ));
        let store = ViewStore::open(&dir).unwrap();
        TestStore {
            dir,
            store,
            id,
            next: 0,
            fences: BTreeMap::new(),
        }
    }

    pub fn tree(&self) -> ViewTree {
        self.store.tree(&self.id).unwrap()
    }

    /// Applies events at the next offsets, `batch` per atomic batch.
    pub fn run(
        &mut self,
        projection: &dyn Projection,
        domain: Domain,
        events: &[EventEnvelope],
        batch: usize,
    ) -> Vec<Outcome> {
        let tree = self.tree();
        let mut outcomes = Vec::new();
        for chunk in events.chunks(batch.max(1)) {
            let mut txn = ViewTxn::new(&tree);
            for event in chunk {
                let applied = Applied {
                    event,
                    domain,
                    position: LogPosition {
                        partition: 0,
                        offset: self.next,
                    },
                };
                self.next += 1;
                let step = runner::apply_event(projection, &applied, &mut self.fences, &mut txn);
                let outcome = match step {
                    Ok(Step::Done(outcome)) => outcome,
                    Ok(Step::Refused(reason)) => Outcome::Quarantined { reason },
                    Err(e) => panic!("{e}"),
                };
                txn.commit_event();
                outcomes.push(outcome);
            }
            tree.commit(txn.into_writes()).unwrap();
        }
        outcomes
    }
}
