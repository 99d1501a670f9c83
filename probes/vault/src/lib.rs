//! The Vault / OpenBao probe: logins that still work (userpass and the other auth methods that
//! keep local users), identity entities and whether they are disabled, live tokens found by
//! accessor, and KV v2 secrets whose metadata names an owner — never a secret value: KV reads
//! go to `metadata/` only, and token lookups go by accessor.
//!
//! Tokens are the bulk: `LIST auth/token/accessors` (which needs `sudo`) then one
//! `lookup-accessor` per token, bounded by the scan's concurrency. A token without `sudo` gets
//! a named gap for `vault_token_valid`, never "no tokens".

pub mod api;
mod config;
mod demo;
#[cfg(test)]
mod mock_tests;

use std::collections::{BTreeMap, HashMap};

use residual_probe::config::{ConfigCtx, ConfigError};
use residual_probe::http::{encode, Http, HttpPolicy, Method, Reply, Request};
use residual_probe::{
    Account, AccountFilter, AccountState, Asset, CheckId, Credential, Gap, OwnerRef, Probe,
    ProbeError, SystemSnapshot,
};
use secrecy::SecretString;
use serde::de::DeserializeOwned;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

pub const SYSTEM: &str = "vault";

/// The catalogue's checks, as code names them.
pub const USERPASS_USER_EXISTS: CheckId = CheckId("vault_userpass_user_exists");
pub const ENTITY_ACTIVE: CheckId = CheckId("vault_entity_active");
pub const TOKEN_VALID: CheckId = CheckId("vault_token_valid");
pub const KV_SECRET_NOT_ROTATED: CheckId = CheckId("vault_kv_secret_not_rotated");
pub const ENTITLEMENT_RETAINED: CheckId = CheckId("vault_entitlement_retained");

/// The Vault / OpenBao system, for the registry.
pub struct Vault;

impl residual_probe::System for Vault {
    fn name(&self) -> &'static str {
        SYSTEM
    }
    fn title(&self) -> &'static str {
        "Vault/OpenBao"
    }
    fn catalogue(&self) -> &'static str {
        include_str!("../checks.toml")
    }
    fn check_ids(&self) -> &'static [CheckId] {
        &[
            USERPASS_USER_EXISTS,
            ENTITY_ACTIVE,
            TOKEN_VALID,
            KV_SECRET_NOT_ROTATED,
            ENTITLEMENT_RETAINED,
        ]
    }
    fn entitlement_kinds(&self) -> &'static [(&'static str, &'static str)] {
        &[("vault", "policy")]
    }
    fn config_keys(&self) -> &'static [&'static str] {
        residual_probe::config::field_names::<config::RawVault>()
    }
    fn configure(&self, cx: &ConfigCtx) -> Result<Vec<Box<dyn Probe>>, ConfigError> {
        config::configure(cx)
    }
    fn demo(&self) -> Vec<SystemSnapshot> {
        demo::demo()
    }
}

pub const ENTITY: &str = "vault_entity";
pub const TOKEN: &str = "vault_token";
pub const TOKEN_HOLDER: &str = "vault_token_holder";
pub const KV_SECRET: &str = "vault_kv_secret";

/// Auth methods whose users live in Vault itself, and the resource type of their logins.
const LOCAL_USER_METHODS: &[(&str, &str)] = &[
    ("userpass", "vault_userpass_user"),
    ("ldap", "vault_ldap_user"),
    ("okta", "vault_okta_user"),
];

/// Keys per LIST page where the endpoint pages.
const LIST_PAGE: usize = 1000;

/// The person behind a token's display name: auth methods prefix it with their mount
/// (`userpass-alice`, `token-dave`, in a namespace `team-a-auth-userpass-frank`).
fn display_handle(display: &str) -> String {
    const PREFIXES: &[&str] = &[
        "userpass-",
        "ldap-",
        "okta-",
        "oidc-",
        "jwt-",
        "github-",
        "cert-",
        "token-",
    ];
    for p in PREFIXES {
        if let Some(i) = display.rfind(p) {
            return display[i + p.len()..].to_string();
        }
    }
    display.to_string()
}

/// Metadata keys that name a person (entity metadata, KV custom_metadata, token meta).
const PERSON_KEYS: &[&str] = &[
    "email",
    "mail",
    "owner",
    "owner_email",
    "created_by",
    "user",
];

#[derive(Debug, Clone)]
pub struct VaultInstance {
    pub name: Option<String>,
    pub addr: String,
    pub token: SecretString,
    pub namespace: Option<String>,
    pub kv_mounts: Vec<String>,
    pub concurrency: usize,
    pub http: HttpPolicy,
}

pub struct VaultProbe(pub VaultInstance);

#[async_trait::async_trait]
impl residual_probe::Probe for VaultProbe {
    fn system(&self) -> &'static str {
        SYSTEM
    }
    fn label(&self) -> String {
        label(&self.0)
    }
    async fn collect(&self, filter: &dyn AccountFilter) -> Vec<SystemSnapshot> {
        vec![collect(&self.0, filter).await]
    }
}

/// Vault knows people by login and entity name (compared with non-email aliases), and by
/// email where entity or token metadata records one.
pub(crate) fn identify(snap: &mut SystemSnapshot) {
    snap.identify_by(
        &[residual_probe::Identifier::Username],
        Some("record each person's email in their entity's metadata (email = …), or give the leaver an alias with their Vault login"),
    );
}

fn label(inst: &VaultInstance) -> String {
    if let Some(n) = &inst.name {
        return n.clone();
    }
    let host = residual_probe::http::host_label(&inst.addr);
    match &inst.namespace {
        Some(ns) if !ns.is_empty() => format!("{host}/{ns}"),
        _ => host,
    }
}

pub async fn collect(inst: &VaultInstance, filter: &dyn AccountFilter) -> SystemSnapshot {
    // Local logins' policies are read only when a mover names a Vault policy.
    let movers = filter
        .candidates(SYSTEM)
        .entitlements
        .iter()
        .any(|e| e.starts_with("vault:policy/"));
    residual_probe::http::collect_with(SYSTEM, &label(inst), inst.http, |http| async move {
        Collector {
            inst,
            http,
            base: inst.addr.trim_end_matches('/').to_string(),
            movers,
        }
        .run()
        .await
    })
    .await
}

struct Collector<'a> {
    inst: &'a VaultInstance,
    http: Http,
    base: String,
    movers: bool,
}

fn classify(what: &str, r: &Reply) -> ProbeError {
    let errors = serde_json::from_slice::<api::ErrorBody>(&r.body)
        .map(|e| e.errors.join("; "))
        .map(|e| residual_probe::redact::redact(&e.chars().take(200).collect::<String>()))
        .unwrap_or_default();
    match r.status {
        401 => ProbeError::Auth(format!("{what}: HTTP 401 {errors}")),
        403 => ProbeError::Permission(format!(
            "{what}: HTTP 403 {errors} (the token's policies do not allow this)"
        )),
        s => ProbeError::Unexpected(format!("{what}: HTTP {s} {errors}")),
    }
}

fn bad(e: String) -> ProbeError {
    ProbeError::Unexpected(e)
}

fn parse_time(what: &str, v: Option<&str>) -> Result<Option<OffsetDateTime>, ProbeError> {
    match v {
        None | Some("") | Some("0001-01-01T00:00:00Z") => Ok(None),
        Some(s) => OffsetDateTime::parse(s, &Rfc3339)
            .map(Some)
            .map_err(|e| bad(format!("{what}: bad time {s:?}: {e}"))),
    }
}

fn person_refs(map: Option<&BTreeMap<String, String>>) -> Vec<OwnerRef> {
    map.into_iter()
        .flatten()
        .filter(|(k, v)| PERSON_KEYS.contains(&k.to_ascii_lowercase().as_str()) && !v.is_empty())
        .map(|(k, v)| OwnerRef {
            key: k.clone(),
            value: v.clone(),
        })
        .collect()
}

fn joined(list: &[String]) -> String {
    list.join(";")
}

impl Collector<'_> {
    fn request<'r>(&'r self, method: Method, path: &'r str) -> Request<'r> {
        self.request_q(method, path, "")
    }

    fn request_q<'r>(&'r self, method: Method, path: &'r str, query: &str) -> Request<'r> {
        let mut r = Request::get(format!("{}/v1/{path}{query}", self.base), path);
        r.method = method;
        r.secret_header = Some(("x-vault-token", &self.inst.token));
        if let Some(ns) = self.inst.namespace.as_deref().filter(|n| !n.is_empty()) {
            r.headers.push(("x-vault-namespace", ns.to_string()));
        }
        r
    }

    /// GET and demand 200; a 404 is `Ok(None)` (Vault's answer for a path with nothing).
    async fn read<T: DeserializeOwned>(&self, path: &str) -> Result<Option<T>, ProbeError> {
        let r = self.http.send(&self.request(Method::GET, path)).await?;
        match r.status {
            200 => Ok(r.json::<api::Envelope<T>>(path)?.data),
            404 => Ok(None),
            _ => Err(classify(path, &r)),
        }
    }

    /// Every key of a LIST, in OpenBao's `after`/`limit` pages where the endpoint pages. The
    /// response never says "more": a full page asks for the next one, a short page ends it.
    /// Endpoints that ignore the parameters (token accessors, entities in 2.7) answer the whole
    /// list with a warning, which also ends it.
    async fn list(&self, path: &str) -> Result<Vec<String>, ProbeError> {
        let list = Method::from_bytes(b"LIST").map_err(|e| bad(e.to_string()))?;
        let mut keys: Vec<String> = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let query = match &after {
                Some(a) => format!("?limit={LIST_PAGE}&after={}", encode(a)),
                None => format!("?limit={LIST_PAGE}"),
            };
            let r = self
                .http
                .send(&self.request_q(list.clone(), path, &query))
                .await?;
            let body: api::Envelope<api::ListData> = match r.status {
                200 => r.json(path)?,
                404 => break,
                _ => return Err(classify(path, &r)),
            };
            // A 200 must carry a `data` object. OpenBao answers an empty list as `data: {}`
            // (no `keys`); keys that are not a list of strings fail to parse above.
            let data = body
                .data
                .ok_or_else(|| bad(format!("{path}: LIST answered 200 without a data object")))?;
            let page: Vec<String> = data.keys.unwrap_or_default();
            let ignored = body
                .warnings
                .iter()
                .flatten()
                .any(|w| w.contains("unrecognized parameters"));
            let n = page.len();
            let last = page.last().cloned();
            keys.extend(page);
            // A short page does not end the list: an ACL `pagination_limit` or a proxy may cap
            // pages below what we asked. Only an empty page, a 404 past the end, or a server
            // that ignored the paging parameters ends it.
            if ignored || n == 0 || last.is_none() || last == after {
                break;
            }
            after = last;
            if keys.len() > 10_000_000 {
                return Err(bad(format!("{path}: list does not end")));
            }
        }
        keys.dedup();
        Ok(keys)
    }

    async fn run(&self) -> Result<SystemSnapshot, ProbeError> {
        let who: api::TokenLookup = self
            .read("auth/token/lookup-self")
            .await?
            .ok_or_else(|| ProbeError::Auth("auth/token/lookup-self: no data".into()))?;
        let authenticated_as = format!(
            "token {} (policies {})",
            who.display_name.as_deref().unwrap_or("?"),
            who.policies
                .as_ref()
                .map(|p| serde_json::to_string(p).unwrap_or_default())
                .unwrap_or_default()
        );
        let mut snap = SystemSnapshot::new(SYSTEM, &label(self.inst), Some(authenticated_as));
        snap.entitlement_kinds = vec!["vault:policy".into()];
        // Auth mounts: accessor → (path, type), to tie entity aliases to local logins.
        // Without the auth mounts no login can be listed: their absence is an error.
        let mounts: BTreeMap<String, api::AuthMount> = self
            .read("sys/auth")
            .await?
            .ok_or_else(|| bad("sys/auth: no auth mounts in the answer".into()))?;
        let mut mount_of: HashMap<String, (String, String)> = HashMap::new();
        for (path, m) in mounts {
            if let (Some(t), Some(acc)) = (m.kind, m.accessor) {
                mount_of.insert(acc, (path, t));
            }
        }

        // Entities: metadata names the person; aliases tie them to logins.
        let entities = match self.entities().await {
            Ok(e) => e,
            Err(e) => {
                // Without entities a login named unlike its owner's email cannot be matched.
                snap.gaps.push(Gap::blocks(
                    "identity entities",
                    &[ENTITY_ACTIVE, USERPASS_USER_EXISTS, TOKEN_VALID],
                    e,
                ));
                Vec::new()
            }
        };
        // (mount accessor, alias name) → entity emails
        let mut alias_emails: HashMap<(String, String), Vec<String>> = HashMap::new();
        for e in &entities {
            for (acc, name) in &e.aliases {
                alias_emails
                    .entry((acc.clone(), name.to_lowercase()))
                    .or_default()
                    .extend(e.account.emails.iter().cloned());
            }
        }

        // Local logins of every auth method that keeps users.
        for (acc, (path, kind)) in &mount_of {
            let Some((_, rt)) = LOCAL_USER_METHODS.iter().find(|(t, _)| t == kind) else {
                continue;
            };
            let list_path = format!("auth/{path}users");
            match self.list(&list_path).await {
                Ok(users) => {
                    for u in users {
                        let emails = alias_emails
                            .get(&(acc.clone(), u.to_lowercase()))
                            .cloned()
                            .unwrap_or_default();
                        let mut attributes = BTreeMap::new();
                        attributes.insert("auth_mount".into(), path.clone());
                        let id = format!("auth/{path}users/{u}");
                        let mut entitlements = Vec::new();
                        if self.movers {
                            match self.read::<api::LocalUser>(&id).await {
                                Ok(d) => {
                                    for p in d
                                        .iter()
                                        .flat_map(|d| {
                                            d.token_policies.iter().chain(d.policies.iter())
                                        })
                                        .flatten()
                                    {
                                        let mut e = residual_probe::Entitlement::new(
                                            "vault",
                                            "policy",
                                            p,
                                            p == "root",
                                        );
                                        e.via = Some(format!("{kind} login {u}"));
                                        if !entitlements.contains(&e) {
                                            entitlements.push(e);
                                        }
                                    }
                                }
                                Err(e) => snap.gaps.push(
                                    Gap::blocks(&id, &[ENTITLEMENT_RETAINED], e)
                                        .for_account(id.clone()),
                                ),
                            }
                        }
                        snap.accounts.push(Account {
                            id,
                            resource_type: rt.to_string(),
                            name: u.clone(),
                            usernames: vec![u],
                            emails,
                            external_ids: vec![],
                            owner_refs: vec![],
                            state: AccountState::Active,
                            role: None,
                            privileges: vec![],
                            created_at: None,
                            last_login_at: None,
                            credentials: vec![],
                            detailed: true,
                            attributes,
                            entitlements,
                        });
                    }
                }
                Err(e) => snap.gaps.push(Gap::blocks(
                    format!("{list_path} ({kind})"),
                    &[USERPASS_USER_EXISTS],
                    e,
                )),
            }
        }

        // Tokens by accessor.
        let mut holders: Vec<Account> = Vec::new();
        match self.tokens().await {
            Ok(tokens) => {
                snap.notes
                    .push(format!("tokens: {} live accessors looked up", tokens.len()));
                let mut by_entity: HashMap<String, usize> = HashMap::new();
                for (i, e) in entities.iter().enumerate() {
                    by_entity.insert(e.account.id.clone(), i);
                }
                let mut entity_accounts: Vec<Account> =
                    entities.into_iter().map(|e| e.account).collect();
                for t in tokens {
                    match t.entity_id.as_ref().and_then(|id| by_entity.get(id)) {
                        Some(&i) => entity_accounts[i].credentials.push(t.credential),
                        None => holders.push(t.holder),
                    }
                }
                snap.accounts.extend(entity_accounts);
            }
            Err(e) => {
                snap.gaps.push(Gap::blocks(
                    "token accessors (LIST auth/token/accessors needs sudo)",
                    &[TOKEN_VALID],
                    e,
                ));
                snap.accounts
                    .extend(entities.into_iter().map(|e| e.account));
            }
        }
        snap.accounts.extend(holders);

        // KV v2 metadata.
        for mount in &self.inst.kv_mounts {
            let mount = mount.trim_matches('/');
            match self.kv_walk(mount).await {
                Ok(secrets) => {
                    snap.notes.push(format!(
                        "KV {mount}/: {} secrets (metadata only)",
                        secrets.len()
                    ));
                    snap.assets.extend(secrets);
                }
                Err(e) => snap.gaps.push(Gap::blocks(
                    format!("KV v2 metadata under {mount}/"),
                    &[KV_SECRET_NOT_ROTATED],
                    e,
                )),
            }
        }
        snap.accounts_enumerated = snap
            .accounts
            .iter()
            .filter(|a| a.resource_type != TOKEN_HOLDER)
            .count() as u64;
        snap.accounts
            .sort_by(|a, b| (&a.resource_type, &a.id).cmp(&(&b.resource_type, &b.id)));
        snap.assets.sort_by(|a, b| a.id.cmp(&b.id));
        identify(&mut snap);
        Ok(snap)
    }

    async fn entities(&self) -> Result<Vec<Entity>, ProbeError> {
        let ids = self.list("identity/entity/id").await?;
        let results: Vec<Option<Entity>> = residual_probe::bounded(
            self.inst.concurrency,
            ids.into_iter().map(|id| async move {
                let path = format!("identity/entity/id/{id}");
                let Some(d) = self.read::<api::Entity>(&path).await? else {
                    return Ok(None);
                };
                let refs = person_refs(d.metadata.as_ref());
                let emails: Vec<String> = refs
                    .iter()
                    .filter(|r| r.value.contains('@'))
                    .map(|r| r.value.clone())
                    .collect();
                // Malformed aliases fail to parse above: a dropped alias would cut a login's
                // link to its person.
                let aliases: Vec<(String, String)> = d
                    .aliases
                    .unwrap_or_default()
                    .into_iter()
                    .map(|a| (a.mount_accessor, a.name))
                    .collect();
                let name = d.name.clone().unwrap_or_else(|| id.clone());
                let mut usernames: Vec<String> = aliases.iter().map(|(_, n)| n.clone()).collect();
                usernames.push(name.clone());
                let mut attributes = BTreeMap::new();
                if !aliases.is_empty() {
                    attributes.insert(
                        "aliases".into(),
                        aliases
                            .iter()
                            .map(|(_, n)| n.as_str())
                            .collect::<Vec<_>>()
                            .join(";"),
                    );
                }
                if let Some(p) = d.policies.as_ref().filter(|p| !p.is_empty()) {
                    attributes.insert("policies".into(), joined(p));
                }
                // A mover's `vault:policy/<name>`: the entity's own policies, and those of
                // the identity groups it is in.
                let mut entitlements: Vec<residual_probe::Entitlement> = d
                    .policies
                    .iter()
                    .flatten()
                    .map(|p| residual_probe::Entitlement::new("vault", "policy", p, p == "root"))
                    .collect();
                for gid in d.group_ids.iter().flatten() {
                    let gpath = format!("identity/group/id/{gid}");
                    if let Some(g) = self.read::<api::Group>(&gpath).await? {
                        let gname = g.name.clone().unwrap_or_else(|| gid.clone());
                        for p in g.policies.iter().flatten() {
                            let mut e =
                                residual_probe::Entitlement::new("vault", "policy", p, p == "root");
                            e.via = Some(format!("identity group {gname}"));
                            entitlements.push(e);
                        }
                    }
                }
                Ok(Some(Entity {
                    account: Account {
                        id: id.clone(),
                        resource_type: ENTITY.into(),
                        name,
                        usernames,
                        emails,
                        external_ids: vec![],
                        owner_refs: vec![],
                        state: if d.disabled.unwrap_or(false) {
                            AccountState::Disabled
                        } else {
                            AccountState::Active
                        },
                        role: None,
                        privileges: vec![],
                        created_at: parse_time("entity creation_time", d.creation_time.as_deref())?,
                        last_login_at: None,
                        credentials: vec![],
                        detailed: true,
                        attributes,
                        entitlements,
                    },
                    aliases,
                }))
            }),
        )
        .await?;
        Ok(results.into_iter().flatten().collect())
    }

    async fn tokens(&self) -> Result<Vec<Token>, ProbeError> {
        let accessors = self.list("auth/token/accessors").await?;
        let now = OffsetDateTime::now_utc();
        let results: Vec<Option<Token>> = residual_probe::bounded(
            self.inst.concurrency,
            accessors.into_iter().map(|acc| async move {
                let path = "auth/token/lookup-accessor";
                let mut req = self.request(Method::POST, path);
                req.headers
                    .push(("content-type", "application/json".into()));
                req.body = Some(
                    serde_json::to_vec(&serde_json::json!({ "accessor": acc }))
                        .map_err(|e| bad(e.to_string()))?,
                );
                let r = self.http.send(&req).await?;
                let d = match r.status {
                    200 => r
                        .json::<api::Envelope<api::TokenLookup>>(path)?
                        .data
                        .ok_or_else(|| bad(format!("{path}: 200 without data")))?,
                    // Revoked or expired between LIST and lookup: gone, a determinate answer.
                    400 | 404 if String::from_utf8_lossy(&r.body).contains("invalid accessor") => {
                        return Ok(None)
                    }
                    _ => return Err(classify(path, &r)),
                };
                let expires = parse_time("token expire_time", d.expire_time.as_deref())?;
                if expires.is_some_and(|e| e <= now) {
                    return Ok(None);
                }
                let display = d.display_name.clone().unwrap_or_default();
                let meta = person_refs(d.meta.as_ref());
                let mut attributes = BTreeMap::new();
                if let Some(p) = &d.policies {
                    attributes.insert("policies".into(), joined(p));
                }
                if let Some(v) = &d.path {
                    attributes.insert("path".into(), v.clone());
                }
                if let Some(v) = &d.kind {
                    attributes.insert("type".into(), v.clone());
                }
                if d.period.unwrap_or(0) > 0 {
                    attributes.insert("periodic".into(), "true".into());
                }
                let credential = Credential {
                    id: acc.clone(),
                    resource_type: TOKEN.into(),
                    name: Some(display.clone()),
                    active: true,
                    created_at: d
                        .creation_time
                        .and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok()),
                    last_used_at: None,
                    last_use_tracked: false,
                    expires_at: expires,
                    attributes,
                };
                let entity_id = d.entity_id.clone().filter(|s| !s.is_empty());
                // A token with no entity: its holder is known by display name and meta only.
                // Display names carry the auth mount as a prefix (`userpass-alice`, `token-dave`).
                let handle = display_handle(&display);
                let holder = Account {
                    id: format!("token/{acc}"),
                    resource_type: TOKEN_HOLDER.into(),
                    name: if display.is_empty() {
                        acc.clone()
                    } else {
                        display.clone()
                    },
                    usernames: if handle.is_empty() {
                        vec![]
                    } else {
                        vec![handle]
                    },
                    emails: meta
                        .iter()
                        .filter(|r| r.value.contains('@'))
                        .map(|r| r.value.clone())
                        .collect(),
                    external_ids: vec![],
                    owner_refs: vec![],
                    state: AccountState::Active,
                    role: None,
                    privileges: vec![],
                    created_at: None,
                    last_login_at: None,
                    credentials: vec![credential.clone()],
                    detailed: true,
                    attributes: BTreeMap::new(),
                    entitlements: vec![],
                };
                Ok(Some(Token {
                    entity_id,
                    credential,
                    holder,
                }))
            }),
        )
        .await?;
        Ok(results.into_iter().flatten().collect())
    }

    /// Every secret's metadata under a KV v2 mount (`LIST <mount>/metadata/<dir>` recursively,
    /// `GET <mount>/metadata/<path>`). The `data/` side is never read.
    async fn kv_walk(&self, mount: &str) -> Result<Vec<Asset>, ProbeError> {
        // An empty LIST is a 404 in Vault, and so is a mount that does not exist: check the
        // mount first, so a typo or a KV v1 mount is an error and not "no secrets".
        let m: api::Mount = self
            .read(&format!("sys/mounts/{mount}"))
            .await?
            .ok_or_else(|| {
                ProbeError::Config(format!(
                    "kv mount {mount}/ does not exist (or this token may not read sys/mounts)"
                ))
            })?;
        let kind = m.kind.as_deref().unwrap_or("");
        let version = m
            .options
            .as_ref()
            .and_then(|o| o.get("version"))
            .map(String::as_str)
            .unwrap_or("1");
        if kind != "kv" || version != "2" {
            return Err(ProbeError::Config(format!(
                "{mount}/ is a {kind} mount (version {version}), not KV v2"
            )));
        }
        let mut dirs = vec![String::new()];
        let mut leaves = Vec::new();
        while let Some(dir) = dirs.pop() {
            for k in self.list(&format!("{mount}/metadata/{dir}")).await? {
                if k.ends_with('/') {
                    dirs.push(format!("{dir}{k}"));
                } else {
                    leaves.push(format!("{dir}{k}"));
                }
            }
            if leaves.len() + dirs.len() > 1_000_000 {
                return Err(bad(format!("{mount}/: more than a million keys")));
            }
        }
        let results: Vec<Option<Asset>> = residual_probe::bounded(
            self.inst.concurrency,
            leaves.into_iter().map(|leaf| async move {
                let path = format!("{mount}/metadata/{leaf}");
                let Some(d) = self.read::<api::KvMetadata>(&path).await? else {
                    return Ok(None);
                };
                let mut attributes = BTreeMap::new();
                if let Some(v) = d.current_version {
                    attributes.insert("current_version".into(), v.to_string());
                }
                Ok(Some(Asset {
                    id: format!("{mount}/{leaf}"),
                    resource_type: KV_SECRET.into(),
                    name: leaf.clone(),
                    owner_refs: person_refs(d.custom_metadata.as_ref()),
                    trusted_principals: vec![],
                    created_at: parse_time("kv created_time", d.created_time.as_deref())?,
                    last_changed_at: parse_time("kv updated_time", d.updated_time.as_deref())?,
                    last_used_at: None,
                    last_use_tracked: false,
                    readable_by_role: None,
                    privileges: vec![],
                    attributes,
                }))
            }),
        )
        .await?;
        Ok(results.into_iter().flatten().collect())
    }
}

struct Entity {
    account: Account,
    /// (mount accessor, alias name)
    aliases: Vec<(String, String)>,
}

struct Token {
    entity_id: Option<String>,
    credential: Credential,
    holder: Account,
}

#[cfg(test)]
mod tests {
    #[test]
    fn display_handles() {
        assert_eq!(super::display_handle("userpass-alice"), "alice");
        assert_eq!(super::display_handle("token-dave"), "dave");
        assert_eq!(super::display_handle("team-a-auth-userpass-frank"), "frank");
        assert_eq!(super::display_handle("root"), "root");
        assert_eq!(super::encode("apps/a b"), "apps%2Fa%20b");
    }
}
