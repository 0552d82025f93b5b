//! `serve`, the exporter: the checks it runs create nothing, its metrics are bounded by the
//! catalogue and carry no secret, its alert rules hold under `promtool`, and a real
//! Prometheus scraping it sees a fault of the stand-in named and alerted, then cleared.

mod common;

use hokusai_verify::catalogue::Area;
use hokusai_verify::check::Effect;
use hokusai_verify::config::{Config, Profile};
use hokusai_verify::fixtures::Env;
use hokusai_verify::report::Report;
use hokusai_verify::serve::metrics::Metrics;
use hokusai_verify::standin::{StandIn, StandInOptions};
use rstest::rstest;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A key of the right shape that must never appear anywhere `serve` writes or serves.
const CANARY_KEY: &str = "hk_live_ServeCanaryServeCanaryServe01234";
/// The Redis password of the exporter's configuration, likewise.
const CANARY_PASSWORD: &str = "RedisPwCanary5f3c9a";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Lines of an OpenMetrics text that are samples (not `# HELP`, `# TYPE`, `# EOF`).
fn series(text: &str) -> usize {
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .count()
}

/// What the MLflow of a stand-in holds: experiments (deleted ones too), runs, registered
/// models and artifact bytes, read on its internal address.
async fn store(standin: &StandIn) -> Value {
    let http = reqwest::Client::new();
    let base = standin.mlflow_url();
    let call = |req: reqwest::RequestBuilder| async move {
        req.send().await.unwrap().json::<Value>().await.unwrap()
    };
    let api = |p: &str| base.join(&format!("api/2.0/mlflow/{p}")).unwrap();
    let experiments = call(
        http.post(api("experiments/search"))
            .json(&json!({"max_results": 1000, "view_type": "ALL"})),
    )
    .await;
    let ids: Vec<Value> = experiments["experiments"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|e| e["experiment_id"].clone())
        .collect();
    let runs = call(
        http.post(api("runs/search"))
            .json(&json!({"experiment_ids": ids, "max_results": 1000, "run_view_type": "ALL"})),
    )
    .await;
    let models = call(
        http.get(api("registered-models/search"))
            .query(&[("max_results", "1000")]),
    )
    .await;
    json!({
        "experiments": experiments.get("experiments"),
        "runs": runs.get("runs").map(|r| r.as_array().map_or(0, Vec::len)),
        "models": models.get("registered_models"),
        "artifact_bytes": standin.artifact_bytes(),
    })
}

/// The checks `serve` runs by default are those the catalogue declares `Reads`: run every
/// one of them against one stand-in, one after another, and its MLflow store (experiments,
/// runs, models, artifact bytes) is as it was. Also: `--with-writes` adds writes, never
/// load.
#[rstest]
#[case::profile_2025_08("hokusai-2025-08")]
#[case::profile_2026("hokusai-2026")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_checks_create_nothing(#[case] profile: &str) {
    let profile = Profile::load(profile).unwrap();
    let config = Config::standin(profile.clone());
    let reads = hokusai_verify::serve::plan(&config, false);
    let with_writes = hokusai_verify::serve::plan(&config, true);
    assert!(reads.iter().all(|s| s.effect == Effect::Reads));
    assert!(with_writes.iter().all(|s| s.effect != Effect::Load));
    assert!(
        with_writes.iter().any(|s| s.area == Area::RegistrationFlow),
        "--with-writes runs the registration flow"
    );
    for area in [Area::InfraHealth, Area::Authentication, Area::MlflowProxy] {
        assert!(reads.iter().any(|s| s.area == area), "{area:?}");
    }
    assert!(reads.iter().any(|s| s.id == "route_matrix"));

    let standin = StandIn::start(StandInOptions::new(profile))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let before = store(&standin).await;
    let env = Env::on_standin(config, standin).await;
    let results = common::run_in_sequence(&reads, env.clone()).await;
    let standin = env.standin().expect("the stand-in");
    let after = store(standin).await;
    assert_eq!(before, after, "a check declared Reads changed the store");
    // The run itself was a run: on a healthy stand-in every check passed or had nothing to
    // judge here.
    let bad: Vec<String> = results
        .iter()
        .filter(|r| r.outcome.is_bad())
        .map(|r| r.explain())
        .collect();
    assert!(bad.is_empty(), "{bad:#?}");
    // A check that writes is caught by this comparison: the registration flow's first check
    // changes the store.
    let writer = with_writes
        .iter()
        .find(|s| s.area == Area::RegistrationFlow)
        .unwrap();
    common::run_in_sequence(std::slice::from_ref(writer), env.clone()).await;
    assert_ne!(
        after,
        store(standin).await,
        "a check that writes leaves a trace this comparison sees (deleted experiments and runs stay listed)"
    );
}

/// Every series `/metrics` can hold exists from the start, and what a run records never adds
/// one: the count equals the bound computed from the plan and the catalogue, before and after
/// recording runs (one of them with a result outside the plan, a canary in its text).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_bounded_by_the_catalogue() {
    for name in ["hokusai-2025-08", "hokusai-2026"] {
        let config = Config::standin(Profile::load(name).unwrap());
        let specs = hokusai_verify::serve::plan(&config, false);
        let metrics = Metrics::new(&specs, Duration::from_secs(300));
        let empty = metrics.encode();
        assert!(empty.ends_with("# EOF\n"), "OpenMetrics ends with # EOF");
        assert_eq!(series(&empty), metrics.series_bound(), "{name}");

        let mut results = Vec::new();
        for id in ["mlflow_health", "mlflow_via_registry", "registry_health"] {
            results.push(
                common::run_under_faults(
                    name,
                    Area::InfraHealth,
                    id,
                    &[hokusai_verify::catalogue::Fault::MlflowDown],
                )
                .await,
            );
        }
        let mut stranger = results[0].clone();
        stranger.id = format!("not_in_the_plan[{CANARY_KEY}]");
        stranger.message = Some(format!("the platform said {CANARY_KEY}"));
        let mut with_stranger = results.clone();
        with_stranger.push(stranger);
        let report = Report::build(with_stranger, vec![]);
        assert!(report.causes.iter().any(|c| c.id == "mlflow-down"));
        metrics.record(
            &report,
            Duration::from_secs(3),
            std::time::SystemTime::now(),
        );
        metrics.record(
            &report,
            Duration::from_secs(3),
            std::time::SystemTime::now(),
        );
        let text = metrics.encode();
        assert_eq!(series(&text), metrics.series_bound(), "{name}");
        assert!(!text.contains(CANARY_KEY));
        assert!(text.contains("hokusai_cause_named_runs_in_row{cause=\"mlflow-down\""));
        let line = text
            .lines()
            .find(|l| l.starts_with("hokusai_cause_named_runs_in_row{cause=\"mlflow-down\""))
            .unwrap();
        assert!(line.ends_with(" 2"), "{line}");
        eprintln!(
            "{name}: {} checks, {} series, a scrape of {} bytes",
            specs.len(),
            series(&text),
            text.len()
        );
    }
}

/// The alert rules that ship with the exporter pass `promtool check rules` and their unit
/// tests (`deploy/prometheus/alerts.test.yml`).
#[test]
fn alert_rules_hold_under_promtool() {
    let Some(promtool) = tool("promtool") else {
        return;
    };
    let dir = root().join("deploy/prometheus");
    for args in [
        vec!["check", "rules", "alerts.yml"],
        vec!["test", "rules", "alerts.test.yml"],
    ] {
        let out = Command::new(&promtool)
            .args(&args)
            .current_dir(&dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "promtool {}: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// A program on PATH, or (outside CI only) `None` with the reason printed; in CI a missing
/// one fails the test (`.ci/run` installs Debian's `prometheus`, which has both).
fn tool(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{name} is not installed: .ci/run installs Debian's prometheus package"
        );
        eprintln!(
            "skipped: {name} is not installed (Debian: apt-get install prometheus); CI installs it"
        );
    }
    found
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A child process killed (and reaped) when dropped, its output in files.
struct Proc {
    child: Child,
    name: &'static str,
    out: PathBuf,
}

impl Proc {
    fn spawn(name: &'static str, dir: &Path, cmd: &mut Command) -> Self {
        let out = dir.join(format!("{name}-{}.log", fastrand::u32(..)));
        let file = std::fs::File::create(&out).unwrap();
        let child = cmd
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        Self { child, name, out }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }

    /// SIGTERM, then waits (at most 20 s) for it to end; its exit status.
    fn stop(&mut self) -> Option<std::process::ExitStatus> {
        // SAFETY: signalling our own child by its pid.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let until = Instant::now() + Duration::from_secs(20);
        while Instant::now() < until {
            if let Ok(Some(s)) = self.child.try_wait() {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        None
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Waits until `ready` says yes (polled every 200 ms), at most `limit`; panics naming
/// `what` and the logs otherwise. Returns how long it took.
async fn until<F, Fut>(what: &str, limit: Duration, logs: &[&Proc], mut ready: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while start.elapsed() < limit {
        if ready().await {
            return start.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let logs: Vec<String> = logs
        .iter()
        .map(|p| {
            let log = p.log();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            format!(
                "--- {} ---\n{}",
                p.name,
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            )
        })
        .collect();
    panic!("{what}: not within {limit:?}\n{}", logs.join("\n"));
}

/// The stand-in server on fixed ports, optionally with a fault.
fn standin(dir: &Path, ports: [u16; 4], redis: &str, fault: Option<&str>) -> Proc {
    let bin = env!("CARGO_BIN_EXE_hokusai-verify");
    let mut cmd = Command::new(bin);
    cmd.arg("standin")
        .args(["--registry-port", &ports[0].to_string()])
        .args(["--auth-port", &ports[1].to_string()])
        .args(["--mlflow-port", &ports[2].to_string()])
        .args(["--ecs-port", &ports[3].to_string()])
        .args(["--timing", "fast", "--redis-url", redis])
        .env("HOKUSAI_API_KEY", CANARY_KEY)
        .env("HOKUSAI_PROFILE", "hokusai-2025-08");
    if let Some(f) = fault {
        cmd.args(["--fault", f]);
    }
    Proc::spawn("standin", dir, &mut cmd)
}

async fn get(url: &str) -> Option<(u16, String)> {
    let r = reqwest::Client::new()
        .get(url)
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .ok()?;
    let status = r.status().as_u16();
    Some((status, r.text().await.ok()?))
}

/// Prometheus's value of an instant query (the first sample), if any.
async fn query(prom: &str, q: &str) -> Option<f64> {
    let url = format!(
        "{prom}/api/v1/query?query={}",
        url::form_urlencoded::byte_serialize(q.as_bytes()).collect::<String>()
    );
    let (_, body) = get(&url).await?;
    let v: Value = serde_json::from_str(&body).ok()?;
    v["data"]["result"][0]["value"][1].as_str()?.parse().ok()
}

/// Whether Prometheus has the alert firing with these labels.
async fn firing(prom: &str, alert: &str, label: (&str, &str)) -> bool {
    let Some((_, body)) = get(&format!("{prom}/api/v1/alerts")).await else {
        return false;
    };
    let v: Value = serde_json::from_str(&body).unwrap_or_default();
    v["data"]["alerts"].as_array().is_some_and(|all| {
        all.iter().any(|a| {
            a["labels"]["alertname"] == alert
                && a["labels"][label.0] == label.1
                && a["state"] == "firing"
        })
    })
}

/// The whole loop with a real Prometheus: `serve` (live mode, a one-second interval)
/// against `hokusai-verify standin`, Prometheus scraping it every second with the shipped
/// rules. A fault switched on in the stand-in (a restart with `--fault mlflow-down`) is named
/// in Prometheus and its alert fires; switched off, both clear. Meanwhile neither the key
/// nor the Redis password of the configuration shows in `/metrics`, `/`, `/report.json`,
/// the run folders or the exporter's output; SIGTERM ends it cleanly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_sees_a_fault_named_and_cleared() {
    let (Some(prometheus), Some(redis_server)) = (tool("prometheus"), tool("redis-server")) else {
        return;
    };
    let dir = tempdir();
    // A Redis of its own, with a password: the configuration carries a secret in a URL.
    let redis_port = free_port();
    let redis = Proc::spawn(
        "redis",
        &dir,
        Command::new(redis_server)
            .args(["--port", &redis_port.to_string(), "--bind", "127.0.0.1"])
            .args(["--requirepass", CANARY_PASSWORD])
            .args(["--save", "", "--appendonly", "no"]),
    );
    let redis_url = format!("redis://:{CANARY_PASSWORD}@127.0.0.1:{redis_port}/0");
    until(
        "the Redis accepts connections",
        Duration::from_secs(20),
        &[&redis],
        || async move {
            tokio::net::TcpStream::connect(("127.0.0.1", redis_port))
                .await
                .is_ok()
        },
    )
    .await;
    let ports = [free_port(), free_port(), free_port(), free_port()];
    let mut platform = standin(&dir, ports, &redis_url, None);
    let registry = format!("http://127.0.0.1:{}", ports[0]);
    let health = format!("{registry}/health");
    until(
        "the stand-in server answers",
        Duration::from_secs(30),
        &[&platform, &redis],
        || {
            let u = health.clone();
            async move { get(&u).await.is_some_and(|(s, _)| s == 200) }
        },
    )
    .await;

    let listen = format!("127.0.0.1:{}", free_port());
    let run_dir = dir.join("run");
    let bin = env!("CARGO_BIN_EXE_hokusai-verify");
    let mut exporter = Proc::spawn(
        "serve",
        &dir,
        Command::new(bin)
            .args([
                "serve",
                "--listen",
                &listen,
                "--interval",
                "1s",
                "--keep-runs",
                "3",
            ])
            .env("HOKUSAI_TARGET", "live")
            .env("HOKUSAI_PROFILE", "hokusai-2025-08")
            .env("HOKUSAI_REGISTRY_URL", &registry)
            .env("HOKUSAI_AUTH_URL", format!("http://127.0.0.1:{}", ports[1]))
            .env("HOKUSAI_API_KEY", CANARY_KEY)
            .env("HOKUSAI_REDIS_URL", &redis_url)
            .env("HOKUSAI_RUN_DIR", &run_dir)
            .env("AWS_EC2_METADATA_DISABLED", "true"),
    );
    let exporter_url = format!("http://{listen}");

    let prom_port = free_port();
    let prom_url = format!("http://127.0.0.1:{prom_port}");
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - {}\nscrape_configs:\n  - job_name: hokusai-verify\n    static_configs:\n      - targets: ['{listen}']\n",
            root().join("deploy/prometheus/alerts.yml").display()
        ),
    )
    .unwrap();
    let prom = Proc::spawn(
        "prometheus",
        &dir,
        Command::new(prometheus)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("tsdb").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{prom_port}")),
    );

    // Healthy first: the gate passes and no cause is named.
    until(
        "Prometheus sees a healthy run",
        Duration::from_secs(90),
        &[&exporter, &prom, &platform],
        || {
            has(
                &prom_url,
                "hokusai_last_run_verdict{verdict=\"healthy\"} == 1",
            )
        },
    )
    .await;
    assert!(!firing(&prom_url, "HokusaiRootCause", ("cause", "mlflow-down")).await);

    // The fault on: named, and alerted after two runs in a row.
    platform.stop();
    let mut platform = standin(&dir, ports, &redis_url, Some("mlflow-down"));
    let named = until(
        "Prometheus sees mlflow-down named",
        Duration::from_secs(90),
        &[&exporter, &prom, &platform],
        || has(&prom_url, "hokusai_cause_named{cause=\"mlflow-down\"} == 1"),
    )
    .await;
    let fired = named
        + until(
            "the alert fires",
            Duration::from_secs(90),
            &[&exporter, &prom, &platform],
            || is_firing(&prom_url, "mlflow-down"),
        )
        .await;

    // The fault off: both clear.
    platform.stop();
    let platform = standin(&dir, ports, &redis_url, None);
    let cleared = until(
        "the cause and the alert clear",
        Duration::from_secs(90),
        &[&exporter, &prom, &platform],
        || {
            let p = prom_url.clone();
            async move {
                query(&p, "hokusai_cause_named{cause=\"mlflow-down\"} == 0")
                    .await
                    .is_some()
                    && !firing(&p, "HokusaiRootCause", ("cause", "mlflow-down")).await
            }
        },
    )
    .await;

    // No secret anywhere the exporter serves or writes.
    let metrics = get(&format!("{exporter_url}/metrics")).await.unwrap().1;
    let mut seen = vec![
        ("/metrics", metrics.clone()),
        ("/", get(&format!("{exporter_url}/")).await.unwrap().1),
        (
            "/report.json",
            get(&format!("{exporter_url}/report.json")).await.unwrap().1,
        ),
        (
            "/healthz",
            get(&format!("{exporter_url}/healthz")).await.unwrap().1,
        ),
    ];
    for f in walk(&run_dir) {
        seen.push((
            "run folder",
            std::fs::read_to_string(&f).unwrap_or_default(),
        ));
    }
    let status = exporter.stop();
    seen.push(("serve's output", exporter.log()));
    for (where_, text) in &seen {
        for secret in [CANARY_KEY, CANARY_PASSWORD] {
            assert!(!text.contains(secret), "a secret in {where_}");
        }
    }
    assert!(
        status.is_some_and(|s| s.success()),
        "serve ends cleanly on SIGTERM: {status:?}\n{}",
        exporter.log()
    );
    let runs = std::fs::read_dir(run_dir.join("serve")).unwrap().count();
    assert!(runs <= 3, "older runs are pruned: {runs} kept");
    eprintln!(
        "figures: {} series, a scrape of {} bytes; mlflow-down named {:.1} s and alerted {:.1} s after the fault, cleared {:.1} s after it ended",
        series(&metrics),
        metrics.len(),
        named.as_secs_f64(),
        fired.as_secs_f64(),
        cleared.as_secs_f64()
    );
    drop(platform);
    drop(prom);
    drop(redis);
    let _ = std::fs::remove_dir_all(&dir);
}

fn tempdir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("hv-monitoring-{}", fastrand::u64(..)));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.filter_map(Result::ok) {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// A query that has a sample now.
fn has(prom: &str, q: &'static str) -> impl std::future::Future<Output = bool> + use<> {
    let p = prom.to_owned();
    async move { query(&p, q).await.is_some() }
}

/// The root-cause alert firing for `cause`.
fn is_firing(prom: &str, cause: &'static str) -> impl std::future::Future<Output = bool> + use<> {
    let p = prom.to_owned();
    async move { firing(&p, "HokusaiRootCause", ("cause", cause)).await }
}

/// The HTTP side before any run: `/metrics` already lists every series (at 0), `/` and
/// `/report.json` say no run completed (503), `/healthz` is up; other paths are 404, other
/// methods 405.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_exporter_answers_before_its_first_run() {
    let config = Config::standin(Profile::default_profile());
    let specs = hokusai_verify::serve::plan(&config, false);
    let state = std::sync::Arc::new(hokusai_verify::serve::State::new(
        &specs,
        Duration::from_secs(60),
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(hokusai_verify::serve::http::serve(listener, state.clone()));
    let client = reqwest::Client::new();
    let metrics = client.get(format!("{base}/metrics")).send().await.unwrap();
    assert_eq!(metrics.status(), 200);
    assert_eq!(
        metrics.headers()["content-type"],
        hokusai_verify::serve::metrics::CONTENT_TYPE
    );
    let text = metrics.text().await.unwrap();
    assert_eq!(series(&text), state.metrics.series_bound());
    assert!(text.contains("hokusai_last_run_timestamp_seconds 0"));
    for path in ["/", "/report.json"] {
        let r = client.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(r.status(), 503, "{path}");
    }
    let health: Value = client
        .get(format!("{base}/healthz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["runs_completed"], 0);
    let r = client.get(format!("{base}/nope")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let r = client.post(format!("{base}/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 405);
    server.abort();
}
