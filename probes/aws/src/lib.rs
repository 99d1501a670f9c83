//! The AWS probe: IAM users, their credentials and admin power, roles that trust them, and
//! machine identities that name a person as owner.
//!
//! Inventory first (SPEC §1): one credential report and a paginated
//! GetAccountAuthorizationDetails give every user, group, role and local policy in a handful
//! of requests. Only then, for the accounts the scan cares about ([`AccountFilter`]), the
//! targeted calls the inventory cannot replace (SSH keys, service-specific credentials, access
//! key ids) run concurrently, bounded by the scan's concurrency.
//!
//! Read-only by construction: [`guard::ReadOnlyGuard`] refuses, before it is signed, any
//! operation that is not a read, so a bug cannot turn a scan into a change.

pub mod api;
mod guard;

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_sdk_iam::error::ProvideErrorMetadata;
use aws_sdk_iam::types::{EntityType, StatusType};
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::retry::RetryConfig;
use aws_smithy_types::timeout::TimeoutConfig;
use futures::StreamExt;
use residual_probe::{
    Account, AccountFilter, AccountState, Asset, CollectStatus, Credential, Gap, OwnerRef,
    ProbeError, RequestCounter, SystemSnapshot,
};
use time::OffsetDateTime;

/// Every page of an IAM list call: follows `IsTruncated`/`Marker` to the end. A truncated page
/// without a marker is an error, never a silently short list. `$req` is re-evaluated per page.
macro_rules! all_pages {
    ($op:literal, $req:expr, $items:ident) => {{
        let mut items = Vec::new();
        let mut marker: Option<String> = None;
        let mut pages = 0u32;
        loop {
            let out = $req
                .set_marker(marker.clone())
                .send()
                .await
                .map_err(|e| named($op, e))?;
            items.extend(out.$items().iter().cloned());
            pages += 1;
            if !out.is_truncated() {
                break;
            }
            marker = out.marker().map(str::to_string);
            if marker.is_none() || pages >= 1000 {
                return Err((
                    $op.to_string(),
                    ProbeError::Unexpected(format!(
                        "{}: truncated page without a usable marker",
                        $op
                    )),
                ));
            }
        }
        items
    }};
}

pub const SYSTEM: &str = "aws";
/// The check catalogue for this system (data, read by the `residual` crate).
pub const CHECKS: &str = include_str!("../checks.toml");

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
const IDENTITY_TAG_KEYS: &[&str] = &["email", "mail", "e-mail"];

pub const USER: &str = "aws_iam_user";
pub const ROLE: &str = "aws_iam_role";
pub const ACCESS_KEY: &str = "aws_iam_access_key";
pub const LOGIN_PROFILE: &str = "aws_iam_login_profile";
pub const SSH_KEY: &str = "aws_iam_ssh_public_key";
pub const SIGNING_CERT: &str = "aws_iam_signing_certificate";
pub const SERVICE_CREDENTIAL: &str = "aws_iam_service_specific_credential";
pub const SECRET: &str = "aws_secretsmanager_secret";

/// A credential report older than this was not generated for this scan (IAM reuses a report
/// for four hours): the per-user calls then re-read what the report would have answered.
const REPORT_FRESH_FOR: Duration = Duration::from_secs(300);

/// Collect one AWS account. Never fails: a system that could not be read comes back as
/// [`CollectStatus::Failed`], and per-user failures as [`Gap`]s.
pub async fn collect(inst: &AwsInstance, filter: &dyn AccountFilter) -> SystemSnapshot {
    let label = inst.name.clone().unwrap_or_else(|| "aws".to_string());
    let counter = RequestCounter::default();
    let mut snap = match Collector::new(inst, counter.clone()).await {
        Ok(c) => match c.run(filter).await {
            Ok(s) => s,
            Err(e) => SystemSnapshot::failed(SYSTEM, &label, e),
        },
        Err(e) => SystemSnapshot::failed(SYSTEM, &label, e),
    };
    snap.requests = counter.get();
    snap
}

struct Collector<'a> {
    inst: &'a AwsInstance,
    iam: aws_sdk_iam::Client,
    sts: aws_sdk_sts::Client,
    base: aws_types::SdkConfig,
    guard: guard::ReadOnlyGuard,
}

impl<'a> Collector<'a> {
    async fn new(inst: &'a AwsInstance, counter: RequestCounter) -> Result<Self, ProbeError> {
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
        let guard = guard::ReadOnlyGuard::new(counter);
        let iam_conf = aws_sdk_iam::config::Builder::from(&base)
            .interceptor(guard.clone())
            .build();
        let sts_conf = aws_sdk_sts::config::Builder::from(&base)
            .interceptor(guard.clone())
            .build();
        Ok(Collector {
            inst,
            iam: aws_sdk_iam::Client::from_conf(iam_conf),
            sts: aws_sdk_sts::Client::from_conf(sts_conf),
            base,
            guard,
        })
    }

    async fn run(&self, filter: &dyn AccountFilter) -> Result<SystemSnapshot, ProbeError> {
        let scan_started = OffsetDateTime::now_utc();
        let who = self
            .sts
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| sdk_err("GetCallerIdentity", e))?;
        let account_id = who.account().unwrap_or_default().to_string();
        let label = self.inst.name.clone().unwrap_or_else(|| account_id.clone());

        let (report, generated, started_new) = self.credential_report().await?;
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
        let inventory = self.authorization_details().await?;

        let mut snap = SystemSnapshot {
            system: SYSTEM.to_string(),
            instance: label,
            status: CollectStatus::Complete,
            authenticated_as: who.arn().map(str::to_string),
            observed_at: generated,
            accounts_enumerated: inventory.users.len() as u64,
            requests: 0,
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
        let results: Vec<(usize, UserCredentials)> =
            futures::stream::iter(wanted.into_iter().map(|i| {
                let acct = &snap.accounts[i];
                let row = report_by_user.get(acct.name.as_str()).copied();
                let trust_report = report_fresh && row.is_some();
                async move {
                    (
                        i,
                        self.user_credentials(&acct.name, row, trust_report).await,
                    )
                }
            }))
            // Not `bounded`: a user whose calls fail is a gap for that user, and the others
            // are still read.
            .buffer_unordered(self.inst.concurrency.max(1))
            .collect()
            .await;
        for (i, res) in results {
            let acct = &mut snap.accounts[i];
            match res {
                Ok(creds) => {
                    acct.credentials.extend(creds);
                    acct.detailed = true;
                }
                Err((what, error)) => snap.gaps.push(Gap {
                    account_id: Some(acct.id.clone()),
                    what,
                    checks: vec![],
                    error: error.redacted(),
                }),
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
                Err(e) => snap.gaps.push(Gap {
                    account_id: None,
                    what: format!("Secrets Manager in {region}"),
                    checks: vec!["aws_secretsmanager_secret_not_rotated".into()],
                    error: e.redacted(),
                }),
            }
        }
        snap.accounts.sort_by(|a, b| a.id.cmp(&b.id));
        snap.assets.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(snap)
    }

    /// Every secret of a region (ListSecrets, paginated), then each one's resource policy,
    /// concurrently: a policy may let a leaver's user read a secret they never owned.
    async fn secrets(&self, region: &str, owner_keys: &[String]) -> Result<Vec<Asset>, ProbeError> {
        let conf = aws_sdk_secretsmanager::config::Builder::from(&self.base)
            .region(aws_config::Region::new(region.to_string()))
            .interceptor(self.guard.clone())
            .build();
        let sm = aws_sdk_secretsmanager::Client::from_conf(conf);
        let mut entries = Vec::new();
        let mut token: Option<String> = None;
        let mut pages = 0u32;
        loop {
            let out = sm
                .list_secrets()
                .max_results(100)
                .set_next_token(token.clone())
                .send()
                .await
                .map_err(|e| sdk_err("ListSecrets", e))?;
            entries.extend(out.secret_list().iter().cloned());
            token = out.next_token().map(str::to_string);
            pages += 1;
            if token.is_none() {
                break;
            }
            if pages >= 10_000 {
                return Err(ProbeError::Unexpected(
                    "ListSecrets: pagination does not end".into(),
                ));
            }
        }
        let sm = &sm;
        // Owned ids into the stream: borrowed ones trip async-trait's Send inference.
        let arns: Vec<String> = entries
            .iter()
            .map(|e| e.arn().unwrap_or_default().to_string())
            .collect();
        let policies: Vec<(usize, Option<String>)> = residual_probe::bounded(
            self.inst.concurrency,
            arns.into_iter().enumerate().map(|(i, id)| async move {
                let out = sm
                    .get_resource_policy()
                    .secret_id(id)
                    .send()
                    .await
                    .map_err(|e| sdk_err("GetResourcePolicy", e))?;
                Ok((i, out.resource_policy().map(str::to_string)))
            }),
        )
        .await?;
        let policy_of: HashMap<usize, Option<String>> = policies.into_iter().collect();
        let mut out = Vec::new();
        for (i, e) in entries.iter().enumerate() {
            let trusted = match policy_of.get(&i).cloned().flatten() {
                Some(doc) => api::trusted_user_arns(
                    &api::decode_policy(&doc).map_err(ProbeError::Unexpected)?,
                ),
                None => vec![],
            };
            let owner_refs = e
                .tags()
                .iter()
                .filter_map(|t| {
                    let k = t.key()?;
                    let lk = k.to_ascii_lowercase();
                    (owner_keys.contains(&lk) || IDENTITY_TAG_KEYS.contains(&lk.as_str())).then(
                        || OwnerRef {
                            key: k.to_string(),
                            value: t.value().unwrap_or_default().to_string(),
                        },
                    )
                })
                .collect();
            let mut attributes = BTreeMap::new();
            attributes.insert("region".into(), region.to_string());
            attributes.insert(
                "rotation_enabled".into(),
                e.rotation_enabled().unwrap_or(false).to_string(),
            );
            if let Some(t) = e.last_rotated_date() {
                attributes.insert("last_rotated".into(), residual_probe::rfc3339(to_time(t)));
            }
            out.push(Asset {
                id: e.arn().unwrap_or_default().to_string(),
                resource_type: SECRET.into(),
                name: e.name().unwrap_or_default().to_string(),
                owner_refs,
                trusted_principals: trusted,
                created_at: e.created_date().map(to_time),
                // The latest of a value change and a rotation is when the secret last changed.
                last_changed_at: e
                    .last_changed_date()
                    .map(to_time)
                    .max(e.last_rotated_date().map(to_time)),
                last_used_at: e.last_accessed_date().map(to_time),
                last_use_tracked: true,
                readable_by_role: None,
                attributes,
            });
        }
        Ok(out)
    }

    /// Generate (or reuse) and download the credential report. IAM answers STARTED or
    /// INPROGRESS while it builds one; `ReportNotReady`/`ReportExpired` mean "generate again".
    async fn credential_report(
        &self,
    ) -> Result<(Vec<api::ReportRow>, Option<OffsetDateTime>, bool), ProbeError> {
        use aws_sdk_iam::operation::get_credential_report::GetCredentialReportError as E;
        let mut delay = Duration::from_millis(250);
        let mut started_new = false;
        for _ in 0..40 {
            let gen = self
                .iam
                .generate_credential_report()
                .send()
                .await
                .map_err(|e| sdk_err("GenerateCredentialReport", e))?;
            let complete = matches!(
                gen.state(),
                Some(aws_sdk_iam::types::ReportStateType::Complete)
            );
            if !complete {
                started_new = true;
            }
            if complete {
                match self.iam.get_credential_report().send().await {
                    Ok(out) => {
                        let content = out.content().ok_or_else(|| {
                            ProbeError::Unexpected("credential report has no content".into())
                        })?;
                        let rows = api::parse_credential_report(content.as_ref())
                            .map_err(ProbeError::Unexpected)?;
                        return Ok((rows, out.generated_time().map(to_time), started_new));
                    }
                    Err(SdkError::ServiceError(ctx))
                        if matches!(
                            ctx.err(),
                            E::CredentialReportNotReadyException(_)
                                | E::CredentialReportExpiredException(_)
                                | E::CredentialReportNotPresentException(_)
                        ) => {}
                    Err(e) => return Err(sdk_err("GetCredentialReport", e)),
                }
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(5));
        }
        Err(ProbeError::Timeout(
            "credential report was not ready after 40 polls".into(),
        ))
    }

    async fn authorization_details(&self) -> Result<Inventory, ProbeError> {
        let mut inv = Inventory::default();
        let mut marker: Option<String> = None;
        let mut pages = 0;
        loop {
            let out = self
                .iam
                .get_account_authorization_details()
                .filter(EntityType::User)
                .filter(EntityType::Role)
                .filter(EntityType::Group)
                .filter(EntityType::LocalManagedPolicy)
                .set_marker(marker.clone())
                .send()
                .await
                .map_err(|e| sdk_err("GetAccountAuthorizationDetails", e))?;
            pages += 1;
            inv.users.extend(out.user_detail_list().iter().cloned());
            inv.roles.extend(out.role_detail_list().iter().cloned());
            inv.groups.extend(out.group_detail_list().iter().cloned());
            for p in out.policies() {
                if let Some(arn) = p.arn() {
                    let doc = p
                        .policy_version_list()
                        .iter()
                        .find(|v| v.is_default_version())
                        .and_then(|v| v.document());
                    let power = match doc {
                        Some(d) => api::admin_power(
                            &api::decode_policy(d).map_err(ProbeError::Unexpected)?,
                        ),
                        None => None,
                    };
                    inv.policy_power.insert(arn.to_string(), power);
                }
            }
            if out.is_truncated() {
                marker = out.marker().map(str::to_string);
                if marker.is_none() {
                    return Err(ProbeError::Unexpected(
                        "GetAccountAuthorizationDetails truncated without a marker".into(),
                    ));
                }
                if pages > 10_000 {
                    return Err(ProbeError::Unexpected("pagination does not end".into()));
                }
            } else {
                break;
            }
        }
        Ok(inv)
    }

    /// The credentials of one user that the inventory does not list. An error names the call.
    async fn user_credentials(
        &self,
        user: &str,
        row: Option<&api::ReportRow>,
        trust_report: bool,
    ) -> UserCredentials {
        let mut creds = Vec::new();
        let any_key = row.is_some_and(|r| r.access_keys.iter().any(|k| k.active));
        if !trust_report || any_key {
            self.access_keys(user, row, &mut creds).await?;
        }
        let any_cert = row.is_some_and(|r| r.certs_active.iter().any(|c| *c));
        if !trust_report || any_cert {
            let certs = all_pages!(
                "ListSigningCertificates",
                self.iam.list_signing_certificates().user_name(user),
                certificates
            );
            for c in &certs {
                creds.push(Credential {
                    id: c.certificate_id().to_string(),
                    resource_type: SIGNING_CERT.into(),
                    name: None,
                    active: c.status() == &StatusType::Active,
                    created_at: c.upload_date().map(to_time),
                    last_used_at: None,
                    last_use_tracked: false,
                    expires_at: None,
                    attributes: BTreeMap::new(),
                });
            }
        }
        if !trust_report {
            // The report may predate a login profile; ask IAM directly.
            use aws_sdk_iam::operation::get_login_profile::GetLoginProfileError as E;
            match self.iam.get_login_profile().user_name(user).send().await {
                Ok(out) => {
                    if let Some(p) = out.login_profile() {
                        if !creds.iter().any(|c| c.resource_type == LOGIN_PROFILE) {
                            creds.push(Credential {
                                id: format!("{user}/login-profile"),
                                resource_type: LOGIN_PROFILE.into(),
                                name: Some("console password".into()),
                                active: true,
                                created_at: Some(to_time(p.create_date())),
                                last_used_at: row.and_then(|r| r.password_last_used),
                                last_use_tracked: row.is_some(),
                                expires_at: None,
                                attributes: BTreeMap::new(),
                            });
                        }
                    }
                }
                Err(SdkError::ServiceError(ctx))
                    if matches!(ctx.err(), E::NoSuchEntityException(_)) => {}
                Err(e) => return Err(named("GetLoginProfile", e)),
            }
        }
        let keys = all_pages!(
            "ListSSHPublicKeys",
            self.iam.list_ssh_public_keys().user_name(user),
            ssh_public_keys
        );
        for k in &keys {
            creds.push(Credential {
                id: k.ssh_public_key_id().to_string(),
                resource_type: SSH_KEY.into(),
                name: None,
                active: k.status() == &StatusType::Active,
                created_at: Some(to_time(k.upload_date())),
                last_used_at: None,
                last_use_tracked: false,
                expires_at: None,
                attributes: BTreeMap::new(),
            });
        }
        let service_creds = all_pages!(
            "ListServiceSpecificCredentials",
            self.iam.list_service_specific_credentials().user_name(user),
            service_specific_credentials
        );
        for c in &service_creds {
            let mut attributes = BTreeMap::new();
            attributes.insert("service_name".into(), c.service_name().to_string());
            creds.push(Credential {
                id: c.service_specific_credential_id().to_string(),
                resource_type: SERVICE_CREDENTIAL.into(),
                name: Some(c.service_user_name().to_string()),
                active: c.status() == &StatusType::Active,
                created_at: Some(to_time(c.create_date())),
                last_used_at: None,
                last_use_tracked: false,
                expires_at: None,
                attributes,
            });
        }
        Ok(creds)
    }

    async fn access_keys(
        &self,
        user: &str,
        row: Option<&api::ReportRow>,
        creds: &mut Vec<Credential>,
    ) -> Result<(), (String, ProbeError)> {
        let keys = all_pages!(
            "ListAccessKeys",
            self.iam.list_access_keys().user_name(user),
            access_key_metadata
        );
        for k in &keys {
            let id = k.access_key_id().unwrap_or_default().to_string();
            let created = k.create_date().map(to_time);
            let active = k.status() == Some(&StatusType::Active);
            // Tie the key to its report slot by creation time (to the second); two keys made in
            // the same second, or no report row, need GetAccessKeyLastUsed.
            let slot_matches = |t: Option<OffsetDateTime>| {
                t.is_some()
                    && created.is_some()
                    && t.map(|t| t.unix_timestamp()) == created.map(|c| c.unix_timestamp())
            };
            let slot = row.and_then(|r| {
                let hits: Vec<&api::KeySlot> = r
                    .access_keys
                    .iter()
                    .filter(|s| slot_matches(s.last_rotated))
                    .collect();
                (hits.len() == 1).then(|| hits[0].clone())
            });
            let last_used = match slot {
                Some(s) => s.last_used,
                None if active => self
                    .iam
                    .get_access_key_last_used()
                    .access_key_id(&id)
                    .send()
                    .await
                    .map_err(|e| named("GetAccessKeyLastUsed", e))?
                    .access_key_last_used()
                    .and_then(|l| l.last_used_date())
                    .map(to_time),
                None => None,
            };
            creds.push(Credential {
                id,
                resource_type: ACCESS_KEY.into(),
                name: None,
                active,
                created_at: created,
                last_used_at: last_used,
                last_use_tracked: true,
                expires_at: None,
                attributes: BTreeMap::new(),
            });
        }
        Ok(())
    }
}

fn aws_credential_types_provider(
    p: aws_config::sts::AssumeRoleProvider,
) -> aws_credential_types::provider::SharedCredentialsProvider {
    aws_credential_types::provider::SharedCredentialsProvider::new(p)
}

/// A user's credentials, or the call that failed and why.
type UserCredentials = Result<Vec<Credential>, (String, ProbeError)>;

#[derive(Default)]
struct Inventory {
    users: Vec<aws_sdk_iam::types::UserDetail>,
    roles: Vec<aws_sdk_iam::types::RoleDetail>,
    groups: Vec<aws_sdk_iam::types::GroupDetail>,
    /// Local managed policy ARN → why it is admin power (None: it is not).
    policy_power: HashMap<String, Option<String>>,
}

impl Inventory {
    fn managed_power(&self, arn: &str) -> Option<String> {
        if api::aws_managed_admin(arn) {
            return Some(arn.rsplit('/').next().unwrap_or(arn).to_string());
        }
        self.policy_power.get(arn).cloned().flatten()
    }
}

fn user_account(
    u: &aws_sdk_iam::types::UserDetail,
    inv: &Inventory,
    owner_keys: &[String],
) -> Result<Account, ProbeError> {
    let mut emails = Vec::new();
    let mut owner_refs = Vec::new();
    for t in u.tags() {
        let k = t.key().to_ascii_lowercase();
        if IDENTITY_TAG_KEYS.contains(&k.as_str()) {
            emails.push(t.value().to_string());
        } else if owner_keys.contains(&k) {
            owner_refs.push(OwnerRef {
                key: t.key().to_string(),
                value: t.value().to_string(),
            });
        }
    }
    let mut privileges = Vec::new();
    for p in u.user_policy_list() {
        if let Some(why) =
            policy("inline user policy", p.policy_document())?.and_then(|d| api::admin_power(&d))
        {
            privileges.push(format!(
                "inline policy {}: {why}",
                p.policy_name().unwrap_or("?")
            ));
        }
    }
    for p in u.attached_managed_policies() {
        if let Some(why) = p.policy_arn().and_then(|a| inv.managed_power(a)) {
            privileges.push(format!(
                "managed policy {}: {why}",
                p.policy_name().unwrap_or("?")
            ));
        }
    }
    for g in u.group_list() {
        if let Some(gd) = inv.groups.iter().find(|gd| gd.group_name() == Some(g)) {
            for p in gd.attached_managed_policies() {
                if let Some(why) = p.policy_arn().and_then(|a| inv.managed_power(a)) {
                    privileges.push(format!(
                        "group {g}, managed policy {}: {why}",
                        p.policy_name().unwrap_or("?")
                    ));
                }
            }
            for p in gd.group_policy_list() {
                if let Some(why) = policy("inline group policy", p.policy_document())?
                    .and_then(|d| api::admin_power(&d))
                {
                    privileges.push(format!(
                        "group {g}, inline policy {}: {why}",
                        p.policy_name().unwrap_or("?")
                    ));
                }
            }
        }
    }
    let mut attributes = BTreeMap::new();
    if !u.group_list().is_empty() {
        attributes.insert("groups".into(), u.group_list().join(";"));
    }
    let name = u.user_name().unwrap_or_default().to_string();
    Ok(Account {
        id: u.arn().unwrap_or_default().to_string(),
        resource_type: USER.into(),
        usernames: vec![name.clone()],
        name,
        emails,
        external_ids: vec![],
        owner_refs,
        state: AccountState::Active,
        role: None,
        privileges,
        created_at: u.create_date().map(to_time),
        last_login_at: None,
        credentials: vec![],
        detailed: false,
        attributes,
    })
}

/// A policy document, decoded. One that cannot be read fails the inventory: skipping it would
/// hide a trust or admin grant.
fn policy(what: &str, doc: Option<&str>) -> Result<Option<serde_json::Value>, ProbeError> {
    doc.map(|d| api::decode_policy(d).map_err(|e| ProbeError::Unexpected(format!("{what}: {e}"))))
        .transpose()
}

fn login_profile(user: Option<&str>, row: &api::ReportRow) -> Credential {
    Credential {
        id: format!("{}/login-profile", user.unwrap_or_default()),
        resource_type: LOGIN_PROFILE.into(),
        name: Some("console password".into()),
        active: true,
        created_at: row.password_last_changed,
        last_used_at: row.password_last_used,
        last_use_tracked: true,
        expires_at: None,
        attributes: BTreeMap::new(),
    }
}

fn role_asset(
    r: &aws_sdk_iam::types::RoleDetail,
    owner_keys: &[String],
) -> Result<Asset, ProbeError> {
    let owner_refs = r
        .tags()
        .iter()
        .filter(|t| {
            let k = t.key().to_ascii_lowercase();
            owner_keys.contains(&k) || IDENTITY_TAG_KEYS.contains(&k.as_str())
        })
        .map(|t| OwnerRef {
            key: t.key().to_string(),
            value: t.value().to_string(),
        })
        .collect();
    let trusted = policy("role trust policy", r.assume_role_policy_document())?
        .map(|d| api::trusted_user_arns(&d))
        .unwrap_or_default();
    Ok(Asset {
        id: r.arn().unwrap_or_default().to_string(),
        resource_type: ROLE.into(),
        name: r.role_name().unwrap_or_default().to_string(),
        owner_refs,
        trusted_principals: trusted,
        created_at: r.create_date().map(to_time),
        last_changed_at: None,
        last_used_at: r
            .role_last_used()
            .and_then(|l| l.last_used_date())
            .map(to_time),
        last_use_tracked: true,
        readable_by_role: None,
        attributes: BTreeMap::new(),
    })
}

fn to_time(t: &aws_smithy_types::DateTime) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(t.secs()).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

fn named<E, R>(op: &str, e: SdkError<E, R>) -> (String, ProbeError)
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    (op.to_string(), sdk_err(op, e))
}

/// Classify an SDK error. Every class is an error: none becomes "nothing found".
fn sdk_err<E, R>(op: &str, e: SdkError<E, R>) -> ProbeError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let msg = |detail: String| residual_probe::redact::redact(&format!("{op}: {detail}"));
    match &e {
        SdkError::TimeoutError(_) => ProbeError::Timeout(msg("no answer in time".into())),
        SdkError::DispatchFailure(d) => {
            if d.is_timeout() {
                ProbeError::Timeout(msg("no answer in time".into()))
            } else {
                let detail: String = aws_smithy_types::error::display::DisplayErrorContext(&e)
                    .to_string()
                    .chars()
                    .take(300)
                    .collect();
                ProbeError::Transport(msg(format!("could not reach the endpoint: {detail}")))
            }
        }
        SdkError::ServiceError(ctx) => {
            let code = ctx.err().code().unwrap_or("Unknown");
            let text = ctx.err().message().unwrap_or("");
            let detail = format!("{code}: {text}");
            match code {
                "Throttling" | "ThrottlingException" | "RequestLimitExceeded" => {
                    ProbeError::Throttled(msg(detail))
                }
                "AccessDenied" | "AccessDeniedException" | "UnauthorizedOperation" => {
                    ProbeError::Permission(msg(detail))
                }
                "InvalidClientTokenId"
                | "ExpiredToken"
                | "ExpiredTokenException"
                | "SignatureDoesNotMatch"
                | "UnrecognizedClientException"
                | "InvalidAccessKeyId" => ProbeError::Auth(msg(detail)),
                _ if code.contains("ServiceFailure") || code.contains("InternalFailure") => {
                    ProbeError::Server(msg(detail))
                }
                _ => ProbeError::Unexpected(msg(detail)),
            }
        }
        SdkError::ResponseError(_) => {
            ProbeError::Unexpected(msg("response could not be parsed".into()))
        }
        SdkError::ConstructionFailure(_) => ProbeError::Config(msg(format!(
            "request could not be built: {}",
            aws_smithy_types::error::display::DisplayErrorContext(&e)
        ))),
        _ => ProbeError::Unexpected(msg("unknown SDK error".into())),
    }
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
    async fn collect(&self, filter: &dyn AccountFilter) -> SystemSnapshot {
        collect(&self.0, filter).await
    }
}
