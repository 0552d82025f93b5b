//! MLflow 2.9.2, the release the `hokusai-2025-08` platform pinned: everywhere it answers
//! differently from 3.17.2, in one place. The store answers as 3.x; under a profile whose
//! major is 2, [`MlflowStore::handle`] first asks [`before`] (requests 2.9.2 answers on its
//! own terms), adjusts the body with [`request_body`], and passes the answer through
//! [`answer`]. Each difference was measured against a real 2.9.2 server and is pinned by
//! the `mlflow2_contract_*` snapshots of `tests/mlflow_contract.rs`
//! (and `shared/reference/mlflow-real.md`, section 9).

use super::artifacts::percent_decode;
use super::routes::{Route, route};
use super::*;

/// Where the emulated 2.9.2 keeps artifacts (2.9.2 names its local folder in an error).
pub(super) const ARTIFACT_ROOT: &str = "/mlflow/artifacts";

/// Flask's page for an exception in a view (2.9.2 has no JSON handler for it).
fn crash_page() -> MlflowReply {
    MlflowReply::html(
        500,
        "Internal Server Error",
        "The server encountered an internal error and was unable to complete your request. Either the server is overloaded or there is an error in the application.",
    )
}

/// A 2.9.2 (and 3.9.0) error body: `{"error_code", "message"}`, single-line (no `sqlstate`,
/// no `error_class`).
pub(super) fn error(status: u16, code: &str, message: &str) -> MlflowReply {
    MlflowReply {
        status,
        content_type: "application/json",
        body: format!(
            "{{\"error_code\": {}, \"message\": {}}}",
            Value::from(code),
            Value::from(message)
        )
        .into_bytes(),
    }
}

/// Requests 2.9.2 answers without reaching the handler 3.x uses.
pub(super) fn before(
    method: &str,
    path: &str,
    query: &[(String, String)],
    body: &[u8],
) -> Option<MlflowReply> {
    let Route::Mlflow(endpoint) = route(path) else {
        return None;
    };
    // MLflow 3's logged models do not exist in 2.9.2.
    if endpoint.starts_with("logged-models") || endpoint == "runs/outputs" {
        return Some(MlflowReply::not_found_page());
    }
    if method == "GET" {
        // 2.9.2 parses a repeated key of a single-valued field into a list, which its
        // protobuf parser rejects with an exception: Flask's HTML 500. (3.x takes the first.)
        let repeated_field = |k: &str| endpoint == "metrics/get-history-bulk" && k == "run_id";
        let mut seen = std::collections::BTreeSet::new();
        if query
            .iter()
            .any(|(k, _)| !seen.insert(k.as_str()) && !repeated_field(k))
        {
            return Some(crash_page());
        }
    }
    if endpoint == "runs/log-inputs" {
        // 2.9.2 logs datasets only, and requires them.
        let v = serde_json::from_slice::<Value>(body).unwrap_or(Value::Null);
        for required in ["run_id", "datasets"] {
            if v.get(required).is_none_or(Value::is_null) {
                return Some(error(
                    400,
                    "INVALID_PARAMETER_VALUE",
                    &format!("Missing value for required parameter '{required}'. {PARAM_DOCS}"),
                ));
            }
        }
    }
    if endpoint == "model-versions/create" {
        // 2.9.2 ignores `model_id` and reads a `models:/<model_id>` source as a registry URI
        // without a version: an INTERNAL_ERROR.
        let source = serde_json::from_slice::<Value>(body).ok()?["source"]
            .as_str()
            .map(str::to_owned);
        if let Some(uri) = source.filter(|s| {
            s.strip_prefix("models:/")
                .is_some_and(|rest| !rest.contains('/') && !rest.contains('@'))
        }) {
            return Some(error(
                500,
                "INTERNAL_ERROR",
                &format!(
                    "Not a proper models:/ URI: {uri}. Models URIs must be of the form 'models:/model_name/suffix' or 'models:/model_name@alias' where suffix is a model version, stage, or the string 'latest' and where alias is a registered model alias. Only one of suffix or alias can be defined at a time."
                ),
            ));
        }
    }
    if endpoint == "experiments/get" {
        // 3.x refuses a non-integer id as invalid; 2.9.2 looks it up and does not find it.
        let id = query.iter().find(|(k, _)| k == "experiment_id")?;
        if id.1.parse::<u64>().is_err() {
            return Some(error(
                404,
                "RESOURCE_DOES_NOT_EXIST",
                &format!("No Experiment with id={} exists", id.1),
            ));
        }
    }
    None
}

/// The request body as 3.x's handlers should see it: 2.9.2 accepts an integer
/// `experiment_id` in `runs/create` (3.x refuses the type).
pub(super) fn request_body<'a>(path: &str, body: &'a [u8]) -> std::borrow::Cow<'a, [u8]> {
    if matches!(route(path), Route::Mlflow("runs/create"))
        && let Ok(Value::Object(mut m)) = serde_json::from_slice::<Value>(body)
        && let Some(Value::Number(n)) = m.get("experiment_id")
        && n.is_i64()
    {
        let id = n.to_string();
        m.insert("experiment_id".into(), Value::String(id));
        return serde_json::to_vec(&m).unwrap_or_default().into();
    }
    body.into()
}

/// 3.x's answer, as 2.9.2 gives it.
pub(super) fn answer(method: &str, path: &str, reply: MlflowReply) -> MlflowReply {
    match route(path) {
        Route::Artifacts(rest) => artifact_answer(method, rest, reply),
        // JSON answers (an HTML or text one does not parse and passes as it is).
        Route::Mlflow(endpoint) => {
            let Ok(mut v) = serde_json::from_slice::<Value>(&reply.body) else {
                return reply;
            };
            if reply.status >= 400 {
                let code = v["error_code"].as_str().unwrap_or("INTERNAL_ERROR");
                let message = message(v["message"].as_str().unwrap_or(""));
                return error(reply.status, code, &message);
            }
            strip_workspace(&mut v);
            match endpoint {
                // runs/create reports no inputs; runs/get reports no outputs.
                "runs/create" => drop_field(&mut v["run"], "inputs"),
                "runs/get" => drop_field(&mut v["run"], "outputs"),
                _ => {}
            }
            MlflowReply::json(&v)
        }
        _ => reply,
    }
}

/// The artifact service's answer as 2.9.2 and 3.9.0 give it.
pub(super) fn artifact_answer(method: &str, rest: &str, reply: MlflowReply) -> MlflowReply {
    match (method, reply.status) {
        // An upload is answered with `{}` (3.17.2: an empty body).
        ("PUT", 200) => MlflowReply::empty_json(),
        // A missing artifact is an INTERNAL_ERROR naming the server's folder (3.17.2: 404).
        ("GET", 404) => {
            let rel = percent_decode(rest);
            error(
                500,
                "INTERNAL_ERROR",
                &format!(
                    "The following failures occurred while downloading one or more artifacts from {ARTIFACT_ROOT}:\n##### File {rel} #####\n[Errno 2] No such file or directory: '{ARTIFACT_ROOT}/{rel}'"
                ),
            )
        }
        _ => reply,
    }
}

fn drop_field(v: &mut Value, field: &str) {
    if let Some(m) = v.as_object_mut() {
        m.remove(field);
    }
}

/// Experiments have no `workspace` in 2.9.2 (nor in 3.9.0).
pub(super) fn strip_workspace(v: &mut Value) {
    match v {
        Value::Object(m) => {
            if m.contains_key("artifact_location") {
                m.remove("workspace");
            }
            m.values_mut().for_each(strip_workspace);
        }
        Value::Array(a) => a.iter_mut().for_each(strip_workspace),
        _ => {}
    }
}

/// 3.x's error message in 2.9.2's words.
fn message(m: &str) -> String {
    const MAX_RESULTS: &str =
        " for parameter 'max_results' supplied. It must be a positive integer";
    if let Some(v) = m
        .strip_prefix("Invalid value ")
        .and_then(|r| r.strip_suffix(MAX_RESULTS))
    {
        return format!(
            "Invalid value for max_results. It must be a positive integer, but got {v}"
        );
    }
    if let Some(v) = m
        .strip_prefix("Parameter 'version' must be an integer, got '")
        .and_then(|r| r.strip_suffix("'."))
    {
        return format!("Model version must be an integer, got '{v}'");
    }
    if let Some(m) = experiment_exists(m) {
        return m;
    }
    if let Some(name) = m
        .strip_prefix("Registered Model (name=")
        .and_then(|r| r.strip_suffix(") already exists."))
    {
        return format!(
            "Registered Model (name={name}) already exists. Error: (sqlite3.IntegrityError) UNIQUE constraint failed: registered_models.name\n[SQL: INSERT INTO registered_models (name, creation_time, last_updated_time, description) VALUES (?, ?, ?, ?)]\n[parameters: ('{name}', {now}, {now}, '')]\n(Background on this error at: https://sqlalche.me/e/20/gkpj)",
            now = now_ms()
        );
    }
    // Type errors: `supplied. Hint:` (3.x: `supplied:  Hint:`), a string value unquoted.
    if let Some((head, tail)) = m.split_once(" supplied:  Hint: ") {
        let head = match head
            .strip_prefix("Invalid value \"")
            .and_then(|r| r.split_once("\" for parameter "))
        {
            Some((value, param)) => format!("Invalid value {value} for parameter {param}"),
            None => head.to_owned(),
        };
        return format!("{head} supplied. Hint: {tail}");
    }
    m.to_owned()
}

/// A duplicate experiment's message in 2.9.2's (and 3.9.0's) words: SQLAlchemy's autoflush
/// error on a `UNIQUE (name)` constraint (3.17.2: `UNIQUE (workspace, name)`).
pub(super) fn experiment_exists(m: &str) -> Option<String> {
    let name = m
        .strip_prefix("Experiment(name=")
        .and_then(|r| r.split(") already exists.").next())
        .filter(|_| m.contains(") already exists."))?;
    Some(format!(
        "Experiment(name={name}) already exists. Error: (raised as a result of Query-invoked autoflush; consider using a session.no_autoflush block if this flush is occurring prematurely)\n(sqlite3.IntegrityError) UNIQUE constraint failed: experiments.name\n[SQL: INSERT INTO experiments (name, artifact_location, lifecycle_stage, creation_time, last_update_time) VALUES (?, ?, ?, ?, ?)]\n[parameters: ('{name}', '', 'active', {now}, {now})]\n(Background on this error at: https://sqlalche.me/e/20/gkpj)",
        now = now_ms()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_read_as_2_9_2_words_them() {
        assert_eq!(
            message(
                "Invalid value -1 for parameter 'max_results' supplied. It must be a positive integer"
            ),
            "Invalid value for max_results. It must be a positive integer, but got -1"
        );
        assert_eq!(
            message(
                "Invalid value \"ten\" for parameter 'max_results' supplied:  Hint: Value was of type 'str'. See the API docs."
            ),
            "Invalid value ten for parameter 'max_results' supplied. Hint: Value was of type 'str'. See the API docs."
        );
        assert_eq!(
            message("Parameter 'version' must be an integer, got 'abc'."),
            "Model version must be an integer, got 'abc'"
        );
        assert!(
            message("Registered Model (name=m) already exists.")
                .contains("[SQL: INSERT INTO registered_models")
        );
        assert_eq!(
            message("Run with id=x not found"),
            "Run with id=x not found"
        );
    }

    #[test]
    fn a_repeated_single_valued_key_crashes_but_bulk_run_ids_do_not() {
        let q = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let r = before(
            "GET",
            "/api/2.0/mlflow/experiments/search",
            &q(&[("max_results", "1"), ("max_results", "3")]),
            b"",
        );
        assert_eq!(
            r.map(|r| (r.status, r.content_type)),
            Some((500, "text/html; charset=utf-8"))
        );
        assert!(
            before(
                "GET",
                "/ajax-api/2.0/mlflow/metrics/get-history-bulk",
                &q(&[("run_id", "a"), ("run_id", "b"), ("metric_key", "m")]),
                b"",
            )
            .is_none()
        );
    }
}
