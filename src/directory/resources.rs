//! Bookable resources: rooms and equipment, with capacity and location.

use crate::directory::users::Deleted;
use crate::directory::{
    check_email, check_text, cleaned, entry_name, locate, submit, DirectoryError, ListQuery,
    Listing, Result,
};
use crate::engine::Engine;
use events::payload::{ResourceCreated, ResourceDeleted, ResourceKind, ResourceUpdated};
use events::{AggregateVersion, EventEnvelope, Payload};
use projections::directory::ResourceRecord;
use projections::registry::Views;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"resource": "beamer@example.com", "kind": "equipment"}))]
pub struct NewResource {
    /// `name`, or `name@domain` when `domain` is absent.
    pub resource: String,
    #[serde(default)]
    pub domain: Option<String>,
    /// `room` or `equipment`.
    #[schema(value_type = crate::directory::wire::ResourceKindSchema)]
    pub kind: ResourceKind,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub capacity: Option<u32>,
    #[serde(default)]
    pub location: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ResourceSummary {
    pub resource: String,
    pub domain: String,
    #[schema(value_type = crate::directory::wire::ResourceKindSchema)]
    pub kind: ResourceKind,
    pub display_name: Option<String>,
    pub email: Option<String>,
    pub capacity: Option<u32>,
    pub location: Option<String>,
}

impl From<&ResourceRecord> for ResourceSummary {
    fn from(r: &ResourceRecord) -> Self {
        ResourceSummary {
            resource: r.name.clone(),
            domain: r.domain.clone(),
            kind: r.kind,
            display_name: r.display_name.clone(),
            email: r.email.clone(),
            capacity: r.capacity,
            location: r.location.clone(),
        }
    }
}

/// A partial update: absent fields stay, `null` removes. The kind stays.
#[derive(Clone, Debug, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"capacity": 12, "location": "2nd floor"}))]
pub struct ResourceChanges {
    #[serde(
        default,
        with = "events::payload::change",
        skip_serializing_if = "Option::is_none"
    )]
    pub display_name: Option<Option<String>>,
    #[serde(
        default,
        with = "events::payload::change",
        skip_serializing_if = "Option::is_none"
    )]
    pub email: Option<Option<String>>,
    #[serde(
        default,
        with = "events::payload::change",
        skip_serializing_if = "Option::is_none"
    )]
    pub capacity: Option<Option<u32>>,
    #[serde(
        default,
        with = "events::payload::change",
        skip_serializing_if = "Option::is_none"
    )]
    pub location: Option<Option<String>>,
}

fn find_resource(views: &Views, name: &str) -> Result<ResourceRecord> {
    locate(views, "resource", name, |domain, resource| {
        views.directory.resource(domain, resource)
    })
}

pub fn show_resource(views: &Views, name: &str) -> Result<ResourceSummary> {
    Ok(ResourceSummary::from(&find_resource(views, name)?))
}

pub fn list_resources(views: &Views, q: &ListQuery) -> Result<Listing<ResourceSummary>> {
    let domain = q.domain();
    let page = views
        .directory
        .resources_page(domain.as_deref(), q.after.as_deref(), q.limit()?)?;
    Ok(Listing::from_page(page))
}

fn check_fields(
    display_name: Option<&str>,
    email: Option<&str>,
    location: Option<&str>,
) -> Result<()> {
    if let Some(name) = display_name {
        check_text("display_name", name)?;
    }
    if let Some(email) = email {
        check_email(email)?;
    }
    if let Some(location) = location {
        check_text("location", location)?;
    }
    Ok(())
}

pub async fn add_resource(
    engine: &Engine,
    req: &NewResource,
    actor: &str,
) -> Result<ResourceSummary> {
    let (resource, domain) = entry_name("resource", &req.resource, req.domain.as_deref())?;
    check_fields(
        req.display_name.as_deref(),
        req.email.as_deref(),
        req.location.as_deref(),
    )?;
    let d = &engine.views().directory;
    if d.domain(&domain)?.is_none() {
        return Err(DirectoryError::Invalid(format!(
            "no domain {domain}; create it first"
        )));
    }
    if d.resource(&domain, &resource)?.is_some() {
        return Err(DirectoryError::Conflict(format!(
            "resource {resource}@{domain} already exists"
        )));
    }
    let event = EventEnvelope::now(
        &domain,
        actor,
        Payload::ResourceCreated(ResourceCreated {
            resource: resource.clone(),
            kind: req.kind,
            display_name: req.display_name.clone(),
            email: req.email.clone(),
            capacity: req.capacity,
            location: req.location.clone(),
        }),
    )
    .expecting(AggregateVersion::ABSENT);
    let full = format!("{resource}@{domain}");
    submit(engine, event, &format!("creating resource {full}")).await?;
    show_resource(&engine.views(), &full)
}

pub async fn update_resource(
    engine: &Engine,
    name: &str,
    changes: &ResourceChanges,
    actor: &str,
) -> Result<ResourceSummary> {
    let r = find_resource(&engine.views(), name)?;
    let event = ResourceUpdated {
        resource: r.name.clone(),
        display_name: cleaned(&changes.display_name).filter(|n| *n != r.display_name),
        email: cleaned(&changes.email).filter(|e| *e != r.email),
        capacity: changes.capacity.filter(|c| *c != r.capacity),
        location: cleaned(&changes.location).filter(|l| *l != r.location),
    };
    let text =
        |c: &Option<Option<String>>| c.as_ref().and_then(Option::as_deref).map(str::to_string);
    check_fields(
        text(&event.display_name).as_deref(),
        text(&event.email).as_deref(),
        text(&event.location).as_deref(),
    )?;
    let full = format!("{}@{}", r.name, r.domain);
    if event
        == (ResourceUpdated {
            resource: r.name.clone(),
            ..ResourceUpdated::default()
        })
    {
        return Ok(ResourceSummary::from(&r));
    }
    let event =
        EventEnvelope::now(&r.domain, actor, Payload::ResourceUpdated(event)).expecting(r.version);
    submit(engine, event, &format!("updating resource {full}")).await?;
    show_resource(&engine.views(), &full)
}

pub async fn delete_resource(engine: &Engine, name: &str, actor: &str) -> Result<Deleted> {
    let r = find_resource(&engine.views(), name)?;
    let full = format!("{}@{}", r.name, r.domain);
    let event = EventEnvelope::now(
        &r.domain,
        actor,
        Payload::ResourceDeleted(ResourceDeleted {
            resource: r.name.clone(),
        }),
    )
    .expecting(r.version);
    submit(engine, event, &format!("deleting resource {full}")).await?;
    Ok(Deleted { deleted: full })
}
