//! Okta's wire records as the estate model: users (every status), admin role assignments,
//! app links and API tokens. Pure conversions, shared by the collection and the demo.

use super::*;

pub(crate) fn user_account(u: &api::User) -> Result<Account, ProbeError> {
    let p = &u.profile;
    let login = p.login.clone().unwrap_or_else(|| u.id.clone());
    let mut a = residual_probe::demo::account(USER, &u.id, &login, vec![]);
    a.emails = [&p.email, &p.second_email]
        .into_iter()
        .flatten()
        .filter(|e| !e.is_empty())
        .cloned()
        .collect();
    a.external_ids = p
        .employee_number
        .iter()
        .filter(|e| !e.is_empty())
        .cloned()
        .collect();
    a.created_at = time_of("user created", &u.created)?;
    a.last_login_at = time_of("user lastLogin", &u.last_login)?;
    a.detailed = false;
    a.state = match u.status.as_str() {
        "DEPROVISIONED" => AccountState::Disabled,
        // Cannot sign in, but one click from active; its API tokens still work.
        "SUSPENDED" => AccountState::Frozen,
        _ => AccountState::Active,
    };
    a.attributes.insert("status".into(), u.status.clone());
    if u.status == "SUSPENDED" {
        a.attributes.insert(
            "blocked".into(),
            "suspended: cannot sign in, but one click from active".into(),
        );
    }
    if let Some(d) = &p.display_name {
        a.attributes.insert("display_name".into(), d.clone());
    }
    Ok(a)
}

/// A role assignment the user holds, as an asset that trusts them.
pub(crate) fn role_asset(a: &Account, r: &api::Role) -> Asset {
    let label = r.label.clone().unwrap_or_else(|| r.kind.clone());
    let rid = r.id.clone().unwrap_or_else(|| r.kind.clone());
    let mut x = residual_probe::demo::asset(
        ROLE_ASSIGNMENT,
        &format!("{}/roles/{rid}", a.id),
        &format!("{label} ({})", a.name),
    );
    x.trusted_principals = vec![a.id.clone()];
    x.privileges = vec![format!("Okta admin role {label} ({})", r.kind)];
    x.attributes.insert("role_assignment_id".into(), rid);
    x.attributes.insert("role_type".into(), r.kind.clone());
    let via = match r.assignment_type.as_deref() {
        Some("GROUP") => "a group's role assignment",
        _ => "a direct role assignment",
    };
    x.attributes.insert(format!("via:{}", a.id), via.into());
    x
}

/// An app assigned to the user (directly or through a group), as an asset that trusts them.
pub(crate) fn app_asset(a: &Account, l: &api::AppLink) -> Asset {
    let app = l.app_instance_id.clone().unwrap_or_default();
    let label = l
        .label
        .clone()
        .or(l.app_name.clone())
        .unwrap_or_else(|| app.clone());
    let mut x = residual_probe::demo::asset(
        APP_ASSIGNMENT,
        &format!("{}/apps/{app}", a.id),
        &format!("{label} ({})", a.name),
    );
    x.trusted_principals = vec![a.id.clone()];
    x.attributes.insert("app_id".into(), app);
    if let Some(n) = &l.app_name {
        x.attributes.insert("app_name".into(), n.clone());
    }
    x
}

pub(crate) fn token_credential(t: &api::ApiToken) -> Result<Credential, ProbeError> {
    let mut c = residual_probe::demo::credential(
        API_TOKEN,
        t.id.as_deref().unwrap_or(&t.name),
        time_of("api token created", &t.created)?.unwrap_or(OffsetDateTime::UNIX_EPOCH),
        time_of("api token lastUpdated", &t.last_updated)?,
        true,
    );
    c.name = Some(t.name.clone());
    c.expires_at = time_of("api token expiresAt", &t.expires_at)?;
    if let Some(n) = &t.client_name {
        c.attributes = BTreeMap::from([("client_name".to_string(), n.clone())]);
    }
    Ok(c)
}
