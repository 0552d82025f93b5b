//! One archive (`.tar.gz`) of the run folder and the report, for hand-off.

use std::path::{Path, PathBuf};

/// Packs `run_dir` into `<run_dir>/../hokusai-verify-<timestamp>.tar.gz`.
pub fn package(run_dir: &Path) -> std::io::Result<PathBuf> {
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    let parent = run_dir.parent().unwrap_or(Path::new("."));
    let out = parent.join(format!("hokusai-verify-{stamp}.tar.gz"));
    let file = std::fs::File::create(&out)?;
    let gz = flate2::write::GzEncoder::new(file, flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    tar.append_dir_all(format!("hokusai-verify-{stamp}"), run_dir)?;
    tar.into_inner()?.finish()?;
    Ok(out)
}
