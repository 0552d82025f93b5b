//! Saved results as baselines, and k6-style thresholds (`p95<500ms`, `error_rate<0.01`,
//! `throughput>100`).

use super::LoadResult;
use serde::{Deserialize, Serialize};

/// One threshold: a metric, a comparison, a bound.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Threshold {
    pub metric: String,
    pub less_than: bool,
    pub bound: f64,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("threshold `{0}` is not like p95<500ms, p99<1s, error_rate<0.01 or throughput>100")]
pub struct ThresholdError(pub String);

/// Parses `p95<500ms`, `p50<0.2s`, `error_rate<0.01`, `throughput>100`.
pub fn parse_threshold(s: &str) -> Result<Threshold, ThresholdError> {
    let err = || ThresholdError(s.to_owned());
    let (metric, rest, less_than) = if let Some((m, r)) = s.split_once('<') {
        (m, r, true)
    } else if let Some((m, r)) = s.split_once('>') {
        (m, r, false)
    } else {
        return Err(err());
    };
    let metric = metric.trim();
    let rest = rest.trim();
    let bound = if let Some(v) = rest.strip_suffix("ms") {
        v.parse::<f64>().map_err(|_| err())?
    } else if let Some(v) = rest.strip_suffix('s') {
        v.parse::<f64>().map_err(|_| err())? * 1000.0
    } else {
        rest.parse::<f64>().map_err(|_| err())?
    };
    let known = [
        "p50",
        "p90",
        "p95",
        "p99",
        "p999",
        "max",
        "mean",
        "error_rate",
        "throughput",
    ];
    if !known.contains(&metric) {
        return Err(err());
    }
    Ok(Threshold {
        metric: metric.to_owned(),
        less_than,
        bound,
    })
}

/// The value of a metric in a result (latencies in ms).
pub fn metric(r: &LoadResult, name: &str) -> f64 {
    let l = &r.latency;
    match name {
        "p50" => l.p50_ms,
        "p90" => l.p90_ms,
        "p95" => l.p95_ms,
        "p99" => l.p99_ms,
        "p999" => l.p999_ms,
        "max" => l.max_ms,
        "mean" => l.mean_ms,
        "error_rate" => r.error_rate(),
        _ => r.throughput_per_s,
    }
}

/// A result against its thresholds and an optional baseline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// Thresholds not met: `p95 = 812.0 (must be < 500)`.
    pub breached: Vec<String>,
    /// Metrics worse than the baseline by more than the tolerance.
    pub regressions: Vec<String>,
    /// metric -> (baseline, now) for the report.
    pub deltas: Vec<(String, f64, f64)>,
}

impl Comparison {
    pub fn ok(&self) -> bool {
        self.breached.is_empty() && self.regressions.is_empty()
    }
}

/// Checks `thresholds`, and compares with `baseline` (a regression: a latency percentile or
/// the error rate more than `tolerance` (e.g. 0.2 = 20%) worse, or throughput that much lower).
pub fn compare(
    r: &LoadResult,
    thresholds: &[Threshold],
    baseline: Option<&LoadResult>,
    tolerance: f64,
) -> Comparison {
    let mut c = Comparison {
        breached: vec![],
        regressions: vec![],
        deltas: vec![],
    };
    for t in thresholds {
        let v = metric(r, &t.metric);
        let ok = if t.less_than {
            v < t.bound
        } else {
            v > t.bound
        };
        if !ok {
            c.breached.push(format!(
                "{} = {v:.3} (must be {} {})",
                t.metric,
                if t.less_than { "<" } else { ">" },
                t.bound
            ));
        }
    }
    if let Some(b) = baseline {
        for m in ["p50", "p95", "p99", "error_rate", "throughput"] {
            let (was, now) = (metric(b, m), metric(r, m));
            c.deltas.push((m.to_owned(), was, now));
            let worse = if m == "throughput" {
                now < was * (1.0 - tolerance)
            } else if m == "error_rate" {
                now > was + tolerance.min(0.01)
            } else {
                now > was * (1.0 + tolerance) && now - was > 1.0
            };
            if worse {
                c.regressions.push(format!("{m}: {was:.3} -> {now:.3}"));
            }
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_parse() {
        assert_eq!(
            parse_threshold("p95<500ms").unwrap(),
            Threshold {
                metric: "p95".into(),
                less_than: true,
                bound: 500.0
            }
        );
        assert_eq!(parse_threshold("p99<1.5s").unwrap().bound, 1500.0);
        assert!(!parse_threshold("throughput>100").unwrap().less_than);
        assert!(
            parse_threshold("p42<1").is_err()
                && parse_threshold("p95=1").is_err()
                && parse_threshold("p95<fast").is_err()
        );
    }
}
