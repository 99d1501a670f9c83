//! Vault / OpenBao HTTP API wire types, named as the API documentation names them. Every
//! response is the same envelope (`data`, `warnings`, `errors`); `data` is typed per endpoint.
//! Only what the probe reads is declared.

use std::collections::BTreeMap;

use serde::Deserialize;

/// The response envelope.
#[derive(Debug, Deserialize)]
pub struct Envelope<T> {
    #[serde(default = "none")]
    pub data: Option<T>,
    #[serde(default)]
    pub warnings: Option<Vec<String>>,
}

fn none<T>() -> Option<T> {
    None
}

/// An error answer: `{"errors": ["…"]}`.
#[derive(Debug, Default, Deserialize)]
pub struct ErrorBody {
    #[serde(default)]
    pub errors: Vec<String>,
}

/// `LIST …`: `data.keys`. OpenBao answers an empty list as `data: {}` (no `keys`).
#[derive(Debug, Deserialize)]
pub struct ListData {
    #[serde(default)]
    pub keys: Option<Vec<String>>,
}

/// `GET auth/token/lookup-self` and `POST auth/token/lookup-accessor`.
#[derive(Debug, Deserialize)]
pub struct TokenLookup {
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub policies: Option<Vec<String>>,
    #[serde(default)]
    pub meta: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub path: Option<String>,
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    /// Seconds; a periodic token renews forever.
    #[serde(default)]
    pub period: Option<i64>,
    /// Unix seconds.
    #[serde(default)]
    pub creation_time: Option<i64>,
    /// RFC 3339, or null for a token that never expires.
    #[serde(default)]
    pub expire_time: Option<String>,
    #[serde(default)]
    pub entity_id: Option<String>,
}

/// One entry of `GET sys/auth` (keyed by mount path).
#[derive(Debug, Deserialize)]
pub struct AuthMount {
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub accessor: Option<String>,
}

/// `GET identity/entity/id/:id`.
#[derive(Debug, Deserialize)]
pub struct Entity {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub metadata: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub aliases: Option<Vec<EntityAlias>>,
    #[serde(default)]
    pub policies: Option<Vec<String>>,
    #[serde(default)]
    pub disabled: Option<bool>,
    #[serde(default)]
    pub creation_time: Option<String>,
    /// Identity groups the entity is in (directly or through other groups).
    #[serde(default)]
    pub group_ids: Option<Vec<String>>,
}

/// `GET identity/group/id/:id`: its policies reach every member entity.
#[derive(Debug, Deserialize)]
pub struct Group {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub policies: Option<Vec<String>>,
}

/// `GET auth/<userpass|ldap…>/users/:name`: the policies a login there is issued.
#[derive(Debug, Deserialize)]
pub struct LocalUser {
    #[serde(default)]
    pub token_policies: Option<Vec<String>>,
    #[serde(default)]
    pub policies: Option<Vec<String>>,
}

/// An entity alias: ties a login on one auth mount to the entity. Both fields are required —
/// a malformed alias would cut a login's link to its person.
#[derive(Debug, Deserialize)]
pub struct EntityAlias {
    pub mount_accessor: String,
    pub name: String,
}

/// `GET sys/mounts/:path`.
#[derive(Debug, Deserialize)]
pub struct Mount {
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub options: Option<BTreeMap<String, String>>,
}

/// `GET <kv mount>/metadata/:path` (KV v2).
#[derive(Debug, Deserialize)]
pub struct KvMetadata {
    #[serde(default)]
    pub current_version: Option<i64>,
    #[serde(default)]
    pub custom_metadata: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub created_time: Option<String>,
    #[serde(default)]
    pub updated_time: Option<String>,
}
