//! The demo estate's GitHub org: an owner who left with an SSO token used since, a contractor
//! still an outside collaborator, a deploy key and a fine-grained PAT that outlived their
//! owners, an invitation nobody cancelled, and org secrets an owner could reach.

use residual_probe::demo::{account, asset, credential, instance};
use residual_probe::{AccountState, Asset, OwnerRef, SystemSnapshot};
use time::macros::datetime;
use time::OffsetDateTime;

use crate::{
    DEPLOY_KEY, FINE_GRAINED_PAT, INVITATION, MEMBER, ORG_SECRET, OUTSIDE_COLLABORATOR,
    SSO_CREDENTIAL, SYSTEM, TOKEN_OWNER,
};

fn gh_asset(
    rt: &str,
    id: &str,
    name: &str,
    added_by: Option<&str>,
    changed: Option<OffsetDateTime>,
    used: Option<OffsetDateTime>,
    role: Option<&str>,
) -> Asset {
    let mut a = asset(rt, id, name);
    a.owner_refs = added_by
        .iter()
        .map(|l| OwnerRef {
            key: "added_by".into(),
            value: l.to_string(),
        })
        .collect();
    a.created_at = Some(datetime!(2025-06-01 10:00:00 UTC));
    a.last_changed_at = changed;
    a.last_used_at = used;
    a.last_use_tracked = rt == DEPLOY_KEY;
    a.readable_by_role = role.map(str::to_string);
    a
}

pub fn demo() -> Vec<SystemSnapshot> {
    let mut pat = credential(
        SSO_CREDENTIAL,
        "8101",
        datetime!(2025-02-01 09:00:00 UTC),
        Some(datetime!(2026-11-21 14:12:00 UTC)),
        true,
    );
    pat.name = Some("personal access token …a91c22f0".into());
    pat.attributes
        .insert("scopes".into(), "repo admin:org".into());
    let mut fg = credential(
        FINE_GRAINED_PAT,
        "25101",
        datetime!(2026-03-01 09:00:00 UTC),
        Some(datetime!(2026-11-25 06:30:00 UTC)),
        true,
    );
    fg.name = Some("release-bot".into());
    fg.expires_at = Some(datetime!(2027-03-01 00:00:00 UTC));
    let mut invitation = account(INVITATION, "invitation/5101", "henry@demo.example", vec![]);
    invitation.usernames.clear();
    invitation.emails.push("henry@demo.example".into());
    invitation.state = AccountState::Pending;
    let mut owner = account(MEMBER, "user/9001", "alice-a", vec![pat]);
    owner.role = Some("owner".into());
    let mut staff = account(MEMBER, "user/9002", "staff-kim", vec![]);
    staff.role = Some("member".into());
    let accounts = vec![
        owner,
        staff,
        account(OUTSIDE_COLLABORATOR, "user/9003", "bsmith-ext", vec![]),
        account(TOKEN_OWNER, "user/9005", "erin-gh", vec![fg]),
        invitation,
    ];
    let assets = vec![
        gh_asset(
            DEPLOY_KEY,
            "demo-org/infra/keys/60101",
            "infra: ci-deploy",
            Some("ddias"),
            None,
            Some(datetime!(2026-11-23 02:00:00 UTC)),
            None,
        ),
        gh_asset(
            ORG_SECRET,
            "demo-org/actions/secrets/NPM_TOKEN",
            "NPM_TOKEN",
            None,
            Some(datetime!(2026-06-01 12:00:00 UTC)),
            None,
            Some("owner"),
        ),
        gh_asset(
            ORG_SECRET,
            "demo-org/actions/secrets/PROD_DEPLOY_KEY",
            "PROD_DEPLOY_KEY",
            None,
            Some(datetime!(2026-11-20 12:00:00 UTC)),
            None,
            Some("owner"),
        ),
    ];
    let mut org = instance(
        SYSTEM,
        "demo-org",
        "app residual-audit (424242) installation 7890123",
        datetime!(2026-11-25 23:59:40 UTC),
        14,
        accounts,
        assets,
    );
    // Members enumerated; invitations and token owners are not members.
    org.accounts_enumerated = 3;
    crate::identify(&mut org, false);
    vec![org]
}
