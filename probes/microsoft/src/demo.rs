//! The demo estate's Microsoft tenant, built from wire-shaped records through the probe's own
//! conversions:
//! - alice was never disabled, holds Global Administrator and signed in after she left;
//! - carol is disabled, but owns the "Billing Export" app registration, whose client secret
//!   predates her departure, and a mail client still holds her delegated consent;
//! - erin is disabled, and a group she is in still holds Owner on subscription demo-prod;
//! - dave is disabled (clean); frank leaves in the future.

use std::collections::HashMap;

use residual_probe::demo::{instance, AS_OF};
use residual_probe::{OwnerRef, SystemSnapshot};
use serde_json::json;

use crate::{api, azure, estate, graph, SYSTEM};

fn from<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> T {
    serde_json::from_value(v).expect("demo record")
}

const ROOT: &str = "https://graph.microsoft.com";

pub fn demo() -> Vec<SystemSnapshot> {
    let user = |id: &str, email: &str, enabled: bool, last: &str, emp: &str| -> api::User {
        from(json!({
            "id": id, "userPrincipalName": email, "mail": email, "accountEnabled": enabled,
            "employeeId": emp, "createdDateTime": "2023-03-01T09:00:00Z", "userType": "Member",
            "signInActivity": {"lastSuccessfulSignInDateTime": last},
        }))
    };
    let users = [
        user(
            "00000000-0000-4000-8000-00000000d001",
            "it-admin@demo.example",
            true,
            "2026-11-25T08:00:00Z",
            "E0001",
        ),
        user(
            "00000000-0000-4000-8000-00000000d002",
            "alice@demo.example",
            true,
            "2026-11-21T07:45:00Z",
            "E1001",
        ),
        user(
            "00000000-0000-4000-8000-00000000d003",
            "carol@demo.example",
            false,
            "2026-09-29T17:00:00Z",
            "E1003",
        ),
        user(
            "00000000-0000-4000-8000-00000000d004",
            "dave@demo.example",
            false,
            "2026-11-19T17:00:00Z",
            "E1004",
        ),
        user(
            "00000000-0000-4000-8000-00000000d005",
            "erin@demo.example",
            false,
            "2026-10-30T16:00:00Z",
            "E1005",
        ),
        user(
            "00000000-0000-4000-8000-00000000d006",
            "frank@demo.example",
            true,
            "2026-11-25T09:00:00Z",
            "E1006",
        ),
    ];
    let mut accounts: Vec<_> = users
        .iter()
        .map(|u| {
            let mut a = estate::user_account(u).expect("demo user converts");
            a.detailed = true;
            a
        })
        .collect();

    // alice: Global Administrator, directly.
    let defs: Vec<api::RoleDefinition> = from(json!([{
        "id": "62e90394-69f5-4237-9190-012177145e10", "displayName": "Global Administrator",
        "templateId": "62e90394-69f5-4237-9190-012177145e10", "isBuiltIn": true}]));
    let ga: api::RoleAssignment = from(json!({"id": "ra-alice-global-admin",
        "principalId": "00000000-0000-4000-8000-00000000d002",
        "roleDefinitionId": "62e90394-69f5-4237-9190-012177145e10", "directoryScopeId": "/"}));
    let mut assets = vec![estate::directory_role_asset(
        &accounts[1],
        &ga,
        defs.first(),
        None,
        ROOT,
    )];
    accounts[1].privileges.extend(assets[0].privileges.clone());

    // carol: a mail client's delegated consent, and the app she owns.
    let grant: api::OAuth2PermissionGrant = from(json!({
        "id": "Tb3rUj9rR0W0x6CSfKqKcSPxQmOZP6FKm5w0xzo7c3Y", "clientId": "6c1e0a5e-0000-4000-8000-00000000aa01",
        "consentType": "Principal", "principalId": "00000000-0000-4000-8000-00000000d003",
        "resourceId": "6c1e0a5e-0000-4000-8000-00000000aa02", "scope": "Mail.Read offline_access"}));
    let names: HashMap<String, String> = [
        (
            "6c1e0a5e-0000-4000-8000-00000000aa01".to_string(),
            "Spark Mail".to_string(),
        ),
        (
            "6c1e0a5e-0000-4000-8000-00000000aa02".to_string(),
            "Microsoft Graph".to_string(),
        ),
    ]
    .into();
    accounts[2]
        .credentials
        .push(estate::grant_credential(&grant, &names));
    let app: api::AppObject = from(json!({
        "id": "6c1e0a5e-0000-4000-8000-00000000ab01", "appId": "6c1e0a5e-0000-4000-8000-00000000ab02",
        "displayName": "Billing Export", "createdDateTime": "2025-01-10T10:00:00Z",
        "passwordCredentials": [{"keyId": "6c1e0a5e-0000-4000-8000-00000000ab03", "displayName": "prod",
            "startDateTime": "2025-01-10T10:00:00Z", "endDateTime": "2027-01-10T10:00:00Z"}],
        "keyCredentials": []}));
    let mut billing = estate::app_account(crate::APPLICATION, &app).expect("demo app converts");
    billing.owner_refs = vec![OwnerRef {
        key: "owner".into(),
        value: "carol@demo.example".into(),
    }];

    // erin: Owner of demo-prod through the Platform Admins group.
    let owner: api::AzureRoleAssignment = from(json!({
        "id": "/subscriptions/22222222-0000-4000-8000-000000000001/providers/Microsoft.Authorization/roleAssignments/7f0c2b1a-0000-4000-8000-00000000ac01",
        "properties": {"roleDefinitionId": "/subscriptions/22222222-0000-4000-8000-000000000001/providers/Microsoft.Authorization/roleDefinitions/8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
            "principalId": "7f0c2b1a-0000-4000-8000-00000000ac02", "principalType": "Group",
            "scope": "/subscriptions/22222222-0000-4000-8000-000000000001",
            "createdOn": "2025-06-01T00:00:00Z"}}));
    let platform: api::Group = from(json!({"id": "7f0c2b1a-0000-4000-8000-00000000ac02",
        "displayName": "Platform Admins"}));
    accounts[4]
        .attributes
        .insert("groups".into(), "Platform Admins".into());
    assets.push(
        azure::role_asset(
            &owner,
            "Owner",
            &accounts[4].id,
            &accounts[4].name,
            Some(&platform),
            "demo-prod",
            ROOT,
            "https://management.azure.com",
        )
        .expect("demo assignment converts"),
    );
    accounts.push(billing);
    let mut snap = instance(
        SYSTEM,
        "demo.onmicrosoft.com",
        "app 6c1e0a5e-0000-4000-8000-0000000000ff in tenant 6c1e0a5e-0000-4000-8000-000000000000",
        AS_OF - time::Duration::seconds(5),
        27,
        accounts,
        assets,
    );
    snap.accounts_enumerated = 6;
    snap.title = Some("Demo Corp".into());
    snap.context.insert(
        "tenant".into(),
        "6c1e0a5e-0000-4000-8000-000000000000".into(),
    );
    graph::identify(&mut snap);
    vec![snap]
}
