//! Groups: create, show, list, update, delete, and their members (users
//! and groups of the same domain, nested without cycles). Requests are
//! checked against the view first, so an unknown member or a cycle
//! appends nothing; the projection applies the same rules in log order.

use crate::directory::users::Deleted;
use crate::directory::{
    check_email, check_name, check_text, cleaned, entry_name, locate, submit, DirectoryError,
    ListQuery, Listing, Result,
};
use crate::engine::Engine;
use events::payload::{
    GroupCreated, GroupDeleted, GroupUpdated, Member, MemberAdded, MemberRemoved,
};
use events::{AggregateVersion, EventEnvelope, Payload};
use projections::directory::GroupRecord;
use projections::registry::Views;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"group": "staff@example.com", "display_name": "Staff"}))]
pub struct NewGroup {
    /// `name`, or `name@domain` when `domain` is absent.
    pub group: String,
    #[serde(default)]
    pub domain: Option<String>,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GroupSummary {
    pub group: String,
    pub domain: String,
    pub display_name: Option<String>,
    pub email: Option<String>,
}

impl From<&GroupRecord> for GroupSummary {
    fn from(g: &GroupRecord) -> Self {
        GroupSummary {
            group: g.name.clone(),
            domain: g.domain.clone(),
            display_name: g.display_name.clone(),
            email: g.email.clone(),
        }
    }
}

/// A group with its direct members and the groups it is in directly.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GroupDetail {
    #[serde(flatten)]
    pub group: GroupSummary,
    /// `{"user": "login"}` or `{"group": "name"}`.
    #[schema(value_type = Vec<crate::directory::wire::MemberSchema>)]
    pub members: Vec<Member>,
    pub member_of: Vec<String>,
}

/// A partial update: absent fields stay, `null` removes.
#[derive(Clone, Debug, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"display_name": "The team"}))]
pub struct GroupChanges {
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
}

fn find_group(views: &Views, name: &str) -> Result<GroupRecord> {
    locate(views, "group", name, |domain, group| {
        views.directory.group(domain, group)
    })
}

pub fn show_group(views: &Views, name: &str) -> Result<GroupDetail> {
    let group = find_group(views, name)?;
    detail(views, &group)
}

fn detail(views: &Views, group: &GroupRecord) -> Result<GroupDetail> {
    let d = &views.directory;
    Ok(GroupDetail {
        group: GroupSummary::from(group),
        members: d.members(&group.domain, &group.name)?,
        member_of: d.groups_of(&group.domain, &Member::Group(group.name.clone()))?,
    })
}

fn reread(views: &Views, group: &GroupRecord) -> Result<GroupDetail> {
    let name = format!("{}@{}", group.name, group.domain);
    show_group(views, &name)
}

pub fn list_groups(views: &Views, q: &ListQuery) -> Result<Listing<GroupSummary>> {
    let domain = q.domain();
    let page = views
        .directory
        .groups_page(domain.as_deref(), q.after.as_deref(), q.limit()?)?;
    Ok(Listing::from_page(page))
}

/// The text fields of a new or changed group.
fn check_fields(display_name: Option<&str>, email: Option<&str>) -> Result<()> {
    if let Some(name) = display_name {
        check_text("display_name", name)?;
    }
    if let Some(email) = email {
        check_email(email)?;
    }
    Ok(())
}

pub async fn add_group(engine: &Engine, req: &NewGroup, actor: &str) -> Result<GroupDetail> {
    let (group, domain) = entry_name("group", &req.group, req.domain.as_deref())?;
    check_fields(req.display_name.as_deref(), req.email.as_deref())?;
    let d = &engine.views().directory;
    if d.domain(&domain)?.is_none() {
        return Err(DirectoryError::Invalid(format!(
            "no domain {domain}; create it first"
        )));
    }
    if d.group(&domain, &group)?.is_some() {
        return Err(DirectoryError::Conflict(format!(
            "group {group}@{domain} already exists"
        )));
    }
    let event = EventEnvelope::now(
        &domain,
        actor,
        Payload::GroupCreated(GroupCreated {
            group: group.clone(),
            display_name: req.display_name.clone(),
            email: req.email.clone(),
        }),
    )
    .expecting(AggregateVersion::ABSENT);
    submit(engine, event, &format!("creating group {group}@{domain}")).await?;
    show_group(&engine.views(), &format!("{group}@{domain}"))
}

pub async fn update_group(
    engine: &Engine,
    name: &str,
    changes: &GroupChanges,
    actor: &str,
) -> Result<GroupDetail> {
    let group = find_group(&engine.views(), name)?;
    let display_name = cleaned(&changes.display_name).filter(|n| *n != group.display_name);
    let email = cleaned(&changes.email).filter(|e| *e != group.email);
    check_fields(
        display_name.as_ref().and_then(Option::as_deref),
        email.as_ref().and_then(Option::as_deref),
    )?;
    let event = GroupUpdated {
        group: group.name.clone(),
        display_name,
        email,
    };
    if event.display_name.is_none() && event.email.is_none() {
        return detail(&engine.views(), &group);
    }
    let what = format!("updating group {}@{}", group.name, group.domain);
    let event = EventEnvelope::now(&group.domain, actor, Payload::GroupUpdated(event))
        .expecting(group.version);
    submit(engine, event, &what).await?;
    reread(&engine.views(), &group)
}

pub async fn delete_group(engine: &Engine, name: &str, actor: &str) -> Result<Deleted> {
    let group = find_group(&engine.views(), name)?;
    let full = format!("{}@{}", group.name, group.domain);
    let event = EventEnvelope::now(
        &group.domain,
        actor,
        Payload::GroupDeleted(GroupDeleted {
            group: group.name.clone(),
        }),
    )
    .expecting(group.version);
    submit(engine, event, &format!("deleting group {full}")).await?;
    Ok(Deleted { deleted: full })
}

/// A member as a request names it: a bare name, or `name@domain` in the
/// group's own domain.
fn member_in(group: &GroupRecord, member: &Member) -> Result<Member> {
    let (kind, name) = match member {
        Member::User(n) => ("user", n),
        Member::Group(n) => ("group", n),
    };
    let bare = match name.rsplit_once('@') {
        Some((n, d)) if d.eq_ignore_ascii_case(&group.domain) => n,
        Some(_) => {
            return Err(DirectoryError::Invalid(format!(
                "{kind} {name} is not in domain {}: members come from the group's domain",
                group.domain
            )))
        }
        None => name.as_str(),
    };
    check_name(kind, bare)?;
    Ok(match member {
        Member::User(_) => Member::User(bare.to_string()),
        Member::Group(_) => Member::Group(bare.to_string()),
    })
}

pub async fn add_member(
    engine: &Engine,
    name: &str,
    member: &Member,
    actor: &str,
) -> Result<GroupDetail> {
    let group = find_group(&engine.views(), name)?;
    let member = member_in(&group, member)?;
    let d = &engine.views().directory;
    let full = format!("{}@{}", group.name, group.domain);
    match &member {
        Member::User(login) => {
            if d.user(&group.domain, login)?.is_none() {
                return Err(DirectoryError::Invalid(format!(
                    "no user {login} in {}",
                    group.domain
                )));
            }
        }
        Member::Group(inner) => {
            if *inner == group.name {
                return Err(DirectoryError::Invalid(format!(
                    "group {full} cannot contain itself"
                )));
            }
            if d.group(&group.domain, inner)?.is_none() {
                return Err(DirectoryError::Invalid(format!(
                    "no group {inner} in {}",
                    group.domain
                )));
            }
            if d.group_contains(&group.domain, inner, &group.name)? {
                return Err(DirectoryError::Conflict(format!(
                    "group {inner} already contains {} (directly or through nesting): \
                     adding it would make a group contain itself",
                    group.name
                )));
            }
        }
    }
    if d.members(&group.domain, &group.name)?.contains(&member) {
        return Err(DirectoryError::Conflict(format!(
            "{} is already a member of {full}",
            describe(&member)
        )));
    }
    let what = format!("adding {} to {full}", describe(&member));
    let change = Payload::MemberAdded(MemberAdded {
        group: group.name.clone(),
        member,
    });
    change_membership(engine, &group, change, &what, actor).await
}

pub async fn remove_member(
    engine: &Engine,
    name: &str,
    member: &Member,
    actor: &str,
) -> Result<GroupDetail> {
    let group = find_group(&engine.views(), name)?;
    let full = format!("{}@{}", group.name, group.domain);
    let member = member_in(&group, member).map_err(|_| {
        DirectoryError::NotFound(format!("{} is not a member of {full}", describe(member)))
    })?;
    let members = engine
        .views()
        .directory
        .members(&group.domain, &group.name)?;
    if !members.contains(&member) {
        return Err(DirectoryError::NotFound(format!(
            "{} is not a member of {full}",
            describe(&member)
        )));
    }
    let what = format!("removing {} from {full}", describe(&member));
    let change = Payload::MemberRemoved(MemberRemoved {
        group: group.name.clone(),
        member,
    });
    change_membership(engine, &group, change, &what, actor).await
}

/// Appends one membership change, expecting the group as it was read, and
/// answers with the group after it.
async fn change_membership(
    engine: &Engine,
    group: &GroupRecord,
    change: Payload,
    what: &str,
    actor: &str,
) -> Result<GroupDetail> {
    let event = EventEnvelope::now(&group.domain, actor, change).expecting(group.version);
    submit(engine, event, what).await?;
    reread(&engine.views(), group)
}

/// `user alice`, `group staff`.
pub fn describe(member: &Member) -> String {
    match member {
        Member::User(n) => format!("user {n}"),
        Member::Group(n) => format!("group {n}"),
    }
}

/// The member a path names: `user/alice` or `group/staff`.
pub fn member_from_path(kind: &str, name: &str) -> Result<Member> {
    match kind {
        "user" => Ok(Member::User(name.to_string())),
        "group" => Ok(Member::Group(name.to_string())),
        other => Err(DirectoryError::NotFound(format!(
            "no member kind {other:?}: user or group"
        ))),
    }
}
