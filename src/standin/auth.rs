//! The auth service (`auth.hokus.ai`): `/health`, `POST /api/v1/keys/validate`,
//! `POST /api/v1/usage/{key_id}`; and the API's client side of the validate call.

use super::alb;
use super::keys::{KeyRecord, KeyState};
use super::state::{AuthOverride, SentKey, State, UsageCall, ValidateCall, lock};
use crate::catalogue::{Breakage, Fault, KeyRole};
use serde_json::{Value, json};
use std::sync::Arc;
use wiremock::{Request, Respond, ResponseTemplate};

/// The service id the API sends under `service-id-mismatch`.
pub const WRONG_SERVICE_ID: &str = "hokusai-registry";

/// The auth service's answer to a validate call: (status, JSON body, the key record if valid).
pub(crate) fn validate(
    state: &State,
    bearer_key: Option<&str>,
    service_id: Option<&str>,
) -> (u16, Value, Option<KeyRecord>) {
    let Some(raw) = bearer_key else {
        return (401, json!({"detail": "Missing API key"}), None);
    };
    let Some(record) = state.keys.find(raw) else {
        return (401, json!({"detail": "Invalid or expired API key"}), None);
    };
    let mut record = record.clone();
    if state.has(Fault::KeyNotValidForService) && record.role == KeyRole::Valid {
        record.services = vec!["data-pipeline".into()];
    }
    if state.has(Fault::WriteForbidden) && record.role == KeyRole::Valid {
        record.scopes = vec!["model:read".into()];
    }
    let rejected = |why: &str| (200, json!({"is_valid": false, "error": why}), None);
    if state.is_revoked(record.role) {
        return rejected("API key has been revoked");
    }
    match record.state {
        KeyState::Revoked => return rejected("API key has been revoked"),
        KeyState::Expired => return rejected("API key has expired"),
        KeyState::Active => {}
    }
    let service = service_id.unwrap_or("");
    if !record.services.iter().any(|s| s == service) {
        return rejected(&format!("API key is not valid for service '{service}'"));
    }
    let body = json!({
        "is_valid": true, "user_id": record.user_id, "key_id": record.key_id, "service_id": service,
        "scopes": record.scopes, "rate_limit_per_hour": record.rate_limit_per_hour,
    });
    (200, body, Some(record))
}

fn role_of(state: &State, key: Option<&str>) -> SentKey {
    match key {
        None => SentKey::Missing,
        Some(k) => state
            .keys
            .find(k)
            .map_or(SentKey::Unknown, |r| SentKey::Role(r.role)),
    }
}

/// Why the API could not get an answer from the auth service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AuthFailure {
    /// 5xx (or an ALB error page).
    Error,
    /// No answer within the API's timeout.
    Timeout,
    /// Connection refused / no route.
    Unavailable,
}

/// What the API learns from its validate call.
pub(crate) enum ApiAuth {
    Valid(KeyRecord),
    Invalid,
    RateLimited,
    Failed(AuthFailure),
}

/// The API's validate call, as the API service makes it (over the same logic the HTTP
/// auth service serves, so the auth service's call log counts it).
pub(crate) fn api_validate(state: &State, raw_key: &str) -> ApiAuth {
    let outcome = validate_once(state, raw_key);
    let count = match outcome {
        ApiAuth::Failed(_) => Some(&state.timeouts.auth_failures),
        ApiAuth::RateLimited => Some(&state.timeouts.auth_throttled),
        _ => None,
    };
    if let Some(n) = count {
        n.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
    outcome
}

fn validate_once(state: &State, raw_key: &str) -> ApiAuth {
    let service_id = if state.has(Fault::ServiceIdMismatch) {
        WRONG_SERVICE_ID.to_owned()
    } else {
        state.profile.auth.service_id.clone()
    };
    if state.auth_override() == Some(AuthOverride::Unreachable) {
        return ApiAuth::Failed(AuthFailure::Unavailable);
    }
    if state.has(Fault::AuthDown) {
        // The auth ALB answers 503 itself: the service never sees the call.
        return ApiAuth::Failed(AuthFailure::Error);
    }
    let as_bearer = !state.broken(Breakage::KeyNotSentAsBearer);
    let (outcome, answered) = judged(state, as_bearer.then_some(raw_key), &service_id);
    if answered.is_none() {
        state
            .timeouts
            .auth
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
    lock(&state.validate_calls).push(ValidateCall {
        key: role_of(state, Some(raw_key)),
        bearer: as_bearer,
        service_id: Some(service_id.clone()),
        client_ip: Some("127.0.0.1".into()),
        answered,
    });
    outcome
}

/// What the auth service makes of a validate call (the key read from `Authorization:
/// Bearer` only), and the status it answers (`None`: no answer within the API's timeout).
fn judged(state: &State, bearer_key: Option<&str>, service_id: &str) -> (ApiAuth, Option<u16>) {
    if state.has(Fault::AuthSlow) {
        return (ApiAuth::Failed(AuthFailure::Timeout), None);
    }
    if state.has(Fault::AuthRateLimited) {
        return (ApiAuth::RateLimited, Some(429));
    }
    match state.auth_override() {
        Some(AuthOverride::ServerError) => return (ApiAuth::Failed(AuthFailure::Error), Some(500)),
        Some(AuthOverride::TooManyRequests) => return (ApiAuth::RateLimited, Some(429)),
        _ => {}
    }
    match validate(state, bearer_key, Some(service_id)) {
        (200, _, Some(record)) => (ApiAuth::Valid(record), Some(200)),
        (status, _, _) => (ApiAuth::Invalid, Some(status)),
    }
}

/// The auth host's HTTP face.
pub(crate) struct AuthResponder(pub Arc<State>);

impl Respond for AuthResponder {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let state = &self.0;
        if state.has(Fault::AuthDown) {
            return alb::unavailable(state.dialect);
        }
        let path = req.url.path();
        let method = req.method.as_str();
        let slow = |t: ResponseTemplate| {
            if state.has(Fault::AuthSlow) {
                t.set_delay(state.timing.auth_timeout + std::time::Duration::from_secs(1))
            } else {
                t
            }
        };
        let answer = match (method, path) {
            ("GET", "/health") if state.broken(Breakage::AuthHealthNotJson) => {
                ResponseTemplate::new(200).set_body_raw("OK", "text/plain")
            }
            ("GET", "/health") => ResponseTemplate::new(200).set_body_json(
                match state.dialect {
                    super::Dialect::Contract => json!({
                        "status": "healthy", "service": "hokusai-auth", "timestamp": chrono::Utc::now().to_rfc3339(),
                    }),
                    super::Dialect::Reworded => json!({"ok": true, "name": "auth-api", "checked_at": chrono::Utc::now().timestamp()}),
                },
            ),
            ("POST", "/api/v1/keys/validate") => {
                let bearer = req
                    .headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.split_once(' '))
                    .filter(|(s, _)| s.eq_ignore_ascii_case("bearer"))
                    .map(|(_, k)| k.trim().to_owned());
                let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
                let service_id = body.get("service_id").and_then(Value::as_str).map(str::to_owned);
                let throttled = state.has(Fault::AuthRateLimited)
                    || state.auth_override() == Some(AuthOverride::TooManyRequests);
                let (template, status) = match state.auth_override() {
                    Some(AuthOverride::ServerError) => (
                        ResponseTemplate::new(500).set_body_json(json!({"detail": "Internal server error"})),
                        500,
                    ),
                    _ if throttled => (
                        ResponseTemplate::new(429)
                            .insert_header("retry-after", "60")
                            .set_body_json(json!({"detail": "Rate limit exceeded"})),
                        429,
                    ),
                    _ => {
                        let (status, body, _) = validate(state, bearer.as_deref(), service_id.as_deref());
                        (ResponseTemplate::new(status).set_body_json(body), status)
                    }
                };
                lock(&state.validate_calls).push(ValidateCall {
                    key: role_of(state, bearer.as_deref()),
                    bearer: bearer.is_some(),
                    service_id: service_id.clone(),
                    client_ip: body.get("client_ip").and_then(Value::as_str).map(str::to_owned),
                    answered: Some(status),
                });
                template
            }
            ("POST", p) if p.starts_with("/api/v1/usage/") => {
                let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
                lock(&state.usage_calls).push(UsageCall {
                    key_id: p.trim_start_matches("/api/v1/usage/").to_owned(),
                    endpoint: body.get("endpoint").and_then(Value::as_str).unwrap_or("").to_owned(),
                    status_code: body.get("status_code").and_then(Value::as_u64).unwrap_or(0) as u16,
                });
                ResponseTemplate::new(200).set_body_json(json!({"recorded": true}))
            }
            _ => ResponseTemplate::new(404).set_body_json(json!({"detail": "Not Found"})),
        };
        slow(answer)
    }
}
