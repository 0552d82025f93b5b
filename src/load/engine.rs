use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The workload model.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Model {
    /// Constant arrival rate (requests per second), whatever the server does.
    Open { rate_per_s: f64 },
    /// `users` loops, each waiting `think_ms` between its requests.
    Closed { users: usize, think_ms: u64 },
}

/// Requests of the open model in flight at once: past it, sends wait for answers (and the
/// wait counts in the latency from the intended time), so memory stays bounded at any rate.
pub const MAX_IN_FLIGHT: usize = 4096;

/// The highest open-model rate accepted: one process on a small machine cannot generate
/// more, and a higher figure would only measure the generator.
pub const MAX_OPEN_RATE: f64 = 100_000.0;

/// How long requests still in flight at the end of the run may take to finish; what is
/// still running then is counted as `unfinished`.
pub const END_GRACE: Duration = Duration::from_secs(1);

/// Bounds of a run: whichever comes first.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RunLimits {
    pub max_requests: u64,
    pub max_duration: Duration,
}

/// What one unit of work (a request, a workflow) ended in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// An answer with this status.
    Status(u16),
    /// No answer: `timeout`, `connect`, `other` ...
    Error(String),
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    pub count: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
}

impl Percentiles {
    pub fn of(h: &Histogram<u64>) -> Self {
        let ms = |us: u64| us as f64 / 1000.0;
        Self {
            count: h.len(),
            p50_ms: ms(h.value_at_quantile(0.50)),
            p90_ms: ms(h.value_at_quantile(0.90)),
            p95_ms: ms(h.value_at_quantile(0.95)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            p999_ms: ms(h.value_at_quantile(0.999)),
            max_ms: ms(h.max()),
            mean_ms: h.mean() / 1000.0,
        }
    }
}

/// The figures of one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadResult {
    pub name: String,
    pub model: Model,
    pub limits: RunLimits,
    pub requests: u64,
    /// Answers with an expected status.
    pub ok: u64,
    /// Answers with an unexpected status, by status.
    pub unexpected_status: BTreeMap<u16, u64>,
    /// No answer, by class.
    pub errors: BTreeMap<String, u64>,
    pub duration_s: f64,
    /// Completed requests per second.
    pub throughput_per_s: f64,
    /// Latency as the user sees it: from the intended send time (open model), or from the
    /// send (closed model).
    pub latency: Percentiles,
    /// Open model only: from the actual send (what a naive client would report).
    pub service_time: Option<Percentiles>,
    pub started_at: chrono::DateTime<chrono::Utc>,
}

impl LoadResult {
    pub fn error_rate(&self) -> f64 {
        if self.requests == 0 {
            return 0.0;
        }
        (self.requests - self.ok) as f64 / self.requests as f64
    }
}

fn hist() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid histogram bounds")
}

struct Tally {
    latency: Histogram<u64>,
    service: Histogram<u64>,
    ok: u64,
    unexpected: BTreeMap<u16, u64>,
    errors: BTreeMap<String, u64>,
}

impl Tally {
    fn new() -> Self {
        Self {
            latency: hist(),
            service: hist(),
            ok: 0,
            unexpected: BTreeMap::new(),
            errors: BTreeMap::new(),
        }
    }
    fn add(&mut self, outcome: Outcome, latency: Duration, service: Duration, expected: &[u16]) {
        self.latency
            .saturating_record(latency.as_micros().max(1) as u64);
        self.service
            .saturating_record(service.as_micros().max(1) as u64);
        match outcome {
            Outcome::Status(s) if expected.contains(&s) => self.ok += 1,
            Outcome::Status(s) => *self.unexpected.entry(s).or_default() += 1,
            Outcome::Error(class) => *self.errors.entry(class).or_default() += 1,
        }
    }
    fn merge(&mut self, o: Tally) {
        self.latency.add(&o.latency).expect("same bounds");
        self.service.add(&o.service).expect("same bounds");
        self.ok += o.ok;
        for (k, v) in o.unexpected {
            *self.unexpected.entry(k).or_default() += v;
        }
        for (k, v) in o.errors {
            *self.errors.entry(k).or_default() += v;
        }
    }
}

/// A progress bar on stderr for runs that take a while; none in CI or without a terminal.
fn progress(limits: &RunLimits) -> Option<indicatif::ProgressBar> {
    let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
    if ci
        || limits.max_duration < Duration::from_secs(3)
        || !std::io::IsTerminal::is_terminal(&std::io::stderr())
    {
        return None;
    }
    let bar = indicatif::ProgressBar::new(limits.max_requests);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{elapsed_precise} [{bar:40}] {pos}/{len} requests",
        )
        .expect("template"),
    );
    Some(bar)
}

/// Runs `work` under `model` within `limits`. `work(i)` performs unit `i` and says how it
/// ended; `expected` lists the statuses that count as success.
pub async fn run_load<F, Fut>(
    name: &str,
    model: Model,
    limits: RunLimits,
    expected: &[u16],
    work: F,
) -> LoadResult
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Outcome> + Send + 'static,
{
    let work = Arc::new(work);
    let expected: Arc<Vec<u16>> = Arc::new(expected.to_vec());
    let started_at = chrono::Utc::now();
    let t0 = tokio::time::Instant::now();
    let deadline = t0 + limits.max_duration;
    let bar = progress(&limits);
    let mut tally = Tally::new();
    let mut unfinished = 0u64;
    match model {
        Model::Open { rate_per_s } => {
            // Pacing on a thread of its own with `std::thread::sleep` (microsecond precision):
            // tokio's timer has a 1 ms granularity, which would be added to every latency
            // measured from the intended time.
            let interval = Duration::from_secs_f64(1.0 / rate_per_s.max(1e-3));
            let start = Instant::now();
            let end = start + limits.max_duration;
            let (tx, mut rx) = tokio::sync::mpsc::channel::<(u64, Instant)>(1024);
            let max = limits.max_requests;
            let pacer = std::thread::spawn(move || {
                for i in 0..max {
                    let intended = start + interval.mul_f64(i as f64);
                    let now = Instant::now();
                    // Nothing is scheduled past the end, and a pacer that fell behind (a
                    // rate the machine cannot generate) stops at the end too.
                    if intended >= end || now >= end {
                        break;
                    }
                    if intended > now {
                        std::thread::sleep(intended - now);
                    }
                    if tx.blocking_send((i, intended)).is_err() {
                        break;
                    }
                }
            });
            let mut tasks: tokio::task::JoinSet<(Outcome, Duration, Duration, Arc<Vec<u16>>)> =
                tokio::task::JoinSet::new();
            'receive: while let Some((i, intended)) = rx.recv().await {
                while tasks.len() >= MAX_IN_FLIGHT {
                    // Waiting for a free slot ends at the deadline too: what is not sent by
                    // then is not sent (dropping the receiver stops the pacer).
                    match tokio::time::timeout_at(deadline, tasks.join_next()).await {
                        Ok(Some(Ok((o, lat, svc, exp)))) => tally.add(o, lat, svc, &exp),
                        Ok(_) => break,
                        Err(_) => break 'receive,
                    }
                }
                let (work, expected) = (work.clone(), expected.clone());
                tasks.spawn(async move {
                    let sent = Instant::now();
                    let outcome = work(i).await;
                    let done = Instant::now();
                    // Latency from the intended time: a late send (the client was held up)
                    // counts against the server, as a user would see it.
                    (
                        outcome,
                        done.duration_since(intended),
                        done - sent,
                        expected,
                    )
                });
                while let Some(Ok((o, lat, svc, exp))) = tasks.try_join_next() {
                    tally.add(o, lat, svc, &exp);
                    if let Some(b) = &bar {
                        b.inc(1);
                    }
                }
            }
            drop(rx);
            let _ = pacer.join();
            // Requests in flight may finish until a second past the deadline; the rest are
            // counted as unfinished.
            let grace = deadline + END_GRACE;
            while let Ok(Some(Ok((o, lat, svc, exp)))) =
                tokio::time::timeout_at(grace, tasks.join_next()).await
            {
                tally.add(o, lat, svc, &exp);
            }
            if !tasks.is_empty() {
                // Sent, never answered within the run: counted as requests and errors.
                *tally.errors.entry("unfinished".into()).or_default() += tasks.len() as u64;
                unfinished = tasks.len() as u64;
            }
            tasks.abort_all();
        }
        Model::Closed { users, think_ms } => {
            let next = Arc::new(AtomicU64::new(0));
            let mut tasks = tokio::task::JoinSet::new();
            for _ in 0..users.max(1) {
                let (work, expected, next) = (work.clone(), expected.clone(), next.clone());
                let bar = bar.clone();
                tasks.spawn(async move {
                    let mut t = Tally::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::SeqCst);
                        if i >= limits.max_requests || tokio::time::Instant::now() >= deadline {
                            break;
                        }
                        let sent = Instant::now();
                        // A request may end a second past the deadline, no later.
                        let outcome = tokio::time::timeout_at(deadline + END_GRACE, work(i))
                            .await
                            .unwrap_or_else(|_| Outcome::Error("unfinished".into()));
                        let took = sent.elapsed();
                        t.add(outcome, took, took, &expected);
                        if let Some(b) = &bar {
                            b.inc(1);
                        }
                        if think_ms > 0 {
                            tokio::time::sleep(Duration::from_millis(think_ms)).await;
                        }
                    }
                    t
                });
            }
            while let Some(Ok(t)) = tasks.join_next().await {
                tally.merge(t);
            }
        }
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let duration = t0.elapsed();
    let requests = tally.latency.len() + unfinished;
    LoadResult {
        name: name.to_owned(),
        model,
        limits,
        requests,
        ok: tally.ok,
        unexpected_status: tally.unexpected,
        errors: tally.errors,
        duration_s: duration.as_secs_f64(),
        throughput_per_s: requests as f64 / duration.as_secs_f64().max(1e-9),
        latency: Percentiles::of(&tally.latency),
        service_time: matches!(model, Model::Open { .. }).then(|| Percentiles::of(&tally.service)),
        started_at,
    }
}
