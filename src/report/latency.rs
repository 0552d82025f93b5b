//! Latency percentiles per endpoint family, from every request in the evidence, recorded
//! in an HDR histogram (1 µs to 10 min, 3 significant digits).

use crate::check::{CheckResult, Evidence};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LatencyRow {
    pub family: String,
    pub count: u64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// Every family [`family`] names (besides "stand-in internals", which no report shows).
pub const FAMILIES: [&str; 8] = [
    "auth service",
    "ECS API",
    "Redis",
    "artifacts",
    "health",
    "MLflow read",
    "MLflow write",
    "API other",
];

/// Which family a request belongs to (one of [`FAMILIES`]).
pub fn family(e: &Evidence) -> &'static str {
    let mut parts = e.request.split_whitespace();
    let method = parts.next().unwrap_or("");
    let path = parts.next().unwrap_or("");
    match e.host.as_str() {
        "auth" => "auth service",
        "ecs" => "ECS API",
        "redis" => "Redis",
        "mlflow" if e.status.is_none() && path.is_empty() => "stand-in internals",
        _ if path.contains("mlflow-artifacts") => "artifacts",
        _ if path.starts_with("/health")
            || ["/ready", "/live", "/version", "/metrics"].contains(&path)
            || path.starts_with("/api/health") =>
        {
            "health"
        }
        _ if path.contains("/api/2.0/") || path.contains("ajax-api/2.0") => {
            if method == "GET" {
                "MLflow read"
            } else {
                "MLflow write"
            }
        }
        _ => "API other",
    }
}

/// The requests of a check whose time is the platform's latency, with their family: not the
/// delays the suite injected itself, not the large transfers of heavy checks, not notes
/// without a timed request, not the stand-in's internals.
pub fn platform_requests(r: &CheckResult) -> impl Iterator<Item = (&'static str, &Evidence)> {
    r.evidence
        .iter()
        .filter(move |e| !r.heavy && !e.injected && e.latency_ms > 0.0)
        .map(|e| (family(e), e))
        .filter(|(fam, _)| *fam != "stand-in internals")
}

pub fn by_family(results: &[CheckResult]) -> Vec<LatencyRow> {
    let mut hists: BTreeMap<&'static str, Histogram<u64>> = BTreeMap::new();
    for (fam, e) in results.iter().flat_map(platform_requests) {
        let h = hists.entry(fam).or_insert_with(|| {
            Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid bounds")
        });
        h.saturating_record((e.latency_ms * 1000.0).round().max(1.0) as u64);
    }
    let ms = |us: u64| us as f64 / 1000.0;
    hists
        .into_iter()
        .map(|(family, h)| LatencyRow {
            family: family.to_owned(),
            count: h.len(),
            p50_ms: ms(h.value_at_quantile(0.50)),
            p95_ms: ms(h.value_at_quantile(0.95)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            max_ms: ms(h.max()),
        })
        .collect()
}
