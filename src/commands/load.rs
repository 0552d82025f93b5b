//! `load`: latency percentiles, throughput and errors by class, always bounded.

use super::Exit;
use crate::config::Config;
use crate::fixtures::Env;

/// What each request of a load run does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, strum::Display)]
#[strum(serialize_all = "kebab-case")]
pub enum LoadScenario {
    /// `GET /health`.
    Health,
    /// A keyed MLflow read through the proxy.
    ProxiedRead,
    /// A keyed download of a 1 MB artifact (uploaded first).
    ArtifactDownload,
    /// The whole registration workflow.
    Registration,
}

/// How requests arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LoadModel {
    /// A constant arrival rate (`--rate`), whatever the answers take.
    Open,
    /// Virtual users (`--users`), each waiting for its answer.
    Closed,
}

#[derive(clap::Args)]
pub struct LoadArgs {
    /// What each request does.
    #[arg(long, value_enum, default_value_t = LoadScenario::Health)]
    pub scenario: LoadScenario,
    /// A raw GET target instead of a scenario (e.g. http://127.0.0.1:18080/health).
    #[arg(long)]
    pub url: Option<url::Url>,
    /// open (constant arrival rate) | closed (virtual users).
    #[arg(long, value_enum, default_value_t = LoadModel::Closed)]
    pub model: LoadModel,
    /// Open model: requests per second.
    #[arg(long, default_value_t = 100.0)]
    pub rate: f64,
    /// Closed model: virtual users.
    #[arg(long, default_value_t = 8)]
    pub users: usize,
    /// Closed model: think time between a user's requests.
    #[arg(long, default_value_t = 0)]
    pub think_ms: u64,
    /// Upper bound on requests.
    #[arg(long, default_value_t = 1000)]
    pub requests: u64,
    /// Upper bound on time, e.g. 30s, 2m, 1h30m (at most 24h).
    #[arg(long, default_value = "30s", value_parser = crate::config::parse_load_duration)]
    pub duration: std::time::Duration,
    /// Statuses that count as success (default 200-299).
    #[arg(long, value_delimiter = ',')]
    pub expect: Vec<u16>,
    /// k6-style thresholds, repeatable: p95<500ms, p99<1s, error_rate<0.01, throughput>100.
    #[arg(long = "threshold")]
    pub thresholds: Vec<String>,
    /// A saved result to compare with.
    #[arg(long)]
    pub baseline: Option<std::path::PathBuf>,
    /// How much worse than the baseline counts as a regression (0.2 = 20%).
    #[arg(long, default_value_t = 0.2)]
    pub tolerance: f64,
    /// Write the result (JSON) here.
    #[arg(long)]
    pub out: Option<std::path::PathBuf>,
    /// Allow load against a non-loopback target.
    #[arg(long)]
    pub allow_live: bool,
}

/// Runs the load and prints its figures.
pub async fn load(a: LoadArgs) -> Exit {
    use crate::http::{Auth, HttpClient, Req};
    use crate::load::{self, Model, RunLimits, scenarios};
    let thresholds = match a
        .thresholds
        .iter()
        .map(|t| load::parse_threshold(t))
        .collect::<Result<Vec<_>, _>>()
    {
        Ok(t) => t,
        Err(e) => {
            eprintln!("--threshold: {e}");
            return Exit::Config;
        }
    };
    let model = match a.model {
        LoadModel::Open if a.rate.is_finite() && a.rate > load::MAX_OPEN_RATE => {
            eprintln!(
                "--rate {}: at most {} requests per second; one process on this machine cannot generate more (use several machines, or the closed model)",
                a.rate,
                load::MAX_OPEN_RATE
            );
            return Exit::Config;
        }
        LoadModel::Open if a.rate.is_finite() && a.rate > 0.0 => Model::Open { rate_per_s: a.rate },
        LoadModel::Closed if a.users > 0 => Model::Closed {
            users: a.users,
            think_ms: a.think_ms,
        },
        LoadModel::Open => {
            eprintln!("--model open needs --rate > 0 (requests per second)");
            return Exit::Config;
        }
        LoadModel::Closed => {
            eprintln!("--model closed needs --users > 0");
            return Exit::Config;
        }
    };
    let config = match super::config_or_exit() {
        Ok(c) => c,
        Err(e) => return e,
    };
    let baseline = match &a.baseline {
        None => None,
        Some(p) => match std::fs::read_to_string(p)
            .map_err(|e| e.to_string())
            .and_then(|t| serde_json::from_str::<load::LoadResult>(&t).map_err(|e| e.to_string()))
        {
            Ok(b) => Some(b),
            Err(e) => {
                eprintln!("--baseline {}: {e}", p.display());
                return Exit::Config;
            }
        },
    };
    let limits = RunLimits {
        max_requests: a.requests,
        max_duration: a.duration,
    };
    let expected: Vec<u16> = if a.expect.is_empty() {
        (200..300).collect()
    } else {
        a.expect.clone()
    };
    let http = HttpClient::new(config.request_timeout, config.connect_timeout);
    // Build the work, and refuse non-loopback targets unless allowed.
    let (target, env, work, name) = if let Some(url) = &a.url {
        if !crate::config::is_loopback(url) && !a.allow_live {
            eprintln!(
                "load against {url} refused: not a loopback address; add --allow-live to load a real target"
            );
            return Exit::Config;
        }
        // The URL's path and query go exactly as given: the base is its origin alone.
        let base = url::Url::parse(&url.origin().ascii_serialization()).unwrap_or(url.clone());
        let target = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        };
        let work = scenarios::http(http.clone(), base, move || Req::get(target.clone()));
        (url.to_string(), None, work, "url".to_owned())
    } else {
        if config.kind() == crate::config::TargetKind::Live && !a.allow_live {
            eprintln!(
                "load against the live target refused: add --allow-live (and keep --requests/--duration small)"
            );
            return Exit::Config;
        }
        let env = match Env::build(config.clone()).await {
            Ok(e) => e,
            Err(e) => {
                eprintln!("{e}");
                return Exit::Config;
            }
        };
        let key = env.keys.primary.clone();
        let reg = env.registry_url().clone();
        let work = match a.scenario {
            LoadScenario::Health => scenarios::http(http.clone(), reg, || Req::get("/health")),
            LoadScenario::ProxiedRead => scenarios::http(http.clone(), reg, move || {
                Req::get("/api/mlflow/api/2.0/mlflow/experiments/search")
                    .query("max_results", "1")
                    .auth(Auth::Bearer(key.clone()))
            }),
            LoadScenario::ArtifactDownload => {
                let path = match scenarios::seed_artifact(&env).await {
                    Ok(p) => p,
                    Err(e) => {
                        eprintln!("cannot prepare the artifact to download: {e}");
                        return Exit::Failed;
                    }
                };
                scenarios::http(http.clone(), reg, move || {
                    Req::get(path.clone()).auth(Auth::Bearer(key.clone()))
                })
            }
            LoadScenario::Registration => scenarios::registration(env.clone()),
        };
        (
            format!("{} ({})", env.registry_url(), env.target_name()),
            Some(env),
            work,
            a.scenario.to_string(),
        )
    };
    let shape = match model {
        Model::Open { rate_per_s } => format!("open model, {rate_per_s} req/s"),
        Model::Closed { users, think_ms } => {
            format!("closed model, {users} users, {think_ms} ms think time")
        }
    };
    println!(
        "load `{name}` against {target}: at most {} requests in at most {:?} ({shape})",
        limits.max_requests, limits.max_duration
    );
    let sampler = load::ResourceSampler::start(std::time::Duration::from_millis(200));
    let window_start = std::time::SystemTime::now();
    let result = load::run_work(&name, model, limits, &expected, work).await;
    let usage = sampler.stop();
    print_ecs_utilisation(&config, window_start).await;
    drop(env);
    let l = &result.latency;
    println!(
        "requests {} ok {} ({:.2}% errors) in {:.2} s: {:.1} req/s",
        result.requests,
        result.ok,
        result.error_rate() * 100.0,
        result.duration_s,
        result.throughput_per_s
    );
    println!(
        "latency ms: p50 {:.2}  p90 {:.2}  p95 {:.2}  p99 {:.2}  p99.9 {:.2}  max {:.2}",
        l.p50_ms, l.p90_ms, l.p95_ms, l.p99_ms, l.p999_ms, l.max_ms
    );
    if let Some(s) = &result.service_time {
        println!(
            "service time (from actual send, uncorrected) ms: p50 {:.2}  p99 {:.2}  max {:.2}",
            s.p50_ms, s.p99_ms, s.max_ms
        );
    }
    if !result.errors.is_empty() || !result.unexpected_status.is_empty() {
        println!(
            "errors: {:?}  unexpected statuses: {:?}",
            result.errors, result.unexpected_status
        );
    }
    println!(
        "this process: CPU mean {:.0}% max {:.0}% of a core, peak RSS {:.0} MB",
        usage.cpu_mean_percent, usage.cpu_max_percent, usage.peak_rss_mb
    );
    let cmp = load::compare(&result, &thresholds, baseline.as_ref(), a.tolerance);
    for b in &cmp.breached {
        println!("THRESHOLD BREACHED: {b}");
    }
    for r in &cmp.regressions {
        println!("REGRESSION against the baseline: {r}");
    }
    if let Some(out) = &a.out {
        let doc = serde_json::to_string_pretty(&result).expect("json");
        if let Err(e) = std::fs::write(out, doc) {
            eprintln!("cannot write {}: {e}", out.display());
        }
    }
    let _ = load::record(&config.run_dir, &result);
    if result.requests > 0 && result.ok == 0 {
        println!(
            "EVERY REQUEST FAILED: {} requests, none answered as expected",
            result.requests
        );
        return Exit::Failed;
    }
    if cmp.ok() { Exit::Ok } else { Exit::Breached }
}

/// Live runs with AWS access: the ECS services' CPU and memory over the run's window.
pub async fn print_ecs_utilisation(config: &Config, start: std::time::SystemTime) {
    use crate::ecs::cloudwatch::CloudWatch;
    let Some(live) = config.live() else { return };
    let Some(region) = &live.aws.region else {
        println!("ECS utilisation: skipped (no AWS region)");
        return;
    };
    if !crate::ecs::credentials_available() && live.aws.endpoint_url.is_none() {
        println!("ECS utilisation: skipped (no AWS credentials)");
        return;
    }
    let cluster = live
        .aws
        .cluster
        .clone()
        .unwrap_or_else(|| config.profile.ecs.cluster.clone());
    let limits = crate::ecs::EcsTimeouts {
        request: config.request_timeout,
        connect: config.connect_timeout,
    };
    let cw = match CloudWatch::live(
        region,
        live.aws.endpoint_url.as_ref().map(url::Url::as_str),
        &cluster,
        limits,
    )
    .await
    {
        Ok(c) => c,
        Err(e) => {
            println!("ECS utilisation: skipped ({e})");
            return;
        }
    };
    // CloudWatch aggregates per minute: widen the window to whole minutes around the run.
    let (from, to) = (
        start - std::time::Duration::from_secs(60),
        std::time::SystemTime::now() + std::time::Duration::from_secs(60),
    );
    for service in &config.profile.ecs.services {
        match cw.utilisation(service, from, to).await {
            Ok(u) => println!(
                "ECS {service}: CPU max {} mean {}, memory max {} mean {} ({} datapoints)",
                fmt_pct(u.cpu_max),
                fmt_pct(u.cpu_mean),
                fmt_pct(u.memory_max),
                fmt_pct(u.memory_mean),
                u.datapoints
            ),
            Err(e) => println!("ECS {service}: utilisation not available: {e}"),
        }
    }
}

fn fmt_pct(v: Option<f64>) -> String {
    v.map_or("n/a".into(), |v| format!("{v:.1}%"))
}
