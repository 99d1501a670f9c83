//! IAM: the credential report, GetAccountAuthorizationDetails (users, roles, groups, local
//! policies) and the per-user calls the inventory cannot replace, turned into the estate model.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use aws_sdk_iam::types::{EntityType, StatusType};
use aws_smithy_runtime_api::client::result::SdkError;
use residual_probe::{Account, AccountState, Asset, Credential, OwnerRef, ProbeError};
use time::OffsetDateTime;

use crate::error::{named, sdk_err, to_time};
use crate::{
    api, Collector, ACCESS_KEY, IDENTITY_TAG_KEYS, LOGIN_PROFILE, ROLE, SERVICE_CREDENTIAL,
    SIGNING_CERT, SSH_KEY, USER,
};

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

/// A user's credentials, or the call that failed and why.
/// The services that issue service-specific credentials (`ServiceName` values of
/// CreateServiceSpecificCredential in the IAM API Reference): CodeCommit Git credentials,
/// Amazon Keyspaces passwords, Amazon Bedrock API keys. A service AWS adds must be added
/// here, or its credentials would not be listed: the per-user fallback covers none either.
pub(crate) const SERVICE_CREDENTIAL_SERVICES: &[&str] = &[
    "codecommit.amazonaws.com",
    "cassandra.amazonaws.com",
    "bedrock.amazonaws.com",
];

fn service_credential(c: &aws_sdk_iam::types::ServiceSpecificCredentialMetadata) -> Credential {
    let mut attributes = BTreeMap::new();
    attributes.insert("service_name".into(), c.service_name().to_string());
    Credential {
        id: c.service_specific_credential_id().to_string(),
        resource_type: SERVICE_CREDENTIAL.into(),
        name: Some(c.service_user_name().to_string()),
        active: c.status() == &StatusType::Active,
        created_at: Some(to_time(c.create_date())),
        last_used_at: None,
        last_use_tracked: false,
        expires_at: None,
        attributes,
    }
}

pub(crate) type UserCredentials = Result<Vec<Credential>, (String, ProbeError)>;

impl Collector<'_> {
    /// Generate (or reuse) and download the credential report. IAM answers STARTED or
    /// INPROGRESS while it builds one; `ReportNotReady`/`ReportExpired` mean "generate again".
    pub(crate) async fn credential_report(
        &self,
    ) -> Result<(Vec<api::ReportRow>, Option<OffsetDateTime>, bool), ProbeError> {
        use aws_sdk_iam::operation::get_credential_report::GetCredentialReportError as E;
        // Real IAM takes seconds to build a report; poll soon, then back off.
        let mut delay = Duration::from_millis(50);
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

    pub(crate) async fn authorization_details(&self) -> Result<Inventory, ProbeError> {
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
    pub(crate) async fn user_credentials(
        &self,
        user: &str,
        row: Option<&api::ReportRow>,
        trust_report: bool,
        service_creds: Option<&[Credential]>,
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
        match service_creds {
            // Read for every user at once (AllUsers, per service).
            Some(list) => creds.extend(list.iter().cloned()),
            None => {
                let list = all_pages!(
                    "ListServiceSpecificCredentials",
                    self.iam.list_service_specific_credentials().user_name(user),
                    service_specific_credentials
                );
                creds.extend(list.iter().map(service_credential));
            }
        }
        Ok(creds)
    }

    /// Every user's service-specific credentials, one paginated `AllUsers` listing per
    /// service that issues them (the IAM API Reference: AllUsers "returns all credentials
    /// associated with the specified service"), keyed by user name. Replaces a call per user.
    pub(crate) async fn all_service_credentials(
        &self,
    ) -> Result<HashMap<String, Vec<Credential>>, (String, ProbeError)> {
        let mut out: HashMap<String, Vec<Credential>> = HashMap::new();
        for service in SERVICE_CREDENTIAL_SERVICES {
            let list = all_pages!(
                "ListServiceSpecificCredentials",
                self.iam
                    .list_service_specific_credentials()
                    .all_users(true)
                    .service_name(*service),
                service_specific_credentials
            );
            for c in &list {
                out.entry(c.user_name().to_string())
                    .or_default()
                    .push(service_credential(c));
            }
        }
        Ok(out)
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
            // Two keys made in the same second match two slots: when both slots say the same
            // last use, either is the answer and no call is needed.
            let slot = row.and_then(|r| {
                let hits: Vec<&api::KeySlot> = r
                    .access_keys
                    .iter()
                    .filter(|s| slot_matches(s.last_rotated))
                    .collect();
                let agree = hits.windows(2).all(|w| w[0].last_used == w[1].last_used);
                (!hits.is_empty() && agree).then(|| hits[0].clone())
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

#[derive(Default)]
pub(crate) struct Inventory {
    pub(crate) users: Vec<aws_sdk_iam::types::UserDetail>,
    pub(crate) roles: Vec<aws_sdk_iam::types::RoleDetail>,
    pub(crate) groups: Vec<aws_sdk_iam::types::GroupDetail>,
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

pub(crate) fn user_account(
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
    // What a mover's old role may have to give up: groups, and managed policies (attached
    // directly, or through a group).
    let mut entitlements = Vec::new();
    for g in u.group_list() {
        let admin = privileges
            .iter()
            .any(|p| p.starts_with(&format!("group {g},")));
        entitlements.push(residual_probe::Entitlement::new("aws", "group", g, admin));
    }
    for p in u.attached_managed_policies() {
        if let Some(n) = p.policy_name() {
            let admin = p.policy_arn().and_then(|a| inv.managed_power(a)).is_some();
            entitlements.push(residual_probe::Entitlement::new("aws", "policy", n, admin));
        }
    }
    for g in u.group_list() {
        if let Some(gd) = inv.groups.iter().find(|gd| gd.group_name() == Some(g)) {
            for p in gd.attached_managed_policies() {
                if let Some(n) = p.policy_name() {
                    let admin = p.policy_arn().and_then(|a| inv.managed_power(a)).is_some();
                    let mut e = residual_probe::Entitlement::new("aws", "policy", n, admin);
                    e.via = Some(format!("group {g}"));
                    entitlements.push(e);
                }
            }
        }
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
        entitlements,
    })
}

/// A policy document, decoded. One that cannot be read fails the inventory: skipping it would
/// hide a trust or admin grant.
fn policy(what: &str, doc: Option<&str>) -> Result<Option<serde_json::Value>, ProbeError> {
    doc.map(|d| api::decode_policy(d).map_err(|e| ProbeError::Unexpected(format!("{what}: {e}"))))
        .transpose()
}

pub(crate) fn login_profile(user: Option<&str>, row: &api::ReportRow) -> Credential {
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

pub(crate) fn role_asset(
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
        privileges: vec![],
        attributes: BTreeMap::new(),
    })
}
