//! Rendering: the replies and error bodies of the emulated server, and the JSON of its objects,
//! shaped like a real `mlflow server`'s.

use super::*;

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

    pub(super) fn json(v: &Value) -> Self {
        // Real MLflow pretty-prints success bodies with a 2-space indent.
        Self {
            status: 200,
            content_type: "application/json",
            body: serde_json::to_vec_pretty(v).expect("json"),
        }
    }
    pub(super) fn empty_json() -> Self {
        Self {
            status: 200,
            content_type: "application/json",
            body: b"{}".to_vec(),
        }
    }
    pub(super) fn html(status: u16, title: &str, text: &str) -> Self {
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
    pub(super) fn method_not_allowed_page() -> Self {
        Self::html(
            405,
            "Method Not Allowed",
            "The method is not allowed for the requested URL.",
        )
    }
    pub(super) fn text(status: u16, text: &str) -> Self {
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
    pub(super) status: u16,
    pub(super) code: &'static str,
    pub(super) message: String,
}

impl MlErr {
    pub(super) fn invalid(message: impl Into<String>) -> Self {
        Self {
            status: 400,
            code: "INVALID_PARAMETER_VALUE",
            message: message.into(),
        }
    }
    pub(super) fn missing(message: impl Into<String>) -> Self {
        Self {
            status: 404,
            code: "RESOURCE_DOES_NOT_EXIST",
            message: message.into(),
        }
    }
    pub(super) fn exists(message: impl Into<String>) -> Self {
        Self {
            status: 400,
            code: "RESOURCE_ALREADY_EXISTS",
            message: message.into(),
        }
    }
    pub(super) fn reply(&self) -> MlflowReply {
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

pub(super) const PARAM_DOCS: &str =
    "See the API docs for more information about request parameters.";

pub(super) fn tags_json(tags: &[(String, String)]) -> Value {
    Value::Array(
        tags.iter()
            .map(|(k, v)| json!({"key": k, "value": v}))
            .collect(),
    )
}

impl MlflowStore {
    pub(super) fn run_info(&self, r: &Run) -> Value {
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

    pub(super) fn run_json(&self, r: &Run) -> Value {
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
        let inputs = if r.model_inputs.is_empty() {
            json!({})
        } else {
            let models: Vec<Value> = r
                .model_inputs
                .iter()
                .map(|id| json!({"model_id": id}))
                .collect();
            json!({"model_inputs": models})
        };
        json!({"info": self.run_info(r), "data": data, "inputs": inputs})
    }
}

pub(super) fn exp_json(e: &Experiment) -> Value {
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

pub(super) fn metric_json(m: &Metric) -> Value {
    json!({"key": m.key, "value": m.value, "timestamp": m.timestamp, "step": m.step})
}

pub(super) fn model_json(m: &RegisteredModel) -> Value {
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

pub(super) fn version_json(
    m: &RegisteredModel,
    v: &ModelVersion,
    with_tags_and_aliases: bool,
) -> Value {
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

pub(super) fn list_or_empty(field: &str, items: Vec<Value>) -> MlflowReply {
    if items.is_empty() {
        MlflowReply::empty_json()
    } else {
        MlflowReply::json(&json!({ field: items }))
    }
}

pub(super) fn page(field: &str, items: Vec<Value>, offset: usize, max: i64) -> MlResult {
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
