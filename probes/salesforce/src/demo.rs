//! The demo estate's Salesforce org: gina's integration token used after she left (the seed
//! example), a login after departure by erin, and frank's frozen user.

use residual_probe::demo::{account_with, credential, instance};
use residual_probe::{AccountState, SystemSnapshot};
use time::macros::datetime;

use crate::{OAUTH_TOKEN, SYSTEM, USER};

pub fn demo() -> Vec<SystemSnapshot> {
    let mut token = credential(
        OAUTH_TOKEN,
        "0CQ5g00000DEMOgin",
        datetime!(2026-02-10 09:00:00 UTC),
        Some(datetime!(2026-11-24 21:40:00 UTC)),
        true,
    );
    token.name = Some("Quote Sync (connected app)".into());
    let mut gina = account_with(
        USER,
        "0055g00000DEMOgina",
        "gina@demo.example",
        &["gina@demo.example"],
        AccountState::Active,
        vec![token],
    );
    gina.attributes
        .insert("profile".into(), "Standard User".into());
    let mut erin = account_with(
        USER,
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
    let frozen = account_with(
        USER,
        "0055g00000DEMOfrank",
        "frank@demo.example",
        &["frank@demo.example"],
        AccountState::Frozen,
        vec![],
    );
    let mut org = instance(
        SYSTEM,
        "demo.my.salesforce.com",
        "client credentials (integration user)",
        datetime!(2026-11-25 23:59:50 UTC),
        9,
        vec![gina, erin, frozen],
        vec![],
    );
    crate::identify(&mut org);
    vec![org]
}
