//! GitHub REST and GraphQL wire types: only the fields the probe reads, named as in GitHub's
//! OpenAPI description (`fixtures/github/openapi-subset.json`). Times stay strings here and
//! are parsed with [`time_of`], so one odd timestamp names its field instead of failing a page.

use serde::Deserialize;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

#[derive(Debug, Clone, Deserialize)]
pub struct SimpleUser {
    pub login: String,
    pub id: u64,
}

/// `GET /orgs/{org}/memberships/{username}`.
#[derive(Debug, Clone, Deserialize)]
pub struct Membership {
    pub state: String,
    pub role: String,
    pub user: Option<SimpleUser>,
}

/// `GET /orgs/{org}/invitations`.
#[derive(Debug, Clone, Deserialize)]
pub struct Invitation {
    pub id: u64,
    pub login: Option<String>,
    pub email: Option<String>,
    pub role: String,
    pub created_at: String,
    pub inviter: Option<SimpleUser>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Team {
    pub id: u64,
    pub slug: String,
}

/// `GET /orgs/{org}/credential-authorizations`: a PAT or SSH key authorised for SAML SSO.
#[derive(Debug, Clone, Deserialize)]
pub struct CredentialAuthorization {
    pub login: String,
    pub credential_id: u64,
    pub credential_type: String,
    pub token_last_eight: Option<String>,
    pub credential_authorized_at: String,
    pub scopes: Option<Vec<String>>,
    pub fingerprint: Option<String>,
    pub credential_accessed_at: Option<String>,
    pub authorized_credential_title: Option<String>,
    pub authorized_credential_expires_at: Option<String>,
}

/// `GET /orgs/{org}/personal-access-tokens`: a fine-grained PAT's grant to the org.
#[derive(Debug, Clone, Deserialize)]
pub struct PatGrant {
    pub id: u64,
    pub owner: SimpleUser,
    pub repository_selection: String,
    pub access_granted_at: String,
    pub token_id: u64,
    pub token_name: String,
    pub token_expired: bool,
    pub token_expires_at: Option<String>,
    pub token_last_used_at: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Repo {
    pub id: u64,
    pub name: String,
    pub full_name: String,
    #[serde(default)]
    pub archived: bool,
}

/// `GET /repos/{owner}/{repo}/keys`. `added_by` is a login; `last_used` (not `last_used_at`).
#[derive(Debug, Clone, Deserialize)]
pub struct DeployKey {
    pub id: u64,
    pub title: String,
    pub created_at: String,
    pub read_only: bool,
    pub added_by: Option<String>,
    pub last_used: Option<String>,
}

/// `GET /orgs/{org}/actions/secrets` is an object, paginated all the same.
#[derive(Debug, Clone, Deserialize)]
pub struct SecretsPage {
    pub total_count: u64,
    pub secrets: Vec<OrgSecret>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct OrgSecret {
    pub name: String,
    pub created_at: String,
    pub updated_at: String,
    pub visibility: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct InstallationToken {
    pub token: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct App {
    pub slug: Option<String>,
    pub id: u64,
}

/// GitHub's error body: `{"message": …, "documentation_url": …}`.
#[derive(Debug, Clone, Deserialize)]
pub struct ErrorBody {
    pub message: Option<String>,
}

pub const SAML_QUERY: &str = "query($org: String!, $first: Int!, $after: String) { organization(login: $org) { samlIdentityProvider { externalIdentities(first: $first, after: $after) { pageInfo { hasNextPage endCursor } nodes { samlIdentity { nameId } user { login } } } } } }";

#[derive(Debug, Deserialize)]
pub struct GraphQl<T> {
    pub data: Option<T>,
    #[serde(default)]
    pub errors: Vec<GraphQlError>,
}

#[derive(Debug, Deserialize)]
pub struct GraphQlError {
    pub message: String,
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct SamlData {
    pub organization: Option<SamlOrg>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SamlOrg {
    pub saml_identity_provider: Option<SamlProvider>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SamlProvider {
    pub external_identities: Connection<ExternalIdentity>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Connection<T> {
    pub page_info: PageInfo,
    pub nodes: Vec<T>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PageInfo {
    pub has_next_page: bool,
    pub end_cursor: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExternalIdentity {
    pub saml_identity: Option<SamlIdentity>,
    pub user: Option<UserLogin>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SamlIdentity {
    pub name_id: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct UserLogin {
    pub login: String,
}

/// Parse an RFC 3339 time from the API; `what` names the field in the error.
pub fn time_of(what: &str, s: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(s, &Rfc3339).map_err(|e| format!("{what}: bad time {s:?}: {e}"))
}

pub fn opt_time_of(what: &str, s: &Option<String>) -> Result<Option<OffsetDateTime>, String> {
    s.as_deref().map(|s| time_of(what, s)).transpose()
}

/// The GraphQL endpoint for a REST base: `https://api.github.com` → `/graphql`;
/// GitHub Enterprise Server `https://HOST/api/v3` → `https://HOST/api/graphql`.
pub fn graphql_url(api_url: &str) -> String {
    let base = api_url.trim_end_matches('/');
    match base.strip_suffix("/api/v3") {
        Some(host) => format!("{host}/api/graphql"),
        None => format!("{base}/graphql"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn graphql_urls() {
        assert_eq!(
            super::graphql_url("https://api.github.com"),
            "https://api.github.com/graphql"
        );
        assert_eq!(
            super::graphql_url("https://ghe.acme.com/api/v3/"),
            "https://ghe.acme.com/api/graphql"
        );
    }

    #[test]
    fn times_with_offsets() {
        let t = super::time_of("x", "2026-11-24T10:00:00-07:00").unwrap();
        assert_eq!(
            t.unix_timestamp(),
            super::time_of("x", "2026-11-24T17:00:00Z")
                .unwrap()
                .unix_timestamp()
        );
        assert!(super::time_of("token_last_used_at", "yesterday")
            .unwrap_err()
            .contains("token_last_used_at"));
    }
}
