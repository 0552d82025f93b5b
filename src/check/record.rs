//! Check results of one run are written as one JSON file per check into the run folder,
//! so that every test binary (run by `cargo test` or nextest, in any order or process)
//! contributes to the same run, and the report reads them afterwards.

use super::CheckResult;
use std::path::Path;

/// Writes `result` into `run_dir/results/<area>/<id>.json`. Returns the file written.
/// Secrets are redacted again on the way out, whatever the check put in.
pub fn record(run_dir: &Path, result: &CheckResult) -> std::io::Result<std::path::PathBuf> {
    let dir = run_dir.join("results").join(result.area.id());
    std::fs::create_dir_all(&dir)?;
    let file_name: String = result
        .id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let path = dir.join(format!("{file_name}.json"));
    let json = serde_json::to_string_pretty(result).expect("a CheckResult serialises");
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, crate::secret::redact(&json))?;
    std::fs::rename(&tmp, &path)?;
    Ok(path)
}

/// Reads every result of a run folder; unreadable files are returned as errors by name
/// (a crashed binary may have left one half-written), never silently dropped.
pub fn read_run_dir(run_dir: &Path) -> (Vec<CheckResult>, Vec<String>) {
    let mut results = Vec::new();
    let mut problems = Vec::new();
    let root = run_dir.join("results");
    let Ok(areas) = std::fs::read_dir(&root) else {
        problems.push(format!("no results folder at {}", root.display()));
        return (results, problems);
    };
    let files: Vec<_> = areas
        .flatten()
        .filter(|e| e.path().is_dir())
        .flat_map(|area| json_files_in(&area.path()))
        .collect();
    let (parsed, unreadable) = read_json_files::<CheckResult>(files);
    results.extend(parsed);
    problems.extend(unreadable);
    (results, problems)
}

/// The `.json` files directly in `dir` (none when it does not exist).
pub fn json_files_in(dir: &Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect()
}

/// Reads every file of `paths` (sorted) as JSON of type `T`; a file that cannot be read or
/// parsed is listed by name with the reason, never silently dropped.
pub fn read_json_files<T: serde::de::DeserializeOwned>(
    mut paths: Vec<std::path::PathBuf>,
) -> (Vec<T>, Vec<String>) {
    paths.sort();
    let (mut ok, mut problems) = (Vec::new(), Vec::new());
    for p in paths {
        match std::fs::read_to_string(&p)
            .map_err(|e| e.to_string())
            .and_then(|t| serde_json::from_str::<T>(&t).map_err(|e| e.to_string()))
        {
            Ok(v) => ok.push(v),
            Err(e) => problems.push(format!("{}: {e}", p.display())),
        }
    }
    (ok, problems)
}
