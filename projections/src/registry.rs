//! The projections this build knows, and their read views.

use crate::calendars::{Calendars, CalendarsView};
use crate::contacts::{Contacts, ContactsView};
use crate::directory::{Directory, DirectoryView};
use crate::files::{Files, FilesView};
use crate::projection::Projection;
use crate::seen::{Seen, SeenView};
use crate::store::{ProjectionId, StoreError, ViewStore};
use std::sync::Arc;

/// Every projection at the version this build builds and serves.
pub fn current() -> Vec<Arc<dyn Projection>> {
    vec![
        Arc::new(Directory),
        Arc::new(Calendars::CURRENT),
        Arc::new(Contacts),
        Arc::new(Seen),
        Arc::new(Files),
    ]
}

/// Read access to the views this build serves from.
#[derive(Clone)]
pub struct Views {
    pub directory: DirectoryView,
    pub calendars: CalendarsView,
    pub contacts: ContactsView,
    pub seen: SeenView,
    pub files: FilesView,
}

impl Views {
    /// Opens the current version of every view (built or not).
    pub fn open(store: &ViewStore) -> Result<Views, StoreError> {
        let tree = |name: &str, version: u32| {
            let id = ProjectionId::new(name, version);
            store.tree(&id).map(|t| (t, id.to_string()))
        };
        let (t, n) = tree(Directory::NAME, Directory::VERSION)?;
        let directory = DirectoryView::new(t, n);
        let calendars = CalendarsView::open(store, Calendars::VERSION)?;
        let (t, n) = tree(Contacts::NAME, Contacts::VERSION)?;
        let contacts = ContactsView::new(t, n);
        let (t, n) = tree(Seen::NAME, Seen::VERSION)?;
        let seen = SeenView::new(t, n);
        let (t, n) = tree(Files::NAME, Files::VERSION)?;
        let files = FilesView::new(t, n);
        Ok(Views {
            directory,
            calendars,
            contacts,
            seen,
            files,
        })
    }
}
