//! Checklist area 4, the MLflow proxy (contract section 6): tracking calls through
//! `/api/mlflow/`, both path spellings, header handling, DELETE bodies and repeated query
//! keys, error pass-through and HTML-to-JSON mapping, artifacts.

use super::expect;
use crate::catalogue::Area;
use crate::check::Symptom;
use crate::check::symptom::UNKNOWN_ENDPOINT;
use crate::check::{
    Check, CheckFuture, CheckSpec, Component, Failure, Line, ResultExt, ensure, ensure_eq,
};
use crate::config::Profile;
use crate::http::{Auth, Req};
use crate::mlflow::naming::{experiment_name, model_name, unique_token};
use crate::mlflow::{ApiPrefix, MLFLOW_ERROR_CODES, MlflowClient, Tag};
use reqwest::Method;
use serde_json::{Value, json};
use strum::IntoEnumIterator;

pub const AREA: Area = Area::MlflowProxy;

/// The two spellings of MLflow's REST API through the proxy (`api/2.0`, `ajax-api/2.0`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::EnumIter, strum::Display)]
#[strum(serialize_all = "kebab-case")]
pub enum Spelling {
    Api,
    Ajax,
}

impl Spelling {
    fn prefix(self) -> ApiPrefix {
        match self {
            Spelling::Api => ApiPrefix::Api,
            Spelling::Ajax => ApiPrefix::Ajax,
        }
    }
}

/// What a precondition through the primary route verifies: tracking calls through the proxy.
const SETUP: Line = Line::ProxyTracking;

pub fn checks(profile: &Profile) -> Vec<CheckSpec> {
    let mut v = Vec::new();
    for s in crate::catalogue::Spelling::all().filter(|s| profile.routes(*s)) {
        v.push(
            CheckSpec::case(
                AREA,
                "spelling_routed",
                Component::Api,
                format!(
                    "{}… reaches MLflow with a valid key (contract sections 6 and 10)",
                    s.prefix()
                ),
                s,
                spelling_routed,
            )
            .line(Line::routed(s))
            .reads(),
        );
    }
    for p in Spelling::iter() {
        v.push(
            CheckSpec::case(
                AREA,
                "tracking_calls",
                Component::Mlflow,
                format!(
                    "experiment, run, metric, artifact and searches work through the proxy ({p} spelling)"
                ),
                p,
                tracking_calls,
            )
            .line(Line::ProxyTracking),
        );
    }
    v.extend([
        CheckSpec::new(
            AREA,
            "prefix_equivalence",
            Component::Api,
            "api/2.0 and ajax-api/2.0 spellings return the same results",
            prefix_equivalence,
        )
        .line(Line::AjaxRewrite),
        CheckSpec::new(
            AREA,
            "auth_headers_handled",
            Component::Api,
            "MLflow gets the X-Hokusai-* identity headers and (per profile) never the key",
            auth_headers_handled,
        )
        .line(Line::ProxyHeaders)
            .reads(),
        CheckSpec::new(
            AREA,
            "delete_body_forwarded",
            Component::Api,
            "a DELETE with a JSON body reaches MLflow intact",
            delete_body_forwarded,
        )
        .line(Line::DeleteBodies),
        CheckSpec::new(
            AREA,
            "repeated_query_keys",
            Component::Api,
            "repeated query keys reach MLflow intact",
            repeated_query_keys,
        )
        .line(Line::RepeatedQuery),
        CheckSpec::new(
            AREA,
            "json_errors_pass_through",
            Component::Api,
            "MLflow's JSON errors reach the client unchanged",
            json_errors_pass_through,
        )
        .line(Line::ErrorsPassThrough)
            .reads(),
        CheckSpec::new(
            AREA,
            "html_errors_become_json",
            Component::Api,
            "MLflow's HTML 404/405 pages become JSON with a valid MLflow error_code",
            html_errors_become_json,
        )
        .line(Line::HtmlErrorsAsJson)
            .reads(),
        CheckSpec::new(
            AREA,
            "artifacts_through_proxy",
            Component::Artifacts,
            "artifact PUT/GET through the proxy, byte-identical; a missing one answered as the profile's MLflow major does",
            artifacts_through_proxy,
        )
        .line(Line::ArtifactsProxied),
    ]);
    v
}

/// A read on the spelling, as MLflow's own client sends it, must get MLflow's own answer (a
/// JSON object from its handler), not the API's 404 or an HTML page.
fn spelling_routed(c: &mut Check, spelling: crate::catalogue::Spelling) -> CheckFuture<'_> {
    Box::pin(async move {
        let key = c.env.keys.primary.clone();
        let path = spelling.path("experiments/search");
        let ex = c
            .registry(
                Req::get(&path)
                    .query("max_results", "1")
                    .auth(Auth::Bearer(key)),
            )
            .await?;
        super::key_got_through(c, &ex)?;
        if ex.status >= 500 {
            // The route reached the proxy; what failed is upstream (its own symptoms say).
            return Err(Failure::failed("MLflow's answer", expect::describe(&ex))
                .blocked("MLflow answering behind the route"));
        }
        // MLflow's answer to experiments/search: `experiments` (absent when there are none)
        // and perhaps a page token; never FastAPI's `detail`.
        let mlflow = ex.status == 200
            && ex
                .json()
                .as_ref()
                .and_then(Value::as_object)
                .is_some_and(|o| {
                    o.keys()
                        .all(|k| k == "experiments" || k == "next_page_token")
                });
        let verdict = ensure(
            mlflow,
            format!("MLflow's answer to GET {path}"),
            expect::describe(&ex),
        );
        if ex.status == 404 && ex.detail().is_some() {
            return verdict.map_err(|f| f.symptom(Symptom::SpellingUnrouted { spelling }));
        }
        verdict
    })
}

fn tracking_calls(c: &mut Check, spelling: Spelling) -> CheckFuture<'_> {
    Box::pin(async move {
        let client = c.mlflow(spelling.prefix());
        let created = c.created(&client);
        async {
            let name = experiment_name("proxy");
            let id = client
                .create_experiment(&name, &[Tag::new("hokusai_verify", "true")])
                .await?;
            created.experiment(id.clone());
            let run = client.create_run(&id, "proxy-run", &[]).await?;
            created.run(run.info.run_id.clone());
            client.log_metric(&run.info.run_id, "loss", 0.25, 1).await?;
            let rel = format!("{id}/{}/artifacts/notes.txt", run.info.run_id);
            client
                .upload_artifact(&rel, b"hokusai-verify".to_vec())
                .await?;
            let found = client
                .search_experiments(Some(&format!("name = '{name}'")), 5)
                .await?;
            ensure(
                found.iter().any(|e| e.experiment_id == id) && found.iter().all(|e| e.name == name),
                format!("experiments/search filtered to the new experiment ({name})"),
                format!(
                    "{} result(s): {:?}",
                    found.len(),
                    found.iter().map(|e| &e.name).take(5).collect::<Vec<_>>()
                ),
            )?;
            let listed = client.search_experiments(None, 100).await?;
            ensure(!listed.is_empty(), "experiments listed", "none")?;
            let by_name = client.get_experiment_by_name(&name).await?;
            ensure_eq(
                "experiment by name",
                by_name.map(|e| e.experiment_id),
                Some(id),
            )
        }
        .await
    })
}

/// Drops what differs between two reads of the same thing (none today; the hook for ids).
fn same(a: &Value, b: &Value) -> bool {
    a == b
}

fn prefix_equivalence(c: &mut Check) -> CheckFuture<'_> {
    Box::pin(async move {
        let api = c.mlflow(ApiPrefix::Api);
        let ajax = api.with_prefix(ApiPrefix::Ajax);
        let created = c.created(&api);
        async {
            let name = experiment_name("prefix");
            let id = api
                .create_experiment(&name, &[])
                .await
                .pre_on("creating an experiment through the primary route", SETUP)?;
            created.experiment(id.clone());
            for (endpoint, query) in [
                (
                    "experiments/get-by-name",
                    vec![("experiment_name", name.clone())],
                ),
                ("experiments/get", vec![("experiment_id", id.clone())]),
                (
                    "experiments/search",
                    vec![
                        ("max_results", "5".into()),
                        ("filter", format!("name = '{name}'")),
                    ],
                ),
            ] {
                let mut answers = Vec::new();
                for client in [&api, &ajax] {
                    let mut req = Req::get(client.path(endpoint));
                    for (k, v) in &query {
                        req = req.query(*k, v.clone());
                    }
                    let ex = client.raw(req).await?;
                    answers.push((
                        ex.status,
                        ex.json().unwrap_or(Value::Null),
                        expect::describe(&ex),
                    ));
                }
                let (a, b) = (&answers[0], &answers[1]);
                ensure(
                    a.0 == 200 && b.0 == 200 && same(&a.1, &b.1),
                    format!("the same 200 answer to {endpoint} under api/2.0 and ajax-api/2.0"),
                    format!("api/2.0: {}; ajax-api/2.0: {}", a.2, b.2),
                )?;
            }
            Ok(())
        }
        .await
    })
}

fn auth_headers_handled(c: &mut Check) -> CheckFuture<'_> {
    Box::pin(async move {
        let env = c.env.clone();
        let client = c.mlflow(ApiPrefix::Api);
        for auth in [
            Auth::Bearer(env.keys.primary.clone()),
            Auth::XApiKey(env.keys.primary.clone()),
        ] {
            let req = Req::get(client.path("experiments/search"))
                .query("max_results", "1")
                .auth(auth.clone());
            let ex = c.registry(req).await?;
            // Both header forms must get through (the key-formats line); what this check
            // verifies is what the proxy does with the headers.
            super::key_got_through(c, &ex)?;
            ensure(
                !ex.echoes_secret(),
                "no response carrying the key",
                "the key came back in the response",
            )?;
        }
        let Some(standin) = env.standin() else {
            return Err(Failure::not_applicable(
                "what MLflow receives is only visible on the stand-in; live evidence: no response echoed the key",
            ));
        };
        let forwarded = standin.forwarded();
        let last_two = &forwarded[forwarded.len().saturating_sub(2)..];
        ensure(
            last_two.len() == 2,
            "two forwarded requests",
            format!("{}", last_two.len()),
        )
        .pre("the two requests reaching MLflow")?;
        let forwards = env.profile().proxy.forwards_auth_headers;
        for f in last_two {
            c.note(
                "mlflow",
                format!("forwarded {} {}", f.method, f.path),
                0.0,
                Ok(f.header_names.join(", ")),
            );
            if f.carried_key && !forwards {
                c.saw(Symptom::KeyForwarded);
            }
            ensure(
                f.carried_key == forwards,
                if forwards {
                    "the key forwarded to MLflow (profile forwards it)"
                } else {
                    "no Authorization / X-API-Key reaching MLflow"
                },
                if f.carried_key {
                    "MLflow received the key"
                } else {
                    "MLflow did not receive the key"
                },
            )?;
            for h in ["x-hokusai-user-id", "x-hokusai-api-key-id"] {
                ensure(
                    f.header_names.iter().any(|n| n == h),
                    format!("{h} added"),
                    format!("headers: {}", f.header_names.join(", ")),
                )?;
            }
        }
        Ok(())
    })
}

fn delete_body_forwarded(c: &mut Check) -> CheckFuture<'_> {
    Box::pin(async move {
        let client = c.mlflow(ApiPrefix::Api);
        let created = c.created(&client);
        async {
            let name = model_name(&unique_token("delete"));
            client
                .create_registered_model(&name, "delete probe", &[])
                .await
                .pre_on("creating a model to delete", Line::RegistrationWorkflow)?;
            created.model(name.clone());
            let req = Req::new(Method::DELETE, client.path("registered-models/delete"))
                .json(&json!({"name": name}));
            let ex = client.raw(req).await?;
            // MLflow refuses a delete without its JSON body with a 400 in its error shape:
            // the body was lost on the way. (A 401 or 403 is the API's own answer, not this.)
            if ex.status == 400
                && ex
                    .json()
                    .is_some_and(|v| v.get("error_code").is_some_and(Value::is_string))
            {
                c.saw(Symptom::RequestBodyDropped);
            }
            expect::status(&ex, 200)?;
            match client.get_registered_model(&name).await {
                Err(e) if e.is_gone() => Ok(()),
                Ok(_) => Err(Failure::failed(
                    "the model deleted by DELETE registered-models/delete {name}",
                    "it still exists",
                )
                .symptom(Symptom::DeleteNotApplied)),
                Err(e) => Err(e.into()),
            }
        }
        .await
    })
}

fn repeated_query_keys(c: &mut Check) -> CheckFuture<'_> {
    Box::pin(async move {
        // Set up through the primary route; the query through `ajax-api`, where MLflow
        // serves get-history-bulk (an endpoint of its UI's API).
        let client = c.mlflow(ApiPrefix::Api);
        let ajax = client.with_prefix(ApiPrefix::Ajax);
        let created = c.created(&client);
        async {
            let name = experiment_name("query");
            let step = "logging two runs' metrics to query";
            let id = client
                .create_experiment(&name, &[])
                .await
                .pre_on(step, SETUP)?;
            created.experiment(id.clone());
            let mut runs = Vec::new();
            for (i, value) in [0.5, 0.25].into_iter().enumerate() {
                let run = client
                    .create_run(&id, &format!("q{i}"), &[])
                    .await
                    .pre_on(step, SETUP)?;
                created.run(run.info.run_id.clone());
                client
                    .log_metric(&run.info.run_id, "loss", value, 0)
                    .await
                    .pre_on(step, SETUP)?;
                runs.push(run.info.run_id);
            }
            // get-history-bulk takes `run_id` repeated: both runs must come back.
            let req = Req::get(ajax.path("metrics/get-history-bulk"))
                .query("run_id", runs[0].clone())
                .query("run_id", runs[1].clone())
                .query("metric_key", "loss");
            let ex = ajax.raw(req).await?;
            expect::status(&ex, 200)?;
            let got: Vec<String> = ex
                .json()
                .and_then(|v| v.get("metrics").cloned())
                .and_then(|m| m.as_array().cloned())
                .unwrap_or_default()
                .iter()
                .filter_map(|m| m.get("run_id").and_then(Value::as_str).map(str::to_owned))
                .collect();
            ensure(
                runs.iter().all(|r| got.contains(r)),
                "metrics of both run_id values",
                format!("metrics of {} run(s)", got.len()),
            )
            .map_err(|f| f.symptom(Symptom::RepeatedQueryCollapsed))
        }
        .await
    })
}

fn json_errors_pass_through(c: &mut Check) -> CheckFuture<'_> {
    Box::pin(async move {
        let client = c.mlflow(ApiPrefix::Api);
        let missing = model_name(&unique_token("missing"));
        let ex = client
            .raw(Req::get(client.path("registered-models/get")).query("name", missing))
            .await?;
        let body = expect::json_object(&ex)?;
        ensure(
            ex.status == 404
                && body.get("error_code").and_then(Value::as_str)
                    == Some("RESOURCE_DOES_NOT_EXIST")
                && body.get("message").is_some(),
            "404 {error_code: RESOURCE_DOES_NOT_EXIST, message} as MLflow sends it",
            expect::describe(&ex),
        )?;
        let ex = client
            .raw(Req::get(client.path("experiments/search")))
            .await?;
        let body = expect::json_object(&ex)?;
        ensure(
            ex.status == 400
                && body.get("error_code").and_then(Value::as_str)
                    == Some("INVALID_PARAMETER_VALUE"),
            "400 INVALID_PARAMETER_VALUE for experiments/search without max_results",
            expect::describe(&ex),
        )
    })
}

fn html_errors_become_json(c: &mut Check) -> CheckFuture<'_> {
    Box::pin(async move {
        let client = c.mlflow(ApiPrefix::Api);
        for (req, status) in [
            (Req::get(client.path(UNKNOWN_ENDPOINT)), 404),
            (Req::get(client.path("experiments/create")), 405),
        ] {
            let ex = client.raw(req).await?;
            let code = ex.json().and_then(|v| {
                v.get("error_code")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            });
            ensure(
                ex.status == status
                    && !ex.is_html()
                    && code
                        .as_deref()
                        .is_some_and(|c| MLFLOW_ERROR_CODES.contains(&c)),
                format!("{status} JSON with an MLflow error_code"),
                expect::describe(&ex),
            )?;
            let message = ex
                .json()
                .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_owned))
                .unwrap_or_default();
            ensure(
                message.contains("experiments/create") || message.contains(UNKNOWN_ENDPOINT),
                "a message naming the path",
                message,
            )?;
        }
        Ok(())
    })
}

fn artifacts_through_proxy(c: &mut Check) -> CheckFuture<'_> {
    Box::pin(async move {
        let client: MlflowClient = c.mlflow(ApiPrefix::Api);
        let created = c.created(&client);
        async {
            let name = experiment_name("artifacts");
            let step = "a run to hold the artifacts";
            let id = client
                .create_experiment(&name, &[])
                .await
                .pre_on(step, SETUP)?;
            created.experiment(id.clone());
            let run = client
                .create_run(&id, "artifact-run", &[])
                .await
                .pre_on(step, SETUP)?;
            created.run(run.info.run_id.clone());
            let bytes: Vec<u8> = (0..64 * 1024).map(|i| (i * 31 % 251) as u8).collect();
            let rel = format!("{id}/{}/artifacts/data/blob.bin", run.info.run_id);
            client.upload_artifact(&rel, bytes.clone()).await?;
            let back = client.download_artifact(&rel).await?;
            ensure(
                back == bytes,
                format!("{} bytes back unchanged", bytes.len()),
                format!("{} bytes, different", back.len()),
            )?;
            let missing = format!("{id}/{}/artifacts/data/missing.bin", run.info.run_id);
            let ex = client.raw(Req::get(client.artifact_path(&missing))).await?;
            expect::missing_artifact(&ex, c.env.profile().mlflow_release())
        }
        .await
    })
}
