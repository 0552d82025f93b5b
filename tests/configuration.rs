//! Bad configuration fails before any traffic, with one message that names the variable,
//! and never echoes a key. Runs the real `hokusai-verify` binary.

mod common;

use hokusai_verify::catalogue::Area;
use rstest::rstest;
use std::process::Command;
use wiremock::MockServer;

const CANARY: &str = "hk_live_CanaryCanaryCanaryCanary01234567";

fn run(args: &[&str], vars: &[(&str, &str)]) -> (i32, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hokusai-verify"));
    cmd.args(args);
    for (k, _) in std::env::vars() {
        if k.starts_with("HOKUSAI_") || k.starts_with("AWS_") || k == "REDIS_URL" {
            cmd.env_remove(k);
        }
    }
    cmd.env("HOKUSAI_ENV_FILE", "/nonexistent/.env");
    cmd.envs(vars.iter().copied());
    let out = cmd.output().expect("the binary runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

/// A key put in the wrong variable by mistake is never echoed back by the error.
#[rstest]
fn a_secret_in_the_wrong_variable_is_not_echoed(
    #[values(
        "HOKUSAI_TARGET",
        "HOKUSAI_PROFILE",
        "HOKUSAI_TIMEOUT_MS",
        "HOKUSAI_CONNECT_TIMEOUT_MS",
        "HOKUSAI_STRICT",
        "HOKUSAI_STANDIN_FAULTS",
        "HOKUSAI_STANDIN_TIMING",
        "HOKUSAI_STANDIN_DIALECT",
        "HOKUSAI_CONCURRENT_CLIENTS",
        "HOKUSAI_RUN_BUDGET_S",
        "HOKUSAI_CONCURRENCY"
    )]
    variable: &str,
    #[values(CANARY, "s3cr3tT0kenValueWithoutAnyPrefix99")] secret: &str,
) {
    let (code, text) = run(&["verify"], &[(variable, secret)]);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains(variable), "{text}");
    let marker = if secret == CANARY { "Canary" } else { "s3cr3t" };
    assert!(
        !text.contains(marker),
        "{variable}: the value was echoed:\n{text}"
    );
}

#[rstest]
#[case::unknown_target(&[("HOKUSAI_TARGET", "staging")], "HOKUSAI_TARGET")]
#[case::live_without_registry(&[("HOKUSAI_TARGET", "live"), ("HOKUSAI_AUTH_URL", "http://127.0.0.1:9"), ("HOKUSAI_API_KEY", CANARY)], "HOKUSAI_REGISTRY_URL")]
#[case::live_without_auth(&[("HOKUSAI_TARGET", "live"), ("HOKUSAI_REGISTRY_URL", "http://127.0.0.1:9"), ("HOKUSAI_API_KEY", CANARY)], "HOKUSAI_AUTH_URL")]
#[case::live_without_key(&[("HOKUSAI_TARGET", "live"), ("HOKUSAI_REGISTRY_URL", "http://127.0.0.1:9"), ("HOKUSAI_AUTH_URL", "http://127.0.0.1:9")], "HOKUSAI_API_KEY")]
#[case::malformed_url(&[("HOKUSAI_TARGET", "live"), ("HOKUSAI_REGISTRY_URL", "registry.hokus.ai"), ("HOKUSAI_AUTH_URL", "http://127.0.0.1:9"), ("HOKUSAI_API_KEY", CANARY)], "HOKUSAI_REGISTRY_URL")]
#[case::ftp_url(&[("HOKUSAI_TARGET", "live"), ("HOKUSAI_REGISTRY_URL", "ftp://127.0.0.1/"), ("HOKUSAI_AUTH_URL", "http://127.0.0.1:9"), ("HOKUSAI_API_KEY", CANARY)], "HOKUSAI_REGISTRY_URL")]
#[case::key_not_a_key(&[("HOKUSAI_TARGET", "live"), ("HOKUSAI_REGISTRY_URL", "http://127.0.0.1:9"), ("HOKUSAI_AUTH_URL", "http://127.0.0.1:9"), ("HOKUSAI_API_KEY", "sk_live_CanaryCanaryCanaryCanary01234567")], "HOKUSAI_API_KEY")]
#[case::key_too_short(&[("HOKUSAI_TARGET", "live"), ("HOKUSAI_REGISTRY_URL", "http://127.0.0.1:9"), ("HOKUSAI_AUTH_URL", "http://127.0.0.1:9"), ("HOKUSAI_API_KEY", "hk_live_Canary")], "HOKUSAI_API_KEY")]
#[case::bad_extra_key(&[("HOKUSAI_TARGET", "live"), ("HOKUSAI_REGISTRY_URL", "http://127.0.0.1:9"), ("HOKUSAI_AUTH_URL", "http://127.0.0.1:9"), ("HOKUSAI_API_KEY", CANARY), ("HOKUSAI_LOW_LIMIT_API_KEY", "CanaryCanary")], "HOKUSAI_LOW_LIMIT_API_KEY")]
#[case::unknown_profile(&[("HOKUSAI_PROFILE", "hokusai-1999")], "HOKUSAI_PROFILE")]
#[case::bad_timeout(&[("HOKUSAI_TIMEOUT_MS", "soon")], "HOKUSAI_TIMEOUT_MS")]
#[case::zero_connect_timeout(&[("HOKUSAI_CONNECT_TIMEOUT_MS", "0")], "HOKUSAI_CONNECT_TIMEOUT_MS")]
#[case::bad_strict(&[("HOKUSAI_STRICT", "maybe")], "HOKUSAI_STRICT")]
#[case::bad_redis(&[("HOKUSAI_REDIS_URL", "http://127.0.0.1:6379")], "HOKUSAI_REDIS_URL")]
#[case::bad_fault(&[("HOKUSAI_STANDIN_FAULTS", "mlflow-down,dns-down")], "HOKUSAI_STANDIN_FAULTS")]
#[case::bad_breakage(&[("HOKUSAI_STANDIN_BREAKAGES", "proxy-drops-delete-body,dns-down")], "HOKUSAI_STANDIN_BREAKAGES")]
#[case::bad_concurrency(&[("HOKUSAI_CONCURRENT_CLIENTS", "1000")], "HOKUSAI_CONCURRENT_CLIENTS")]
#[case::bad_timing(&[("HOKUSAI_STANDIN_TIMING", "slow")], "HOKUSAI_STANDIN_TIMING")]
#[case::bad_aws_endpoint(&[("HOKUSAI_TARGET", "live"), ("HOKUSAI_REGISTRY_URL", "http://127.0.0.1:9"), ("HOKUSAI_AUTH_URL", "http://127.0.0.1:9"), ("HOKUSAI_API_KEY", CANARY), ("HOKUSAI_AWS_ENDPOINT_URL", "not a url")], "HOKUSAI_AWS_ENDPOINT_URL")]
fn bad_configuration_is_rejected_naming_the_variable(
    #[case] vars: &[(&str, &str)],
    #[case] variable: &str,
) {
    let (code, text) = run(&["verify"], vars);
    assert_eq!(code, 2, "configuration errors exit 2:\n{text}");
    assert!(
        text.contains(variable),
        "the message must name {variable}:\n{text}"
    );
    assert!(text.contains("nothing was sent"), "{text}");
    assert!(
        !text.contains("Canary"),
        "a key (or what was meant as one) was echoed:\n{text}"
    );
}

/// The registry gets no request at all when the configuration is bad.
#[tokio::test]
async fn no_traffic_before_the_configuration_is_valid() {
    let server = MockServer::start().await;
    let uri = server.uri();
    let (code, _) = tokio::task::spawn_blocking(move || {
        run(
            &["verify"],
            &[
                ("HOKUSAI_TARGET", "live"),
                ("HOKUSAI_REGISTRY_URL", &uri),
                ("HOKUSAI_AUTH_URL", &uri),
                ("HOKUSAI_API_KEY", "hk_live_Canary"),
            ],
        )
    })
    .await
    .unwrap();
    assert_eq!(code, 2);
    assert_eq!(server.received_requests().await.unwrap().len(), 0);
}

/// `hokusai-verify config` shows the configuration with keys redacted.
#[test]
fn printed_configuration_never_contains_the_key() {
    let (code, text) = run(
        &["config"],
        &[
            ("HOKUSAI_TARGET", "live"),
            ("HOKUSAI_REGISTRY_URL", "http://127.0.0.1:9"),
            ("HOKUSAI_AUTH_URL", "http://127.0.0.1:9"),
            ("HOKUSAI_API_KEY", CANARY),
            ("HOKUSAI_SECOND_API_KEY", CANARY),
        ],
    );
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("set (never shown)"), "{text}");
    assert!(!text.contains("Canary"), "{text}");
}

/// `config` is a table: each variable, its value and where it came from (environment,
/// `.env`, profile, default).
#[test]
fn config_says_where_each_value_came_from() {
    let env_file = std::env::temp_dir().join(format!("hv-env-{}", fastrand::u64(..)));
    std::fs::write(
        &env_file,
        "HOKUSAI_PROFILE=hokusai-2026\nHOKUSAI_STRICT=0\n",
    )
    .unwrap();
    let (code, text) = run(
        &["config"],
        &[
            ("HOKUSAI_ENV_FILE", env_file.to_str().unwrap()),
            ("HOKUSAI_TARGET", "live"),
            ("HOKUSAI_REGISTRY_URL", "https://registry.example.com"),
            ("HOKUSAI_AUTH_URL", "https://auth.example.com"),
            ("HOKUSAI_API_KEY", CANARY),
            ("HOKUSAI_STRICT", "1"),
        ],
    );
    let _ = std::fs::remove_file(&env_file);
    assert_eq!(code, 0, "{text}");
    let row = |var: &str| -> Vec<String> {
        text.lines()
            .find(|l| l.starts_with(&format!("{var} ")))
            .unwrap_or_else(|| panic!("no row for {var}:\n{text}"))
            .split_whitespace()
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(row("HOKUSAI_PROFILE")[1..], ["hokusai-2026", ".env"]);
    // Set in both: the environment wins, as the configuration reads it.
    assert_eq!(row("HOKUSAI_STRICT")[1..], ["true", "environment"]);
    assert_eq!(row("HOKUSAI_TIMEOUT_MS").last().unwrap(), "default");
    assert_eq!(row("HOKUSAI_ECS_CLUSTER").last().unwrap(), "profile");
    assert_eq!(row("HOKUSAI_LOW_LIMIT_API_KEY")[1..], ["not", "set", "-"]);
    assert!(!text.contains("Canary"), "{text}");
}

/// `HOKUSAI_STRICT=1`: a check that cannot run fails instead of passing as skipped.
#[tokio::test]
async fn strict_mode_turns_skips_into_failures() {
    use hokusai_verify::check::{Check, CheckFuture, CheckSpec, Component, Failure, Outcome};
    fn needs_something(_: &mut Check) -> CheckFuture<'_> {
        Box::pin(async { Err(Failure::skipped("no low-limit key configured")) })
    }
    let spec = CheckSpec::new(
        Area::MlflowProxy,
        "needs_something",
        Component::RateLimiter,
        "skips",
        needs_something,
    );
    for (strict, want_failed) in [(false, false), (true, true)] {
        let mut config = hokusai_verify::config::Config::standin(
            hokusai_verify::config::Profile::default_profile(),
        );
        config.strict = strict;
        let standin = hokusai_verify::standin::StandIn::start(
            hokusai_verify::standin::StandInOptions::new(config.profile.clone()),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        let env = hokusai_verify::fixtures::Env::on_standin(config, standin).await;
        let r = spec.run(&env).await;
        assert_eq!(r.outcome == Outcome::Failed, want_failed, "{}", r.explain());
        assert!(
            r.message
                .as_deref()
                .unwrap_or("")
                .contains("no low-limit key")
        );
    }
}

/// A check that cannot apply to the target kind (it needs the stand-in) is "not applicable":
/// listed, never a failure, strict or not; only skips a user can fix fail in strict mode.
#[tokio::test]
async fn not_applicable_never_fails_a_strict_gate() {
    use hokusai_verify::check::Outcome;
    let mut config = hokusai_verify::config::Config::from_vars([
        ("HOKUSAI_TARGET", "live"),
        ("HOKUSAI_REGISTRY_URL", "http://127.0.0.1:9"),
        ("HOKUSAI_AUTH_URL", "http://127.0.0.1:9"),
        ("HOKUSAI_API_KEY", CANARY),
        ("HOKUSAI_STRICT", "1"),
        ("HOKUSAI_ENV_FILE", "/nonexistent/.env"),
    ])
    .unwrap_or_else(|e| panic!("{e}"));
    config.strict = true;
    let env = hokusai_verify::fixtures::Env::build(config)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let spec = hokusai_verify::checks::find(env.profile(), Area::Authentication, "usage_reported")
        .expect("the check");
    let r = spec.run(&env).await;
    assert!(
        matches!(r.outcome, Outcome::NotApplicable { .. }) && !r.outcome.is_bad(),
        "{}",
        r.explain()
    );
    // A missing key is a skip the user can fix: strict fails it, naming the variable.
    let spec =
        hokusai_verify::checks::find(env.profile(), Area::Authentication, "rate_limit_enforced")
            .expect("the check");
    let r = spec.run(&env).await;
    assert_eq!(r.outcome, Outcome::Failed, "{}", r.explain());
    // The runner found the need missing before the check body: nothing was sent.
    assert!(r.evidence.is_empty(), "{}", r.explain());
    assert!(
        r.message
            .unwrap_or_default()
            .contains("HOKUSAI_LOW_LIMIT_API_KEY")
    );
}

/// Load against a live target or a non-loopback URL is refused before any request.
#[rstest]
#[case::live_target(&["load"], &[("HOKUSAI_TARGET", "live"), ("HOKUSAI_REGISTRY_URL", "http://127.0.0.1:9"), ("HOKUSAI_AUTH_URL", "http://127.0.0.1:9"), ("HOKUSAI_API_KEY", CANARY)])]
#[case::remote_url(&["load", "--url", "http://192.0.2.1/health"], &[])]
fn load_against_a_real_target_needs_allow_live(
    #[case] args: &[&str],
    #[case] vars: &[(&str, &str)],
) {
    let (code, text) = run(args, vars);
    assert_eq!(code, 2, "{text}");
    assert!(
        text.contains("refused") && text.contains("--allow-live"),
        "{text}"
    );
    assert!(!text.contains("Canary"), "{text}");
}

/// A `verify` that cannot start (its stand-in's Redis does not answer) exits 2 and leaves the
/// results of the earlier run in place: old results go only after the preflight passed.
#[test]
fn failed_preflight_keeps_earlier_results() {
    let dir = std::env::temp_dir().join(format!("hv-preflight-{}", std::process::id()));
    let old = dir
        .join("results")
        .join("infra_health")
        .join("registry_health.json");
    std::fs::create_dir_all(old.parent().unwrap()).unwrap();
    std::fs::write(&old, "{}").unwrap();
    let run_dir = dir.to_str().unwrap().to_owned();
    let (code, text) = run(
        &["verify", "--area", "infra_health"],
        &[
            ("HOKUSAI_RUN_DIR", run_dir.as_str()),
            ("HOKUSAI_REDIS_URL", "redis://127.0.0.1:1"),
        ],
    );
    assert_eq!(code, 2, "{text}");
    assert!(old.exists(), "the earlier result was removed: {text}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `load` refuses what it cannot do before sending anything (exit 2): a rate no single
/// process generates, a duration that overflows, a zero duration, an age that overflows.
#[rstest]
#[case::absurd_rate(&["load", "--model", "open", "--rate", "2e9", "--url", "http://127.0.0.1:9/health"], "--rate")]
#[case::overflowing_duration(&["load", "--duration", "99999999999999d", "--url", "http://127.0.0.1:9/health"], "--duration")]
#[case::zero_duration(&["load", "--duration", "0s", "--url", "http://127.0.0.1:9/health"], "--duration")]
#[case::overflowing_age(&["janitor", "--older-than", "99999999999999d"], "--older-than")]
fn load_refuses_what_it_cannot_do(#[case] args: &[&str], #[case] flag: &str) {
    let (code, text) = run(args, &[]);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains(flag), "{text}");
    assert!(!text.contains("panicked"), "{text}");
}

/// `load --url` requests the URL's own path and query, exactly; and when every request
/// fails, `load` says so and exits non-zero.
#[tokio::test]
async fn load_url_keeps_its_path_and_query_and_fails_when_nothing_answers() {
    use wiremock::matchers::{method, path, query_param};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/health"))
        .and(query_param("detailed", "true"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let (code, text) = load_in_temp_dir(format!("{}/health?detailed=true", server.uri()), 5).await;
    assert_eq!(code, 0, "{text}");
    let got = server.received_requests().await.unwrap_or_default();
    assert_eq!(got.len(), 5, "{text}");
    assert!(
        got.iter()
            .all(|r| r.url.path() == "/health" && r.url.query() == Some("detailed=true"))
    );

    let dead = format!("http://127.0.0.1:{}/health", {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    });
    let (code, text) = load_in_temp_dir(dead, 3).await;
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("EVERY REQUEST FAILED"), "{text}");
}

/// `hokusai-verify load --url <url> --requests <n>` (one user), recording into a temporary
/// run folder (never the user's).
async fn load_in_temp_dir(url: String, requests: u64) -> (i32, String) {
    tokio::task::spawn_blocking(move || {
        let dir = std::env::temp_dir().join(format!("hokusai-verify-load-{}", fastrand::u64(..)));
        let n = requests.to_string();
        let args = [
            "load",
            "--url",
            &url,
            "--requests",
            &n,
            "--duration",
            "5s",
            "--users",
            "1",
        ];
        let out = run(
            &args,
            &[("HOKUSAI_RUN_DIR", dir.to_str().expect("utf-8 temp dir"))],
        );
        let _ = std::fs::remove_dir_all(&dir);
        out
    })
    .await
    .expect("the load run ends")
}

/// `config` shows where everything points, never a password in a URL or a key.
#[test]
fn config_redacts_url_passwords_and_keys() {
    let (code, text) = run(
        &["config"],
        &[
            (
                "HOKUSAI_REDIS_URL",
                "redis://:CanaryRedisPassw0rd@127.0.0.1:6379/0",
            ),
            ("HOKUSAI_API_KEY", CANARY),
        ],
    );
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("127.0.0.1:6379"), "{text}");
    assert!(!text.contains("Canary"), "{text}");
}

/// A live URL in plain http:// to a host that is not loopback is allowed, with a warning:
/// the key would travel in clear text. (`config` sends nothing.)
#[test]
fn plain_http_to_a_remote_host_is_warned_about() {
    let (code, text) = run(
        &["config"],
        &[
            ("HOKUSAI_TARGET", "live"),
            ("HOKUSAI_REGISTRY_URL", "http://registry.example.com"),
            ("HOKUSAI_AUTH_URL", "https://auth.example.com"),
            ("HOKUSAI_API_KEY", CANARY),
        ],
    );
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("HOKUSAI_REGISTRY_URL is plain http://") && text.contains("clear text"),
        "{text}"
    );
    assert!(!text.contains("HOKUSAI_AUTH_URL is plain"), "{text}");
    let (_, text) = run(
        &["config"],
        &[
            ("HOKUSAI_TARGET", "live"),
            ("HOKUSAI_REGISTRY_URL", "http://127.0.0.1:9"),
            ("HOKUSAI_AUTH_URL", "http://127.0.0.1:9"),
            ("HOKUSAI_API_KEY", CANARY),
        ],
    );
    assert!(!text.contains("clear text"), "loopback is fine:\n{text}");
}

/// A closed pipe ends the process quietly (no panic message), as for any Unix tool.
#[test]
fn a_closed_pipe_is_not_a_panic() {
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_hokusai-verify"))
        .args(["faults"])
        .env("HOKUSAI_ENV_FILE", "/nonexistent/.env")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    // Close the reading end before the process writes.
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("it ends");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
}

/// The missing auth URL is explained with an auth URL as its example.
#[test]
fn missing_auth_url_has_an_auth_example() {
    let (code, text) = run(
        &["verify"],
        &[
            ("HOKUSAI_TARGET", "live"),
            ("HOKUSAI_REGISTRY_URL", "http://127.0.0.1:9"),
            ("HOKUSAI_API_KEY", CANARY),
        ],
    );
    assert_eq!(code, 2, "{text}");
    assert!(
        text.contains("HOKUSAI_AUTH_URL") && text.contains("https://auth.hokus.ai"),
        "{text}"
    );
}

/// SIGINT during `verify`: no new check starts, running ones finish, every planned check
/// has a result (run or "not run: interrupted"), the report is written and says the run is
/// incomplete, and the exit code is 130.
#[test]
fn an_interrupted_verify_writes_the_report_of_what_ran() {
    let dir = std::env::temp_dir().join(format!("hokusai-verify-sigint-{}", fastrand::u64(..)));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hokusai-verify"));
    for (k, _) in std::env::vars() {
        if k.starts_with("HOKUSAI_") {
            cmd.env_remove(k);
        }
    }
    // A Redis database of its own, to see that the interrupted run left no key in it.
    let port = std::env::var("REDIS_PORT").unwrap_or_else(|_| "6379".into());
    let redis_url = format!("redis://127.0.0.1:{port}/12");
    let child = cmd
        .args(["verify"])
        .env("HOKUSAI_ENV_FILE", "/nonexistent/.env")
        .env("HOKUSAI_RUN_DIR", &dir)
        .env("HOKUSAI_CONCURRENCY", "1")
        .env("HOKUSAI_REDIS_URL", &redis_url)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the binary runs");
    std::thread::sleep(std::time::Duration::from_millis(1500));
    // SAFETY: sending a signal to our own child process.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let out = child.wait_with_output().expect("it ends");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(130), "{text}");
    let planned = common::planned_checks(&text);
    let recorded = walk_json(&dir.join("results"));
    assert_eq!(recorded, planned, "{text}");
    // The plan was written before the first check: the report reads it, not the catalogue.
    let (plans, unreadable) = hokusai_verify::check::plan::read_plans(&dir);
    assert!(unreadable.is_empty(), "{unreadable:?}");
    assert_eq!(plans.iter().map(|p| p.checks.len()).sum::<usize>(), planned);
    assert!(text.contains("not run: the run was interrupted"), "{text}");
    let report = std::fs::read_to_string(dir.join("report.md")).expect("a report");
    assert!(report.contains("interrupted"), "{report}");
    assert!(!text.contains("HEALTHY"), "{text}");
    // Nothing left in Redis: the stand-ins of the checks that ran removed their keys.
    let mut redis = redis::Client::open(redis_url.as_str())
        .unwrap()
        .get_connection()
        .expect("Redis for the tests (scripts/with-redis)");
    let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut redis).unwrap();
    assert!(
        keys.is_empty(),
        "the interrupted run left Redis keys: {keys:?}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

fn walk_json(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .map(|p| {
            if p.is_dir() {
                walk_json(&p)
            } else {
                usize::from(p.extension().is_some_and(|e| e == "json"))
            }
        })
        .sum()
}

/// `verify --help` lists every area and every exit code of `verify`, and says how a gate
/// gets them (make itself exits 2 on any failure).
#[test]
fn verify_help_lists_the_areas_and_the_exit_codes() {
    use hokusai_verify::commands::Exit;
    let (code, text) = run(&["verify", "--help"], &[]);
    assert_eq!(code, 0, "{text}");
    for a in Area::all() {
        assert!(text.contains(a.id()), "area {a} missing: {text}");
    }
    for e in [Exit::Ok, Exit::Failed, Exit::Config, Exit::Interrupted] {
        assert!(
            text.contains(&format!("\n  {:<4} ", e as u8)),
            "exit code {e:?} missing: {text}"
        );
    }
    assert!(text.contains("cargo run -- verify"), "{text}");
}

/// `HOKUSAI_LARGE_ARTIFACT_MAX_MB` caps the large-artifact transfers: a case above it is
/// skipped naming the variable (nothing uploaded), one within it runs; a bad value is a
/// configuration error.
#[tokio::test]
async fn large_artifact_sizes_can_be_capped() {
    use hokusai_verify::catalogue::Area;
    use hokusai_verify::check::Outcome;
    use hokusai_verify::config::Config;
    let config = Config::from_vars([("HOKUSAI_LARGE_ARTIFACT_MAX_MB", "60")]).unwrap();
    assert_eq!(config.large_artifact_max_mb, Some(60));
    assert!(Config::from_vars([("HOKUSAI_LARGE_ARTIFACT_MAX_MB", "lots")]).is_err());
    let env = hokusai_verify::fixtures::Env::build(config).await.unwrap();
    let specs = hokusai_verify::checks::area(Area::ErrorScenarios, env.profile());
    let spec = specs
        .iter()
        .find(|s| s.full_id() == "large_artifact[200MB]")
        .unwrap();
    let r = spec.run(&env).await;
    match &r.outcome {
        Outcome::Skipped { reason } => {
            assert!(
                reason.contains("HOKUSAI_LARGE_ARTIFACT_MAX_MB=60"),
                "{reason}"
            )
        }
        other => panic!("200 MB over a 60 MB cap: {other:?}"),
    }
    assert!(
        r.evidence.is_empty(),
        "something was sent: {:?}",
        r.evidence
    );
}

/// `faults --breakages` lists every breakage with the causes the report names for it and
/// the profiles whose contract it breaks; `config` shows the breakages switched on.
#[test]
fn breakages_are_listed_and_switchable() {
    use hokusai_verify::catalogue::Breakage;
    let (code, text) = run(&["faults", "--breakages"], &[]);
    assert_eq!(code, 0, "{text}");
    for b in Breakage::all() {
        let line = text
            .lines()
            .find(|l| l.split_whitespace().next() == Some(b.id()))
            .unwrap_or_else(|| panic!("{b} not listed:\n{text}"));
        for c in b.causes() {
            assert!(line.contains(&c.id()), "{b}: {line}");
        }
    }
    assert!(
        text.contains("unrouted-bare-api") && text.contains("[hokusai-2026]"),
        "{text}"
    );
    let (code, text) = run(
        &["config"],
        &[(
            "HOKUSAI_STANDIN_BREAKAGES",
            "proxy-drops-delete-body, unrouted-proxy-ajax",
        )],
    );
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("proxy-drops-delete-body,unrouted-proxy-ajax"),
        "{text}"
    );
}

/// A Redis password and a canary key in the configuration never appear in what any command
/// prints, on the error paths a user meets first: no Redis for the stand-in, nothing
/// answering the target, a live load refused, a janitor with nothing to reach, the resolved
/// configuration, the exporter (`serve`) without Redis or with a dead target (its served
/// pages are checked in `tests/monitoring.rs`).
#[rstest]
#[case::verify_without_redis(&["verify"], "standin")]
#[case::verify_dead_target(&["verify", "--area", "infra_health"], "live")]
#[case::standin_without_redis(&["standin", "--redis-url"], "standin")]
#[case::load_dead_target(&["load", "--allow-live", "--requests", "3"], "live")]
#[case::janitor_dead_target(&["janitor"], "live")]
#[case::config(&["config"], "live")]
#[case::serve_without_redis(&["serve", "--runs", "1", "--listen", "127.0.0.1:0"], "standin")]
#[case::serve_dead_target(&["serve", "--runs", "1", "--interval", "1s", "--listen", "127.0.0.1:0"], "live")]
fn no_secret_on_any_error_path(#[case] args: &[&str], #[case] target: &str) {
    const PASSWORD: &str = "RedisPassw0rdCanary";
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let redis = format!("redis://:{PASSWORD}@127.0.0.1:{closed}/0");
    let dead = format!("http://127.0.0.1:{closed}");
    let dir = tempfile_dir();
    let run_dir = dir.to_string_lossy().into_owned();
    // `standin --redis-url` takes the URL as its value.
    let mut args = args.to_vec();
    if args.last() == Some(&"--redis-url") {
        args.push(&redis);
    }
    let (code, text) = run(
        &args,
        &[
            ("HOKUSAI_TARGET", target),
            ("HOKUSAI_REDIS_URL", &redis),
            ("HOKUSAI_REGISTRY_URL", &dead),
            ("HOKUSAI_AUTH_URL", &dead),
            ("HOKUSAI_API_KEY", CANARY),
            ("HOKUSAI_TIMEOUT_MS", "2000"),
            ("HOKUSAI_CONNECT_TIMEOUT_MS", "500"),
            ("HOKUSAI_RUN_BUDGET_S", "20"),
            ("HOKUSAI_RUN_DIR", &run_dir),
        ],
    );
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        !text.contains(PASSWORD),
        "{args:?}: the Redis password was printed:\n{text}"
    );
    assert!(
        !text.contains("Canary0"),
        "{args:?}: the key was printed:\n{text}"
    );
    // An error path, not a silent success (config prints its table and succeeds).
    if args[0] != "config" {
        assert_ne!(code, 0, "{args:?}: {text}");
    }
}

fn tempfile_dir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("hokusai-verify-secrets-{}", fastrand::u64(..)));
    std::fs::create_dir_all(&d).unwrap();
    d
}
