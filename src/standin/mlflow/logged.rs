//! MLflow 3's logged models (`logged-models/...`, `runs/outputs`): what an MLflow 3 client
//! sends to log a model before it registers it (recorded in `docs/mlflow-clients.md`).
//! MLflow 2.9.2 has none of these routes (`v2` answers them 404).

use super::*;

#[derive(Debug, Clone)]
pub(super) struct LoggedModel {
    pub(super) model_id: String,
    pub(super) experiment_id: u64,
    pub(super) name: String,
    pub(super) creation_timestamp_ms: i64,
    pub(super) last_updated_timestamp_ms: i64,
    pub(super) status: &'static str,
    pub(super) model_type: String,
    pub(super) source_run_id: String,
    /// Sorted by key, as MLflow lists them.
    pub(super) tags: BTreeMap<String, String>,
}

impl LoggedModel {
    pub(super) fn artifact_uri(&self) -> String {
        format!(
            "mlflow-artifacts:/{}/models/{}/artifacts",
            self.experiment_id, self.model_id
        )
    }

    fn json(&self) -> Value {
        let tags: Vec<Value> = self
            .tags
            .iter()
            .map(|(k, v)| json!({"key": k, "value": v}))
            .collect();
        let mut info = json!({
            "model_id": self.model_id, "experiment_id": self.experiment_id.to_string(),
            "name": self.name, "creation_timestamp_ms": self.creation_timestamp_ms,
            "last_updated_timestamp_ms": self.last_updated_timestamp_ms,
            "artifact_uri": self.artifact_uri(), "status": self.status,
            "model_type": self.model_type, "source_run_id": self.source_run_id,
        });
        if !tags.is_empty() {
            info["tags"] = Value::Array(tags);
        }
        json!({"info": info, "data": {}})
    }
}

/// A finalize's status as MLflow stores it (anything else is "unspecified").
fn logged_status(s: &str) -> &'static str {
    match s {
        "LOGGED_MODEL_PENDING" => "LOGGED_MODEL_PENDING",
        "LOGGED_MODEL_READY" => "LOGGED_MODEL_READY",
        "LOGGED_MODEL_UPLOAD_FAILED" => "LOGGED_MODEL_UPLOAD_FAILED",
        _ => "LOGGED_MODEL_STATUS_UNSPECIFIED",
    }
}

impl MlflowStore {
    fn logged_model(&self, id: &str) -> Result<&LoggedModel, MlErr> {
        self.logged_models
            .get(id)
            .ok_or_else(|| MlErr::missing(format!("Logged model with ID '{id}' not found.")))
    }

    fn logged_model_mut(&mut self, id: &str) -> Result<&mut LoggedModel, MlErr> {
        self.logged_models
            .get_mut(id)
            .ok_or_else(|| MlErr::missing(format!("Logged model with ID '{id}' not found.")))
    }

    /// `logged-models`, `logged-models/search`, `logged-models/<id>[/tags]`, `runs/outputs`.
    pub(super) fn logged_models_endpoint(
        &mut self,
        method: &str,
        endpoint: &str,
        p: &Params,
    ) -> MlResult {
        let rest = endpoint.strip_prefix("logged-models").unwrap_or(endpoint);
        let parts: Vec<&str> = rest.trim_start_matches('/').split('/').collect();
        match (parts.as_slice(), method) {
            ([""], "POST") => self.create_logged_model(p),
            (["search"], "POST") => self.search_logged_models(p),
            ([id], "GET") => Ok(MlflowReply::json(
                &json!({"model": self.logged_model(id)?.json()}),
            )),
            ([id], "PATCH") => {
                // Required (validated before the model is looked up).
                let status = p.str("status")?;
                let m = self.logged_model_mut(id)?;
                m.status = logged_status(&status);
                m.last_updated_timestamp_ms = now_ms();
                Ok(MlflowReply::json(&json!({"model": m.json()})))
            }
            ([id], "DELETE") => {
                self.logged_model(id)?;
                self.logged_models.remove(*id);
                Ok(MlflowReply::empty_json())
            }
            ([id, "tags"], "PATCH") => {
                // The model first: MLflow answers an unknown id before reading the body.
                self.logged_model(id)?;
                let new = p.tags("tags")?;
                let m = self.logged_model_mut(id)?;
                m.tags.extend(new);
                Ok(MlflowReply::empty_json())
            }
            _ => Ok(MlflowReply::not_found_page()),
        }
    }

    fn create_logged_model(&mut self, p: &Params) -> MlResult {
        let exp = p.str("experiment_id")?;
        let experiment_id = self.experiment(&exp)?.id;
        // Not checked: MLflow 3 takes a run id it does not know (measured).
        let source_run_id = p.opt_str("source_run_id")?.unwrap_or_default();
        let hex: String = std::iter::repeat_with(|| fastrand::digit(16))
            .take(32)
            .collect();
        let now = now_ms();
        let m = LoggedModel {
            model_id: format!("m-{hex}"),
            experiment_id,
            name: p.opt_str("name")?.unwrap_or_default(),
            creation_timestamp_ms: now,
            last_updated_timestamp_ms: now,
            status: "LOGGED_MODEL_PENDING",
            model_type: p.opt_str("model_type")?.unwrap_or_default(),
            source_run_id,
            tags: p.tags("tags")?.into_iter().collect(),
        };
        let reply = json!({"model": m.json()});
        self.logged_models.insert(m.model_id.clone(), m);
        Ok(MlflowReply::json(&reply))
    }

    fn search_logged_models(&self, p: &Params) -> MlResult {
        let ids: Vec<String> = match p.0.get("experiment_ids") {
            // An empty list finds nothing (`{}`); a missing one is an error (measured).
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            _ => {
                return Err(MlErr::invalid(format!(
                    "Missing value for required parameter 'experiment_ids'. {PARAM_DOCS}"
                )));
            }
        };
        let filter = p.opt_str("filter")?;
        let name = filter.as_deref().and_then(parse_name_filter);
        let hits: Vec<Value> = self
            .logged_models
            .values()
            .filter(|m| ids.contains(&m.experiment_id.to_string()))
            .filter(|m| name.as_ref().is_none_or(|n| n.matches(&m.name)))
            .map(LoggedModel::json)
            .collect();
        Ok(list_or_empty("models", hits))
    }

    /// The run a logged model was logged from (for a version created from it).
    pub(super) fn logged_model_run(&self, id: &str) -> Result<String, MlErr> {
        Ok(self.logged_model(id)?.source_run_id.clone())
    }

    /// MLflow's `mlflow.modelVersions` tag on a logged model: the versions made from it.
    pub(super) fn tag_logged_model_version(&mut self, id: &str, name: &str, version: u64) {
        if let Some(m) = self.logged_models.get_mut(id) {
            let mut list: Vec<Value> = m
                .tags
                .get("mlflow.modelVersions")
                .and_then(|t| serde_json::from_str(t).ok())
                .unwrap_or_default();
            list.push(json!({"name": name, "version": version}));
            let text = serde_json::to_string(&list).unwrap_or_default();
            // Python's json.dumps separators.
            m.tags.insert(
                "mlflow.modelVersions".into(),
                text.replace("\":", "\": ").replace(",\"", ", \""),
            );
        }
    }

    /// `runs/log-inputs`: MLflow 3 records `models` as the run's inputs (datasets are
    /// accepted and not kept: the suite sends none).
    pub(super) fn log_inputs(&mut self, p: &Params) -> MlResult {
        let run_id = p.str("run_id")?;
        let models: Vec<String> = match p.0.get("models") {
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(|m| m["model_id"].as_str().map(str::to_owned))
                .collect(),
            _ => vec![],
        };
        self.run_mut(&run_id)?.model_inputs.extend(models);
        Ok(MlflowReply::empty_json())
    }

    /// `runs/outputs`: the run's logged models (shown by `runs/get` under `outputs`).
    pub(super) fn log_outputs(&mut self, p: &Params) -> MlResult {
        let run_id = p.str("run_id")?;
        let models = match p.0.get("models") {
            Some(Value::Array(a)) => a.clone(),
            _ => vec![],
        };
        let run = self.run_mut(&run_id)?;
        for m in models {
            let id = m["model_id"].as_str().unwrap_or_default().to_owned();
            let step = m["step"].as_i64().unwrap_or(0);
            run.model_outputs.push((id, step));
        }
        Ok(MlflowReply::empty_json())
    }
}
