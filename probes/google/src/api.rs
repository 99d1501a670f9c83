//! Google API wire types, named as the discovery documents name them: Directory API `Users`,
//! `User`, `Tokens`/`Token`, `Asps`/`Asp`, `RoleAssignments`/`RoleAssignment`, `Roles`/`Role`;
//! Cloud Asset `SearchAllIamPoliciesResponse`, `IamPolicySearchResult`, `Binding`,
//! `SearchAllResourcesResponse`, `ResourceSearchResult`; IAM `ListServiceAccountKeysResponse`,
//! `ServiceAccountKey`; and the JSON error body. Only the properties the probe reads.

use std::collections::BTreeMap;

use serde::Deserialize;

/// `Users`: one page of `users.list`. `users` is absent on an empty page.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Users {
    #[serde(default)]
    pub users: Vec<User>,
    #[serde(default)]
    pub next_page_token: Option<String>,
}

/// `User`. `suspended` and `primaryEmail` are required here: without them the user's state or
/// identity is unknown.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub id: String,
    pub primary_email: String,
    pub suspended: bool,
    #[serde(default)]
    pub suspension_reason: Option<String>,
    #[serde(default)]
    pub archived: bool,
    #[serde(default)]
    pub is_admin: bool,
    #[serde(default)]
    pub is_delegated_admin: bool,
    #[serde(default)]
    pub last_login_time: Option<String>,
    #[serde(default)]
    pub creation_time: Option<String>,
    #[serde(default)]
    pub aliases: Vec<String>,
    #[serde(default)]
    pub non_editable_aliases: Vec<String>,
    /// `type: any` in the discovery document; in practice `[{address, primary, type}]`.
    #[serde(default)]
    pub emails: Option<serde_json::Value>,
    /// `type: any`; in practice `[{value, type, customType}]`.
    #[serde(default)]
    pub external_ids: Option<serde_json::Value>,
    #[serde(default)]
    pub org_unit_path: Option<String>,
    #[serde(default)]
    pub name: Option<UserName>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserName {
    #[serde(default)]
    pub full_name: Option<String>,
}

/// `Tokens`: OAuth grants a user made to third-party apps.
#[derive(Debug, Deserialize)]
pub struct Tokens {
    #[serde(default)]
    pub items: Vec<Token>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Token {
    pub client_id: String,
    #[serde(default)]
    pub display_text: Option<String>,
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default)]
    pub anonymous: bool,
    #[serde(default)]
    pub native_app: bool,
}

/// `Asps`: application-specific passwords.
#[derive(Debug, Deserialize)]
pub struct Asps {
    #[serde(default)]
    pub items: Vec<Asp>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Asp {
    pub code_id: i64,
    #[serde(default)]
    pub name: Option<String>,
    /// Milliseconds since the epoch, as a JSON string (`format: int64`).
    #[serde(default)]
    pub creation_time: Option<String>,
    #[serde(default)]
    pub last_time_used: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleAssignments {
    #[serde(default)]
    pub items: Vec<RoleAssignment>,
    #[serde(default)]
    pub next_page_token: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleAssignment {
    pub role_assignment_id: String,
    pub role_id: String,
    #[serde(default)]
    pub assigned_to: Option<String>,
    #[serde(default)]
    pub assignee_type: Option<String>,
    #[serde(default)]
    pub scope_type: Option<String>,
    #[serde(default)]
    pub org_unit_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Roles {
    #[serde(default)]
    pub items: Vec<Role>,
    #[serde(default)]
    pub next_page_token: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Role {
    pub role_id: String,
    pub role_name: String,
    #[serde(default)]
    pub is_super_admin_role: bool,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchAllIamPoliciesResponse {
    #[serde(default)]
    pub results: Vec<IamPolicySearchResult>,
    #[serde(default)]
    pub next_page_token: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IamPolicySearchResult {
    pub resource: String,
    #[serde(default)]
    pub asset_type: Option<String>,
    #[serde(default)]
    pub project: Option<String>,
    pub policy: Policy,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Policy {
    #[serde(default)]
    pub bindings: Vec<Binding>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Binding {
    pub role: String,
    #[serde(default)]
    pub members: Vec<String>,
    #[serde(default)]
    pub condition: Option<Expr>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Expr {
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub expression: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchAllResourcesResponse {
    #[serde(default)]
    pub results: Vec<ResourceSearchResult>,
    #[serde(default)]
    pub next_page_token: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceSearchResult {
    pub name: String,
    #[serde(default)]
    pub project: Option<String>,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub additional_attributes: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    pub create_time: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct ListServiceAccountKeysResponse {
    #[serde(default)]
    pub keys: Vec<ServiceAccountKey>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceAccountKey {
    pub name: String,
    #[serde(default)]
    pub valid_after_time: Option<String>,
    #[serde(default)]
    pub valid_before_time: Option<String>,
    #[serde(default)]
    pub key_type: Option<String>,
    #[serde(default)]
    pub disabled: bool,
}

/// Google's JSON error: `{"error": {"code", "message", "status", "errors": [{"reason"}]}}`.
#[derive(Debug, Default, Deserialize)]
pub struct ErrorBody {
    #[serde(default)]
    pub error: Option<ErrorInner>,
}

#[derive(Debug, Default, Deserialize)]
pub struct ErrorInner {
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub errors: Vec<ErrorItem>,
}

#[derive(Debug, Default, Deserialize)]
pub struct ErrorItem {
    #[serde(default)]
    pub reason: Option<String>,
}

/// A service-account key file (`GOOGLE_APPLICATION_CREDENTIALS`): only what signing needs.
#[derive(Debug, Deserialize)]
pub struct KeyFile {
    #[serde(rename = "type")]
    pub kind: String,
    pub client_email: String,
    pub private_key: String,
    #[serde(default)]
    pub private_key_id: Option<String>,
    #[serde(default)]
    pub token_uri: Option<String>,
}
