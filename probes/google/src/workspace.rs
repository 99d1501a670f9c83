//! The Workspace instance: users (listing or lookups), then for the wanted users their OAuth
//! grants (`tokens.list`), app-specific passwords (`asps.list`) and admin role assignments
//! (`roleAssignments.list`, direct and through groups).
//!
//! Proof of a whole view: the admin subject is read first and must be a super admin or hold a
//! role assignment scoped to the whole customer. A delegated admin limited to an org unit gets
//! `200` and only that unit's users from `users.list` — a partial list that would read clean
//! for everyone else — so the instance is refused instead.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use residual_probe::http::{encode, Http};
use residual_probe::{
    Account, AccountFilter, AccountState, Asset, Credential, Gap, Identifier, ProbeError,
    SystemSnapshot,
};

use crate::{api, bad, millis, time_of, Api, GoogleInstance, Strategy, MAX_PAGES};
use crate::{
    ADMIN_ROLE, APP_PASSWORD, APP_PASSWORD_CHECK, DIRECTORY_SCOPES, OAUTH_GRANT, OAUTH_GRANT_CHECK,
    ROLE_ASSIGNMENT, SYSTEM, USER, USER_ACTIVE,
};

/// Users a page (the Directory API's maximum).
const PAGE: u32 = 500;
/// Lookups win over the listing when they take fewer requests than listing this many pages
/// (an org of 25,000 users). The Directory API does not count users, so the listing's cost is
/// unknown until it ends.
pub const LOOKUP_BUDGET: usize = 50;

pub(crate) async fn collect(
    inst: &GoogleInstance,
    subject: &str,
    http: &Http,
    filter: &dyn AccountFilter,
) -> Result<SystemSnapshot, ProbeError> {
    let token = crate::auth::token(inst, http, Some(subject), DIRECTORY_SCOPES).await?;
    let api = Api::new(http, token);
    let base = format!("{}/admin/directory/v1", inst.root("admin"));
    let customer = encode(&inst.customer);

    // Who the scan acts as, and whether it sees the whole customer.
    let upath = "/admin/directory/v1/users/{userKey}";
    let me: api::User = api
        .get_opt(
            format!(
                "{base}/users/{}?projection=basic&viewType=admin_view",
                user_key(subject)
            ),
            upath,
        )
        .await?
        .ok_or_else(|| {
            ProbeError::Permission(format!(
                "admin_subject {subject} is not a user of this customer"
            ))
        })?;
    let rapath = "/admin/directory/v1/customer/{customer}/roleassignments";
    let mine = role_assignments(&api, &base, &customer, &me.id).await?;
    let whole = me.is_admin
        || mine
            .iter()
            .any(|r| r.scope_type.as_deref() == Some("CUSTOMER"));
    if !whole {
        return Err(ProbeError::Permission(format!(
            "admin_subject {subject} is not a super admin and holds no role over the whole customer ({} role assignment(s), all limited to org units): users.list would answer with only part of the users",
            mine.len()
        )));
    }
    let mut snap = SystemSnapshot::new(
        SYSTEM,
        &inst.name,
        Some(format!(
            "service account {} acting as {subject}{}",
            inst.account.email,
            if me.is_admin { " (super admin)" } else { "" }
        )),
    );
    snap.context
        .insert("customer".into(), inst.customer.clone());

    // Roles, to name assignments and tell super admin ones.
    let rpath = "/admin/directory/v1/customer/{customer}/roles";
    let mut roles: HashMap<String, api::Role> = HashMap::new();
    let mut token: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let mut url = format!("{base}/customer/{customer}/roles?maxResults=100");
        if let Some(t) = &token {
            url.push_str(&format!("&pageToken={}", encode(t)));
        }
        let page: api::Roles = api.get(url, rpath).await?;
        roles.extend(page.items.into_iter().map(|r| (r.role_id.clone(), r)));
        token = page.next_page_token.filter(|t| !t.is_empty());
        if token.is_none() {
            break;
        }
    }

    // Users: the first page always (it proves the listing sees the subject's customer), then
    // the rest of the listing or lookups.
    let lpath = "/admin/directory/v1/users";
    let list_url = |t: Option<&str>| {
        let mut u = format!(
            "{base}/users?customer={customer}&maxResults={PAGE}&projection=full&viewType=admin_view&orderBy=email"
        );
        if let Some(t) = t {
            u.push_str(&format!("&pageToken={}", encode(t)));
        }
        u
    };
    let first: api::Users = api.get(list_url(None), lpath).await?;
    if first.users.is_empty() {
        return Err(ProbeError::Permission(format!(
            "users.list returned no user, not even {subject}: the listing cannot see this customer"
        )));
    }
    let cands = filter.candidates(SYSTEM);
    let lookups = cands.emails.len() + cands.external_ids.len();
    let mut users: Vec<api::User> = first.users;
    let mut next = first.next_page_token.filter(|t| !t.is_empty());
    let targeted = next.is_some()
        && match inst.strategy {
            Strategy::Auto => lookups < LOOKUP_BUDGET,
            Strategy::List => false,
            Strategy::Lookup => true,
        };
    let configured = if inst.strategy == Strategy::Auto {
        ""
    } else {
        ", as configured"
    };
    if targeted {
        snap.notes.push(format!(
            "planner: lookups{configured} ({lookups} users.get and externalId queries, against a listing of more than {PAGE} users)"
        ));
        snap.looked_up = Some(cands.clone());
        let urls: Vec<String> = cands
            .emails
            .iter()
            .map(|e| {
                format!(
                    "{base}/users/{}?projection=full&viewType=admin_view",
                    user_key(e)
                )
            })
            .collect();
        let by_email = residual_probe::bounded(
            inst.concurrency,
            urls.into_iter().map(|url| {
                let api = &api;
                async move { api.get_opt::<api::User>(url, upath).await }
            }),
        )
        .await?;
        users.extend(by_email.into_iter().flatten());
        // The Directory API's search syntax: `externalId:<value>`, the value quoted.
        let queries: Vec<String> = cands
            .external_ids
            .iter()
            .map(|x| encode(&format!("externalId:'{}'", x.replace('\'', "\\'"))))
            .collect();
        let by_id = residual_probe::bounded(
            inst.concurrency,
            queries.into_iter().map(|q| {
                let api = &api;
                let base = &base;
                let customer = &customer;
                async move {
                    let mut found = Vec::new();
                    let mut token: Option<String> = None;
                    for _ in 0..MAX_PAGES {
                        let mut url = format!(
                            "{base}/users?customer={customer}&maxResults={PAGE}&projection=full&viewType=admin_view&query={q}"
                        );
                        if let Some(t) = &token {
                            url.push_str(&format!("&pageToken={}", encode(t)));
                        }
                        let page: api::Users = api.get(url, lpath).await?;
                        found.extend(page.users);
                        token = page.next_page_token.filter(|t| !t.is_empty());
                        if token.is_none() {
                            break;
                        }
                    }
                    Ok::<_, ProbeError>(found)
                }
            }),
        )
        .await?;
        users.extend(by_id.into_iter().flatten());
    } else {
        let mut pages = 1u32;
        while let Some(t) = next.take() {
            let page: api::Users = api.get(list_url(Some(&t)), lpath).await?;
            users.extend(page.users);
            next = page.next_page_token.filter(|t| !t.is_empty());
            pages += 1;
            if pages > MAX_PAGES {
                return Err(bad(format!("{lpath}: pagination does not end")));
            }
        }
        snap.notes.push(format!(
            "planner: listing{configured} ({pages} page(s); {lookups} lookups would have been needed)"
        ));
    }
    let mut seen = BTreeSet::new();
    users.retain(|u| seen.insert(u.id.clone()));
    snap.accounts_enumerated = users.len() as u64;
    let mut accounts: Vec<Account> = users.iter().map(user_account).collect::<Result<_, _>>()?;

    // Grants, app passwords and roles of the wanted users.
    let wanted: Vec<(usize, String, String)> = accounts
        .iter()
        .enumerate()
        .filter(|(_, a)| filter.wants(a))
        .map(|(i, a)| (i, a.id.clone(), encode(&a.id)))
        .collect();
    let details = residual_probe::bounded(
        inst.concurrency,
        wanted.into_iter().map(|(i, id, key)| {
            let api = &api;
            let base = &base;
            let customer = &customer;
            async move {
                let (tokens, asps, roles) = futures::join!(
                    api.get::<api::Tokens>(
                        format!("{base}/users/{key}/tokens"),
                        "/admin/directory/v1/users/{userKey}/tokens"
                    ),
                    api.get::<api::Asps>(
                        format!("{base}/users/{key}/asps"),
                        "/admin/directory/v1/users/{userKey}/asps"
                    ),
                    role_assignments(api, base, customer, &id),
                );
                Ok::<_, ProbeError>((i, tokens, asps, roles))
            }
        }),
    )
    .await?;
    for (i, tokens, asps, assigned) in details {
        let a = &mut accounts[i];
        match tokens {
            Ok(t) => {
                for g in &t.items {
                    a.credentials.push(grant_credential(g));
                }
            }
            Err(e) => snap.gaps.push(
                Gap::blocks(
                    "/admin/directory/v1/users/{userKey}/tokens",
                    &[OAUTH_GRANT_CHECK],
                    e,
                )
                .for_account(a.id.clone()),
            ),
        }
        match asps {
            Ok(p) => {
                for x in &p.items {
                    a.credentials.push(asp_credential(x)?);
                }
            }
            Err(e) => snap.gaps.push(
                Gap::blocks(
                    "/admin/directory/v1/users/{userKey}/asps",
                    &[APP_PASSWORD_CHECK],
                    e,
                )
                .for_account(a.id.clone()),
            ),
        }
        match assigned {
            Ok(list) => {
                for r in &list {
                    let x = role_asset(a, r, &roles, &inst.customer);
                    a.privileges.extend(x.privileges.iter().cloned());
                    snap.assets.push(x);
                }
            }
            Err(e) => {
                snap.gaps
                    .push(Gap::blocks(rapath, &[ADMIN_ROLE], e.clone()).for_account(a.id.clone()));
                snap.gaps
                    .push(Gap::severity(rapath, &[USER_ACTIVE], e).for_account(a.id.clone()));
            }
        }
        a.detailed = true;
    }
    snap.accounts = accounts;
    snap.accounts.sort_by(|a, b| a.id.cmp(&b.id));
    snap.assets.sort_by(|a, b| a.id.cmp(&b.id));
    identify(&mut snap);
    Ok(snap)
}

/// A `userKey` path segment: an id or an email, `@` kept as Google's documentation writes it.
fn user_key(k: &str) -> String {
    encode(k).replace("%40", "@")
}

/// Workspace users carry their primary email, aliases and external ids.
pub(crate) fn identify(snap: &mut SystemSnapshot) {
    snap.identify_by(
        &[
            Identifier::Email,
            Identifier::Handle,
            Identifier::EmployeeId,
        ],
        None,
    );
}

/// Every role assignment of one user, direct and through groups.
async fn role_assignments(
    api: &Api<'_>,
    base: &str,
    customer: &str,
    user_id: &str,
) -> Result<Vec<api::RoleAssignment>, ProbeError> {
    let path = "/admin/directory/v1/customer/{customer}/roleassignments";
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let mut url = format!(
            "{base}/customer/{customer}/roleassignments?userKey={}&includeIndirectRoleAssignments=true&maxResults=200",
            encode(user_id)
        );
        if let Some(t) = &token {
            url.push_str(&format!("&pageToken={}", encode(t)));
        }
        let page: api::RoleAssignments = api.get(url, path).await?;
        out.extend(page.items);
        token = page.next_page_token.filter(|t| !t.is_empty());
        if token.is_none() {
            return Ok(out);
        }
    }
    Err(bad(format!("{path}: pagination does not end")))
}

fn json_strings(v: &Option<serde_json::Value>, field: &str) -> Vec<String> {
    v.as_ref()
        .and_then(|v| v.as_array())
        .into_iter()
        .flatten()
        .filter_map(|x| x.get(field).and_then(|s| s.as_str()))
        .map(str::to_string)
        .collect()
}

pub(crate) fn user_account(u: &api::User) -> Result<Account, ProbeError> {
    let mut a = residual_probe::demo::account(USER, &u.id, &u.primary_email, vec![]);
    let mut emails: Vec<String> = vec![u.primary_email.clone()];
    emails.extend(u.aliases.iter().cloned());
    emails.extend(u.non_editable_aliases.iter().cloned());
    emails.extend(json_strings(&u.emails, "address"));
    let mut seen = BTreeSet::new();
    emails.retain(|e| !e.is_empty() && seen.insert(e.to_ascii_lowercase()));
    a.emails = emails;
    a.external_ids = json_strings(&u.external_ids, "value");
    a.created_at = time_of("user creationTime", &u.creation_time)?;
    // Google writes 1970-01-01 for "never signed in".
    a.last_login_at =
        time_of("user lastLoginTime", &u.last_login_time)?.filter(|t| t.unix_timestamp() > 0);
    a.detailed = false;
    a.state = if u.suspended || u.archived {
        AccountState::Frozen
    } else {
        AccountState::Active
    };
    if u.archived {
        a.attributes
            .insert("blocked".into(), "archived: cannot sign in".into());
    } else if u.suspended {
        a.attributes.insert(
            "blocked".into(),
            format!(
                "suspended{}: cannot sign in until restored",
                u.suspension_reason
                    .as_deref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default()
            ),
        );
    }
    if u.is_admin {
        a.privileges.push("super admin (isAdmin)".into());
    }
    if let Some(o) = &u.org_unit_path {
        a.attributes.insert("org_unit".into(), o.clone());
    }
    if let Some(n) = u.name.as_ref().and_then(|n| n.full_name.clone()) {
        a.attributes.insert("name".into(), n);
    }
    Ok(a)
}

/// Scopes worth calling out in a grant: mail, Drive, admin and Cloud.
fn sensitive(scopes: &[String]) -> Vec<&'static str> {
    let mut out = Vec::new();
    let any = |f: &dyn Fn(&str) -> bool| scopes.iter().any(|s| f(s));
    if any(&|s| s.contains("mail.google.com") || s.contains("/auth/gmail")) {
        out.push("mail");
    }
    if any(&|s| s.contains("/auth/drive")) {
        out.push("Drive");
    }
    if any(&|s| s.contains("/auth/admin.")) {
        out.push("admin");
    }
    if any(&|s| s.contains("/auth/cloud-platform")) {
        out.push("Cloud");
    }
    out
}

pub(crate) fn grant_credential(g: &api::Token) -> Credential {
    let mut c = Credential {
        id: g.client_id.clone(),
        resource_type: OAUTH_GRANT.into(),
        name: g.display_text.clone().filter(|d| !d.is_empty()),
        active: true,
        created_at: None,
        last_used_at: None,
        last_use_tracked: false,
        expires_at: None,
        attributes: BTreeMap::new(),
    };
    c.attributes.insert("scopes".into(), g.scopes.join(" "));
    let s = sensitive(&g.scopes);
    if !s.is_empty() {
        c.attributes.insert("sensitive scopes".into(), s.join(", "));
    }
    if g.native_app {
        c.attributes.insert("client".into(), "native app".into());
    }
    c
}

pub(crate) fn asp_credential(x: &api::Asp) -> Result<Credential, ProbeError> {
    let mut c = residual_probe::demo::credential(
        APP_PASSWORD,
        &x.code_id.to_string(),
        millis("asp creationTime", &x.creation_time)?.unwrap_or(time::OffsetDateTime::UNIX_EPOCH),
        millis("asp lastTimeUsed", &x.last_time_used)?,
        true,
    );
    c.name = x.name.clone();
    Ok(c)
}

pub(crate) fn role_asset(
    a: &Account,
    r: &api::RoleAssignment,
    roles: &HashMap<String, api::Role>,
    customer: &str,
) -> Asset {
    let role = roles.get(&r.role_id);
    let label = role
        .map(|x| x.role_name.clone())
        .unwrap_or_else(|| format!("role {}", r.role_id));
    let mut x = residual_probe::demo::asset(
        ROLE_ASSIGNMENT,
        &format!("{}/roleassignments/{}", a.id, r.role_assignment_id),
        &format!("{label} ({})", a.name),
    );
    x.trusted_principals = vec![a.id.clone()];
    let mut power = format!("Workspace admin role {label}");
    if role.is_some_and(|x| x.is_super_admin_role) {
        power.push_str(" (super admin)");
    }
    match (r.scope_type.as_deref(), &r.org_unit_id) {
        (Some("ORG_UNIT"), Some(o)) => power.push_str(&format!(" over org unit {o}")),
        _ => power.push_str(" over the whole customer"),
    }
    x.privileges = vec![power];
    x.attributes
        .insert("role_assignment_id".into(), r.role_assignment_id.clone());
    x.attributes.insert("role_id".into(), r.role_id.clone());
    // Held through a group: take the user out of the group; deleting the group's assignment
    // would take the role from everyone in it.
    let (via, removal) = match r.assigned_to.as_deref() {
        Some(g) if g != a.id => (
            format!("a role assignment of group {g}"),
            format!("groups/{g}/members/{}", a.id),
        ),
        _ => (
            "a direct role assignment".into(),
            format!(
                "customer/{customer}/roleassignments/{}",
                r.role_assignment_id
            ),
        ),
    };
    x.attributes.insert(format!("via:{}", a.id), via);
    x.attributes.insert("removal_path".into(), removal);
    x
}
