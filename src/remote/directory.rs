//! The directory endpoints of the admin API, one typed method each:
//! domains, users, groups, resources, and the shares of users' calendars
//! and address books. Names in paths are [`segment`]-encoded.

use super::client::{segment, Client, API};
use crate::directory::domains::{DomainSummary, NewDomain};
use crate::directory::groups::{GroupChanges, GroupDetail, GroupSummary, NewGroup};
use crate::directory::resources::{NewResource, ResourceChanges, ResourceSummary};
use crate::directory::shares::{CollectionShares, GrantRequest};
use crate::directory::users::{Deleted, NewPassword, NewUser, UserChanges, UserSummary};
use crate::directory::{ListQuery, Listing};
use events::payload::{Access, Member};
use formats::davpath::Kind;
use serde::de::DeserializeOwned;

fn domain_path(domain: &str) -> String {
    format!("{API}/domains/{}", segment(domain))
}

fn user_path(user: &str) -> String {
    format!("{API}/users/{}", segment(user))
}

fn group_path(group: &str) -> String {
    format!("{API}/groups/{}", segment(group))
}

fn resource_path(resource: &str) -> String {
    format!("{API}/resources/{}", segment(resource))
}

fn shares_path(owner: &str, kind: Kind, collection: &str) -> String {
    format!(
        "{}/{}/{}/shares",
        user_path(owner),
        kind.segment(),
        segment(collection)
    )
}

fn share_path(owner: &str, kind: Kind, collection: &str, sharee: &str) -> String {
    format!(
        "{}/{}",
        shares_path(owner, kind, collection),
        segment(sharee)
    )
}

impl Client {
    /// One page of a listing (`?domain=&limit=&after=`).
    fn list<T: DeserializeOwned>(&self, what: &str, q: &ListQuery) -> anyhow::Result<Listing<T>> {
        let limit = q.limit.map(|n| n.to_string());
        let mut query = Vec::new();
        query.extend(limit.as_deref().map(|l| ("limit", l)));
        query.extend(q.domain.as_deref().map(|d| ("domain", d)));
        query.extend(q.after.as_deref().map(|a| ("after", a)));
        self.get(&format!("{API}/{what}"), &query)
    }

    pub fn add_domain(&self, req: &NewDomain) -> anyhow::Result<DomainSummary> {
        self.post(&format!("{API}/domains"), req)
    }

    pub fn list_domains(&self, q: &ListQuery) -> anyhow::Result<Listing<DomainSummary>> {
        self.list("domains", q)
    }

    pub fn show_domain(&self, domain: &str) -> anyhow::Result<DomainSummary> {
        self.get(&domain_path(domain), &[])
    }

    pub fn add_user(&self, req: &NewUser) -> anyhow::Result<UserSummary> {
        self.post(&format!("{API}/users"), req)
    }

    pub fn list_users(&self, q: &ListQuery) -> anyhow::Result<Listing<UserSummary>> {
        self.list("users", q)
    }

    pub fn show_user(&self, user: &str) -> anyhow::Result<UserSummary> {
        self.get(&user_path(user), &[])
    }

    pub fn update_user(&self, user: &str, changes: &UserChanges) -> anyhow::Result<UserSummary> {
        self.patch(&user_path(user), changes)
    }

    pub fn set_password(&self, user: &str, password: &str) -> anyhow::Result<UserSummary> {
        let body = NewPassword {
            password: password.to_string(),
        };
        self.put(&format!("{}/password", user_path(user)), &body)
    }

    pub fn set_enabled(&self, user: &str, enabled: bool) -> anyhow::Result<UserSummary> {
        let verb = if enabled { "enable" } else { "disable" };
        self.post(&format!("{}/{verb}", user_path(user)), &())
    }

    pub fn delete_user(&self, user: &str) -> anyhow::Result<Deleted> {
        self.delete(&user_path(user))
    }

    pub fn add_group(&self, req: &NewGroup) -> anyhow::Result<GroupDetail> {
        self.post(&format!("{API}/groups"), req)
    }

    pub fn list_groups(&self, q: &ListQuery) -> anyhow::Result<Listing<GroupSummary>> {
        self.list("groups", q)
    }

    pub fn show_group(&self, group: &str) -> anyhow::Result<GroupDetail> {
        self.get(&group_path(group), &[])
    }

    pub fn update_group(&self, group: &str, changes: &GroupChanges) -> anyhow::Result<GroupDetail> {
        self.patch(&group_path(group), changes)
    }

    pub fn delete_group(&self, group: &str) -> anyhow::Result<Deleted> {
        self.delete(&group_path(group))
    }

    pub fn add_member(&self, group: &str, member: &Member) -> anyhow::Result<GroupDetail> {
        self.post(&format!("{}/members", group_path(group)), member)
    }

    pub fn remove_member(&self, group: &str, member: &Member) -> anyhow::Result<GroupDetail> {
        let (kind, name) = match member {
            Member::User(n) => ("user", n),
            Member::Group(n) => ("group", n),
        };
        let path = format!("{}/members/{kind}/{}", group_path(group), segment(name));
        self.delete(&path)
    }

    pub fn add_resource(&self, req: &NewResource) -> anyhow::Result<ResourceSummary> {
        self.post(&format!("{API}/resources"), req)
    }

    pub fn list_resources(&self, q: &ListQuery) -> anyhow::Result<Listing<ResourceSummary>> {
        self.list("resources", q)
    }

    pub fn show_resource(&self, resource: &str) -> anyhow::Result<ResourceSummary> {
        self.get(&resource_path(resource), &[])
    }

    pub fn update_resource(
        &self,
        resource: &str,
        changes: &ResourceChanges,
    ) -> anyhow::Result<ResourceSummary> {
        self.patch(&resource_path(resource), changes)
    }

    pub fn delete_resource(&self, resource: &str) -> anyhow::Result<Deleted> {
        self.delete(&resource_path(resource))
    }

    /// `owner`'s collection and who it is shared with.
    pub fn show_shares(
        &self,
        owner: &str,
        kind: Kind,
        collection: &str,
    ) -> anyhow::Result<CollectionShares> {
        self.get(&shares_path(owner, kind, collection), &[])
    }

    /// Grants `access` to `sharee`, or changes the access of its grant.
    pub fn grant_share(
        &self,
        owner: &str,
        kind: Kind,
        collection: &str,
        sharee: &str,
        access: Access,
    ) -> anyhow::Result<CollectionShares> {
        let path = share_path(owner, kind, collection, sharee);
        self.put(&path, &GrantRequest { access })
    }

    pub fn revoke_share(
        &self,
        owner: &str,
        kind: Kind,
        collection: &str,
        sharee: &str,
    ) -> anyhow::Result<CollectionShares> {
        self.delete(&share_path(owner, kind, collection, sharee))
    }
}
