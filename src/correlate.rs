//! Correlation (docs/leavers.md, "Matching"): which accounts and assets in the estate belong to, or are owned by,
//! which leaver — with the rule that matched and a confidence.
//!
//! Leavers are indexed once (emails, handles, local parts, employee ids → leaver); accounts are
//! then matched in parallel with rayon, one hash lookup per identifier, so the cost grows with
//! accounts + leavers, not their product. Display names are never used.
//!
//! Ambiguity is decided here, not in the evaluator: two leavers on one account, or a probable
//! (local-part) match on an account whose own email tag names someone else (a look-alike staff
//! account), become [`Ambiguity`] entries and yield no findings.

use std::borrow::Cow;
use std::collections::HashMap;

pub type Rule = Cow<'static, str>;

use rayon::prelude::*;
use residual_probe::{Account, Snapshot};

use crate::leavers::{normalize_email, Leaver};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Confidence {
    Exact,
    Probable,
}

impl Confidence {
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Exact => "exact",
            Confidence::Probable => "probable",
        }
    }
}

/// What a match ties a leaver to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Target {
    Account(usize),
    Asset(usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Relation {
    /// The leaver's own login.
    Own,
    /// Something that names the leaver as owner.
    Owner,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Match {
    pub leaver: usize,
    pub system: usize,
    pub target: Target,
    pub relation: Relation,
    /// Most rules are fixed words; only handle and tag rules are built.
    pub rule: Rule,
    pub confidence: Confidence,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Ambiguity {
    pub leaver: usize,
    pub system: usize,
    pub account: usize,
    /// Every leaver the account matched (this one included).
    pub candidates: Vec<usize>,
    pub reason: String,
}

#[derive(Debug, Default)]
pub struct Matches {
    pub matches: Vec<Match>,
    pub ambiguities: Vec<Ambiguity>,
}

/// Maps keyed by leaver identifiers: foldhash (per-process seed), far faster than SipHash on
/// millions of short keys.
type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// Keys a leaver is known by, normalised for lookup.
#[derive(Debug, Default)]
pub struct LeaverIndex {
    /// normalised email → leavers
    emails: Map<String, Vec<u32>>,
    /// system → lower-case handle → leavers (nested so lookups borrow, never allocate)
    handles: Map<String, Map<String, Vec<u32>>>,
    /// lower-case non-email alias → leavers
    names: Map<String, Vec<u32>>,
    /// lower-case local part → leavers (probable)
    locals: Map<String, Vec<u32>>,
    employee_ids: Map<String, Vec<u32>>,
    /// systems for which each leaver has an explicit handle (probable matching is skipped)
    has_handle: Vec<Vec<&'static str>>,
    earliest_departure: Option<time::OffsetDateTime>,
    /// system → the movers' `revoke` references for it (what probes must read entitlements for)
    revoke: Map<String, Vec<String>>,
}

/// Lower-case without allocating when the text already is.
fn lower(s: &str) -> std::borrow::Cow<'_, str> {
    if s.chars().any(char::is_uppercase) {
        std::borrow::Cow::Owned(s.to_lowercase())
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

fn push(map: &mut Map<String, Vec<u32>>, k: String, i: u32) {
    let v = map.entry(k).or_default();
    if !v.contains(&i) {
        v.push(i);
    }
}

impl LeaverIndex {
    pub fn new(leavers: &[Leaver]) -> LeaverIndex {
        let mut ix = LeaverIndex::default();
        for (i, l) in leavers.iter().enumerate() {
            let i = i as u32;
            let mut emails: Vec<&str> = l.email.iter().map(String::as_str).collect();
            for a in &l.aliases {
                if a.contains('@') {
                    emails.push(a);
                } else {
                    push(&mut ix.names, a.to_lowercase(), i);
                }
            }
            for e in emails {
                let n = normalize_email(e);
                if let Some((local, _)) = n.split_once('@') {
                    push(&mut ix.locals, local.to_string(), i);
                }
                push(&mut ix.emails, n, i);
            }
            for (sys, h) in l.handles.iter() {
                push(
                    ix.handles.entry(sys.to_string()).or_default(),
                    h.to_lowercase(),
                    i,
                );
            }
            if let Some(e) = &l.employee_id {
                push(&mut ix.employee_ids, e.trim().to_string(), i);
            }
            ix.has_handle.push(l.handles.keys().collect());
            if let crate::leavers::Status::Mover { revoke } = &l.status {
                for r in revoke {
                    let v = ix.revoke.entry(r.system.to_string()).or_default();
                    if !v.contains(&r.reference) {
                        v.push(r.reference.clone());
                    }
                }
            }
            ix.earliest_departure = Some(
                ix.earliest_departure
                    .map_or(l.departure, |d| d.min(l.departure)),
            );
        }
        ix
    }

    /// Own-account matches of one account: (leaver, rule, confidence), best per leaver.
    pub fn own_matches(&self, system: &str, a: &Account) -> Vec<(u32, Rule, Confidence)> {
        let mut out: Vec<(u32, Rule, Confidence)> = Vec::new();
        let mut add =
            |l: u32, rule: Rule, c: Confidence| match out.iter_mut().find(|(x, _, _)| *x == l) {
                Some(e) if c < e.2 => *e = (l, rule, c),
                Some(_) => {}
                None => out.push((l, rule, c)),
            };
        let handles = self.handles.get(system);
        for u in &a.usernames {
            let lu = lower(u);
            let lu: &str = &lu;
            if let Some(ls) = handles.and_then(|h| h.get(lu)) {
                for &l in ls {
                    add(l, Cow::Owned(format!("{system}_handle")), Confidence::Exact);
                }
            }
            if lu.contains('@') {
                if let Some(ls) = self.emails.get(&normalize_email(lu)) {
                    for &l in ls {
                        add(l, Cow::Borrowed("email=username"), Confidence::Exact);
                    }
                }
            } else {
                if let Some(ls) = self.names.get(lu) {
                    for &l in ls {
                        add(l, Cow::Borrowed("alias=username"), Confidence::Exact);
                    }
                }
                if let Some(ls) = self.locals.get(lu) {
                    for &l in ls {
                        if !self.has_handle[l as usize].contains(&system) {
                            add(
                                l,
                                Cow::Borrowed("email_local_part=username"),
                                Confidence::Probable,
                            );
                        }
                    }
                }
            }
        }
        for e in &a.emails {
            if let Some(ls) = self.emails.get(&normalize_email(e)) {
                for &l in ls {
                    add(l, Cow::Borrowed("email"), Confidence::Exact);
                }
            }
        }
        for x in &a.external_ids {
            if let Some(ls) = self.employee_ids.get(x.trim()) {
                for &l in ls {
                    add(
                        l,
                        Cow::Borrowed("employee_id=external_id"),
                        Confidence::Exact,
                    );
                }
            }
        }
        out
    }

    /// Leavers named by owner references (tags, metadata).
    /// Leavers named by owner references (tags, metadata, `added_by` logins). A login is
    /// resolved through the leaver's handle for `system`, a non-email alias, or `logins`: the
    /// usernames of accounts already matched as a leaver's own in that system (whose
    /// confidence the owner match inherits).
    pub fn owner_matches(
        &self,
        system: &str,
        refs: &[residual_probe::OwnerRef],
        logins: &HashMap<String, (u32, Confidence)>,
    ) -> Vec<(u32, Rule, Confidence)> {
        let mut out: Vec<(u32, Rule, Confidence)> = Vec::new();
        let mut add = |l: u32, key: &str, c: Confidence| {
            if !out.iter().any(|(x, _, _)| *x == l) {
                out.push((l, Cow::Owned(format!("owner_tag:{key}")), c));
            }
        };
        for r in refs {
            let v = r.value.trim();
            if v.contains('@') {
                for &l in self.emails.get(&normalize_email(v)).into_iter().flatten() {
                    add(l, &r.key, Confidence::Exact);
                }
                continue;
            }
            let lv = lower(v);
            let exact = self
                .employee_ids
                .get(v)
                .or_else(|| self.names.get(lv.as_ref()))
                .or_else(|| self.handles.get(system).and_then(|h| h.get(lv.as_ref())));
            for &l in exact.into_iter().flatten() {
                add(l, &r.key, Confidence::Exact);
            }
            if let Some(&(l, c)) = logins.get(lv.as_ref()) {
                add(l, &r.key, c);
            }
        }
        out
    }

    /// Everything a probe could look up one by one for `system`.
    pub fn candidates(&self, system: &str) -> residual_probe::Candidates {
        let mut logins: Vec<String> = self.names.keys().cloned().collect();
        logins.extend(self.locals.keys().cloned());
        if let Some(h) = self.handles.get(system) {
            logins.extend(h.keys().cloned());
        }
        logins.sort();
        logins.dedup();
        let mut emails: Vec<String> = self.emails.keys().cloned().collect();
        emails.sort();
        let mut external_ids: Vec<String> = self.employee_ids.keys().cloned().collect();
        external_ids.sort();
        residual_probe::Candidates {
            logins,
            emails,
            needs_directory: self.has_handle.iter().any(|h| !h.contains(&system)),
            external_ids,
            earliest_departure: self.earliest_departure,
            entitlements: self.revoke.get(system).cloned().unwrap_or_default(),
        }
    }

    /// Does any leaver claim this account as their own? (What probes detail.)
    pub fn wants(&self, system: &str, a: &Account) -> bool {
        !self.own_matches(system, a).is_empty()
    }
}

/// Everything a leaver is known by for `system`, in the forms `LeaverIndex::candidates` gives
/// probes: whether a targeted lookup at collection time covered this leaver.
pub fn leaver_keys(l: &Leaver, system: &str) -> Vec<String> {
    let mut keys = Vec::new();
    let emails = l
        .email
        .iter()
        .chain(l.aliases.iter().filter(|a| a.contains('@')));
    for e in emails {
        let n = normalize_email(e);
        if let Some((local, _)) = n.split_once('@') {
            keys.push(local.to_string());
        }
        keys.push(n);
    }
    keys.extend(
        l.aliases
            .iter()
            .filter(|a| !a.contains('@'))
            .map(|a| a.to_lowercase()),
    );
    if let Some(h) = l.handles.get(system) {
        keys.push(h.to_lowercase());
    }
    if let Some(e) = &l.employee_id {
        keys.push(e.trim().to_string());
    }
    keys
}

/// The account's own identity, as the system records it, names somebody who is not `leaver`:
/// a probable match on it is a look-alike, not the leaver.
fn claimed_by_other(ix: &LeaverIndex, a: &Account, leaver: u32) -> Option<String> {
    a.emails
        .iter()
        .find(|e| {
            ix.emails
                .get(&normalize_email(e))
                .is_none_or(|ls| !ls.contains(&leaver))
        })
        .map(|e| format!("account {} records email {e}, not the leaver's", a.name))
}

pub fn correlate(leavers: &[Leaver], snapshot: &Snapshot) -> Matches {
    if snapshot.systems.is_empty() {
        return Matches::default();
    }
    let ix = LeaverIndex::new(leavers);
    correlate_with(&ix, snapshot)
}

pub fn correlate_with(ix: &LeaverIndex, snapshot: &Snapshot) -> Matches {
    let mut result = Matches::default();
    let no_logins = HashMap::new();
    for (si, sys) in snapshot.systems.iter().enumerate() {
        // Fold straight into per-thread vectors: no intermediate entry per account.
        let (ms_all, amb_all) = sys
            .accounts
            .par_iter()
            .enumerate()
            .fold(
                || (Vec::new(), Vec::new()),
                |(mut ms, mut amb): (Vec<Match>, Vec<Ambiguity>), (ai, a)| {
                    let mut own = ix.own_matches(&sys.system, a);
                    // An exact match outranks probable ones on the same account.
                    if own.iter().any(|(_, _, c)| *c == Confidence::Exact) {
                        own.retain(|(_, _, c)| *c == Confidence::Exact);
                    }
                    if own.len() > 1 {
                        let candidates: Vec<usize> =
                            own.iter().map(|(l, _, _)| *l as usize).collect();
                        for (l, _, _) in &own {
                            amb.push(Ambiguity {
                                leaver: *l as usize,
                                system: si,
                                account: ai,
                                candidates: candidates.clone(),
                                reason: format!(
                                    "account {} matches {} leavers",
                                    a.name,
                                    candidates.len()
                                ),
                            });
                        }
                    } else if let Some((l, rule, c)) = own.into_iter().next() {
                        let other = (c == Confidence::Probable)
                            .then(|| claimed_by_other(ix, a, l))
                            .flatten();
                        match other {
                            Some(reason) => amb.push(Ambiguity {
                                leaver: l as usize,
                                system: si,
                                account: ai,
                                candidates: vec![l as usize],
                                reason,
                            }),
                            None => ms.push(Match {
                                leaver: l as usize,
                                system: si,
                                target: Target::Account(ai),
                                relation: Relation::Own,
                                rule,
                                confidence: c,
                            }),
                        }
                    }
                    for (l, rule, confidence) in
                        ix.owner_matches(&sys.system, &a.owner_refs, &no_logins)
                    {
                        ms.push(Match {
                            leaver: l as usize,
                            system: si,
                            target: Target::Account(ai),
                            relation: Relation::Owner,
                            rule,
                            confidence,
                        });
                    }
                    (ms, amb)
                },
            )
            .reduce(
                || (Vec::new(), Vec::new()),
                |(mut m1, mut a1), (m2, a2)| {
                    m1.extend(m2);
                    a1.extend(a2);
                    (m1, a1)
                },
            );
        result.matches.extend(ms_all);
        result.ambiguities.extend(amb_all);
        // Logins of accounts matched as a leaver's own, for `added_by`-style references.
        let logins: HashMap<String, (u32, Confidence)> = result
            .matches
            .iter()
            .filter(|m| m.system == si && m.relation == Relation::Own)
            .filter_map(|m| match m.target {
                Target::Account(ai) => Some((ai, m)),
                Target::Asset(_) => None,
            })
            .flat_map(|(ai, m)| {
                sys.accounts[ai]
                    .usernames
                    .iter()
                    .map(move |u| (u.to_lowercase(), (m.leaver as u32, m.confidence)))
            })
            .collect();
        let per_asset: Vec<Vec<Match>> = sys
            .assets
            .par_iter()
            .enumerate()
            .map(|(xi, x)| {
                ix.owner_matches(&sys.system, &x.owner_refs, &logins)
                    .into_iter()
                    .map(|(l, rule, confidence)| Match {
                        leaver: l as usize,
                        system: si,
                        target: Target::Asset(xi),
                        relation: Relation::Owner,
                        rule,
                        confidence,
                    })
                    .collect()
            })
            .collect();
        result.matches.extend(per_asset.into_iter().flatten());
    }
    // An account that is a leaver's own is not also "owned" by that leaver.
    let own: std::collections::HashSet<(usize, usize, Target)> = result
        .matches
        .iter()
        .filter(|m| m.relation == Relation::Own)
        .map(|m| (m.leaver, m.system, m.target))
        .collect();
    result
        .matches
        .retain(|m| m.relation == Relation::Own || !own.contains(&(m.leaver, m.system, m.target)));
    // Sorted by (leaver, system): deterministic whatever rayon's split, and the evaluator
    // slices per leaver × system without an index of its own.
    result
        .matches
        .sort_unstable_by_key(|m| (m.leaver, m.system, m.target, m.relation));
    result
        .ambiguities
        .sort_unstable_by_key(|a| (a.leaver, a.system, a.account));
    result
}
