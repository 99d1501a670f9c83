//! Each kind of check (`catalogue::On`), implemented once for every system: credentials of
//! the leaver's own accounts, admin power, active or idle accounts, logins after departure,
//! assets that trust them, identities and secrets they own, and secrets they could read.

use std::collections::HashMap;
use std::sync::Arc;

use residual_probe::{Account, AccountState, Asset, Credential, SystemSnapshot};
use time::{Duration, OffsetDateTime};

use super::{finding_id, Finding, Input, Status, Tri};
use crate::catalogue::{Check, Escalation, On, Severity};
use crate::correlate::{Confidence, Target};
use crate::leavers::Leaver;

/// Strings every finding and coverage row of one leaver × system repeats, made once.
pub(super) struct Shared {
    pub(super) scan_id: Arc<str>,
    pub(super) leaver_id: Arc<str>,
    pub(super) leaver_email: Arc<str>,
    pub(super) leaver_name: Arc<str>,
    pub(super) system: Arc<str>,
    pub(super) instance: Arc<str>,
}

/// Everything one leaver × system evaluation needs in one place.
pub(super) struct Ctx<'a> {
    pub(super) input: &'a Input<'a>,
    pub(super) leaver: &'a Leaver,
    pub(super) sys: &'a SystemSnapshot,
    pub(super) shared: &'a Shared,
    /// Account id → assets that trust it, built once per system.
    pub(super) trusts: &'a HashMap<&'a str, Vec<usize>>,
    pub(super) observed_at: OffsetDateTime,
    /// The leaver's own accounts in other instances of this system (cross-account trust).
    pub(super) elsewhere: &'a [&'a crate::correlate::Match],
}

impl Ctx<'_> {
    /// A finding about the account itself (not one of its credentials).
    fn account_finding(
        &self,
        check: &Check,
        a: &Account,
        rule: &str,
        conf: Confidence,
        evidence: Vec<String>,
    ) -> Finding {
        self.finding(
            check,
            &a.resource_type,
            &a.id,
            &a.name,
            &a.name,
            rule,
            conf,
            None,
            false,
            evidence,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn finding(
        &self,
        check: &Check,
        resource_type: &str,
        resource_id: &str,
        resource_name: &str,
        account_name: &str,
        rule: &str,
        confidence: Confidence,
        cred: Option<&Credential>,
        escalate: bool,
        evidence: Vec<String>,
    ) -> Finding {
        self.finding_with(
            check,
            resource_type,
            resource_id,
            resource_name,
            account_name,
            rule,
            confidence,
            cred,
            escalate,
            evidence,
            &|_| None,
        )
    }

    /// [`Ctx::finding`] with more placeholders for the remediation command (an asset's own
    /// attributes: the account and permission set of an Identity Center assignment).
    #[allow(clippy::too_many_arguments)]
    fn finding_with(
        &self,
        check: &Check,
        resource_type: &str,
        resource_id: &str,
        resource_name: &str,
        account_name: &str,
        rule: &str,
        confidence: Confidence,
        cred: Option<&Credential>,
        escalate: bool,
        mut evidence: Vec<String>,
        vars: &dyn Fn(&str) -> Option<String>,
    ) -> Finding {
        let dep = self.leaver.departure;
        let since = self.input.as_of - dep;
        let used = match cred {
            Some(c) => match c.last_used_at {
                Some(t) if t > dep => Tri::True,
                _ if c.last_use_tracked => Tri::False,
                _ => Tri::Unknown,
            },
            None => Tri::Unknown,
        };
        let mut severity = check.severity;
        if used == Tri::True
            && check
                .critical_when
                .contains(&Escalation::UsedAfterDeparture)
        {
            severity = Severity::Critical;
            evidence.push(format!(
                "used after departure: last used {}",
                cred.and_then(|c| c.last_used_at)
                    .map(residual_probe::rfc3339)
                    .unwrap_or_default()
            ));
        }
        if escalate {
            severity = Severity::Critical;
        }
        let mut remediation = check.remediation.clone();
        // Every value is shell-quoted for where it sits in the template.
        let fill = |cmd: &str| {
            crate::shell::fill(cmd, &|name| match name {
                "account" => Some(account_name.to_string()),
                "resource_id" => Some(resource_id.to_string()),
                "resource_name" => Some(resource_name.to_string()),
                "instance" => Some(self.sys.instance.to_string()),
                other => vars(other).or_else(|| self.sys.context.get(other).cloned()),
            })
        };
        let mut commands = Vec::new();
        if let Some(cmd) = &check.remediation_command {
            let cmd = fill(cmd);
            remediation.push_str(" Command: ");
            remediation.push_str(&cmd);
            commands.push(cmd);
            commands.extend(check.then_commands.iter().map(|c| fill(c)));
        }
        let sh = self.shared;
        Finding {
            scan_id: sh.scan_id.clone(),
            finding_id: finding_id(
                &check.id,
                &self.sys.system,
                &self.sys.instance,
                resource_id,
                &self.leaver.id,
            ),
            status: Status::Open,
            severity,
            check_id: check.id.clone(),
            title: check.title.clone(),
            leaver_id: sh.leaver_id.clone(),
            leaver_email: sh.leaver_email.clone(),
            leaver_name: sh.leaver_name.clone(),
            departure_date: dep,
            days_since_departure: since.whole_days(),
            sla_breached: since > Duration::hours(self.input.sla_hours as i64),
            system: sh.system.clone(),
            system_instance: sh.instance.clone(),
            resource_type: resource_type.to_string(),
            resource_id: resource_id.to_string(),
            resource_name: resource_name.to_string(),
            match_rule: rule.to_string(),
            match_confidence: confidence,
            created_at: cred.and_then(|c| c.created_at),
            last_used_at: cred.and_then(|c| c.last_used_at),
            used_after_departure: used,
            evidence,
            owasp_nhi: check.owasp_nhi.clone(),
            nist_csf: check.nist_csf.clone(),
            other_controls: check.other_controls.clone(),
            remediation,
            commands,
            observed_at: self.observed_at,
            suppression: None,
            baseline: None,
            first_seen: None,
            path: check.path,
            severity_assumed: None,
        }
    }
}

fn live(c: &Credential, as_of: OffsetDateTime) -> bool {
    c.active && c.expires_at.is_none_or(|e| e > as_of)
}

fn describe_credential(c: &Credential) -> String {
    let mut s = format!("{} {}", c.resource_type, c.id);
    if let Some(n) = &c.name {
        s.push_str(&format!(" ({n})"));
    }
    s.push_str(if c.active { ", active" } else { ", inactive" });
    if let Some(t) = c.created_at {
        s.push_str(&format!(", created {}", residual_probe::rfc3339(t)));
    }
    match (c.last_used_at, c.last_use_tracked) {
        (Some(t), _) => s.push_str(&format!(", last used {}", residual_probe::rfc3339(t))),
        (None, true) => s.push_str(", never used"),
        (None, false) => {}
    }
    if let Some(t) = c.expires_at {
        s.push_str(&format!(", expires {}", residual_probe::rfc3339(t)));
    }
    for (k, v) in &c.attributes {
        s.push_str(&format!(", {k} {v}"));
    }
    s
}

/// Whether any credential of the account (inactive ones too: a key used after departure and
/// then deactivated is evidence of access) or its last login was used after departure.
fn account_usage(a: &Account, departure: OffsetDateTime) -> (Tri, Option<OffsetDateTime>) {
    let last = a
        .credentials
        .iter()
        .filter_map(|c| c.last_used_at)
        .chain(a.last_login_at)
        .max();
    let tri = match last {
        Some(t) if t > departure => Tri::True,
        _ if a.credentials.iter().all(|c| c.last_use_tracked) => Tri::False,
        _ => Tri::Unknown,
    };
    (tri, last)
}

/// Findings for one account that is the leaver's own.
pub(super) fn own_account_findings(
    cx: &Ctx,
    a: &Account,
    rule: &str,
    conf: Confidence,
    out: &mut Vec<Finding>,
) {
    let cat = cx.input.catalogue;
    let as_of = cx.input.as_of;
    let base_evidence = |extra: Vec<String>| {
        let mut e = vec![format!("account {} ({})", a.name, a.id)];
        if let Some(t) = a.created_at {
            e.push(format!("account created {}", residual_probe::rfc3339(t)));
        }
        e.extend(extra);
        e
    };
    // A disabled account's credentials are no path: a disabled Vault entity blocks its tokens,
    // a deactivated Salesforce user's OAuth tokens stop working.
    let live_creds: Vec<&Credential> = if a.state == AccountState::Disabled {
        Vec::new()
    } else {
        a.credentials.iter().filter(|c| live(c, as_of)).collect()
    };
    for c in &live_creds {
        if let Some(check) = cat.find(On::Credential, &c.resource_type) {
            out.push(cx.finding(
                check,
                &c.resource_type,
                &c.id,
                c.name.as_deref().unwrap_or(&a.name),
                &a.name,
                rule,
                conf,
                Some(c),
                false,
                base_evidence(vec![describe_credential(c)]),
            ));
        }
    }
    let has_path = !live_creds.is_empty();
    if has_path && !a.privileges.is_empty() {
        if let Some(check) = cat.find(On::AccountPrivileged, &a.resource_type) {
            let mut ev = base_evidence(
                a.privileges
                    .iter()
                    .map(|p| format!("admin power: {p}"))
                    .collect(),
            );
            ev.push(format!("{} working credential(s)", live_creds.len()));
            let mut f = cx.account_finding(check, a, rule, conf, ev);
            (f.used_after_departure, f.last_used_at) = account_usage(a, cx.leaver.departure);
            f.created_at = a.created_at;
            out.push(f);
        }
    }
    if !has_path && a.state != AccountState::Disabled {
        if let Some(check) = cat.find(On::AccountNoPath, &a.resource_type) {
            let mut ev = base_evidence(vec!["no active credential".into()]);
            ev.extend(
                a.privileges
                    .iter()
                    .map(|p| format!("admin power (no working credential): {p}")),
            );
            for c in a.credentials.iter().filter(|c| !live(c, as_of)) {
                ev.push(describe_credential(c));
            }
            let mut f = cx.account_finding(check, a, rule, conf, ev);
            (f.used_after_departure, f.last_used_at) = account_usage(a, cx.leaver.departure);
            if f.used_after_departure == Tri::True {
                f.evidence.push(
                    "a credential now inactive was used after departure: review its activity"
                        .into(),
                );
            }
            f.created_at = a.created_at;
            out.push(f);
        }
    }
    if let Some(check) = cat.find(On::AccountActive, &a.resource_type) {
        if a.state != AccountState::Disabled
            && (check.states.is_empty() || check.states.contains(&a.state))
        {
            let owner = (a.role.as_deref() == Some("owner")
                && check.critical_when.contains(&Escalation::OwnerRole))
                || (!a.privileges.is_empty()
                    && check.critical_when.contains(&Escalation::Privileged));
            let mut f = cx.finding(
                check,
                &a.resource_type,
                &a.id,
                &a.name,
                &a.name,
                rule,
                conf,
                None,
                owner,
                base_evidence(
                    a.role
                        .iter()
                        .map(|r| format!("role {r}"))
                        .chain(a.attributes.iter().map(|(k, v)| format!("{k}: {v}")))
                        .chain(a.privileges.iter().map(|p| format!("admin power: {p}")))
                        .collect(),
                ),
            );
            if a.state == AccountState::Frozen {
                f.severity = Severity::Low;
                f.path = false;
                // The probe says why it cannot log in (`blocked`, already in the evidence).
                if !a.attributes.contains_key("blocked") {
                    f.evidence
                        .push("frozen: cannot log in (licence waste)".into());
                }
            }
            if let Some(t) = a.last_login_at {
                f.last_used_at = Some(t);
                f.used_after_departure = if t > cx.leaver.departure {
                    Tri::True
                } else {
                    Tri::False
                };
                // A sign-in after departure is evidence of use, whatever the state now.
                if t > cx.leaver.departure
                    && check
                        .critical_when
                        .contains(&Escalation::UsedAfterDeparture)
                {
                    f.severity = Severity::Critical;
                    f.evidence.push(format!(
                        "signed in after departure: last login {}",
                        residual_probe::rfc3339(t)
                    ));
                }
            }
            out.push(f);
        }
    }
    if let (Some(t), Some(check)) = (
        a.last_login_at,
        cat.find(On::LoginAfterDeparture, &a.resource_type),
    ) {
        if t > cx.leaver.departure {
            let mut ev = base_evidence(vec![format!(
                "successful login at {} (departure {})",
                residual_probe::rfc3339(t),
                residual_probe::rfc3339(cx.leaver.departure)
            )]);
            if let Some(s) = a.attributes.get("last_login_source") {
                ev.push(format!("login source: {s}"));
            }
            let mut f = cx.account_finding(check, a, rule, conf, ev);
            f.last_used_at = Some(t);
            f.used_after_departure = Tri::True;
            out.push(f);
        }
    }
    trust_findings(cx, a, None, rule, conf, out);
    // Secrets readable by a role the leaver held (GitHub org owners and Actions secrets).
    if let Some(role) = a.role.as_deref() {
        for x in cx
            .sys
            .assets
            .iter()
            .filter(|x| x.readable_by_role.as_deref() == Some(role))
        {
            if let Some(check) = cat.find(On::SecretNotRotated, &x.resource_type) {
                if not_rotated(x, cx.leaver.departure) {
                    let via = format!("readable by the {role} role, which {} held", a.name);
                    out.push(secret_finding(cx, check, x, via, rule, conf));
                }
            }
        }
    }
}

/// A mover's account: each entitlement their `revoke` column lists for this system that it
/// still holds, one finding each. The account itself is no finding: the person stays.
pub(super) fn mover_findings(
    cx: &Ctx,
    a: &Account,
    revoke: &[&crate::leavers::Revoke],
    rule: &str,
    conf: Confidence,
    out: &mut Vec<Finding>,
) {
    let Some(check) = cx
        .input
        .catalogue
        .find(On::EntitlementRetained, &a.resource_type)
    else {
        return;
    };
    for r in revoke {
        let Some(e) = a
            .entitlements
            .iter()
            .find(|e| e.reference.eq_ignore_ascii_case(&r.reference))
        else {
            continue;
        };
        let mut ev = vec![format!("account {} ({})", a.name, a.id)];
        ev.push(format!(
            "still holds {} after the move on {}",
            e.reference,
            residual_probe::rfc3339(cx.leaver.departure)
        ));
        if let Some(v) = &e.via {
            ev.push(format!("through {v}"));
        }
        if e.admin {
            ev.push("admin power: the entitlement carries it".into());
        }
        let admin = e.admin && check.critical_when.contains(&Escalation::Privileged);
        let id = format!("{}#{}", a.id, e.reference);
        let reference = e.reference.clone();
        let mut f = cx.finding_with(
            check,
            &a.resource_type,
            &id,
            &e.reference,
            &a.name,
            rule,
            conf,
            None,
            admin,
            ev,
            &|k| match k {
                "entitlement" => Some(reference.clone()),
                "entitlement_id" => e.id.clone(),
                "account_id" => Some(a.id.clone()),
                "entitlement_name" => reference.split_once('/').map(|(_, n)| n.to_string()),
                other => a.attributes.get(other).cloned(),
            },
        );
        f.created_at = a.created_at;
        out.push(f);
    }
}

/// Assets of this instance that trust the leaver's account `a` — which may live in another
/// instance of the same system (`elsewhere`: a role in one AWS account trusting a user in
/// another): roles they can assume, assignments they hold, secrets a resource policy lets
/// them read.
pub(super) fn trust_findings(
    cx: &Ctx,
    a: &Account,
    elsewhere: Option<&str>,
    rule: &str,
    conf: Confidence,
    out: &mut Vec<Finding>,
) {
    let cat = cx.input.catalogue;
    for x in cx
        .trusts
        .get(a.id.as_str())
        .into_iter()
        .flatten()
        .map(|&i| &cx.sys.assets[i])
    {
        let mut ev = vec![match elsewhere {
            Some(inst) => format!("account {} ({}) in {inst}", a.name, a.id),
            None => format!("account {} ({})", a.name, a.id),
        }];
        if let Some(t) = a.created_at {
            ev.push(format!("account created {}", residual_probe::rfc3339(t)));
        }
        if let Some(check) = cat.find(On::AssetTrustsAccount, &x.resource_type) {
            let mut ev = ev.clone();
            let disabled = a.state == AccountState::Disabled;
            ev.push(format!("{} {} trusts {}", x.resource_type, x.name, a.id));
            if let Some(via) = x.attributes.get(&format!("via:{}", a.id)) {
                ev.push(format!("through {via}"));
            }
            ev.extend(x.privileges.iter().map(|p| format!("admin power: {p}")));
            if let Some(t) = x.last_used_at {
                ev.push(format!("last used {}", residual_probe::rfc3339(t)));
            }
            let admin =
                !x.privileges.is_empty() && check.critical_when.contains(&Escalation::Privileged);
            if disabled {
                // A deactivated account cannot use the trust; it is a leftover that comes back
                // with a reactivation.
                ev.push("the account is disabled: no path while it stays so".into());
            }
            let principal = a.id.clone();
            let mut f = cx.finding_with(
                check,
                &x.resource_type,
                &x.id,
                &x.name,
                &a.name,
                rule,
                conf,
                None,
                admin && !disabled,
                ev,
                &|k| match k {
                    "principal_id" => Some(principal.clone()),
                    other => x.attributes.get(other).cloned(),
                },
            );
            if disabled {
                f.path = false;
            }
            out.push(f);
        }
        // A secret whose resource policy lets the leaver's account read it.
        if let Some(check) = cat.find(On::SecretNotRotated, &x.resource_type) {
            if not_rotated(x, cx.leaver.departure) {
                let via = format!("resource policy allows {}", a.id);
                out.push(secret_finding(cx, check, x, via, rule, conf));
            }
        }
    }
}

/// A secret whose last change predates the departure (or is unknown: not proof of rotation).
fn not_rotated(x: &Asset, departure: OffsetDateTime) -> bool {
    x.last_changed_at.is_none_or(|t| t < departure)
}

fn secret_finding(
    cx: &Ctx,
    check: &Check,
    x: &Asset,
    via: String,
    rule: &str,
    conf: Confidence,
) -> Finding {
    let mut evd = vec![format!("{} {} ({})", x.resource_type, x.name, x.id), via];
    evd.push(match x.last_changed_at {
        Some(t) => format!(
            "last changed {} (departure {})",
            residual_probe::rfc3339(t),
            residual_probe::rfc3339(cx.leaver.departure)
        ),
        None => "last change unknown: not evidence of rotation".into(),
    });
    let mut f = cx.finding(
        check,
        &x.resource_type,
        &x.id,
        &x.name,
        &x.name,
        rule,
        conf,
        None,
        false,
        evd,
    );
    f.created_at = x.created_at;
    f
}

/// Findings for something that names the leaver as owner: an owned machine identity, a deploy
/// key they added (a path: they may hold its private key), a secret they own.
pub(super) fn owned_findings(
    cx: &Ctx,
    target: Target,
    rule: &str,
    conf: Confidence,
    out: &mut Vec<Finding>,
) {
    let input = cx.input;
    let sys = cx.sys;
    let (rt, id, name, refs, extra, asset) = match target {
        Target::Account(ai) => {
            let a = &sys.accounts[ai];
            let live_n = a
                .credentials
                .iter()
                .filter(|c| live(c, input.as_of))
                .count();
            let mut extra = vec![if a.detailed {
                format!("{live_n} active credential(s)")
            } else {
                "credentials not enumerated (not the leaver's own account)".into()
            }];
            // Keys made before the departure may be in the leaver's hands: rotate them.
            for c in a.credentials.iter().filter(|c| live(c, input.as_of)) {
                let mut line = describe_credential(c);
                if c.created_at.is_none_or(|t| t < cx.leaver.departure) {
                    line.push_str(" (made before the departure: rotate)");
                }
                extra.push(line);
            }
            (
                a.resource_type.as_str(),
                a.id.as_str(),
                a.name.as_str(),
                &a.owner_refs,
                extra,
                None,
            )
        }
        Target::Asset(xi) => {
            let x = &sys.assets[xi];
            let extra = match (x.last_used_at, x.last_use_tracked) {
                (Some(t), _) => vec![format!("last used {}", residual_probe::rfc3339(t))],
                (None, true) => vec!["never used".into()],
                (None, false) => vec![],
            };
            (
                x.resource_type.as_str(),
                x.id.as_str(),
                x.name.as_str(),
                &x.owner_refs,
                extra,
                Some(x),
            )
        }
    };
    if let Some(check) = input.catalogue.find(On::Owned, rt) {
        let mut evd: Vec<String> = refs
            .iter()
            .map(|r| format!("{} = {}", r.key, r.value))
            .collect();
        evd.insert(0, format!("{rt} {name} ({id})"));
        evd.extend(
            asset
                .iter()
                .flat_map(|x| x.attributes.iter().map(|(k, v)| format!("{k}: {v}"))),
        );
        evd.extend(extra);
        let mut f = cx.finding(check, rt, id, name, name, rule, conf, None, false, evd);
        if let Target::Account(ai) = target {
            // A key the leaver may hold: made while they were there, or when is unknown.
            let held = sys.accounts[ai].credentials.iter().any(|c| {
                live(c, input.as_of) && c.created_at.is_none_or(|t| t < cx.leaver.departure)
            });
            let esc = Escalation::CredentialBeforeDeparture;
            if held && check.critical_when.contains(&esc) {
                f.severity = Severity::Critical;
            } else if held && check.high_when.contains(&esc) && f.severity < Severity::High {
                f.severity = Severity::High;
            }
        }
        if let Some(x) = asset {
            f.created_at = x.created_at;
            f.last_used_at = x.last_used_at;
            f.used_after_departure = match x.last_used_at {
                Some(t) if t > cx.leaver.departure => Tri::True,
                _ if x.last_use_tracked => Tri::False,
                _ => Tri::Unknown,
            };
            if f.used_after_departure == Tri::True
                && check
                    .critical_when
                    .contains(&Escalation::UsedAfterDeparture)
            {
                f.severity = Severity::Critical;
                f.evidence.push("used after departure".into());
            }
        }
        out.push(f);
    }
    if let (Some(x), Some(check)) = (asset, input.catalogue.find(On::SecretNotRotated, rt)) {
        if not_rotated(x, cx.leaver.departure) {
            let via = refs
                .iter()
                .map(|r| format!("owner {} = {}", r.key, r.value))
                .collect::<Vec<_>>()
                .join(", ");
            out.push(secret_finding(cx, check, x, via, rule, conf));
        }
    }
}
