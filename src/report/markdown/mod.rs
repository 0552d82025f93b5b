//! `report.md` (everything, for engineers) and `infrastructure-issues.md` (the hand-off
//! for the infra team: executive summary, fix priority, follow-up tests).

use super::{Report, Verdict};
use crate::check::Outcome;
use std::collections::BTreeSet;
use std::fmt::Write;

fn pct(v: Option<f64>) -> String {
    v.map_or("n/a".into(), |s| format!("{s:.0}"))
}

/// `1234567` → `1.2 MB`.
fn bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 20 => format!("{:.1} MB", n as f64 / f64::from(1 << 20)),
        n if n >= 1 << 10 => format!("{:.1} kB", n as f64 / 1024.0),
        n => format!("{n} bytes"),
    }
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// `3 calls: 200 401 404; slowest 2.1 ms` (`-` for a non-HTTP call such as Redis or ECS;
/// the full evidence is in report.json).
fn evidence_summary(c: &crate::check::CheckResult) -> String {
    if c.evidence.is_empty() {
        return String::new();
    }
    let statuses: Vec<String> = c
        .evidence
        .iter()
        .map(|e| {
            e.status.map_or_else(
                || {
                    if e.error.is_some() {
                        "no answer".into()
                    } else {
                        "-".into()
                    }
                },
                |s| s.to_string(),
            )
        })
        .collect();
    let mut shown: Vec<String> = statuses.iter().take(8).cloned().collect();
    if statuses.len() > 8 {
        shown.push("…".into());
    }
    let slowest = c
        .evidence
        .iter()
        .map(|e| e.latency_ms)
        .fold(0.0_f64, f64::max);
    let n = c.evidence.len();
    let calls = if n == 1 {
        "1 call".to_owned()
    } else {
        format!("{n} calls")
    };
    format!("{calls}: {}; slowest {slowest:.1} ms", shown.join(" "))
}

/// The rerun command of each area.
/// The route matrix, compactly: a family per row, a column per spelling and role, the
/// failing cells in full below.
fn route_matrix(r: &Report, s: &mut String) {
    let Some(m) = r.route_matrix() else {
        return;
    };
    let _ = writeln!(
        s,
        "\n## Route matrix\n\nEvery MLflow {} endpoint × path spelling × key (`mlflow_proxy/route_matrix[…]`): requests that answered as expected / sent, per endpoint family; `–`: none sent.\n",
        m.release
    );
    let _ = writeln!(s, "| family | {} |", m.columns.join(" | "));
    let _ = writeln!(s, "|---|{}", "---|".repeat(m.columns.len()));
    for (family, cells) in &m.rows {
        let cells: Vec<String> = cells
            .iter()
            .map(|c| match c {
                None => "–".to_owned(),
                Some((ok, n)) if ok == n => format!("{ok}/{n}"),
                Some((ok, n)) => format!("**{ok}/{n}**"),
            })
            .collect();
        let _ = writeln!(s, "| {} | {} |", cell(family), cells.join(" | "));
    }
    if !m.failing.is_empty() {
        let _ = writeln!(s, "\nCells that answered otherwise:\n");
        for (column, c) in &m.failing {
            let _ = writeln!(
                s,
                "- `{column}` `{}`: {} (expected {})",
                c.request, c.status, c.want
            );
        }
    }
}

pub fn rerun_command(area: &str) -> String {
    format!("cargo test --test {area}")
}

pub fn report(r: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# hokusai-verify report\n");
    let _ = writeln!(s, "| | |\n|---|---|");
    let _ = writeln!(
        s,
        "| generated | {} |",
        r.generated_at.format("%Y-%m-%d %H:%M:%S UTC")
    );
    let _ = writeln!(s, "| target | {} |", r.target);
    let _ = writeln!(s, "| profile | {} |", r.profile);
    let _ = writeln!(s, "| verdict | **{}** |", r.verdict.label());
    let _ = writeln!(s, "| health score | **{} / 100** |", pct(r.health.overall));
    let c = &r.counts;
    let _ = writeln!(
        s,
        "| checks | {} passed, {} failed, {} errors, {} skipped{} (of {}) |\n",
        c.passed,
        c.failed,
        c.errors,
        c.skipped,
        if c.not_applicable > 0 {
            format!(", {} not applicable to this target", c.not_applicable)
        } else {
            String::new()
        },
        c.total
    );
    let uploaded: f64 = r
        .checks
        .iter()
        .filter_map(|c| c.measurements.get(crate::check::UPLOADED))
        .sum();
    let left: Vec<_> = r.checks.iter().flat_map(|c| &c.left_behind).collect();
    if uploaded > 0.0 || !left.is_empty() {
        let left_bytes: u64 = left.iter().filter_map(|l| l.bytes).sum();
        let _ = writeln!(
            s,
            "**Storage:** the checks uploaded {} of artifacts; left on the platform: {}.\n",
            bytes(uploaded as u64),
            if left.is_empty() {
                "nothing".to_owned()
            } else {
                format!(
                    "{} object(s), {} of artifacts (listed under \"Left behind on the platform\")",
                    left.len(),
                    bytes(left_bytes)
                )
            }
        );
    }
    if let Some(t) = &r.timing {
        let _ = writeln!(s, "**Run:** {}.\n", t.line());
    }
    if let Some(p) = &r.partial {
        let _ = writeln!(
            s,
            "**Scope: {p}.** Only these areas ran; the rest of the platform was not checked.\n"
        );
    }

    let _ = writeln!(
        s,
        "## Service availability\n\n| component | availability | score | passed | failed | skipped |\n|---|---|---|---|---|---|"
    );
    for comp in &r.health.components {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} |",
            comp.component,
            comp.availability,
            pct(comp.score),
            comp.passed,
            comp.failed,
            comp.skipped
        );
    }

    let _ = writeln!(s, "\n## Root causes\n");
    if r.causes.is_empty() && r.unclassified.is_empty() {
        let _ = writeln!(s, "No failures.");
    }
    for (i, cause) in r.causes.iter().enumerate() {
        let _ = writeln!(
            s,
            "### {}. {} (`{}`){}\n",
            i + 1,
            cause.title,
            cause.id,
            if cause.blocks_registration {
                " — blocks registration"
            } else {
                ""
            }
        );
        let failed: Vec<&str> = cause
            .checks
            .iter()
            .filter(|c| !cause.blocked.contains(c))
            .map(String::as_str)
            .collect();
        let _ = writeln!(
            s,
            "- **fix:** {}\n- **resource:** {} ({})",
            cause.fix, cause.resource, cause.component
        );
        if !failed.is_empty() {
            let _ = writeln!(s, "- **failed ({}):** {}", failed.len(), failed.join(", "));
        }
        if !cause.blocked.is_empty() {
            let _ = writeln!(
                s,
                "- **blocked ({}):** {} (stopped before their own assertion)",
                cause.blocked.len(),
                cause.blocked.join(", ")
            );
        }
        if !cause.lines.is_empty() {
            let _ = writeln!(
                s,
                "- **contract lines it reached ({}):** {}",
                cause.lines.len(),
                cause.lines.join(", ")
            );
        }
        if !cause.retried_alone.is_empty() {
            let _ = writeln!(
                s,
                "- **bad beside other checks, answered alone ({}):** {} (run again one at a time; their verdicts are the second run's)",
                cause.retried_alone.len(),
                cause.retried_alone.join(", ")
            );
        }
        if !cause.left_by.is_empty() {
            let _ = writeln!(
                s,
                "- **left behind by ({}):** {} (their own verdicts stand; the objects are under \"Left behind on the platform\")",
                cause.left_by.len(),
                cause.left_by.join(", ")
            );
        }
        for e in &cause.evidence {
            let _ = writeln!(s, "- evidence: {}", cell(&e.to_string()));
        }
        let _ = writeln!(s);
    }
    if !r.unclassified.is_empty() {
        let _ = writeln!(
            s,
            "### Suite defects\n\nFailures of the suite itself (a panic, a check without a contract line), not of the platform:\n"
        );
        for u in &r.unclassified {
            let _ = writeln!(s, "- `{}` ({}): {}", u.check, u.outcome, cell(&u.message));
        }
        let _ = writeln!(s);
    }

    let left: Vec<_> = r
        .checks
        .iter()
        .flat_map(|c| c.left_behind.iter().map(move |l| (c.key(), l)))
        .collect();
    if !left.is_empty() {
        let _ = writeln!(
            s,
            "## Left behind on the platform\n\nWhat checks created and clean-up could not remove (tagged `{}` where MLflow allows). Run each command where MLflow is reachable (`MLFLOW_URL`: its internal address), or `hokusai-verify janitor --yes` with `HOKUSAI_MLFLOW_INTERNAL_URL` set:\n",
            crate::mlflow::workflow::LEFTOVER_TAG
        );
        for (check, l) in &left {
            let _ = writeln!(
                s,
                "- {} `{}` (from `{check}`): {}\n\n  ```sh\n  {}\n  ```",
                l.kind,
                l.name,
                cell(&l.reason),
                l.remove
            );
        }
        let _ = writeln!(s);
    }

    if !r.observations.is_empty() {
        let _ = writeln!(
            s,
            "## Security observations

Not failures (the contract allows them), but worth a decision:
"
        );
        for o in &r.observations {
            let _ = writeln!(
                s,
                "- **{}** (`{}`, seen by {}): {}",
                o.title,
                o.id,
                o.checks.join(", "),
                o.detail
            );
        }
        let _ = writeln!(s);
    }

    if !r.scripts.is_empty() {
        let _ = writeln!(
            s,
            "## The original scripts\n\nThe platform team's scripts, their intent checked against the contract (`docs/script-parity.md`):\n"
        );
        let _ = writeln!(
            s,
            "| script | result | requests | duration ms | detail |\n|---|---|---|---|---|"
        );
        for row in &r.scripts {
            let _ = writeln!(
                s,
                "| `{}` | {} | {} | {:.1} | {} |",
                row.script,
                row.outcome,
                row.requests,
                row.duration_ms,
                cell(&row.message)
            );
        }
        let _ = writeln!(s);
    }

    if let Some(d) = &r.delta {
        let _ = writeln!(s, "## Since the previous run\n");
        let lines: Vec<String> = [
            ("newly failing", &d.newly_failing),
            ("fixed", &d.fixed),
            ("still failing", &d.still_failing),
        ]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(label, v)| format!("- {label} ({}): {}", v.len(), v.join(", ")))
        .collect();
        if lines.is_empty() {
            let _ = writeln!(s, "No change in which checks fail.\n");
        } else {
            let _ = writeln!(s, "{}\n", lines.join("\n"));
        }
    }

    let _ = writeln!(
        s,
        "## Latency by endpoint family\n\nEvery answer the checks timed, without the delays the suite injected itself (a slow auth service or MLflow switched on by a check) and without the large-artifact transfers (heavy checks).\n\n| family | requests | p50 ms | p95 ms | p99 ms | max ms |\n|---|---|---|---|---|---|"
    );
    for l in &r.latency {
        let _ = writeln!(
            s,
            "| {} | {} | {:.1} | {:.1} | {:.1} | {:.1} |",
            l.family, l.count, l.p50_ms, l.p95_ms, l.p99_ms, l.max_ms
        );
    }

    if !r.performance.is_empty() {
        let _ = writeln!(
            s,
            "\n## Performance\n\n| run | model | requests | ok | req/s | p50 ms | p95 ms | p99 ms | p99.9 ms | max ms |\n|---|---|---|---|---|---|---|---|---|---|"
        );
        for p in &r.performance {
            let model = match p.model {
                crate::load::Model::Open { rate_per_s } => format!("open {rate_per_s}/s"),
                crate::load::Model::Closed { users, .. } => format!("closed {users} users"),
            };
            let l = &p.latency;
            let _ = writeln!(
                s,
                "| {} | {model} | {} | {} | {:.1} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} |",
                p.name,
                p.requests,
                p.ok,
                p.throughput_per_s,
                l.p50_ms,
                l.p95_ms,
                l.p99_ms,
                l.p999_ms,
                l.max_ms
            );
        }
    }

    route_matrix(r, &mut s);

    let _ = writeln!(
        s,
        "\n## Checks\n\n| outcome | check | component | duration ms | evidence | detail |\n|---|---|---|---|---|---|"
    );
    for c in &r.checks {
        // A failure's expected and actual are given once, under "Failures in detail".
        let detail = match &c.outcome {
            Outcome::Passed => String::new(),
            o if o.is_bad() => "see Failures in detail".to_owned(),
            _ => c.message.clone().unwrap_or_default(),
        };
        let _ = writeln!(
            s,
            "| {} | `{}` | {} | {:.1} | {} | {} |",
            c.outcome.label(),
            c.key(),
            c.component,
            c.duration_ms,
            evidence_summary(c),
            cell(&detail.chars().take(300).collect::<String>())
        );
    }

    let failures: Vec<_> = r.failures().collect();
    if !failures.is_empty() {
        let _ = writeln!(s, "\n## Failures in detail\n");
        for f in failures {
            let _ = writeln!(s, "### `{}`\n\n```text\n{}\n```\n", f.key(), f.explain());
            // Copy-paste reproductions of the requests that went wrong (the key as a
            // variable, never its value), at most three per check.
            let repro: Vec<String> = f
                .evidence
                .iter()
                .filter(|e| {
                    !e.injected && (e.error.is_some() || e.status.is_some_and(|st| st >= 400))
                })
                .filter_map(crate::check::Evidence::curl)
                .take(3)
                .collect();
            if !repro.is_empty() {
                let _ = writeln!(s, "Reproduce:\n\n```sh\n{}\n```\n", repro.join("\n"));
            }
        }
    }
    if !r.missing.is_empty() {
        let _ = writeln!(
            s,
            "## Checks without a result\n\nIn an area that ran, these left no result (a test binary crashed, or they were filtered out):\n"
        );
        for m in &r.missing {
            let _ = writeln!(s, "- `{m}`");
        }
        let _ = writeln!(s);
    }
    if !r.problems.is_empty() {
        let _ = writeln!(s, "## Problems reading the run\n");
        for p in &r.problems {
            let _ = writeln!(s, "- {}", cell(p));
        }
    }
    s
}

pub fn infrastructure_issues(r: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# Infrastructure issues — {} ({})\n",
        r.target,
        r.generated_at.format("%Y-%m-%d %H:%M UTC")
    );
    let blockers: Vec<_> = r.causes.iter().filter(|c| c.blocks_registration).collect();
    let _ = writeln!(s, "## Executive summary\n");
    let _ = writeln!(
        s,
        "1. Verdict: **{}**, health score {} / 100 ({} of {} checks passed).",
        r.verdict.label(),
        pct(r.health.overall),
        r.counts.passed,
        r.counts.total
    );
    let _ = writeln!(
        s,
        "2. Root causes found: {} ({} blocking model registration for third parties).",
        r.causes.len(),
        blockers.len()
    );
    let _ = writeln!(
        s,
        "3. First fix: {}.",
        r.causes
            .iter()
            .find(|c| c.blocks_registration)
            .or(r.causes.first())
            .map_or("none needed".to_owned(), |c| format!(
                "{} — {} ({})",
                c.title, c.fix, c.resource
            ))
    );
    let down: Vec<String> = r
        .health
        .components
        .iter()
        .filter(|c| c.availability == "down")
        .map(|c| c.component.to_string())
        .collect();
    let _ = writeln!(
        s,
        "4. Components down: {}.",
        if down.is_empty() {
            "none".into()
        } else {
            down.join(", ")
        }
    );
    let _ = writeln!(
        s,
        "5. {}",
        match r.verdict {
            Verdict::Healthy if r.all_clear() =>
                "Third parties can register models; no action needed.".to_owned(),
            Verdict::Healthy => format!(
                "Every check that ran passed, but not everything ran{}; run the whole suite before concluding.",
                r.partial.as_deref().map_or(String::new(), |p| format!(" ({p})"))
            ),
            Verdict::Failing =>
                "Third parties cannot register models reliably until the blockers below are fixed."
                    .to_owned(),
            Verdict::Degraded =>
                "Registration works; the issues below degrade security or performance.".to_owned(),
            Verdict::NoResults => "The run produced no results; rerun the suite.".to_owned(),
            Verdict::Incomplete =>
                "The run was interrupted: what ran passed, but not every check ran; rerun the suite."
                    .to_owned(),
        }
    );

    let _ = writeln!(s, "\n## Fix priority\n");
    if r.causes.is_empty() {
        let _ = writeln!(s, "Nothing to fix.");
    }
    let mut ordered: Vec<_> = r.causes.iter().collect();
    // Largest blast radius first; a registration blocker first among equals.
    // Blockers of registration first; otherwise the analysis's order (largest blast radius
    // first, a consequence never before the dependency that explains it).
    ordered.sort_by_key(|c| !c.blocks_registration);
    for (i, c) in ordered.iter().enumerate() {
        let _ = writeln!(
            s,
            "{}. **{}**{} — fix: {}; resource: {}; {} failing check(s).",
            i + 1,
            c.title,
            if c.blocks_registration {
                " (blocker)"
            } else {
                ""
            },
            c.fix,
            c.resource,
            c.checks.len()
        );
    }
    if !r.unclassified.is_empty() {
        let _ = writeln!(
            s,
            "{}. Fix {} suite defect(s) (hokusai-verify itself): {}.",
            ordered.len() + 1,
            r.unclassified.len(),
            r.unclassified
                .iter()
                .map(|u| u.check.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }

    if !ordered.is_empty() {
        let _ = writeln!(
            s,
            "\n## Follow-up testing plan\n\nAfter each fix, rerun what it affects, then the whole suite (`make verify`):\n"
        );
    }
    for c in &ordered {
        let areas: BTreeSet<&str> = c
            .checks
            .iter()
            .filter_map(|k| k.split('/').next())
            .collect();
        let cmds: Vec<String> = areas
            .iter()
            .map(|a| format!("`{}`", rerun_command(a)))
            .collect();
        let _ = writeln!(s, "- {}: {}", c.title, cmds.join(", "));
    }
    if !ordered.is_empty() {
        let _ = writeln!(s, "\n## Issues\n");
    }
    for c in &ordered {
        let _ = writeln!(
            s,
            "### {}\n\n- cause id: `{}`\n- fix: {}\n- resource: {}\n- checks: {}\n",
            c.title,
            c.id,
            c.fix,
            c.resource,
            c.checks.join(", ")
        );
        for e in &c.evidence {
            let _ = writeln!(s, "  - {}", cell(&e.to_string()));
        }
    }
    s
}
