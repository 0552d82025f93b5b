//! The release's endpoints the stand-in does not emulate in full, answered from the release's
//! endpoint catalogue (`platform/mlflow-endpoints/<release>.json`, generated from MLflow's own
//! routes and protos): its methods (405 otherwise), MLflow's request validation (a JSON
//! content type on POST and PUT, the fields the protos mark required) and, for the request the
//! catalogue probes with, what the real release answered (an id that does not exist, a list
//! with nothing in it). A request past all that is one the stand-in does not emulate: 501
//! `NOT_IMPLEMENTED` naming the RPC, never invented data. No check sends one.

use super::*;
use crate::mlflow::endpoints::{Catalogue, Endpoint};

/// The catalogue rows whose path matches `path` (`/api/2.0/…` or `/ajax-api/2.0/…`).
fn matching(release: MlflowRelease, path: &str) -> Vec<&'static Endpoint> {
    let Some(rest) = path
        .strip_prefix("/api/2.0/")
        .or_else(|| path.strip_prefix("/ajax-api/2.0/"))
    else {
        return vec![];
    };
    Catalogue::cached(release)
        .spelled()
        .filter(|e| matches_pattern(e.under_api_2_0().unwrap_or(""), rest))
        .collect()
}

/// Flask's patterns: `<name>` is one segment, `<path:name>` the rest.
fn matches_pattern(pattern: &str, path: &str) -> bool {
    let mut p = pattern.split('/');
    let mut s = path.split('/');
    loop {
        match (p.next(), s.next()) {
            (None, None) => return true,
            (Some(seg), Some(got)) if seg.starts_with("<path:") => {
                return !got.is_empty() || s.next().is_some();
            }
            (Some(seg), Some(got)) if seg.starts_with('<') && seg.ends_with('>') => {
                if got.is_empty() {
                    return false;
                }
            }
            (Some(seg), Some(got)) if seg == got => {}
            _ => return false,
        }
    }
}

/// The answer to an MLflow path the store has no handler for; `None`: not an endpoint of the
/// release (the caller's 404 page).
pub(super) fn answer(
    release: MlflowRelease,
    method: &str,
    path: &str,
    query: &[(String, String)],
    content_type: Option<&str>,
    body: &[u8],
) -> Option<MlflowReply> {
    let rows = matching(release, path);
    if rows.is_empty() {
        return None;
    }
    let Some(e) = rows.iter().find(|e| e.method == method) else {
        return Some(MlflowReply::method_not_allowed_page());
    };
    let params: Map<String, Value> = if method == "GET" {
        query
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect()
    } else {
        if matches!(method, "POST" | "PUT") {
            match content_type.map(|c| c.split(';').next().unwrap_or("").trim()) {
                None => {
                    return Some(
                        MlErr::invalid("Bad Request. Content-Type header is missing.").reply(),
                    );
                }
                Some("application/json") => {}
                Some(_) => {
                    return Some(
                        MlErr::invalid(
                            "Bad Request. Content-Type must be one of ['application/json'].",
                        )
                        .reply(),
                    );
                }
            }
        }
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(m)) => m,
            _ => Map::new(),
        }
    };
    let rpc = e.rpc.as_deref().unwrap_or("this endpoint");
    // The catalogue's own probe (nothing in the query or the body): what the release
    // answered it, whatever order its handler checks things in.
    if query.is_empty() && params.is_empty() {
        return Some(match &e.answer.error_code {
            Some(code) => MlErr {
                status: e.answer.status,
                code,
                message: format!("{rpc}: nothing of that id here"),
            }
            .reply(),
            None if (200..300).contains(&e.answer.status) => MlflowReply {
                status: e.answer.status,
                content_type: "application/json",
                body: b"{}".to_vec(),
            },
            // A handler that answers a bare status (MLflow's `_not_implemented`: an empty 404).
            None => MlflowReply {
                status: e.answer.status,
                content_type: "",
                body: vec![],
            },
        });
    }
    // Path parameters are given by the path.
    let in_path = |f: &str| {
        e.path.split('/').any(|seg| {
            seg.strip_prefix('<')
                .and_then(|s| s.strip_suffix('>'))
                .is_some_and(|name| name.rsplit(':').next() == Some(f))
        })
    };
    if let Some(field) = e
        .required
        .iter()
        .find(|f| !params.contains_key(*f) && !in_path(f))
    {
        return Some(
            MlErr::invalid(format!(
                "Missing value for required parameter '{field}'. {PARAM_DOCS}"
            ))
            .reply(),
        );
    }
    Some(
        MlErr {
            status: 501,
            code: "NOT_IMPLEMENTED",
            message: format!("the stand-in does not emulate {rpc} beyond its validation"),
        }
        .reply(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flask_patterns() {
        assert!(matches_pattern("mlflow/runs/get", "mlflow/runs/get"));
        assert!(!matches_pattern("mlflow/runs/get", "mlflow/runs/get/x"));
        assert!(matches_pattern(
            "mlflow/logged-models/<model_id>",
            "mlflow/logged-models/m-1"
        ));
        assert!(!matches_pattern(
            "mlflow/logged-models/<model_id>",
            "mlflow/logged-models/"
        ));
        assert!(matches_pattern(
            "mlflow-artifacts/artifacts/<path:artifact_path>",
            "mlflow-artifacts/artifacts/a/b/c"
        ));
        assert!(!matches_pattern("mlflow/webhooks/<id>", "mlflow/webhooks"));
    }
}
