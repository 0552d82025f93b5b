//! Self-verification (issue: every fault caught with the right root cause, every check
//! able to fail). For each fault of `shared/platform/faults.md`, in each profile where it
//! applies, the suite's checks run against a stand-in with that fault on, and the report's
//! root-cause analysis must name exactly that cause — no other, nothing unclassified.
//! Also: several faults at once, a healthy baseline with zero failures, and the generated
//! checks × faults matrix in `docs/fault-matrix.md` (regenerate with
//! `HOKUSAI_UPDATE_FAULT_MATRIX=1 cargo test --test fault_catalogue`).

use hokusai_verify::catalogue::Area;
use hokusai_verify::check::{CheckResult, Outcome};
use hokusai_verify::config::Profile;
use hokusai_verify::report::rca;
use hokusai_verify::selftest::{Scenario, run};
use hokusai_verify::standin::{Breakage, Dialect, Fault};
use rstest::rstest;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, LazyLock, Mutex};
use tokio::sync::OnceCell;

// One `Fault::<Variant>` per catalogue row: a row without a switch does not compile.
include!(concat!(env!("OUT_DIR"), "/fault_catalogue.rs"));

const PROFILES: [&str; 2] = ["hokusai-2025-08", "hokusai-2026"];

/// Where a fault is a fault: forwarding the key is expected in 2026, and write scopes are
/// only enforced from 2026 on.
fn applies(fault: Fault, profile: &str) -> bool {
    match fault {
        Fault::AuthHeaderLeak => profile == "hokusai-2025-08",
        Fault::WriteForbidden => profile == "hokusai-2026",
        _ => true,
    }
}

/// The checks relevant to a fault: the areas that can observe it. Faults of one part run
/// only those areas (faster, and what "relevant" means); the rest run everything, which also
/// proves the absence of misleading collateral failures across the whole suite.
fn relevant_areas(fault: Fault) -> Option<&'static [Area]> {
    match fault {
        Fault::SlowRegistry | Fault::EcsDegraded | Fault::EcsMissing => Some(&[Area::InfraHealth]),
        Fault::CacheTtlWrong | Fault::RateLimitOff => {
            Some(&[Area::InfraHealth, Area::Authentication])
        }
        _ => None,
    }
}

/// The profiles where a breakage breaks the contract: write scopes are only enforced from
/// 2026 on, so ignoring them is a breakage there only.
fn breakage_profiles(b: Breakage) -> Vec<&'static str> {
    match b {
        Breakage::ScopesIgnored => vec!["hokusai-2026"],
        _ => PROFILES.to_vec(),
    }
}

fn areas(faults: &[Fault]) -> Vec<Area> {
    let mut out: Vec<Area> = Vec::new();
    for f in faults {
        match relevant_areas(*f) {
            Some(a) => out.extend(
                a.iter()
                    .filter(|x| !out.contains(x))
                    .copied()
                    .collect::<Vec<_>>(),
            ),
            None => return vec![],
        }
    }
    out
}

type Key = (String, Vec<Fault>, Vec<Breakage>, Dialect);
/// A scenario's results, computed once.
type Slot = Arc<OnceCell<Vec<CheckResult>>>;

/// Each scenario runs once per process, whichever test asks first (the matrix reuses the
/// per-fault runs).
static RUNS: LazyLock<Mutex<HashMap<Key, Slot>>> = LazyLock::new(Default::default);

fn scenario(
    profile: &str,
    faults: &[Fault],
    breakages: &[Breakage],
    dialect: Dialect,
) -> (Profile, Scenario) {
    let scenario = Scenario {
        faults: faults.to_vec(),
        breakages: breakages.to_vec(),
        areas: areas(faults),
        // Large artifacts only where they matter: the baseline, artifact faults, MLflow down,
        // the breakages of large bodies.
        include_heavy: (faults.is_empty() && breakages.is_empty())
            || faults
                .iter()
                .any(|f| matches!(f, Fault::ArtifactsDisabled | Fault::MlflowDown))
            || breakages.iter().any(|b| {
                matches!(
                    b,
                    Breakage::LargeBodiesTruncated | Breakage::MalformedBodyIs500
                )
            }),
        dialect,
    };
    (Profile::load(profile).unwrap(), scenario)
}

fn cell(profile: &str, faults: &[Fault], breakages: &[Breakage], dialect: Dialect) -> Slot {
    let key = (
        profile.to_owned(),
        faults.to_vec(),
        breakages.to_vec(),
        dialect,
    );
    RUNS.lock().unwrap().entry(key).or_default().clone()
}

/// Every scenario the tests of this file ask for.
fn all_scenarios() -> Vec<(&'static str, Vec<Fault>, Vec<Breakage>, Dialect)> {
    let mut v = Vec::new();
    for d in DIALECTS {
        for p in PROFILES {
            v.push((p, vec![], vec![], d));
            for f in Fault::all() {
                v.push((p, vec![f], vec![], d));
            }
        }
        for b in Breakage::all() {
            for p in PROFILES {
                v.push((p, vec![], vec![b], d));
            }
        }
    }
    for p in PROFILES {
        for combo in COMBOS {
            v.push((p, combo.to_vec(), vec![], Dialect::Contract));
        }
    }
    v
}

/// The stand-in's wordings: the contract's examples, and other words for everything the
/// contract leaves to the platform. Every diagnosis must come out the same under both.
const DIALECTS: [Dialect; 2] = [Dialect::Contract, Dialect::Reworded];

/// The runtime the scenarios run on: started once, all scenarios at once, so the tests
/// (which cargo runs two at a time) only wait for results.
static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
});

fn start_all() {
    // Under nextest every test is a process of its own: starting every scenario would
    // repeat the whole catalogue per test, so each test computes only what it needs.
    if std::env::var_os("NEXTEST").is_some() {
        return;
    }
    static STARTED: std::sync::Once = std::sync::Once::new();
    STARTED.call_once(|| {
        for (p, fs, bs, d) in all_scenarios() {
            let c = cell(p, &fs, &bs, d);
            RUNTIME.spawn(async move {
                c.get_or_init(|| async {
                    let (profile, scenario) = scenario(p, &fs, &bs, d);
                    run(&profile, &scenario).await
                })
                .await;
            });
        }
    });
}

async fn results(profile: &str, faults: &[Fault], breakages: &[Breakage]) -> Vec<CheckResult> {
    results_in(profile, faults, breakages, Dialect::Contract).await
}

async fn results_in(
    profile: &str,
    faults: &[Fault],
    breakages: &[Breakage],
    dialect: Dialect,
) -> Vec<CheckResult> {
    start_all();
    let c = cell(profile, faults, breakages, dialect);
    let (profile, scenario) = scenario(profile, faults, breakages, dialect);
    c.get_or_init(|| async { run(&profile, &scenario).await })
        .await
        .clone()
}

fn summary(rs: &[CheckResult]) -> String {
    if std::env::var("HOKUSAI_EXPLAIN").is_ok() {
        return rs
            .iter()
            .filter(|r| r.outcome.is_bad())
            .map(|r| format!("\n{}", r.explain()))
            .collect();
    }
    rs.iter()
        .filter(|r| r.outcome.is_bad())
        .map(|r| format!("\n  {}: {}", r.key(), r.message.as_deref().unwrap_or("")))
        .collect()
}

#[test]
fn the_catalogue_and_the_switches_agree() {
    assert!(!CATALOGUE.is_empty(), "platform/faults.md lists no fault");
    let ids: Vec<&str> = CATALOGUE.iter().map(|(id, _)| *id).collect();
    let switches: Vec<&str> = Fault::all().iter().map(|f| f.id()).collect();
    assert_eq!(ids, switches, "faults.md rows and the Fault enum differ");
    for (id, f) in CATALOGUE {
        assert_eq!(f.id(), *id);
        assert!(rca::cause(id).is_some(), "no root-cause rule for {id}");
    }
}

#[rstest]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthy_baseline_has_no_failures(
    #[values("hokusai-2025-08", "hokusai-2026")] profile: &str,
    #[values(Dialect::Contract, Dialect::Reworded)] dialect: Dialect,
) {
    let rs = results_in(profile, &[], &[], dialect).await;
    assert!(
        rs.iter().all(|r| !r.outcome.is_bad()),
        "failures on a healthy stand-in:{}",
        summary(&rs)
    );
    let (causes, unclassified) = rca::analyse(&rs);
    assert!(causes.is_empty() && unclassified.is_empty());
}

async fn assert_named(profile: &str, faults: &[Fault], dialect: Dialect) {
    let rs = results_in(profile, faults, &[], dialect).await;
    assert!(
        rs.iter().any(|r| r.outcome.is_bad()),
        "{faults:?} ({profile}): no check failed"
    );
    let (causes, unclassified) = rca::analyse(&rs);
    let named: BTreeSet<&str> = causes.iter().map(|c| c.id.as_str()).collect();
    let want: BTreeSet<&str> = faults.iter().map(|f| f.id()).collect();
    assert_eq!(
        named,
        want,
        "{faults:?} ({profile}, {dialect:?}): causes named {named:?}; failures:{}",
        summary(&rs)
    );
    assert_eq!(causes.len(), named.len(), "a cause named twice");
    assert!(
        unclassified.is_empty(),
        "{faults:?} ({profile}): unclassified: {unclassified:#?}"
    );
    // The report's analysis, recorded: which checks each cause explains.
    let summary = serde_json::json!({
        "failing": rs.iter().filter(|r| r.outcome.is_bad()).count(),
        "causes": causes.iter().map(|c| serde_json::json!({"id": c.id, "fix": c.fix, "resource": c.resource, "checks": c.checks, "blocked": c.blocked})).collect::<Vec<_>>(),
    });
    let name = format!(
        "rca_{}_{profile}",
        faults.iter().map(|f| f.id()).collect::<Vec<_>>().join("+")
    );
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("../snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| insta::assert_json_snapshot!(name, summary));
    for c in &causes {
        let row = rca::cause(&c.id).unwrap();
        assert_eq!(
            (c.fix.as_str(), c.resource.as_str()),
            (row.fix, row.resource)
        );
        assert!(!c.checks.is_empty());
    }
}

#[rstest]
#[case::auth_down(Fault::AuthDown)]
#[case::auth_slow(Fault::AuthSlow)]
#[case::service_id_mismatch(Fault::ServiceIdMismatch)]
#[case::key_not_valid_for_service(Fault::KeyNotValidForService)]
#[case::mlflow_route_to_mlflow(Fault::MlflowRouteToMlflow)]
#[case::mlflow_down(Fault::MlflowDown)]
#[case::mlflow_slow(Fault::MlflowSlow)]
#[case::artifacts_disabled(Fault::ArtifactsDisabled)]
#[case::no_ajax_rewrite(Fault::NoAjaxRewrite)]
#[case::auth_header_leak(Fault::AuthHeaderLeak)]
#[case::cache_off(Fault::CacheOff)]
#[case::cache_ttl_wrong(Fault::CacheTtlWrong)]
#[case::rate_limit_off(Fault::RateLimitOff)]
#[case::ecs_degraded(Fault::EcsDegraded)]
#[case::ecs_missing(Fault::EcsMissing)]
#[case::target_unhealthy(Fault::TargetUnhealthy)]
#[case::write_forbidden(Fault::WriteForbidden)]
#[case::slow_registry(Fault::SlowRegistry)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_fault_is_caught_and_named(
    #[case] fault: Fault,
    #[values("hokusai-2025-08", "hokusai-2026")] profile: &str,
    #[values(Dialect::Contract, Dialect::Reworded)] dialect: Dialect,
) {
    if !applies(fault, profile) {
        // Not a fault under this profile: the suite must stay green instead.
        let rs = results_in(profile, &[fault], &[], dialect).await;
        assert!(
            rs.iter().all(|r| !r.outcome.is_bad()),
            "{fault} is expected behaviour in {profile}:{}",
            summary(&rs)
        );
        return;
    }
    assert_named(profile, &[fault], dialect).await;
}

const COMBOS: &[&[Fault]] = &[
    &[Fault::MlflowDown, Fault::CacheOff],
    &[Fault::AuthDown, Fault::EcsMissing],
    &[
        Fault::ArtifactsDisabled,
        Fault::RateLimitOff,
        Fault::EcsDegraded,
    ],
    &[
        Fault::CacheTtlWrong,
        Fault::NoAjaxRewrite,
        Fault::EcsMissing,
    ],
];

#[rstest]
#[case::mlflow_and_cache(&[Fault::MlflowDown, Fault::CacheOff])]
#[case::auth_and_ecs(&[Fault::AuthDown, Fault::EcsMissing])]
#[case::artifacts_rate_ecs(&[Fault::ArtifactsDisabled, Fault::RateLimitOff, Fault::EcsDegraded])]
#[case::ttl_rewrite_route(&[Fault::CacheTtlWrong, Fault::NoAjaxRewrite, Fault::EcsMissing])]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_faults_each_named_once(
    #[case] faults: &[Fault],
    #[values("hokusai-2025-08", "hokusai-2026")] profile: &str,
) {
    assert_named(profile, faults, Dialect::Contract).await;
}

/// The checks × faults matrix: every check fails under some fault or documented breakage,
/// every fault fails some check, and `docs/fault-matrix.md` is up to date.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_matrix_is_complete_and_published() {
    let profile = Profile::default_profile();
    let ids: Vec<String> = hokusai_verify::checks::catalogue(&profile)
        .iter()
        .map(|s| format!("{}/{}", s.area, s.full_id()))
        .collect();
    let mut columns: Vec<String> = Vec::new();
    let mut hits: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut blocks: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut scenarios: Vec<(String, &str, Vec<Fault>, Vec<Breakage>)> = Vec::new();
    for f in Fault::all() {
        for p in PROFILES.into_iter().filter(|p| applies(f, p)) {
            scenarios.push((f.id().to_owned(), p, vec![f], vec![]));
        }
        columns.push(f.id().to_owned());
    }
    for b in Breakage::all() {
        for p in breakage_profiles(b) {
            scenarios.push((format!("{b} (breakage)"), p, vec![], vec![b]));
        }
        columns.push(format!("{b} (breakage)"));
    }
    let mut tasks = tokio::task::JoinSet::new();
    for (col, p, fs, bs) in scenarios {
        tasks.spawn(async move { (col, results(p, &fs, &bs).await) });
    }
    while let Some(done) = tasks.join_next().await {
        let (col, rs) = done.expect("a scenario task");
        for r in rs.iter().filter(|r| r.outcome.is_bad()) {
            // A blocked check did not reach its own assertion: it proves nothing about
            // whether that assertion can fail.
            let into = if matches!(r.outcome, Outcome::Blocked { .. }) {
                &mut blocks
            } else {
                &mut hits
            };
            into.entry(r.key()).or_default().insert(col.clone());
        }
    }
    let empty_rows: Vec<&String> = ids.iter().filter(|id| !hits.contains_key(*id)).collect();
    assert!(
        empty_rows.is_empty(),
        "checks that no fault or breakage can fail: {empty_rows:?}"
    );
    let empty_cols: Vec<&String> = columns
        .iter()
        .filter(|c| !hits.values().any(|s| s.contains(*c)))
        .collect();
    assert!(
        empty_cols.is_empty(),
        "faults/breakages that fail no check: {empty_cols:?}"
    );

    let doc = render_matrix(&ids, &columns, &hits, &blocks);
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/fault-matrix.md");
    if std::env::var("HOKUSAI_UPDATE_FAULT_MATRIX").is_ok_and(|v| v == "1") {
        std::fs::write(path, &doc).unwrap();
    }
    let published = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        published == doc,
        "docs/fault-matrix.md is stale; regenerate with HOKUSAI_UPDATE_FAULT_MATRIX=1 cargo test --test fault_catalogue fault_matrix"
    );
}

fn render_matrix(
    ids: &[String],
    columns: &[String],
    hits: &BTreeMap<String, BTreeSet<String>>,
    blocks: &BTreeMap<String, BTreeSet<String>>,
) -> String {
    let mut s = String::from(
        "# Fault matrix (generated)\n\nWhich fault of `shared/platform/faults.md` (or which documented deliberate breakage of the\nstand-in) makes each check fail, in any profile where the fault applies. Generated by\n`tests/fault_catalogue.rs`; that test fails when this file is stale. Regenerate with\n`HOKUSAI_UPDATE_FAULT_MATRIX=1 cargo test --test fault_catalogue fault_matrix`.\n\nBreakages are regressions the stand-in can play that no infrastructure fault produces\n(`hokusai_verify::standin::Breakage`): they prove that the checks guarding those rules can\nfail.\n\n",
    );
    s.push_str("A check *blocked* by a fault stopped before its own assertion (a precondition or an earlier\nstep failed); the report lists it under that fault's cause, as blocked.\n\n");
    s.push_str("| check | failed by | blocked by |\n|---|---|---|\n");
    let list = |m: &BTreeMap<String, BTreeSet<String>>, id: &String| {
        columns
            .iter()
            .filter(|c| m.get(id).is_some_and(|h| h.contains(*c)))
            .map(String::as_str)
            .collect::<Vec<&str>>()
            .join(", ")
    };
    for id in ids {
        s.push_str(&format!(
            "| `{id}` | {} | {} |\n",
            list(hits, id),
            list(blocks, id)
        ));
    }
    s.push_str("\n| fault or breakage | checks it fails |\n|---|---|\n");
    for c in columns {
        let n = hits.values().filter(|h| h.contains(c)).count();
        s.push_str(&format!("| `{c}` | {n} |\n"));
    }
    s
}

/// Deliberate breakages of the stand-in that no infrastructure fault produces: each must be
/// named as the contract line it breaks (and nothing else: no fault, nothing unclassified).
/// The last four are the out-of-catalogue defects that the first diagnosis named wrong
/// (Bearer rejected while X-API-Key works, a 401 without `detail`, a `Remaining` that never
/// counts down, a cache entry not re-created after expiry).
#[rstest]
#[case::auth_errors_as_bad_key(Breakage::AuthErrorsAsBadKey, &["contract:auth-failure-not-bad-key", "contract:auth-rate-limit-passed-on"])]
#[case::cache_failed_validations(Breakage::CacheFailedValidations, &["contract:failures-not-cached"])]
#[case::auth_needs_redis(Breakage::AuthNeedsRedis, &["contract:redis-down-fallback"])]
#[case::proxy_drops_delete_body(Breakage::ProxyDropsDeleteBody, &["contract:delete-bodies"])]
#[case::proxy_collapses_repeated_query(Breakage::ProxyCollapsesRepeatedQuery, &["contract:repeated-query"])]
#[case::delete_ignored(Breakage::DeleteIgnored, &["contract:nothing-left-behind"])]
#[case::upstream_timeout_as_500(Breakage::UpstreamTimeoutAs500, &["contract:upstream-errors"])]
#[case::duplicate_versions(Breakage::DuplicateVersions, &["contract:version-numbering"])]
#[case::bearer_rejected(Breakage::BearerRejected, &["contract:key-formats"])]
#[case::rejection_without_detail(Breakage::RejectionWithoutDetail, &["contract:bad-keys-rejected"])]
#[case::rate_limit_remaining_stuck(Breakage::RateLimitRemainingStuck, &["contract:rate-limit-headers"])]
#[case::cache_not_refreshed(Breakage::CacheNotRefreshed, &["contract:cache-expiry"])]
#[case::usage_not_reported(Breakage::UsageNotReported, &["contract:usage-reported"])]
#[case::slow_health(Breakage::SlowHealth, &["contract:health-latency"])]
#[case::root_without_key(Breakage::RootWithoutKey, &["contract:root-needs-key"])]
#[case::detailed_health_fails(Breakage::DetailedHealthFails, &["contract:health-detailed"])]
#[case::version_route_missing(Breakage::VersionRouteMissing, &["contract:ops-routes"])]
#[case::bare_api_unprotected(Breakage::BareApiUnprotected, &["contract:key-required-everywhere"])]
#[case::html_errors_pass_through(Breakage::HtmlErrorsPassThrough, &["contract:html-errors-as-json"])]
#[case::wrong_error_code(Breakage::WrongErrorCode, &["contract:errors-pass-through"])]
#[case::breaker_stuck_open(Breakage::BreakerStuckOpen, &["contract:health-mlflow"])]
#[case::key_not_sent_as_bearer(Breakage::KeyNotSentAsBearer, &["contract:validate-call"])]
#[case::auth_health_not_json(Breakage::AuthHealthNotJson, &["contract:auth-health"])]
#[case::experiments_check_wrong(Breakage::ExperimentsCheckWrong, &["contract:api-health-mlflow"])]
#[case::health_ignores_mlflow(Breakage::HealthIgnoresMlflow, &["mlflow-down", "contract:health-reports-dependencies"])]
#[case::rate_limit_without_retry_after(Breakage::RateLimitWithoutRetryAfter, &["contract:rate-limit-enforced"])]
#[case::rate_limit_shared(Breakage::RateLimitShared, &["contract:rate-limit-per-key"])]
#[case::identity_headers_missing(Breakage::IdentityHeadersMissing, &["contract:proxy-headers"])]
#[case::missing_artifact_is_500(Breakage::MissingArtifactIs500, &["contract:artifacts-proxied"])]
#[case::large_bodies_truncated(Breakage::LargeBodiesTruncated, &["contract:large-artifacts"])]
#[case::malformed_body_is_500(Breakage::MalformedBodyIs500, &["contract:malformed-bodies"])]
#[case::cache_key_renamed(Breakage::CacheKeyRenamed, &["contract:cache-entry"])]
#[case::cache_not_read(Breakage::CacheNotRead, &["contract:cache-avoids-revalidation"])]
#[case::cache_renewed_on_use(Breakage::CacheRenewedOnUse, &["contract:revocation-window"])]
#[case::latest_versions_empty(Breakage::LatestVersionsEmpty, &["contract:model-visible"])]
#[case::run_params_dropped(Breakage::RunParamsDropped, &["contract:read-back"])]
#[case::version_tags_rejected(Breakage::VersionTagsRejected, &["contract:registration-workflow"])]
#[case::api_spelling_differs(Breakage::ApiSpellingDiffers, &["contract:ajax-rewrite"])]
#[case::search_ignores_filter(Breakage::SearchIgnoresFilter, &["contract:proxy-tracking"])]
#[case::scopes_ignored(Breakage::ScopesIgnored, &["contract:write-scopes"])]
#[case::ecs_scaled_to_zero(Breakage::EcsScaledToZero, &["contract:ecs-services"])]
#[case::slow_version_create(Breakage::SlowVersionCreate, &["contract:workflow-budget"])]
#[case::api_blocks_while_serving(Breakage::ApiBlocksWhileServing, &["api-blocks-while-serving"])]
#[case::artifact_delete_refused(Breakage::ArtifactDeleteRefused, &["contract:nothing-left-behind"])]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_breakage_is_named_as_its_contract_line(
    #[case] breakage: Breakage,
    #[case] want: &[&str],
    #[values("hokusai-2025-08", "hokusai-2026")] profile: &str,
    #[values(Dialect::Contract, Dialect::Reworded)] dialect: Dialect,
) {
    let rs = results_in(profile, &[], &[breakage], dialect).await;
    if !breakage_profiles(breakage).contains(&profile) {
        // Not against this profile's contract: the suite must stay green.
        assert!(
            rs.iter().all(|r| !r.outcome.is_bad()),
            "{breakage} is allowed in {profile}:{}",
            summary(&rs)
        );
        return;
    }
    let (causes, unclassified) = rca::analyse(&rs);
    let named: BTreeSet<&str> = causes.iter().map(|c| c.id.as_str()).collect();
    let want: BTreeSet<&str> = want.iter().copied().collect();
    assert_eq!(
        named,
        want,
        "{breakage} ({profile}, {dialect:?}): causes named {named:?}; failures:{}",
        summary(&rs)
    );
    assert!(
        unclassified.is_empty(),
        "{breakage}: unclassified: {unclassified:#?}"
    );
    for c in causes.iter().filter(|c| c.id.starts_with("contract:")) {
        assert!(!c.fix.is_empty() && !c.resource.is_empty() && c.title.contains('§'));
    }
}

/// The contract lines × checks matrix (`docs/contract-matrix.md`, generated): for each line
/// of the contract a check verifies, the checks that verify it, the stand-in switches whose
/// report names it, and who owns it. Regenerate with
/// `HOKUSAI_UPDATE_FAULT_MATRIX=1 cargo test --test fault_catalogue contract_matrix`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contract_matrix_is_published() {
    use hokusai_verify::check::Line;
    use strum::IntoEnumIterator;
    let mut checks: BTreeMap<Line, BTreeSet<String>> = BTreeMap::new();
    for p in PROFILES {
        for s in hokusai_verify::checks::catalogue(&Profile::load(p).unwrap()) {
            let line = s
                .line
                .unwrap_or_else(|| panic!("{s:?} declares no contract line"));
            checks
                .entry(line)
                .or_default()
                .insert(format!("{}/{}", s.area, s.id));
        }
    }
    let mut named: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut tasks = tokio::task::JoinSet::new();
    for b in Breakage::all() {
        for p in breakage_profiles(b) {
            tasks.spawn(async move { (b, results(p, &[], &[b]).await) });
        }
    }
    while let Some(done) = tasks.join_next().await {
        let (b, rs) = done.expect("a scenario task");
        for c in rca::analyse(&rs).0 {
            named.entry(c.id).or_default().insert(format!("`{b}`"));
        }
    }
    let mut doc = String::from(
        "# Contract lines (generated)\n\nEvery line of `contract.md` that a check verifies, as typed data (`hokusai_verify::check::Line`):\nthe rule, who owns it, the checks that verify it, and the stand-in breakages whose report names\nit as the cause. A failure that no infrastructure fault of `faults.md` explains is reported under\nthe line its check verifies. Generated by `tests/fault_catalogue.rs`; regenerate with\n`HOKUSAI_UPDATE_FAULT_MATRIX=1 cargo test --test fault_catalogue contract_matrix`.\n\n| cause id | § | rule | owner | checks | named under breakage |\n|---|---|---|---|---|---|\n",
    );
    for l in Line::iter() {
        let i = l.info();
        let cs: Vec<String> = checks
            .get(&l)
            .into_iter()
            .flatten()
            .map(|c| format!("`{c}`"))
            .collect();
        let by: Vec<String> = named.get(&l.id()).into_iter().flatten().cloned().collect();
        doc.push_str(&format!(
            "| `{}` | {} | {} | {} | {} | {} |\n",
            l.id(),
            i.section,
            i.rule.replace('|', "\\|"),
            i.component,
            if cs.is_empty() {
                "—".into()
            } else {
                cs.join(", ")
            },
            if by.is_empty() {
                "—".into()
            } else {
                by.join(", ")
            },
        ));
    }
    let unbroken: Vec<String> = Line::iter()
        .filter(|l| checks.contains_key(l) && !named.contains_key(&l.id()))
        .map(|l| l.id())
        .collect();
    assert!(
        unbroken.is_empty(),
        "contract lines a check verifies but no breakage of the stand-in names: {unbroken:?}"
    );
    let unchecked: Vec<String> = Line::iter()
        .filter(|l| !checks.contains_key(l))
        .map(|l| l.id())
        .collect();
    assert!(
        unchecked.is_empty(),
        "contract lines no check verifies: {unchecked:?}"
    );
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/contract-matrix.md");
    if std::env::var("HOKUSAI_UPDATE_FAULT_MATRIX").is_ok_and(|v| v == "1") {
        std::fs::write(path, &doc).unwrap();
    }
    assert!(
        std::fs::read_to_string(path).unwrap_or_default() == doc,
        "docs/contract-matrix.md is stale; regenerate with HOKUSAI_UPDATE_FAULT_MATRIX=1 cargo test --test fault_catalogue contract_matrix"
    );
}
