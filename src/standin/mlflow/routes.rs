//! Routing: which MLflow endpoint a path is, which methods it accepts, and the dispatch to
//! the store's handlers.

use super::*;

/// Which API family a path belongs to, once its prefix is removed.
pub(super) enum Route<'a> {
    Mlflow(&'a str),
    Artifacts(&'a str),
    Health,
    Version,
    Unknown,
}

pub(super) fn route(path: &str) -> Route<'_> {
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

/// The methods of each MLflow endpoint the store has handlers for (anything else is 405); the
/// release's other endpoints are answered from its catalogue (`catalogued`), and a path in
/// neither is MLflow's 404 page.
pub(super) fn allowed(endpoint: &str) -> Option<&'static [&'static str]> {
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
        "registered-models/delete" => &["DELETE"],
        "registered-models/get-latest-versions" => &["GET", "POST"],
        "registered-models/alias" => &["GET", "POST", "DELETE"],
        "model-versions/create" | "model-versions/set-tag" => &["POST"],
        "model-versions/get" | "model-versions/search" | "model-versions/get-download-uri" => {
            &["GET"]
        }
        "model-versions/delete" => &["DELETE"],
        "model-versions/update" => &["PATCH"],
        "logged-models"
        | "logged-models/search"
        | "runs/outputs"
        | "runs/log-inputs"
        | "runs/log-model" => &["POST"],
        e if e.starts_with("logged-models/") && e.ends_with("/tags") => &["PATCH"],
        e if e.starts_with("logged-models/") && e.matches('/').count() == 1 => {
            &["GET", "PATCH", "DELETE"]
        }
        _ => return None,
    })
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
        match self.release {
            MlflowRelease::V3_17_2 => self.handle_v3(method, path, query, content_type, body, ctx),
            MlflowRelease::V3_9_0 => {
                let body = super::v2::request_body(path, body);
                let reply = self.handle_v3(method, path, query, content_type, &body, ctx);
                super::v3_9::answer(method, path, query, reply)
            }
            MlflowRelease::V2_9_2 => {
                if let Some(reply) = super::v2::before(method, path, query, body) {
                    return reply;
                }
                let body = super::v2::request_body(path, body);
                let reply = self.handle_v3(method, path, query, content_type, &body, ctx);
                super::v2::answer(method, path, reply)
            }
        }
    }

    /// Answers one HTTP request as MLflow 3.17.2 does.
    fn handle_v3(
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
                body: self.release.version().as_bytes().to_vec(),
            },
            // The release's other services (multipart uploads, presigned URLs): from its
            // endpoint catalogue.
            Route::Unknown => {
                super::catalogued::answer(self.release, method, path, query, content_type, body)
                    .unwrap_or_else(MlflowReply::not_found_page)
            }
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
                    return super::catalogued::answer(
                        self.release,
                        method,
                        path,
                        query,
                        content_type,
                        body,
                    )
                    .unwrap_or_else(MlflowReply::not_found_page);
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
                    // A repeated key: the first value counts (reversed, so it is inserted last).
                    Params(
                        query
                            .iter()
                            .rev()
                            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                            .collect(),
                    )
                } else {
                    // MLflow checks the content type of POST and PUT only.
                    match content_type.map(|c| c.split(';').next().unwrap_or("").trim()) {
                        _ if !matches!(method, "POST" | "PUT") => {}
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

    pub(super) fn endpoint(&mut self, method: &str, endpoint: &str, p: &Params) -> MlResult {
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
                v["outputs"] = if run.model_outputs.is_empty() {
                    json!({})
                } else {
                    let outputs: Vec<Value> = run
                        .model_outputs
                        .iter()
                        .map(|(id, step)| json!({"model_id": id, "step": step}))
                        .collect();
                    json!({"model_outputs": outputs})
                };
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
            ("runs/outputs", _) => self.log_outputs(p),
            // MLflow 2's client records a logged model's MLmodel on its run: MLflow keeps the
            // list in the run's `mlflow.log-model.history` tag.
            ("runs/log-model", _) => {
                let (id, model) = (p.str("run_id")?, p.str("model_json")?);
                let model = with_model_uuid(&model, self.major);
                let run = self.run_mut(&id)?;
                let history = match run
                    .tags
                    .iter()
                    .find(|(k, _)| k == "mlflow.log-model.history")
                {
                    Some((_, v)) => format!("{}, {model}]", v.trim_end_matches(']')),
                    None => format!("[{model}]"),
                };
                set_tag(&mut run.tags, "mlflow.log-model.history".into(), history);
                Ok(MlflowReply::empty_json())
            }
            ("runs/log-inputs", _) => self.log_inputs(p),
            (e, _) if e.starts_with("logged-models") => self.logged_models_endpoint(method, e, p),
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
                // A logged model's version downloads from the model's artifacts.
                let uri = v
                    .source
                    .strip_prefix("models:/")
                    .and_then(|id| self.logged_models.get(id))
                    .map_or_else(|| v.source.clone(), |l| l.artifact_uri());
                Ok(MlflowReply::json(&json!({"artifact_uri": uri})))
            }
            ("model-versions/search", _) => self.search_versions(p),
            ("model-versions/set-tag", _) => {
                let (name, version, k) = (p.str("name")?, p.str("version")?, p.str("key")?);
                let value = p.opt_str("value")?.unwrap_or_default();
                let v = find_version_mut(self.model_mut(&name)?, &version)?;
                set_tag(&mut v.tags, k, value);
                Ok(MlflowReply::empty_json())
            }
            ("model-versions/update", _) => {
                let (name, version) = (p.str("name")?, p.str("version")?);
                let desc = p.opt_str("description")?;
                let v = find_version_mut(self.model_mut(&name)?, &version)?;
                if let Some(d) = desc {
                    v.description = d;
                }
                v.last_updated_timestamp = now_ms();
                let m = self.model(&name)?;
                let v = find_version(m, &version)?;
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
}

/// MLflow re-serialises a logged `MLmodel`: one without `model_uuid` gets `"model_uuid":
/// null`, last under 2.9.2, after `utc_time_created` under 3.x (measured).
fn with_model_uuid(model: &str, major: MlflowMajor) -> String {
    const AFTER: &str = "\"utc_time_created\": \"";
    if model.contains("\"model_uuid\"") {
        return model.to_owned();
    }
    let at = match major {
        MlflowMajor::V2 => model.rfind('}'),
        MlflowMajor::V3 => model.find(AFTER).and_then(|i| {
            let from = i + AFTER.len();
            model[from..].find('"').map(|j| from + j + 1)
        }),
    };
    match at {
        Some(i) => format!("{}, \"model_uuid\": null{}", &model[..i], &model[i..]),
        None => model.to_owned(),
    }
}
