//! Okta Management API wire types, named as Okta's OpenAPI description names them (`User`,
//! `UserProfile`, `ApiToken`, `AssignedAppLink`, `StandardRole`, `Group`, `Error`). Only the
//! properties the probe reads are declared.

use serde::Deserialize;

/// `User` (`GET /api/v1/users`, `GET /api/v1/users/{id}`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub id: String,
    /// `UserStatus`: ACTIVE, DEPROVISIONED, LOCKED_OUT, PASSWORD_EXPIRED, PROVISIONED,
    /// RECOVERY, STAGED, SUSPENDED. Required here: without it a user's state is unknown.
    pub status: String,
    #[serde(default)]
    pub created: Option<String>,
    #[serde(default)]
    pub last_login: Option<String>,
    #[serde(default)]
    pub status_changed: Option<String>,
    pub profile: UserProfile,
}

/// `UserProfile`, the default properties the probe matches on.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserProfile {
    #[serde(default)]
    pub login: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub second_email: Option<String>,
    #[serde(default)]
    pub employee_number: Option<String>,
    #[serde(default)]
    pub display_name: Option<String>,
}

/// A role assignment (`StandardRole` or `CustomRole`; both carry these).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Role {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub assignment_type: Option<String>,
}

/// `AssignedAppLink` (`GET /api/v1/users/{id}/appLinks`): apps assigned to the user, directly
/// or through a group.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppLink {
    #[serde(default)]
    pub app_instance_id: Option<String>,
    #[serde(default)]
    pub app_assignment_id: Option<String>,
    #[serde(default)]
    pub app_name: Option<String>,
    #[serde(default)]
    pub label: Option<String>,
}

/// `ApiToken` (`GET /api/v1/api-tokens`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiToken {
    #[serde(default)]
    pub id: Option<String>,
    pub name: String,
    #[serde(default)]
    pub user_id: Option<String>,
    #[serde(default)]
    pub client_name: Option<String>,
    #[serde(default)]
    pub created: Option<String>,
    /// Okta updates it when the token is used.
    #[serde(default)]
    pub last_updated: Option<String>,
    #[serde(default)]
    pub expires_at: Option<String>,
}

/// `Group` with `expand=stats`.
#[derive(Debug, Clone, Deserialize)]
pub struct Group {
    pub id: String,
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub profile: Option<GroupProfile>,
    #[serde(rename = "_embedded", default)]
    pub embedded: Option<GroupEmbedded>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct GroupProfile {
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct GroupEmbedded {
    #[serde(default)]
    pub stats: Option<GroupStats>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupStats {
    #[serde(default)]
    pub users_count: Option<u64>,
}

/// `Error`: `errorCode`, `errorSummary`, `errorId`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Error {
    #[serde(default)]
    pub error_code: Option<String>,
    #[serde(default)]
    pub error_summary: Option<String>,
    #[serde(default)]
    pub error_id: Option<String>,
}

/// The OAuth 2.0 token endpoint's answer.
#[derive(Debug, Default, Deserialize)]
pub struct TokenResponse {
    #[serde(default)]
    pub access_token: Option<String>,
    #[serde(default)]
    pub scope: Option<String>,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub error_description: Option<String>,
}
