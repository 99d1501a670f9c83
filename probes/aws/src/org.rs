//! An AWS organization, account by account: list the accounts from the management (or
//! delegated administrator) account, narrow them by OU and include/exclude lists, assume the
//! named read-only role in each member, and scan each as its own instance
//! (`<name>/<account id>`), concurrently within the scan's concurrency. IAM Identity Center
//! comes on top as `<name>/identity-center`.
//!
//! Fail closed: an account whose role cannot be assumed is a failed instance (`error` for
//! every leaver there), never skipped; an organization that cannot be listed is a failed
//! `<name>/organization` instance. Suspended accounts are named in every instance's notes.

use std::collections::{BTreeMap, BTreeSet};

use futures::StreamExt;
use residual_probe::{AccountFilter, ProbeError, RequestCounter, SystemSnapshot};

use crate::error::sdk_err;
use crate::{base_config, guard, identity_center, AwsInstance, Collector, Organization, SYSTEM};

/// An account of the organization.
#[derive(Debug, Clone)]
pub(crate) struct OrgAccount {
    pub id: String,
    pub name: String,
    pub active: bool,
}

pub(crate) async fn collect(
    inst: &AwsInstance,
    org: &Organization,
    filter: &dyn AccountFilter,
) -> Vec<SystemSnapshot> {
    let name = inst.name.clone().unwrap_or_else(|| SYSTEM.to_string());
    let counter = RequestCounter::default();
    let base = base_config(inst).await;
    let g = guard::ReadOnlyGuard::new(counter.clone());
    let sts = aws_sdk_sts::Client::from_conf(
        aws_sdk_sts::config::Builder::from(&base)
            .interceptor(g.clone())
            .build(),
    );
    let fail = |e: ProbeError| {
        let mut s = SystemSnapshot::failed(SYSTEM, &format!("{name}/organization"), e);
        s.requests = counter.get();
        vec![s]
    };
    let who = match sts.get_caller_identity().send().await {
        Ok(w) => w,
        Err(e) => return fail(sdk_err("GetCallerIdentity", e)),
    };
    let caller = who.account().unwrap_or_default().to_string();
    let partition = who
        .arn()
        .and_then(|a| a.split(':').nth(1))
        .unwrap_or("aws")
        .to_string();
    let orgs = aws_sdk_organizations::Client::from_conf(
        aws_sdk_organizations::config::Builder::from(&base)
            .interceptor(g.clone())
            .build(),
    );
    let all = match list_accounts(&orgs, &org.units).await {
        Ok(a) => a,
        Err(e) => return fail(e),
    };
    let suspended: Vec<String> = all
        .iter()
        .filter(|a| !a.active)
        .map(|a| format!("{} ({})", a.id, a.name))
        .collect();
    let scanned: Vec<OrgAccount> = all
        .iter()
        .filter(|a| a.active)
        .filter(|a| org.include.as_ref().is_none_or(|i| i.contains(&a.id)))
        .filter(|a| !org.exclude.contains(&a.id))
        .cloned()
        .collect();
    // `--shard`: each account (and the Identity Center) is a unit; every shard lists the
    // organization, and reads its own units only.
    let ic_label = format!("{name}/identity-center");
    let ic_here = org.identity_center == Some(false) || filter.in_shard(SYSTEM, &ic_label);
    let mine: Vec<bool> = scanned
        .iter()
        .map(|a| filter.in_shard(SYSTEM, &format!("{name}/{}", a.id)))
        .collect();
    let shard_total = scanned.len();
    let scanned: Vec<OrgAccount> = scanned
        .into_iter()
        .zip(mine)
        .filter(|(_, m)| *m)
        .map(|(a, _)| a)
        .collect();
    let mut summary = format!(
        "organization: {} accounts ({} active), {} scanned{}",
        all.len(),
        all.len() - suspended.len(),
        shard_total,
        if org.units.is_empty() {
            String::new()
        } else {
            format!(" (under {})", org.units.join(", "))
        }
    );
    if !suspended.is_empty() {
        summary.push_str(&format!(
            "; suspended, not scanned: {}",
            suspended.join(", ")
        ));
    }
    // Accounts in parallel, each with a share of the concurrency: the scan's bound holds
    // across the organization.
    let parallel = scanned.len().clamp(1, (inst.concurrency / 4).max(1));
    let per_account = (inst.concurrency / parallel).max(2);
    let names: BTreeMap<String, String> =
        all.iter().map(|a| (a.id.clone(), a.name.clone())).collect();
    let base_ref = &base;
    let sts_ref = &sts;
    let (name_ref, caller_ref, partition_ref, summary_ref) = (&name, &caller, &partition, &summary);
    let mut out: Vec<SystemSnapshot> =
        futures::stream::iter(scanned.into_iter().map(|a| async move {
            let label = format!("{name_ref}/{}", a.id);
            let counter = RequestCounter::default();
            let config = if a.id == *caller_ref {
                // The scanning identity's own account: its credentials, no role to assume.
                Ok(base_ref.clone())
            } else {
                assume(sts_ref, base_ref, partition_ref, &a.id, org).await
            };
            let mut snap = match config {
                Ok(cfg) => {
                    let c = Collector::new(
                        inst,
                        cfg,
                        counter.clone(),
                        Some(label.clone()),
                        per_account,
                    );
                    c.run(filter)
                        .await
                        .unwrap_or_else(|e| SystemSnapshot::failed(SYSTEM, &label, e))
                }
                Err(e) => SystemSnapshot::failed(SYSTEM, &label, e),
            };
            snap.requests = counter.get();
            snap.title = Some(a.name.clone());
            snap.notes.push(summary_ref.clone());
            snap
        }))
        .buffer_unordered(parallel)
        .collect()
        .await;
    out.sort_by(|a, b| a.instance.cmp(&b.instance));
    if org.identity_center != Some(false) && ic_here {
        let ic = identity_center::collect(
            inst,
            &base,
            &format!("{name}/identity-center"),
            &names,
            org.identity_center == Some(true),
            filter,
        )
        .await;
        out.extend(ic.map(|mut s| {
            s.notes.push(summary.clone());
            s
        }));
    }
    // The organization-level calls (caller, account listing) are counted on the first
    // instance, so the manifest's total is every request sent. A shard with no unit of the
    // organization still reports what it sent.
    match out.first_mut() {
        Some(first) => first.requests += counter.get(),
        None if counter.get() > 0 => {
            tracing::info!(
                "{name}: organization listed, no account in this shard ({} requests)",
                counter.get()
            );
        }
        None => {}
    }
    out
}

/// Every account, or those under the given OUs (nested OUs included), paginated to the end.
async fn list_accounts(
    orgs: &aws_sdk_organizations::Client,
    units: &[String],
) -> Result<Vec<OrgAccount>, ProbeError> {
    use aws_sdk_organizations::types::AccountState;
    let to_account = |a: &aws_sdk_organizations::types::Account| {
        let active = match a.state() {
            Some(s) => *s == AccountState::Active,
            // Older answers carry only the (deprecated) status.
            None => a
                .status()
                .is_some_and(|s| *s == aws_sdk_organizations::types::AccountStatus::Active),
        };
        OrgAccount {
            id: a.id().unwrap_or_default().to_string(),
            name: a.name().unwrap_or_default().to_string(),
            active,
        }
    };
    let mut out = Vec::new();
    if units.is_empty() {
        let mut token: Option<String> = None;
        for _ in 0..10_000 {
            let page = orgs
                .list_accounts()
                .set_next_token(token.clone())
                .send()
                .await
                .map_err(|e| sdk_err("ListAccounts", e))?;
            out.extend(page.accounts().iter().map(to_account));
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                return Ok(out);
            }
        }
        return Err(ProbeError::Unexpected(
            "ListAccounts: pagination does not end".into(),
        ));
    }
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut parents: Vec<String> = units.to_vec();
    while let Some(parent) = parents.pop() {
        if !seen.insert(parent.clone()) || seen.len() > 100_000 {
            continue;
        }
        let mut token: Option<String> = None;
        loop {
            let page = orgs
                .list_accounts_for_parent()
                .parent_id(&parent)
                .set_next_token(token.clone())
                .send()
                .await
                .map_err(|e| sdk_err("ListAccountsForParent", e))?;
            out.extend(page.accounts().iter().map(to_account));
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        let mut token: Option<String> = None;
        loop {
            let page = orgs
                .list_organizational_units_for_parent()
                .parent_id(&parent)
                .set_next_token(token.clone())
                .send()
                .await
                .map_err(|e| sdk_err("ListOrganizationalUnitsForParent", e))?;
            parents.extend(
                page.organizational_units()
                    .iter()
                    .filter_map(|u| u.id().map(str::to_string)),
            );
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out.dedup_by(|a, b| a.id == b.id);
    Ok(out)
}

/// Credentials of the member role, as an SDK config. Called explicitly (not through a
/// credentials provider) so a refusal is a named error for that account.
async fn assume(
    sts: &aws_sdk_sts::Client,
    base: &aws_types::SdkConfig,
    partition: &str,
    account: &str,
    org: &Organization,
) -> Result<aws_types::SdkConfig, ProbeError> {
    let role = org.role.trim_matches('/');
    let arn = format!("arn:{partition}:iam::{account}:role/{role}");
    let out = sts
        .assume_role()
        .role_arn(&arn)
        .role_session_name("residual")
        .set_external_id(org.external_id.clone())
        .send()
        .await
        .map_err(|e| match sdk_err("AssumeRole", e) {
            ProbeError::Permission(m) | ProbeError::Auth(m) => {
                ProbeError::Permission(format!("{m} (role {arn})"))
            }
            other => other,
        })?;
    let c = out
        .credentials()
        .ok_or_else(|| ProbeError::Unexpected(format!("AssumeRole {arn}: no credentials")))?;
    residual_probe::redact::register(c.secret_access_key());
    residual_probe::redact::register(c.session_token());
    let creds = aws_credential_types::Credentials::new(
        c.access_key_id(),
        c.secret_access_key(),
        Some(c.session_token().to_string()),
        None,
        "residual-organization-role",
    );
    Ok(base
        .clone()
        .into_builder()
        .credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(creds))
        .build())
}
