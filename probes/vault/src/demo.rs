//! The demo estate's Vault: carol's userpass login and enabled entity, a long-lived token of
//! hers, and a KV secret she owned that nobody rotated.

use residual_probe::demo::{account_with, asset, credential, instance};
use residual_probe::{AccountState, OwnerRef, SystemSnapshot};
use time::macros::datetime;

use crate::{ENTITY, KV_SECRET, SYSTEM, TOKEN};

pub fn demo() -> Vec<SystemSnapshot> {
    let mut token = credential(
        TOKEN,
        "hmac-accessor-cArOl0000001",
        datetime!(2026-06-01 08:00:00 UTC),
        None,
        false,
    );
    token.name = Some("userpass-carol".into());
    token.expires_at = Some(datetime!(2027-06-01 08:00:00 UTC));
    let entity = account_with(
        ENTITY,
        "4f1c2a7e-demo-entity-carol",
        "carol",
        &["carol@demo.example"],
        AccountState::Active,
        vec![token],
    );
    let login = account_with(
        "vault_userpass_user",
        "auth/userpass/users/carol",
        "carol",
        &["carol@demo.example"],
        AccountState::Active,
        vec![],
    );
    let mut kv = asset(KV_SECRET, "secret/payments/stripe", "payments/stripe");
    kv.owner_refs = vec![OwnerRef {
        key: "owner".into(),
        value: "carol@demo.example".into(),
    }];
    kv.created_at = Some(datetime!(2025-03-01 10:00:00 UTC));
    kv.last_changed_at = Some(datetime!(2025-09-14 10:00:00 UTC));
    let mut v = instance(
        SYSTEM,
        "vault.demo.example",
        "token audit-reader (policies [\"audit\"])",
        datetime!(2026-11-25 23:59:50 UTC),
        9,
        vec![entity, login],
        vec![kv],
    );
    crate::identify(&mut v);
    vec![v]
}
