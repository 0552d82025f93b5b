//! `report.html`: one self-contained page with the summary, availability, causes, a latency
//! chart (inline SVG) and every check.

use super::Report;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn latency_chart(r: &Report) -> String {
    let max = r.latency.iter().map(|l| l.p99_ms).fold(1.0_f64, f64::max);
    let (row_h, label_w, bar_w) = (26.0, 160.0, 420.0);
    let height = row_h * r.latency.len() as f64 + 30.0;
    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{height}" role="img" aria-label="latency by endpoint family">"#,
        label_w + bar_w + 120.0
    );
    for (i, l) in r.latency.iter().enumerate() {
        let y = 10.0 + i as f64 * row_h;
        let w = |v: f64| (v / max * bar_w).max(1.0);
        svg.push_str(&format!(
            r##"<text x="0" y="{ty}" font-size="12">{name}</text><rect x="{label_w}" y="{y}" width="{p99}" height="16" fill="#f4c7c3"/><rect x="{label_w}" y="{y}" width="{p95}" height="16" fill="#f0a59d"/><rect x="{label_w}" y="{y}" width="{p50}" height="16" fill="#c0504d"/><text x="{tx}" y="{ty}" font-size="11">p50 {a:.1} / p95 {b:.1} / p99 {c:.1} ms</text>"##,
            ty = y + 12.0,
            name = esc(&l.family),
            p99 = w(l.p99_ms),
            p95 = w(l.p95_ms),
            p50 = w(l.p50_ms),
            tx = label_w + bar_w + 6.0,
            a = l.p50_ms,
            b = l.p95_ms,
            c = l.p99_ms
        ));
    }
    svg.push_str("</svg>");
    svg
}

pub fn render(r: &Report) -> String {
    let mut rows = String::new();
    for c in &r.checks {
        rows.push_str(&format!(
            "<tr class=\"{}\"><td>{}</td><td><code>{}</code></td><td>{}</td><td>{:.1}</td><td>{}</td></tr>\n",
            c.outcome.label().to_lowercase(),
            c.outcome.label(),
            esc(&c.key()),
            esc(&c.component.to_string()),
            c.duration_ms,
            esc(c.message.as_deref().unwrap_or(""))
        ));
    }
    let mut causes = String::new();
    for c in &r.causes {
        causes.push_str(&format!(
            "<li><strong>{}</strong> (<code>{}</code>)<br>fix: {}<br>resource: {}<br>checks: {}</li>\n",
            esc(&c.title),
            esc(&c.id),
            esc(&c.fix),
            esc(&c.resource),
            esc(&c.checks.join(", "))
        ));
    }
    for u in &r.unclassified {
        causes.push_str(&format!(
            "<li>suite defect: <code>{}</code>: {}</li>\n",
            esc(&u.check),
            esc(&u.message)
        ));
    }
    let mut comps = String::new();
    for c in &r.health.components {
        comps.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            esc(&c.component.to_string()),
            esc(&c.availability),
            c.score.map_or("n/a".into(), |s| format!("{s:.0}"))
        ));
    }
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>hokusai-verify report</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:70em}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}}tr.failed,tr.error{{background:#fde8e7}}tr.skipped{{background:#f4f4f4}}</style>
</head><body>
<h1>hokusai-verify report</h1>
<p>{generated} · target <b>{target}</b> · profile <b>{profile}</b> · verdict <b>{verdict}</b> · health score <b>{score}</b> / 100 · {passed} passed, {failed} failed, {errors} errors, {skipped} skipped</p>
<h2>Service availability</h2><table><tr><th>component</th><th>availability</th><th>score</th></tr>{comps}</table>
<h2>Root causes</h2><ol>{causes}</ol>
<h2>Latency by endpoint family</h2>{chart}
<h2>Checks</h2><table><tr><th>outcome</th><th>check</th><th>component</th><th>ms</th><th>detail</th></tr>{rows}</table>
</body></html>
"#,
        generated = r.generated_at.format("%Y-%m-%d %H:%M:%S UTC"),
        target = esc(&r.target),
        profile = esc(&r.profile),
        verdict = r.verdict.label(),
        score = r.health.overall.map_or("n/a".into(), |s| format!("{s:.0}")),
        passed = r.counts.passed,
        failed = r.counts.failed,
        errors = r.counts.errors,
        skipped = r.counts.skipped,
        chart = latency_chart(r),
    )
}
