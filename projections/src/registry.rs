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

/// Every projection version this build can build and serve: the current
/// ones, and older ones kept so that an installation can be upgraded
/// from them (served while the current one builds) or pinned to them.
pub fn known() -> Vec<Arc<dyn Projection>> {
    let mut all = current();
    all.push(Arc::new(Calendars::V1));
    all
}

/// A version this build knows, by name and number.
pub fn find(name: &str, version: u32) -> Option<Arc<dyn Projection>> {
    known()
        .into_iter()
        .find(|p| p.name() == name && p.version() == version)
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
        Views::open_at(store, &[])
    }

    /// Opens every view at the version `versions` names for it, else the
    /// current one. Only calendars have more than one version.
    pub fn open_at(store: &ViewStore, versions: &[ProjectionId]) -> Result<Views, StoreError> {
        let version_of = |name: &str, current: u32| {
            versions
                .iter()
                .find(|id| id.name == name)
                .map_or(current, |id| id.version)
        };
        let tree = |name: &str, version: u32| store.tree(&ProjectionId::new(name, version));
        let directory = DirectoryView::new(tree(Directory::NAME, Directory::VERSION)?);
        let calendars =
            CalendarsView::open(store, version_of(Calendars::NAME, Calendars::VERSION))?;
        let contacts = ContactsView::new(tree(Contacts::NAME, Contacts::VERSION)?);
        let seen = SeenView::new(tree(Seen::NAME, Seen::VERSION)?);
        let files = FilesView::new(tree(Files::NAME, Files::VERSION)?);
        Ok(Views {
            directory,
            calendars,
            contacts,
            seen,
            files,
        })
    }

    /// The same views with one projection at another version.
    pub fn replaced(&self, store: &ViewStore, id: &ProjectionId) -> Result<Views, StoreError> {
        let mut views = self.clone();
        if id.name == Calendars::NAME {
            views.calendars = CalendarsView::open(store, id.version)?;
        }
        Ok(views)
    }
}
