//! `report.html`: one self-contained page (no script, no external resource). A coloured
//! verdict banner with the first fix on top; then the causes with their evidence and the
//! checks they failed and blocked; the failures with expected and actual; the change since
//! the previous run; the latency chart; every check. It fits a 1366 px window: tables wrap
//! their cells, the chart scales (`tests/report_browser.rs` checks it in headless Chromium).

use super::{Report, Verdict};
use std::fmt::Write;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Background and text colours of the banner.
fn colours(v: Verdict) -> (&'static str, &'static str) {
    match v {
        Verdict::Healthy => ("#1e7b34", "#ffffff"),
        Verdict::Degraded => ("#b7791f", "#ffffff"),
        Verdict::Failing => ("#b42318", "#ffffff"),
        Verdict::NoResults | Verdict::Incomplete => ("#57606a", "#ffffff"),
    }
}

/// What to do first, in one line.
fn first_fix(r: &Report) -> String {
    match r.causes.first() {
        Some(c) => format!("First fix: {} — {} ({})", c.title, c.fix, c.resource),
        None if !r.unclassified.is_empty() => {
            "First fix: suite defects (see below); the platform's state is unknown".into()
        }
        None => match r.verdict {
            Verdict::Healthy if r.all_clear() => {
                "No action needed: every planned check passed".into()
            }
            Verdict::Healthy if r.partial.is_some() => format!(
                "Every check that ran passed ({}); run the whole suite before concluding",
                r.partial.as_deref().unwrap_or_default()
            ),
            Verdict::Healthy => "Every check that ran passed; see the problems below".into(),
            _ => "See the problems below".into(),
        },
    }
}

fn list(items: &[String]) -> String {
    let mut s = String::from("<ul>");
    for i in items {
        let _ = write!(s, "<li><code>{}</code></li>", esc(i));
    }
    s.push_str("</ul>");
    s
}

fn causes(r: &Report) -> String {
    let mut s = String::new();
    for c in &r.causes {
        let failed: Vec<String> = c
            .checks
            .iter()
            .filter(|k| !c.blocked.contains(k))
            .cloned()
            .collect();
        let _ = write!(
            s,
            r#"<section class="cause"><h3>{title} <code>{id}</code></h3><p><b>Fix:</b> {fix}<br><b>Resource:</b> {resource}</p>"#,
            title = esc(&c.title),
            id = esc(&c.id),
            fix = esc(&c.fix),
            resource = esc(&c.resource),
        );
        if !c.evidence.is_empty() {
            let _ = write!(s, "<p><b>Evidence</b></p><ul>");
            for e in &c.evidence {
                let _ = write!(s, "<li>{}: {}", esc(&e.check), esc(&e.says));
                if let Some(r) = &e.request {
                    let _ = write!(s, " <code>{}</code>", esc(r));
                }
                s.push_str("</li>");
            }
            s.push_str("</ul>");
        }
        if !c.lines.is_empty() {
            let _ = write!(
                s,
                "<p><b>Contract lines it reached</b></p>{}",
                list(&c.lines)
            );
        }
        if !c.retried_alone.is_empty() {
            let _ = write!(
                s,
                "<p><b>Bad beside other checks, answered alone ({})</b> (run again one at a time; their verdicts are the second run's)</p>{}",
                c.retried_alone.len(),
                list(&c.retried_alone)
            );
        }
        if !c.left_by.is_empty() {
            let _ = write!(
                s,
                "<p><b>Left behind by ({})</b> (they passed or failed on their own lines; the objects are listed under Left behind)</p>{}",
                c.left_by.len(),
                list(&c.left_by)
            );
        }
        if !failed.is_empty() {
            let _ = write!(
                s,
                "<p><b>Failed ({})</b></p>{}",
                failed.len(),
                list(&failed)
            );
        }
        if !c.blocked.is_empty() {
            let _ = write!(
                s,
                "<p><b>Blocked ({})</b></p>{}",
                c.blocked.len(),
                list(&c.blocked)
            );
        }
        s.push_str("</section>");
    }
    for u in &r.unclassified {
        let _ = write!(
            s,
            "<section class=\"cause\"><h3>Suite defect <code>{}</code></h3><p>{}</p></section>",
            esc(&u.check),
            esc(&u.message)
        );
    }
    s
}

fn failures(r: &Report) -> String {
    let mut rows = String::new();
    for c in r.failures() {
        let _ = write!(
            rows,
            "<tr><td><code>{}</code><br>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&c.key()),
            esc(c.outcome.label()),
            esc(c.expected.as_deref().unwrap_or("")),
            esc(c.actual.as_deref().or(c.message.as_deref()).unwrap_or(""))
        );
    }
    if rows.is_empty() {
        return String::new();
    }
    format!(
        "<h2>Failures</h2><table class=\"wrap\"><colgroup><col style=\"width:30%\"><col style=\"width:30%\"><col></colgroup><tr><th>check</th><th>expected</th><th>actual</th></tr>{rows}</table>"
    )
}

fn delta(r: &Report) -> String {
    let Some(d) = &r.delta else {
        return String::new();
    };
    let mut s = String::from("<h2>Since the previous run</h2>");
    let mut any = false;
    for (label, items) in [
        ("Newly failing", &d.newly_failing),
        ("Fixed", &d.fixed),
        ("Still failing", &d.still_failing),
    ] {
        if !items.is_empty() {
            any = true;
            let _ = write!(s, "<p><b>{label} ({})</b></p>{}", items.len(), list(items));
        }
    }
    if !any {
        s.push_str("<p>No change in which checks fail.</p>");
    }
    s
}

/// Latency by endpoint family: an SVG that scales to the page (viewBox), labels on their
/// own line above each bar so that long family names are never cut.
fn latency_chart(r: &Report) -> String {
    if r.latency.is_empty() {
        return String::new();
    }
    let max = r.latency.iter().map(|l| l.p99_ms).fold(1.0_f64, f64::max);
    let (row_h, width, bar_w) = (40.0, 800.0, 560.0);
    let height = row_h * r.latency.len() as f64 + 10.0;
    let mut svg = format!(
        r#"<h2>Latency by endpoint family</h2><p class="note">Answers the suite timed, without the delays it injected itself and the large-artifact transfers; bars: p50 (dark), p95, p99 (light).</p><svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="latency by endpoint family">"#
    );
    for (i, l) in r.latency.iter().enumerate() {
        let y = 5.0 + i as f64 * row_h;
        let w = |v: f64| (v / max * bar_w).max(2.0);
        let _ = write!(
            svg,
            r##"<text x="0" y="{ty}" font-size="13">{name}</text><rect x="0" y="{by}" width="{p99}" height="14" fill="#f4c7c3"/><rect x="0" y="{by}" width="{p95}" height="14" fill="#f0a59d"/><rect x="0" y="{by}" width="{p50}" height="14" fill="#c0504d"/><text x="{tx}" y="{lt}" font-size="12">p50 {a:.1} / p95 {b:.1} / p99 {c:.1} ms</text>"##,
            ty = y + 12.0,
            by = y + 17.0,
            lt = y + 28.0,
            name = esc(&l.family),
            p99 = w(l.p99_ms),
            p95 = w(l.p95_ms),
            p50 = w(l.p50_ms),
            tx = bar_w + 8.0,
            a = l.p50_ms,
            b = l.p95_ms,
            c = l.p99_ms
        );
    }
    svg.push_str("</svg>");
    svg
}

fn checks(r: &Report) -> String {
    let mut rows = String::new();
    for c in &r.checks {
        let _ = write!(
            rows,
            "<tr class=\"{}\"><td>{}</td><td><code>{}</code></td><td>{}</td><td>{:.1}</td><td>{}</td></tr>",
            c.outcome.label().to_lowercase().replace(' ', "-"),
            c.outcome.label(),
            esc(&c.key()),
            esc(&c.component.to_string()),
            c.duration_ms,
            esc(c.message.as_deref().unwrap_or(""))
        );
    }
    format!(
        "<h2>Checks ({})</h2><table class=\"wrap\"><colgroup><col style=\"width:8em\"><col style=\"width:34%\"><col style=\"width:9em\"><col style=\"width:6em\"><col></colgroup><tr><th>outcome</th><th>check</th><th>component</th><th>ms</th><th>detail</th></tr>{rows}</table>",
        r.checks.len()
    )
}

fn problems(r: &Report) -> String {
    let mut items: Vec<String> = r.problems.clone();
    items.extend(
        r.missing
            .iter()
            .map(|m| format!("planned, without a result: {m}")),
    );
    if items.is_empty() {
        return String::new();
    }
    let mut s = String::from("<h2>Problems with this run</h2><ul>");
    for i in items {
        let _ = write!(s, "<li>{}</li>", esc(&i));
    }
    s.push_str("</ul>");
    s
}

pub fn render(r: &Report) -> String {
    let (bg, fg) = colours(r.verdict);
    let mut comps = String::new();
    for c in &r.health.components {
        let _ = write!(
            comps,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&c.component.to_string()),
            esc(&c.availability),
            c.score.map_or("n/a".into(), |s| format!("{s:.0}"))
        );
    }
    let causes = causes(r);
    let causes = if causes.is_empty() {
        String::new()
    } else {
        format!("<h2>Root causes</h2>{causes}")
    };
    let c = &r.counts;
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>hokusai-verify report: {verdict}</title>
<style>
*{{box-sizing:border-box}}
body{{font-family:system-ui,sans-serif;margin:0 auto;padding:1em 1.5em;max-width:72em;line-height:1.4}}
.banner{{background:{bg};color:{fg};padding:1em 1.25em;border-radius:6px}}
.banner h1{{margin:0;font-size:1.8em}}
.banner p{{margin:.4em 0 0 0}}
table{{border-collapse:collapse;width:100%}}
table.wrap{{table-layout:fixed}}
td,th{{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top;overflow-wrap:anywhere}}
code{{overflow-wrap:anywhere}}
tr.failed,tr.error,tr.blocked{{background:#fde8e7}}
tr.skipped,tr.not-applicable{{background:#f4f4f4}}
.cause{{border-left:4px solid {bg};padding:0 1em;margin:1em 0}}
.chart{{width:100%;height:auto;max-width:800px}}
.note{{color:#57606a;font-size:.9em}}
</style>
</head><body>
<div class="banner" id="verdict"><h1>{verdict} · health score {score} / 100</h1><p id="first-fix">{first_fix}</p><p>{passed} passed, {failed} failed, {errors} errors, {skipped} skipped, {na} not applicable, of {total} · target {target} · profile {profile} · {generated}</p></div>
{problems}
{causes}
{failures}
{delta}
<h2>Service availability</h2><table><tr><th>component</th><th>availability</th><th>score</th></tr>{comps}</table>
{chart}
{matrix}
{checks}
</body></html>
"#,
        verdict = r.verdict.label(),
        score = r.health.overall.map_or("n/a".into(), |s| format!("{s:.0}")),
        first_fix = esc(&first_fix(r)),
        passed = c.passed,
        failed = c.failed,
        errors = c.errors,
        skipped = c.skipped,
        na = c.not_applicable,
        total = c.total,
        target = esc(&r.target),
        profile = esc(&r.profile),
        generated = r.generated_at.format("%Y-%m-%d %H:%M:%S UTC"),
        problems = problems(r),
        failures = failures(r),
        delta = delta(r),
        chart = latency_chart(r),
        matrix = route_matrix(r),
        checks = checks(r),
    )
}

/// The route matrix: a family per row, a column per spelling and role; the failing cells
/// in full below.
fn route_matrix(r: &Report) -> String {
    let Some(m) = r.route_matrix() else {
        return String::new();
    };
    let mut t = format!(
        "<h2>Route matrix</h2><p class=\"note\">Every MLflow {} endpoint × path spelling × key: requests that answered as expected / sent, per endpoint family.</p><table><tr><th>family</th>",
        esc(&m.release)
    );
    for c in &m.columns {
        let _ = write!(t, "<th>{}</th>", esc(c));
    }
    t.push_str("</tr>");
    for (family, cells) in &m.rows {
        let _ = write!(t, "<tr><td>{}</td>", esc(family));
        for c in cells {
            let _ = match c {
                None => write!(t, "<td>–</td>"),
                Some((ok, n)) if ok == n => write!(t, "<td>{ok}/{n}</td>"),
                Some((ok, n)) => write!(t, "<td class=\"bad\"><b>{ok}/{n}</b></td>"),
            };
        }
        t.push_str("</tr>");
    }
    t.push_str("</table>");
    if !m.failing.is_empty() {
        t.push_str("<ul>");
        for (column, c) in &m.failing {
            let _ = write!(
                t,
                "<li><code>{}</code> <code>{}</code>: {} (expected {})</li>",
                esc(column),
                esc(&c.request),
                c.status,
                esc(&c.want)
            );
        }
        t.push_str("</ul>");
    }
    t
}
