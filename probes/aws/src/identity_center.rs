//! IAM Identity Center: the identity-store users (the people), and for the users some leaver
//! could be, every account × permission set they can still reach — directly or through a
//! group — with the permission set's admin power.
//!
//! Inventory first: `ListUsers` once; then, for the wanted users only, their group
//! memberships and account assignments (per user and per distinct group), and each distinct
//! permission set once. A permission set whose customer-managed policies cannot be judged
//! here (their documents live in each account) is a severity gap, never a quiet "not admin".

use std::collections::{BTreeMap, BTreeSet};

use residual_probe::{
    Account, AccountFilter, AccountState, Gap, Identifier, ProbeError, RequestCounter,
    SystemSnapshot,
};

use crate::error::{sdk_err, to_time};
use crate::{api, guard, AwsInstance, SSO_ACCOUNT_ASSIGNMENT, SSO_USER_ACTIVE, SYSTEM};

pub const SSO_USER: &str = "aws_sso_user";
pub const ASSIGNMENT: &str = "aws_sso_account_assignment";

/// The Identity Center instance as one system instance, or `None` when the organization has
/// none and `required` is false.
pub(crate) async fn collect(
    inst: &AwsInstance,
    base: &aws_types::SdkConfig,
    label: &str,
    account_names: &BTreeMap<String, String>,
    required: bool,
    filter: &dyn AccountFilter,
) -> Option<SystemSnapshot> {
    let counter = RequestCounter::default();
    let g = guard::ReadOnlyGuard::new(counter.clone());
    let c = Center {
        admin: aws_sdk_ssoadmin::Client::from_conf(
            aws_sdk_ssoadmin::config::Builder::from(base)
                .interceptor(g.clone())
                .build(),
        ),
        store: aws_sdk_identitystore::Client::from_conf(
            aws_sdk_identitystore::config::Builder::from(base)
                .interceptor(g)
                .build(),
        ),
        concurrency: inst.concurrency,
    };
    let mut snap = match c.run(label, account_names, required, filter).await {
        Ok(Some(s)) => s,
        Ok(None) => return None,
        Err(e) => SystemSnapshot::failed(SYSTEM, label, e),
    };
    snap.requests = counter.get();
    Some(snap)
}

struct Center {
    admin: aws_sdk_ssoadmin::Client,
    store: aws_sdk_identitystore::Client,
    concurrency: usize,
}

/// What a permission set grants, as far as can be told here.
struct PermissionSet {
    name: String,
    /// Why it is admin power, one line each.
    admin: Vec<String>,
    /// Customer-managed policies (judged in each account, not here).
    customer_managed: Vec<String>,
}

impl Center {
    async fn run(
        &self,
        label: &str,
        account_names: &BTreeMap<String, String>,
        required: bool,
        filter: &dyn AccountFilter,
    ) -> Result<Option<SystemSnapshot>, ProbeError> {
        let instances = self
            .admin
            .list_instances()
            .send()
            .await
            .map_err(|e| sdk_err("ListInstances", e))?;
        let Some(ic) = instances.instances().first() else {
            return if required {
                Err(ProbeError::Config(
                    "identity_center = true, but the organization has no IAM Identity Center instance in this region".into(),
                ))
            } else {
                Ok(None)
            };
        };
        let instance_arn = ic.instance_arn().unwrap_or_default().to_string();
        let store = ic.identity_store_id().unwrap_or_default().to_string();
        let mut snap = SystemSnapshot::new(
            SYSTEM,
            label,
            Some(format!(
                "IAM Identity Center {instance_arn} (identity store {store})"
            )),
        );
        snap.title = ic.name().map(str::to_string);
        snap.entitlement_kinds = vec!["aws-sso:permission-set".into(), "aws-sso:group".into()];
        snap.context
            .insert("instance_arn".into(), instance_arn.clone());
        snap.context
            .insert("identity_store_id".into(), store.clone());

        // Every user: the inventory.
        let mut users = Vec::new();
        let mut token: Option<String> = None;
        for page_no in 0.. {
            let page = self
                .store
                .list_users()
                .identity_store_id(&store)
                .set_next_token(token.clone())
                .send()
                .await
                .map_err(|e| sdk_err("ListUsers", e))?;
            users.extend(page.users().iter().map(user_account));
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                break;
            }
            if page_no > 100_000 {
                return Err(ProbeError::Unexpected(
                    "ListUsers: pagination does not end".into(),
                ));
            }
        }
        snap.accounts_enumerated = users.len() as u64;
        let wanted: Vec<usize> = (0..users.len())
            .filter(|&i| filter.wants(&users[i]))
            .collect();

        // Groups by id, for names in evidence.
        let groups = self.groups(&store).await?;
        // The wanted users' groups, and the assignments of users and groups.
        let mut member_of: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for &i in &wanted {
            let uid = users[i].id.clone();
            member_of.insert(uid.clone(), self.memberships(&store, &uid).await?);
        }
        let distinct_groups: BTreeSet<String> = member_of.values().flatten().cloned().collect();
        use aws_sdk_ssoadmin::types::PrincipalType;
        let mut by_principal: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
        let principals: Vec<(String, PrincipalType)> = wanted
            .iter()
            .map(|&i| (users[i].id.clone(), PrincipalType::User))
            .chain(
                distinct_groups
                    .iter()
                    .map(|g| (g.clone(), PrincipalType::Group)),
            )
            .collect();
        let results = residual_probe::bounded(
            self.concurrency,
            principals.into_iter().map(|(id, kind)| {
                let arn = instance_arn.clone();
                async move {
                    let list = self.assignments(&arn, &id, kind).await?;
                    Ok::<_, ProbeError>((id, list))
                }
            }),
        )
        .await?;
        by_principal.extend(results);

        // Each distinct permission set once.
        let set_arns: BTreeSet<String> = by_principal
            .values()
            .flatten()
            .map(|(_, ps)| ps.clone())
            .collect();
        let sets: BTreeMap<String, PermissionSet> = residual_probe::bounded(
            self.concurrency,
            set_arns.into_iter().map(|ps| {
                let arn = instance_arn.clone();
                async move {
                    let set = self.permission_set(&arn, &ps).await?;
                    Ok::<_, ProbeError>((ps, set))
                }
            }),
        )
        .await?
        .into_iter()
        .collect();

        // (account, permission set) → user → how it is reached.
        let mut reach: BTreeMap<(String, String), BTreeMap<String, Vec<String>>> = BTreeMap::new();
        for &i in &wanted {
            let uid = &users[i].id;
            for (acct, ps) in by_principal.get(uid).into_iter().flatten() {
                reach
                    .entry((acct.clone(), ps.clone()))
                    .or_default()
                    .entry(uid.clone())
                    .or_default()
                    .push("direct assignment".into());
            }
            for gid in member_of.get(uid).into_iter().flatten() {
                let gname = groups.get(gid).cloned().unwrap_or_else(|| gid.clone());
                for (acct, ps) in by_principal.get(gid).into_iter().flatten() {
                    reach
                        .entry((acct.clone(), ps.clone()))
                        .or_default()
                        .entry(uid.clone())
                        .or_default()
                        .push(format!("group {gname}"));
                }
            }
        }
        for &i in &wanted {
            let uid = users[i].id.clone();
            let names: Vec<String> = member_of
                .get(&uid)
                .into_iter()
                .flatten()
                .map(|gid| groups.get(gid).cloned().unwrap_or_else(|| gid.clone()))
                .collect();
            for g in names {
                users[i].entitlements.push(residual_probe::Entitlement::new(
                    "aws-sso", "group", &g, false,
                ));
            }
        }
        let mut gapped: BTreeSet<String> = BTreeSet::new();
        for ((acct, ps_arn), who) in &reach {
            let set = &sets[ps_arn];
            let account_name = account_names.get(acct).cloned().unwrap_or_default();
            let mut x = residual_probe::demo::asset(
                ASSIGNMENT,
                &format!("{acct}/{ps_arn}"),
                &format!(
                    "{} on {acct}{}",
                    set.name,
                    if account_name.is_empty() {
                        String::new()
                    } else {
                        format!(" ({account_name})")
                    }
                ),
            );
            x.trusted_principals = who.keys().cloned().collect();
            x.privileges = set.admin.clone();
            x.attributes.insert("target_id".into(), acct.clone());
            x.attributes
                .insert("permission_set".into(), set.name.clone());
            x.attributes
                .insert("permission_set_arn".into(), ps_arn.clone());
            for (uid, via) in who {
                x.attributes.insert(format!("via:{uid}"), via.join("; "));
                if let Some(u) = users.iter_mut().find(|u| u.id == *uid) {
                    for a in &set.admin {
                        u.privileges.push(format!("{} on {acct}: {a}", set.name));
                    }
                    // A mover's `aws-sso:permission-set/<name>`: held on any account.
                    let mut e = residual_probe::Entitlement::new(
                        "aws-sso",
                        "permission-set",
                        &set.name,
                        !set.admin.is_empty(),
                    );
                    e.via = Some(format!("{} on {acct}", via.join("; ")));
                    if !u.entitlements.iter().any(|x| x.reference == e.reference) {
                        u.entitlements.push(e);
                    }
                }
                if set.admin.is_empty()
                    && !set.customer_managed.is_empty()
                    && gapped.insert(format!("{uid}/{ps_arn}"))
                {
                    snap.gaps.push(
                        Gap::severity(
                            format!(
                                "customer-managed policies of permission set {} ({}): judged in each account, not here",
                                set.name,
                                set.customer_managed.join(", ")
                            ),
                            &[SSO_ACCOUNT_ASSIGNMENT, SSO_USER_ACTIVE],
                            ProbeError::Permission("not evaluated".into()),
                        )
                        .for_account(uid.clone()),
                    );
                }
            }
            snap.assets.push(x);
        }
        for &i in &wanted {
            users[i].detailed = true;
        }
        snap.notes.push(format!(
            "Identity Center: {} users, {} groups; assignments read for {} wanted users and {} of their groups; {} permission sets",
            users.len(),
            groups.len(),
            wanted.len(),
            distinct_groups.len(),
            sets.len()
        ));
        snap.accounts = users;
        snap.accounts.sort_by(|a, b| a.id.cmp(&b.id));
        snap.assets.sort_by(|a, b| a.id.cmp(&b.id));
        snap.identify_by(
            &[
                Identifier::Email,
                Identifier::Username,
                Identifier::EmployeeId,
            ],
            None,
        );
        Ok(Some(snap))
    }

    async fn groups(&self, store: &str) -> Result<BTreeMap<String, String>, ProbeError> {
        let mut out = BTreeMap::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .store
                .list_groups()
                .identity_store_id(store)
                .set_next_token(token.clone())
                .send()
                .await
                .map_err(|e| sdk_err("ListGroups", e))?;
            for g in page.groups() {
                out.insert(
                    g.group_id().to_string(),
                    g.display_name().unwrap_or(g.group_id()).to_string(),
                );
            }
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                return Ok(out);
            }
        }
    }

    async fn memberships(&self, store: &str, user: &str) -> Result<Vec<String>, ProbeError> {
        use aws_sdk_identitystore::types::MemberId;
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .store
                .list_group_memberships_for_member()
                .identity_store_id(store)
                .member_id(MemberId::UserId(user.to_string()))
                .set_next_token(token.clone())
                .send()
                .await
                .map_err(|e| sdk_err("ListGroupMembershipsForMember", e))?;
            out.extend(
                page.group_memberships()
                    .iter()
                    .filter_map(|m| m.group_id().map(str::to_string)),
            );
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                return Ok(out);
            }
        }
    }

    /// (account id, permission set ARN) assigned to a user or group.
    async fn assignments(
        &self,
        instance: &str,
        principal: &str,
        kind: aws_sdk_ssoadmin::types::PrincipalType,
    ) -> Result<Vec<(String, String)>, ProbeError> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .admin
                .list_account_assignments_for_principal()
                .instance_arn(instance)
                .principal_id(principal)
                .principal_type(kind.clone())
                .set_next_token(token.clone())
                .send()
                .await
                .map_err(|e| sdk_err("ListAccountAssignmentsForPrincipal", e))?;
            for a in page.account_assignments() {
                if let (Some(acct), Some(ps)) = (a.account_id(), a.permission_set_arn()) {
                    out.push((acct.to_string(), ps.to_string()));
                }
            }
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                return Ok(out);
            }
        }
    }

    async fn permission_set(&self, instance: &str, arn: &str) -> Result<PermissionSet, ProbeError> {
        let d = self
            .admin
            .describe_permission_set()
            .instance_arn(instance)
            .permission_set_arn(arn)
            .send()
            .await
            .map_err(|e| sdk_err("DescribePermissionSet", e))?;
        let name = d
            .permission_set()
            .and_then(|p| p.name())
            .unwrap_or(arn)
            .to_string();
        let mut admin = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .admin
                .list_managed_policies_in_permission_set()
                .instance_arn(instance)
                .permission_set_arn(arn)
                .set_next_token(token.clone())
                .send()
                .await
                .map_err(|e| sdk_err("ListManagedPoliciesInPermissionSet", e))?;
            for p in page.attached_managed_policies() {
                let parn = p.arn().unwrap_or_default();
                if api::aws_managed_admin(parn) {
                    admin.push(format!(
                        "managed policy {}",
                        p.name().unwrap_or(parn.rsplit('/').next().unwrap_or(parn))
                    ));
                }
            }
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        let inline = self
            .admin
            .get_inline_policy_for_permission_set()
            .instance_arn(instance)
            .permission_set_arn(arn)
            .send()
            .await
            .map_err(|e| sdk_err("GetInlinePolicyForPermissionSet", e))?;
        if let Some(doc) = inline.inline_policy().filter(|d| !d.trim().is_empty()) {
            // Permission-set inline policies are plain JSON (not URL-encoded as in IAM).
            let v: serde_json::Value = serde_json::from_str(doc)
                .or_else(|_| api::decode_policy(doc))
                .map_err(|e| {
                    ProbeError::Unexpected(format!("inline policy of permission set {name}: {e}"))
                })?;
            if let Some(why) = api::admin_power(&v) {
                admin.push(format!("inline policy: {why}"));
            }
        }
        let mut customer_managed = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .admin
                .list_customer_managed_policy_references_in_permission_set()
                .instance_arn(instance)
                .permission_set_arn(arn)
                .set_next_token(token.clone())
                .send()
                .await
                .map_err(|e| sdk_err("ListCustomerManagedPolicyReferencesInPermissionSet", e))?;
            customer_managed.extend(
                page.customer_managed_policy_references()
                    .iter()
                    .map(|r| format!("{}{}", r.path().unwrap_or("/"), r.name())),
            );
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        Ok(PermissionSet {
            name,
            admin,
            customer_managed,
        })
    }
}

fn user_account(u: &aws_sdk_identitystore::types::User) -> Account {
    let name = u.user_name().unwrap_or(u.user_id()).to_string();
    let mut a = residual_probe::demo::account(SSO_USER, u.user_id(), &name, vec![]);
    a.emails = u
        .emails()
        .iter()
        .filter_map(|e| e.value().map(str::to_string))
        .collect();
    a.external_ids = u
        .external_ids()
        .iter()
        .map(|x| x.id().to_string())
        .collect();
    a.detailed = false;
    a.created_at = u.created_at().map(to_time);
    if u.user_status()
        .is_some_and(|s| *s == aws_sdk_identitystore::types::UserStatus::Disabled)
    {
        a.state = AccountState::Disabled;
    }
    if let Some(d) = u.display_name() {
        a.attributes.insert("display_name".into(), d.to_string());
    }
    a
}
