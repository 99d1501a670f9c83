//! Microsoft Graph and Azure Resource Manager wire types, named as Graph's CSDL and the ARM
//! REST reference name them: `user`, `signInActivity`, `group`, `application`,
//! `servicePrincipal`, `passwordCredential`, `keyCredential`, `oAuth2PermissionGrant`,
//! `appRoleAssignment`, `unifiedRoleDefinition`, `unifiedRoleAssignment`, `organization`;
//! ARM `Subscription`, `RoleAssignment`, `RoleDefinition`; and the error body both share.
//! Only the properties the probe reads.

use serde::Deserialize;

/// One page of a collection: Graph's `value` + `@odata.nextLink`, or ARM's `value` +
/// `nextLink`. `value` is required: a page without it is not a page.
#[derive(Debug, Deserialize)]
pub struct Page<T> {
    pub value: Vec<T>,
    #[serde(default, rename = "@odata.nextLink", alias = "nextLink")]
    pub next: Option<String>,
    #[serde(default, rename = "@odata.count")]
    pub count: Option<u64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Organization {
    pub id: String,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub verified_domains: Vec<VerifiedDomain>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VerifiedDomain {
    pub name: String,
}

/// `user`. `accountEnabled` is required here: without it the user's state is unknown.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub id: String,
    #[serde(default)]
    pub display_name: Option<String>,
    pub user_principal_name: String,
    #[serde(default)]
    pub mail: Option<String>,
    #[serde(default)]
    pub other_mails: Vec<String>,
    #[serde(default)]
    pub proxy_addresses: Vec<String>,
    #[serde(default)]
    pub employee_id: Option<String>,
    #[serde(default)]
    pub on_premises_sam_account_name: Option<String>,
    pub account_enabled: Option<bool>,
    #[serde(default)]
    pub created_date_time: Option<String>,
    #[serde(default)]
    pub user_type: Option<String>,
    #[serde(default)]
    pub sign_in_activity: Option<SignInActivity>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignInActivity {
    #[serde(default)]
    pub last_successful_sign_in_date_time: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Group {
    pub id: String,
    #[serde(default)]
    pub display_name: Option<String>,
}

/// An `application` or a `servicePrincipal` from `ownedObjects`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppObject {
    pub id: String,
    #[serde(default)]
    pub app_id: Option<String>,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub created_date_time: Option<String>,
    #[serde(default)]
    pub service_principal_type: Option<String>,
    #[serde(default)]
    pub password_credentials: Vec<PasswordCredential>,
    #[serde(default)]
    pub key_credentials: Vec<KeyCredential>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PasswordCredential {
    pub key_id: String,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub hint: Option<String>,
    #[serde(default)]
    pub start_date_time: Option<String>,
    #[serde(default)]
    pub end_date_time: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyCredential {
    pub key_id: String,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub usage: Option<String>,
    #[serde(default)]
    pub start_date_time: Option<String>,
    #[serde(default)]
    pub end_date_time: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OAuth2PermissionGrant {
    pub id: String,
    pub client_id: String,
    #[serde(default)]
    pub consent_type: Option<String>,
    #[serde(default)]
    pub principal_id: Option<String>,
    #[serde(default)]
    pub resource_id: Option<String>,
    #[serde(default)]
    pub scope: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppRoleAssignment {
    pub id: String,
    #[serde(default)]
    pub app_role_id: Option<String>,
    #[serde(default)]
    pub created_date_time: Option<String>,
    #[serde(default)]
    pub principal_id: Option<String>,
    #[serde(default)]
    pub resource_display_name: Option<String>,
    #[serde(default)]
    pub resource_id: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServicePrincipalName {
    pub id: String,
    #[serde(default)]
    pub display_name: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleDefinition {
    pub id: String,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub template_id: Option<String>,
    #[serde(default)]
    pub is_built_in: Option<bool>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleAssignment {
    pub id: String,
    pub principal_id: String,
    pub role_definition_id: String,
    #[serde(default)]
    pub directory_scope_id: Option<String>,
}

/// ARM `Subscription`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Subscription {
    pub subscription_id: String,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub state: Option<String>,
}

/// ARM `RoleAssignment`.
#[derive(Debug, Clone, Deserialize)]
pub struct AzureRoleAssignment {
    pub id: String,
    pub properties: AzureRoleAssignmentProperties,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AzureRoleAssignmentProperties {
    pub role_definition_id: String,
    pub principal_id: String,
    #[serde(default)]
    pub principal_type: Option<String>,
    pub scope: String,
    #[serde(default)]
    pub condition: Option<String>,
    #[serde(default)]
    pub created_on: Option<String>,
}

/// ARM `RoleDefinition`.
#[derive(Debug, Clone, Deserialize)]
pub struct AzureRoleDefinition {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    pub properties: AzureRoleDefinitionProperties,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AzureRoleDefinitionProperties {
    pub role_name: String,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
}

/// `{"error": {"code", "message", "innerError": {"request-id"}}}` (ARM: no innerError).
#[derive(Debug, Default, Deserialize)]
pub struct ErrorBody {
    #[serde(default)]
    pub error: Option<ErrorDetail>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorDetail {
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub inner_error: Option<InnerError>,
}

#[derive(Debug, Default, Deserialize)]
pub struct InnerError {
    #[serde(default, rename = "request-id")]
    pub request_id: Option<String>,
}
