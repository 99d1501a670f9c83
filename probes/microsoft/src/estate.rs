//! Graph's wire records as the estate model: users, the apps they own with their secrets and
//! certificates, delegated grants, app role and directory role assignments. Pure conversions
//! (the demo builds its tenant through them too); `graph.rs` decides what to read.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use residual_probe::http::encode;
use residual_probe::{Account, AccountState, Asset, Credential, OwnerRef, ProbeError};

use crate::graph::PRIVILEGED_ROLES;
use crate::{api, bad, time_of};
use crate::{APP_CERT, APP_ROLE, APP_SECRET, DIRECTORY_ROLE, OAUTH2_GRANT, USER};

pub(crate) fn user_account(u: &api::User) -> Result<Account, ProbeError> {
    let mut a = residual_probe::demo::account(USER, &u.id, &u.user_principal_name, vec![]);
    let mut emails: Vec<String> = vec![u.user_principal_name.clone()];
    emails.extend(u.mail.clone());
    emails.extend(u.other_mails.iter().cloned());
    for p in &u.proxy_addresses {
        // `SMTP:` is the primary address, `smtp:` the others; `sip:`, `x500:` are not mail.
        if let Some((kind, addr)) = p.split_once(':') {
            if kind.eq_ignore_ascii_case("smtp") {
                emails.push(addr.to_string());
            }
        }
    }
    let mut seen = BTreeSet::new();
    emails.retain(|e| !e.is_empty() && seen.insert(e.to_ascii_lowercase()));
    a.emails = emails;
    a.usernames = vec![u.user_principal_name.clone()];
    a.usernames.extend(
        u.on_premises_sam_account_name
            .clone()
            .filter(|s| !s.is_empty()),
    );
    a.external_ids = u
        .employee_id
        .iter()
        .filter(|x| !x.is_empty())
        .cloned()
        .collect();
    a.created_at = time_of("user createdDateTime", &u.created_date_time)?;
    a.last_login_at = match &u.sign_in_activity {
        Some(s) => time_of(
            "user signInActivity.lastSuccessfulSignInDateTime",
            &s.last_successful_sign_in_date_time,
        )?,
        None => None,
    };
    a.detailed = false;
    a.state = match u.account_enabled {
        Some(true) => AccountState::Active,
        Some(false) => {
            a.attributes.insert(
                "blocked".into(),
                "accountEnabled false: cannot sign in until re-enabled".into(),
            );
            AccountState::Frozen
        }
        None => {
            return Err(bad(format!(
                "/v1.0/users: user {} without accountEnabled: its state is unknown",
                u.id
            )))
        }
    };
    if let Some(n) = u.display_name.clone().filter(|n| !n.is_empty()) {
        a.attributes.insert("name".into(), n);
    }
    if let Some(t) = u.user_type.clone().filter(|t| t != "Member") {
        a.attributes.insert("user_type".into(), t);
    }
    Ok(a)
}

/// What names the owner of an app the user owns: every address and id the user is matched
/// by, so the app follows the user to whichever leaver row names them.
pub(crate) fn owner_refs(a: &Account) -> Vec<OwnerRef> {
    a.emails
        .iter()
        .chain(a.external_ids.iter())
        .map(|v| OwnerRef {
            key: "owner".into(),
            value: v.clone(),
        })
        .collect()
}

pub(crate) fn app_account(kind: &str, o: &api::AppObject) -> Result<Account, ProbeError> {
    let name = o.display_name.clone().unwrap_or_else(|| o.id.clone());
    let mut a = residual_probe::demo::account(kind, &o.id, &name, vec![]);
    a.usernames = vec![];
    a.emails = vec![];
    a.detailed = true;
    a.state = AccountState::Active;
    a.created_at = time_of("createdDateTime", &o.created_date_time)?;
    if let Some(id) = &o.app_id {
        a.attributes.insert("app_id".into(), id.clone());
    }
    if let Some(t) = &o.service_principal_type {
        a.attributes
            .insert("service_principal_type".into(), t.clone());
    }
    for p in &o.password_credentials {
        let mut c = cred(APP_SECRET, &p.key_id, &p.display_name);
        c.created_at = time_of("passwordCredential startDateTime", &p.start_date_time)?;
        c.expires_at = time_of("passwordCredential endDateTime", &p.end_date_time)?;
        a.credentials.push(c);
    }
    for k in &o.key_credentials {
        let mut c = cred(APP_CERT, &k.key_id, &k.display_name);
        c.created_at = time_of("keyCredential startDateTime", &k.start_date_time)?;
        c.expires_at = time_of("keyCredential endDateTime", &k.end_date_time)?;
        if let Some(u) = &k.usage {
            c.attributes.insert("usage".into(), u.clone());
        }
        a.credentials.push(c);
    }
    Ok(a)
}

fn cred(kind: &str, id: &str, name: &Option<String>) -> Credential {
    Credential {
        id: id.to_string(),
        resource_type: kind.into(),
        name: name.clone().filter(|n| !n.is_empty()),
        active: true,
        created_at: None,
        last_used_at: None,
        last_use_tracked: false,
        expires_at: None,
        attributes: BTreeMap::new(),
    }
}

/// Scopes worth calling out in a delegated grant.
fn sensitive(scopes: &[&str]) -> Vec<&'static str> {
    let mut out = Vec::new();
    let any = |p: &[&str]| {
        scopes
            .iter()
            .any(|s| p.iter().any(|x| s.to_ascii_lowercase().starts_with(x)))
    };
    if any(&["mail.", "imap.", "pop.", "smtp.", "exchange"]) {
        out.push("mail");
    }
    if any(&["files.", "sites."]) {
        out.push("files");
    }
    if any(&[
        "directory.",
        "rolemanagement.",
        "user.readwrite.all",
        "application.readwrite",
    ]) {
        out.push("directory admin");
    }
    if any(&["offline_access"]) {
        out.push("offline access (refresh tokens)");
    }
    out
}

pub(crate) fn grant_credential(
    g: &api::OAuth2PermissionGrant,
    names: &HashMap<String, String>,
) -> Credential {
    // Graph's grant ids are base64url runs that look like secrets (the report would mask them,
    // and two grants would share one masked id): a grant is named by its client and API,
    // which are unique per user.
    let id = format!(
        "{}/{}",
        g.client_id,
        g.resource_id.as_deref().unwrap_or("unknown-api")
    );
    let mut c = cred(OAUTH2_GRANT, &id, &names.get(&g.client_id).cloned());
    let scopes: Vec<&str> = g
        .scope
        .as_deref()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    c.attributes.insert("scopes".into(), scopes.join(" "));
    c.attributes.insert("client".into(), g.client_id.clone());
    if let Some(r) = &g.resource_id {
        c.attributes.insert(
            "api".into(),
            names.get(r).cloned().unwrap_or_else(|| r.clone()),
        );
    }
    let s = sensitive(&scopes);
    if !s.is_empty() {
        c.attributes.insert("sensitive scopes".into(), s.join(", "));
    }
    c
}

pub(crate) fn app_role_asset(
    a: &Account,
    r: &api::AppRoleAssignment,
    root: &str,
) -> Result<Asset, ProbeError> {
    let app = r
        .resource_display_name
        .clone()
        .or_else(|| r.resource_id.clone())
        .unwrap_or_else(|| "an app".into());
    // Named by app and role (Graph's own ids look like secrets; see `grant_credential`).
    let mut x = residual_probe::demo::asset(
        APP_ROLE,
        &format!(
            "{}/appRoleAssignments/{}/{}",
            a.id,
            r.resource_id.as_deref().unwrap_or("unknown-app"),
            r.app_role_id.as_deref().unwrap_or("default")
        ),
        &format!("{app} ({})", a.name),
    );
    x.trusted_principals = vec![a.id.clone()];
    x.created_at = time_of("appRoleAssignment createdDateTime", &r.created_date_time)?;
    if let Some(id) = &r.app_role_id {
        x.attributes.insert(
            "app_role".into(),
            if id == "00000000-0000-0000-0000-000000000000" {
                "default access".into()
            } else {
                id.clone()
            },
        );
    }
    x.attributes.insert(
        "removal_url".into(),
        format!(
            "{root}/v1.0/users/{}/appRoleAssignments/{}",
            encode(&a.id),
            encode(&r.id)
        ),
    );
    Ok(x)
}

pub(crate) fn directory_role_asset(
    a: &Account,
    r: &api::RoleAssignment,
    def: Option<&api::RoleDefinition>,
    via: Option<&api::Group>,
    root: &str,
) -> Asset {
    let template = def
        .and_then(|d| d.template_id.clone())
        .unwrap_or_else(|| r.role_definition_id.clone())
        .to_ascii_lowercase();
    let label = def
        .and_then(|d| d.display_name.clone())
        .unwrap_or_else(|| format!("role {}", r.role_definition_id));
    let scope = r.directory_scope_id.as_deref().unwrap_or("/");
    // Named by user, role and scope (Graph's assignment ids look like secrets).
    let mut id = format!("{}/directoryRoles/{template}", a.id);
    if scope != "/" {
        id.push_str(&format!("@{scope}"));
    }
    if let Some(g) = via {
        id.push_str(&format!("/via/{}", g.id));
    }
    let mut x = residual_probe::demo::asset(DIRECTORY_ROLE, &id, &format!("{label} ({})", a.name));
    x.trusted_principals = vec![a.id.clone()];
    if PRIVILEGED_ROLES.iter().any(|(t, _)| *t == template) {
        x.privileges = vec![format!(
            "directory role {label}{}",
            if scope == "/" {
                String::new()
            } else {
                format!(" over {scope}")
            }
        )];
    }
    x.attributes.insert("role".into(), label);
    x.attributes
        .insert("role_template_id".into(), template.clone());
    x.attributes
        .insert("directory_scope".into(), scope.to_string());
    let (via_text, removal) = match via {
        Some(g) => (
            format!(
                "membership of group {} ({}), which holds the role",
                g.display_name.as_deref().unwrap_or(&g.id),
                g.id
            ),
            format!(
                "{root}/v1.0/groups/{}/members/{}/$ref",
                encode(&g.id),
                encode(&a.id)
            ),
        ),
        // Tenant-wide: by role template and member, ids that never look like secrets.
        None if scope == "/" => (
            "a direct role assignment".into(),
            format!(
                "{root}/v1.0/directoryRoles(roleTemplateId='{}')/members/{}/$ref",
                encode(&template),
                encode(&a.id)
            ),
        ),
        None => (
            format!("a direct role assignment over {scope}"),
            format!(
                "{root}/v1.0/roleManagement/directory/roleAssignments/{}",
                encode(&r.id)
            ),
        ),
    };
    x.attributes.insert(format!("via:{}", a.id), via_text);
    x.attributes.insert("removal_url".into(), removal);
    x
}
