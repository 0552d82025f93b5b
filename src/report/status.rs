//! A status block in a Markdown file, between markers, replaced on every report.

use super::Report;

pub const START: &str = "<!-- hokusai-verify:status:start -->";
pub const END: &str = "<!-- hokusai-verify:status:end -->";

/// The block's content.
pub fn block(r: &Report) -> String {
    format!(
        "{START}\n**Platform status** ({} on {}, profile {}): **{}**, health score {} / 100, {} of {} checks passed{}.\n{END}",
        r.generated_at.format("%Y-%m-%d %H:%M UTC"),
        r.target,
        r.profile,
        r.verdict.label(),
        r.health.overall.map_or("n/a".into(), |s| format!("{s:.0}")),
        r.counts.passed,
        r.counts.total,
        if r.causes.is_empty() {
            String::new()
        } else {
            format!(
                "; causes: {}",
                r.causes
                    .iter()
                    .map(|c| c.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
    )
}

/// Replaces the block in `text` (or appends it when the markers are missing).
pub fn update(text: &str, r: &Report) -> String {
    let new = block(r);
    match (text.find(START), text.find(END)) {
        (Some(a), Some(b)) if a < b => format!("{}{new}{}", &text[..a], &text[b + END.len()..]),
        _ => format!("{}\n\n{new}\n", text.trim_end()),
    }
}
