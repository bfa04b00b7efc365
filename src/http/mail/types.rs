//! The JSON bodies of the mail API: what a request may send and what it
//! is answered. The field names are the wire format.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// `POST .../seen`. Unknown fields are refused, so that a misspelt
/// `unchangedsince` cannot turn a conditional write into a blind one.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"add": "1:5,9", "remove": "7", "unchangedsince": 1}))]
pub(super) struct WriteBody {
    pub(super) add: Option<String>,
    pub(super) remove: Option<String>,
    pub(super) unchangedsince: Option<u64>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"read": ["INBOX"], "write": [{"mailbox": "Sent", "add": "1:3"}]}))]
pub(super) struct BulkBody {
    #[serde(default)]
    pub(super) read: Vec<String>,
    #[serde(default)]
    pub(super) write: Vec<BulkWrite>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct BulkWrite {
    pub(super) mailbox: String,
    pub(super) add: Option<String>,
    pub(super) remove: Option<String>,
    pub(super) unchangedsince: Option<u64>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct ChangesQuery {
    /// A modseq the client has seen.
    pub(super) since: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct SeenAnswer {
    pub(super) mailbox: String,
    pub(super) seen: String,
    pub(super) modseq: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct WriteAnswer {
    /// Only in bulk answers, where it says which write this is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) mailbox: Option<String>,
    pub(super) modseq: u64,
    /// UIDs left unchanged because they changed after `unchangedsince`.
    pub(super) modified: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct ChangesAnswer {
    pub(super) mailbox: String,
    pub(super) modseq: u64,
    pub(super) changed: String,
    pub(super) seen: String,
    pub(super) complete: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct BulkAnswer {
    pub(super) read: Vec<SeenAnswer>,
    pub(super) write: Vec<WriteAnswer>,
}

// The path parameters, described once for the document.
crate::http::openapi::path_parameter!(
    LoginPath,
    login,
    "The mailbox owner: `login@domain`, an email, or a login that exists in one domain.",
    "alice@example.com"
);
crate::http::openapi::path_parameter!(
    MailboxPath,
    mailbox,
    "One segment, UTF-8 percent-encoded, `/` as `%2F`; 1 to 1000 bytes, no NUL.",
    "INBOX"
);
