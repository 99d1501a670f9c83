//! The tenant through Microsoft Graph v1.0: users (a listing that must add up to
//! `/users/$count`, or `$filter` lookups), then for the wanted users their groups, owned
//! applications and service principals, delegated grants and app role assignments, and the
//! tenant's directory role assignments.
//!
//! Proof of a whole view: the token's tenant must be the configured one (`/organization`),
//! the directory must count at least one user, and a listing must return exactly as many
//! users as the count (re-read once: `$count` is eventually consistent).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use residual_probe::http::{encode, Http};
use residual_probe::{
    Account, AccountFilter, AccountState, Asset, Credential, Gap, Identifier, OwnerRef, ProbeError,
    SystemSnapshot,
};

use crate::auth::GRAPH_SCOPE;
use crate::{api, bad, time_of, Api, MicrosoftInstance, Strategy};
use crate::{
    APPLICATION, APP_CERT, APP_OWNED, APP_ROLE, APP_ROLE_CHECK, APP_SECRET, DIRECTORY_ROLE,
    DIRECTORY_ROLE_CHECK, OAUTH2_GRANT, OAUTH2_GRANT_CHECK, SERVICE_PRINCIPAL, SYSTEM, USER,
    USER_ENABLED,
};

/// Users a page (Graph's maximum for `/users`).
pub const PAGE: u64 = 999;
/// Emails per lookup: four clauses each, within Graph's fifteen per `$filter`.
const EMAILS_PER_LOOKUP: usize = 3;
const IDS_PER_LOOKUP: usize = 15;
const LOGINS_PER_LOOKUP: usize = 15;

#[cfg(test)]
pub(crate) const SELECT_FOR_TESTS: &str = SELECT;
const SELECT: &str = "id,displayName,userPrincipalName,mail,otherMails,proxyAddresses,employeeId,onPremisesSamAccountName,accountEnabled,createdDateTime,userType";

/// Built-in directory roles that administer the tenant or its identities (template ids): a
/// leaver holding one is critical.
pub const PRIVILEGED_ROLES: &[(&str, &str)] = &[
    (
        "62e90394-69f5-4237-9190-012177145e10",
        "Global Administrator",
    ),
    (
        "e8611ab8-c189-46e8-94e1-60213ab1f814",
        "Privileged Role Administrator",
    ),
    (
        "7be44c8a-adaf-4e2a-84d6-ab2649e08a13",
        "Privileged Authentication Administrator",
    ),
    (
        "194ae4cb-b126-40b2-bd5b-6091b380977d",
        "Security Administrator",
    ),
    (
        "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3",
        "Application Administrator",
    ),
    (
        "158c047a-c907-4556-b7ef-446551a6b5f7",
        "Cloud Application Administrator",
    ),
    ("fe930be7-5e62-47db-91af-98c3a49a38b1", "User Administrator"),
    (
        "c4e39bd9-1100-46d3-8c65-fb160da0071f",
        "Authentication Administrator",
    ),
    (
        "b1be1c3e-b65d-4f19-8427-f6fa0d97feb9",
        "Conditional Access Administrator",
    ),
    (
        "8ac3fc64-6eca-42ea-9e69-59f4c7b60eb2",
        "Hybrid Identity Administrator",
    ),
    (
        "29232cdf-9323-42fd-ade2-1d097af3e4de",
        "Exchange Administrator",
    ),
    (
        "f28a1f50-f6e7-4571-818b-6a12f2af6b6c",
        "SharePoint Administrator",
    ),
    (
        "3a2c62db-5318-420d-8d74-23affee5d9d5",
        "Intune Administrator",
    ),
    (
        "729827e3-9c14-49f7-bb1b-9608f156bbb8",
        "Helpdesk Administrator",
    ),
    (
        "966707d0-3269-4727-9be2-8c3a10f19b9d",
        "Password Administrator",
    ),
];

/// What the Azure half needs from the Graph half: the wanted users' groups.
pub(crate) type Groups = HashMap<String, Vec<api::Group>>;

pub(crate) async fn collect(
    inst: &MicrosoftInstance,
    http: &Http,
    filter: &dyn AccountFilter,
) -> Result<(SystemSnapshot, Groups), ProbeError> {
    let token = crate::auth::token(inst, http, GRAPH_SCOPE).await?;
    let root = inst.graph_root();
    let api = Api::new(http, token, root.clone());
    let base = format!("{root}/v1.0");

    // The tenant the token is for.
    let opath = "/v1.0/organization";
    let orgs: Vec<api::Organization> = api
        .all(
            format!("{base}/organization?$select=id,displayName,verifiedDomains"),
            opath,
        )
        .await?;
    let org = orgs
        .into_iter()
        .next()
        .ok_or_else(|| bad(format!("{opath}: no organization in the answer")))?;
    let ours = org.id.eq_ignore_ascii_case(&inst.tenant)
        || org
            .verified_domains
            .iter()
            .any(|d| d.name.eq_ignore_ascii_case(&inst.tenant));
    if !ours {
        return Err(ProbeError::Permission(format!(
            "the token is for tenant {} ({}), not the configured tenant {}",
            org.id,
            org.display_name.as_deref().unwrap_or("no name"),
            inst.tenant
        )));
    }

    let count = user_count(&api, &base).await?;
    if count == 0 {
        return Err(ProbeError::Permission(format!(
            "/users/$count is 0: app {} sees no user in tenant {} (it needs User.Read.All)",
            inst.client_id, org.id
        )));
    }
    let mut snap = SystemSnapshot::new(
        SYSTEM,
        &inst.name,
        Some(format!("app {} in tenant {}", inst.client_id, org.id)),
    );
    snap.title = org.display_name.clone();
    snap.entitlement_kinds = vec!["microsoft:group".into(), "microsoft:role".into()];
    snap.context.insert("tenant".into(), org.id.clone());

    // Plan: the listing's pages against the lookups' requests.
    let cands = filter.candidates(SYSTEM);
    let pages = count.div_ceil(PAGE);
    let lookups = (cands.emails.len().div_ceil(EMAILS_PER_LOOKUP)
        + cands.logins.len().div_ceil(LOGINS_PER_LOOKUP)
        + cands.external_ids.len().div_ceil(IDS_PER_LOOKUP)) as u64;
    let targeted = match inst.strategy {
        Strategy::Auto => lookups < pages,
        Strategy::List => false,
        Strategy::Lookup => true,
    };
    let configured = if inst.strategy == Strategy::Auto {
        ""
    } else {
        ", as configured"
    };
    snap.notes.push(if targeted {
        format!("planner: lookups{configured} ({lookups} $filter requests against a listing of {pages} page(s) for {count} users)")
    } else {
        format!("planner: listing{configured} ({pages} page(s) for {count} users; {lookups} lookups would have been needed)")
    });

    // Users, with sign-in activity when the tenant and the app allow it.
    let upath = "/v1.0/users";
    let users = match read_users(&api, &base, targeted, &cands, true).await {
        Ok(u) => u,
        Err(first @ ProbeError::Permission(_)) => {
            // Without AuditLog.Read.All or a P1/P2 licence `signInActivity` is refused, not
            // omitted; read the users without it and name what is unknown.
            let users = read_users(&api, &base, targeted, &cands, false).await?;
            snap.gaps.push(Gap::severity(
                "signInActivity (last sign-in: needs AuditLog.Read.All and an Entra ID P1 or P2 licence)",
                &[USER_ENABLED],
                first,
            ));
            snap.notes
                .push("sign-in activity unknown: used after departure cannot be told".into());
            users
        }
        Err(e) => return Err(e),
    };
    let mut seen = BTreeSet::new();
    let users: Vec<api::User> = users
        .into_iter()
        .filter(|u| seen.insert(u.id.to_ascii_lowercase()))
        .collect();
    if targeted {
        snap.looked_up = Some(cands.clone());
    } else if users.len() as u64 != count {
        // `$count` is eventually consistent: one more read before calling it a gap.
        let again = user_count(&api, &base).await?;
        if users.len() as u64 != again {
            return Err(bad(format!(
                "{upath}: the listing returned {} users but /users/$count says {again}: the list does not add up",
                users.len()
            )));
        }
    }
    snap.accounts_enumerated = users.len() as u64;
    let mut accounts: Vec<Account> = users.iter().map(user_account).collect::<Result<_, _>>()?;

    // Directory roles of the tenant, once.
    let dpath = "/v1.0/roleManagement/directory/roleDefinitions";
    let apath = "/v1.0/roleManagement/directory/roleAssignments";
    let (defs, assigned) = futures::join!(
        api.all::<api::RoleDefinition>(
            format!("{base}/roleManagement/directory/roleDefinitions?$select=id,displayName,templateId,isBuiltIn"),
            dpath
        ),
        api.all::<api::RoleAssignment>(
            format!("{base}/roleManagement/directory/roleAssignments"),
            apath
        ),
    );
    let roles = match (defs, assigned) {
        (Ok(d), Ok(a)) => Some((d, a)),
        (Err(e), _) | (_, Err(e)) => {
            snap.gaps
                .push(Gap::blocks(apath, &[DIRECTORY_ROLE_CHECK], e.clone()));
            snap.gaps.push(Gap::severity(apath, &[USER_ENABLED], e));
            None
        }
    };

    // The wanted users' groups, apps, grants and app roles.
    let wanted: Vec<(usize, String)> = accounts
        .iter()
        .enumerate()
        .filter(|(_, a)| filter.wants(a))
        .map(|(i, a)| (i, a.id.clone()))
        .collect();
    let details = residual_probe::bounded(
        inst.concurrency,
        wanted.into_iter().map(|(i, id)| {
            let api = &api;
            let base = &base;
            async move {
                let u = format!("{base}/users/{}", encode(&id));
                let (groups, apps, sps, grants, app_roles) = futures::join!(
                    api.all::<api::Group>(
                        format!("{u}/transitiveMemberOf/microsoft.graph.group?$select=id,displayName"),
                        "/v1.0/users/{id}/transitiveMemberOf/microsoft.graph.group"
                    ),
                    api.all::<api::AppObject>(
                        format!("{u}/ownedObjects/microsoft.graph.application?$select=id,appId,displayName,createdDateTime,passwordCredentials,keyCredentials"),
                        "/v1.0/users/{id}/ownedObjects/microsoft.graph.application"
                    ),
                    api.all::<api::AppObject>(
                        format!("{u}/ownedObjects/microsoft.graph.servicePrincipal?$select=id,appId,displayName,servicePrincipalType,passwordCredentials,keyCredentials"),
                        "/v1.0/users/{id}/ownedObjects/microsoft.graph.servicePrincipal"
                    ),
                    api.all::<api::OAuth2PermissionGrant>(
                        format!("{u}/oauth2PermissionGrants"),
                        "/v1.0/users/{id}/oauth2PermissionGrants"
                    ),
                    api.all::<api::AppRoleAssignment>(
                        format!("{u}/appRoleAssignments"),
                        "/v1.0/users/{id}/appRoleAssignments"
                    ),
                );
                Ok::<_, ProbeError>((i, groups, apps, sps, grants, app_roles))
            }
        }),
    )
    .await?;

    // Names of the apps grants were given to, and of the APIs they reach.
    let mut sp_ids: BTreeSet<String> = BTreeSet::new();
    for (_, _, _, _, grants, _) in &details {
        for g in grants.iter().flatten() {
            sp_ids.insert(g.client_id.clone());
            sp_ids.extend(g.resource_id.clone());
        }
    }
    let names: HashMap<String, String> = residual_probe::bounded(
        inst.concurrency,
        sp_ids.into_iter().map(|id| {
            let api = &api;
            let base = &base;
            async move {
                // A name is evidence, not coverage: an unreadable one leaves the id.
                let sp: Result<api::ServicePrincipalName, _> = api
                    .get(
                        format!(
                            "{base}/servicePrincipals/{}?$select=id,displayName",
                            encode(&id)
                        ),
                        "/v1.0/servicePrincipals/{id}",
                    )
                    .await;
                Ok::<_, ProbeError>(sp.ok().and_then(|s| s.display_name.map(|n| (id, n))))
            }
        }),
    )
    .await?
    .into_iter()
    .flatten()
    .collect();

    let mut groups_of: Groups = HashMap::new();
    let mut owned: BTreeMap<String, Account> = BTreeMap::new();
    for (i, groups, apps, sps, grants, app_roles) in details {
        let a = &mut accounts[i];
        a.detailed = true;
        let uid = a.id.clone();
        let blocked = |what: &str, checks: &[residual_probe::CheckId], e: ProbeError| {
            Gap::blocks(what, checks, e).for_account(uid.clone())
        };
        match groups {
            Ok(g) => {
                for x in &g {
                    a.entitlements.push(residual_probe::Entitlement::new(
                        "microsoft",
                        "group",
                        x.display_name.as_deref().unwrap_or(&x.id),
                        false,
                    ));
                }
                if !g.is_empty() {
                    let mut names: Vec<&str> = g
                        .iter()
                        .map(|x| x.display_name.as_deref().unwrap_or(&x.id))
                        .collect();
                    names.sort_unstable();
                    a.attributes.insert("groups".into(), names.join("; "));
                }
                groups_of.insert(uid.clone(), g);
            }
            Err(e) => {
                // Roles held through a group cannot be told.
                snap.gaps.push(blocks_with(
                    "/v1.0/users/{id}/transitiveMemberOf",
                    &[DIRECTORY_ROLE_CHECK, crate::AZURE_ROLE_CHECK],
                    e.clone(),
                    &uid,
                ));
                snap.gaps.push(
                    Gap::severity("/v1.0/users/{id}/transitiveMemberOf", &[USER_ENABLED], e)
                        .for_account(uid.clone()),
                );
            }
        }
        for (kind, list, path) in [
            (
                APPLICATION,
                apps,
                "/v1.0/users/{id}/ownedObjects/microsoft.graph.application",
            ),
            (
                SERVICE_PRINCIPAL,
                sps,
                "/v1.0/users/{id}/ownedObjects/microsoft.graph.servicePrincipal",
            ),
        ] {
            match list {
                Ok(objs) => {
                    for o in &objs {
                        let refs = owner_refs(a);
                        match owned.get_mut(&o.id) {
                            Some(x) => {
                                for r in refs {
                                    if !x.owner_refs.contains(&r) {
                                        x.owner_refs.push(r);
                                    }
                                }
                            }
                            None => {
                                let mut x = app_account(kind, o)?;
                                x.owner_refs = refs;
                                owned.insert(o.id.clone(), x);
                            }
                        }
                    }
                }
                Err(e) => snap.gaps.push(blocked(path, &[APP_OWNED], e)),
            }
        }
        match grants {
            Ok(list) => {
                for g in &list {
                    a.credentials.push(grant_credential(g, &names));
                }
            }
            Err(e) => snap.gaps.push(blocked(
                "/v1.0/users/{id}/oauth2PermissionGrants",
                &[OAUTH2_GRANT_CHECK],
                e,
            )),
        }
        match app_roles {
            Ok(list) => {
                for r in &list {
                    snap.assets.push(app_role_asset(a, r, &root)?);
                }
            }
            Err(e) => snap.gaps.push(blocked(
                "/v1.0/users/{id}/appRoleAssignments",
                &[APP_ROLE_CHECK],
                e,
            )),
        }
    }

    // Directory role assignments of the wanted users, direct or through a group.
    if let Some((defs, assigned)) = &roles {
        let by_id: HashMap<&str, &api::RoleDefinition> =
            defs.iter().map(|d| (d.id.as_str(), d)).collect();
        for a in accounts.iter_mut().filter(|a| a.detailed) {
            let groups = groups_of.get(&a.id).cloned().unwrap_or_default();
            for r in assigned {
                let via = if r.principal_id.eq_ignore_ascii_case(&a.id) {
                    None
                } else if let Some(g) = groups
                    .iter()
                    .find(|g| g.id.eq_ignore_ascii_case(&r.principal_id))
                {
                    Some(g)
                } else {
                    continue;
                };
                let def = by_id.get(r.role_definition_id.as_str()).copied();
                let x = directory_role_asset(a, r, def, via, &root);
                a.privileges.extend(x.privileges.iter().cloned());
                if let Some(role) = x.attributes.get("role") {
                    let mut e = residual_probe::Entitlement::new(
                        "microsoft",
                        "role",
                        role,
                        !x.privileges.is_empty(),
                    );
                    e.via = via
                        .map(|g| format!("group {}", g.display_name.as_deref().unwrap_or(&g.id)));
                    a.entitlements.push(e);
                }
                snap.assets.push(x);
            }
        }
    }

    snap.accounts = accounts;
    snap.accounts.extend(owned.into_values());
    snap.accounts.sort_by(|a, b| a.id.cmp(&b.id));
    snap.assets.sort_by(|a, b| a.id.cmp(&b.id));
    identify(&mut snap);
    Ok((snap, groups_of))
}

fn blocks_with(what: &str, checks: &[residual_probe::CheckId], e: ProbeError, uid: &str) -> Gap {
    Gap::blocks(what, checks, e).for_account(uid.to_string())
}

/// Entra users carry their UPN, mail, other mails, proxy addresses and employee id.
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

async fn user_count(api: &Api<'_>, base: &str) -> Result<u64, ProbeError> {
    let path = "/v1.0/users/$count";
    let r = api.send(format!("{base}/users/$count"), path, true).await?;
    if !(200..300).contains(&r.status) {
        return Err(crate::classify(path, &r));
    }
    let text = String::from_utf8_lossy(&r.body);
    text.trim().parse().map_err(|_| {
        bad(format!(
            "{path}: not a count: {:?}",
            residual_probe::text::printable(&text.chars().take(40).collect::<String>())
        ))
    })
}

/// A literal for `$filter`: single quotes doubled, the whole percent-encoded later.
fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

async fn read_users(
    api: &Api<'_>,
    base: &str,
    targeted: bool,
    cands: &residual_probe::Candidates,
    sign_in: bool,
) -> Result<Vec<api::User>, ProbeError> {
    let select = if sign_in {
        format!("{SELECT},signInActivity")
    } else {
        SELECT.to_string()
    };
    let path = "/v1.0/users";
    if !targeted {
        return api
            .all(format!("{base}/users?$select={select}&$top={PAGE}"), path)
            .await;
    }
    let mut filters: Vec<String> = cands
        .emails
        .chunks(EMAILS_PER_LOOKUP)
        .map(|chunk| {
            chunk
                .iter()
                .flat_map(|e| {
                    let l = lit(e);
                    let p = lit(&format!("smtp:{e}"));
                    [
                        format!("userPrincipalName eq {l}"),
                        format!("mail eq {l}"),
                        format!("otherMails/any(m:m eq {l})"),
                        format!("proxyAddresses/any(p:p eq {p})"),
                    ]
                })
                .collect::<Vec<_>>()
                .join(" or ")
        })
        .collect();
    // Handles (an `entra_upn` column) and the usernames leavers may have on premises (email
    // local parts, aliases): what the listing would have matched them by.
    filters.extend(cands.logins.chunks(LOGINS_PER_LOOKUP).map(|chunk| {
        chunk
            .iter()
            .map(|l| {
                if l.contains('@') {
                    format!("userPrincipalName eq {}", lit(l))
                } else {
                    format!("onPremisesSamAccountName eq {}", lit(l))
                }
            })
            .collect::<Vec<_>>()
            .join(" or ")
    }));
    filters.extend(cands.external_ids.chunks(IDS_PER_LOOKUP).map(|chunk| {
        chunk
            .iter()
            .map(|x| format!("employeeId eq {}", lit(x)))
            .collect::<Vec<_>>()
            .join(" or ")
    }));
    let found = residual_probe::bounded(
        8,
        filters.into_iter().map(|f| {
            let url = format!(
                "{base}/users?$select={select}&$top={PAGE}&$filter={}",
                encode(&f)
            );
            async move { api.all::<api::User>(url, path).await }
        }),
    )
    .await?;
    Ok(found.into_iter().flatten().collect())
}

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
fn owner_refs(a: &Account) -> Vec<OwnerRef> {
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

fn app_role_asset(
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
