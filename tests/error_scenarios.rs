//! Checklist area 5: error scenarios on the platform, and the suite itself under bad
//! conditions (a dead, black-holed or garbage-speaking target, Redis missing). Rerun alone
//! with `cargo test --test error_scenarios`. Bounds measured here are in docs/robustness.md.

mod common;

use common::target;
use hokusai_verify::catalogue::Area;
use hokusai_verify::fixtures::Env;
use std::sync::Arc;

use hokusai_verify::http::{HttpClient, HttpErrorKind, Req};
use hokusai_verify::standin::{Breakage, Fault};
use rstest::rstest;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Command;
use std::time::{Duration, Instant};

#[rstest]
#[case::malformed_root("bad_key_on_route[malformed:key-protected]")]
#[case::malformed_read("bad_key_on_route[malformed:proxy-read]")]
#[case::malformed_write("bad_key_on_route[malformed:proxy-write]")]
#[case::malformed_artifact("bad_key_on_route[malformed:artifact]")]
#[case::expired_root("bad_key_on_route[expired:key-protected]")]
#[case::expired_read("bad_key_on_route[expired:proxy-read]")]
#[case::expired_write("bad_key_on_route[expired:proxy-write]")]
#[case::expired_artifact("bad_key_on_route[expired:artifact]")]
#[case::revoked_root("bad_key_on_route[revoked:key-protected]")]
#[case::revoked_read("bad_key_on_route[revoked:proxy-read]")]
#[case::revoked_write("bad_key_on_route[revoked:proxy-write]")]
#[case::revoked_artifact("bad_key_on_route[revoked:artifact]")]
#[case::upstream_timeout("upstream_timeout_is_504")]
#[case::slow_request_blocks_nothing("slow_request_blocks_nothing")]
#[case::large_50("large_artifact[50MB]")]
#[case::large_200("large_artifact[200MB]")]
#[case::concurrent_versions("concurrent_versions")]
#[case::create_race("concurrent_create_race")]
#[case::truncated("malformed_json[truncated]")]
#[case::wrong_types("malformed_json[wrong-types]")]
#[case::json_array("malformed_json[json-array]")]
#[case::empty_body("malformed_json[empty-body]")]
#[case::wrong_content_type("malformed_json[wrong-content-type]")]
#[case::ten_mb("malformed_json[10mb-document]")]
#[tokio::test]
async fn error_scenarios(#[future] target: Arc<Env>, #[case] id: &str) {
    common::run_check_on(target.await, Area::ErrorScenarios, id).await;
}

#[rstest]
#[case::bad_key_alb("bad_key_on_route[malformed:key-protected]", Fault::TargetUnhealthy)]
#[case::bad_key_misrouted("bad_key_on_route[expired:proxy-read]", Fault::MlflowRouteToMlflow)]
#[case::bad_key_auth_down("bad_key_on_route[revoked:proxy-write]", Fault::AuthDown)]
#[case::large_no_artifacts("large_artifact[50MB]", Fault::ArtifactsDisabled)]
#[case::versions_mlflow_down("concurrent_versions", Fault::MlflowDown)]
#[case::race_mlflow_down("concurrent_create_race", Fault::MlflowDown)]
#[case::malformed_mlflow_down("malformed_json[truncated]", Fault::MlflowDown)]
#[case::json_array_mlflow_down("malformed_json[json-array]", Fault::MlflowDown)]
#[tokio::test]
async fn caught_by_fault(#[case] id: &str, #[case] fault: Fault) {
    let r = common::run_under_faults("hokusai-2025-08", Area::ErrorScenarios, id, &[fault]).await;
    common::assert_caught(&r, &[fault]);
}

#[rstest]
#[case::timeout_as_500("upstream_timeout_is_504", Breakage::UpstreamTimeoutAs500)]
#[case::duplicate_versions("concurrent_versions", Breakage::DuplicateVersions)]
#[case::head_of_line("slow_request_blocks_nothing", Breakage::ApiBlocksWhileServing)]
#[tokio::test]
async fn caught_by_breakage(#[case] id: &str, #[case] breakage: Breakage) {
    let r = common::run_with_breakage("hokusai-2025-08", Area::ErrorScenarios, id, breakage).await;
    common::assert_caught(&r, &[breakage]);
}

#[test]
fn every_check_has_a_case_and_a_fault() {
    let source = include_str!("error_scenarios.rs");
    common::assert_every_check_has_a_case(Area::ErrorScenarios, source);
    common::assert_every_check_has_a_fault_case(Area::ErrorScenarios, source);
}

// ---- the suite under bad conditions ----

/// A server that accepts connections and never answers (its accept queue holds them).
fn black_hole() -> (TcpListener, u16) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    (l, port)
}

/// A server that answers every connection with bytes that are not HTTP.
fn garbage_server() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in l.incoming().flatten().take(10_000) {
            let mut s = stream;
            let mut buf = [0u8; 1024];
            let _ = s.set_read_timeout(Some(Duration::from_millis(200)));
            let _ = s.read(&mut buf);
            let _ = s.write_all(b"\x00\x01garbage, not HTTP\r\n\r\n");
        }
    });
    port
}

/// A server that reads a request and hands `answer` the stream and the request's first line;
/// one thread per connection, so a slow answer does not hold the others.
fn scripted_server(answer: fn(&mut std::net::TcpStream, &str)) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in l.incoming().flatten().take(10_000) {
            std::thread::spawn(move || {
                let mut s = stream;
                let mut buf = [0u8; 8192];
                let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
                let n = s.read(&mut buf).unwrap_or(0);
                let head = String::from_utf8_lossy(&buf[..n]).to_string();
                let first = head.lines().next().unwrap_or("").to_owned();
                answer(&mut s, &first);
            });
        }
    });
    port
}

/// Headers at once, then a body of 100 kB at one byte per second (at most a minute).
fn drip_server() -> u16 {
    scripted_server(|s, _| {
        let _ = s.write_all(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{",
        );
        for _ in 0..60 {
            std::thread::sleep(Duration::from_secs(1));
            if s.write_all(b" ").is_err() {
                return;
            }
        }
    })
}

/// `GET /health` never answers (its dependency probe blocks, as seen on a real registry);
/// every other route answers at once with the contract's 401.
fn slow_health_server() -> u16 {
    scripted_server(|s, first| {
        if first.starts_with("GET /health ") {
            std::thread::sleep(Duration::from_secs(60));
            return;
        }
        let body = br#"{"detail":"API key required"}"#;
        let _ = s.write_all(
            format!(
                "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            )
            .as_bytes(),
        );
        let _ = s.write_all(body);
    })
}

fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The key the live runs use; it must appear in no output.
const CANARY_KEY: &str = "hk_live_CanaryCanaryCanaryCanary01234567";

/// The run budget the misbehaving targets are verified with.
const RUN_BUDGET_S: u64 = 20;

/// A misbehaving target's run: checks fail (exit 1) within the run budget (plus the
/// preflight and the report), without a panic or the key in the output.
fn assert_ended_in_bounds(kind: &str, code: i32, out: &str, secs: f64) {
    eprintln!("{kind}: exit {code} after {secs:.1} s");
    for l in out.lines().filter(|l| l.trim_start().starts_with("cause:")) {
        eprintln!("{kind}: {}", l.trim());
    }
    assert_eq!(code, 1, "checks fail (exit 1):\n{out}");
    assert!(secs < RUN_BUDGET_S as f64 + 10.0, "took {secs:.1} s");
    assert!(!out.contains("panicked"), "a panic:\n{out}");
    assert!(!out.contains("CanaryCanary"), "the key leaked:\n{out}");
}

/// Runs `hokusai-verify verify` against a live target at `url`; returns (exit code, output, seconds).
fn verify_live(url: &str, run_dir: &std::path::Path) -> (i32, String, f64) {
    verify_live_with(
        url,
        url,
        run_dir,
        &[
            ("HOKUSAI_TIMEOUT_MS", "3000"),
            ("HOKUSAI_CONNECT_TIMEOUT_MS", "1000"),
        ],
    )
}

/// [`verify_live`] with the auth host apart and more variables.
fn verify_live_with(
    url: &str,
    auth_url: &str,
    run_dir: &std::path::Path,
    vars: &[(&str, &str)],
) -> (i32, String, f64) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hokusai-verify"));
    for (k, _) in std::env::vars() {
        if k.starts_with("HOKUSAI_") || k.starts_with("AWS_") || k == "REDIS_URL" {
            cmd.env_remove(k);
        }
    }
    cmd.args(["verify"])
        .env("HOKUSAI_ENV_FILE", "/nonexistent/.env")
        .env("HOKUSAI_TARGET", "live")
        .env("HOKUSAI_REGISTRY_URL", url)
        .env("HOKUSAI_AUTH_URL", auth_url)
        .env("HOKUSAI_API_KEY", CANARY_KEY)
        .env("HOKUSAI_RUN_BUDGET_S", RUN_BUDGET_S.to_string())
        .env("HOKUSAI_RUN_DIR", run_dir)
        .envs(vars.iter().copied());
    let t = Instant::now();
    let out = cmd.output().expect("the binary runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (
        out.status.code().unwrap_or(-1),
        text,
        t.elapsed().as_secs_f64(),
    )
}

/// A target that is down, black-holed, or speaks garbage: the whole suite ends in bounded
/// time, every check failing as unreachable / timeout / unexpected response, no panic, a
/// report written, and the canary key nowhere in the output.
#[rstest]
#[case::refused("refused")]
#[case::black_hole("black-hole")]
#[case::garbage("garbage")]
#[case::drip("drip")]
#[case::slow_health("slow-health")]
#[case::tls("tls")]
fn a_bad_target_ends_in_bounded_time_with_clear_failures(#[case] kind: &str) {
    let (_hold, port) = match kind {
        "refused" => (None, closed_port()),
        "black-hole" => {
            let (l, p) = black_hole();
            (Some(l), p)
        }
        "drip" => (None, drip_server()),
        "slow-health" => (None, slow_health_server()),
        // https:// to a port that speaks plain HTTP: the TLS handshake breaks.
        "tls" => (
            None,
            scripted_server(|s, _| {
                let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
            }),
        ),
        _ => (None, garbage_server()),
    };
    let scheme = if kind == "tls" { "https" } else { "http" };
    let dir = std::env::temp_dir().join(format!(
        "hokusai-verify-badtarget-{kind}-{}",
        fastrand::u64(..)
    ));
    let (code, out, secs) = verify_live(&format!("{scheme}://127.0.0.1:{port}"), &dir);
    assert_ended_in_bounds(kind, code, &out, secs);
    // One line per planned check; a check the runner ran again alone prints a second one.
    let check_lines: Vec<&str> = out
        .lines()
        .filter(|l| !l.contains("(again, alone)"))
        .filter(|l| {
            l.starts_with("ok ")
                || l.starts_with("FAIL")
                || l.starts_with("ERR")
                || l.starts_with("BLKD")
                || l.starts_with("n/a ")
                || l.starts_with("skip")
        })
        .collect();
    // A result for every check of the plan.
    let planned = common::planned_checks(&out);
    assert_eq!(check_lines.len(), planned, "{out}");
    assert!(
        kind == "slow-health" || !check_lines.iter().any(|l| l.starts_with("ok ")),
        "a check passed against a dead target:\n{out}"
    );
    let want = match kind {
        "refused" => "connection refused",
        "black-hole" => "timeout",
        "drip" => "(slow-route)",
        // A slow route is not a dead host: the health route is named, the host is not.
        "slow-health" => "(slow-route)",
        "tls" => "TLS handshake failed",
        _ => "",
    };
    assert!(out.contains(want), "{out}");
    if kind == "slow-health" {
        assert!(!out.contains("(unreachable)"), "{out}");
        // Its server answers every connection on a thread of its own: one slow route is
        // not an API that blocks while it serves.
        assert!(!out.contains("(api-blocks-while-serving)"), "{out}");
    }
    assert!(dir.join("report.md").exists());
    let _ = std::fs::remove_dir_all(dir);
}

/// A slow route is not a dead host: after `/health` times out on a host that answers other
/// routes, those routes still get their answers, and `/health` only gets a short budget.
#[tokio::test]
async fn a_slow_route_is_not_a_dead_host() {
    let port = slow_health_server();
    let base = url::Url::parse(&format!("http://127.0.0.1:{port}")).unwrap();
    let client = HttpClient::new(Duration::from_secs(3), Duration::from_secs(1));
    assert_eq!(
        client.send(&base, Req::get("/live")).await.unwrap().status,
        401
    );
    let err = client.send(&base, Req::get("/health")).await.unwrap_err();
    assert!(
        err.kind == HttpErrorKind::Timeout && err.slow_route,
        "{err}"
    );
    assert_eq!(err.route(), "GET /health");
    // The host is not written off.
    assert_eq!(
        client.send(&base, Req::get("/live")).await.unwrap().status,
        401
    );
    let t = Instant::now();
    let again = client.send(&base, Req::get("/health")).await.unwrap_err();
    assert!(
        again.slow_route && again.message.contains("already timed out"),
        "{again}"
    );
    assert!(
        t.elapsed() < hokusai_verify::http::SLOW_ROUTE_BUDGET + Duration::from_millis(500),
        "{:?}",
        t.elapsed()
    );
}

/// After a 500 a server closes the kept-alive connection without saying so, as a real
/// deployment did: the next (idempotent) request, sent on that connection, is retried once
/// on a fresh one, and the retry is in the evidence (a POST is never repeated: only
/// GET, HEAD, PUT, DELETE and OPTIONS are).
#[tokio::test]
async fn a_closed_keep_alive_connection_is_retried_once_when_idempotent() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static CONNECTIONS: AtomicUsize = AtomicUsize::new(0);
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in l.incoming().flatten().take(100) {
            let n = CONNECTIONS.fetch_add(1, Ordering::SeqCst);
            std::thread::spawn(move || {
                let mut s = stream;
                let mut buf = [0u8; 4096];
                let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                // First connection: a 500 that keeps the connection open, then the next
                // request is read and the connection dropped without an answer.
                let _ = s.read(&mut buf);
                if n == 0 {
                    let _ = s.write_all(
                        b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
                    );
                    let _ = s.read(&mut buf);
                    return;
                }
                let _ = s.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
                );
            });
        }
    });
    let base = url::Url::parse(&format!("http://127.0.0.1:{port}")).unwrap();
    let client = HttpClient::new(Duration::from_secs(3), Duration::from_secs(1));
    let first = client.send(&base, Req::get("/a")).await.unwrap();
    assert_eq!(first.status, 500);
    assert!(first.retried.is_none());
    let second = client.send(&base, Req::get("/b")).await.unwrap();
    assert_eq!(second.status, 200);
    let why = second.retried.clone().expect("the retry is recorded");
    assert!(why.to_lowercase().contains("connection"), "{why}");
    let ev = hokusai_verify::check::Evidence::answered("registry", &second);
    assert_eq!(ev.retried.as_deref(), Some(why.as_str()));
}

/// The client classifies a slow answer as a timeout, within its budget, and a closed port
/// as connection refused, at once.
#[tokio::test]
async fn client_timeouts_are_classified_and_bounded() {
    let env = hokusai_verify::fixtures::Env::standin_with(
        hokusai_verify::config::Profile::default_profile(),
        &[Fault::SlowRegistry],
    )
    .await;
    let client = HttpClient::new(Duration::from_millis(300), Duration::from_millis(300));
    let t = Instant::now();
    let err = client
        .send(env.registry_url(), Req::get("/health"))
        .await
        .unwrap_err();
    assert_eq!(err.kind, HttpErrorKind::Timeout, "{err}");
    assert!(
        t.elapsed() < Duration::from_millis(800),
        "{:?}",
        t.elapsed()
    );
    // The host is now known dead for this client: the next request fails at once.
    let t = Instant::now();
    let again = client
        .send(env.registry_url(), Req::get("/health"))
        .await
        .unwrap_err();
    assert_eq!(again.kind, HttpErrorKind::Timeout);
    assert!(
        t.elapsed() < Duration::from_millis(50) && again.message.contains("not sent"),
        "{again}"
    );

    let closed = url::Url::parse(&format!("http://127.0.0.1:{}", closed_port())).unwrap();
    let t = Instant::now();
    let err = client.send(&closed, Req::get("/health")).await.unwrap_err();
    assert_eq!(err.kind, HttpErrorKind::Refused, "{err}");
    assert!(t.elapsed() < Duration::from_millis(300));
}

/// Stand-in mode without Redis: a clear message how to start one, exit 2, nothing sent.
#[test]
fn missing_redis_says_how_to_start_one() {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hokusai-verify"));
    for (k, _) in std::env::vars() {
        if k.starts_with("HOKUSAI_") || k == "REDIS_URL" {
            cmd.env_remove(k);
        }
    }
    let out = cmd
        .args(["verify"])
        .env("HOKUSAI_ENV_FILE", "/nonexistent/.env")
        .env(
            "HOKUSAI_REDIS_URL",
            format!("redis://127.0.0.1:{}", closed_port()),
        )
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("redis-server --daemonize yes"), "{text}");
}

/// ECS calls are bounded like every request: the suite's timeouts, classified failures,
/// and after a timeout the ECS API is not called again in the run.
#[tokio::test]
async fn ecs_calls_use_the_timeouts_and_remember_a_dead_endpoint() {
    let (_hold, port) = black_hole();
    let ecs = hokusai_verify::ecs::EcsClient::for_endpoint(
        &format!("http://127.0.0.1:{port}"),
        "us-east-1",
        "hokusai-development",
        hokusai_verify::ecs::EcsTimeouts {
            request: Duration::from_millis(600),
            connect: Duration::from_millis(300),
        },
    )
    .await;
    let t = Instant::now();
    let err = ecs.describe("hokusai-api-development").await.unwrap_err();
    assert_eq!(err.class, "timeout", "{err}");
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    let t = Instant::now();
    let again = ecs.describe("hokusai-auth-development").await.unwrap_err();
    assert!(again.message.contains("not sent"), "{again}");
    assert!(t.elapsed() < Duration::from_millis(50), "{:?}", t.elapsed());
}

/// A platform that answers, but badly: the whole suite still ends within the run budget with
/// a result for every check, and the report names the right cause.
/// - `auth-6s`: the auth service answers after 6 s (the API's limit is 5 s), with the
///   default request timeout of 10 s: once seen ended a real run after 6 min.
/// - `closes-after-answer`: every connection is closed after one answer without a
///   `Connection: close` (as a real server did after a 500), on a platform whose MLflow is
///   down (every proxied call a 5xx): the pooled connections die under the next request.
///   The cause named stays `mlflow-down`.
#[rstest]
#[case::auth_6s("auth-6s")]
#[case::closes_after_answer("closes-after-answer")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_misbehaving_platform_ends_in_bounded_time_naming_the_cause(#[case] kind: &str) {
    use hokusai_verify::catalogue::KeyRole;
    use hokusai_verify::config::Profile;
    use hokusai_verify::secret::ApiKey;
    use hokusai_verify::standin::{StandIn, StandInOptions, Timing};
    let profile = Profile::load("hokusai-2025-08").unwrap();
    let fault = match kind {
        "auth-6s" => Fault::AuthSlow,
        _ => Fault::MlflowDown,
    };
    let mut opts = StandInOptions::new(profile.clone()).fault(fault);
    opts.keys
        .insert(KeyRole::Valid, ApiKey::parse(CANARY_KEY).unwrap());
    opts.namespace = Some(String::new());
    // The contract's auth timeout (5 s; the slow auth service answers after 6 s), a short
    // upstream limit.
    opts.timing = Timing {
        auth_timeout: Timing::from_profile(&profile).auth_timeout,
        ..Timing::fast(&profile)
    };
    let standin = StandIn::start(opts).await.expect("the stand-in starts");
    let registry = standin.registry_url().to_string();
    let auth = standin.auth_url().to_string();
    let registry = if kind == "closes-after-answer" {
        let port = closing_proxy(standin.registry_url().port().unwrap());
        format!("http://127.0.0.1:{port}")
    } else {
        registry
    };
    let dir = std::env::temp_dir().join(format!(
        "hokusai-verify-badplatform-{kind}-{}",
        fastrand::u64(..)
    ));
    // Whether a request meets a pooled connection the host closed under it is a race: the
    // closing host is run at most five times, until one run met one (a run that never does
    // has nothing to retry; five that never do mean the retry is not recorded).
    let attempts = if kind == "closes-after-answer" { 5 } else { 1 };
    let (mut code, mut out, mut secs, mut report) =
        (0, String::new(), 0.0, serde_json::Value::Null);
    for _ in 0..attempts {
        let (d, registry, auth) = (dir.clone(), registry.clone(), auth.clone());
        (code, out, secs) = tokio::task::spawn_blocking(move || {
            verify_live_with(
                &registry,
                &auth,
                &d,
                &[("HOKUSAI_PROFILE", "hokusai-2025-08")],
            )
        })
        .await
        .unwrap();
        report = serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap())
            .unwrap();
        if report.to_string().contains("\"retried\"") {
            break;
        }
    }
    assert_ended_in_bounds(kind, code, &out, secs);
    let causes: Vec<&str> = report["causes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["id"].as_str())
        .collect();
    let want = fault.id();
    assert!(
        causes.contains(&want),
        "{want} not named: {causes:?}\n{out}"
    );
    assert!(
        !causes.contains(&"unreachable"),
        "a platform that answers was called unreachable: {causes:?}"
    );
    assert_eq!(
        report["checks"].as_array().unwrap().len(),
        common::planned_checks(&out),
        "a result for every planned check"
    );
    if kind == "closes-after-answer" {
        // Idempotent requests that met a dead pooled connection were retried (recorded).
        // A POST is never repeated: only those already in flight when the host first closed
        // a connection under a request (at most one per concurrent check, 4) may be lost;
        // after that the host's POSTs go out on connections of their own.
        assert!(
            report.to_string().contains("\"retried\""),
            "no retry recorded"
        );
        let lost: Vec<&serde_json::Value> = report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| {
                let said = format!("{} {}", c["actual"], c["message"]);
                said.contains("connection closed") || said.contains("reset")
            })
            .collect();
        assert!(lost.len() <= 4, "{} findings lost: {lost:?}", lost.len());
        // The request lost is the one whose evidence carries the error: a POST (a route
        // matrix column names its cell in the message, not at its start).
        for c in lost {
            let errors: Vec<&str> = c["evidence"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|e| e["error"].as_str())
                .collect();
            let posts = |s: &str| s.contains(": POST ") || s.starts_with("POST ");
            assert!(
                c["message"].as_str().is_some_and(posts) && errors.iter().all(|e| posts(e)),
                "an idempotent request lost to a closed connection: {c}"
            );
        }
    }
    drop(standin);
    let _ = std::fs::remove_dir_all(dir);
}

/// A TCP proxy to `upstream` that passes one request and its answer per connection, then
/// closes the connection without having said so (no `Connection: close`).
fn closing_proxy(upstream: u16) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for client in l.incoming().flatten().take(100_000) {
            std::thread::spawn(move || {
                let Ok(mut up) = std::net::TcpStream::connect(("127.0.0.1", upstream)) else {
                    return;
                };
                let mut client_w = client.try_clone().unwrap();
                let mut up_r = up.try_clone().unwrap();
                // Client to upstream until the client stops sending or the answer is over.
                let mut client_r = client;
                let forward = std::thread::spawn(move || {
                    let _ = std::io::copy(&mut client_r, &mut up);
                });
                // Upstream to client: the head, then as many body bytes as it announces.
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    match up_r.read(&mut byte) {
                        Ok(1) => head.push(byte[0]),
                        _ => return,
                    }
                }
                let text = String::from_utf8_lossy(&head).to_ascii_lowercase();
                let len: u64 = text
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0);
                if client_w.write_all(&head).is_err() {
                    return;
                }
                let _ = std::io::copy(&mut (&mut up_r).take(len), &mut client_w);
                let _ = client_w.shutdown(std::net::Shutdown::Both);
                let _ = up_r.shutdown(std::net::Shutdown::Both);
                let _ = forward.join();
            });
        }
    });
    port
}

/// Live mode over https with a private CA (issue 16): a TLS-terminating proxy on loopback
/// serves the stand-in's registry with a certificate signed by a CA generated here. Not
/// trusted (`SSL_CERT_FILE` holds another CA): the run fails fast, and the output names the
/// host, the certificate's subject and issuer and the remedy. Trusted through
/// `SSL_CERT_FILE`: the suite connects and passes.
#[rstest]
#[case::untrusted(false)]
#[case::trusted(true)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_mode_over_https_with_a_private_ca(#[case] trusted: bool) {
    use hokusai_verify::catalogue::KeyRole;
    use hokusai_verify::config::Profile;
    use hokusai_verify::secret::ApiKey;
    use hokusai_verify::standin::{StandIn, StandInOptions};
    if Command::new("openssl").arg("version").output().is_err() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI needs the openssl command for this test"
        );
        eprintln!("skipped: no openssl command to make a private CA");
        return;
    }
    let dir = std::env::temp_dir().join(format!("hokusai-verify-tls-{}", fastrand::u64(..)));
    std::fs::create_dir_all(&dir).unwrap();
    private_ca(&dir, "ca", "Hokusai Test CA");
    private_ca(&dir, "other", "Some Other CA");
    server_cert(&dir, "ca");
    let profile = Profile::load("hokusai-2025-08").unwrap();
    let mut opts = StandInOptions::new(profile.clone()).fast();
    opts.keys
        .insert(KeyRole::Valid, ApiKey::parse(CANARY_KEY).unwrap());
    opts.namespace = Some(String::new());
    let standin = StandIn::start(opts).await.expect("the stand-in starts");
    let port = tls_proxy(&dir, standin.registry_url().port().unwrap()).await;
    let registry = format!("https://127.0.0.1:{port}");
    let auth = standin.auth_url().to_string();
    let ca = dir.join(if trusted { "ca.pem" } else { "other.pem" });
    let run = dir.join("run");
    let (code, out, secs) = tokio::task::spawn_blocking(move || {
        verify_live_with(
            &registry,
            &auth,
            &run,
            &[
                ("HOKUSAI_PROFILE", "hokusai-2025-08"),
                ("SSL_CERT_FILE", ca.to_str().unwrap()),
            ],
        )
    })
    .await
    .unwrap();
    eprintln!("trusted {trusted}: exit {code} after {secs:.1} s");
    assert!(!out.contains("CanaryCanary"), "the key leaked:\n{out}");
    if trusted {
        assert!(!out.contains("TLS handshake"), "{out}");
        assert_eq!(code, 0, "a healthy platform over https passes:\n{out}");
    } else {
        assert_eq!(code, 1, "{out}");
        for want in [
            &format!("TLS handshake with 127.0.0.1:{port} failed"),
            "Hokusai Test CA",
            "CN=localhost",
            "does not trust",
            "SSL_CERT_FILE",
        ] {
            assert!(out.contains(want), "{want:?} not in the output:\n{out}");
        }
        assert!(secs < 15.0, "took {secs:.1} s");
    }
    drop(standin);
    let _ = std::fs::remove_dir_all(dir);
}

fn openssl(dir: &std::path::Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `openssl req` arguments for a new P-256 key without a passphrase.
const NEW_EC_KEY: [&str; 5] = [
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
];

/// `<name>.pem` / `<name>.key`: a self-signed CA called `cn`.
fn private_ca(dir: &std::path::Path, name: &str, cn: &str) {
    let (key, pem, subj) = (
        format!("{name}.key"),
        format!("{name}.pem"),
        format!("/CN={cn}"),
    );
    openssl(
        dir,
        &[
            &["req", "-x509"][..],
            &NEW_EC_KEY,
            &[
                "-keyout",
                &key,
                "-out",
                &pem,
                "-days",
                "2",
                "-subj",
                &subj,
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ],
        ]
        .concat(),
    );
}

/// `server.pem` / `server.key` for 127.0.0.1 and localhost, signed by the CA `<ca>`.
fn server_cert(dir: &std::path::Path, ca: &str) {
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            &["req"][..],
            &NEW_EC_KEY,
            &[
                "-keyout",
                "server.key",
                "-out",
                "server.csr",
                "-subj",
                "/CN=localhost",
            ],
        ]
        .concat(),
    );
    let (ca_pem, ca_key) = (format!("{ca}.pem"), format!("{ca}.key"));
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            &ca_pem,
            "-CAkey",
            &ca_key,
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "2",
            "-extfile",
            "server.ext",
        ],
    );
}

/// A TLS-terminating proxy (`server.pem`) in front of `upstream` on loopback.
async fn tls_proxy(dir: &std::path::Path, upstream: u16) -> u16 {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(dir.join("server.pem"))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let key = PrivateKeyDer::from_pem_file(dir.join("server.key")).unwrap();
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let Ok(mut up) = tokio::net::TcpStream::connect(("127.0.0.1", upstream)).await
                else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut up).await;
            });
        }
    });
    port
}

/// Realistic latencies stack on the delay a route gives (`make bench-verify` once found
/// them replacing an injected slow MLflow, which blocked the head-of-line check).
#[tokio::test]
async fn realistic_latencies_keep_injected_delays() {
    let mut config =
        hokusai_verify::config::Config::standin(hokusai_verify::config::Profile::default_profile());
    config.standin_settings_mut().unwrap().realistic = true;
    let env = Env::build(config).await.expect("a stand-in");
    for id in ["slow_request_blocks_nothing", "upstream_timeout_is_504"] {
        common::run_check_on(env.clone(), Area::ErrorScenarios, id).await;
    }
}
