//! The plan of a run, written into the run folder before its first check: which checks were
//! meant to run, per area, on which target, profile and faults. The report reads only the
//! run folder: a planned check without a result is listed as such (a crashed test binary, a
//! run cut short), and nothing is rebuilt from a profile name.

use super::CheckSpec;
use crate::catalogue::{Area, Fault};
use crate::config::Config;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// What one area of a run planned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub area: Area,
    /// `standin` or `live`.
    pub target: String,
    pub profile: String,
    /// Stand-in faults switched on.
    pub faults: Vec<Fault>,
    /// The planned checks' full ids (`ecs_service[hokusai-api-development]`).
    pub checks: Vec<String>,
}

impl Plan {
    /// `area/id` of every planned check.
    pub fn keys(&self) -> impl Iterator<Item = String> + '_ {
        self.checks.iter().map(|id| format!("{}/{id}", self.area))
    }
}

/// Writes `run_dir/plan/<area>.json` for every area of `specs`.
pub fn record_plan(run_dir: &Path, config: &Config, specs: &[CheckSpec]) -> std::io::Result<()> {
    let mut by_area: BTreeMap<Area, Vec<String>> = BTreeMap::new();
    for s in specs {
        by_area.entry(s.area).or_default().push(s.full_id());
    }
    let dir = run_dir.join("plan");
    std::fs::create_dir_all(&dir)?;
    for (area, checks) in by_area {
        let plan = Plan {
            area,
            target: config.kind().to_string(),
            profile: config.profile.name.clone(),
            faults: config
                .standin_settings()
                .map(|s| s.faults.iter().copied().collect())
                .unwrap_or_default(),
            checks,
        };
        let json = serde_json::to_string_pretty(&plan).expect("a plan serialises");
        let path = dir.join(format!("{area}.json"));
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, json)?;
        std::fs::rename(&tmp, &path)?;
    }
    Ok(())
}

/// Every plan of a run folder (none when it has no `plan/`); unreadable files by name.
pub fn read_plans(run_dir: &Path) -> (Vec<Plan>, Vec<String>) {
    super::read_json_files(super::json_files_in(&run_dir.join("plan")))
}
