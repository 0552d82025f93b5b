//! The worked example of docs/fixtures.md: a new check, written with the fixtures, with its
//! test against the target and its test under a fault. (docs/fixtures.md shows this file;
//! `tests/docs.rs` fails when the two differ.)

use hokusai_verify::catalogue::{Area, Fault};
use hokusai_verify::check::{Check, CheckFuture, CheckSpec, Component, Line, Outcome, ensure};
use hokusai_verify::fixtures::Env;
use hokusai_verify::http::{Auth, Req};

/// The check: the registered-models search answers 200 JSON through the proxy.
fn models_search_works(c: &mut Check) -> CheckFuture<'_> {
    Box::pin(async move {
        let key = c.env.keys.primary.clone();
        let req = Req::get("/api/mlflow/api/2.0/mlflow/registered-models/search")
            .query("max_results", "5")
            .auth(Auth::Bearer(key));
        let ex = c.registry(req).await?; // timed, recorded as evidence, redacted
        ensure(
            ex.status == 200 && ex.json().is_some(),
            "200 JSON",
            ex.summary(),
        )
    })
}

fn spec() -> CheckSpec {
    CheckSpec::new(
        Area::MlflowProxy,
        "models_search_works",
        Component::Mlflow,
        "registered-models/search answers",
        models_search_works,
    )
    // The contract line it verifies: a failure no infrastructure fault explains is
    // reported under it.
    .line(Line::ProxyTracking)
}

/// Against the configured target (the stand-in unless HOKUSAI_TARGET=live).
#[tokio::test]
async fn models_search_works_on_the_target() {
    let env = Env::from_env().await.expect("configuration");
    let result = spec().run(&env).await;
    assert!(!result.outcome.is_bad(), "{}", result.explain());
}

/// Every check must be able to fail: here, MLflow down makes it fail.
#[tokio::test]
async fn models_search_fails_when_mlflow_is_down() {
    let env = Env::standin_with(
        hokusai_verify::config::Profile::default_profile(),
        &[Fault::MlflowDown],
    )
    .await;
    let result = spec().run(&env).await;
    assert_eq!(result.outcome, Outcome::Failed, "{}", result.explain());
    // ...and the report names the cause from what the check saw (a 502 from the proxy).
    let (causes, _) = hokusai_verify::report::rca::analyse(&[result]);
    assert_eq!(causes[0].id, "mlflow-down");
}
