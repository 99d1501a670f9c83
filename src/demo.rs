//! `residual demo`: a built-in estate, scanned offline, written as a full report. It shows
//! every kind of finding and every coverage outcome the AWS probe can produce, including a
//! system instance that could not be read (`error`, never clean).
//!
//! The estate is built in code, not loaded from JSON, so it always matches the estate model.
//! The as-of instant is pinned so the demo report is the same on every machine.

use std::collections::BTreeMap;
use std::path::PathBuf;

use residual_aws as aws;
use residual_github as gh;
use residual_probe::{
    Account, AccountState, Asset, CollectStatus, Credential, OwnerRef, ProbeError, Snapshot,
    SystemSnapshot, SNAPSHOT_SCHEMA_VERSION,
};
use time::macros::datetime;
use time::OffsetDateTime;

use crate::catalogue::Severity;
use crate::leavers::{self, Format};
use crate::scan::{self, Pipeline};

pub const LEAVERS_CSV: &str = include_str!("../fixtures/demo/leavers.csv");
pub const AS_OF: OffsetDateTime = datetime!(2026-11-26 00:00:00 UTC);
const ACCOUNT: &str = "210987654321";

fn arn(kind: &str, name: &str) -> String {
    format!("arn:aws:iam::{ACCOUNT}:{kind}/{name}")
}

fn cred(
    rt: &str,
    id: &str,
    created: OffsetDateTime,
    used: Option<OffsetDateTime>,
    tracked: bool,
) -> Credential {
    Credential {
        id: id.into(),
        resource_type: rt.into(),
        name: None,
        active: true,
        created_at: Some(created),
        last_used_at: used,
        last_use_tracked: tracked,
        expires_at: None,
        attributes: BTreeMap::new(),
    }
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
        resource_type: aws::USER.into(),
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
    }
}

/// The demo estate: one readable AWS account and one that timed out.
pub fn estate() -> Snapshot {
    let created = datetime!(2025-01-10 12:00:00 UTC);
    let mut login = cred(
        aws::LOGIN_PROFILE,
        "alice/login-profile",
        created,
        Some(datetime!(2026-11-10 08:15:00 UTC)),
        true,
    );
    login.name = Some("console password".into());
    let mut inactive = cred(
        aws::ACCESS_KEY,
        "AKIADEMOIVAN00000001",
        created,
        Some(datetime!(2026-11-03 07:45:00 UTC)),
        true,
    );
    inactive.active = false;
    let mut ssc = cred(
        aws::SERVICE_CREDENTIAL,
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
                cred(
                    aws::ACCESS_KEY,
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
                cred(aws::ACCESS_KEY, "AKIADEMOBOB000000001", created, None, true),
                cred(aws::SSH_KEY, "APKADEMOBOB000000001", created, None, false),
                cred(
                    aws::SIGNING_CERT,
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
            vec![cred(
                aws::ACCESS_KEY,
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
            vec![cred(
                aws::ACCESS_KEY,
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
            vec![cred(
                aws::ACCESS_KEY,
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
            resource_type: aws::ROLE.into(),
            name: "deploy-role".into(),
            owner_refs: vec![],
            trusted_principals: vec![arn("user", "erin")],
            created_at: Some(created),
            last_changed_at: None,
            last_used_at: Some(datetime!(2026-11-25 03:00:00 UTC)),
            last_use_tracked: true,
            readable_by_role: None,
            attributes: BTreeMap::new(),
        },
        Asset {
            id: arn("role", "etl-role"),
            resource_type: aws::ROLE.into(),
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
            attributes: BTreeMap::new(),
        },
    ];
    let n = accounts.len() as u64;
    Snapshot {
        schema_version: SNAPSHOT_SCHEMA_VERSION,
        tool_version: scan::TOOL_VERSION.into(),
        collected_at: datetime!(2026-11-26 00:00:00 UTC),
        systems: vec![
            SystemSnapshot {
                system: "aws".into(),
                instance: "demo-prod".into(),
                status: CollectStatus::Complete,
                authenticated_as: Some(format!(
                    "arn:aws:sts::{ACCOUNT}:assumed-role/ResidualAudit/residual-scan"
                )),
                observed_at: Some(datetime!(2026-11-25 23:59:30 UTC)),
                accounts_enumerated: n,
                requests: 27,
                notes: vec!["demo estate (built in, offline)".into()],
                accounts,
                assets,
                gaps: vec![],
                looked_up: None,
                history_since: None,
            },
            github_org(),
            vault(),
            salesforce(),
            scim(),
            SystemSnapshot::failed(
                "aws",
                "demo-sandbox",
                ProbeError::Timeout("GetAccountAuthorizationDetails: no answer in time".into()),
            ),
        ],
    }
}

fn gh_account(
    rt: &str,
    id: &str,
    login: &str,
    role: Option<&str>,
    credentials: Vec<Credential>,
) -> Account {
    Account {
        id: id.into(),
        resource_type: rt.into(),
        name: login.into(),
        usernames: vec![login.into()],
        emails: vec![],
        external_ids: vec![],
        owner_refs: vec![],
        state: AccountState::Active,
        role: role.map(str::to_string),
        privileges: vec![],
        created_at: None,
        last_login_at: None,
        credentials,
        detailed: true,
        attributes: BTreeMap::new(),
    }
}

fn gh_asset(
    rt: &str,
    id: &str,
    name: &str,
    added_by: Option<&str>,
    changed: Option<OffsetDateTime>,
    used: Option<OffsetDateTime>,
    role: Option<&str>,
) -> Asset {
    Asset {
        id: id.into(),
        resource_type: rt.into(),
        name: name.into(),
        owner_refs: added_by
            .iter()
            .map(|l| OwnerRef {
                key: "added_by".into(),
                value: l.to_string(),
            })
            .collect(),
        trusted_principals: vec![],
        created_at: Some(datetime!(2025-06-01 10:00:00 UTC)),
        last_changed_at: changed,
        last_used_at: used,
        last_use_tracked: rt == gh::DEPLOY_KEY,
        readable_by_role: role.map(str::to_string),
        attributes: BTreeMap::new(),
    }
}

/// The demo GitHub org: an owner who left with an SSO token used since, a contractor still an
/// outside collaborator, a deploy key and a fine-grained PAT that outlived their owners, an
/// invitation nobody cancelled, and org secrets an owner could reach.
fn github_org() -> SystemSnapshot {
    let mut pat = cred(
        gh::SSO_CREDENTIAL,
        "8101",
        datetime!(2025-02-01 09:00:00 UTC),
        Some(datetime!(2026-11-21 14:12:00 UTC)),
        true,
    );
    pat.name = Some("personal access token …a91c22f0".into());
    pat.attributes
        .insert("scopes".into(), "repo admin:org".into());
    let mut fg = cred(
        gh::FINE_GRAINED_PAT,
        "25101",
        datetime!(2026-03-01 09:00:00 UTC),
        Some(datetime!(2026-11-25 06:30:00 UTC)),
        true,
    );
    fg.name = Some("release-bot".into());
    fg.expires_at = Some(datetime!(2027-03-01 00:00:00 UTC));
    let mut invitation = gh_account(
        gh::INVITATION,
        "invitation/5101",
        "henry@demo.example",
        None,
        vec![],
    );
    invitation.usernames.clear();
    invitation.emails.push("henry@demo.example".into());
    invitation.state = AccountState::Pending;
    let mut token_owner = gh_account(gh::TOKEN_OWNER, "user/9005", "erin-gh", None, vec![fg]);
    token_owner.role = None;
    let accounts = vec![
        gh_account(gh::MEMBER, "user/9001", "alice-a", Some("owner"), vec![pat]),
        gh_account(gh::MEMBER, "user/9002", "staff-kim", Some("member"), vec![]),
        gh_account(
            gh::OUTSIDE_COLLABORATOR,
            "user/9003",
            "bsmith-ext",
            None,
            vec![],
        ),
        token_owner,
        invitation,
    ];
    let assets = vec![
        gh_asset(
            gh::DEPLOY_KEY,
            "demo-org/infra/keys/60101",
            "infra: ci-deploy",
            Some("ddias"),
            None,
            Some(datetime!(2026-11-23 02:00:00 UTC)),
            None,
        ),
        gh_asset(
            gh::ORG_SECRET,
            "demo-org/actions/secrets/NPM_TOKEN",
            "NPM_TOKEN",
            None,
            Some(datetime!(2026-06-01 12:00:00 UTC)),
            None,
            Some("owner"),
        ),
        gh_asset(
            gh::ORG_SECRET,
            "demo-org/actions/secrets/PROD_DEPLOY_KEY",
            "PROD_DEPLOY_KEY",
            None,
            Some(datetime!(2026-11-20 12:00:00 UTC)),
            None,
            Some("owner"),
        ),
    ];
    SystemSnapshot {
        system: "github".into(),
        instance: "demo-org".into(),
        status: CollectStatus::Complete,
        authenticated_as: Some("app residual-audit (424242) installation 7890123".into()),
        observed_at: Some(datetime!(2026-11-25 23:59:40 UTC)),
        accounts_enumerated: 3,
        requests: 14,
        notes: vec!["demo estate (built in, offline)".into()],
        accounts,
        assets,
        gaps: vec![],
        looked_up: None,
        history_since: None,
    }
}

fn simple_account(
    rt: &str,
    id: &str,
    name: &str,
    emails: &[&str],
    state: AccountState,
    credentials: Vec<Credential>,
) -> Account {
    let mut a = gh_account(rt, id, name, None, credentials);
    a.emails = emails.iter().map(|e| e.to_string()).collect();
    a.state = state;
    a
}

fn system(
    system: &str,
    instance: &str,
    who: &str,
    accounts: Vec<Account>,
    assets: Vec<Asset>,
) -> SystemSnapshot {
    SystemSnapshot {
        system: system.into(),
        instance: instance.into(),
        status: CollectStatus::Complete,
        authenticated_as: Some(who.into()),
        observed_at: Some(datetime!(2026-11-25 23:59:50 UTC)),
        accounts_enumerated: accounts.len() as u64,
        requests: 9,
        notes: vec!["demo estate (built in, offline)".into()],
        accounts,
        assets,
        gaps: vec![],
        looked_up: None,
        history_since: None,
    }
}

/// Vault: carol's userpass login and enabled entity, a long-lived token of hers, and a KV
/// secret she owned that nobody rotated.
fn vault() -> SystemSnapshot {
    let mut token = cred(
        residual_vault::TOKEN,
        "hmac-accessor-cArOl0000001",
        datetime!(2026-06-01 08:00:00 UTC),
        None,
        false,
    );
    token.name = Some("userpass-carol".into());
    token.expires_at = Some(datetime!(2027-06-01 08:00:00 UTC));
    let mut entity = simple_account(
        residual_vault::ENTITY,
        "4f1c2a7e-demo-entity-carol",
        "carol",
        &["carol@demo.example"],
        AccountState::Active,
        vec![token],
    );
    entity.usernames = vec!["carol".into()];
    let login = simple_account(
        "vault_userpass_user",
        "auth/userpass/users/carol",
        "carol",
        &["carol@demo.example"],
        AccountState::Active,
        vec![],
    );
    let kv = Asset {
        id: "secret/payments/stripe".into(),
        resource_type: residual_vault::KV_SECRET.into(),
        name: "payments/stripe".into(),
        owner_refs: vec![OwnerRef {
            key: "owner".into(),
            value: "carol@demo.example".into(),
        }],
        trusted_principals: vec![],
        created_at: Some(datetime!(2025-03-01 10:00:00 UTC)),
        last_changed_at: Some(datetime!(2025-09-14 10:00:00 UTC)),
        last_used_at: None,
        last_use_tracked: false,
        readable_by_role: None,
        attributes: BTreeMap::new(),
    };
    system(
        "vault",
        "vault.demo.example",
        "token audit-reader (policies [\"audit\"])",
        vec![entity, login],
        vec![kv],
    )
}

/// Salesforce: gina's integration token used after she left (the seed example), and a login
/// after departure by erin.
fn salesforce() -> SystemSnapshot {
    let mut token = cred(
        residual_salesforce::OAUTH_TOKEN,
        "0CQ5g00000DEMOgin",
        datetime!(2026-02-10 09:00:00 UTC),
        Some(datetime!(2026-11-24 21:40:00 UTC)),
        true,
    );
    token.name = Some("Quote Sync (connected app)".into());
    let mut gina = simple_account(
        residual_salesforce::USER,
        "0055g00000DEMOgina",
        "gina@demo.example",
        &["gina@demo.example"],
        AccountState::Active,
        vec![token],
    );
    gina.attributes
        .insert("profile".into(), "Standard User".into());
    let mut erin = simple_account(
        residual_salesforce::USER,
        "0055g00000DEMOerin",
        "erin@demo.example",
        &["erin@demo.example"],
        AccountState::Active,
        vec![],
    );
    erin.last_login_at = Some(datetime!(2026-11-25 07:12:00 UTC));
    erin.attributes.insert(
        "last_login_source".into(),
        "Application, Browser, 198.51.100.7".into(),
    );
    let frozen = simple_account(
        residual_salesforce::USER,
        "0055g00000DEMOfrank",
        "frank@demo.example",
        &["frank@demo.example"],
        AccountState::Frozen,
        vec![],
    );
    system(
        "salesforce",
        "demo.my.salesforce.com",
        "client credentials (integration user)",
        vec![gina, erin, frozen],
        vec![],
    )
}

/// SCIM (a chat app): henry is still active, ivan was deprovisioned.
fn scim() -> SystemSnapshot {
    let henry = simple_account(
        residual_scim::USER,
        "2819c223-demo-henry",
        "henry@demo.example",
        &["henry@demo.example"],
        AccountState::Active,
        vec![],
    );
    let ivan = simple_account(
        residual_scim::USER,
        "2819c223-demo-ivan",
        "ivan@demo.example",
        &["ivan@demo.example"],
        AccountState::Disabled,
        vec![],
    );
    system(
        "scim",
        "chat",
        "bearer token for https://chat.demo.example/scim/v2",
        vec![henry, ivan],
        vec![],
    )
}

pub fn demo_command(
    out: Option<PathBuf>,
    json: bool,
    command_line: Vec<String>,
) -> anyhow::Result<u8> {
    // The demo is a replay of a fixed estate: its start is the estate's time, so its report
    // (reports/example/) is the same on every machine and every day.
    let started_at = AS_OF;
    let set = leavers::parse(
        "demo:leavers.csv",
        LEAVERS_CSV.as_bytes(),
        Format::Csv(b','),
    )?;
    let snapshot = estate();
    let n = snapshot.systems.len();
    let outcome = scan::evaluate_and_report(Pipeline {
        set: &set,
        leavers_file: "demo:leavers.csv".into(),
        snapshot,
        snapshot_source: "built-in demo estate".into(),
        as_of: AS_OF,
        sla_hours: 24,
        config_file: None,
        config_sha256: None,
        out,
        formats: crate::report::BUILT_FORMATS
            .iter()
            .map(|s| s.to_string())
            .collect(),
        fail_on: Severity::Low,
        exit_zero: false,
        started_at,
        command_line,
        baseline: None,
        suppressions: Vec::new(),
        csv_bom: false,
        sign_key: None,
        catalogue: crate::catalogue::Catalogue::builtin(),
    })?;
    scan::print_summary(&outcome, n, json);
    if !json {
        println!(
            "  (a real scan would exit {}; the demo exits 0. Try: residual verify {})",
            outcome.code,
            outcome.dir.display()
        );
    }
    Ok(crate::exit::CLEAN)
}
