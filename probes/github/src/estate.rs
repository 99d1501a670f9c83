//! GitHub's wire types turned into the estate model: members, token owners, invitations,
//! SSO credentials, fine-grained PAT grants, deploy keys and org secrets.

use std::collections::{BTreeMap, HashMap};

use residual_probe::{Account, AccountState, Asset, Credential, OwnerRef};

use crate::{
    api, DEPLOY_KEY, FINE_GRAINED_PAT, INVITATION, MEMBER, ORG_SECRET, SSO_CREDENTIAL, TOKEN_OWNER,
};

pub(crate) fn member_account(
    u: &api::SimpleUser,
    role: &str,
    saml: &HashMap<String, String>,
) -> Account {
    let mut attributes = BTreeMap::new();
    let mut emails = Vec::new();
    if let Some(n) = saml.get(&u.login.to_lowercase()) {
        emails.push(n.clone());
        attributes.insert("saml_name_id".into(), n.clone());
    }
    Account {
        id: if u.id > 0 {
            format!("user/{}", u.id)
        } else {
            format!("login/{}", u.login)
        },
        resource_type: MEMBER.into(),
        name: u.login.clone(),
        usernames: vec![u.login.clone()],
        emails,
        external_ids: vec![],
        owner_refs: vec![],
        state: AccountState::Active,
        role: Some(role.to_string()),
        privileges: if role == "owner" {
            vec!["organization owner".into()]
        } else {
            vec![]
        },
        created_at: None,
        last_login_at: None,
        credentials: vec![],
        detailed: true,
        attributes,
        entitlements: vec![],
    }
}

/// The account a token belongs to; a token owner who is no longer a member or collaborator
/// still gets an account, so the token is not lost.
pub(crate) fn owner_account<'m>(
    accounts: &'m mut BTreeMap<String, Account>,
    login: &str,
    id: u64,
) -> &'m mut Account {
    accounts.entry(login.to_lowercase()).or_insert_with(|| {
        let mut a = member_account(
            &api::SimpleUser {
                login: login.to_string(),
                id,
            },
            "token owner",
            &HashMap::new(),
        );
        a.resource_type = TOKEN_OWNER.into();
        a.role = None;
        a
    })
}

pub(crate) fn invitation_account(i: &api::Invitation) -> Result<Account, String> {
    let mut attributes = BTreeMap::new();
    attributes.insert("invitation_role".into(), i.role.clone());
    if let Some(inv) = &i.inviter {
        attributes.insert("inviter".into(), inv.login.clone());
    }
    Ok(Account {
        id: format!("invitation/{}", i.id),
        resource_type: INVITATION.into(),
        name: i
            .login
            .clone()
            .or_else(|| i.email.clone())
            .unwrap_or_else(|| format!("invitation {}", i.id)),
        usernames: i.login.iter().cloned().collect(),
        emails: i.email.iter().cloned().collect(),
        external_ids: vec![],
        owner_refs: vec![],
        state: AccountState::Pending,
        role: None,
        privileges: vec![],
        created_at: Some(api::time_of("invitation created_at", &i.created_at)?),
        last_login_at: None,
        credentials: vec![],
        detailed: true,
        attributes,
        entitlements: vec![],
    })
}

pub(crate) fn sso_credential(c: &api::CredentialAuthorization) -> Result<Credential, String> {
    let mut attributes = BTreeMap::new();
    attributes.insert("credential_type".into(), c.credential_type.clone());
    attributes.insert("authorized_at".into(), c.credential_authorized_at.clone());
    if let Some(s) = &c.scopes {
        attributes.insert("scopes".into(), s.join(" "));
    }
    if let Some(f) = &c.fingerprint {
        attributes.insert("fingerprint".into(), f.clone());
    }
    let name = match (&c.token_last_eight, &c.authorized_credential_title) {
        (Some(last8), _) => format!("{} …{last8}", c.credential_type),
        (None, Some(t)) => format!("{} {t}", c.credential_type),
        _ => c.credential_type.clone(),
    };
    Ok(Credential {
        id: c.credential_id.to_string(),
        resource_type: SSO_CREDENTIAL.into(),
        name: Some(name),
        active: true,
        created_at: Some(api::time_of(
            "credential_authorized_at",
            &c.credential_authorized_at,
        )?),
        last_used_at: api::opt_time_of("credential_accessed_at", &c.credential_accessed_at)?,
        last_use_tracked: true,
        expires_at: api::opt_time_of(
            "authorized_credential_expires_at",
            &c.authorized_credential_expires_at,
        )?,
        attributes,
    })
}

pub(crate) fn pat_credential(g: &api::PatGrant) -> Result<Credential, String> {
    let mut attributes = BTreeMap::new();
    attributes.insert("token_id".into(), g.token_id.to_string());
    attributes.insert(
        "repository_selection".into(),
        g.repository_selection.clone(),
    );
    attributes.insert("access_granted_at".into(), g.access_granted_at.clone());
    Ok(Credential {
        id: g.id.to_string(),
        resource_type: FINE_GRAINED_PAT.into(),
        name: Some(g.token_name.clone()),
        active: !g.token_expired,
        created_at: Some(api::time_of("access_granted_at", &g.access_granted_at)?),
        last_used_at: api::opt_time_of("token_last_used_at", &g.token_last_used_at)?,
        last_use_tracked: true,
        expires_at: api::opt_time_of("token_expires_at", &g.token_expires_at)?,
        attributes,
    })
}

pub(crate) fn deploy_key_asset(repo: &api::Repo, k: &api::DeployKey) -> Result<Asset, String> {
    let mut attributes = BTreeMap::new();
    attributes.insert("repository".into(), repo.full_name.clone());
    attributes.insert(
        "access".into(),
        if k.read_only {
            "read-only"
        } else {
            "read-write"
        }
        .into(),
    );
    if repo.archived {
        attributes.insert("archived".into(), "true".into());
    }
    Ok(Asset {
        id: format!("{}/keys/{}", repo.full_name, k.id),
        resource_type: DEPLOY_KEY.into(),
        name: format!("{}: {}", repo.name, k.title),
        owner_refs: k
            .added_by
            .iter()
            .map(|l| OwnerRef {
                key: "added_by".into(),
                value: l.clone(),
            })
            .collect(),
        trusted_principals: vec![],
        created_at: Some(api::time_of("deploy key created_at", &k.created_at)?),
        last_changed_at: None,
        last_used_at: api::opt_time_of("deploy key last_used", &k.last_used)?,
        last_use_tracked: true,
        readable_by_role: None,
        privileges: vec![],
        attributes,
    })
}

pub(crate) fn secret_asset(org: &str, s: &api::OrgSecret) -> Result<Asset, String> {
    let mut attributes = BTreeMap::new();
    attributes.insert("visibility".into(), s.visibility.clone());
    Ok(Asset {
        id: format!("{org}/actions/secrets/{}", s.name),
        resource_type: ORG_SECRET.into(),
        name: s.name.clone(),
        owner_refs: vec![],
        trusted_principals: vec![],
        created_at: Some(api::time_of("secret created_at", &s.created_at)?),
        last_changed_at: Some(api::time_of("secret updated_at", &s.updated_at)?),
        last_used_at: None,
        last_use_tracked: false,
        // Org owners administer Actions secrets and the workflows that read them.
        readable_by_role: Some("owner".into()),
        privileges: vec![],
        attributes,
    })
}
