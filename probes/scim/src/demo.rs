//! The demo estate's SCIM app (a chat app): henry is still active, ivan was deprovisioned.

use residual_probe::demo::{account_with, instance};
use residual_probe::{AccountState, SystemSnapshot};
use time::macros::datetime;

use crate::{SYSTEM, USER};

pub fn demo() -> Vec<SystemSnapshot> {
    let henry = account_with(
        USER,
        "2819c223-demo-henry",
        "henry@demo.example",
        &["henry@demo.example"],
        AccountState::Active,
        vec![],
    );
    let ivan = account_with(
        USER,
        "2819c223-demo-ivan",
        "ivan@demo.example",
        &["ivan@demo.example"],
        AccountState::Disabled,
        vec![],
    );
    let mut app = instance(
        SYSTEM,
        "chat",
        "bearer token for https://chat.demo.example/scim/v2",
        datetime!(2026-11-25 23:59:50 UTC),
        9,
        vec![henry, ivan],
        vec![],
    );
    crate::identify(
        &mut app,
        "https://chat.demo.example/scim/v2",
        Some("CHAT_SCIM_TOKEN"),
    );
    vec![app]
}
