//! The Cloud instance: every IAM policy in the organization (`searchAllIamPolicies`), every
//! service account (`searchAllResources`), and the user-managed keys of the service accounts
//! a leaver owns (`iam.v1` `keys.list`).
//!
//! The members named in bindings become accounts of their own (`user:jdoe@acme.com`, or
//! `deleted:user:…` as a disabled one), matched to leavers by email; each resource × role is an
//! asset trusting its user members, so a leaver gets one finding per binding. Service accounts
//! are accounts whose description or labels may name an owner (`owner: jdoe@acme.com`).
//!
//! Proof of a whole view: the organization's own IAM policy must be among the results (the
//! search returns only what the caller may see).

use std::collections::{BTreeMap, BTreeSet};

use residual_probe::http::{encode, Http};
use residual_probe::{
    Account, AccountFilter, AccountState, Asset, Credential, Gap, Identifier, OwnerRef, ProbeError,
    SystemSnapshot,
};

use crate::{api, bad, time_of, Api, GoogleInstance, MAX_PAGES};
use crate::{BINDING, CLOUD_SCOPES, MEMBER, SA_KEY, SA_OWNED, SERVICE_ACCOUNT, SYSTEM};

const PAGE: u32 = 500;

pub(crate) async fn collect(
    inst: &GoogleInstance,
    org: &str,
    http: &Http,
    filter: &dyn AccountFilter,
) -> Result<SystemSnapshot, ProbeError> {
    let token = crate::auth::token(inst, http, None, CLOUD_SCOPES).await?;
    let api = Api::new(http, token);
    let asset_root = inst.root("cloudasset");
    let scope = format!("organizations/{org}");

    let ppath = "/v1/{scope}:searchAllIamPolicies";
    let policies: Vec<api::IamPolicySearchResult> = paged(&api, ppath, |t| {
        let mut u = format!("{asset_root}/v1/{scope}:searchAllIamPolicies?pageSize={PAGE}");
        if let Some(t) = t {
            u.push_str(&format!("&pageToken={}", encode(t)));
        }
        u
    })
    .await?;
    let org_resource = format!("//cloudresourcemanager.googleapis.com/{scope}");
    if !policies.iter().any(|p| p.resource == org_resource) {
        return Err(ProbeError::Permission(format!(
            "searchAllIamPolicies over {scope} did not return the organization's own policy ({} result(s)): the service account {} cannot see the whole organization (it needs cloudasset.assets.searchAllIamPolicies there, e.g. roles/cloudasset.viewer)",
            policies.len(),
            inst.account.email
        )));
    }
    let spath = "/v1/{scope}:searchAllResources";
    let sas: Vec<api::ResourceSearchResult> = paged(&api, spath, |t| {
        let mut u = format!(
            "{asset_root}/v1/{scope}:searchAllResources?assetTypes={}&pageSize={PAGE}",
            encode("iam.googleapis.com/ServiceAccount")
        );
        if let Some(t) = t {
            u.push_str(&format!("&pageToken={}", encode(t)));
        }
        u
    })
    .await?;

    let mut snap = SystemSnapshot::new(
        SYSTEM,
        &inst.cloud_instance(),
        Some(format!("service account {}", inst.account.email)),
    );
    snap.notes.push(format!(
        "organization {org}: {} IAM policies, {} service accounts",
        policies.len(),
        sas.len()
    ));

    // Members and bindings.
    let mut members: BTreeMap<String, Account> = BTreeMap::new();
    for p in &policies {
        for b in &p.policy.bindings {
            let users: Vec<&String> = b
                .members
                .iter()
                .filter(|m| m.starts_with("user:") || m.starts_with("deleted:user:"))
                .collect();
            if users.is_empty() {
                continue;
            }
            for m in &users {
                members
                    .entry((*m).clone())
                    .or_insert_with(|| member_account(m));
            }
            snap.assets.push(binding_asset(p, b, &users));
        }
    }

    // Service accounts, and the keys of those a leaver owns.
    let mut accounts: Vec<Account> = members.into_values().collect();
    let mut owned: Vec<(usize, String)> = Vec::new();
    for r in &sas {
        let a = sa_account(r, &inst.owner_keys)?;
        if !a.owner_refs.is_empty() && filter.owns(SYSTEM, &a.owner_refs) {
            let project = a
                .attributes
                .get("project_id")
                .cloned()
                .ok_or_else(|| bad(format!("service account {} names no project", r.name)))?;
            owned.push((accounts.len(), project));
        }
        accounts.push(a);
    }
    let iam_root = inst.root("iam");
    let kpath = "/v1/projects/{project}/serviceAccounts/{account}/keys";
    let jobs: Vec<(usize, String)> = owned
        .iter()
        .map(|(i, project)| {
            (
                *i,
                format!(
                    "{iam_root}/v1/projects/{}/serviceAccounts/{}/keys?keyTypes=USER_MANAGED",
                    encode(project),
                    encode(&accounts[*i].id)
                ),
            )
        })
        .collect();
    let keys = residual_probe::bounded(
        inst.concurrency,
        jobs.into_iter().map(|(i, url)| {
            let api = &api;
            async move {
                Ok::<_, ProbeError>((
                    i,
                    api.get::<api::ListServiceAccountKeysResponse>(url, kpath)
                        .await,
                ))
            }
        }),
    )
    .await?;
    for (i, res) in keys {
        let a = &mut accounts[i];
        match res {
            Ok(k) => {
                for key in k
                    .keys
                    .iter()
                    .filter(|k| k.key_type.as_deref() != Some("SYSTEM_MANAGED"))
                {
                    a.credentials.push(key_credential(key)?);
                }
                a.detailed = true;
            }
            Err(e) => {
                a.attributes.insert("keys".into(), format!("not read: {e}"));
                snap.gaps
                    .push(Gap::blocks(kpath, &[SA_OWNED], e).for_account(a.id.clone()));
            }
        }
    }
    snap.accounts_enumerated = accounts.len() as u64;
    snap.accounts = accounts;
    snap.accounts.sort_by(|a, b| a.id.cmp(&b.id));
    snap.assets.sort_by(|a, b| a.id.cmp(&b.id));
    identify(&mut snap);
    Ok(snap)
}

/// Cloud accounts are known by email only (`user:` members, service accounts).
pub(crate) fn identify(snap: &mut SystemSnapshot) {
    snap.identify_by(&[Identifier::Email], None);
}

/// Every page of a Cloud Asset search.
async fn paged<T, F>(api: &Api<'_>, path: &str, url: F) -> Result<Vec<T>, ProbeError>
where
    T: serde::de::DeserializeOwned,
    F: Fn(Option<&str>) -> String,
{
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Page<T> {
        #[serde(default = "Vec::new")]
        results: Vec<T>,
        #[serde(default)]
        next_page_token: Option<String>,
    }
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let page: Page<T> = api.get(url(token.as_deref()), path).await?;
        out.extend(page.results);
        token = page.next_page_token.filter(|t| !t.is_empty());
        if token.is_none() {
            return Ok(out);
        }
    }
    Err(bad(format!("{path}: pagination does not end")))
}

/// `user:jdoe@acme.com`, or `deleted:user:jdoe@acme.com?uid=123` (a deleted identity: no
/// access, but the binding is clutter that returns with a reused address).
pub(crate) fn member_account(m: &str) -> Account {
    let deleted = m.starts_with("deleted:");
    let email = m
        .trim_start_matches("deleted:")
        .trim_start_matches("user:")
        .split('?')
        .next()
        .unwrap_or_default()
        .to_string();
    let mut a = residual_probe::demo::account(MEMBER, m, &email, vec![]);
    a.usernames = vec![];
    a.emails = vec![email];
    if deleted {
        a.state = AccountState::Disabled;
        a.attributes.insert(
            "deleted".into(),
            "the identity was deleted; the binding remains".into(),
        );
    }
    a
}

/// Roles that administer what they are bound on.
fn admin_role(role: &str) -> bool {
    matches!(role, "roles/owner" | "roles/editor")
        || role.contains("Admin")
        || role.ends_with(".admin")
}

pub(crate) fn binding_asset(
    p: &api::IamPolicySearchResult,
    b: &api::Binding,
    users: &[&String],
) -> Asset {
    let cond = b
        .condition
        .as_ref()
        .and_then(|c| c.title.clone().or(c.expression.clone()));
    let mut id = format!("{}#{}", p.resource, b.role);
    if let Some(c) = &cond {
        id.push_str(&format!("#if:{c}"));
    }
    let short = p.resource.rsplit('/').take(2).collect::<Vec<_>>();
    let short = format!("{}/{}", short.get(1).copied().unwrap_or(""), short[0]);
    let mut x = residual_probe::demo::asset(BINDING, &id, &format!("{} on {short}", b.role));
    x.trusted_principals = users.iter().map(|m| m.to_string()).collect();
    if admin_role(&b.role) {
        x.privileges = vec![format!("{} on {}", b.role, p.resource)];
    }
    x.attributes.insert("resource".into(), p.resource.clone());
    x.attributes.insert("role".into(), b.role.clone());
    if let Some(t) = &p.asset_type {
        x.attributes.insert("asset_type".into(), t.clone());
    }
    if let Some(c) = &cond {
        x.attributes.insert("condition".into(), c.clone());
    }
    x
}

/// Owner references in a description (`owner: jdoe@acme.com`, `created_by=jdoe`) and labels.
pub(crate) fn owner_refs(
    description: Option<&str>,
    labels: &BTreeMap<String, String>,
    keys: &[String],
) -> Vec<OwnerRef> {
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    if let Some(d) = description {
        let words: Vec<&str> = d
            .split(|c: char| c.is_whitespace() || c == ',' || c == ';')
            .collect();
        for (i, w) in words.iter().enumerate() {
            let (k, v) = match w.split_once([':', '=']) {
                Some((k, v)) if !v.is_empty() => (k, v.to_string()),
                // `owner: jdoe@…`: the value is the next word.
                Some((k, _)) => match words.get(i + 1) {
                    Some(v) if !v.is_empty() => (k, v.to_string()),
                    _ => continue,
                },
                None => continue,
            };
            let k = k.trim().to_ascii_lowercase();
            let v = v.trim_end_matches(['.', ')']).to_string();
            if keys.contains(&k) && seen.insert((k.clone(), v.clone())) {
                out.push(OwnerRef { key: k, value: v });
            }
        }
    }
    for (k, v) in labels {
        let k = k.to_ascii_lowercase();
        if keys.contains(&k) && !v.is_empty() && seen.insert((k.clone(), v.clone())) {
            out.push(OwnerRef {
                key: format!("label:{k}"),
                value: v.clone(),
            });
        }
    }
    out
}

pub(crate) fn sa_account(
    r: &api::ResourceSearchResult,
    keys: &[String],
) -> Result<Account, ProbeError> {
    let email = r
        .additional_attributes
        .get("email")
        .and_then(|v| v.as_str())
        .map(str::to_string)
        .ok_or_else(|| bad(format!("service account {} has no email", r.name)))?;
    let mut a = residual_probe::demo::account(SERVICE_ACCOUNT, &email, &email, vec![]);
    a.usernames = vec![];
    a.emails = vec![];
    a.detailed = false;
    a.owner_refs = owner_refs(r.description.as_deref(), &r.labels, keys);
    a.created_at = time_of("service account createTime", &r.create_time)?;
    if r.state.as_deref() == Some("DISABLED") {
        a.state = AccountState::Disabled;
    }
    // `//iam.googleapis.com/projects/<project id>/serviceAccounts/<unique id>`
    if let Some(p) = r
        .name
        .split("/projects/")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
    {
        a.attributes.insert("project_id".into(), p.to_string());
    }
    if let Some(d) = &r.display_name {
        a.attributes.insert("display_name".into(), d.clone());
    }
    if let Some(d) = &r.description {
        a.attributes.insert("description".into(), d.clone());
    }
    Ok(a)
}

pub(crate) fn key_credential(k: &api::ServiceAccountKey) -> Result<Credential, ProbeError> {
    let id = k.name.rsplit('/').next().unwrap_or(&k.name).to_string();
    let mut c = residual_probe::demo::credential(
        SA_KEY,
        &id,
        time_of("key validAfterTime", &k.valid_after_time)?
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH),
        None,
        false,
    );
    c.active = !k.disabled;
    // 9999-12-31: no expiry.
    c.expires_at =
        time_of("key validBeforeTime", &k.valid_before_time)?.filter(|t| t.year() < 9999);
    Ok(c)
}
