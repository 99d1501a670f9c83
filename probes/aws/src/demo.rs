//! The demo estate's AWS accounts: one readable account with every kind of IAM finding, and
//! one whose inventory timed out (`error` for every leaver, never clean).

use std::collections::BTreeMap;

use residual_probe::demo::credential;
use residual_probe::{
    Account, AccountState, Asset, Credential, OwnerRef, ProbeError, SystemSnapshot,
};
use time::macros::datetime;

use crate::{
    ACCESS_KEY, LOGIN_PROFILE, ROLE, SERVICE_CREDENTIAL, SIGNING_CERT, SSH_KEY, SYSTEM, USER,
};

const ACCOUNT: &str = "210987654321";

fn arn(kind: &str, name: &str) -> String {
    format!("arn:aws:iam::{ACCOUNT}:{kind}/{name}")
}

fn user(
    name: &str,
    tags: &[(&str, &str)],
    privileges: &[&str],
    credentials: Vec<Credential>,
) -> Account {
    let mut emails = Vec::new();
    let mut owner_refs = Vec::new();
    for (k, v) in tags {
        if *k == "email" {
            emails.push(v.to_string());
        } else {
            owner_refs.push(OwnerRef {
                key: k.to_string(),
                value: v.to_string(),
            });
        }
    }
    Account {
        id: arn("user", name),
        resource_type: USER.into(),
        name: name.into(),
        usernames: vec![name.into()],
        emails,
        external_ids: vec![],
        owner_refs,
        state: AccountState::Active,
        role: None,
        privileges: privileges.iter().map(|s| s.to_string()).collect(),
        created_at: Some(datetime!(2024-03-01 09:00:00 UTC)),
        last_login_at: None,
        credentials,
        detailed: true,
        attributes: BTreeMap::new(),
        entitlements: vec![],
    }
}

/// One readable AWS account and one that timed out.
pub fn demo() -> Vec<SystemSnapshot> {
    let created = datetime!(2025-01-10 12:00:00 UTC);
    let mut login = credential(
        LOGIN_PROFILE,
        "alice/login-profile",
        created,
        Some(datetime!(2026-11-10 08:15:00 UTC)),
        true,
    );
    login.name = Some("console password".into());
    let mut inactive = credential(
        ACCESS_KEY,
        "AKIADEMOIVAN00000001",
        created,
        Some(datetime!(2026-11-03 07:45:00 UTC)),
        true,
    );
    inactive.active = false;
    let mut ssc = credential(
        SERVICE_CREDENTIAL,
        "ACCADEMOBOB000000001",
        created,
        None,
        false,
    );
    ssc.name = Some("bob.smith-at-210987654321".into());
    ssc.attributes
        .insert("service_name".into(), "codecommit.amazonaws.com".into());
    let accounts = vec![
        user(
            "alice",
            &[("email", "alice@demo.example")],
            &["group admins, managed policy AdministratorAccess: AdministratorAccess"],
            vec![
                login,
                credential(
                    ACCESS_KEY,
                    "AKIADEMOALICE0000001",
                    created,
                    Some(datetime!(2026-11-25 22:03:00 UTC)),
                    true,
                ),
            ],
        ),
        user(
            "bob.smith",
            &[],
            &[],
            vec![
                credential(ACCESS_KEY, "AKIADEMOBOB000000001", created, None, true),
                credential(SSH_KEY, "APKADEMOBOB000000001", created, None, false),
                credential(
                    SIGNING_CERT,
                    "DEMOBOBCERT0000000000001",
                    created,
                    None,
                    false,
                ),
                ssc,
            ],
        ),
        user(
            "carol",
            &[],
            &["inline policy break-glass: Action \"*\""],
            vec![],
        ),
        user("ci-bot", &[("owner", "Dave@Demo.example")], &[], vec![]),
        user(
            "erin",
            &[],
            &["inline policy keys: IAM write (iam:createaccesskey)"],
            vec![credential(
                ACCESS_KEY,
                "AKIADEMOERIN00000001",
                created,
                Some(datetime!(2026-11-20 10:00:00 UTC)),
                true,
            )],
        ),
        user(
            "frank",
            &[],
            &[],
            vec![credential(
                ACCESS_KEY,
                "AKIADEMOFRANK0000001",
                created,
                None,
                true,
            )],
        ),
        user(
            "gina",
            &[("email", "gina.lopez@demo.example")],
            &[],
            vec![credential(
                ACCESS_KEY,
                "AKIADEMOGINA00000001",
                created,
                None,
                true,
            )],
        ),
        user("ivan", &[], &[], vec![inactive]),
    ];
    let assets = vec![
        Asset {
            id: arn("role", "deploy-role"),
            resource_type: ROLE.into(),
            name: "deploy-role".into(),
            owner_refs: vec![],
            trusted_principals: vec![arn("user", "erin")],
            created_at: Some(created),
            last_changed_at: None,
            last_used_at: Some(datetime!(2026-11-25 03:00:00 UTC)),
            last_use_tracked: true,
            readable_by_role: None,
            privileges: vec![],
            attributes: BTreeMap::new(),
        },
        Asset {
            id: arn("role", "etl-role"),
            resource_type: ROLE.into(),
            name: "etl-role".into(),
            owner_refs: vec![OwnerRef {
                key: "created_by".into(),
                value: "dave+ops@demo.example".into(),
            }],
            trusted_principals: vec![],
            created_at: Some(created),
            last_changed_at: None,
            last_used_at: None,
            last_use_tracked: false,
            readable_by_role: None,
            privileges: vec![],
            attributes: BTreeMap::new(),
        },
    ];
    let n = accounts.len() as u64;
    let mut prod = SystemSnapshot::new(
        SYSTEM,
        "demo-prod",
        Some(format!(
            "arn:aws:sts::{ACCOUNT}:assumed-role/ResidualAudit/residual-scan"
        )),
    );
    prod.observed_at = Some(datetime!(2026-11-25 23:59:30 UTC));
    prod.accounts_enumerated = n;
    prod.requests = 27;
    prod.notes = vec!["demo estate (built in, offline)".into()];
    prod.accounts = accounts;
    prod.assets = assets;
    crate::identify(&mut prod);
    vec![
        prod,
        SystemSnapshot::failed(
            SYSTEM,
            "demo-sandbox",
            ProbeError::Timeout("GetAccountAuthorizationDetails: no answer in time".into()),
        ),
    ]
}
