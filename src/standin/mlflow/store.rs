//! The store: experiments, runs, metrics, registered models and versions, and the handlers
//! that change and search them.

use super::*;

#[derive(Debug, Clone)]
pub(super) struct Experiment {
    pub(super) id: u64,
    pub(super) name: String,
    pub(super) lifecycle_stage: &'static str,
    pub(super) creation_time: i64,
    pub(super) last_update_time: i64,
    pub(super) tags: Vec<(String, String)>,
}

#[derive(Debug, Clone)]
pub(super) struct Metric {
    pub(super) key: String,
    pub(super) value: f64,
    pub(super) timestamp: i64,
    pub(super) step: i64,
}

#[derive(Debug, Clone)]
pub(super) struct Run {
    pub(super) run_id: String,
    pub(super) experiment_id: u64,
    pub(super) run_name: String,
    pub(super) status: &'static str,
    pub(super) start_time: i64,
    pub(super) end_time: Option<i64>,
    pub(super) lifecycle_stage: &'static str,
    pub(super) metrics: Vec<Metric>,
    pub(super) params: Vec<(String, String)>,
    pub(super) tags: Vec<(String, String)>,
    /// Logged models recorded as the run's outputs (`runs/outputs`): (model id, step).
    pub(super) model_outputs: Vec<(String, i64)>,
    /// Logged models recorded as the run's inputs (`runs/log-inputs` with `models`).
    pub(super) model_inputs: Vec<String>,
}

#[derive(Debug, Clone)]
pub(super) struct ModelVersion {
    pub(super) version: u64,
    pub(super) creation_timestamp: i64,
    pub(super) last_updated_timestamp: i64,
    pub(super) description: String,
    pub(super) source: String,
    pub(super) run_id: String,
    pub(super) tags: Vec<(String, String)>,
}

#[derive(Debug, Clone)]
pub(super) struct RegisteredModel {
    pub(super) name: String,
    pub(super) creation_timestamp: i64,
    pub(super) last_updated_timestamp: i64,
    pub(super) description: String,
    pub(super) tags: Vec<(String, String)>,
    pub(super) aliases: BTreeMap<String, u64>,
    pub(super) versions: BTreeMap<u64, ModelVersion>,
    pub(super) last_version: u64,
}

pub(super) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl MlflowStore {
    pub(super) fn experiment(&self, id: &str) -> Result<&Experiment, MlErr> {
        let n = id.parse::<u64>().map_err(|_| {
            MlErr::invalid(format!(
                "Invalid experiment ID '{id}'. Experiment ID must be a valid integer."
            ))
        })?;
        self.experiments
            .get(&n)
            .ok_or_else(|| MlErr::missing(format!("No Experiment with id={id} exists")))
    }

    pub(super) fn experiment_mut(&mut self, id: &str) -> Result<&mut Experiment, MlErr> {
        self.experiment(id)?;
        Ok(self
            .experiments
            .get_mut(&id.parse::<u64>().expect("checked"))
            .expect("checked"))
    }

    pub(super) fn run(&self, id: &str) -> Result<&Run, MlErr> {
        self.runs
            .get(id)
            .ok_or_else(|| MlErr::missing(format!("Run with id={id} not found")))
    }

    pub(super) fn run_mut(&mut self, id: &str) -> Result<&mut Run, MlErr> {
        self.runs
            .get_mut(id)
            .ok_or_else(|| MlErr::missing(format!("Run with id={id} not found")))
    }

    pub(super) fn model(&self, name: &str) -> Result<&RegisteredModel, MlErr> {
        self.models
            .get(name)
            .ok_or_else(|| MlErr::missing(format!("Registered Model with name={name} not found")))
    }

    pub(super) fn model_mut(&mut self, name: &str) -> Result<&mut RegisteredModel, MlErr> {
        self.models
            .get_mut(name)
            .ok_or_else(|| MlErr::missing(format!("Registered Model with name={name} not found")))
    }

    pub(super) fn history_bulk(&self, query: &[(String, String)]) -> MlResult {
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
        // A run MLflow does not know adds nothing, and nothing found is an empty list, not
        // `{}` (this ajax-only route answers with Flask's jsonify; measured on both majors).
        let mut out = Vec::new();
        for run in run_ids.into_iter().filter_map(|id| self.runs.get(id)) {
            for m in run.metrics.iter().filter(|m| m.key == key) {
                let mut v = metric_json(m);
                v["run_id"] = json!(run.run_id);
                out.push(v);
            }
        }
        Ok(MlflowReply::json(&json!({"metrics": out})))
    }

    pub(super) fn create_experiment(&mut self, p: &Params) -> MlResult {
        let name = p.str("name")?;
        let tags = p.tags("tags")?;
        // MLflow 3's entity limits (measured: a 10 MB name or tag value is refused). 2.9.2
        // has none here: it stores a 10 MB tag value and a 600-character name.
        if self.major == MlflowMajor::V3 {
            max_len("name", &name, 500)?;
            for (k, v) in &tags {
                max_len("key", k, 250)?;
                max_len("value", v, 20_000)?;
            }
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

    pub(super) fn search_experiments(&self, p: &Params) -> MlResult {
        let max = p.max_results(None)?;
        let filter = p.opt_str("filter")?;
        let name_eq = filter.as_deref().and_then(parse_name_filter);
        let offset = page_offset(p)?;
        // MLflow's ViewType: active experiments unless asked otherwise.
        let stages: &[&str] = match p.opt_str("view_type")?.as_deref() {
            None | Some("ACTIVE_ONLY") | Some("1") => &["active"],
            Some("DELETED_ONLY") | Some("2") => &["deleted"],
            Some("ALL") | Some("3") => &["active", "deleted"],
            Some(other) => {
                return Err(MlErr::invalid(format!(
                    "Invalid value {other} for parameter 'view_type' supplied."
                )));
            }
        };
        // Newest first, as MLflow orders by last_update_time DESC.
        let mut hits: Vec<&Experiment> = self
            .experiments
            .values()
            .filter(|e| stages.contains(&e.lifecycle_stage))
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

    pub(super) fn create_run(&mut self, p: &Params) -> MlResult {
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
            model_outputs: vec![],
            model_inputs: vec![],
        };
        let out = json!({"run": self.run_json(&run)});
        self.runs.insert(run_id, run);
        Ok(MlflowReply::json(&out))
    }

    pub(super) fn log_batch(&mut self, p: &Params) -> MlResult {
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

    pub(super) fn search_runs(&self, p: &Params) -> MlResult {
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

    pub(super) fn create_model(&mut self, p: &Params) -> MlResult {
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

    pub(super) fn search_models(&self, p: &Params) -> MlResult {
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

    pub(super) fn create_version(&mut self, p: &Params) -> MlResult {
        let name = p.str("name")?;
        let source = p.str("source")?;
        let run_id = p.opt_str("run_id")?.unwrap_or_default();
        let description = p.opt_str("description")?.unwrap_or_default();
        let tags = p.tags("tags")?;
        // MLflow 3: a version of a logged model takes the model's run, and the model is
        // tagged with its versions.
        let model_id = p.opt_str("model_id")?;
        if !run_id.is_empty() {
            self.run(&run_id)?;
        }
        let run_id = match &model_id {
            Some(id) if run_id.is_empty() => self.logged_model_run(id)?,
            _ => run_id,
        };
        let duplicate = self.duplicate_versions;
        let m = self.model_mut(&name)?;
        // The `duplicate-versions` breakage: every fourth create, from the second on, reuses
        // the last number (a second registration is "1" again; concurrent ones collide).
        if !(duplicate && m.last_version % 4 == 1) {
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
        let reply = json!({"model_version": version_json(m, &v, false)});
        if let Some(id) = model_id {
            self.tag_logged_model_version(&id, &name, v.version);
        }
        Ok(MlflowReply::json(&reply))
    }

    pub(super) fn search_versions(&self, p: &Params) -> MlResult {
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
}

/// The version `version` of `m`, to change.
pub(super) fn find_version_mut<'a>(
    m: &'a mut RegisteredModel,
    version: &str,
) -> Result<&'a mut ModelVersion, MlErr> {
    let n = parse_version(version)?;
    let name = m.name.clone();
    m.versions.get_mut(&n).ok_or_else(|| {
        MlErr::missing(format!(
            "Model Version (name={name}, version={version}) not found"
        ))
    })
}

pub(super) fn find_version<'a>(
    m: &'a RegisteredModel,
    version: &str,
) -> Result<&'a ModelVersion, MlErr> {
    let n = parse_version(version)?;
    m.versions.get(&n).ok_or_else(|| {
        MlErr::missing(format!(
            "Model Version (name={}, version={version}) not found",
            m.name
        ))
    })
}

pub(super) fn log_param(run: &mut Run, key: String, value: String) -> Result<(), MlErr> {
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

pub(super) fn set_tag(tags: &mut Vec<(String, String)>, key: String, value: String) {
    match tags.iter_mut().find(|(k, _)| *k == key) {
        Some(t) => t.1 = value,
        None => tags.push((key, value)),
    }
}
