//! The report rearranged for the page: columns (system instances), leavers, what a large
//! scan shows in full ([`Limits`], [`Plan`]) and the headline totals.

use std::collections::HashMap;
use std::fmt::Write;

use residual_probe::SystemSnapshot;

use super::*;
use crate::evaluate::{CoverageRow, Finding, Status};

/// One column of the coverage matrix and one bar of the severity chart.
pub(super) struct Column<'a> {
    pub(super) system: &'a str,
    pub(super) instance: &'a str,
    pub(super) snap: Option<&'a SystemSnapshot>,
}

impl Column<'_> {
    pub(super) fn failed(&self) -> bool {
        self.snap.is_some_and(|s| !s.is_complete())
    }
    pub(super) fn label(&self) -> String {
        format!("{} / {}", self.system, self.instance)
    }
}

pub(super) struct LeaverView<'a> {
    pub(super) id: &'a str,
    pub(super) email: &'a str,
    pub(super) name: &'a str,
    pub(super) departure: Option<OffsetDateTime>,
    pub(super) days: Option<i64>,
    pub(super) cells: Vec<Option<&'a CoverageRow>>,
    pub(super) findings: Vec<&'a Finding>,
}

/// The report rearranged for the page, in a fixed order: columns as the snapshot lists its
/// system instances, leavers as the coverage lists them (the leavers file's order).
pub(super) struct View<'a> {
    pub(super) columns: Vec<Column<'a>>,
    pub(super) leavers: Vec<LeaverView<'a>>,
    /// Leaver id → position in `leavers`.
    pub(super) index: HashMap<&'a str, usize>,
    pub(super) open: Vec<&'a Finding>,
}

impl<'a> View<'a> {
    pub(super) fn new(r: &'a Report) -> View<'a> {
        let mut columns: Vec<Column<'a>> = Vec::new();
        let mut col_ix: HashMap<(&'a str, &'a str), usize> = HashMap::new();
        for s in &r.snapshot.systems {
            col_ix
                .entry((s.system.as_str(), s.instance.as_str()))
                .or_insert_with(|| {
                    columns.push(Column {
                        system: &s.system,
                        instance: &s.instance,
                        snap: Some(s),
                    });
                    columns.len() - 1
                });
        }
        let mut col = |system: &'a str, instance: &'a str| -> usize {
            *col_ix.entry((system, instance)).or_insert_with(|| {
                columns.push(Column {
                    system,
                    instance,
                    snap: None,
                });
                columns.len() - 1
            })
        };
        let mut leavers: Vec<LeaverView<'a>> = Vec::new();
        let mut lv_ix: HashMap<&'a str, usize> = HashMap::new();
        let leaver = |id: &'a str,
                      email: &'a str,
                      leavers: &mut Vec<LeaverView<'a>>,
                      lv_ix: &mut HashMap<&'a str, usize>| {
            *lv_ix.entry(id).or_insert_with(|| {
                leavers.push(LeaverView {
                    id,
                    email,
                    name: "",
                    departure: None,
                    days: None,
                    cells: Vec::new(),
                    findings: Vec::new(),
                });
                leavers.len() - 1
            })
        };
        for c in &r.evaluation.coverage {
            let li = leaver(&c.leaver_id, &c.leaver_email, &mut leavers, &mut lv_ix);
            let ci = col(&c.system, &c.system_instance);
            let cells = &mut leavers[li].cells;
            if cells.len() <= ci {
                cells.resize(ci + 1, None);
            }
            cells[ci] = Some(c);
        }
        let mut open = Vec::new();
        for f in &r.evaluation.findings {
            col(&f.system, &f.system_instance);
            let li = leaver(&f.leaver_id, &f.leaver_email, &mut leavers, &mut lv_ix);
            let l = &mut leavers[li];
            if l.name.is_empty() {
                l.name = &f.leaver_name;
            }
            l.departure.get_or_insert(f.departure_date);
            l.days.get_or_insert(f.days_since_departure);
            l.findings.push(f);
            if f.status == Status::Open {
                open.push(f);
            }
        }
        let n = columns.len();
        for l in &mut leavers {
            l.cells.resize(n, None);
            // Open before suppressed, most severe first; the evaluator's order otherwise.
            l.findings
                .sort_by_key(|f| (f.status != Status::Open, sev_rank(f.severity)));
        }
        View {
            columns,
            leavers,
            index: lv_ix,
            open,
        }
    }

    pub(super) fn column_of(&self, f: &Finding) -> usize {
        self.columns
            .iter()
            .position(|c| c.system == &*f.system && c.instance == &*f.system_instance)
            .unwrap_or(0)
    }
}

/// How much of a large scan the page shows in full. Totals, charts and the banner always
/// count everything; a table past its limit shows what needs attention first and says what it
/// left out (the CSV and JSON files have every row).
#[derive(Clone, Copy)]
pub(super) struct Limits {
    pub(super) matrix_rows: usize,
    pub(super) findings_rows: usize,
    pub(super) detail_findings: usize,
    pub(super) names_per_problem: usize,
}

pub(super) const LIMITS: Limits = Limits {
    matrix_rows: 5_000,
    findings_rows: 3_000,
    detail_findings: 3_000,
    names_per_problem: 50,
};

/// Which leavers get a matrix row and a detail section.
pub(super) struct Plan {
    pub(super) rows: Vec<bool>,
    pub(super) details: Vec<bool>,
}

impl Plan {
    pub(super) fn new(v: &View, lim: Limits) -> Plan {
        let n = v.leavers.len();
        let mut rows = vec![n <= lim.matrix_rows; n];
        if n > lim.matrix_rows {
            // Error, ambiguous and residual rows first; file order within each.
            let mut order: Vec<usize> = (0..n).collect();
            order.sort_by_key(|&i| {
                let worst = v.leavers[i]
                    .cells
                    .iter()
                    .map(|c| c.map(|c| outcome_rank(c.outcome)).unwrap_or(0))
                    .min()
                    .unwrap_or(usize::MAX);
                (worst, i)
            });
            for &i in order.iter().take(lim.matrix_rows) {
                rows[i] = true;
            }
        }
        let with: Vec<usize> = (0..n)
            .filter(|&i| !v.leavers[i].findings.is_empty())
            .collect();
        let total: usize = with.iter().map(|&i| v.leavers[i].findings.len()).sum();
        let mut details = vec![false; n];
        if total <= lim.detail_findings {
            for &i in &with {
                details[i] = true;
            }
        } else {
            // The leavers with the most severe open findings, then the most of them.
            let mut order = with;
            order.sort_by_key(|&i| {
                let open: Vec<&&Finding> = v.leavers[i]
                    .findings
                    .iter()
                    .filter(|f| f.status == Status::Open)
                    .collect();
                let worst = open.iter().map(|f| sev_rank(f.severity)).min().unwrap_or(4);
                (worst, std::cmp::Reverse(open.len()), i)
            });
            let mut used = 0;
            for i in order {
                let k = v.leavers[i].findings.len();
                if used > 0 && used + k > lim.detail_findings {
                    break;
                }
                details[i] = true;
                used += k;
            }
        }
        Plan { rows, details }
    }

    pub(super) fn has_section(&self, v: &View, leaver_id: &str) -> bool {
        v.index.get(leaver_id).is_some_and(|&i| self.details[i])
    }
}

pub(super) fn abridged(b: &mut String, text: &str) -> std::fmt::Result {
    writeln!(b, "<p class=\"abridged\" role=\"note\">{text}</p>")
}

pub(super) struct Totals {
    pub(super) leavers: usize,
    pub(super) departed: usize,
    pub(super) residual_leavers: usize,
    pub(super) open: usize,
    pub(super) suppressed: usize,
    pub(super) by_sev: [usize; 4],
    pub(super) past_sla: usize,
    pub(super) errors: usize,
    pub(super) error_leavers: usize,
    pub(super) ambiguous: usize,
    pub(super) cells: usize,
    /// Leaver × system pairs without a coverage row (never expected; never clean).
    pub(super) missing: usize,
    pub(super) unverified: usize,
}

impl Totals {
    pub(super) fn new(r: &Report, v: &View) -> Totals {
        let ev = r.evaluation;
        let with = |o: Verdict| -> usize {
            v.leavers
                .iter()
                .filter(|l| l.cells.iter().flatten().any(|c| c.outcome == o))
                .count()
        };
        let rows = |o: Verdict| ev.outcomes(o);
        let mut by_sev = [0; 4];
        for f in &v.open {
            by_sev[sev_rank(f.severity)] += 1;
        }
        Totals {
            leavers: v.leavers.len(),
            departed: v
                .leavers
                .iter()
                .filter(|l| {
                    l.cells
                        .iter()
                        .flatten()
                        .any(|c| c.outcome != Verdict::NotDeparted)
                })
                .count(),
            residual_leavers: with(Verdict::Residual),
            open: v.open.len(),
            suppressed: ev
                .findings
                .iter()
                .filter(|f| f.status == Status::Suppressed)
                .count(),
            by_sev,
            past_sla: v.open.iter().filter(|f| f.sla_breached).count(),
            errors: rows(Verdict::Error),
            error_leavers: with(Verdict::Error),
            ambiguous: rows(Verdict::Ambiguous),
            unverified: rows(Verdict::Unverified),
            cells: ev.coverage.len(),
            missing: v
                .leavers
                .iter()
                .map(|l| l.cells.iter().filter(|c| c.is_none()).count())
                .sum(),
        }
    }
}
