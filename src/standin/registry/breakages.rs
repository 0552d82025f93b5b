//! What a breakage changes in the MLflow proxy, as data: one row per breakage, with the calls
//! it concerns and what it does to them. The healthy proxy (`proxy.rs`) asks this table at
//! four points, in this order: whether the call has a route at all, whether a breakage
//! answers instead of MLflow, how the request it forwards is edited, and how MLflow's answer
//! is edited on its way back. Breakages of other parts (the auth middleware, the limiter,
//! the health routes, the upstream timeout) stay with the part they change.

use super::super::mlflow::MlflowReply;
use super::super::state::State;
use crate::catalogue::Breakage;
use serde_json::{Value, json};
use std::borrow::Cow;

/// Uploads are cut here under `large-bodies-truncated`.
pub(super) const TRUNCATE_AT: usize = 8 << 20;

/// The call as the proxy sees it.
pub(super) struct Call<'a> {
    pub method: &'a str,
    /// The MLflow path as the client spelled it (`api/2.0/mlflow/runs/get`).
    pub rest: &'a str,
    /// The path sent to MLflow (after the ajax-api rewrite).
    pub upstream: &'a str,
    pub content_type: Option<&'a str>,
}

impl Call<'_> {
    /// The endpoint family (`api/2.0/mlflow/runs/create`: `runs`).
    pub fn family(&self) -> Option<&str> {
        self.rest.split('/').skip_while(|p| *p != "mlflow").nth(1)
    }

    /// A JSON call of MLflow's REST API (not an artifact transfer).
    fn json_call(&self) -> bool {
        !self.upstream.contains("mlflow-artifacts")
            && matches!(self.method, "POST" | "PATCH" | "DELETE")
            && self.content_type.is_some_and(|c| c.contains("json"))
    }
}

/// The request the proxy forwards, as a breakage may edit it.
pub(super) struct Forward<'a> {
    pub query: Vec<(String, String)>,
    pub body: Cow<'a, [u8]>,
}

/// What a breakage does.
pub(super) enum Does {
    /// No route for the call: the API's own 404, whatever else holds.
    NoRoute,
    /// The API answers itself with this status instead of asking MLflow (405: `Method Not
    /// Allowed`; 500: its generic server error).
    Answers(u16),
    /// The API answers 200 `{}` and MLflow is never asked.
    PretendsDone,
    /// The forwarded request is edited on its way.
    EditsRequest(fn(&mut Forward<'_>)),
    /// MLflow's answer is edited on its way back.
    EditsReply(fn(&State, &mut MlflowReply)),
}

pub(super) struct Row {
    pub breakage: Breakage,
    /// The calls it concerns (the request body is there for the malformed-body one).
    pub on: fn(&Call<'_>, &[u8]) -> bool,
    pub does: Does,
}

/// Every proxy breakage, one row each.
pub(super) const ROWS: &[Row] = &[
    Row {
        breakage: Breakage::MetricsNotProxied,
        on: |c, _| c.family() == Some("metrics"),
        does: Does::NoRoute,
    },
    Row {
        breakage: Breakage::ArtifactDeleteRefused,
        on: |c, _| c.method == "DELETE" && c.upstream.contains("mlflow-artifacts/artifacts"),
        does: Does::Answers(405),
    },
    Row {
        breakage: Breakage::VersionTagsRejected,
        on: |c, _| c.upstream.ends_with("model-versions/set-tag"),
        does: Does::Answers(500),
    },
    Row {
        breakage: Breakage::MalformedBodyIs500,
        on: |c, body| {
            c.json_call() && serde_json::from_slice::<serde_json::Map<String, Value>>(body).is_err()
        },
        does: Does::Answers(500),
    },
    Row {
        breakage: Breakage::DeleteIgnored,
        on: |c, _| c.method == "DELETE" && c.upstream.ends_with("registered-models/delete"),
        does: Does::PretendsDone,
    },
    Row {
        breakage: Breakage::ProxyDropsDeleteBody,
        on: |c, _| c.method == "DELETE",
        does: Does::EditsRequest(|f| f.body = Cow::Borrowed(&[])),
    },
    Row {
        breakage: Breakage::LargeBodiesTruncated,
        on: |_, body| body.len() > TRUNCATE_AT,
        does: Does::EditsRequest(|f| {
            // (A DELETE body another row dropped stays dropped.)
            if f.body.len() > TRUNCATE_AT {
                let cut = f.body[..TRUNCATE_AT].to_vec();
                f.body = Cow::Owned(cut);
            }
        }),
    },
    Row {
        breakage: Breakage::ProxyCollapsesRepeatedQuery,
        on: |_, _| true,
        does: Does::EditsRequest(|f| {
            let mut last: Vec<(String, String)> = Vec::new();
            for (k, v) in std::mem::take(&mut f.query) {
                last.retain(|(lk, _)| *lk != k);
                last.push((k, v));
            }
            f.query = last;
        }),
    },
    Row {
        breakage: Breakage::SearchIgnoresFilter,
        on: |c, _| c.upstream.ends_with("experiments/search"),
        does: Does::EditsRequest(|f| {
            f.query.retain(|(k, _)| k != "filter");
            if let Ok(mut v) = serde_json::from_slice::<Value>(&f.body) {
                if let Some(o) = v.as_object_mut() {
                    o.remove("filter");
                }
                f.body = Cow::Owned(serde_json::to_vec(&v).unwrap_or_default());
            }
        }),
    },
    Row {
        breakage: Breakage::MissingArtifactIs500,
        on: |c, _| c.upstream.contains("mlflow-artifacts"),
        does: Does::EditsReply(|state, reply| {
            // MLflow's answer for a missing artifact: 404 from 3.x, 500 INTERNAL_ERROR from
            // 2.9.2.
            let missing = reply.status == 404
                || (reply.status == 500
                    && serde_json::from_slice::<Value>(&reply.body)
                        .is_ok_and(|v| v["error_code"] == "INTERNAL_ERROR"));
            if missing {
                reply.status = 500;
                reply.content_type = "application/json";
                reply.body = serde_json::to_vec(
                    &json!({"detail": state.say("Internal Server Error", "unexpected failure")}),
                )
                .unwrap_or_default();
            }
        }),
    },
    Row {
        breakage: Breakage::ArtifactJsonRewritten,
        on: |c, _| c.upstream.contains("mlflow-artifacts/artifacts/"),
        does: Does::EditsReply(|_, reply| {
            if reply.status == 200
                && let Ok(v) = serde_json::from_slice::<Value>(&reply.body)
            {
                reply.body = serde_json::to_vec(&v).unwrap_or_default();
            }
        }),
    },
    Row {
        breakage: Breakage::LatestVersionsEmpty,
        on: |c, _| {
            c.upstream
                .ends_with("registered-models/get-latest-versions")
        },
        does: Does::EditsReply(|_, reply| {
            if reply.status == 200 {
                reply.body = b"{}".to_vec();
            }
        }),
    },
    Row {
        breakage: Breakage::RunParamsDropped,
        on: |c, _| c.upstream.ends_with("runs/get"),
        does: Does::EditsReply(|_, reply| {
            edit_json(reply, |v| {
                if let Some(d) = v.pointer_mut("/run/data").and_then(Value::as_object_mut) {
                    d.remove("params");
                }
            })
        }),
    },
    Row {
        breakage: Breakage::ApiSpellingDiffers,
        on: |c, _| c.rest.starts_with("api/2.0/mlflow/experiments/"),
        does: Does::EditsReply(|_, reply| {
            edit_json(reply, |v| {
                if let Some(e) = v.get_mut("experiment").and_then(Value::as_object_mut) {
                    e.remove("last_update_time");
                }
                if let Some(list) = v.get_mut("experiments").and_then(Value::as_array_mut) {
                    for e in list.iter_mut().filter_map(Value::as_object_mut) {
                        e.remove("last_update_time");
                    }
                }
            })
        }),
    },
];

/// A 200 JSON answer edited in place.
fn edit_json(reply: &mut MlflowReply, edit: impl Fn(&mut Value)) {
    if reply.status != 200 {
        return;
    }
    if let Ok(mut v) = serde_json::from_slice::<Value>(&reply.body) {
        edit(&mut v);
        reply.body = serde_json::to_vec(&v).unwrap_or_default();
    }
}

/// The rows of the breakages switched on that concern `call`.
pub(super) fn on<'r>(
    state: &'r State,
    call: &'r Call<'_>,
    body: &'r [u8],
) -> impl Iterator<Item = &'static Row> + 'r {
    ROWS.iter()
        .filter(move |r| state.broken(r.breakage) && (r.on)(call, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One row per breakage: a breakage with two rows would be applied twice.
    #[test]
    fn one_row_per_breakage() {
        let mut seen = std::collections::BTreeSet::new();
        for r in ROWS {
            assert!(seen.insert(r.breakage.id()), "{} has two rows", r.breakage);
        }
    }
}
