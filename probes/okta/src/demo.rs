//! The demo estate's Okta org, built from wire-shaped records through the same conversions
//! the probe uses (so the demo shows what a real scan would):
//! - gina is still ACTIVE, signed in after she left, and holds SUPER_ADMIN;
//! - carol is SUSPENDED, and an API token she created was used after her departure;
//! - bob's Okta user carries his old-domain login and is found by employee number only;
//! - ivan is DEPROVISIONED, but the chat app is still assigned to him;
//! - henry is DEPROVISIONED and clean here (the chat app kept him: see the SCIM part);
//! - frank is active and leaves in the future; `gina.grayson` is a look-alike staff login.

use residual_probe::demo::{instance, AS_OF};
use residual_probe::SystemSnapshot;
use serde_json::json;

use crate::{api, app_asset, role_asset, token_credential, user_account, SYSTEM};

fn user(
    id: &str,
    login: &str,
    status: &str,
    last_login: Option<&str>,
    emp: Option<&str>,
) -> api::User {
    serde_json::from_value(json!({
        "id": id,
        "status": status,
        "created": "2023-02-01T09:00:00.000Z",
        "lastLogin": last_login,
        "profile": {"login": login, "email": login, "employeeNumber": emp},
    }))
    .expect("demo user")
}

fn app(id: &str, name: &str, label: &str) -> api::AppLink {
    serde_json::from_value(json!({"appInstanceId": id, "appName": name, "label": label}))
        .expect("demo app link")
}

pub fn demo() -> Vec<SystemSnapshot> {
    let users = [
        user(
            "00u1demoadmin",
            "ops-admin@demo.example",
            "ACTIVE",
            Some("2026-11-25T08:00:00.000Z"),
            Some("E0001"),
        ),
        user(
            "00u1demogina",
            "gina@demo.example",
            "ACTIVE",
            Some("2026-11-10T21:14:03.000Z"),
            Some("E1007"),
        ),
        user(
            "00u1democarol",
            "carol@demo.example",
            "SUSPENDED",
            Some("2026-09-29T16:02:00.000Z"),
            Some("E1003"),
        ),
        user(
            "00u1demobob",
            "bsmith@old-demo.example",
            "ACTIVE",
            Some("2026-10-14T12:00:00.000Z"),
            Some("E1002"),
        ),
        user(
            "00u1demoivan",
            "ivan@demo.example",
            "DEPROVISIONED",
            Some("2026-10-31T17:45:00.000Z"),
            Some("E1009"),
        ),
        user(
            "00u1demohenry",
            "henry@demo.example",
            "DEPROVISIONED",
            Some("2026-09-30T10:00:00.000Z"),
            Some("E1008"),
        ),
        user(
            "00u1demofrank",
            "frank@demo.example",
            "ACTIVE",
            Some("2026-11-25T09:30:00.000Z"),
            Some("E1006"),
        ),
        user(
            "00u1demogg",
            "gina.grayson@demo.example",
            "ACTIVE",
            Some("2026-11-25T10:00:00.000Z"),
            Some("E2040"),
        ),
    ];
    let mut accounts: Vec<_> = users
        .iter()
        .map(|u| {
            let mut a = user_account(u).expect("demo user converts");
            a.detailed = true;
            a
        })
        .collect();
    let mut assets = Vec::new();
    let by = |accounts: &[residual_probe::Account], id: &str| {
        accounts
            .iter()
            .position(|a| a.id == id)
            .expect("demo account")
    };

    let gina = by(&accounts, "00u1demogina");
    let admin: api::Role = serde_json::from_value(json!({
        "id": "ra1demogina", "type": "SUPER_ADMIN", "label": "Super Administrator",
        "status": "ACTIVE", "assignmentType": "USER"
    }))
    .expect("demo role");
    let x = role_asset(&accounts[gina], &admin);
    accounts[gina]
        .privileges
        .extend(x.privileges.iter().cloned());
    assets.push(x);
    assets.push(app_asset(
        &accounts[gina],
        &app("0oa1demoaws", "amazon_aws_sso", "AWS IAM Identity Center"),
    ));

    let ivan = by(&accounts, "00u1demoivan");
    assets.push(app_asset(
        &accounts[ivan],
        &app("0oa1demochat", "chat_scim", "Chat"),
    ));

    let carol = by(&accounts, "00u1democarol");
    let token: api::ApiToken = serde_json::from_value(json!({
        "id": "00T1democarol", "name": "terraform-okta", "userId": "00u1democarol",
        "clientName": "Okta API", "created": "2025-04-02T10:00:00.000Z",
        "lastUpdated": "2026-11-21T03:10:00.000Z", "expiresAt": "2027-04-02T10:00:00.000Z"
    }))
    .expect("demo token");
    accounts[carol]
        .credentials
        .push(token_credential(&token).expect("demo token converts"));

    let mut org = instance(
        SYSTEM,
        "demo.okta.example",
        "API token of ops-admin@demo.example (00u1demoadmin) (READ_ONLY_ADMIN, SUPER_ADMIN)",
        AS_OF - time::Duration::seconds(5),
        23,
        accounts,
        assets,
    );
    org.context
        .insert("base_url".into(), "https://demo.okta.example".into());
    crate::identify(&mut org);
    vec![org]
}
