//! `snapshot create --server`: the server writes the snapshot on its own
//! machine.

use super::client::{Client, API};
use crate::ops::snapshot::{CreateRequest, Created};
use std::path::Path;

impl Client {
    /// Asks the server to write a snapshot to `to`, a path on its machine.
    pub fn create_snapshot(&self, to: &Path) -> anyhow::Result<Created> {
        let request = CreateRequest {
            to: to.to_path_buf(),
        };
        self.post(&format!("{API}/snapshot"), &request)
    }
}
