//! The API's MLflow proxy: write scopes, the ajax-api rewrite, header handling, the upstream
//! timeout, and MLflow's answers mapped back (HTML error pages made JSON).

use super::super::keys::KeyRecord;
use super::super::mlflow::{MlflowReply, RequestContext};
use super::super::state::{ForwardedRequest, lock};
use super::authn::presented_key;
use super::breakages::{self, Call, Does, Forward, Row};
use super::{RegistryResponder, delayed, detail, said};
use crate::catalogue::{Breakage, Fault};
use serde_json::json;
use std::borrow::Cow;
use wiremock::{Request, ResponseTemplate};

impl RegistryResponder {
    fn is_write(method: &str, mlflow_path: &str) -> bool {
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

    /// The MLflow proxy. `rest` is the MLflow path (`api/2.0/mlflow/...`). What breakages
    /// change here is asked of their table (`breakages.rs`) at each step.
    pub(super) fn proxy(
        &self,
        req: &Request,
        rest: &str,
        record: &KeyRecord,
    ) -> (ResponseTemplate, u16) {
        let state = &self.0;
        let method = req.method.as_str();
        let upstream_path = match rest.strip_prefix("api/2.0/") {
            // The ajax-api conversion: only a leading `api/2.0/` is rewritten.
            Some(tail) if !state.has(Fault::NoAjaxRewrite) => format!("/ajax-api/2.0/{tail}"),
            _ => format!("/{rest}"),
        };
        let call = Call {
            method,
            rest,
            upstream: &upstream_path,
            content_type: content_type(req),
        };
        let rows: Vec<&Row> = breakages::on(state, &call, &req.body).collect();
        if rows.iter().any(|r| matches!(r.does, Does::NoRoute)) {
            return (said(state, 404, "Not Found", "no route here"), 404);
        }
        let scopes_ignored = state.broken(Breakage::ScopesIgnored)
            || (state.broken(Breakage::ScopesIgnoredOnRuns) && call.family() == Some("runs"));
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
        let query: Vec<(String, String)> = req
            .url
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let mut forward = Forward {
            query: query.clone(),
            body: Cow::Borrowed(&req.body),
        };
        for r in &rows {
            if let Does::EditsRequest(edit) = r.does {
                edit(&mut forward);
            }
        }
        // The raw query string as sent, unless a breakage edited the query.
        let raw_query = if forward.query == query {
            req.url.query().map(str::to_owned)
        } else {
            Some(
                url::form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(&forward.query)
                    .finish(),
            )
        };
        let (query, body) = (forward.query, forward.body);
        // Breakages that answer instead of MLflow, judged on the request as it would go on.
        for r in breakages::on(state, &call, &body) {
            match r.does {
                Does::Answers(405) => return (detail(405, "Method Not Allowed"), 405),
                Does::Answers(status) => {
                    return (
                        said(state, status, "Internal Server Error", "unexpected failure"),
                        status,
                    );
                }
                Does::PretendsDone => {
                    return (
                        ResponseTemplate::new(200).set_body_raw("{}", "application/json"),
                        200,
                    );
                }
                _ => {}
            }
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
            state
                .timeouts
                .upstream
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
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
        let ctx = RequestContext {
            artifacts_disabled: state.has(Fault::ArtifactsDisabled),
            via_public_host: true,
        };
        let mut reply = {
            let mut store = lock(&state.mlflow);
            store.duplicate_versions = state.broken(Breakage::DuplicateVersions);
            store.handle(
                method,
                &upstream_path,
                &query,
                call.content_type,
                &body,
                ctx,
            )
        };
        state.mlflow_ok();
        for r in breakages::on(state, &call, &body) {
            if let Does::EditsReply(edit) = r.does {
                edit(state, &mut reply);
            }
        }
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

fn content_type(req: &Request) -> Option<&str> {
    req.headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
}

pub(super) fn reply_template(reply: MlflowReply) -> ResponseTemplate {
    reply.into_template()
}
