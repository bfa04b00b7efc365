//! The one Local|Remote choice: a command's reads and events go to a
//! local engine on the data directory, or with `--server` to a running
//! server through its admin API. Commands are written once against
//! [`Target`] (the directory) or [`Operations`] (status, digests, export,
//! import, snapshot create); both sides run the same directory operation, so both
//! refuse the same bad input. Locally the events carry `system:cli`,
//! through the API the server records `admin:api`.

use crate::cli::LogArgs;
use crate::directory::domains::{self, DomainSummary, NewDomain};
use crate::directory::groups::{self, GroupChanges, GroupDetail, GroupSummary, NewGroup};
use crate::directory::resources::{self, NewResource, ResourceChanges, ResourceSummary};
use crate::directory::shares::{self, CollectionShares};
use crate::directory::users::{self, Deleted, NewUser, UserChanges, UserSummary};
use crate::directory::{ListQuery, Listing, ACTOR_CLI};
use crate::engine::Engine;
use crate::ops::export::{self, Export};
use crate::ops::import::{self, ImportKind, ImportReport, Item};
use crate::ops::projections::{self, DigestEntry, StatusReport};
use crate::ops::snapshot::{self, Created};
use crate::remote::Client;
use anyhow::bail;
use async_trait::async_trait;
use events::payload::{Access, Member};
use formats::davpath::Kind;
use std::path::Path;
use std::time::Duration;

/// Where a command runs. Each surface is a trait of its own, joined here
/// as a supertrait, so a command asks for only the one it needs.
pub trait Target: DirectoryAdmin {
    /// Lets go of the target: a local engine shuts down cleanly.
    fn close(self: Box<Self>) -> anyhow::Result<()>;
}

/// The local engine when no `--server` is given, else the server's API.
pub async fn open(args: &LogArgs) -> anyhow::Result<Box<dyn Target>> {
    match &args.server {
        Some(url) => Ok(Box::new(Client::new(
            &args.data_dir,
            url,
            args.server_ca.as_deref(),
        )?)),
        None => {
            let engine = Engine::start(&args.config()?).await?;
            engine.wait_ready(Duration::from_secs(3600)).await?;
            Ok(Box::new(Local { engine }))
        }
    }
}

/// The directory operations: domains, users, groups, resources, shares.
#[async_trait]
pub trait DirectoryAdmin: Send + Sync {
    async fn add_domain(&self, req: &NewDomain) -> anyhow::Result<DomainSummary>;
    async fn list_domains(&self, q: &ListQuery) -> anyhow::Result<Listing<DomainSummary>>;
    async fn show_domain(&self, domain: &str) -> anyhow::Result<DomainSummary>;

    async fn add_user(&self, req: &NewUser) -> anyhow::Result<UserSummary>;
    async fn list_users(&self, q: &ListQuery) -> anyhow::Result<Listing<UserSummary>>;
    async fn show_user(&self, user: &str) -> anyhow::Result<UserSummary>;
    async fn update_user(&self, user: &str, changes: &UserChanges) -> anyhow::Result<UserSummary>;
    async fn set_password(&self, user: &str, password: &str) -> anyhow::Result<UserSummary>;
    async fn set_enabled(&self, user: &str, enabled: bool) -> anyhow::Result<UserSummary>;
    async fn delete_user(&self, user: &str) -> anyhow::Result<Deleted>;

    async fn add_group(&self, req: &NewGroup) -> anyhow::Result<GroupDetail>;
    async fn list_groups(&self, q: &ListQuery) -> anyhow::Result<Listing<GroupSummary>>;
    async fn show_group(&self, group: &str) -> anyhow::Result<GroupDetail>;
    async fn update_group(
        &self,
        group: &str,
        changes: &GroupChanges,
    ) -> anyhow::Result<GroupDetail>;
    async fn delete_group(&self, group: &str) -> anyhow::Result<Deleted>;
    async fn add_member(&self, group: &str, member: &Member) -> anyhow::Result<GroupDetail>;
    async fn remove_member(&self, group: &str, member: &Member) -> anyhow::Result<GroupDetail>;

    async fn add_resource(&self, req: &NewResource) -> anyhow::Result<ResourceSummary>;
    async fn list_resources(&self, q: &ListQuery) -> anyhow::Result<Listing<ResourceSummary>>;
    async fn show_resource(&self, resource: &str) -> anyhow::Result<ResourceSummary>;
    async fn update_resource(
        &self,
        resource: &str,
        changes: &ResourceChanges,
    ) -> anyhow::Result<ResourceSummary>;
    async fn delete_resource(&self, resource: &str) -> anyhow::Result<Deleted>;

    async fn show_shares(
        &self,
        owner: &str,
        kind: Kind,
        collection: &str,
    ) -> anyhow::Result<CollectionShares>;
    async fn grant_share(
        &self,
        owner: &str,
        kind: Kind,
        collection: &str,
        sharee: &str,
        access: Access,
    ) -> anyhow::Result<CollectionShares>;
    async fn revoke_share(
        &self,
        owner: &str,
        kind: Kind,
        collection: &str,
        sharee: &str,
    ) -> anyhow::Result<CollectionShares>;
}

/// The data directory, opened by this command.
struct Local {
    engine: Engine,
}

impl Target for Local {
    fn close(self: Box<Self>) -> anyhow::Result<()> {
        self.engine.shutdown()
    }
}

#[async_trait]
impl DirectoryAdmin for Local {
    async fn add_domain(&self, req: &NewDomain) -> anyhow::Result<DomainSummary> {
        Ok(domains::add_domain(&self.engine, req, ACTOR_CLI).await?)
    }

    async fn list_domains(&self, q: &ListQuery) -> anyhow::Result<Listing<DomainSummary>> {
        Ok(domains::list_domains(&self.engine.views(), q)?)
    }

    async fn show_domain(&self, domain: &str) -> anyhow::Result<DomainSummary> {
        Ok(domains::show_domain(&self.engine.views(), domain)?)
    }

    async fn add_user(&self, req: &NewUser) -> anyhow::Result<UserSummary> {
        Ok(users::add_user(&self.engine, req, ACTOR_CLI).await?)
    }

    async fn list_users(&self, q: &ListQuery) -> anyhow::Result<Listing<UserSummary>> {
        Ok(users::list_users(&self.engine.views(), q)?)
    }

    async fn show_user(&self, user: &str) -> anyhow::Result<UserSummary> {
        Ok(users::show_user(&self.engine.views(), user)?)
    }

    async fn update_user(&self, user: &str, changes: &UserChanges) -> anyhow::Result<UserSummary> {
        Ok(users::update_user(&self.engine, user, changes, ACTOR_CLI).await?)
    }

    async fn set_password(&self, user: &str, password: &str) -> anyhow::Result<UserSummary> {
        Ok(users::set_password(&self.engine, user, password, ACTOR_CLI).await?)
    }

    async fn set_enabled(&self, user: &str, enabled: bool) -> anyhow::Result<UserSummary> {
        Ok(users::set_enabled(&self.engine, user, enabled, ACTOR_CLI).await?)
    }

    async fn delete_user(&self, user: &str) -> anyhow::Result<Deleted> {
        Ok(users::delete_user(&self.engine, user, ACTOR_CLI).await?)
    }

    async fn add_group(&self, req: &NewGroup) -> anyhow::Result<GroupDetail> {
        Ok(groups::add_group(&self.engine, req, ACTOR_CLI).await?)
    }

    async fn list_groups(&self, q: &ListQuery) -> anyhow::Result<Listing<GroupSummary>> {
        Ok(groups::list_groups(&self.engine.views(), q)?)
    }

    async fn show_group(&self, group: &str) -> anyhow::Result<GroupDetail> {
        Ok(groups::show_group(&self.engine.views(), group)?)
    }

    async fn update_group(
        &self,
        group: &str,
        changes: &GroupChanges,
    ) -> anyhow::Result<GroupDetail> {
        Ok(groups::update_group(&self.engine, group, changes, ACTOR_CLI).await?)
    }

    async fn delete_group(&self, group: &str) -> anyhow::Result<Deleted> {
        Ok(groups::delete_group(&self.engine, group, ACTOR_CLI).await?)
    }

    async fn add_member(&self, group: &str, member: &Member) -> anyhow::Result<GroupDetail> {
        Ok(groups::add_member(&self.engine, group, member, ACTOR_CLI).await?)
    }

    async fn remove_member(&self, group: &str, member: &Member) -> anyhow::Result<GroupDetail> {
        Ok(groups::remove_member(&self.engine, group, member, ACTOR_CLI).await?)
    }

    async fn add_resource(&self, req: &NewResource) -> anyhow::Result<ResourceSummary> {
        Ok(resources::add_resource(&self.engine, req, ACTOR_CLI).await?)
    }

    async fn list_resources(&self, q: &ListQuery) -> anyhow::Result<Listing<ResourceSummary>> {
        Ok(resources::list_resources(&self.engine.views(), q)?)
    }

    async fn show_resource(&self, resource: &str) -> anyhow::Result<ResourceSummary> {
        Ok(resources::show_resource(&self.engine.views(), resource)?)
    }

    async fn update_resource(
        &self,
        resource: &str,
        changes: &ResourceChanges,
    ) -> anyhow::Result<ResourceSummary> {
        Ok(resources::update_resource(&self.engine, resource, changes, ACTOR_CLI).await?)
    }

    async fn delete_resource(&self, resource: &str) -> anyhow::Result<Deleted> {
        Ok(resources::delete_resource(&self.engine, resource, ACTOR_CLI).await?)
    }

    async fn show_shares(
        &self,
        owner: &str,
        kind: Kind,
        collection: &str,
    ) -> anyhow::Result<CollectionShares> {
        Ok(shares::show(&self.engine, owner, kind, collection)?)
    }

    async fn grant_share(
        &self,
        owner: &str,
        kind: Kind,
        collection: &str,
        sharee: &str,
        access: Access,
    ) -> anyhow::Result<CollectionShares> {
        let engine = &self.engine;
        Ok(shares::grant(engine, owner, kind, collection, sharee, access, ACTOR_CLI).await?)
    }

    async fn revoke_share(
        &self,
        owner: &str,
        kind: Kind,
        collection: &str,
        sharee: &str,
    ) -> anyhow::Result<CollectionShares> {
        Ok(shares::revoke(&self.engine, owner, kind, collection, sharee, ACTOR_CLI).await?)
    }
}

/// A running server: nothing to let go of.
impl Target for Client {
    fn close(self: Box<Self>) -> anyhow::Result<()> {
        Ok(())
    }
}

// The client blocks; a command makes one call at a time, so holding the
// worker thread for it costs nothing.
#[async_trait]
impl DirectoryAdmin for Client {
    async fn add_domain(&self, req: &NewDomain) -> anyhow::Result<DomainSummary> {
        Client::add_domain(self, req)
    }

    async fn list_domains(&self, q: &ListQuery) -> anyhow::Result<Listing<DomainSummary>> {
        Client::list_domains(self, q)
    }

    async fn show_domain(&self, domain: &str) -> anyhow::Result<DomainSummary> {
        Client::show_domain(self, domain)
    }

    async fn add_user(&self, req: &NewUser) -> anyhow::Result<UserSummary> {
        Client::add_user(self, req)
    }

    async fn list_users(&self, q: &ListQuery) -> anyhow::Result<Listing<UserSummary>> {
        Client::list_users(self, q)
    }

    async fn show_user(&self, user: &str) -> anyhow::Result<UserSummary> {
        Client::show_user(self, user)
    }

    async fn update_user(&self, user: &str, changes: &UserChanges) -> anyhow::Result<UserSummary> {
        Client::update_user(self, user, changes)
    }

    async fn set_password(&self, user: &str, password: &str) -> anyhow::Result<UserSummary> {
        Client::set_password(self, user, password)
    }

    async fn set_enabled(&self, user: &str, enabled: bool) -> anyhow::Result<UserSummary> {
        Client::set_enabled(self, user, enabled)
    }

    async fn delete_user(&self, user: &str) -> anyhow::Result<Deleted> {
        Client::delete_user(self, user)
    }

    async fn add_group(&self, req: &NewGroup) -> anyhow::Result<GroupDetail> {
        Client::add_group(self, req)
    }

    async fn list_groups(&self, q: &ListQuery) -> anyhow::Result<Listing<GroupSummary>> {
        Client::list_groups(self, q)
    }

    async fn show_group(&self, group: &str) -> anyhow::Result<GroupDetail> {
        Client::show_group(self, group)
    }

    async fn update_group(
        &self,
        group: &str,
        changes: &GroupChanges,
    ) -> anyhow::Result<GroupDetail> {
        Client::update_group(self, group, changes)
    }

    async fn delete_group(&self, group: &str) -> anyhow::Result<Deleted> {
        Client::delete_group(self, group)
    }

    async fn add_member(&self, group: &str, member: &Member) -> anyhow::Result<GroupDetail> {
        Client::add_member(self, group, member)
    }

    async fn remove_member(&self, group: &str, member: &Member) -> anyhow::Result<GroupDetail> {
        Client::remove_member(self, group, member)
    }

    async fn add_resource(&self, req: &NewResource) -> anyhow::Result<ResourceSummary> {
        Client::add_resource(self, req)
    }

    async fn list_resources(&self, q: &ListQuery) -> anyhow::Result<Listing<ResourceSummary>> {
        Client::list_resources(self, q)
    }

    async fn show_resource(&self, resource: &str) -> anyhow::Result<ResourceSummary> {
        Client::show_resource(self, resource)
    }

    async fn update_resource(
        &self,
        resource: &str,
        changes: &ResourceChanges,
    ) -> anyhow::Result<ResourceSummary> {
        Client::update_resource(self, resource, changes)
    }

    async fn delete_resource(&self, resource: &str) -> anyhow::Result<Deleted> {
        Client::delete_resource(self, resource)
    }

    async fn show_shares(
        &self,
        owner: &str,
        kind: Kind,
        collection: &str,
    ) -> anyhow::Result<CollectionShares> {
        Client::show_shares(self, owner, kind, collection)
    }

    async fn grant_share(
        &self,
        owner: &str,
        kind: Kind,
        collection: &str,
        sharee: &str,
        access: Access,
    ) -> anyhow::Result<CollectionShares> {
        Client::grant_share(self, owner, kind, collection, sharee, access)
    }

    async fn revoke_share(
        &self,
        owner: &str,
        kind: Kind,
        collection: &str,
        sharee: &str,
    ) -> anyhow::Result<CollectionShares> {
        Client::revoke_share(self, owner, kind, collection, sharee)
    }
}

/// The operator operations a server also offers through its admin API.
/// Locally each opens only what it needs (views, the log, or an engine),
/// since most run on a stopped data directory without starting one.
#[async_trait]
pub trait Operations: Send + Sync {
    async fn projection_status(&self) -> anyhow::Result<StatusReport>;
    async fn digests(&self) -> anyhow::Result<Vec<DigestEntry>>;
    async fn export(&self, user: &str) -> anyhow::Result<Export>;
    async fn import(&self, file: ImportFile) -> anyhow::Result<ImportReport>;
    async fn create_snapshot(&self, to: &Path) -> anyhow::Result<Created>;
}

/// A file to import, parsed already so that a bad one changes nothing:
/// the data directory takes its items, a server its text.
pub struct ImportFile {
    pub kind: ImportKind,
    pub owner: String,
    pub collection: String,
    /// Names the file in errors.
    pub source: String,
    pub text: String,
    pub items: Vec<Item>,
}

/// The local side of [`Operations`] when no `--server` is given, else the
/// server's API.
pub fn operations(args: &LogArgs) -> anyhow::Result<Box<dyn Operations>> {
    match &args.server {
        Some(url) => Ok(Box::new(Client::new(
            &args.data_dir,
            url,
            args.server_ca.as_deref(),
        )?)),
        None => Ok(Box::new(DataDir { args: args.clone() })),
    }
}

/// A data directory no server holds.
struct DataDir {
    args: LogArgs,
}

#[async_trait]
impl Operations for DataDir {
    async fn projection_status(&self) -> anyhow::Result<StatusReport> {
        let log = self.args.open_log().await?;
        let store = self.args.open_views()?;
        Ok(projections::report(log.as_ref(), &store).await?)
    }

    async fn digests(&self) -> anyhow::Result<Vec<DigestEntry>> {
        Ok(projections::digests(&self.args.open_views()?)?)
    }

    async fn export(&self, user: &str) -> anyhow::Result<Export> {
        let dir = &self.args.data_dir;
        // Checked first, so that a wrong path is not made a data directory.
        if !dir.join("views").is_dir() {
            bail!(
                "{} has no views (is it a reprise data directory whose views were built?)",
                dir.display()
            );
        }
        let views = export::served_views(&self.args.open_views()?, dir)?;
        Ok(export::export_user(&views, user)?)
    }

    async fn import(&self, file: ImportFile) -> anyhow::Result<ImportReport> {
        let engine = Engine::start(&self.args.config()?).await?;
        engine.wait_ready(Duration::from_secs(3600)).await?;
        let result = import::import(
            &engine,
            file.kind,
            &file.owner,
            &file.collection,
            file.items,
            "system:import",
        )
        .await;
        engine.shutdown()?;
        Ok(result?)
    }

    async fn create_snapshot(&self, to: &Path) -> anyhow::Result<Created> {
        let dir = &self.args.data_dir;
        if !dir.join("views").is_dir() {
            bail!("{} has no views to snapshot", dir.display());
        }
        let store = self.args.open_views()?;
        let log = self.args.open_log().await?;
        let ids = snapshot::served_versions(&store)?;
        Ok(snapshot::create(log, to, move |write| write(&store, &ids)).await?)
    }
}

#[async_trait]
impl Operations for Client {
    async fn projection_status(&self) -> anyhow::Result<StatusReport> {
        Client::projection_status(self)
    }

    async fn digests(&self) -> anyhow::Result<Vec<DigestEntry>> {
        Client::digests(self)
    }

    // Export and snapshot answers can take minutes: off the runtime.
    async fn export(&self, user: &str) -> anyhow::Result<Export> {
        let (client, user) = (self.clone(), user.to_string());
        tokio::task::spawn_blocking(move || client.export(&user)).await?
    }

    async fn import(&self, file: ImportFile) -> anyhow::Result<ImportReport> {
        Client::import(
            self,
            file.kind,
            &file.owner,
            &file.collection,
            &file.source,
            &file.text,
        )
    }

    async fn create_snapshot(&self, to: &Path) -> anyhow::Result<Created> {
        // The server writes the file on its machine: a relative path is
        // this shell's.
        let to = if to.is_absolute() {
            to.to_path_buf()
        } else {
            std::env::current_dir()?.join(to)
        };
        let client = self.clone();
        tokio::task::spawn_blocking(move || client.create_snapshot(&to)).await?
    }
}
