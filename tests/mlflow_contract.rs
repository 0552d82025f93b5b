//! MLflow contract tests: the stand-in's MLflow emulation must answer like a real
//! `mlflow server` of the profile's major. Every case runs under both majors, against the
//! stand-in (under the profile whose platform runs that major) and a real server of that
//! major, under both `api/2.0` and `ajax-api/2.0`; the normalised transcripts (ids,
//! timestamps and generated names replaced) must be equal, and they are pinned in **one
//! snapshot per case and major** (`snapshots/mlflow<major>_contract_*`).
//!
//! The real servers come from `HOKUSAI_MLFLOW_URL` (3.x) and `HOKUSAI_MLFLOW2_URL` (2.9.2);
//! `make test` starts both. Without one the stand-in is still compared with the snapshot
//! recorded from that real MLflow; under `CI` a missing real server is a failure.

use hokusai_verify::catalogue::Area;
use hokusai_verify::config::{MlflowRelease, Profile};
use hokusai_verify::http::{HttpClient, Req};
use hokusai_verify::standin::{StandIn, StandInOptions};
use reqwest::Method;
use rstest::rstest;
use serde_json::{Value, json};
use std::time::Duration;
use url::Url;

/// One conversation with one server under one prefix, recorded in normalised form.
struct Session {
    http: HttpClient,
    base: Url,
    prefix: &'static str,
    token: String,
    runs: Vec<String>,
    experiments: Vec<String>,
    /// Logged models (MLflow 3's `m-<hex>` ids).
    models: Vec<String>,
    transcript: Vec<Value>,
}

enum Body {
    None,
    Json(Value),
    Raw(Vec<u8>, Option<&'static str>),
}

impl Session {
    fn new(base: Url, prefix: &'static str) -> Self {
        let token: String = std::iter::repeat_with(fastrand::lowercase)
            .take(10)
            .collect();
        Self {
            http: HttpClient::new(Duration::from_secs(20), Duration::from_secs(3)),
            base,
            prefix,
            token: format!("contract-{token}"),
            runs: vec![],
            experiments: vec![],
            models: vec![],
            transcript: vec![],
        }
    }

    /// A unique name for this session (normalised to `<token>` in the transcript).
    fn name(&self, what: &str) -> String {
        format!("{}-{what}", self.token)
    }

    async fn call(
        &mut self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Body,
    ) -> (u16, Value) {
        let full = if path.starts_with('/') {
            path.to_owned()
        } else if let Some(rest) = path.strip_prefix("artifacts:") {
            format!("/{}/mlflow-artifacts/artifacts{rest}", self.prefix)
        } else {
            format!("/{}/mlflow/{path}", self.prefix)
        };
        let mut req = Req::new(method.clone(), full);
        for (k, v) in query {
            req = req.query(*k, *v);
        }
        req = match body {
            Body::None => req,
            Body::Json(v) => req.json(&v),
            Body::Raw(b, ct) => req.raw_body(b, ct),
        };
        let ex = self
            .http
            .send(&self.base, req)
            .await
            .expect("the server answers");
        let ct = ex.content_type().unwrap_or_default();
        let parsed = if ct == "application/json" {
            ex.json().unwrap_or(Value::Null)
        } else if ct == "text/html" {
            // MLflow's error pages: keep what matters (the title), not Flask's markup.
            let text = String::from_utf8_lossy(&ex.body);
            let title = text
                .split("<title>")
                .nth(1)
                .and_then(|t| t.split("</title>").next())
                .unwrap_or("");
            json!({"html_title": title})
        } else if ex.body.is_empty() {
            Value::Null
        } else {
            json!({"text": String::from_utf8_lossy(&ex.body)})
        };
        self.learn_ids(&parsed);
        let request = format!("{method} {path}");
        let entry = json!({"request": request, "status": ex.status, "content_type": ct, "body": parsed.clone()});
        let normalised = self.normalise(entry);
        self.transcript.push(normalised);
        (ex.status, parsed)
    }

    async fn post(&mut self, path: &str, body: Value) -> (u16, Value) {
        self.call(Method::POST, path, &[], Body::Json(body)).await
    }
    async fn get(&mut self, path: &str, query: &[(&str, &str)]) -> (u16, Value) {
        self.call(Method::GET, path, query, Body::None).await
    }
    async fn delete(&mut self, path: &str, body: Value) -> (u16, Value) {
        self.call(Method::DELETE, path, &[], Body::Json(body)).await
    }

    /// A fresh experiment with one run in it (both recorded): their ids.
    async fn experiment_and_run(&mut self, label: &str) -> (String, String) {
        let (_, v) = self
            .post("experiments/create", json!({"name": self.name(label)}))
            .await;
        let exp = v["experiment_id"].as_str().unwrap_or_default().to_owned();
        let run_name = format!("{label}-run");
        let (_, v) = self
            .post(
                "runs/create",
                json!({"experiment_id": exp, "run_name": run_name, "start_time": 1}),
            )
            .await;
        let run = v["run"]["info"]["run_id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        (exp, run)
    }

    fn learn_ids(&mut self, v: &Value) {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    if let Some(s) = x.as_str() {
                        if (k == "run_id" || k == "run_uuid")
                            && !s.is_empty()
                            && !self.runs.contains(&s.to_owned())
                        {
                            self.runs.push(s.to_owned());
                        }
                        if k == "experiment_id" && !self.experiments.contains(&s.to_owned()) {
                            self.experiments.push(s.to_owned());
                        }
                        if k == "model_id" && !self.models.contains(&s.to_owned()) {
                            self.models.push(s.to_owned());
                        }
                    }
                    self.learn_ids(x);
                }
            }
            Value::Array(a) => a.iter().for_each(|x| self.learn_ids(x)),
            _ => {}
        }
    }

    fn normalise(&self, v: Value) -> Value {
        match v {
            Value::Object(m) => Value::Object(
                m.into_iter()
                    .map(|(k, x)| {
                        let x = match (&*k, &x) {
                            (
                                "timestamp"
                                | "creation_time"
                                | "last_update_time"
                                | "creation_timestamp"
                                | "last_updated_timestamp"
                                | "start_time"
                                | "end_time"
                                | "creation_timestamp_ms"
                                | "last_updated_timestamp_ms",
                                Value::Number(_),
                            ) => json!("<ts>"),
                            ("experiment_id", Value::String(s)) => json!(self.exp_label(s)),
                            _ => self.normalise(x),
                        };
                        (k, x)
                    })
                    .collect(),
            ),
            Value::Array(a) => Value::Array(a.into_iter().map(|x| self.normalise(x)).collect()),
            Value::String(s) => Value::String(self.normalise_str(&s)),
            other => other,
        }
    }

    fn exp_label(&self, id: &str) -> String {
        match self.experiments.iter().position(|e| e == id) {
            Some(i) if id != "0" => format!("<exp-{i}>"),
            _ => id.to_owned(),
        }
    }

    fn normalise_str(&self, s: &str) -> String {
        let mut out = s.replace(&self.token, "<token>");
        // MLflow 2's missing-artifact message names the server's local artifact folder.
        const FROM: &str = "downloading one or more artifacts from ";
        if let Some(start) = out.find(FROM).map(|i| i + FROM.len())
            && let Some(len) = out[start..].find(":\n")
        {
            let root = out[start..start + len].to_owned();
            out = out.replace(&root, "<artifact-root>");
        }
        for (i, r) in self.runs.iter().enumerate() {
            out = out.replace(r, &format!("<run-{i}>"));
        }
        for (i, m) in self.models.iter().enumerate() {
            out = out.replace(m, &format!("<model-{i}>"));
        }
        for e in &self.experiments {
            let label = self.exp_label(e);
            out = out.replace(
                &format!("mlflow-artifacts:/{e}/"),
                &format!("mlflow-artifacts:/{label}/"),
            );
            out = out.replace(
                &format!("mlflow-artifacts:/{e}\""),
                &format!("mlflow-artifacts:/{label}\""),
            );
            if out == format!("mlflow-artifacts:/{e}") {
                out = format!("mlflow-artifacts:/{label}");
            }
            out = out.replace(&format!("'{e}/"), &format!("'{label}/"));
            out = out.replace(&format!(":/{e}/"), &format!(":/{label}/"));
            out = out.replace(&format!("id={e} "), &format!("id={label} "));
            out = out.replace(&format!("File {e}/"), &format!("File {label}/"));
            out = out.replace(
                &format!("<artifact-root>/{e}/"),
                &format!("<artifact-root>/{label}/"),
            );
            out = out.replace(
                &format!("Invalid value {e} for parameter 'experiment_id'"),
                &format!("Invalid value {label} for parameter 'experiment_id'"),
            );
        }
        // The real server's duplicate-experiment message carries the SQL statement.
        if let Some(i) = out.find("\n[SQL: ").or_else(|| out.find(" [SQL: ")) {
            out.truncate(i);
        }
        out
    }
}

type Case = for<'a> fn(
    &'a mut Session,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + 'a>>;

fn experiments_create_get_search(
    s: &mut Session,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>> {
    Box::pin(async move {
        let name = s.name("exp");
        let (_, v) = s
            .post(
                "experiments/create",
                json!({"name": name, "tags": [{"key": "team", "value": "hokusai"}]}),
            )
            .await;
        let id = v["experiment_id"].as_str().unwrap_or_default().to_owned();
        s.get("experiments/get-by-name", &[("experiment_name", &name)])
            .await;
        s.get("experiments/get", &[("experiment_id", &id)]).await;
        let filter = format!("name = '{name}'");
        s.get(
            "experiments/search",
            &[("max_results", "5"), ("filter", &filter)],
        )
        .await;
        s.post(
            "experiments/search",
            json!({"max_results": 5, "filter": filter}),
        )
        .await;
        s.post("experiments/create", json!({"name": name})).await;
    })
}

fn experiments_errors(
    s: &mut Session,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>> {
    Box::pin(async move {
        s.get("experiments/get", &[("experiment_id", "99999999")])
            .await;
        s.get("experiments/get", &[("experiment_id", "abc")]).await;
        let missing = s.name("missing");
        s.get("experiments/get-by-name", &[("experiment_name", &missing)])
            .await;
        s.get("experiments/search", &[]).await;
        s.post("experiments/search", json!({})).await;
        s.post("experiments/search", json!({"max_results": "ten"}))
            .await;
        s.post("experiments/search", json!({"max_results": -1}))
            .await;
        s.post("experiments/create", json!({})).await;
        s.post("experiments/create", json!({"name": 123})).await;
    })
}

fn runs_flow(
    s: &mut Session,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>> {
    Box::pin(async move {
        let name = s.name("runs");
        let (_, v) = s.post("experiments/create", json!({"name": name})).await;
        let exp = v["experiment_id"].as_str().unwrap_or_default().to_owned();
        let (_, v) = s
            .post("runs/create", json!({"experiment_id": exp, "start_time": 1795670547999_i64, "run_name": "probe-run", "tags": [{"key": "mlflow.user", "value": "ci"}]}))
            .await;
        let run = v["run"]["info"]["run_id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        s.post("runs/log-metric", json!({"run_id": run, "key": "loss", "value": 0.5, "timestamp": 1795670547999_i64, "step": 1})).await;
        s.post("runs/log-metric", json!({"run_id": run, "key": "loss", "value": 0.25, "timestamp": 1795670548999_i64, "step": 2})).await;
        s.post(
            "runs/log-batch",
            json!({"run_id": run, "metrics": [{"key": "acc", "value": 0.9, "timestamp": 1795670547999_i64, "step": 0}],
                   "params": [{"key": "lr", "value": "0.01"}], "tags": [{"key": "stage", "value": "train"}]}),
        )
        .await;
        s.post(
            "runs/log-parameter",
            json!({"run_id": run, "key": "epochs", "value": "10"}),
        )
        .await;
        s.post(
            "runs/log-parameter",
            json!({"run_id": run, "key": "epochs", "value": "20"}),
        )
        .await;
        s.post(
            "runs/set-tag",
            json!({"run_id": run, "key": "git_sha", "value": "abc123"}),
        )
        .await;
        s.post(
            "runs/update",
            json!({"run_id": run, "status": "FINISHED", "end_time": 1795670552999_i64}),
        )
        .await;
        s.get("runs/get", &[("run_id", &run)]).await;
        s.get(
            "metrics/get-history",
            &[("run_id", &run), ("metric_key", "loss")],
        )
        .await;
        s.post(
            "runs/log-metric",
            json!({"run_id": run, "key": "loss", "value": "high", "timestamp": 1}),
        )
        .await;
        s.post(
            "runs/log-metric",
            json!({"run_id": run, "key": "loss", "value": 0.1}),
        )
        .await;
        // The experiment's id as a number (MLflow 3 refuses the type, 2.9.2 takes it).
        let numeric: i64 = exp.parse().unwrap_or_default();
        s.post(
            "runs/create",
            json!({"experiment_id": numeric, "run_name": "x", "start_time": 1795670547999_i64}),
        )
        .await;
        s.get(
            "runs/get",
            &[("run_id", "0123456789abcdef0123456789abcdef")],
        )
        .await;
    })
}

fn registry_flow(
    s: &mut Session,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>> {
    Box::pin(async move {
        let model = s.name("model");
        s.post("registered-models/create", json!({"name": model, "tags": [{"key": "owner", "value": "hokusai"}], "description": "probe"})).await;
        s.get("registered-models/get", &[("name", &model)]).await;
        let filter = format!("name='{model}'");
        s.get(
            "registered-models/search",
            &[("filter", &filter), ("max_results", "10")],
        )
        .await;
        s.post(
            "registered-models/set-tag",
            json!({"name": model, "key": "env", "value": "development"}),
        )
        .await;
        s.post(
            "model-versions/create",
            json!({"name": model, "source": "s3://bucket/x", "description": "v1"}),
        )
        .await;
        s.post(
            "model-versions/create",
            json!({"name": model, "source": "s3://bucket/x"}),
        )
        .await;
        s.get("model-versions/get", &[("name", &model), ("version", "1")])
            .await;
        s.get("model-versions/search", &[("filter", &filter)]).await;
        s.post(
            "model-versions/set-tag",
            json!({"name": model, "version": "1", "key": "validated", "value": "true"}),
        )
        .await;
        s.post(
            "registered-models/get-latest-versions",
            json!({"name": model}),
        )
        .await;
        s.get("registered-models/get-latest-versions", &[("name", &model)])
            .await;
        s.post(
            "registered-models/alias",
            json!({"name": model, "alias": "champion", "version": "1"}),
        )
        .await;
        s.get(
            "registered-models/alias",
            &[("name", &model), ("alias", "champion")],
        )
        .await;
        s.get("registered-models/get", &[("name", &model)]).await;
        s.get(
            "model-versions/get-download-uri",
            &[("name", &model), ("version", "1")],
        )
        .await;
        s.delete(
            "registered-models/alias",
            json!({"name": model, "alias": "champion"}),
        )
        .await;
        s.delete(
            "model-versions/delete",
            json!({"name": model, "version": "2"}),
        )
        .await;
        s.post(
            "model-versions/create",
            json!({"name": model, "source": "s3://bucket/x"}),
        )
        .await;
        s.delete("registered-models/delete", json!({"name": model}))
            .await;
        s.get("registered-models/get", &[("name", &model)]).await;
        s.get("model-versions/search", &[("filter", &filter)]).await;
        s.get("registered-models/search", &[("filter", &filter)])
            .await;
    })
}

fn registry_errors(
    s: &mut Session,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>> {
    Box::pin(async move {
        let model = s.name("dup");
        s.post("registered-models/create", json!({"name": model}))
            .await;
        s.post("registered-models/create", json!({"name": model}))
            .await;
        s.get("model-versions/get", &[("name", &model), ("version", "7")])
            .await;
        s.get(
            "model-versions/get",
            &[("name", &model), ("version", "abc")],
        )
        .await;
        s.post(
            "model-versions/create",
            json!({"name": model, "source": "s3://bucket/x"}),
        )
        .await;
        s.post(
            "model-versions/set-tag",
            json!({"name": model, "version": 1, "key": "k", "value": "v"}),
        )
        .await;
        s.get(
            "registered-models/alias",
            &[("name", &model), ("alias", "champion")],
        )
        .await;
        s.post(
            "registered-models/alias",
            json!({"name": model, "alias": "champion", "version": "9"}),
        )
        .await;
        let missing = s.name("nope-model");
        s.post(
            "model-versions/create",
            json!({"name": missing, "source": "s3://bucket/x"}),
        )
        .await;
        s.get("registered-models/get", &[("name", &missing)]).await;
        s.delete("registered-models/delete", json!({"name": missing}))
            .await;
        s.call(
            Method::DELETE,
            "registered-models/delete",
            &[("name", &model)],
            Body::None,
        )
        .await;
        s.delete("registered-models/delete", json!({"name": model}))
            .await;
    })
}

fn malformed_requests(
    s: &mut Session,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>> {
    Box::pin(async move {
        let name = s.name("bad");
        for body in [
            format!("{{\"name\": \"{name}\""),
            "not json".to_owned(),
            format!("{{\"name\": \"{name}\",}}"),
        ] {
            s.call(
                Method::POST,
                "experiments/create",
                &[],
                Body::Raw(body.into_bytes(), Some("application/json")),
            )
            .await;
        }
        s.call(
            Method::POST,
            "experiments/create",
            &[],
            Body::Raw(b"[1,2]".to_vec(), Some("application/json")),
        )
        .await;
        s.call(
            Method::POST,
            "experiments/create",
            &[],
            Body::Raw(
                format!("{{\"name\": \"{name}-ct\"}}").into_bytes(),
                Some("text/plain"),
            ),
        )
        .await;
        s.call(
            Method::POST,
            "experiments/create",
            &[],
            Body::Raw(format!("{{\"name\": \"{name}-none\"}}").into_bytes(), None),
        )
        .await;
        s.get("no-such-endpoint", &[]).await;
        s.get("experiments/create", &[]).await;
        s.post("registered-models/search", json!({})).await;
        s.call(Method::PUT, "runs/create", &[], Body::Json(json!({})))
            .await;
        s.get(
            "registered-models/search",
            &[("filter", "name = 'nobody-has-this-name'")],
        )
        .await;
    })
}

fn artifacts(
    s: &mut Session,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>> {
    Box::pin(async move {
        let (exp, run) = s.experiment_and_run("art").await;
        let base = format!(":/{exp}/{run}/artifacts");
        s.call(
            Method::PUT,
            &format!("artifacts{base}/model/MLmodel"),
            &[],
            Body::Raw(
                b"artifact_path: model\n".to_vec(),
                Some("application/octet-stream"),
            ),
        )
        .await;
        s.call(
            Method::GET,
            &format!("artifacts{base}/model/MLmodel"),
            &[],
            Body::None,
        )
        .await;
        let dir = format!("{exp}/{run}/artifacts/model");
        s.call(Method::GET, "artifacts:", &[("path", &dir)], Body::None)
            .await;
        s.get("artifacts/list", &[("run_id", &run)]).await;
        s.get("artifacts/list", &[("run_id", &run), ("path", "model")])
            .await;
        s.call(
            Method::GET,
            &format!("artifacts{base}/missing.txt"),
            &[],
            Body::None,
        )
        .await;
        let missing_dir = format!("{exp}/{run}/artifacts/nothing-here");
        s.call(
            Method::GET,
            "artifacts:",
            &[("path", &missing_dir)],
            Body::None,
        )
        .await;
    })
}

fn repeated_query_keys(
    s: &mut Session,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>> {
    Box::pin(async move {
        let model = s.name("repeat");
        s.post("registered-models/create", json!({"name": model}))
            .await;
        let (first, second) = (
            format!("name = '{model}'"),
            format!("name = '{model}-other'"),
        );
        // A single-valued key twice: MLflow 3 takes the first, 2.9.2 crashes (HTML 500).
        s.get(
            "registered-models/search",
            &[
                ("filter", &first),
                ("filter", &second),
                ("max_results", "5"),
            ],
        )
        .await;
        s.get(
            "registered-models/search",
            &[("filter", &second), ("filter", &first)],
        )
        .await;
        s.get(
            "registered-models/search",
            &[
                ("filter", &first),
                ("max_results", "5"),
                ("max_results", "0"),
            ],
        )
        .await;
        // A key MLflow repeats by design (`run_id` of the ajax-only bulk history): both majors
        // take every value.
        s.call(
            Method::GET,
            "/ajax-api/2.0/mlflow/metrics/get-history-bulk",
            &[
                ("run_id", "0123456789abcdef0123456789abcdef"),
                ("run_id", "abcdef0123456789abcdef0123456789"),
                ("metric_key", "loss"),
            ],
            Body::None,
        )
        .await;
        s.delete("registered-models/delete", json!({"name": model}))
            .await;
    })
}

/// What an MLflow 3 client sends to log and register a model (recorded from
/// `mlflow.pyfunc.log_model(..., registered_model_name=...)` of 3.17.2, docs/mlflow-clients.md):
/// MLflow 3's logged models. MLflow 2.9.2 has none of these routes.
fn logged_models(
    s: &mut Session,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>> {
    Box::pin(async move {
        let (exp, run) = s.experiment_and_run("logged").await;
        let (_, v) = s
            .post(
                "logged-models",
                json!({"experiment_id": exp, "name": "model", "source_run_id": run,
                       "tags": [{"key": "mlflow.user", "value": "ci"}]}),
            )
            .await;
        // Under 2.9.2 (no such route) the rest still runs, on an id that does not exist.
        let id = v["model"]["info"]["model_id"]
            .as_str()
            .unwrap_or("m-00000000000000000000000000000001")
            .to_owned();
        s.get(&format!("logged-models/{id}"), &[]).await;
        s.post(
            "runs/outputs",
            json!({"run_id": run, "models": [{"model_id": id, "step": 0}]}),
        )
        .await;
        s.post(
            "runs/log-inputs",
            json!({"run_id": run, "models": [{"model_id": id}]}),
        )
        .await;
        s.post("runs/log-inputs", json!({"run_id": run})).await;
        s.post("runs/log-inputs", json!({})).await;
        s.call(
            Method::PUT,
            &format!("artifacts:/{exp}/models/{id}/artifacts/MLmodel"),
            &[],
            Body::Raw(
                b"artifact_path: model\n".to_vec(),
                Some("application/octet-stream"),
            ),
        )
        .await;
        s.call(
            Method::PATCH,
            &format!("logged-models/{id}"),
            &[],
            Body::Json(json!({"model_id": id, "status": "LOGGED_MODEL_READY"})),
        )
        .await;
        s.call(
            Method::PATCH,
            &format!("logged-models/{id}/tags"),
            &[],
            Body::Json(json!({"tags": [{"key": "flavor", "value": "python_function"}]})),
        )
        .await;
        s.post("logged-models/search", json!({"experiment_ids": [exp]}))
            .await;
        s.post("logged-models/search", json!({"experiment_ids": []}))
            .await;
        // A run MLflow does not know is taken; a failed upload is a status of its own.
        let (_, v) = s
            .post(
                "logged-models",
                json!({"experiment_id": exp, "name": "second",
                       "source_run_id": "0123456789abcdef0123456789abcdef"}),
            )
            .await;
        let second = v["model"]["info"]["model_id"]
            .as_str()
            .unwrap_or("m-00000000000000000000000000000002")
            .to_owned();
        for status in ["LOGGED_MODEL_UPLOAD_FAILED", "LOGGED_MODEL_PENDING"] {
            s.call(
                Method::PATCH,
                &format!("logged-models/{second}"),
                &[],
                Body::Json(json!({"model_id": second, "status": status})),
            )
            .await;
        }
        s.call(
            Method::DELETE,
            &format!("logged-models/{second}"),
            &[],
            Body::None,
        )
        .await;
        s.post(
            "logged-models/search",
            json!({"experiment_ids": [exp], "filter": "name = 'nothing-has-this-name'"}),
        )
        .await;
        let name = s.name("logged-model");
        s.post("registered-models/create", json!({"name": name}))
            .await;
        s.post(
            "model-versions/create",
            json!({"name": name, "source": format!("models:/{id}"), "model_id": id}),
        )
        .await;
        s.get(
            "model-versions/get-download-uri",
            &[("name", &name), ("version", "1")],
        )
        .await;
        s.get(&format!("logged-models/{id}"), &[]).await;
        s.get("runs/get", &[("run_id", &run)]).await;
        s.get("logged-models/m-00000000000000000000000000000000", &[])
            .await;
        s.post("logged-models", json!({"name": "model"})).await;
        s.call(
            Method::DELETE,
            &format!("logged-models/{id}"),
            &[],
            Body::None,
        )
        .await;
        s.get(&format!("logged-models/{id}"), &[]).await;
        s.delete("registered-models/delete", json!({"name": name}))
            .await;
    })
}

/// What an MLflow 2 client sends after uploading a model: `runs/log-model` with the
/// `MLmodel` as JSON, kept by MLflow in the run's `mlflow.log-model.history` tag.
fn log_model_history(
    s: &mut Session,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>> {
    Box::pin(async move {
        let (_, run) = s.experiment_and_run("history").await;
        for when in ["2026-12-03 00:59:41.395177", "2026-12-03 01:00:00.000000"] {
            let model = format!(
                "{{\"run_id\": \"{run}\", \"artifact_path\": \"model\", \"utc_time_created\": \"{when}\", \"flavors\": {{\"python_function\": {{\"loader_module\": \"hokusai_logreg\"}}}}}}"
            );
            s.post(
                "runs/log-model",
                json!({"run_id": run, "model_json": model}),
            )
            .await;
        }
        s.get("runs/get", &[("run_id", &run)]).await;
        s.post("runs/log-model", json!({"run_id": run})).await;
    })
}

const CASES: &[(&str, Case)] = &[
    (
        "experiments_create_get_search",
        experiments_create_get_search,
    ),
    ("experiments_errors", experiments_errors),
    ("runs_flow", runs_flow),
    ("registry_flow", registry_flow),
    ("registry_errors", registry_errors),
    ("malformed_requests", malformed_requests),
    ("artifacts", artifacts),
    ("repeated_query_keys", repeated_query_keys),
    ("logged_models", logged_models),
    ("log_model_history", log_model_history),
];

/// An MLflow release the contract tests prove the stand-in against: the release each
/// profile pins, and the newest 3.x (so that differences between minors of one major are
/// found here), each with a real server `make test` starts and one snapshot set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Major {
    /// MLflow 2.9.2, pinned by the `hokusai-2025-08` platform.
    V2,
    /// MLflow 3.9.0, pinned by the `hokusai-2026` platform.
    V3_9,
    /// The newest MLflow 3 (`python/requirements.txt`), the stand-in answering like it.
    V3,
}

impl Major {
    /// The profile whose stand-in answers like this release.
    fn profile(self) -> Profile {
        let name = match self {
            Major::V2 => "hokusai-2025-08",
            Major::V3_9 | Major::V3 => "hokusai-2026",
        };
        let mut p = Profile::load(name).unwrap();
        if self == Major::V3 {
            p.proxy.mlflow_release = MlflowRelease::NEWEST.version().to_owned();
        }
        assert_eq!(p.proxy.mlflow_major_version, self.number());
        assert_eq!(p.mlflow_release(), self.release());
        p
    }
    fn release(self) -> MlflowRelease {
        match self {
            Major::V2 => MlflowRelease::V2_9_2,
            Major::V3_9 => MlflowRelease::V3_9_0,
            Major::V3 => MlflowRelease::NEWEST,
        }
    }
    fn number(self) -> u8 {
        self.release().major().number()
    }
    fn url_var(self) -> &'static str {
        match self {
            Major::V2 => "HOKUSAI_MLFLOW2_URL",
            Major::V3_9 => "HOKUSAI_MLFLOW39_URL",
            Major::V3 => "HOKUSAI_MLFLOW_URL",
        }
    }
    fn snapshot(self, case: &str) -> String {
        match self {
            Major::V3_9 => format!("mlflow3.9_contract_{case}"),
            _ => format!("mlflow{}_contract_{case}", self.number()),
        }
    }
    /// The real server of this release, if one is running.
    fn real_server(self) -> Option<Url> {
        let var = self.url_var();
        let url = match std::env::var(var) {
            Ok(u) => Url::parse(&u).unwrap_or_else(|e| panic!("{var} is not a URL: {e}")),
            Err(_) if ci() => panic!(
                "CI must compare with a real MLflow {}: run `make test` (it starts one) or set {var}",
                self.release().version()
            ),
            Err(_) => {
                eprintln!(
                    "{var} not set: comparing the stand-in with the snapshots recorded from real MLflow {} only",
                    self.release().version()
                );
                return None;
            }
        };
        Some(url)
    }
}

fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// The real MLflow 3 the registration checks run against.
fn real_server() -> Option<Url> {
    Major::V3.real_server()
}

/// One conversation with a real server at a time: MLflow 3.17.2 on SQLite once numbered a new
/// model's first version "2" while another model got a version at the same moment, and the
/// transcripts must not depend on timing. (The stand-in has its own store per test.)
static REAL_SERVER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn transcript(base: Url, prefix: &'static str, case: Case) -> Value {
    let mut s = Session::new(base, prefix);
    case(&mut s).await;
    Value::Array(s.transcript)
}

#[rstest]
#[case::experiments_create_get_search("experiments_create_get_search")]
#[case::experiments_errors("experiments_errors")]
#[case::runs_flow("runs_flow")]
#[case::registry_flow("registry_flow")]
#[case::registry_errors("registry_errors")]
#[case::malformed_requests("malformed_requests")]
#[case::artifacts("artifacts")]
#[case::repeated_query_keys("repeated_query_keys")]
#[case::logged_models("logged_models")]
#[case::log_model_history("log_model_history")]
#[tokio::test]
async fn stand_in_answers_like_real_mlflow(
    #[values(Major::V2, Major::V3_9, Major::V3)] major: Major,
    #[case] name: &str,
) {
    let case = CASES.iter().find(|(n, _)| *n == name).unwrap().1;
    let standin = StandIn::start(StandInOptions::new(major.profile()))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut runs: Vec<(String, Value)> = Vec::new();
    for prefix in ["api/2.0", "ajax-api/2.0"] {
        runs.push((
            format!("stand-in {prefix}"),
            transcript(standin.mlflow_url(), prefix, case).await,
        ));
        if let Some(real) = major.real_server() {
            let _one_at_a_time = REAL_SERVER.lock().await;
            runs.push((
                format!("real MLflow {} {prefix}", major.release().version()),
                transcript(real, prefix, case).await,
            ));
        }
    }
    let (first_name, first) = &runs[0];
    for (other_name, other) in &runs[1..] {
        if let Some(diff) = first_difference(first, other) {
            // Both whole transcripts, to diff at leisure (a temp dir, never the run folder).
            let dir = std::env::temp_dir().join("hokusai-verify-contract");
            std::fs::create_dir_all(&dir).unwrap();
            let mut kept = vec![];
            for (label, t) in [(first_name, first), (other_name, other)] {
                let f = dir.join(format!(
                    "{}-{}.json",
                    major.snapshot(name),
                    label.replace(['/', ' '], "_")
                ));
                std::fs::write(&f, serde_json::to_string_pretty(t).unwrap()).unwrap();
                kept.push(f.display().to_string());
            }
            panic!(
                "{first_name} and {other_name} differ in case {name}:\n{diff}\nwhole transcripts: {}",
                kept.join(" ")
            );
        }
    }
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("../snapshots");
    settings.set_prepend_module_to_snapshot(false);
    // One snapshot per major: recorded from real MLflow, matched by the stand-in.
    settings.bind(|| insta::assert_json_snapshot!(major.snapshot(name), runs[runs.len() - 1].1));
}

/// Where two transcripts first differ, with context; `None` when equal.
fn first_difference(a: &Value, b: &Value) -> Option<String> {
    let (a, b) = (
        serde_json::to_string_pretty(a).unwrap(),
        serde_json::to_string_pretty(b).unwrap(),
    );
    {
        if a != b {
            let (al, bl): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
            let at = al
                .iter()
                .zip(&bl)
                .position(|(x, y)| x != y)
                .unwrap_or(al.len().min(bl.len()));
            let from = at.saturating_sub(8);
            return Some(format!(
                "at line {at}:\n--- first\n{}\n--- second\n{}",
                al[from..(at + 4).min(al.len())].join("\n"),
                bl[from..(at + 4).min(bl.len())].join("\n")
            ));
        }
    }
    None
}

/// A deliberate divergence — one status, one field, one `{}` turned into `[]` — is caught by
/// the comparison that gates every case, against the transcript recorded from real MLflow.
#[tokio::test]
async fn a_divergence_in_any_field_or_status_fails() {
    let standin = StandIn::start(StandInOptions::new(Major::V3.profile()))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let ours = transcript(standin.mlflow_url(), "api/2.0", registry_flow).await;
    let snap = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/snapshots/mlflow3_contract_registry_flow.snap"
    ))
    .unwrap();
    let recorded: Value = serde_json::from_str(snap.splitn(3, "---").nth(2).unwrap()).unwrap();
    assert_eq!(
        first_difference(&ours, &recorded),
        None,
        "the stand-in matches the recording"
    );
    let mutations: [fn(&mut Value); 3] = [
        |t| t[0]["status"] = json!(201),
        |t| t[1]["body"]["registered_model"]["description"] = json!("changed"),
        |t| {
            *t.as_array_mut()
                .unwrap()
                .last_mut()
                .unwrap()
                .get_mut("body")
                .unwrap() = json!({"registered_models": []})
        },
    ];
    for mutate in mutations {
        let mut diverged = ours.clone();
        mutate(&mut diverged);
        assert!(first_difference(&diverged, &recorded).is_some());
    }
}

/// The registration-flow checks, straight against a real MLflow of each major (no proxy,
/// no key).
#[rstest]
#[case::workflow("workflow_completes")]
#[case::registry("model_in_registry")]
#[case::version_2("second_registration_is_version_2")]
#[case::readback("metrics_and_params_read_back")]
#[case::artifacts("artifacts_round_trip")]
#[case::budget("workflow_within_budget")]
#[case::cleanup("cleanup_leaves_nothing")]
#[case::logged_model("logged_model_registers")]
#[tokio::test]
async fn registration_flow_against_real_mlflow(
    #[values(Major::V2, Major::V3_9, Major::V3)] major: Major,
    #[case] id: &str,
) {
    let Some(real) = major.real_server() else {
        return;
    };
    let _one_at_a_time = REAL_SERVER.lock().await;
    let env = hokusai_verify::fixtures::Env::for_mlflow_server(real, major.profile()).await;
    let Some(spec) = hokusai_verify::checks::find(env.profile(), Area::RegistrationFlow, id) else {
        // MLflow 2 has no logged models: the check is planned only under MLflow 3.
        assert_eq!((major, id), (Major::V2, "logged_model_registers"));
        return;
    };
    let r = spec.run(&env).await;
    assert_eq!(
        r.outcome,
        hokusai_verify::check::Outcome::Passed,
        "{}",
        r.explain()
    );
    assert!(r.left_behind.is_empty(), "left behind: {:?}", r.left_behind);
}

use hokusai_verify::load::peak_rss_mb;

/// 200 MB up and down through the real MLflow, checksummed; the client streams both ways,
/// so this process's peak memory grows by far less than the artifact.
#[tokio::test]
async fn artifact_of_200_mb_round_trips_streamed() {
    let Some(real) = real_server() else { return };
    use hokusai_verify::mlflow::{ApiPrefix, MlflowClient};
    let http = HttpClient::new(Duration::from_secs(120), Duration::from_secs(3));
    let client = MlflowClient::direct(http, real, ApiPrefix::Api);
    let name = format!(
        "{}-large",
        hokusai_verify::mlflow::workflow::unique_token("contract")
    );
    let exp = client.create_experiment(&name, &[]).await.unwrap();
    let run = client.create_run(&exp, "large", &[]).await.unwrap();
    let rel = format!("{exp}/{}/artifacts/model/weights.bin", run.info.run_id);
    let before = peak_rss_mb();
    let len = 200 * 1024 * 1024;
    let sent = client.upload_artifact_stream(&rel, len, 7).await.unwrap();
    let (got_len, got) = client.download_artifact_digest(&rel).await.unwrap();
    let after = peak_rss_mb();
    assert_eq!(
        (got_len, got),
        (len, sent),
        "bytes differ after the round trip"
    );
    if let (Some(b), Some(a)) = (before, after) {
        eprintln!("200 MB round trip: peak RSS {b:.0} MB -> {a:.0} MB");
        assert!(
            a - b < 100.0,
            "the client buffered the artifact: peak RSS grew by {:.0} MB",
            a - b
        );
    }
    // The suite's clean-up leaves none of the 200 MB behind.
    let created = hokusai_verify::mlflow::workflow::Created::default();
    created.experiment(exp);
    created.run(run.info.run_id.clone());
    assert_eq!(created.cleanup(&client, None).await, Vec::new());
    assert!(
        client.download_artifact(&rel).await.is_err(),
        "the artifact outlived the clean-up"
    );
}

/// Clean-up removes a run's artifacts (MLflow keeps them when the run is deleted), on the
/// real MLflow and on the stand-in alike: afterwards the files are gone.
#[rstest]
#[case::real("real")]
#[case::standin("standin")]
#[tokio::test]
async fn clean_up_removes_a_runs_artifacts(#[case] target: &str) {
    use hokusai_verify::mlflow::{ApiPrefix, MlflowClient};
    let standin;
    let base = if target == "real" {
        let Some(real) = real_server() else { return };
        real
    } else {
        let profile = hokusai_verify::config::Profile::default_profile();
        standin = hokusai_verify::standin::StandIn::start(
            hokusai_verify::standin::StandInOptions::new(profile),
        )
        .await
        .expect("the stand-in starts (Redis)");
        standin.mlflow_url()
    };
    let http = HttpClient::new(Duration::from_secs(30), Duration::from_secs(3));
    let client = MlflowClient::direct(http, base, ApiPrefix::Api);
    let name = format!(
        "{}-artifacts",
        hokusai_verify::mlflow::workflow::unique_token("contract")
    );
    let created = hokusai_verify::mlflow::workflow::Created::default();
    let exp = client.create_experiment(&name, &[]).await.unwrap();
    created.experiment(exp.clone());
    let run = client.create_run(&exp, "artifacts", &[]).await.unwrap();
    created.run(run.info.run_id.clone());
    let files = ["model/MLmodel", "model/weights.bin", "notes.txt"];
    for f in files {
        let rel = format!("{exp}/{}/artifacts/{f}", run.info.run_id);
        client
            .upload_artifact(&rel, b"hokusai-verify".to_vec())
            .await
            .unwrap();
    }
    assert_eq!(created.cleanup(&client, None).await, Vec::new());
    for f in files {
        let rel = format!("{exp}/{}/artifacts/{f}", run.info.run_id);
        assert!(
            client.download_artifact(&rel).await.is_err(),
            "{target}: {f} outlived the clean-up"
        );
    }
}

#[test]
fn every_case_has_a_test() {
    let source = include_str!("mlflow_contract.rs");
    for (name, _) in CASES {
        assert!(
            source.contains(&format!("#[case::{name}(\"{name}\")]")),
            "{name}"
        );
    }
}
