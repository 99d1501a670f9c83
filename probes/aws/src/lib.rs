//! The AWS probe: IAM users, their credentials and admin power, roles that trust them, and
//! machine identities that name a person as owner.
//!
//! Inventory first: one credential report and a paginated
//! GetAccountAuthorizationDetails give every user, group, role and local policy in a handful
//! of requests. Only then, for the accounts the scan cares about ([`AccountFilter`]), the
//! targeted calls the inventory cannot replace (SSH keys, service-specific credentials, access
//! key ids) run concurrently, bounded by the scan's concurrency.
//!
//! Read-only by construction: [`guard::ReadOnlyGuard`] refuses any operation that is not a
//! read before it is sent, so a bug cannot turn a scan into a change.
//!
//! Files: `iam.rs` (the inventory and per-user calls), `secrets.rs` (Secrets Manager),
//! `api.rs` (credential report and policy documents), `guard.rs`, `error.rs`, `config.rs`
//! (the `[[aws]]` table), `demo.rs`.

pub mod api;
mod config;
mod demo;
mod error;
mod guard;
mod iam;
mod identity_center;
#[cfg(test)]
mod mock_tests;
mod org;
mod secrets;

use std::collections::HashMap;
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_smithy_types::retry::RetryConfig;
use aws_smithy_types::timeout::TimeoutConfig;
use futures::StreamExt;
use residual_probe::config::{ConfigCtx, ConfigError};
use residual_probe::{
    AccountFilter, CheckId, CollectStatus, Gap, Probe, ProbeError, RequestCounter, SystemSnapshot,
};
use time::OffsetDateTime;

use error::sdk_err;
use iam::{login_profile, role_asset, user_account, UserCredentials};

pub const SYSTEM: &str = "aws";

/// The catalogue's checks, as code names them.
pub const CONSOLE_PASSWORD_ENABLED: CheckId = CheckId("aws_iam_console_password_enabled");
pub const ACCESS_KEY_ACTIVE: CheckId = CheckId("aws_iam_access_key_active");
pub const SSH_KEY_ACTIVE: CheckId = CheckId("aws_iam_ssh_key_active");
pub const SIGNING_CERTIFICATE_ACTIVE: CheckId = CheckId("aws_iam_signing_certificate_active");
pub const SERVICE_CREDENTIAL_ACTIVE: CheckId = CheckId("aws_iam_service_credential_active");
pub const USER_PRIVILEGED: CheckId = CheckId("aws_iam_user_privileged");
pub const USER_NOT_REMOVED: CheckId = CheckId("aws_iam_user_not_removed");
pub const ROLE_TRUSTS_USER: CheckId = CheckId("aws_iam_role_trusts_user");
pub const PRINCIPAL_OWNED: CheckId = CheckId("aws_iam_principal_owned");
pub const SECRET_NOT_ROTATED: CheckId = CheckId("aws_secretsmanager_secret_not_rotated");
pub const SSO_USER_ACTIVE: CheckId = CheckId("aws_sso_user_active");
pub const SSO_ACCOUNT_ASSIGNMENT: CheckId = CheckId("aws_sso_account_assignment");

/// The AWS system (IAM and Secrets Manager), for the registry.
pub struct Aws;

impl residual_probe::System for Aws {
    fn name(&self) -> &'static str {
        SYSTEM
    }
    fn title(&self) -> &'static str {
        "AWS IAM and Secrets Manager"
    }
    fn catalogue(&self) -> &'static str {
        include_str!("../checks.toml")
    }
    fn check_ids(&self) -> &'static [CheckId] {
        &[
            CONSOLE_PASSWORD_ENABLED,
            ACCESS_KEY_ACTIVE,
            SSH_KEY_ACTIVE,
            SIGNING_CERTIFICATE_ACTIVE,
            SERVICE_CREDENTIAL_ACTIVE,
            USER_PRIVILEGED,
            USER_NOT_REMOVED,
            ROLE_TRUSTS_USER,
            PRINCIPAL_OWNED,
            SECRET_NOT_ROTATED,
            SSO_USER_ACTIVE,
            SSO_ACCOUNT_ASSIGNMENT,
        ]
    }
    fn handle_columns(&self) -> &'static [&'static str] {
        &["aws_username", "aws_user", "iam_user", "iam_username"]
    }
    fn entitlement_kinds(&self) -> &'static [(&'static str, &'static str)] {
        &[
            ("aws", "group"),
            ("aws", "policy"),
            ("aws-sso", "permission-set"),
            ("aws-sso", "group"),
        ]
    }
    fn config_keys(&self) -> &'static [&'static str] {
        residual_probe::config::field_names::<config::RawAws>()
    }
    fn configure(&self, cx: &ConfigCtx) -> Result<Vec<Box<dyn Probe>>, ConfigError> {
        config::configure(cx)
    }
    fn demo(&self) -> Vec<SystemSnapshot> {
        demo::demo()
    }
}

/// One `[[aws]]` table, validated.
#[derive(Debug, Clone)]
pub struct AwsInstance {
    pub name: Option<String>,
    pub region: String,
    pub endpoint_url: Option<String>,
    pub profile: Option<String>,
    pub assume_role_arn: Option<String>,
    pub owner_tag_keys: Vec<String>,
    /// Regions whose Secrets Manager secrets to read (metadata only); empty skips it.
    pub secrets_manager_regions: Vec<String>,
    pub concurrency: usize,
    pub net: NetPolicy,
    /// Set: this table is a whole organization, scanned account by account.
    pub organization: Option<Organization>,
}

/// How to scan an organization (`organization_role` and the keys around it).
#[derive(Debug, Clone)]
pub struct Organization {
    /// The role name assumed in every member account.
    pub role: String,
    /// Only these accounts, when given.
    pub include: Option<Vec<String>>,
    pub exclude: Vec<String>,
    /// Only accounts under these OUs (or roots), when given.
    pub units: Vec<String>,
    pub external_id: Option<String>,
    /// `None`: read Identity Center when the organization has an instance.
    pub identity_center: Option<bool>,
}

/// How hard to try against a hostile network. The SDK's defaults (3 attempts, no read
/// timeout) let one held connection stall a scan forever.
#[derive(Debug, Clone, Copy)]
pub struct NetPolicy {
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
    pub max_attempts: u32,
    pub initial_backoff: Duration,
}

impl Default for NetPolicy {
    fn default() -> Self {
        NetPolicy {
            connect_timeout: Duration::from_secs(5),
            read_timeout: Duration::from_secs(30),
            max_attempts: 6,
            initial_backoff: Duration::from_millis(500),
        }
    }
}

/// Tag keys that hold the account's own email rather than an owner's: an IAM user tagged
/// `email = x` is x's user; a role or another user tagged `owner = x` is a machine identity x
/// owns.
pub(crate) const IDENTITY_TAG_KEYS: &[&str] = &["email", "mail", "e-mail"];

pub const USER: &str = "aws_iam_user";
pub const ROLE: &str = "aws_iam_role";
pub const ACCESS_KEY: &str = "aws_iam_access_key";
pub const LOGIN_PROFILE: &str = "aws_iam_login_profile";
pub const SSH_KEY: &str = "aws_iam_ssh_public_key";
pub const SIGNING_CERT: &str = "aws_iam_signing_certificate";
pub const SERVICE_CREDENTIAL: &str = "aws_iam_service_specific_credential";
pub const SECRET: &str = "aws_secretsmanager_secret";
pub use identity_center::{ASSIGNMENT as SSO_ASSIGNMENT, SSO_USER};

/// A credential report older than this was not generated for this scan (IAM reuses a report
/// for four hours): the per-user calls then re-read what the report would have answered.
pub(crate) const REPORT_FRESH_FOR: Duration = Duration::from_secs(300);

/// Collect one AWS account. Never fails: a system that could not be read comes back as
/// [`CollectStatus::Failed`], and per-user failures as [`Gap`]s.
pub async fn collect(inst: &AwsInstance, filter: &dyn AccountFilter) -> SystemSnapshot {
    let label = inst.name.clone().unwrap_or_else(|| "aws".to_string());
    let counter = RequestCounter::default();
    let base = base_config(inst).await;
    let c = Collector::new(
        inst,
        base,
        counter.clone(),
        inst.name.clone(),
        inst.concurrency,
    );
    let mut snap = match c.run(filter).await {
        Ok(s) => s,
        Err(e) => SystemSnapshot::failed(SYSTEM, &label, e),
    };
    snap.requests = counter.get();
    snap
}

/// The SDK's settings for a table: region, endpoint, profile, hostile-network timeouts and
/// retries, and the credential chain (through `assume_role_arn` when given).
pub(crate) async fn base_config(inst: &AwsInstance) -> aws_types::SdkConfig {
    // The SDK reads these itself; register them so no log line or error can carry them.
    for var in [
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
    ] {
        if let Ok(v) = std::env::var(var) {
            residual_probe::redact::register(&v);
        }
    }
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(inst.net.connect_timeout)
        .read_timeout(inst.net.read_timeout)
        .operation_attempt_timeout(inst.net.read_timeout + inst.net.connect_timeout)
        .build();
    let retry = RetryConfig::standard()
        .with_max_attempts(inst.net.max_attempts)
        .with_initial_backoff(inst.net.initial_backoff)
        .with_max_backoff(Duration::from_secs(20));
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(aws_config::Region::new(inst.region.clone()))
        .timeout_config(timeouts)
        .retry_config(retry);
    if let Some(url) = &inst.endpoint_url {
        loader = loader.endpoint_url(url);
    }
    if let Some(p) = &inst.profile {
        loader = loader.profile_name(p);
    }
    let mut base = loader.load().await;
    if let Some(arn) = &inst.assume_role_arn {
        let provider = aws_config::sts::AssumeRoleProvider::builder(arn)
            .session_name("residual-scan")
            .configure(&base)
            .build()
            .await;
        base = base
            .into_builder()
            .credentials_provider(aws_credential_types_provider(provider))
            .build();
    }
    base
}

struct Collector<'a> {
    inst: &'a AwsInstance,
    iam: aws_sdk_iam::Client,
    sts: aws_sdk_sts::Client,
    base: aws_types::SdkConfig,
    guard: guard::ReadOnlyGuard,
    /// The instance label (default: the account id).
    label: Option<String>,
    /// Requests in flight for this account.
    concurrency: usize,
}

impl<'a> Collector<'a> {
    fn new(
        inst: &'a AwsInstance,
        base: aws_types::SdkConfig,
        counter: RequestCounter,
        label: Option<String>,
        concurrency: usize,
    ) -> Self {
        let guard = guard::ReadOnlyGuard::new(counter);
        let iam_conf = aws_sdk_iam::config::Builder::from(&base)
            .interceptor(guard.clone())
            .build();
        let sts_conf = aws_sdk_sts::config::Builder::from(&base)
            .interceptor(guard.clone())
            .build();
        Collector {
            inst,
            iam: aws_sdk_iam::Client::from_conf(iam_conf),
            sts: aws_sdk_sts::Client::from_conf(sts_conf),
            base,
            guard,
            label,
            concurrency,
        }
    }

    async fn run(&self, filter: &dyn AccountFilter) -> Result<SystemSnapshot, ProbeError> {
        let scan_started = OffsetDateTime::now_utc();
        // The three inventory reads do not depend on each other: they run at once (IAM
        // builds the report while GetAccountAuthorizationDetails pages).
        let (who, report, inventory) = futures::join!(
            self.sts.get_caller_identity().send(),
            self.credential_report(),
            self.authorization_details(),
        );
        let who = who.map_err(|e| sdk_err("GetCallerIdentity", e))?;
        let account_id = who.account().unwrap_or_default().to_string();
        let label = self.label.clone().unwrap_or_else(|| account_id.clone());

        let (report, generated, started_new) = report?;
        // IAM answers STARTED when it builds a new report for this request; otherwise it
        // reuses one up to four hours old, and only a young one is trusted.
        // Only a report this scan asked IAM to build is trusted: a reused one (up to four hours
        // old, and aged by a clock we do not control) could predate a new key or password.
        let report_fresh = started_new;
        // Record the report's own time as the observation time, unless it claims to predate
        // the request that started it (moto answers a fixed 2015 date): then the scan's start.
        let generated = match generated {
            Some(g) if started_new && g < scan_started - REPORT_FRESH_FOR => Some(scan_started),
            g => g,
        };
        let inventory = inventory?;

        let mut snap = SystemSnapshot {
            system: SYSTEM.to_string(),
            instance: label,
            title: None,
            status: CollectStatus::Complete,
            authenticated_as: who.arn().map(str::to_string),
            observed_at: generated,
            accounts_enumerated: inventory.users.len() as u64,
            requests: 0,
            retries: 0,
            rate_waits: 0,
            notes: vec![format!(
                "credential report generated {}; {}",
                generated
                    .map(residual_probe::rfc3339)
                    .unwrap_or_else(|| "at an unknown time".into()),
                if report_fresh {
                    "fresh: trusted for passwords, key and certificate presence"
                } else {
                    "not fresh: per-user calls re-read passwords, keys and certificates"
                }
            )],
            accounts: Vec::new(),
            assets: Vec::new(),
            gaps: Vec::new(),
            looked_up: None,
            history_since: None,
            identifiers: Vec::new(),
            identify_hint: None,
            context: Default::default(),
            entitlement_kinds: vec!["aws:group".into(), "aws:policy".into()],
        };

        let report_by_user: HashMap<&str, &api::ReportRow> =
            report.iter().map(|r| (r.user.as_str(), r)).collect();
        let owner_keys: Vec<String> = self
            .inst
            .owner_tag_keys
            .iter()
            .map(|k| k.to_ascii_lowercase())
            .collect();

        for u in &inventory.users {
            let mut acct = user_account(u, &inventory, &owner_keys)?;
            if let Some(row) = report_by_user.get(u.user_name().unwrap_or_default()) {
                if row.password_enabled {
                    acct.credentials.push(login_profile(u.user_name(), row));
                }
            } else if report_fresh {
                // A fresh report that lacks a user means the user is newer than the report:
                // treat it like a stale report for this user.
                acct.attributes
                    .insert("credential_report".into(), "absent".into());
            }
            snap.accounts.push(acct);
        }
        for r in &inventory.roles {
            snap.assets.push(role_asset(r, &owner_keys)?);
        }

        // Targeted calls, only for accounts the scan cares about.
        let wanted: Vec<usize> = (0..snap.accounts.len())
            .filter(|&i| filter.wants(&snap.accounts[i]))
            .collect();
        snap.notes.push(format!(
            "inventory: {} users, {} roles, {} groups; per-user calls for {} correlated users",
            inventory.users.len(),
            inventory.roles.len(),
            inventory.groups.len(),
            wanted.len()
        ));
        // Service-specific credentials for every user at once when more than a few users are
        // wanted (a call per service instead of a call per user); if that listing is refused,
        // per user as before.
        let bulk = if wanted.len() > iam::SERVICE_CREDENTIAL_SERVICES.len() {
            match self.all_service_credentials().await {
                Ok(m) => Some(m),
                Err((what, e)) => {
                    snap.notes.push(format!(
                        "{what} with AllUsers failed ({e}); listed per user instead"
                    ));
                    None
                }
            }
        } else {
            None
        };
        let bulk = &bulk;
        let none: Vec<residual_probe::Credential> = Vec::new();
        let none = &none;
        let results: Vec<(usize, bool, UserCredentials)> =
            futures::stream::iter(wanted.into_iter().map(|i| {
                let acct = &snap.accounts[i];
                let row = report_by_user.get(acct.name.as_str()).copied();
                let trust_report = report_fresh && row.is_some();
                let service = bulk
                    .as_ref()
                    .map(|m| m.get(&acct.name).map_or(none.as_slice(), Vec::as_slice));
                async move {
                    (
                        i,
                        trust_report,
                        self.user_credentials(&acct.name, row, trust_report, service)
                            .await,
                    )
                }
            }))
            // Not `bounded`: a user whose calls fail is a gap for that user, and the others
            // are still read.
            .buffer_unordered(self.concurrency.max(1))
            .collect()
            .await;
        for (i, trusted, res) in results {
            let acct = &mut snap.accounts[i];
            match res {
                Ok(creds) => {
                    // A report IAM reused may predate a deleted password: when it is not
                    // trusted, GetLoginProfile's answer replaces it.
                    if !trusted {
                        acct.credentials
                            .retain(|c| c.resource_type != LOGIN_PROFILE);
                    }
                    acct.credentials.extend(creds);
                    acct.detailed = true;
                }
                // Every check of this user: its credentials are not all known.
                Err((what, error)) => snap
                    .gaps
                    .push(Gap::blocks(what, &[], error).for_account(acct.id.clone())),
            }
        }
        // Secrets Manager, per region: metadata and resource policies, never values. A region
        // that cannot be read is a gap against the secrets check, for every leaver.
        for region in &self.inst.secrets_manager_regions {
            match self.secrets(region, &owner_keys).await {
                Ok(secrets) => {
                    snap.notes.push(format!(
                        "Secrets Manager {region}: {} secrets",
                        secrets.len()
                    ));
                    snap.assets.extend(secrets);
                }
                Err(e) => snap.gaps.push(Gap::blocks(
                    format!("Secrets Manager in {region}"),
                    &[SECRET_NOT_ROTATED],
                    e,
                )),
            }
        }
        snap.accounts.sort_by(|a, b| a.id.cmp(&b.id));
        snap.assets.sort_by(|a, b| a.id.cmp(&b.id));
        identify(&mut snap);
        Ok(snap)
    }
}

fn aws_credential_types_provider(
    p: aws_config::sts::AssumeRoleProvider,
) -> aws_credential_types::provider::SharedCredentialsProvider {
    aws_credential_types::provider::SharedCredentialsProvider::new(p)
}

/// IAM users are known by name (the `aws_username` column, non-email aliases, a probable
/// email local part), and by email only where users carry an `email` tag or log in with one.
pub(crate) fn identify(snap: &mut SystemSnapshot) {
    use residual_probe::Identifier::{Handle, Username};
    snap.identify_by(
        &[Handle, Username],
        Some("add an aws_username column to the leavers file, or tag each IAM user with its person's email (tag key email)"),
    );
}

/// The AWS probe for one `[[aws]]` table.
pub struct AwsProbe(pub AwsInstance);

#[async_trait::async_trait]
impl residual_probe::Probe for AwsProbe {
    fn system(&self) -> &'static str {
        SYSTEM
    }
    fn label(&self) -> String {
        self.0.name.clone().unwrap_or_else(|| SYSTEM.to_string())
    }
    fn expands(&self) -> bool {
        self.0.organization.is_some()
    }
    async fn collect(&self, filter: &dyn AccountFilter) -> Vec<SystemSnapshot> {
        match &self.0.organization {
            Some(org) => org::collect(&self.0, org, filter).await,
            None => vec![collect(&self.0, filter).await],
        }
    }
}
