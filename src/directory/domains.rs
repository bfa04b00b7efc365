//! Directory domains: create, show, list.

use crate::directory::{
    check_domain, check_text, submit, DirectoryError, ListQuery, Listing, Result,
};
use crate::engine::Engine;
use events::payload::DomainCreated;
use events::{AggregateVersion, EventEnvelope, Payload};
use projections::directory::DomainRecord;
use projections::registry::Views;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"domain": "example.org", "display_name": "Example Org"}))]
pub struct NewDomain {
    pub domain: String,
    #[serde(default)]
    pub display_name: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DomainSummary {
    pub domain: String,
    pub display_name: Option<String>,
    #[schema(value_type = u64)]
    pub version: AggregateVersion,
}

impl From<&DomainRecord> for DomainSummary {
    fn from(d: &DomainRecord) -> Self {
        DomainSummary {
            domain: d.name.clone(),
            display_name: d.display_name.clone(),
            version: d.version,
        }
    }
}

pub async fn add_domain(engine: &Engine, req: &NewDomain, actor: &str) -> Result<DomainSummary> {
    let domain = check_domain(&req.domain)?;
    if let Some(name) = &req.display_name {
        check_text("display_name", name)?;
    }
    if engine.views().directory.domain(&domain)?.is_some() {
        return Err(DirectoryError::Conflict(format!(
            "domain {domain} already exists"
        )));
    }
    let event = EventEnvelope::now(
        &domain,
        actor,
        Payload::DomainCreated(DomainCreated {
            domain: domain.clone(),
            display_name: req.display_name.clone(),
        }),
    )
    .expecting(AggregateVersion::ABSENT);
    submit(engine, event, &format!("creating domain {domain}")).await?;
    show_domain(&engine.views(), &domain)
}

pub fn show_domain(views: &Views, domain: &str) -> Result<DomainSummary> {
    let record = views
        .directory
        .domain(&domain.to_lowercase())?
        .ok_or_else(|| DirectoryError::NotFound(format!("no domain {domain}")))?;
    Ok(DomainSummary::from(&record))
}

pub fn list_domains(views: &Views, q: &ListQuery) -> Result<Listing<DomainSummary>> {
    let page = views
        .directory
        .domains_page(q.after.as_deref(), q.limit()?)?;
    Ok(Listing::from_page(page))
}
