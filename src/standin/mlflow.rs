//! An in-memory MLflow tracking server and model registry that answers like a real
//! `mlflow server` (3.x) for the calls the suite makes: shapes, status codes and error
//! bodies follow `shared/reference/mlflow-real.md`, and `tests/mlflow_contract.rs` compares
//! it with a real server.

use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap};

/// A response of the emulated MLflow server.
#[derive(Debug, Clone)]
pub struct MlflowReply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

impl MlflowReply {
    /// The wiremock answer for this reply (no content type for an empty PUT answer, as MLflow).
    pub fn into_template(self) -> wiremock::ResponseTemplate {
        let t = wiremock::ResponseTemplate::new(self.status);
        if self.content_type.is_empty() {
            t.set_body_bytes(self.body)
        } else {
            t.set_body_raw(self.body, self.content_type)
        }
    }

    fn json(v: &Value) -> Self {
        // Real MLflow pretty-prints success bodies with a 2-space indent.
        Self {
            status: 200,
            content_type: "application/json",
            body: serde_json::to_vec_pretty(v).expect("json"),
        }
    }
    fn empty_json() -> Self {
        Self {
            status: 200,
            content_type: "application/json",
            body: b"{}".to_vec(),
        }
    }
    fn html(status: u16, title: &str, text: &str) -> Self {
        let body = format!(
            "<!doctype html>\n<html lang=en>\n<title>{status} {title}</title>\n<h1>{title}</h1>\n<p>{text}</p>\n"
        );
        Self {
            status,
            content_type: "text/html; charset=utf-8",
            body: body.into_bytes(),
        }
    }
    pub fn not_found_page() -> Self {
        Self::html(
            404,
            "Not Found",
            "The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again.",
        )
    }
    fn method_not_allowed_page() -> Self {
        Self::html(
            405,
            "Method Not Allowed",
            "The method is not allowed for the requested URL.",
        )
    }
    fn text(status: u16, text: &str) -> Self {
        Self {
            status,
            content_type: "text/plain; charset=utf-8",
            body: text.as_bytes().to_vec(),
        }
    }
}

/// An MLflow error (`{"error_code", "message", ...}`).
#[derive(Debug, Clone)]
pub struct MlErr {
    status: u16,
    code: &'static str,
    message: String,
}

impl MlErr {
    fn invalid(message: impl Into<String>) -> Self {
        Self {
            status: 400,
            code: "INVALID_PARAMETER_VALUE",
            message: message.into(),
        }
    }
    fn missing(message: impl Into<String>) -> Self {
        Self {
            status: 404,
            code: "RESOURCE_DOES_NOT_EXIST",
            message: message.into(),
        }
    }
    fn exists(message: impl Into<String>) -> Self {
        Self {
            status: 400,
            code: "RESOURCE_ALREADY_EXISTS",
            message: message.into(),
        }
    }
    fn reply(&self) -> MlflowReply {
        let class = match self.code {
            "RESOURCE_DOES_NOT_EXIST" => "RESOURCE_NOT_FOUND",
            c => c,
        };
        // Error bodies are single-line with ", " separators, as Python's json.dumps writes them.
        let body = format!(
            "{{\"error_code\": {}, \"message\": {}, \"sqlstate\": \"KAM00\", \"error_class\": {}}}",
            Value::from(self.code),
            Value::from(self.message.as_str()),
            Value::from(class)
        );
        MlflowReply {
            status: self.status,
            content_type: "application/json",
            body: body.into_bytes(),
        }
    }
}

type MlResult = Result<MlflowReply, MlErr>;

const PARAM_DOCS: &str = "See the API docs for more information about request parameters.";

#[derive(Debug, Clone)]
struct Experiment {
    id: u64,
    name: String,
    lifecycle_stage: &'static str,
    creation_time: i64,
    last_update_time: i64,
    tags: Vec<(String, String)>,
}

#[derive(Debug, Clone)]
struct Metric {
    key: String,
    value: f64,
    timestamp: i64,
    step: i64,
}

#[derive(Debug, Clone)]
struct Run {
    run_id: String,
    experiment_id: u64,
    run_name: String,
    status: &'static str,
    start_time: i64,
    end_time: Option<i64>,
    lifecycle_stage: &'static str,
    metrics: Vec<Metric>,
    params: Vec<(String, String)>,
    tags: Vec<(String, String)>,
}

#[derive(Debug, Clone)]
struct ModelVersion {
    version: u64,
    creation_timestamp: i64,
    last_updated_timestamp: i64,
    description: String,
    source: String,
    run_id: String,
    tags: Vec<(String, String)>,
}

#[derive(Debug, Clone)]
struct RegisteredModel {
    name: String,
    creation_timestamp: i64,
    last_updated_timestamp: i64,
    description: String,
    tags: Vec<(String, String)>,
    aliases: BTreeMap<String, u64>,
    versions: BTreeMap<u64, ModelVersion>,
    last_version: u64,
}

/// The server's whole state.
#[derive(Debug)]
pub struct MlflowStore {
    experiments: BTreeMap<u64, Experiment>,
    next_experiment: u64,
    runs: HashMap<String, Run>,
    models: BTreeMap<String, RegisteredModel>,
    artifacts: BTreeMap<String, Vec<u8>>,
    /// The `duplicate-versions` breakage (set by the proxy for each request).
    pub duplicate_versions: bool,
}

impl Default for MlflowStore {
    fn default() -> Self {
        let now = now_ms();
        let mut experiments = BTreeMap::new();
        experiments.insert(
            0,
            Experiment {
                id: 0,
                name: "Default".into(),
                lifecycle_stage: "active",
                creation_time: now,
                last_update_time: now,
                tags: vec![],
            },
        );
        Self {
            experiments,
            next_experiment: 1,
            runs: HashMap::new(),
            models: BTreeMap::new(),
            artifacts: BTreeMap::new(),
            duplicate_versions: false,
        }
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn tags_json(tags: &[(String, String)]) -> Value {
    Value::Array(
        tags.iter()
            .map(|(k, v)| json!({"key": k, "value": v}))
            .collect(),
    )
}

/// Request parameters: the query string for GET, the JSON body otherwise.
struct Params(Map<String, Value>);

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::Bool(_) => "bool",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
        Value::Null => "NoneType",
    }
}

impl Params {
    fn opt_str(&self, name: &str) -> Result<Option<String>, MlErr> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(MlErr::invalid(format!(
                "Invalid value {other} for parameter '{name}' supplied:  Hint: Value was of type '{}'. {PARAM_DOCS}",
                type_name(other)
            ))),
        }
    }
    fn str(&self, name: &str) -> Result<String, MlErr> {
        match self.opt_str(name)? {
            Some(s) if !s.is_empty() => Ok(s),
            _ => Err(MlErr::invalid(format!(
                "Missing value for required parameter '{name}'. {PARAM_DOCS}"
            ))),
        }
    }
    fn opt_i64(&self, name: &str) -> Result<Option<i64>, MlErr> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) if n.is_i64() => Ok(n.as_i64()),
            // Query-string values arrive as strings.
            Some(Value::String(s)) => s.parse::<i64>().map(Some).map_err(|_| {
                MlErr::invalid(format!("Invalid value \"{s}\" for parameter '{name}' supplied:  Hint: Value was of type 'str'. {PARAM_DOCS}"))
            }),
            Some(other) => Err(MlErr::invalid(format!(
                "Invalid value {other} for parameter '{name}' supplied:  Hint: Value was of type '{}'. {PARAM_DOCS}",
                type_name(other)
            ))),
        }
    }
    fn f64(&self, name: &str) -> Result<f64, MlErr> {
        match self.0.get(name) {
            None | Some(Value::Null) => Err(MlErr::invalid(format!(
                "Missing value for required parameter '{name}'. {PARAM_DOCS}"
            ))),
            Some(Value::Number(n)) => Ok(n.as_f64().unwrap_or(f64::NAN)),
            Some(other) => Err(MlErr::invalid(format!(
                "Invalid value {other} for parameter '{name}' supplied:  Hint: Value was of type '{}'. {PARAM_DOCS}",
                type_name(other)
            ))),
        }
    }
    fn i64_required(&self, name: &str) -> Result<i64, MlErr> {
        self.opt_i64(name)?.ok_or_else(|| {
            MlErr::invalid(format!(
                "Missing value for required parameter '{name}'. {PARAM_DOCS}"
            ))
        })
    }
    fn tags(&self, name: &str) -> Result<Vec<(String, String)>, MlErr> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(vec![]),
            Some(Value::Array(items)) => items
                .iter()
                .map(|t| {
                    let k = t.get("key").and_then(Value::as_str);
                    let v = t.get("value").and_then(Value::as_str).unwrap_or("");
                    k.map(|k| (k.to_owned(), v.to_owned())).ok_or_else(|| {
                        MlErr::invalid(format!(
                            "Missing value for required parameter '{name}[].key'. {PARAM_DOCS}"
                        ))
                    })
                })
                .collect(),
            Some(other) => Err(MlErr::invalid(format!(
                "Invalid value {other} for parameter '{name}' supplied:  Hint: Value was of type '{}'. {PARAM_DOCS}",
                type_name(other)
            ))),
        }
    }
    fn max_results(&self, default: Option<i64>) -> Result<i64, MlErr> {
        let v = self.opt_i64("max_results")?.or(default).unwrap_or(0);
        if v <= 0 {
            return Err(MlErr::invalid(format!(
                "Invalid value {v} for parameter 'max_results' supplied. It must be a positive integer"
            )));
        }
        Ok(v)
    }
}

/// Which API family a path belongs to, once its prefix is removed.
enum Route<'a> {
    Mlflow(&'a str),
    Artifacts(&'a str),
    Health,
    Version,
    Unknown,
}

fn route(path: &str) -> Route<'_> {
    for prefix in ["/api/2.0/mlflow/", "/ajax-api/2.0/mlflow/"] {
        if let Some(rest) = path.strip_prefix(prefix) {
            return Route::Mlflow(rest);
        }
    }
    for prefix in [
        "/api/2.0/mlflow-artifacts/artifacts",
        "/ajax-api/2.0/mlflow-artifacts/artifacts",
    ] {
        if let Some(rest) = path.strip_prefix(prefix)
            && (rest.is_empty() || rest.starts_with('/'))
        {
            return Route::Artifacts(rest.trim_start_matches('/'));
        }
    }
    match path {
        "/health" => Route::Health,
        "/version" => Route::Version,
        _ => Route::Unknown,
    }
}

/// The methods each MLflow endpoint accepts (anything else is 405; an unknown path is 404).
fn allowed(endpoint: &str) -> Option<&'static [&'static str]> {
    Some(match endpoint {
        "experiments/create"
        | "experiments/delete"
        | "experiments/restore"
        | "experiments/update"
        | "experiments/set-experiment-tag" => &["POST"],
        "experiments/get" | "experiments/get-by-name" => &["GET"],
        "experiments/search" => &["GET", "POST"],
        "runs/create" | "runs/update" | "runs/delete" | "runs/restore" | "runs/log-metric"
        | "runs/log-batch" | "runs/log-parameter" | "runs/set-tag" | "runs/delete-tag"
        | "runs/search" => &["POST"],
        "runs/get" | "metrics/get-history" | "artifacts/list" | "metrics/get-history-bulk" => {
            &["GET"]
        }
        "registered-models/create" | "registered-models/set-tag" => &["POST"],
        "registered-models/get" | "registered-models/search" => &["GET"],
        "registered-models/delete" | "registered-models/delete-tag" => &["DELETE"],
        "registered-models/update" => &["PATCH"],
        "registered-models/get-latest-versions" => &["GET", "POST"],
        "registered-models/alias" => &["GET", "POST", "DELETE"],
        "model-versions/create" | "model-versions/set-tag" => &["POST"],
        "model-versions/get" | "model-versions/search" | "model-versions/get-download-uri" => {
            &["GET"]
        }
        "model-versions/delete" | "model-versions/delete-tag" => &["DELETE"],
        "model-versions/update" => &["PATCH"],
        _ => return None,
    })
}

/// How the server is reached and configured, for one request.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestContext {
    /// MLflow runs with `--serve-artifacts` (the default).
    pub artifacts_disabled: bool,
    /// The request came through the public host, where `/api/2.0/...` belongs to the API
    /// service and only `/ajax-api/2.0/...` reaches MLflow.
    pub via_public_host: bool,
}

impl MlflowStore {
    /// Answers a wiremock request at `path` (the path MLflow sees).
    pub fn handle_request(
        &mut self,
        req: &wiremock::Request,
        path: &str,
        ctx: RequestContext,
    ) -> MlflowReply {
        let query: Vec<(String, String)> = req
            .url
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let ct = req
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok());
        self.handle(req.method.as_str(), path, &query, ct, &req.body, ctx)
    }

    /// Answers one HTTP request. `query` is the decoded query string.
    pub fn handle(
        &mut self,
        method: &str,
        path: &str,
        query: &[(String, String)],
        content_type: Option<&str>,
        body: &[u8],
        ctx: RequestContext,
    ) -> MlflowReply {
        if ctx.via_public_host && path.starts_with("/api/") {
            return MlflowReply::not_found_page();
        }
        match route(path) {
            Route::Health => MlflowReply::text(200, "OK"),
            Route::Version => MlflowReply {
                status: 200,
                content_type: "text/html; charset=utf-8",
                body: b"3.17.2".to_vec(),
            },
            Route::Unknown => MlflowReply::not_found_page(),
            Route::Artifacts(rest) => {
                if ctx.artifacts_disabled {
                    return MlflowReply::text(
                        503,
                        "Endpoint: /api/2.0/mlflow-artifacts/artifacts/<path:artifact_path> disabled due to the mlflow server running with `--no-serve-artifacts`. To enable artifacts server functionality, run `mlflow server` with `--serve-artifacts`",
                    );
                }
                self.artifacts(method, rest, query, body)
                    .unwrap_or_else(|e| e.reply())
            }
            Route::Mlflow(endpoint) => {
                let Some(methods) = allowed(endpoint) else {
                    return MlflowReply::not_found_page();
                };
                if !methods.contains(&method) {
                    return MlflowReply::method_not_allowed_page();
                }
                if endpoint == "metrics/get-history-bulk" {
                    // An ajax-api-only route in MLflow; it takes repeated `run_id` keys.
                    if path.starts_with("/api/") {
                        return MlflowReply::not_found_page();
                    }
                    return self.history_bulk(query).unwrap_or_else(|e| e.reply());
                }
                let params = if method == "GET" {
                    Params(
                        query
                            .iter()
                            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                            .collect(),
                    )
                } else {
                    match content_type.map(|c| c.split(';').next().unwrap_or("").trim()) {
                        // A DELETE without a body is not checked (its parameters are then missing).
                        None if method == "DELETE" && body.is_empty() => {}
                        None => {
                            return MlErr::invalid("Bad Request. Content-Type header is missing.")
                                .reply();
                        }
                        Some("application/json") => {}
                        Some(_) => {
                            return MlErr::invalid(
                                "Bad Request. Content-Type must be one of ['application/json'].",
                            )
                            .reply();
                        }
                    }
                    match serde_json::from_slice::<Value>(body) {
                        Ok(Value::Object(m)) => Params(m),
                        // A JSON array crashes MLflow's request parser: Flask's HTML 500.
                        Ok(Value::Array(_)) => {
                            return MlflowReply::html(
                                500,
                                "Internal Server Error",
                                "The server encountered an internal error and was unable to complete your request. Either the server is overloaded or there is an error in the application.",
                            );
                        }
                        // Malformed JSON is treated as an empty body.
                        _ => Params(Map::new()),
                    }
                };
                self.endpoint(method, endpoint, &params)
                    .unwrap_or_else(|e| e.reply())
            }
        }
    }

    fn endpoint(&mut self, method: &str, endpoint: &str, p: &Params) -> MlResult {
        match (endpoint, method) {
            ("experiments/create", _) => self.create_experiment(p),
            ("experiments/get", _) => {
                let exp = self.experiment(&p.str("experiment_id")?)?;
                Ok(MlflowReply::json(&json!({"experiment": exp_json(exp)})))
            }
            ("experiments/get-by-name", _) => {
                let name = p.str("experiment_name")?;
                let exp = self
                    .experiments
                    .values()
                    .find(|e| e.name == name)
                    .ok_or_else(|| {
                        MlErr::missing(format!("Could not find experiment with name '{name}'"))
                    })?;
                Ok(MlflowReply::json(&json!({"experiment": exp_json(exp)})))
            }
            ("experiments/search", _) => self.search_experiments(p),
            ("experiments/delete", _) => {
                let id = p.str("experiment_id")?;
                let exp = self.experiment_mut(&id)?;
                exp.lifecycle_stage = "deleted";
                exp.last_update_time = now_ms();
                Ok(MlflowReply::empty_json())
            }
            ("runs/create", _) => self.create_run(p),
            ("runs/get", _) => {
                let run = self.run(&p.str("run_id")?)?;
                // runs/get (unlike runs/create) also reports the run's outputs.
                let mut v = self.run_json(run);
                v["outputs"] = json!({});
                Ok(MlflowReply::json(&json!({"run": v})))
            }
            ("runs/update", _) => {
                let id = p.str("run_id")?;
                let status = p.opt_str("status")?;
                let end = p.opt_i64("end_time")?;
                let name = p.opt_str("run_name")?;
                let run = self.run_mut(&id)?;
                if let Some(s) = status.as_deref().and_then(run_status) {
                    run.status = s;
                }
                if end.is_some() {
                    run.end_time = end;
                }
                if let Some(n) = name {
                    run.run_name = n;
                }
                let run = run.clone();
                Ok(MlflowReply::json(&json!({"run_info": self.run_info(&run)})))
            }
            ("runs/delete", _) => {
                self.run_mut(&p.str("run_id")?)?.lifecycle_stage = "deleted";
                Ok(MlflowReply::empty_json())
            }
            ("runs/log-metric", _) => {
                let id = p.str("run_id")?;
                let m = Metric {
                    key: p.str("key")?,
                    value: p.f64("value")?,
                    timestamp: p.i64_required("timestamp")?,
                    step: p.opt_i64("step")?.unwrap_or(0),
                };
                self.run_mut(&id)?.metrics.push(m);
                Ok(MlflowReply::empty_json())
            }
            ("runs/log-parameter", _) => {
                let id = p.str("run_id")?;
                let (k, v) = (p.str("key")?, p.opt_str("value")?.unwrap_or_default());
                log_param(self.run_mut(&id)?, k, v)?;
                Ok(MlflowReply::empty_json())
            }
            ("runs/log-batch", _) => self.log_batch(p),
            ("runs/set-tag", _) => {
                let id = p.str("run_id")?;
                let (k, v) = (p.str("key")?, p.opt_str("value")?.unwrap_or_default());
                set_tag(&mut self.run_mut(&id)?.tags, k, v);
                Ok(MlflowReply::empty_json())
            }
            ("runs/search", _) => self.search_runs(p),
            ("metrics/get-history", _) => {
                let run = self.run(&p.str("run_id")?)?;
                let key = p.str("metric_key")?;
                let ms: Vec<Value> = run
                    .metrics
                    .iter()
                    .filter(|m| m.key == key)
                    .map(metric_json)
                    .collect();
                Ok(list_or_empty("metrics", ms))
            }
            ("artifacts/list", _) => {
                let run = self.run(&p.str("run_id")?)?;
                let root = format!("{}/{}/artifacts", run.experiment_id, run.run_id);
                let sub = p.opt_str("path")?.unwrap_or_default();
                let files = self.list_artifacts(&root, &sub, true);
                let mut out = json!({"root_uri": format!("mlflow-artifacts:/{root}")});
                if !files.is_empty() {
                    out["files"] = Value::Array(files);
                }
                Ok(MlflowReply::json(&out))
            }
            ("registered-models/create", _) => self.create_model(p),
            ("registered-models/get", _) => {
                let m = self.model(&p.str("name")?)?;
                Ok(MlflowReply::json(
                    &json!({"registered_model": model_json(m)}),
                ))
            }
            ("registered-models/search", _) => self.search_models(p),
            ("registered-models/delete", _) => {
                let name = p.str("name")?;
                self.model(&name)?;
                self.models.remove(&name);
                Ok(MlflowReply::empty_json())
            }
            ("registered-models/set-tag", _) => {
                let (name, k, v) = (
                    p.str("name")?,
                    p.str("key")?,
                    p.opt_str("value")?.unwrap_or_default(),
                );
                let m = self.model_mut(&name)?;
                set_tag(&mut m.tags, k, v);
                Ok(MlflowReply::empty_json())
            }
            ("registered-models/get-latest-versions", _) => {
                let m = self.model(&p.str("name")?)?;
                // All versions are in stage "None": the latest of that one stage.
                let latest: Vec<Value> = m
                    .versions
                    .values()
                    .last()
                    .map(|v| version_json(m, v, false))
                    .into_iter()
                    .collect();
                Ok(list_or_empty("model_versions", latest))
            }
            ("registered-models/alias", "POST") => {
                let (name, alias, version) = (p.str("name")?, p.str("alias")?, p.str("version")?);
                let m = self.model_mut(&name)?;
                let v = parse_version(&version)?;
                if !m.versions.contains_key(&v) {
                    return Err(MlErr::missing(format!(
                        "Model Version (name={name}, version={version}) not found"
                    )));
                }
                m.aliases.insert(alias, v);
                Ok(MlflowReply::empty_json())
            }
            ("registered-models/alias", "GET") => {
                let (name, alias) = (p.str("name")?, p.str("alias")?);
                let m = self.model(&name)?;
                let v = m
                    .aliases
                    .get(&alias)
                    .and_then(|v| m.versions.get(v))
                    .ok_or_else(|| {
                        MlErr::invalid(format!("Registered model alias {alias} not found."))
                    })?;
                Ok(MlflowReply::json(
                    &json!({"model_version": version_json(m, v, true)}),
                ))
            }
            ("registered-models/alias", _) => {
                let (name, alias) = (p.str("name")?, p.str("alias")?);
                self.model_mut(&name)?.aliases.remove(&alias);
                Ok(MlflowReply::empty_json())
            }
            ("model-versions/create", _) => self.create_version(p),
            ("model-versions/get", _) => {
                let (name, version) = (p.str("name")?, p.str("version")?);
                let m = self.model(&name)?;
                let v = find_version(m, &version)?;
                Ok(MlflowReply::json(
                    &json!({"model_version": version_json(m, v, true)}),
                ))
            }
            ("model-versions/get-download-uri", _) => {
                let (name, version) = (p.str("name")?, p.str("version")?);
                let m = self.model(&name)?;
                let v = find_version(m, &version)?;
                Ok(MlflowReply::json(&json!({"artifact_uri": v.source})))
            }
            ("model-versions/search", _) => self.search_versions(p),
            ("model-versions/set-tag", _) => {
                let (name, version, k) = (p.str("name")?, p.str("version")?, p.str("key")?);
                let value = p.opt_str("value")?.unwrap_or_default();
                let m = self.model_mut(&name)?;
                let n = parse_version(&version)?;
                let v = m.versions.get_mut(&n).ok_or_else(|| {
                    MlErr::missing(format!(
                        "Model Version (name={name}, version={version}) not found"
                    ))
                })?;
                set_tag(&mut v.tags, k, value);
                Ok(MlflowReply::empty_json())
            }
            ("model-versions/update", _) => {
                let (name, version) = (p.str("name")?, p.str("version")?);
                let desc = p.opt_str("description")?;
                let m = self.model_mut(&name)?;
                let n = parse_version(&version)?;
                let v = m.versions.get_mut(&n).ok_or_else(|| {
                    MlErr::missing(format!(
                        "Model Version (name={name}, version={version}) not found"
                    ))
                })?;
                if let Some(d) = desc {
                    v.description = d;
                }
                v.last_updated_timestamp = now_ms();
                let (m, v) = (self.model(&name)?, &self.models[&name].versions[&n]);
                Ok(MlflowReply::json(
                    &json!({"model_version": version_json(m, v, false)}),
                ))
            }
            ("model-versions/delete", _) => {
                let (name, version) = (p.str("name")?, p.str("version")?);
                let m = self.model_mut(&name)?;
                let n = parse_version(&version)?;
                if m.versions.remove(&n).is_none() {
                    return Err(MlErr::missing(format!(
                        "Model Version (name={name}, version={version}) not found"
                    )));
                }
                m.aliases.retain(|_, v| *v != n);
                Ok(MlflowReply::empty_json())
            }
            _ => Ok(MlflowReply::not_found_page()),
        }
    }

    fn experiment(&self, id: &str) -> Result<&Experiment, MlErr> {
        let n = id.parse::<u64>().map_err(|_| {
            MlErr::invalid(format!(
                "Invalid experiment ID '{id}'. Experiment ID must be a valid integer."
            ))
        })?;
        self.experiments
            .get(&n)
            .ok_or_else(|| MlErr::missing(format!("No Experiment with id={id} exists")))
    }
    fn experiment_mut(&mut self, id: &str) -> Result<&mut Experiment, MlErr> {
        self.experiment(id)?;
        Ok(self
            .experiments
            .get_mut(&id.parse::<u64>().expect("checked"))
            .expect("checked"))
    }
    fn run(&self, id: &str) -> Result<&Run, MlErr> {
        self.runs
            .get(id)
            .ok_or_else(|| MlErr::missing(format!("Run with id={id} not found")))
    }
    fn run_mut(&mut self, id: &str) -> Result<&mut Run, MlErr> {
        self.runs
            .get_mut(id)
            .ok_or_else(|| MlErr::missing(format!("Run with id={id} not found")))
    }
    fn model(&self, name: &str) -> Result<&RegisteredModel, MlErr> {
        self.models
            .get(name)
            .ok_or_else(|| MlErr::missing(format!("Registered Model with name={name} not found")))
    }
    fn model_mut(&mut self, name: &str) -> Result<&mut RegisteredModel, MlErr> {
        self.models
            .get_mut(name)
            .ok_or_else(|| MlErr::missing(format!("Registered Model with name={name} not found")))
    }

    fn history_bulk(&self, query: &[(String, String)]) -> MlResult {
        let run_ids: Vec<&str> = query
            .iter()
            .filter(|(k, _)| k == "run_id")
            .map(|(_, v)| v.as_str())
            .collect();
        let key = query
            .iter()
            .find(|(k, _)| k == "metric_key")
            .map(|(_, v)| v.clone())
            .ok_or_else(|| {
                MlErr::invalid(format!(
                    "Missing value for required parameter 'metric_key'. {PARAM_DOCS}"
                ))
            })?;
        if run_ids.is_empty() {
            return Err(MlErr::invalid(
                "GetMetricHistoryBulk request must specify at least one run_id.",
            ));
        }
        let mut out = Vec::new();
        for id in run_ids {
            let run = self.run(id)?;
            for m in run.metrics.iter().filter(|m| m.key == key) {
                let mut v = metric_json(m);
                v["run_id"] = json!(run.run_id);
                out.push(v);
            }
        }
        Ok(list_or_empty("metrics", out))
    }

    fn create_experiment(&mut self, p: &Params) -> MlResult {
        let name = p.str("name")?;
        let tags = p.tags("tags")?;
        // MLflow's entity limits (measured: a 10 MB name or tag value is refused).
        max_len("name", &name, 500)?;
        for (k, v) in &tags {
            max_len("key", k, 250)?;
            max_len("value", v, 20_000)?;
        }
        if self.experiments.values().any(|e| e.name == name) {
            return Err(MlErr::exists(format!(
                "Experiment(name={name}) already exists. Error: (sqlite3.IntegrityError) UNIQUE constraint failed: experiments.workspace, experiments.name"
            )));
        }
        let id = self.next_experiment;
        self.next_experiment += 1;
        let now = now_ms();
        self.experiments.insert(
            id,
            Experiment {
                id,
                name,
                lifecycle_stage: "active",
                creation_time: now,
                last_update_time: now,
                tags,
            },
        );
        Ok(MlflowReply::json(&json!({"experiment_id": id.to_string()})))
    }

    fn search_experiments(&self, p: &Params) -> MlResult {
        let max = p.max_results(None)?;
        let filter = p.opt_str("filter")?;
        let name_eq = filter.as_deref().and_then(parse_name_filter);
        let offset = page_offset(p)?;
        // Newest first, as MLflow orders by last_update_time DESC.
        let mut hits: Vec<&Experiment> = self
            .experiments
            .values()
            .filter(|e| e.lifecycle_stage == "active")
            .filter(|e| name_eq.as_ref().is_none_or(|n| n.matches(&e.name)))
            .collect();
        hits.sort_by(|a, b| {
            b.last_update_time
                .cmp(&a.last_update_time)
                .then(b.id.cmp(&a.id))
        });
        page(
            "experiments",
            hits.into_iter().map(exp_json).collect(),
            offset,
            max,
        )
    }

    fn create_run(&mut self, p: &Params) -> MlResult {
        let exp_id = p.str("experiment_id")?;
        let exp = self.experiment(&exp_id)?.id;
        let run_id: String = std::iter::repeat_with(|| fastrand::digit(16))
            .take(32)
            .collect();
        let run_name = p
            .opt_str("run_name")?
            .unwrap_or_else(|| format!("run-{}", &run_id[..6]));
        let mut tags = p.tags("tags")?;
        set_tag(&mut tags, "mlflow.runName".into(), run_name.clone());
        let run = Run {
            run_id: run_id.clone(),
            experiment_id: exp,
            run_name,
            status: "RUNNING",
            start_time: p.opt_i64("start_time")?.unwrap_or(0),
            end_time: None,
            lifecycle_stage: "active",
            metrics: vec![],
            params: vec![],
            tags,
        };
        let out = json!({"run": self.run_json(&run)});
        self.runs.insert(run_id, run);
        Ok(MlflowReply::json(&out))
    }

    fn log_batch(&mut self, p: &Params) -> MlResult {
        let id = p.str("run_id")?;
        let list = |name: &str| match p.0.get(name) {
            None | Some(Value::Null) => Ok(vec![]),
            Some(Value::Array(a)) => Ok(a.clone()),
            Some(o) => Err(MlErr::invalid(format!(
                "Invalid value {o} for parameter '{name}' supplied:  Hint: Value was of type '{}'. {PARAM_DOCS}",
                type_name(o)
            ))),
        };
        let (metrics, params, tags) = (list("metrics")?, list("params")?, list("tags")?);
        let mut parsed_metrics = Vec::new();
        for m in metrics {
            let mp = Params(m.as_object().cloned().unwrap_or_default());
            parsed_metrics.push(Metric {
                key: mp.str("key")?,
                value: mp.f64("value")?,
                timestamp: mp.i64_required("timestamp")?,
                step: mp.opt_i64("step")?.unwrap_or(0),
            });
        }
        let run = self.run_mut(&id)?;
        for pr in params {
            let pp = Params(pr.as_object().cloned().unwrap_or_default());
            log_param(
                run,
                pp.str("key")?,
                pp.opt_str("value")?.unwrap_or_default(),
            )?;
        }
        for t in tags {
            let tp = Params(t.as_object().cloned().unwrap_or_default());
            set_tag(
                &mut run.tags,
                tp.str("key")?,
                tp.opt_str("value")?.unwrap_or_default(),
            );
        }
        run.metrics.extend(parsed_metrics);
        Ok(MlflowReply::empty_json())
    }

    fn search_runs(&self, p: &Params) -> MlResult {
        let ids: Vec<String> = match p.0.get("experiment_ids") {
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            _ => vec![],
        };
        let max = p.max_results(Some(1000))?;
        let offset = page_offset(p)?;
        let mut hits: Vec<&Run> = self
            .runs
            .values()
            .filter(|r| ids.contains(&r.experiment_id.to_string()) && r.lifecycle_stage == "active")
            .collect();
        hits.sort_by(|a, b| {
            b.start_time
                .cmp(&a.start_time)
                .then(a.run_id.cmp(&b.run_id))
        });
        page(
            "runs",
            hits.into_iter().map(|r| self.run_json(r)).collect(),
            offset,
            max,
        )
    }

    fn create_model(&mut self, p: &Params) -> MlResult {
        let name = p.str("name")?;
        let tags = p.tags("tags")?;
        let description = p.opt_str("description")?.unwrap_or_default();
        if self.models.contains_key(&name) {
            return Err(MlErr::exists(format!(
                "Registered Model (name={name}) already exists."
            )));
        }
        let now = now_ms();
        let m = RegisteredModel {
            name: name.clone(),
            creation_timestamp: now,
            last_updated_timestamp: now,
            description,
            tags,
            aliases: BTreeMap::new(),
            versions: BTreeMap::new(),
            last_version: 0,
        };
        let out = json!({"registered_model": model_json(&m)});
        self.models.insert(name, m);
        Ok(MlflowReply::json(&out))
    }

    fn search_models(&self, p: &Params) -> MlResult {
        let max = p.max_results(Some(100))?;
        if max > 1000 {
            return Err(MlErr::invalid(format!(
                "Invalid value \"{max}\" for parameter 'max_results' supplied:  Hint: Value was of type 'str'. {PARAM_DOCS}"
            )));
        }
        let filter = p.opt_str("filter")?;
        let name_eq = filter.as_deref().and_then(parse_name_filter);
        let offset = page_offset(p)?;
        let hits: Vec<Value> = self
            .models
            .values()
            .filter(|m| name_eq.as_ref().is_none_or(|n| n.matches(&m.name)))
            .map(model_json)
            .collect();
        page("registered_models", hits, offset, max)
    }

    fn create_version(&mut self, p: &Params) -> MlResult {
        let name = p.str("name")?;
        let source = p.str("source")?;
        let run_id = p.opt_str("run_id")?.unwrap_or_default();
        let description = p.opt_str("description")?.unwrap_or_default();
        let tags = p.tags("tags")?;
        if !run_id.is_empty() {
            self.run(&run_id)?;
        }
        let duplicate = self.duplicate_versions;
        let m = self.model_mut(&name)?;
        // The `duplicate-versions` breakage: every fourth create reuses the last number.
        if !(duplicate && m.last_version % 4 == 3) {
            m.last_version += 1;
        }
        let now = now_ms();
        let v = ModelVersion {
            version: m.last_version,
            creation_timestamp: now,
            last_updated_timestamp: now,
            description,
            source,
            run_id,
            tags,
        };
        m.last_updated_timestamp = now;
        m.versions.insert(v.version, v.clone());
        Ok(MlflowReply::json(
            &json!({"model_version": version_json(m, &v, false)}),
        ))
    }

    fn search_versions(&self, p: &Params) -> MlResult {
        let max = p.max_results(Some(10_000))?;
        let filter = p.opt_str("filter")?;
        let name_eq = filter.as_deref().and_then(parse_name_filter);
        let offset = page_offset(p)?;
        let mut hits: Vec<Value> = Vec::new();
        for m in self
            .models
            .values()
            .filter(|m| name_eq.as_ref().is_none_or(|n| n.matches(&m.name)))
        {
            for v in m.versions.values().rev() {
                hits.push(version_json(m, v, true));
            }
        }
        page("model_versions", hits, offset, max)
    }

    fn artifacts(
        &mut self,
        method: &str,
        rest: &str,
        query: &[(String, String)],
        body: &[u8],
    ) -> MlResult {
        let decoded = percent_decode(rest);
        if decoded.split('/').any(|s| s == "..") {
            return Err(MlErr::invalid("Invalid path"));
        }
        if rest.is_empty() {
            if method != "GET" {
                return Ok(MlflowReply::method_not_allowed_page());
            }
            let path = query
                .iter()
                .find(|(k, _)| k == "path")
                .map(|(_, v)| v.clone())
                .unwrap_or_default();
            let files = self.list_artifacts(&path, "", false);
            return Ok(if files.is_empty() {
                MlflowReply::empty_json()
            } else {
                MlflowReply::json(&json!({"files": files}))
            });
        }
        match method {
            "PUT" => {
                self.artifacts.insert(decoded, body.to_vec());
                Ok(MlflowReply { status: 200, content_type: "", body: vec![] })
            }
            "GET" => match self.artifacts.get(&decoded) {
                Some(bytes) => Ok(MlflowReply { status: 200, content_type: guess_mime_type(&decoded), body: bytes.clone() }),
                None => Ok(MlflowReply {
                    status: 404,
                    content_type: "application/json",
                    body: format!(
                        "{{\"error_code\":\"RESOURCE_DOES_NOT_EXIST\",\"message\":\"No such artifact: '{decoded}'\",\"sqlstate\":\"KAM00\",\"error_class\":\"RESOURCE_NOT_FOUND\"}}"
                    )
                    .into_bytes(),
                }),
            },
            "DELETE" => {
                let prefix = format!("{decoded}/");
                self.artifacts.retain(|k, _| *k != decoded && !k.starts_with(&prefix));
                Ok(MlflowReply::empty_json())
            }
            _ => Ok(MlflowReply::method_not_allowed_page()),
        }
    }

    /// Entries directly under `root/sub`. With `relative_to_root`, paths include `sub`
    /// (the `artifacts/list` style); otherwise they are names (the artifact-proxy style).
    fn list_artifacts(&self, root: &str, sub: &str, relative_to_root: bool) -> Vec<Value> {
        let dir = [root.trim_end_matches('/'), sub.trim_matches('/')]
            .iter()
            .filter(|s| !s.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join("/");
        let prefix = format!("{dir}/");
        let mut seen: BTreeMap<String, Option<usize>> = BTreeMap::new();
        for (k, v) in &self.artifacts {
            if let Some(tail) = k.strip_prefix(&prefix) {
                match tail.split_once('/') {
                    Some((d, _)) => {
                        seen.entry(d.to_owned()).or_insert(None);
                    }
                    None => {
                        seen.insert(tail.to_owned(), Some(v.len()));
                    }
                }
            }
        }
        seen.into_iter()
            .map(|(name, size)| {
                let path = if relative_to_root && !sub.trim_matches('/').is_empty() {
                    format!("{}/{name}", sub.trim_matches('/'))
                } else {
                    name
                };
                match size {
                    Some(n) => json!({"path": path, "is_dir": false, "file_size": n}),
                    None => json!({"path": path, "is_dir": true}),
                }
            })
            .collect()
    }

    fn run_info(&self, r: &Run) -> Value {
        let mut info = json!({
            "run_uuid": r.run_id, "experiment_id": r.experiment_id.to_string(), "run_name": r.run_name,
            "user_id": "", "status": r.status, "start_time": r.start_time,
            "artifact_uri": format!("mlflow-artifacts:/{}/{}/artifacts", r.experiment_id, r.run_id),
            "lifecycle_stage": r.lifecycle_stage, "run_id": r.run_id,
        });
        if let Some(e) = r.end_time {
            info["end_time"] = json!(e);
        }
        info
    }

    fn run_json(&self, r: &Run) -> Value {
        // runs/get reports the latest value of each metric.
        // In the order each key was first logged, as MLflow lists them.
        let mut latest: Vec<&Metric> = Vec::new();
        for m in &r.metrics {
            match latest.iter_mut().find(|o| o.key == m.key) {
                Some(o) if (m.step, m.timestamp) >= (o.step, o.timestamp) => *o = m,
                Some(_) => {}
                None => latest.push(m),
            }
        }
        let mut data = Map::new();
        if !latest.is_empty() {
            data.insert(
                "metrics".into(),
                Value::Array(latest.iter().map(|m| metric_json(m)).collect()),
            );
        }
        if !r.params.is_empty() {
            data.insert("params".into(), tags_json(&r.params));
        }
        if !r.tags.is_empty() {
            data.insert("tags".into(), tags_json(&r.tags));
        }
        json!({"info": self.run_info(r), "data": data, "inputs": {}})
    }
}

fn exp_json(e: &Experiment) -> Value {
    let mut v = json!({
        "experiment_id": e.id.to_string(), "name": e.name, "artifact_location": format!("mlflow-artifacts:/{}", e.id),
        "lifecycle_stage": e.lifecycle_stage, "last_update_time": e.last_update_time, "creation_time": e.creation_time,
    });
    if !e.tags.is_empty() {
        v["tags"] = tags_json(&e.tags);
    }
    v["workspace"] = json!("default");
    v
}

fn metric_json(m: &Metric) -> Value {
    json!({"key": m.key, "value": m.value, "timestamp": m.timestamp, "step": m.step})
}

fn model_json(m: &RegisteredModel) -> Value {
    let mut v = json!({"name": m.name, "creation_timestamp": m.creation_timestamp, "last_updated_timestamp": m.last_updated_timestamp});
    if !m.description.is_empty() {
        v["description"] = json!(m.description);
    }
    if let Some(latest) = m.versions.values().last() {
        v["latest_versions"] = json!([version_json(m, latest, false)]);
    }
    if !m.tags.is_empty() {
        v["tags"] = tags_json(&m.tags);
    }
    if !m.aliases.is_empty() {
        v["aliases"] = Value::Array(
            m.aliases
                .iter()
                .map(|(a, n)| json!({"alias": a, "version": n.to_string()}))
                .collect(),
        );
    }
    v
}

fn version_json(m: &RegisteredModel, v: &ModelVersion, with_tags_and_aliases: bool) -> Value {
    let mut out = json!({
        "name": m.name, "version": v.version.to_string(), "creation_timestamp": v.creation_timestamp,
        "last_updated_timestamp": v.last_updated_timestamp, "current_stage": "None", "description": v.description,
        "source": v.source, "run_id": v.run_id, "status": "READY", "run_link": "",
    });
    if with_tags_and_aliases {
        if !v.tags.is_empty() {
            out["tags"] = tags_json(&v.tags);
        }
        let aliases: Vec<&String> = m
            .aliases
            .iter()
            .filter(|(_, n)| **n == v.version)
            .map(|(a, _)| a)
            .collect();
        if !aliases.is_empty() {
            out["aliases"] = json!(aliases);
        }
    }
    out
}

fn max_len(field: &str, value: &str, max: usize) -> Result<(), MlErr> {
    if value.chars().count() > max {
        return Err(MlErr::invalid(format!(
            "'{field}' exceeds the maximum length of {max} characters"
        )));
    }
    Ok(())
}

fn find_version<'a>(m: &'a RegisteredModel, version: &str) -> Result<&'a ModelVersion, MlErr> {
    let n = parse_version(version)?;
    m.versions.get(&n).ok_or_else(|| {
        MlErr::missing(format!(
            "Model Version (name={}, version={version}) not found",
            m.name
        ))
    })
}

fn parse_version(version: &str) -> Result<u64, MlErr> {
    version.parse::<u64>().map_err(|_| {
        MlErr::invalid(format!(
            "Parameter 'version' must be an integer, got '{version}'."
        ))
    })
}

fn run_status(s: &str) -> Option<&'static str> {
    match s {
        "RUNNING" | "1" => Some("RUNNING"),
        "SCHEDULED" | "2" => Some("SCHEDULED"),
        "FINISHED" | "3" => Some("FINISHED"),
        "FAILED" | "4" => Some("FAILED"),
        "KILLED" | "5" => Some("KILLED"),
        _ => None, // MLflow silently ignores an invalid status
    }
}

fn log_param(run: &mut Run, key: String, value: String) -> Result<(), MlErr> {
    if let Some((_, old)) = run.params.iter().find(|(k, _)| *k == key) {
        if *old != value {
            return Err(MlErr::invalid(format!(
                "Changing param values is not allowed. Param with key='{key}' was already logged with value='{old}' for run ID='{}'. Attempted logging new value '{value}'.",
                run.run_id
            )));
        }
        return Ok(());
    }
    run.params.push((key, value));
    Ok(())
}

fn set_tag(tags: &mut Vec<(String, String)>, key: String, value: String) {
    match tags.iter_mut().find(|(k, _)| *k == key) {
        Some(t) => t.1 = value,
        None => tags.push((key, value)),
    }
}

fn list_or_empty(field: &str, items: Vec<Value>) -> MlflowReply {
    if items.is_empty() {
        MlflowReply::empty_json()
    } else {
        MlflowReply::json(&json!({ field: items }))
    }
}

fn page_offset(p: &Params) -> Result<usize, MlErr> {
    use base64_lite::decode_offset;
    match p.opt_str("page_token")? {
        None => Ok(0),
        Some(t) if t.is_empty() => Ok(0),
        Some(t) => decode_offset(&t).ok_or_else(|| {
            MlErr::invalid(format!("Invalid page token, could not base64-decode: {t}"))
        }),
    }
}

fn page(field: &str, items: Vec<Value>, offset: usize, max: i64) -> MlResult {
    let max = max as usize;
    let total = items.len();
    let slice: Vec<Value> = items.into_iter().skip(offset).take(max).collect();
    if slice.is_empty() {
        return Ok(MlflowReply::empty_json());
    }
    let mut out = json!({ field: slice });
    if offset + max < total {
        out["next_page_token"] = json!(base64_lite::encode_offset(offset + max));
    }
    Ok(MlflowReply::json(&out))
}

/// `name = 'x'` or `name LIKE 'x%'` filters, the two forms the suite uses.
enum NameFilter {
    Eq(String),
    Like(String),
}

impl NameFilter {
    fn matches(&self, name: &str) -> bool {
        match self {
            NameFilter::Eq(n) => n == name,
            NameFilter::Like(pattern) => like(pattern, name),
        }
    }
}

fn parse_name_filter(f: &str) -> Option<NameFilter> {
    let f = f.trim();
    let rest = f.strip_prefix("name")?.trim_start();
    let (like_op, rest) = if let Some(r) = rest.strip_prefix('=') {
        (false, r)
    } else if let Some(r) = rest
        .strip_prefix("LIKE")
        .or_else(|| rest.strip_prefix("like"))
        .or_else(|| rest.strip_prefix("ILIKE"))
    {
        (true, r)
    } else {
        return None;
    };
    let v = rest
        .trim()
        .trim_matches(|c| c == '\'' || c == '"')
        .to_owned();
    Some(if like_op {
        NameFilter::Like(v)
    } else {
        NameFilter::Eq(v)
    })
}

/// SQL LIKE with `%` only.
fn like(pattern: &str, s: &str) -> bool {
    let parts: Vec<&str> = pattern.split('%').collect();
    if parts.len() == 1 {
        return pattern == s;
    }
    let mut rest = s;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            let Some(r) = rest.strip_prefix(part) else {
                return false;
            };
            rest = r;
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else if let Some(pos) = rest.find(part) {
            rest = &rest[pos + part.len()..];
        } else {
            return false;
        }
    }
    true
}

/// MLflow's `_guess_mime_type`: known text extensions (and extension-less `MLmodel`,
/// `MLproject`) are `text/plain`; a few common types by extension; else binary.
fn guess_mime_type(path: &str) -> &'static str {
    const TEXT: &[&str] = &[
        "txt",
        "log",
        "err",
        "cfg",
        "conf",
        "cnf",
        "cf",
        "ini",
        "properties",
        "prop",
        "hocon",
        "toml",
        "yaml",
        "yml",
        "xml",
        "json",
        "js",
        "py",
        "py3",
        "csv",
        "tsv",
        "md",
        "rst",
        "MLmodel",
        "mlproject",
    ];
    let name = path.rsplit('/').next().unwrap_or(path);
    let ext = match name.rsplit_once('.') {
        Some((_, e)) if !e.is_empty() => e,
        _ => name,
    };
    if TEXT.contains(&ext) {
        return "text/plain";
    }
    match ext.to_ascii_lowercase().as_str() {
        "html" | "htm" => "text/html",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "svg" => "image/svg+xml",
        "pdf" => "application/pdf",
        "gz" => "application/gzip",
        "zip" => "application/zip",
        "tar" => "application/x-tar",
        _ => "application/octet-stream",
    }
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| s.to_owned())
}

/// MLflow page tokens are base64 of `{"offset": N}`.
mod base64_lite {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    pub fn encode_offset(n: usize) -> String {
        encode(format!("{{\"offset\": {n}}}").as_bytes())
    }

    pub fn decode_offset(t: &str) -> Option<usize> {
        let bytes = decode(t)?;
        let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
        v.get("offset")?.as_u64().map(|n| n as usize)
    }

    fn encode(input: &[u8]) -> String {
        let mut out = String::new();
        for chunk in input.chunks(3) {
            let b = [
                chunk[0],
                *chunk.get(1).unwrap_or(&0),
                *chunk.get(2).unwrap_or(&0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
                } else {
                    out.push('=');
                }
            }
        }
        out
    }

    fn decode(t: &str) -> Option<Vec<u8>> {
        let mut bits = 0u32;
        let mut n = 0;
        let mut out = Vec::new();
        for c in t.bytes().filter(|c| *c != b'=') {
            let v = ALPHABET.iter().position(|a| *a == c)? as u32;
            bits = (bits << 6) | v;
            n += 6;
            if n >= 8 {
                n -= 8;
                out.push((bits >> n) as u8);
                bits &= (1 << n) - 1;
            }
        }
        Some(out)
    }

    #[cfg(test)]
    #[test]
    fn offsets_round_trip_like_mlflow() {
        assert_eq!(encode_offset(1), "eyJvZmZzZXQiOiAxfQ==");
        assert_eq!(decode_offset("eyJvZmZzZXQiOiAxfQ=="), Some(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(s: &mut MlflowStore, method: &str, path: &str, body: Value) -> (u16, Value) {
        let (q, b): (Vec<(String, String)>, Vec<u8>) = if method == "GET" {
            let q = body
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| (k.clone(), v.as_str().map_or(v.to_string(), str::to_owned)))
                        .collect()
                })
                .unwrap_or_default();
            (q, vec![])
        } else {
            (vec![], serde_json::to_vec(&body).unwrap())
        };
        let r = s.handle(
            method,
            path,
            &q,
            Some("application/json"),
            &b,
            RequestContext::default(),
        );
        (
            r.status,
            serde_json::from_slice(&r.body).unwrap_or(Value::Null),
        )
    }

    #[test]
    fn versions_are_strings_and_monotonic_after_delete() {
        let mut s = MlflowStore::default();
        let base = "/api/2.0/mlflow/";
        assert_eq!(
            call(
                &mut s,
                "POST",
                &format!("{base}registered-models/create"),
                json!({"name": "m"})
            )
            .0,
            200
        );
        for want in ["1", "2"] {
            let (st, v) = call(
                &mut s,
                "POST",
                &format!("{base}model-versions/create"),
                json!({"name": "m", "source": "s3://b/x"}),
            );
            assert_eq!(
                (st, v["model_version"]["version"].as_str()),
                (200, Some(want))
            );
        }
        call(
            &mut s,
            "DELETE",
            &format!("{base}model-versions/delete"),
            json!({"name": "m", "version": "2"}),
        );
        let (_, v) = call(
            &mut s,
            "POST",
            &format!("{base}model-versions/create"),
            json!({"name": "m", "source": "s3://b/x"}),
        );
        assert_eq!(v["model_version"]["version"], "3");
    }

    #[test]
    fn empty_search_is_an_empty_object_and_max_results_is_required() {
        let mut s = MlflowStore::default();
        let (st, v) = call(
            &mut s,
            "GET",
            "/api/2.0/mlflow/registered-models/search",
            json!({"filter": "name = 'none'"}),
        );
        assert_eq!((st, v), (200, json!({})));
        let (st, v) = call(
            &mut s,
            "GET",
            "/api/2.0/mlflow/experiments/search",
            json!({}),
        );
        assert_eq!(st, 400);
        assert_eq!(v["error_code"], "INVALID_PARAMETER_VALUE");
    }

    #[test]
    fn unknown_route_and_wrong_method_are_html() {
        let mut s = MlflowStore::default();
        let r = s.handle(
            "GET",
            "/api/2.0/mlflow/nope",
            &[],
            None,
            &[],
            RequestContext::default(),
        );
        assert_eq!(
            (r.status, r.content_type),
            (404, "text/html; charset=utf-8")
        );
        let r = s.handle(
            "GET",
            "/api/2.0/mlflow/experiments/create",
            &[],
            None,
            &[],
            RequestContext::default(),
        );
        assert_eq!(r.status, 405);
    }
}
