//! The operator commands' endpoints of the admin API, typed: what
//! `projections`, `import` and `export` send with `--server`.

use super::client::API;
use super::{segment, Client};
use crate::ops::export::Export;
use crate::ops::import::{ImportKind, ImportReport};
use crate::ops::projections::{DigestEntry, StatusReport};

impl Client {
    /// The server's projections report, with its lag in seconds and role.
    pub fn projection_status(&self) -> anyhow::Result<StatusReport> {
        self.get(&format!("{API}/projections/status"), &[])
    }

    /// A digest of each projection version the server holds.
    pub fn digests(&self) -> anyhow::Result<Vec<DigestEntry>> {
        self.get(&format!("{API}/projections/digest"), &[])
    }

    /// One user's own calendars and address books, as files.
    pub fn export(&self, user: &str) -> anyhow::Result<Export> {
        self.get(&format!("{API}/export/{}", segment(user)), &[])
    }

    /// Imports a whole file; `source` names it in the server's errors.
    pub fn import(
        &self,
        kind: ImportKind,
        owner: &str,
        collection: &str,
        source: &str,
        text: &str,
    ) -> anyhow::Result<ImportReport> {
        let path = match kind {
            ImportKind::Calendar => format!("{API}/import/calendar"),
            ImportKind::Contacts => format!("{API}/import/contacts"),
        };
        let query = [
            ("owner", owner),
            ("collection", collection),
            ("source", source),
        ];
        self.post_text(&path, &query, text)
    }
}
