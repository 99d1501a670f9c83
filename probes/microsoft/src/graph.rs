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
use residual_probe::{Account, AccountFilter, Gap, Identifier, ProbeError, SystemSnapshot};

use crate::auth::GRAPH_SCOPE;
use crate::estate::{
    app_account, app_role_asset, directory_role_asset, grant_credential, owner_refs, user_account,
};
use crate::{api, bad, Api, MicrosoftInstance, Strategy};
use crate::{
    APPLICATION, APP_OWNED, APP_ROLE_CHECK, DIRECTORY_ROLE_CHECK, OAUTH2_GRANT_CHECK,
    SERVICE_PRINCIPAL, SYSTEM, USER_ENABLED,
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
