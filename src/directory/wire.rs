//! The JSON schemas of the event types the directory's API bodies carry
//! (`events` has no HTTP concerns, so it derives no schema). Each mirrors
//! the serde form of its event type, which the API serialises; the
//! conformance test in `tests/it/openapi.rs` checks the answers against
//! these.

#![allow(dead_code)] // only their schemas are used

use utoipa::ToSchema;

/// A group member: `{"user": "login"}` or `{"group": "name"}`, of the
/// group's domain.
#[derive(ToSchema)]
#[schema(as = Member)]
#[serde(rename_all = "lowercase")]
#[schema(example = json!({"user": "bob"}))]
pub enum MemberSchema {
    User(String),
    Group(String),
}

#[derive(ToSchema)]
#[schema(as = ResourceKind)]
#[serde(rename_all = "lowercase")]
pub enum ResourceKindSchema {
    Room,
    Equipment,
}

/// What a sharee may do with a shared collection.
#[derive(ToSchema)]
#[schema(as = Access)]
#[serde(rename_all = "kebab-case")]
pub enum AccessSchema {
    Read,
    ReadWrite,
}
