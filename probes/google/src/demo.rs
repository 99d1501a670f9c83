//! The demo estate's Google customer, built from wire-shaped records through the probe's own
//! conversions:
//! - Workspace: alice was never suspended, signed in after she left, and granted Zapier her
//!   Drive; carol is suspended, but an app password she made was used after she left and a
//!   mail client still holds a grant; dave is archived (clean); frank leaves in the future.
//! - Cloud: alice still owns project demo-prod; henry's deleted identity keeps a viewer
//!   binding; erin owned the ETL service account, whose key predates her departure.

use residual_probe::demo::{instance, AS_OF};
use residual_probe::SystemSnapshot;
use serde_json::json;

use crate::{api, cloud, workspace, SYSTEM};

fn from<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> T {
    serde_json::from_value(v).expect("demo record")
}

fn user(
    id: &str,
    email: &str,
    suspended: bool,
    archived: bool,
    last: &str,
    emp: &str,
) -> api::User {
    from(json!({
        "id": id, "primaryEmail": email, "suspended": suspended, "archived": archived,
        "isAdmin": false, "lastLoginTime": last, "creationTime": "2023-03-01T09:00:00.000Z",
        "externalIds": [{"value": emp, "type": "organization"}], "orgUnitPath": "/",
    }))
}

pub fn demo() -> Vec<SystemSnapshot> {
    let users = [
        user(
            "100000000000000000001",
            "ops-admin@demo.example",
            false,
            false,
            "2026-11-25T08:00:00.000Z",
            "E0001",
        ),
        user(
            "100000000000000000002",
            "alice@demo.example",
            false,
            false,
            "2026-11-20T22:10:00.000Z",
            "E1001",
        ),
        user(
            "100000000000000000003",
            "carol@demo.example",
            true,
            false,
            "2026-09-29T17:00:00.000Z",
            "E1003",
        ),
        user(
            "100000000000000000004",
            "dave@demo.example",
            false,
            true,
            "2026-11-19T17:00:00.000Z",
            "E1004",
        ),
        user(
            "100000000000000000006",
            "frank@demo.example",
            false,
            false,
            "2026-11-25T09:00:00.000Z",
            "E1006",
        ),
    ];
    let mut accounts: Vec<_> = users
        .iter()
        .map(|u| {
            let mut a = workspace::user_account(u).expect("demo user converts");
            a.detailed = true;
            a
        })
        .collect();
    let grant = |client: &str, name: &str, scopes: &[&str]| -> api::Token {
        from(json!({"clientId": client, "displayText": name, "scopes": scopes}))
    };
    accounts[1]
        .credentials
        .push(workspace::grant_credential(&grant(
            "1234567890-zapier.apps.googleusercontent.com",
            "Zapier",
            &["https://www.googleapis.com/auth/drive", "openid"],
        )));
    accounts[2]
        .credentials
        .push(workspace::grant_credential(&grant(
            "98765-superhuman.apps.googleusercontent.com",
            "Superhuman",
            &["https://mail.google.com/"],
        )));
    let asp: api::Asp = from(json!({"codeId": 1, "name": "Thunderbird",
        "creationTime": "1740823200000", "lastTimeUsed": "1794730200000"}));
    accounts[2]
        .credentials
        .push(workspace::asp_credential(&asp).expect("demo asp converts"));
    let mut ws = instance(
        SYSTEM,
        "demo.example",
        "service account residual@demo-sec.iam.gserviceaccount.com acting as ops-admin@demo.example (super admin)",
        AS_OF - time::Duration::seconds(4),
        19,
        accounts,
        vec![],
    );
    ws.context.insert("customer".into(), "C0demo123".into());
    workspace::identify(&mut ws);

    let policy = |resource: &str, role: &str, members: &[&str]| -> api::IamPolicySearchResult {
        from(
            json!({"resource": resource, "assetType": "cloudresourcemanager.googleapis.com/Project",
            "policy": {"bindings": [{"role": role, "members": members}]}}),
        )
    };
    let owner = policy(
        "//cloudresourcemanager.googleapis.com/projects/demo-prod",
        "roles/owner",
        &["user:alice@demo.example", "user:ops-admin@demo.example"],
    );
    let viewer = policy(
        "//cloudresourcemanager.googleapis.com/projects/demo-data",
        "roles/viewer",
        &["deleted:user:henry@demo.example?uid=100000000000000000008"],
    );
    let mut members = Vec::new();
    let mut assets = Vec::new();
    for p in [&owner, &viewer] {
        for b in &p.policy.bindings {
            let users: Vec<&String> = b.members.iter().collect();
            members.extend(users.iter().map(|m| cloud::member_account(m)));
            assets.push(cloud::binding_asset(p, b, &users));
        }
    }
    let sa: api::ResourceSearchResult = from(json!({
        "name": "//iam.googleapis.com/projects/demo-data/serviceAccounts/110000000000000000001",
        "project": "projects/2002", "displayName": "ETL", "state": "ENABLED",
        "description": "Nightly ETL. owner: erin@demo.example",
        "additionalAttributes": {"email": "etl@demo-data.iam.gserviceaccount.com"},
        "createTime": "2025-02-01T00:00:00Z"
    }));
    let mut etl = cloud::sa_account(&sa, &["owner".to_string()]).expect("demo service account");
    let key: api::ServiceAccountKey = from(json!({
        "name": "projects/demo-data/serviceAccounts/etl@demo-data.iam.gserviceaccount.com/keys/3f1e0c2d9b8a7f6e5d4c3b2a19081726",
        "validAfterTime": "2025-02-01T00:00:00Z", "validBeforeTime": "9999-12-31T23:59:59Z",
        "keyType": "USER_MANAGED"
    }));
    etl.credentials
        .push(cloud::key_credential(&key).expect("demo key"));
    etl.detailed = true;
    members.push(etl);
    let mut gcp = instance(
        SYSTEM,
        "demo.example/cloud",
        "service account residual@demo-sec.iam.gserviceaccount.com",
        AS_OF - time::Duration::seconds(3),
        4,
        members,
        assets,
    );
    gcp.title = Some("organization 200000000001".into());
    cloud::identify(&mut gcp);
    vec![ws, gcp]
}
