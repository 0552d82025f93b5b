//! The load engine: an **open** model (constant arrival rate; requests are scheduled at
//! fixed intended times and latency is measured from the intended time, so a stalled
//! server cannot hide behind a waiting client: coordinated omission corrected) and a
//! **closed** model (N virtual users looping a scenario with optional think time).
//! Latencies go into HDR histograms; errors are counted by class; expected statuses (429 in
//! a rate-limit scenario) count as expected. Every run is bounded by a request count and a
//! time limit.

mod baseline;
mod engine;
mod resources;
pub mod scenarios;

pub use baseline::{Comparison, Threshold, ThresholdError, compare, parse_threshold};
pub use engine::{
    END_GRACE, LoadResult, MAX_IN_FLIGHT, MAX_OPEN_RATE, Model, Outcome as RequestOutcome,
    Percentiles, RunLimits, run_load,
};
pub use resources::{ProcessUsage, ResourceSampler, peak_rss_mb};

/// Runs a [`scenarios::Work`] (the engine takes a plain closure).
pub async fn run_work(
    name: &str,
    model: Model,
    limits: RunLimits,
    expected: &[u16],
    work: scenarios::Work,
) -> LoadResult {
    run_load(name, model, limits, expected, move |i| work(i)).await
}

/// Where load results of a run are kept (`<run dir>/perf/<name>.json`) for the report.
pub fn record(run_dir: &std::path::Path, result: &LoadResult) -> std::io::Result<()> {
    let dir = run_dir.join("perf");
    std::fs::create_dir_all(&dir)?;
    let name: String = result
        .name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    std::fs::write(
        dir.join(format!("{name}.json")),
        serde_json::to_string_pretty(result).expect("json"),
    )
}
