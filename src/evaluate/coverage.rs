//! The coverage decision for one leaver × system instance: which findings stand, and
//! whether the row is `residual`, `deprovisioned`, `no_account`, `ambiguous` or `error`.
//! Gaps act here: a blocking gap makes the row `error`; a severity gap raises the findings it
//! names to critical, says why, and marks the scan incomplete.

use std::collections::BTreeMap;
use std::sync::Arc;

use residual_probe::GapEffect;

use super::checks::{mover_findings, own_account_findings, owned_findings, trust_findings, Ctx};
use super::{Finding, Verdict};
use crate::catalogue::Severity;
use crate::correlate::{Ambiguity, Match, Relation, Target};

/// (outcome, accounts matched, findings, detail) for one leaver × instance.
pub(super) fn cell(
    cx: &Ctx,
    matches: &[Match],
    ambiguities: &[Ambiguity],
    no_account: &Arc<str>,
) -> (Verdict, usize, Vec<Finding>, Arc<str>) {
    let input = cx.input;
    let sys = cx.sys;
    let leaver = cx.leaver;
    let mut findings = Vec::new();
    // A mover is checked for entitlements only: a gap that blocks named other checks (PAT
    // grants, say) does not concern them; one that blocks every check does.
    let is_mover = matches!(leaver.status, crate::leavers::Status::Mover { .. });
    // Which gaps concern this person. A gap naming no check concerns everyone. For a mover,
    // any gap that hides what an account holds or is (roles, groups, entities: checks on the
    // account or assets trusting it) may hide a listed entitlement; only gaps in credentials,
    // owned machine identities, secrets and login history do not. For a leaver or a person
    // on leave, a gap naming only entitlement checks (read for movers) does not.
    let on = |c: &String| cx.input.catalogue.get(c).map(|ch| ch.on);
    let relevant = |g: &&residual_probe::Gap| {
        use crate::catalogue::On;
        if g.checks.is_empty() {
            return true;
        }
        if is_mover {
            g.checks.iter().any(|c| {
                !matches!(
                    on(c),
                    Some(
                        On::Credential | On::Owned | On::SecretNotRotated | On::LoginAfterDeparture
                    )
                )
            })
        } else {
            g.checks
                .iter()
                .any(|c| on(c) != Some(On::EntitlementRetained))
        }
    };
    let mut errors: Vec<String> = sys
        .gaps
        .iter()
        .filter(relevant)
        .filter(|g| g.account_id.is_none() && g.effect == GapEffect::Blocks)
        .map(|g| format!("{} not read: {}", g.what, g.error))
        .collect();
    // A targeted collection only saw the leavers it looked up (a snapshot replayed with
    // another leavers file may name others), and history only from `history_since`.
    if let Some(seen) = &sys.looked_up {
        let missing: Vec<String> = crate::correlate::leaver_keys(leaver, &sys.system)
            .into_iter()
            .filter(|k| {
                !seen.logins.contains(k)
                    && !seen.emails.contains(k)
                    && !seen.external_ids.contains(k)
            })
            .collect();
        if !missing.is_empty() {
            errors.push(format!(
                "not looked up when the snapshot was collected ({}): collect again with this leavers file",
                missing.join(", ")
            ));
        }
    }
    if let Some(since) = sys.history_since {
        if leaver.departure < since {
            errors.push(format!(
                "login history was read from {} only, after this departure: collect again with this leavers file",
                residual_probe::rfc3339(since)
            ));
        }
    }
    // A mover: the listed entitlements this instance reports, each checked; a kind it did
    // not read is an error, never a clean row.
    let mover: Option<Vec<&crate::leavers::Revoke>> = match &leaver.status {
        crate::leavers::Status::Mover { revoke } => {
            let here = applicable(sys, revoke);
            for r in &here {
                let kind = r.reference.split_once('/').map_or("", |(k, _)| k);
                if !sys
                    .entitlement_kinds
                    .iter()
                    .any(|k| k.eq_ignore_ascii_case(kind))
                {
                    errors.push(format!(
                        "{kind} entitlements not read in this instance ({} cannot be checked)",
                        r.reference
                    ));
                }
            }
            Some(here)
        }
        _ => None,
    };
    let mut own_accounts = Vec::new();
    let mut own_ids: Vec<&str> = Vec::new();
    for m in matches {
        match (m.relation, m.target) {
            (Relation::Own, Target::Account(ai)) => {
                let a = &sys.accounts[ai];
                own_ids.push(&a.id);
                own_accounts.push(format!(
                    "{} ({}: {})",
                    a.name,
                    m.confidence.as_str(),
                    m.rule
                ));
                for g in sys.gaps.iter().filter(relevant).filter(|g| {
                    g.account_id.as_deref() == Some(&a.id) && g.effect == GapEffect::Blocks
                }) {
                    errors.push(format!("{} of {} not read: {}", g.what, a.name, g.error));
                }
                // Any system: a probe details only the accounts the collection's leavers
                // could be (AWS per-user calls, Salesforce tokens and logins).
                if !a.detailed {
                    errors.push(format!(
                        "{} was not detailed when the snapshot was collected (collect again with this leavers file)",
                        a.name
                    ));
                }
                match &mover {
                    Some(revoke) => {
                        mover_findings(cx, a, revoke, &m.rule, m.confidence, &mut findings)
                    }
                    None => own_account_findings(cx, a, &m.rule, m.confidence, &mut findings),
                }
            }
            // What a mover owns stays theirs.
            (Relation::Owner, _) if mover.is_some() => {}
            (Relation::Owner, target) => {
                owned_findings(cx, target, &m.rule, m.confidence, &mut findings);
            }
            (Relation::Own, Target::Asset(_)) => {}
        }
    }
    // Assets here that trust the leaver's account in another instance of the system.
    for m in cx.elsewhere.iter().filter(|_| mover.is_none()) {
        if let Target::Account(ai) = m.target {
            let other = &input.snapshot.systems[m.system];
            let a = &other.accounts[ai];
            trust_findings(
                cx,
                a,
                Some(&other.instance),
                &m.rule,
                m.confidence,
                &mut findings,
            );
        }
    }
    // On leave: only what works is a finding (leftovers wait for the return or departure).
    if let crate::leavers::Status::Leave { .. } = leaver.status {
        findings.retain(|f| f.path);
    }
    let open = findings.len();
    let has_path = findings.iter().any(|f| f.path);
    let (outcome, detail) = if !errors.is_empty() {
        (Verdict::Error, errors.join("; "))
    } else if has_path {
        (Verdict::Residual, summarize(&own_accounts, &findings))
    } else if !ambiguities.is_empty() {
        let d: Vec<String> = ambiguities
            .iter()
            .map(|a| {
                let who: Vec<&str> = a
                    .candidates
                    .iter()
                    .map(|&c| input.leavers[c].id.as_str())
                    .collect();
                format!(
                    "{} (candidates: {}; account: {})",
                    a.reason,
                    who.join(", "),
                    sys.accounts[a.account].id
                )
            })
            .collect();
        (Verdict::Ambiguous, d.join("; "))
    } else if !own_accounts.is_empty() {
        (Verdict::Deprovisioned, summarize(&own_accounts, &findings))
    } else if let Some(why) = unidentifiable(cx) {
        // Nothing the system records could be compared with the leaver's row: "no account"
        // would be a guess. Anything they own is still listed.
        if open > 0 {
            (
                Verdict::Unverified,
                format!("{why}; owns: {}", summarize(&[], &findings)),
            )
        } else {
            (Verdict::Unverified, why)
        }
    } else if open > 0 {
        // No login of their own, but machine identities they owned or secrets they could
        // read: the trust that outlives a person. That is residual access.
        (
            Verdict::Residual,
            format!("{no_account}; owns: {}", summarize(&[], &findings)),
        )
    } else {
        (Verdict::NoAccount, String::new())
    };
    let mut detail = detail;
    if outcome != Verdict::Ambiguous && !ambiguities.is_empty() {
        detail.push_str(&format!(
            "; also ambiguous: {}",
            ambiguities
                .iter()
                .map(|a| a.reason.as_str())
                .collect::<Vec<_>>()
                .join("; ")
        ));
    }
    // The most common row shares its sentence with every other leaver's.
    let detail: Arc<str> = if detail.is_empty() && outcome == Verdict::NoAccount {
        no_account.clone()
    } else {
        Arc::from(detail)
    };
    let detail = match (&leaver.status, &mover) {
        (crate::leavers::Status::Leave { until }, _) => Arc::from(format!(
            "on leave {} until {}: {detail}",
            residual_probe::rfc3339(leaver.departure),
            residual_probe::rfc3339(*until)
        )),
        (_, Some(here)) => Arc::from(format!(
            "moved {}: {} listed entitlement(s) checked here ({}); {detail}",
            residual_probe::rfc3339(leaver.departure),
            here.len(),
            here.iter()
                .map(|r| r.reference.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
        _ => detail,
    };
    let detail = apply_severity_gaps(cx, &own_ids, &mut findings, detail);
    (outcome, own_accounts.len(), findings, detail)
}

/// The mover's references this instance is for: of its system, and of a prefix it reads
/// (an instance that read nothing is for all of its system's, so a skipped read is an
/// error, not silence).
pub(super) fn applicable<'r>(
    sys: &residual_probe::SystemSnapshot,
    revoke: &'r [crate::leavers::Revoke],
) -> Vec<&'r crate::leavers::Revoke> {
    let prefixes: Vec<&str> = sys
        .entitlement_kinds
        .iter()
        .filter_map(|k| k.split_once(':').map(|(p, _)| p))
        .collect();
    revoke
        .iter()
        .filter(|r| r.system == sys.system)
        .filter(|r| {
            prefixes.is_empty()
                || r.reference
                    .split_once(':')
                    .is_some_and(|(p, _)| prefixes.iter().any(|x| x.eq_ignore_ascii_case(p)))
        })
        .collect()
}

/// Why the leaver cannot be identified in this instance, if they cannot: their row carries
/// none of the identifiers the instance's accounts record.
fn unidentifiable(cx: &Ctx) -> Option<String> {
    use residual_probe::Identifier::{Email, EmployeeId, Handle, Username};
    let l = cx.leaver;
    let sys = cx.sys;
    // A full inventory with no account at all: nobody has one, whatever they are known by.
    if sys.accounts.is_empty() && sys.looked_up.is_none() {
        return None;
    }
    let has = |i: residual_probe::Identifier| match i {
        Email => l.email.is_some() || l.aliases.iter().any(|a| a.contains('@')),
        Handle => l.handles.contains_key(sys.system.as_str()),
        Username => l.aliases.iter().any(|a| !a.contains('@')),
        EmployeeId => l.employee_id.is_some(),
    };
    if sys.identifiers.iter().any(|&i| has(i)) {
        return None;
    }
    let kinds: Vec<&str> = sys.identifiers.iter().map(|i| i.as_str()).collect();
    let mut why = format!(
        "cannot identify the leaver here: {} accounts are known by {} only, and the leaver's row has none",
        sys.instance,
        if kinds.is_empty() { "nothing".to_string() } else { kinds.join(", ") }
    );
    if sys.identifiers.contains(&Username) || sys.identifiers.contains(&Handle) {
        why.push_str(" (an email's local part was tried, and matched no account)");
    }
    if let Some(h) = &sys.identify_hint {
        why.push_str(&format!(": {h}"));
    }
    Some(why)
}

/// A severity gap (something that decides an escalation was not read) raises the findings of
/// the checks it names to critical, with the reason in their evidence and in the row's detail:
/// a severity never drops silently.
fn apply_severity_gaps(
    cx: &Ctx,
    own_ids: &[&str],
    findings: &mut [Finding],
    detail: Arc<str>,
) -> Arc<str> {
    let mut notes: Vec<String> = Vec::new();
    for g in cx
        .sys
        .gaps
        .iter()
        .filter(|g| g.effect == GapEffect::Severity)
    {
        if g.account_id
            .as_deref()
            .is_some_and(|a| !own_ids.contains(&a))
        {
            continue;
        }
        let mut hit = false;
        for f in findings
            .iter_mut()
            .filter(|f| g.checks.iter().any(|c| **c == *f.check_id))
        {
            hit = true;
            let why = format!("{} not read ({})", g.what, g.error);
            if f.severity < Severity::Critical {
                f.severity = Severity::Critical;
                f.evidence.push(format!(
                    "severity assumed critical: {why}, and it decides whether this is critical"
                ));
            }
            f.severity_assumed = Some(why);
        }
        if hit {
            notes.push(format!("severity not fully checked: {} not read", g.what));
        }
    }
    if notes.is_empty() {
        detail
    } else if detail.is_empty() {
        Arc::from(notes.join("; "))
    } else {
        Arc::from(format!("{detail}; {}", notes.join("; ")))
    }
}

pub(super) fn summarize(accounts: &[String], findings: &[Finding]) -> String {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for f in findings {
        *counts.entry(&*f.check_id).or_default() += 1;
    }
    let checks: Vec<String> = counts.iter().map(|(k, v)| format!("{k}×{v}")).collect();
    let mut s = String::new();
    if !accounts.is_empty() {
        s.push_str(&format!("accounts: {}", accounts.join(", ")));
    }
    if !checks.is_empty() {
        if !s.is_empty() {
            s.push_str("; ");
        }
        s.push_str(&format!("findings: {}", checks.join(", ")));
    }
    s
}
