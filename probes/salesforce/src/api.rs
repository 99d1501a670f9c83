//! Salesforce REST API wire types, named as the REST API Developer Guide and the Object
//! Reference name them (`totalSize`, `nextRecordsUrl`; `User.IsActive`, `OauthToken.AppName`).
//! Records carry only the fields the probe's SOQL selects; Salesforce adds `attributes`, which
//! is ignored.

use serde::Deserialize;

/// A SOQL query result page (`/services/data/vXX.X/query`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueryResponse<T> {
    #[serde(default)]
    pub total_size: Option<u64>,
    pub done: bool,
    #[serde(default)]
    pub next_records_url: Option<String>,
    pub records: Vec<T>,
}

/// One entry of an error answer: `[{"message": "…", "errorCode": "INVALID_SESSION_ID"}]`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiError {
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub error_code: Option<String>,
}

/// The OAuth 2.0 token endpoint's answer (`/services/oauth2/token`).
#[derive(Debug, Default, Deserialize)]
pub struct TokenResponse {
    #[serde(default)]
    pub access_token: Option<String>,
    /// The identity URL of the integration user.
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub error: Option<String>,
}

/// `UserPermissionAccess`: the running user's own permissions.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UserPermissionAccess {
    #[serde(default)]
    pub permissions_view_all_users: Option<bool>,
    #[serde(default)]
    pub permissions_manage_users: Option<bool>,
}

/// A name through a relationship (`Profile.Name`, `PermissionSet.Name`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Named {
    #[serde(default)]
    pub name: Option<String>,
}

/// `User`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct User {
    pub id: String,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub federation_identifier: Option<String>,
    /// Required: without it a user's state is unknown.
    pub is_active: bool,
    #[serde(default)]
    pub last_login_date: Option<String>,
    #[serde(default)]
    pub user_type: Option<String>,
    #[serde(default)]
    pub profile: Option<Named>,
}

/// `UserLogin`: whether a user is frozen.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UserLogin {
    #[serde(default)]
    pub user_id: Option<String>,
    #[serde(default)]
    pub is_frozen: Option<bool>,
}

/// `OauthToken`: a connected app's grant for a user.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OauthToken {
    pub id: String,
    #[serde(default)]
    pub app_name: Option<String>,
    #[serde(default)]
    pub user_id: Option<String>,
    #[serde(default)]
    pub created_date: Option<String>,
    #[serde(default)]
    pub last_used_date: Option<String>,
    #[serde(default)]
    pub use_count: Option<i64>,
}

/// `LoginHistory`: one login attempt.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LoginHistory {
    #[serde(default)]
    pub user_id: Option<String>,
    #[serde(default)]
    pub login_time: Option<String>,
    #[serde(default)]
    pub login_type: Option<String>,
    #[serde(default)]
    pub source_ip: Option<String>,
    #[serde(default)]
    pub application: Option<String>,
}

/// `PermissionSetAssignment` with its `PermissionSet`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PermissionSetAssignment {
    #[serde(default)]
    pub assignee_id: Option<String>,
    #[serde(default)]
    pub permission_set: Option<PermissionSet>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PermissionSet {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub is_owned_by_profile: Option<bool>,
    #[serde(default)]
    pub permissions_modify_all_data: Option<bool>,
    #[serde(default)]
    pub permissions_view_all_data: Option<bool>,
}
