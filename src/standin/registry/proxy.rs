//! The API's MLflow proxy: write scopes, the ajax-api rewrite, header handling, the upstream
//! timeout, and MLflow's answers mapped back (HTML error pages made JSON).

use super::super::keys::KeyRecord;
use super::super::mlflow::{MlflowReply, RequestContext};
use super::super::state::{ForwardedRequest, lock};
use super::authn::presented_key;
use super::{RegistryResponder, delayed, detail, said};
use crate::catalogue::{Breakage, Fault};
use serde_json::{Value, json};
use wiremock::{Request, ResponseTemplate};

impl RegistryResponder {
    /// The endpoint family of an MLflow path (`api/2.0/mlflow/runs/create`: `runs`).
    pub(super) fn family(mlflow_path: &str) -> Option<&str> {
        mlflow_path.split('/').skip_while(|p| *p != "mlflow").nth(1)
    }

    pub(super) fn is_write(method: &str, mlflow_path: &str) -> bool {
        if mlflow_path.contains("mlflow-artifacts/") {
            return matches!(method, "PUT" | "DELETE" | "POST" | "PATCH");
        }
        let last = mlflow_path.rsplit('/').next().unwrap_or("");
        method != "GET"
            && !matches!(
                last,
                "search" | "get" | "get-by-name" | "get-latest-versions" | "get-history" | "list"
            )
    }

    /// The MLflow proxy. `rest` is the MLflow path (`api/2.0/mlflow/...`).
    pub(super) fn proxy(
        &self,
        req: &Request,
        rest: &str,
        record: &KeyRecord,
    ) -> (ResponseTemplate, u16) {
        let state = &self.0;
        let method = req.method.as_str();
        if state.broken(Breakage::MetricsNotProxied) && Self::family(rest) == Some("metrics") {
            return (said(state, 404, "Not Found", "no route here"), 404);
        }
        let scopes_ignored = state.broken(Breakage::ScopesIgnored)
            || (state.broken(Breakage::ScopesIgnoredOnRuns) && Self::family(rest) == Some("runs"));
        if state.profile.scopes.write_scopes_enforced
            && !scopes_ignored
            && Self::is_write(method, rest)
        {
            let allowed = record
                .scopes
                .iter()
                .any(|s| state.profile.scopes.write_scopes.contains(s));
            if !allowed {
                let t = ResponseTemplate::new(403).set_body_json(match state.dialect {
                    super::super::Dialect::Contract => json!({
                        "detail": "Insufficient permissions for this operation", "error": "FORBIDDEN",
                        "required_scopes": state.profile.scopes.write_scopes,
                    }),
                    super::super::Dialect::Reworded => json!({
                        "detail": "This key may only read", "error": "FORBIDDEN",
                    }),
                });
                return (t, 403);
            }
        }
        if !self.mlflow_reachable() {
            state.mlflow_failed();
            let msg = match state.dialect {
                super::super::Dialect::Contract => format!(
                    "Failed to connect to MLflow server at {}",
                    state.mlflow_internal_url
                ),
                super::super::Dialect::Reworded => {
                    "Tracking backend refused the connection".to_owned()
                }
            };
            return (detail(502, msg), 502);
        }
        let upstream_path = match rest.strip_prefix("api/2.0/") {
            // The ajax-api conversion: only a leading `api/2.0/` is rewritten.
            Some(tail) if !state.has(Fault::NoAjaxRewrite) => format!("/ajax-api/2.0/{tail}"),
            _ => format!("/{rest}"),
        };
        // Header handling: drop Host and (per profile) the key; add the identity headers.
        let forward_key =
            state.profile.proxy.forwards_auth_headers || state.has(Fault::AuthHeaderLeak);
        let raw_key = presented_key(req).unwrap_or_default();
        let mut names = Vec::new();
        let mut carried_key = false;
        for (name, value) in req.headers.iter() {
            let n = name.as_str();
            if n == "host" || n == "content-length" {
                continue;
            }
            if (n == "authorization" || n == "x-api-key") && !forward_key {
                continue;
            }
            if !raw_key.is_empty() && value.to_str().is_ok_and(|v| v.contains(&raw_key)) {
                carried_key = true;
            }
            names.push(n.to_owned());
        }
        if !state.broken(Breakage::IdentityHeadersMissing) {
            names.push("x-hokusai-user-id".into());
            names.push("x-hokusai-api-key-id".into());
        }
        let body: &[u8] = if method == "DELETE" && state.broken(Breakage::ProxyDropsDeleteBody) {
            &[]
        } else if state.broken(Breakage::LargeBodiesTruncated) && req.body.len() > TRUNCATE_AT {
            &req.body[..TRUNCATE_AT]
        } else {
            &req.body
        };
        if let Some(t) = self.refused_by_breakage(method, &upstream_path, content_type(req), body) {
            return t;
        }
        let mut query: Vec<(String, String)> = req
            .url
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let mut raw_query = req.url.query().map(str::to_owned);
        if state.broken(Breakage::ProxyCollapsesRepeatedQuery) {
            let mut last: Vec<(String, String)> = Vec::new();
            for (k, v) in query {
                last.retain(|(lk, _)| *lk != k);
                last.push((k, v));
            }
            raw_query = Some(
                url::form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(&last)
                    .finish(),
            );
            query = last;
        }
        let unfiltered: Vec<u8>;
        let mut body = body;
        if state.broken(Breakage::SearchIgnoresFilter)
            && upstream_path.ends_with("experiments/search")
        {
            query.retain(|(k, _)| k != "filter");
            raw_query = Some(
                url::form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(&query)
                    .finish(),
            );
            if let Ok(mut v) = serde_json::from_slice::<Value>(body) {
                if let Some(o) = v.as_object_mut() {
                    o.remove("filter");
                }
                unfiltered = serde_json::to_vec(&v).unwrap_or_default();
                body = &unfiltered;
            }
        }
        if method == "DELETE"
            && upstream_path.ends_with("registered-models/delete")
            && state.broken(Breakage::DeleteIgnored)
        {
            return (
                ResponseTemplate::new(200).set_body_raw("{}", "application/json"),
                200,
            );
        }
        lock(&state.forwarded).push(ForwardedRequest {
            method: method.to_owned(),
            path: upstream_path.clone(),
            query: raw_query,
            header_names: names,
            carried_key,
            user_id: Some(record.user_id.clone()),
            key_id: Some(record.key_id.clone()),
            body_len: body.len(),
            body: (body.len() <= 64 * 1024).then(|| body.to_vec()),
        });
        if state.has(Fault::MlflowSlow) {
            let (t, status) = if state.broken(Breakage::UpstreamTimeoutAs500) {
                let t = said(
                    state,
                    500,
                    "Internal server error while proxying to MLflow",
                    "proxy failure",
                );
                (t, 500)
            } else {
                let secs = state.profile.proxy.upstream_timeout_ms as f64 / 1000.0;
                let text = match state.dialect {
                    super::super::Dialect::Contract => {
                        format!("MLflow server request timeout after {secs:.1}s")
                    }
                    super::super::Dialect::Reworded => "Tracking backend too slow".to_owned(),
                };
                (detail(504, text), 504)
            };
            if state.broken(Breakage::ApiBlocksWhileServing) {
                // A synchronous wait on the registry's only server thread: nothing else is
                // answered meanwhile, as a blocked event loop, however the timeout is then
                // reported.
                std::thread::sleep(state.timing.upstream_timeout);
                return (t, status);
            }
            return (delayed(t, state.timing.upstream_timeout), status);
        }
        let content_type = content_type(req);
        let ctx = RequestContext {
            artifacts_disabled: state.has(Fault::ArtifactsDisabled),
            via_public_host: true,
        };
        let reply = {
            let mut store = lock(&state.mlflow);
            store.duplicate_versions = state.broken(Breakage::DuplicateVersions);
            store.handle(method, &upstream_path, &query, content_type, body, ctx)
        };
        state.mlflow_ok();
        let reply = self.bend_reply(reply, rest, &upstream_path);
        let status = reply.status;
        let t = self.map_upstream(reply, &upstream_path);
        if state.broken(Breakage::SlowVersionCreate)
            && upstream_path.ends_with("model-versions/create")
        {
            let late = state.timing.workflow_budget + std::time::Duration::from_millis(500);
            return (delayed(t, late), status);
        }
        (t, status)
    }

    /// Breakages that answer instead of MLflow.
    pub(super) fn refused_by_breakage(
        &self,
        method: &str,
        upstream_path: &str,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Option<(ResponseTemplate, u16)> {
        let state = &self.0;
        let server_error = || {
            Some((
                said(state, 500, "Internal Server Error", "unexpected failure"),
                500,
            ))
        };
        if state.broken(Breakage::ArtifactDeleteRefused)
            && method == "DELETE"
            && upstream_path.contains("mlflow-artifacts/artifacts")
        {
            return Some((detail(405, "Method Not Allowed"), 405));
        }
        if state.broken(Breakage::VersionTagsRejected)
            && upstream_path.ends_with("model-versions/set-tag")
        {
            return server_error();
        }
        let json_call = !upstream_path.contains("mlflow-artifacts")
            && matches!(method, "POST" | "PATCH" | "DELETE")
            && content_type.is_some_and(|c| c.contains("json"));
        if state.broken(Breakage::MalformedBodyIs500)
            && json_call
            && serde_json::from_slice::<serde_json::Map<String, Value>>(body).is_err()
        {
            return server_error();
        }
        None
    }

    /// Breakages that change MLflow's answer on its way back.
    pub(super) fn bend_reply(
        &self,
        mut reply: MlflowReply,
        rest: &str,
        upstream_path: &str,
    ) -> MlflowReply {
        let state = &self.0;
        let json_edit = |reply: &mut MlflowReply, edit: &dyn Fn(&mut Value)| {
            if let Ok(mut v) = serde_json::from_slice::<Value>(&reply.body) {
                edit(&mut v);
                reply.body = serde_json::to_vec(&v).unwrap_or_default();
            }
        };
        // MLflow's answer for a missing artifact: 404 from 3.x, 500 INTERNAL_ERROR from 2.9.2.
        let missing_artifact = reply.status == 404
            || (reply.status == 500
                && serde_json::from_slice::<Value>(&reply.body)
                    .is_ok_and(|v| v["error_code"] == "INTERNAL_ERROR"));
        if state.broken(Breakage::MissingArtifactIs500)
            && missing_artifact
            && upstream_path.contains("mlflow-artifacts")
        {
            reply.status = 500;
            reply.content_type = "application/json";
            reply.body = serde_json::to_vec(
                &json!({"detail": state.say("Internal Server Error", "unexpected failure")}),
            )
            .unwrap_or_default();
        }
        if reply.status == 200 {
            if state.broken(Breakage::ArtifactJsonRewritten)
                && upstream_path.contains("mlflow-artifacts/artifacts/")
                && let Ok(v) = serde_json::from_slice::<Value>(&reply.body)
            {
                reply.body = serde_json::to_vec(&v).unwrap_or_default();
            }
            if state.broken(Breakage::LatestVersionsEmpty)
                && upstream_path.ends_with("registered-models/get-latest-versions")
            {
                reply.body = b"{}".to_vec();
            }
            if state.broken(Breakage::RunParamsDropped) && upstream_path.ends_with("runs/get") {
                json_edit(&mut reply, &|v| {
                    if let Some(d) = v.pointer_mut("/run/data").and_then(Value::as_object_mut) {
                        d.remove("params");
                    }
                });
            }
            if state.broken(Breakage::ApiSpellingDiffers)
                && rest.starts_with("api/2.0/mlflow/experiments/")
            {
                json_edit(&mut reply, &|v| {
                    if let Some(e) = v.get_mut("experiment").and_then(Value::as_object_mut) {
                        e.remove("last_update_time");
                    }
                    if let Some(list) = v.get_mut("experiments").and_then(Value::as_array_mut) {
                        for e in list.iter_mut().filter_map(Value::as_object_mut) {
                            e.remove("last_update_time");
                        }
                    }
                });
            }
        }
        reply
    }

    /// Upstream answers pass through, except HTML error pages (made JSON with an MLflow
    /// error code) and the artifact server being off.
    pub(super) fn map_upstream(&self, reply: MlflowReply, upstream_path: &str) -> ResponseTemplate {
        let html = reply.content_type.starts_with("text/html");
        if self.0.broken(Breakage::WrongErrorCode) && !html && reply.status >= 400 {
            return ResponseTemplate::new(reply.status)
                .set_body_json(json!({"error_code": "PROXY_ERROR", "message": "upstream error"}));
        }
        if html
            && matches!(reply.status, 404 | 405)
            && !self.0.broken(Breakage::HtmlErrorsPassThrough)
        {
            let (code, what) = if reply.status == 404 {
                (
                    "ENDPOINT_NOT_FOUND",
                    self.0.say("No API route matches", "Unknown route:"),
                )
            } else {
                (
                    "BAD_REQUEST",
                    self.0.say("Method not allowed for", "Wrong method on"),
                )
            };
            return ResponseTemplate::new(reply.status).set_body_json(
                json!({"error_code": code, "message": format!("{what} {upstream_path}")}),
            );
        }
        if reply.status == 503 && upstream_path.contains("mlflow-artifacts") {
            return detail(
                503,
                json!({"error": "ARTIFACTS_DISABLED", "message": self.0.say("Artifact serving is disabled on the MLflow server (start it with --serve-artifacts)", "artifacts off")}),
            );
        }
        if reply.status >= 500 && html {
            return said(
                &self.0,
                500,
                "Internal server error while proxying to MLflow",
                "proxy failure",
            );
        }
        reply_template(reply)
    }

    /// MLflow answering a request sent straight to it (the misrouted ALB rule).
    pub(super) fn mlflow_direct(&self, req: &Request, path: &str) -> MlflowReply {
        lock(&self.0.mlflow).handle_request(req, path, RequestContext::default())
    }
}

/// Uploads are cut here under `large-bodies-truncated`.
const TRUNCATE_AT: usize = 8 << 20;

fn content_type(req: &Request) -> Option<&str> {
    req.headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
}

pub(super) fn reply_template(reply: MlflowReply) -> ResponseTemplate {
    reply.into_template()
}
