//! MLflow 3.9.0, the release the `hokusai-2026` platform pins: everywhere it answers
//! differently from 3.17.2 (the store's own answers), in one place. Measured against a real
//! 3.9.0 server and pinned by the `mlflow3.9_contract_*` snapshots of
//! `tests/mlflow_contract.rs`. Most of it is where 2.9.2 differs too (the error body, the
//! experiment's fields, the artifact service), so [`super::v2`]'s pieces are shared; what is
//! 3.9.0's own is marked.

use super::routes::{Route, route};
use super::*;

/// The page token 3.9.0 answers `metrics/get-history` with when `max_results` is missing
/// (base64 of `{"offset": 0}`): no metrics, and a next page that starts where this one did.
const EMPTY_HISTORY_PAGE: &str = "eyJvZmZzZXQiOiAwfQ==";

/// 3.17.2's answer, as 3.9.0 gives it.
pub(super) fn answer(
    method: &str,
    path: &str,
    query: &[(String, String)],
    reply: MlflowReply,
) -> MlflowReply {
    match route(path) {
        Route::Artifacts(rest) => super::v2::artifact_answer(method, rest, reply),
        // JSON answers (an HTML or text one does not parse and passes as it is).
        Route::Mlflow(endpoint) => {
            let Ok(mut v) = serde_json::from_slice::<Value>(&reply.body) else {
                return reply;
            };
            if reply.status >= 400 {
                let code = v["error_code"].as_str().unwrap_or("INTERNAL_ERROR");
                let message = v["message"].as_str().unwrap_or("");
                let message = super::v2::experiment_exists(message).unwrap_or(message.to_owned());
                return super::v2::error(reply.status, code, &message);
            }
            super::v2::strip_workspace(&mut v);
            // 3.9.0's own: without `max_results` the history is one empty page (MLflow's
            // own client always sends `max_results`; 3.17.2 answers every metric).
            if endpoint == "metrics/get-history" && !query.iter().any(|(k, _)| k == "max_results") {
                v = json!({"next_page_token": EMPTY_HISTORY_PAGE});
            }
            MlflowReply::json(&v)
        }
        _ => reply,
    }
}
