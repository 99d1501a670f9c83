//! SCIM 2.0 wire types (RFC 7643 resources, RFC 7644 messages), named as the RFCs name them.
//! Only what the probe reads is declared; unknown attributes are ignored, because every app
//! extends the core schema.

use serde::Deserialize;

/// `urn:ietf:params:scim:api:messages:2.0:ListResponse` (RFC 7644 §3.4.2).
#[derive(Debug, Deserialize)]
pub struct ListResponse {
    #[serde(rename = "totalResults")]
    pub total_results: u64,
    /// Absent or null on an empty page.
    #[serde(rename = "Resources", default)]
    pub resources: Option<Vec<User>>,
}

/// `urn:ietf:params:scim:schemas:core:2.0:User` (RFC 7643 §4.1), the parts that identify a
/// person and say whether they may sign in.
#[derive(Debug, Clone, Deserialize)]
pub struct User {
    pub id: String,
    #[serde(rename = "userName", default)]
    pub user_name: Option<String>,
    #[serde(rename = "externalId", default)]
    pub external_id: Option<String>,
    #[serde(default)]
    pub emails: Option<Vec<MultiValued>>,
    /// Optional in RFC 7643: only an explicit `false` is deprovisioning.
    #[serde(default)]
    pub active: Option<bool>,
}

/// A multi-valued attribute's item (`emails`).
#[derive(Debug, Clone, Deserialize)]
pub struct MultiValued {
    #[serde(default)]
    pub value: Option<String>,
}

/// `urn:ietf:params:scim:api:messages:2.0:Error` (RFC 7644 §3.12).
#[derive(Debug, Default, Deserialize)]
pub struct Error {
    #[serde(rename = "scimType", default)]
    pub scim_type: Option<String>,
    #[serde(default)]
    pub detail: Option<String>,
}
