//! Azure RBAC through Resource Manager: per subscription (the configured ones, or every one
//! the app can see), its role definitions and every role assignment at, above or below it.
//! An assignment whose principal is a wanted user, or a group that user is in, is an asset
//! trusting the user: one finding per assignment × leaver.
//!
//! Nothing quiet is trusted: a configured subscription that cannot be read, a listing that
//! shows no subscription at all, or a subscription whose assignments cannot be read is a gap
//! that blocks the Azure check for every leaver of the tenant.

use std::collections::{BTreeSet, HashMap};

use residual_probe::http::{encode, Http};
use residual_probe::{Gap, ProbeError, SystemSnapshot};

use crate::auth::ARM_SCOPE;
use crate::graph::Groups;
use crate::{api, Api, MicrosoftInstance, Subscriptions, AZURE_ROLE, AZURE_ROLE_CHECK};

const SUBSCRIPTIONS_API: &str = "2022-12-01";
const AUTHORIZATION_API: &str = "2022-04-01";

/// Built-in roles that can change what they are assigned over or who may (role definition
/// ids, the same in every tenant): a leaver holding one is critical.
pub const PRIVILEGED_ROLES: &[(&str, &str)] = &[
    ("8e3af657-a8ff-443c-a75c-2fe8c4bcb635", "Owner"),
    ("b24988ac-6180-42a0-ab88-20f7382dd24c", "Contributor"),
    (
        "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9",
        "User Access Administrator",
    ),
    (
        "f58310d9-a9f6-439a-9e8d-f62e7b41a168",
        "Role Based Access Control Administrator",
    ),
];

pub(crate) async fn collect(
    inst: &MicrosoftInstance,
    http: &Http,
    snap: &mut SystemSnapshot,
    groups: &Groups,
) -> Result<(), ProbeError> {
    match read(inst, http, snap, groups).await {
        Ok(()) => Ok(()),
        // Azure unreadable: the Entra findings stand, the Azure check is blocked for everyone.
        Err(e @ ProbeError::Config(_)) => Err(e),
        Err(e) => {
            snap.gaps.push(Gap::blocks(
                "Azure role assignments",
                &[AZURE_ROLE_CHECK],
                e,
            ));
            Ok(())
        }
    }
}

async fn read(
    inst: &MicrosoftInstance,
    http: &Http,
    snap: &mut SystemSnapshot,
    groups: &Groups,
) -> Result<(), ProbeError> {
    let token = crate::auth::token(inst, http, ARM_SCOPE).await?;
    let root = inst.arm_root();
    let api = Api::new(http, token, root.clone());
    let spath = "/subscriptions";
    let subs: Vec<api::Subscription> = match &inst.subscriptions {
        Subscriptions::None => return Ok(()),
        Subscriptions::All => {
            let subs: Vec<api::Subscription> = api
                .all(
                    format!("{root}/subscriptions?api-version={SUBSCRIPTIONS_API}"),
                    spath,
                )
                .await?;
            if subs.is_empty() {
                return Err(ProbeError::Permission(format!(
                    "{spath}: app {} sees no Azure subscription: give it Reader on the subscriptions to scan (or set azure = false)",
                    inst.client_id
                )));
            }
            subs
        }
        Subscriptions::Listed(ids) => {
            residual_probe::bounded(
                inst.concurrency,
                ids.clone().into_iter().map(|id| {
                    let api = &api;
                    let root = &root;
                    async move {
                        api.get::<api::Subscription>(
                            format!(
                                "{root}/subscriptions/{}?api-version={SUBSCRIPTIONS_API}",
                                encode(&id)
                            ),
                            "/subscriptions/{subscriptionId}",
                        )
                        .await
                    }
                }),
            )
            .await?
        }
    };
    let ids: Vec<String> = subs.iter().map(|s| s.subscription_id.clone()).collect();
    let read = residual_probe::bounded(
        inst.concurrency,
        ids.into_iter().map(|id| {
            let api = &api;
            let root = &root;
            async move {
                let sub = format!("{root}/subscriptions/{}", encode(&id));
                let (defs, assigned) = futures::join!(
                    api.all::<api::AzureRoleDefinition>(
                        format!("{sub}/providers/Microsoft.Authorization/roleDefinitions?api-version={AUTHORIZATION_API}"),
                        "/subscriptions/{subscriptionId}/providers/Microsoft.Authorization/roleDefinitions"
                    ),
                    api.all::<api::AzureRoleAssignment>(
                        format!("{sub}/providers/Microsoft.Authorization/roleAssignments?api-version={AUTHORIZATION_API}"),
                        "/subscriptions/{subscriptionId}/providers/Microsoft.Authorization/roleAssignments"
                    ),
                );
                Ok::<_, ProbeError>((id, defs?, assigned?))
            }
        }),
    )
    .await?;

    // Who the assignments can reach: wanted users directly, or through their groups.
    let mut reach: HashMap<String, Vec<(String, Option<api::Group>)>> = HashMap::new();
    for a in snap
        .accounts
        .iter()
        .filter(|a| a.detailed && a.resource_type == crate::USER)
    {
        reach
            .entry(a.id.to_ascii_lowercase())
            .or_default()
            .push((a.id.clone(), None));
        for g in groups.get(&a.id).into_iter().flatten() {
            reach
                .entry(g.id.to_ascii_lowercase())
                .or_default()
                .push((a.id.clone(), Some(g.clone())));
        }
    }
    let names: HashMap<String, String> = snap
        .accounts
        .iter()
        .map(|a| (a.id.clone(), a.name.clone()))
        .collect();
    let sub_names: HashMap<String, String> = subs
        .iter()
        .map(|s| {
            (
                s.subscription_id.to_ascii_lowercase(),
                s.display_name
                    .clone()
                    .unwrap_or_else(|| s.subscription_id.clone()),
            )
        })
        .collect();
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut total = 0usize;
    for (sub, defs, assigned) in &read {
        let roles: HashMap<String, String> = defs
            .iter()
            .flat_map(|d| {
                let guid = d
                    .name
                    .clone()
                    .unwrap_or_else(|| last_segment(&d.id).to_string())
                    .to_ascii_lowercase();
                [
                    (d.id.to_ascii_lowercase(), d.properties.role_name.clone()),
                    (guid, d.properties.role_name.clone()),
                ]
            })
            .collect();
        total += assigned.len();
        for r in assigned {
            // Assignments above the subscription show in each subscription's listing.
            if !seen.insert(r.id.to_ascii_lowercase()) {
                continue;
            }
            let p = &r.properties;
            let Some(holders) = reach.get(&p.principal_id.to_ascii_lowercase()) else {
                continue;
            };
            let guid = last_segment(&p.role_definition_id).to_ascii_lowercase();
            let role = roles
                .get(&p.role_definition_id.to_ascii_lowercase())
                .or_else(|| roles.get(&guid))
                .cloned()
                .unwrap_or_else(|| format!("role {guid}"));
            for (uid, via) in holders {
                let user = names.get(uid).cloned().unwrap_or_else(|| uid.clone());
                let sub_name = sub_names
                    .get(&sub.to_ascii_lowercase())
                    .cloned()
                    .unwrap_or_else(|| sub.clone());
                let x = role_asset(
                    r,
                    &role,
                    uid,
                    &user,
                    via.as_ref(),
                    &sub_name,
                    &inst.graph_root(),
                    &root,
                )?;
                snap.assets.push(x);
            }
        }
    }
    snap.notes.push(format!(
        "Azure: {} subscription(s), {total} role assignment(s) read",
        subs.len()
    ));
    snap.assets.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(())
}

/// One assignment as reaching one user (directly, or through `via`).
#[allow(clippy::too_many_arguments)]
pub(crate) fn role_asset(
    r: &api::AzureRoleAssignment,
    role: &str,
    uid: &str,
    user: &str,
    via: Option<&api::Group>,
    subscription: &str,
    graph_root: &str,
    arm_root: &str,
) -> Result<residual_probe::Asset, ProbeError> {
    let p = &r.properties;
    let guid = last_segment(&p.role_definition_id).to_ascii_lowercase();
    let id = match via {
        None => r.id.clone(),
        Some(_) => format!("{}#member:{uid}", r.id),
    };
    let mut x =
        residual_probe::demo::asset(AZURE_ROLE, &id, &format!("{role} on {} ({user})", p.scope));
    x.trusted_principals = vec![uid.to_string()];
    x.created_at = crate::time_of("roleAssignment createdOn", &p.created_on)?;
    if PRIVILEGED_ROLES.iter().any(|(g, _)| *g == guid) {
        x.privileges = vec![format!("Azure {role} on {}", p.scope)];
    }
    x.attributes.insert("role".into(), role.to_string());
    x.attributes.insert("scope".into(), p.scope.clone());
    x.attributes
        .insert("subscription".into(), subscription.to_string());
    if let Some(c) = p.condition.as_deref().filter(|c| !c.is_empty()) {
        x.attributes.insert("condition".into(), c.to_string());
    }
    let (via_text, removal) = match via {
        Some(g) => (
            format!(
                "membership of group {} ({}), which holds the assignment",
                g.display_name.as_deref().unwrap_or(&g.id),
                g.id
            ),
            format!(
                "{graph_root}/v1.0/groups/{}/members/{}/$ref",
                encode(&g.id),
                encode(uid)
            ),
        ),
        None => (
            "a direct role assignment".into(),
            format!("{arm_root}{}?api-version={AUTHORIZATION_API}", r.id),
        ),
    };
    x.attributes.insert(format!("via:{uid}"), via_text);
    x.attributes.insert("removal_url".into(), removal);
    Ok(x)
}

fn last_segment(id: &str) -> &str {
    id.rsplit('/').next().unwrap_or(id)
}
