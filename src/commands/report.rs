//! `report`: builds every report format from a run folder.

use super::Exit;
use crate::config::Config;

/// The run folder the configuration names (`HOKUSAI_RUN_DIR`), or the default one.
pub fn default_run_dir() -> std::path::PathBuf {
    match Config::from_env() {
        Ok(c) => c.run_dir,
        Err(_) => std::path::PathBuf::from("target/hokusai-verify/run"),
    }
}

/// Writes every report format and prints where, with the summary lines.
pub fn report(
    run_dir: &std::path::Path,
    out: Option<&std::path::Path>,
    junit: Option<&std::path::Path>,
    update_status: Option<&std::path::Path>,
    package: bool,
) -> Exit {
    use crate::report::{self, Report, Verdict};
    let mut rep = Report::from_run_dir(run_dir, junit);
    let out = out.unwrap_or(run_dir);
    if let Err(e) = report::write_all(&mut rep, out) {
        eprintln!("cannot write the report into {}: {e}", out.display());
        return Exit::Failed;
    }
    println!(
        "report: {} — health score {} / 100 — {}",
        rep.verdict.label(),
        rep.health
            .overall
            .map_or("n/a".into(), |s| format!("{s:.0}")),
        out.join("report.md").display()
    );
    if let Some(p) = &rep.partial {
        println!("  {p}: the other areas were not checked");
    }
    if let Some(t) = &rep.timing {
        println!("  {}", t.line());
    }
    for c in &rep.causes {
        let mut counts = format!(
            "{} failed, {} blocked",
            c.checks.len() - c.blocked.len(),
            c.blocked.len()
        );
        if !c.retried_alone.is_empty() {
            counts.push_str(&format!(
                ", {} bad beside other checks and answered alone",
                c.retried_alone.len()
            ));
        }
        if !c.left_by.is_empty() {
            counts.push_str(&format!(", {} left objects behind", c.left_by.len()));
        }
        println!("  cause: {} ({}): {counts}; fix: {}", c.title, c.id, c.fix);
    }
    if !rep.unclassified.is_empty() {
        println!("  suite defects (unclassified): {}", rep.unclassified.len());
    }
    for p in &rep.problems {
        println!("  problem: {p}");
    }
    if !rep.missing.is_empty() {
        println!("  checks without a result: {}", rep.missing.len());
    }
    if let Some(path) = update_status {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if let Err(e) = std::fs::write(
            path,
            crate::secret::redact(&report::status::update(&text, &rep)),
        ) {
            eprintln!("cannot update {}: {e}", path.display());
            return Exit::Failed;
        }
        println!("  status block updated in {}", path.display());
    }
    if package {
        match report::package::package(run_dir) {
            Ok(p) => println!("  package: {}", p.display()),
            Err(e) => {
                eprintln!("cannot package {}: {e}", run_dir.display());
                return Exit::Failed;
            }
        }
    }
    match rep.verdict {
        Verdict::Healthy => Exit::Ok,
        _ => Exit::Failed,
    }
}
