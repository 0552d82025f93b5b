//! The registry host (`registry.hokus.ai`): its ALB and the API service behind it — health
//! routes, the API-key middleware with the Redis auth cache, the rate limiter, and the MLflow
//! proxy (ajax-api rewrite, header handling, error mapping).

use super::alb;
use super::auth::{ApiAuth, AuthFailure, api_validate};
use super::keys::KeyRecord;
use super::mlflow::{MlflowReply, RequestContext};
use super::state::{ForwardedRequest, State, UsageCall, lock};
use crate::catalogue::{Breakage, Fault, KeyRole, Spelling};
use serde_json::{Value, json};
use std::sync::Arc;
use wiremock::{Request, Respond, ResponseTemplate};

/// The version the emulated API reports.
pub const API_VERSION: &str = "1.4.2";

/// The wrong TTL used under `cache-ttl-wrong`: ten times the profile's.
pub fn wrong_ttl(profile_ttl: u64) -> u64 {
    profile_ttl * 10
}

fn detail(status: u16, detail: impl Into<Value>) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({ "detail": detail.into() }))
}

/// `detail` with the contract's example text, or other words under the reworded dialect.
fn said(
    state: &State,
    status: u16,
    contract: &'static str,
    reworded: &'static str,
) -> ResponseTemplate {
    detail(status, state.say(contract, reworded))
}

/// What the auth middleware decided.
enum Authn {
    Ok(KeyRecord),
    Reject(ResponseTemplate),
}

/// The key a request carries: `Authorization: <bearer in any case> <key>` or `X-API-Key`
/// (not under `x-api-key-ignored`).
fn presented_key_of(state: &State, req: &Request) -> Option<String> {
    if state.broken(Breakage::XApiKeyIgnored) && req.headers.get("authorization").is_none() {
        return None;
    }
    presented_key(req)
}

/// The key a request carries: `Authorization: <bearer in any case> <key>` or `X-API-Key`.
fn presented_key(req: &Request) -> Option<String> {
    let header = |n: &str| req.headers.get(n).and_then(|v| v.to_str().ok());
    if let Some(v) = header("authorization") {
        if let Some((scheme, key)) = v.trim().split_once(char::is_whitespace)
            && scheme.eq_ignore_ascii_case("bearer")
        {
            return Some(key.trim().to_owned());
        }
        // Any other scheme is "a key in the wrong form": presented but invalid.
        return Some(String::new());
    }
    header("x-api-key").map(|v| v.trim().to_owned())
}

fn well_formed(key: &str) -> bool {
    crate::secret::ApiKey::parse(key).is_ok() && key.len() == key.trim().len()
}

pub(crate) struct RegistryResponder(pub Arc<State>);

impl Respond for RegistryResponder {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let state = &self.0;
        let validations = || lock(&state.validate_calls).len();
        let before = validations();
        ROUTE_DELAY.set(std::time::Duration::ZERO);
        let template = if state.has(Fault::TargetUnhealthy) {
            alb::unavailable(state.dialect)
        } else if state.broken(Breakage::WafBlocksRegistry) {
            alb::firewall_page()
        } else {
            self.route(req)
        };
        // Added latency stacks on the delay the route gave (a slow MLflow, a slow auth
        // service), never replaces it.
        let own = ROUTE_DELAY.get();
        let slow_health = state.broken(Breakage::SlowHealth) && req.url.path() == "/health";
        if state.has(Fault::SlowRegistry) || slow_health {
            template.set_delay(own + state.timing.slow_registry_delay)
        } else if state.timing.realistic {
            template.set_delay(
                own + super::state::Timing::realistic_registry_delay(
                    req.url.path(),
                    validations() > before,
                ),
            )
        } else {
            template
        }
    }
}

thread_local! {
    /// The delay the route gave the answer being built: the registry answers on one server
    /// thread, one `respond` at a time, so this is that answer's.
    static ROUTE_DELAY: std::cell::Cell<std::time::Duration> =
        const { std::cell::Cell::new(std::time::Duration::ZERO) };
}

/// `t` answered after `d` (recorded, so that added latency stacks on it).
fn delayed(t: ResponseTemplate, d: std::time::Duration) -> ResponseTemplate {
    ROUTE_DELAY.set(d);
    t.set_delay(d)
}

impl RegistryResponder {
    fn route(&self, req: &Request) -> ResponseTemplate {
        let state = &self.0;
        let path = req.url.path().to_owned();
        let method = req.method.as_str().to_owned();
        let ops_need_key = state.profile.health.ops_routes_need_key;

        // The ALB's listener rule for /api/mlflow/* points at MLflow: no auth in front.
        if state.has(Fault::MlflowRouteToMlflow) && path.starts_with("/api/mlflow/") {
            let reply = self.mlflow_direct(req, &path);
            return reply_template(reply);
        }

        if state.broken(Breakage::BareApiUnprotected) && path.starts_with("/api/2.0/mlflow/") {
            let record = state.keys.get(KeyRole::Valid).clone();
            return self.proxy(req, &path[1..], &record).0;
        }
        match (method.as_str(), path.as_str()) {
            ("GET", "/")
                if state.broken(Breakage::RootWithoutKey) && presented_key(req).is_none() =>
            {
                ResponseTemplate::new(200)
                    .set_body_json(json!({"service": "Hokusai API", "version": API_VERSION}))
            }
            ("GET", "/version") if state.broken(Breakage::VersionRouteMissing) => {
                said(state, 404, "Not Found", "no route here")
            }
            ("GET", "/health")
                if state.broken(Breakage::DetailedHealthFails)
                    && req
                        .url
                        .query_pairs()
                        .any(|(k, v)| k == "detailed" && v == "true") =>
            {
                said(state, 500, "Internal Server Error", "unexpected failure")
            }
            ("GET", "/health") => {
                let detailed = req
                    .url
                    .query_pairs()
                    .any(|(k, v)| k == "detailed" && v == "true");
                if state.broken(Breakage::ApiBlocksWhileServing) {
                    // Its dependency probes, synchronously, on the registry's only server
                    // thread: nothing else is answered meanwhile (a blocked event loop).
                    std::thread::sleep(state.timing.blocking_probe);
                }
                self.health(detailed)
            }
            ("GET", "/health/mlflow") => self.health_mlflow(),
            ("GET", "/live") | ("GET", "/ready") | ("GET", "/version") | ("GET", "/metrics")
                if !ops_need_key =>
            {
                self.ops(&path)
            }
            ("GET", p) if p.starts_with("/api/health/") && !ops_need_key => self.api_health(p),
            _ => match self.authenticate(req) {
                Authn::Reject(t) => t,
                Authn::Ok(record) => {
                    let counted = self.count(&record);
                    let over = counted.is_some_and(|(n, _)| n > record.rate_limit_per_hour);
                    let shared = state.broken(Breakage::RateLimitShared);
                    if over && shared {
                        state
                            .limiter_tripped
                            .store(true, std::sync::atomic::Ordering::SeqCst);
                    }
                    let tripped = shared
                        && state
                            .limiter_tripped
                            .load(std::sync::atomic::Ordering::SeqCst);
                    let (template, status) = match counted {
                        Some((count, ttl)) if count > record.rate_limit_per_hour || tripped => {
                            (self.limited(&record, ttl), 429)
                        }
                        _ => self.authenticated(req, &method, &path, &record),
                    };
                    // Usage is reported after every authenticated request; its failures
                    // never reach the client.
                    if !state.broken(Breakage::UsageNotReported) {
                        lock(&state.usage_calls).push(UsageCall {
                            key_id: record.key_id.clone(),
                            endpoint: path.clone(),
                            status_code: status,
                        });
                    }
                    self.rate_headers(template, &record, counted)
                }
            },
        }
    }

    /// Routes behind the key: returns the answer and its status (for the usage report).
    fn authenticated(
        &self,
        req: &Request,
        method: &str,
        path: &str,
        record: &KeyRecord,
    ) -> (ResponseTemplate, u16) {
        match (method, path) {
            ("GET", "/") => (
                ResponseTemplate::new(200)
                    .set_body_json(json!({"service": "Hokusai API", "version": API_VERSION})),
                200,
            ),
            ("GET", "/version") if self.0.broken(Breakage::VersionRouteMissing) => {
                (said(&self.0, 404, "Not Found", "no route here"), 404)
            }
            ("GET", "/live") | ("GET", "/ready") | ("GET", "/version") | ("GET", "/metrics") => {
                let t = self.ops(path);
                (t, 200)
            }
            ("GET", p) if p.starts_with("/api/health/") => (self.api_health(p), 200),
            (_, p) if Spelling::of(p).is_some_and(|s| self.unrouted(s)) => {
                (said(&self.0, 404, "Not Found", "no route here"), 404)
            }
            (_, p) if p.starts_with("/api/mlflow/") => {
                self.proxy(req, &p["/api/mlflow/".len()..], record)
            }
            (_, p) if p.starts_with("/mlflow/") => self.proxy(req, &p["/mlflow/".len()..], record),
            // MLflow's own mount (`/api/2.0/mlflow/…`), where the profile routes it.
            (_, p) if Spelling::of(p) == Some(Spelling::BareApi) => {
                self.proxy(req, &p[1..], record)
            }
            _ => (said(&self.0, 404, "Not Found", "no route here"), 404),
        }
    }

    /// Is `s` without a route here: not routed by the profile (for the spellings the
    /// stand-in mounts only where the profile says), or unrouted by a breakage?
    fn unrouted(&self, s: Spelling) -> bool {
        let by_breakage = Breakage::all()
            .into_iter()
            .any(|b| b.unrouted() == Some(s) && self.0.broken(b));
        let mounted = match s {
            // Always mounted (the stand-in's API serves them in every profile).
            Spelling::ProxyApi | Spelling::ProxyAjax | Spelling::MlflowAjax => true,
            Spelling::BareApi | Spelling::BareAjax => self.0.profile.routes(s),
        };
        by_breakage || !mounted
    }

    fn authenticate(&self, req: &Request) -> Authn {
        let state = &self.0;
        let Some(key) = presented_key_of(state, req) else {
            return Authn::Reject(self.rejection(401, "API key required"));
        };
        if state.broken(Breakage::BearerRejected) && req.headers.get("authorization").is_some() {
            return Authn::Reject(self.rejection(401, "Invalid or expired API key"));
        }
        if !well_formed(&key) {
            return Authn::Reject(self.rejection(401, "Invalid or expired API key"));
        }
        let cache_key = if state.broken(Breakage::CacheKeyRenamed) {
            state.redis_key(&format!("auth_cache:{key}"))
        } else {
            state.redis_key(&state.profile.cache_key(&key))
        };
        let cache_on = !state.has(Fault::CacheOff);
        if !cache_on && state.broken(Breakage::AuthNeedsRedis) {
            return Authn::Reject(said(
                state,
                500,
                "Internal Server Error",
                "unexpected failure",
            ));
        }
        if cache_on && !state.broken(Breakage::CacheNotRead) {
            let cached: Option<String> = lock(&state.redis)
                .with(|c| redis::cmd("GET").arg(&cache_key).query(c))
                .ok()
                .flatten();
            // A cached failure (`cache-failed-validations`) is answered from the cache, in
            // the API's own words, without asking the auth service.
            if cached
                .as_deref()
                .is_some_and(|json| json.contains("\"is_valid\": false"))
            {
                return Authn::Reject(said(
                    state,
                    401,
                    "API key is invalid",
                    "Credentials rejected (cached)",
                ));
            }
            if let Some(record) = cached.and_then(|json| self.record_from_cache(&json, &key)) {
                if state.broken(Breakage::CacheRenewedOnUse) {
                    let ttl = state.profile.cache.ttl_secs;
                    let _ = lock(&state.redis)
                        .with(|c| redis::cmd("EXPIRE").arg(&cache_key).arg(ttl).query::<()>(c));
                }
                return Authn::Ok(record);
            }
        }
        match api_validate(state, &key) {
            ApiAuth::Valid(record) => {
                let refresh_broken = state.broken(Breakage::CacheNotRefreshed)
                    && !lock(&state.cached_once).insert(cache_key.clone());
                if cache_on && !refresh_broken {
                    let ttl = if state.has(Fault::CacheTtlWrong) {
                        wrong_ttl(state.profile.cache.ttl_secs)
                    } else if state.broken(Breakage::CacheTtlShort) {
                        (state.profile.cache.ttl_secs / 5).max(1)
                    } else {
                        state.profile.cache.ttl_secs
                    };
                    let value = json!({"key_id": record.key_id, "user_id": record.user_id, "scopes": record.scopes,
                        "rate_limit_per_hour": record.rate_limit_per_hour}).to_string();
                    // A Redis error only means no caching (fail open).
                    let _ = lock(&state.redis).with(|c| {
                        redis::cmd("SET")
                            .arg(&cache_key)
                            .arg(&value)
                            .arg("EX")
                            .arg(ttl)
                            .query::<()>(c)
                    });
                }
                Authn::Ok(record)
            }
            ApiAuth::Invalid => {
                if cache_on && state.broken(Breakage::CacheFailedValidations) {
                    let _ = lock(&state.redis).with(|c| {
                        redis::cmd("SET")
                            .arg(&cache_key)
                            .arg("{\"is_valid\": false}")
                            .arg("EX")
                            .arg(60)
                            .query::<()>(c)
                    });
                }
                Authn::Reject(self.rejection(401, "Invalid or expired API key"))
            }
            failed if state.broken(Breakage::AuthErrorsAsBadKey) => {
                let t = self.rejection(401, "Invalid or expired API key");
                // Told only once the API gave up waiting for the auth service.
                Authn::Reject(if matches!(failed, ApiAuth::Failed(AuthFailure::Timeout)) {
                    delayed(t, state.timing.auth_timeout)
                } else {
                    t
                })
            }
            ApiAuth::RateLimited => {
                Authn::Reject(detail(429, "Rate limit exceeded").insert_header("retry-after", "60"))
            }
            ApiAuth::Failed(why) => {
                let message = match why {
                    AuthFailure::Error => state.say(
                        "Authentication service error",
                        "Could not verify credentials: the auth backend failed",
                    ),
                    AuthFailure::Timeout => state.say(
                        "Authentication service timeout",
                        "Could not verify credentials in time (auth backend)",
                    ),
                    AuthFailure::Unavailable => state.say(
                        "Authentication service unavailable",
                        "Could not verify credentials: auth backend offline",
                    ),
                };
                let mut t = detail(state.profile.auth.failure_status, message);
                if state.profile.auth.failure_retry_after {
                    t = t.insert_header("retry-after", "30");
                }
                if why == AuthFailure::Timeout {
                    t = delayed(t, state.timing.auth_timeout);
                }
                Authn::Reject(t)
            }
        }
    }

    /// A rejection of the key: FastAPI's `{"detail": …}` (none under the
    /// `rejection-without-detail` breakage).
    fn rejection(&self, status: u16, text: &str) -> ResponseTemplate {
        if self.0.broken(Breakage::RejectionWithoutDetail) {
            return ResponseTemplate::new(status).set_body_json(json!({}));
        }
        detail(status, text)
    }

    /// Rebuilds the key record from a cache entry (the cache stores what validation returned).
    fn record_from_cache(&self, json: &str, raw_key: &str) -> Option<KeyRecord> {
        let v: Value = serde_json::from_str(json).ok()?;
        let base = self.0.keys.find(raw_key)?.clone();
        Some(KeyRecord {
            key_id: v.get("key_id")?.as_str()?.to_owned(),
            user_id: v.get("user_id")?.as_str()?.to_owned(),
            scopes: v
                .get("scopes")?
                .as_array()?
                .iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect(),
            rate_limit_per_hour: v.get("rate_limit_per_hour")?.as_u64()?,
            ..base
        })
    }

    /// The 429 past the limit, with `Retry-After` (seconds until the window resets).
    fn limited(&self, record: &KeyRecord, ttl: i64) -> ResponseTemplate {
        let reset = chrono::Utc::now().timestamp() + ttl;
        let mut t = detail(429, "Rate limit exceeded");
        if !self.0.broken(Breakage::RateLimitWithoutRetryAfter) {
            t = t.insert_header("retry-after", ttl.max(1).to_string());
        }
        t.insert_header("x-ratelimit-limit", record.rate_limit_per_hour.to_string())
            .insert_header("x-ratelimit-remaining", "0")
            .insert_header("x-ratelimit-reset", reset.to_string())
    }

    /// `INCR rate_limit:hourly:<key_id>` (+ `EXPIRE` on the first); None when the limiter is
    /// off or Redis fails (fail open).
    fn count(&self, record: &KeyRecord) -> Option<(u64, i64)> {
        let state = &self.0;
        if state.has(Fault::RateLimitOff) || state.has(Fault::CacheOff) {
            return None;
        }
        let key = state.redis_key(&state.profile.rate_limit_key(&record.key_id));
        let window = state.profile.rate_limit.window_secs;
        let mut slot = lock(&state.redis);
        let count: u64 = slot.with(|c| redis::cmd("INCR").arg(&key).query(c)).ok()?;
        if count == 1 {
            let _ = slot.with(|c| redis::cmd("EXPIRE").arg(&key).arg(window).query::<()>(c));
        }
        let ttl: i64 = slot
            .with(|c| redis::cmd("TTL").arg(&key).query(c))
            .unwrap_or(window as i64);
        Some((count, ttl))
    }

    /// Adds `X-RateLimit-*` to an authenticated answer (none when the limiter did not count).
    fn rate_headers(
        &self,
        t: ResponseTemplate,
        record: &KeyRecord,
        counted: Option<(u64, i64)>,
    ) -> ResponseTemplate {
        let Some((count, ttl)) = counted else {
            return t;
        };
        if count > record.rate_limit_per_hour
            || (self.0.broken(Breakage::RateLimitShared)
                && self
                    .0
                    .limiter_tripped
                    .load(std::sync::atomic::Ordering::SeqCst))
        {
            return t; // the 429 already carries its headers
        }
        let reset = chrono::Utc::now().timestamp() + ttl.max(0);
        let remaining = if self.0.broken(Breakage::RateLimitRemainingStuck) {
            record.rate_limit_per_hour
        } else {
            record.rate_limit_per_hour - count
        };
        t.insert_header("x-ratelimit-limit", record.rate_limit_per_hour.to_string())
            .insert_header("x-ratelimit-remaining", remaining.to_string())
            .insert_header("x-ratelimit-reset", reset.to_string())
    }

    /// Can the proxy reach MLflow?
    fn mlflow_reachable(&self) -> bool {
        !self.0.has(Fault::MlflowDown) && !self.0.broken(Breakage::HealthIgnoresMlflow)
    }

    /// What the health routes believe about MLflow (wrong under `health-ignores-mlflow`).
    fn mlflow_reported_up(&self) -> bool {
        !self.0.has(Fault::MlflowDown)
    }

    fn redis_healthy(&self) -> bool {
        !self.0.has(Fault::CacheOff)
            && lock(&self.0.redis)
                .with(|c| redis::cmd("PING").query::<String>(c))
                .is_ok()
    }

    fn health(&self, detailed: bool) -> ResponseTemplate {
        let state = &self.0;
        let mlflow_ok = self.mlflow_reported_up();
        if !mlflow_ok {
            state.mlflow_failed();
        }
        let redis_ok = self.redis_healthy();
        let word = |ok: bool| if ok { "healthy" } else { "unhealthy" };
        let services = json!({
            "mlflow": word(mlflow_ok), "redis": word(redis_ok), "postgres": "healthy", "message_queue": "healthy",
        });
        let all = mlflow_ok && redis_ok;
        let mut body = json!({
            "status": if all { "healthy" } else { state.profile.health.degraded_value.as_str() },
            "version": API_VERSION,
            "services": services,
            "timestamp": chrono::Utc::now().to_rfc3339(),
        });
        if detailed {
            body["details"] = json!({
                "mlflow": {"status": word(mlflow_ok), "url": state.mlflow_internal_url, "circuit_breaker_state": state.circuit_state()},
                "redis": {"status": word(redis_ok)},
                "postgres": {"status": "healthy"},
                "message_queue": {"status": "healthy"},
            });
            // The detailed view never answers 5xx.
            return ResponseTemplate::new(200).set_body_json(body);
        }
        let status = if all {
            200
        } else {
            state.profile.health.degraded_status
        };
        ResponseTemplate::new(status).set_body_json(body)
    }

    fn health_mlflow(&self) -> ResponseTemplate {
        let state = &self.0;
        if state.broken(Breakage::BreakerStuckOpen) {
            return ResponseTemplate::new(503).set_body_json(json!({
                "connected": false, "circuit_breaker_state": "OPEN", "failure_count": 5,
            }));
        }
        if self.mlflow_reachable() {
            state.mlflow_ok();
            ResponseTemplate::new(200).set_body_json(json!({
                "connected": true, "circuit_breaker_state": "CLOSED", "failure_count": 0,
                "mlflow_url": state.mlflow_internal_url,
            }))
        } else {
            let failures = state.mlflow_failed();
            let body = match state.dialect {
                super::Dialect::Contract => json!({
                    "connected": false, "circuit_breaker_state": state.circuit_state(), "failure_count": failures,
                    "error": format!("Failed to connect to MLflow server at {}", state.mlflow_internal_url),
                }),
                super::Dialect::Reworded => json!({
                    "connected": false, "circuit_breaker_state": state.circuit_state(), "consecutive_errors": failures,
                    "reason": "tracking backend not answering",
                }),
            };
            ResponseTemplate::new(503).set_body_json(body)
        }
    }

    fn api_health(&self, path: &str) -> ResponseTemplate {
        if path != "/api/health/mlflow" {
            return said(&self.0, 404, "Not Found", "no route here");
        }
        let up = self.mlflow_reachable() && !self.0.broken(Breakage::ExperimentsCheckWrong);
        if self.0.profile.proxy.api_health == crate::config::ApiHealthShape::SdkProbe {
            // The client SDK's probe: it asks MLflow and says how long that took.
            return if up {
                ResponseTemplate::new(200).set_body_json(json!({
                    "status": "ok", "tracking_uri": self.0.mlflow_internal_url, "latency_ms": 3.2,
                }))
            } else {
                ResponseTemplate::new(503).set_body_json(json!({
                    "status": "error", "tracking_uri": self.0.mlflow_internal_url,
                    "error": self.0.say("MLflow is not answering", "tracking backend offline"),
                }))
            };
        }
        let artifacts = !self.0.has(Fault::ArtifactsDisabled);
        let check = |ok: bool| json!({"status": if ok { "healthy" } else { "unhealthy" }, "message": if ok { "ok" } else { "cannot reach MLflow" }});
        // Artifact serving is configuration, not health: `enabled` or `disabled`.
        let artifacts_api = json!({"status": if artifacts { "enabled" } else { "disabled" }, "message": "artifact serving"});
        let healthy = up;
        let body = json!({
            "status": if healthy { "healthy" } else { "unhealthy" },
            "checks": {"connectivity": check(up), "experiments_api": check(up), "artifacts_api": artifacts_api},
        });
        if healthy {
            ResponseTemplate::new(200).set_body_json(body)
        } else {
            detail(503, body)
        }
    }

    fn ops(&self, path: &str) -> ResponseTemplate {
        let up = self.mlflow_reachable();
        match path {
            "/live" => ResponseTemplate::new(200).set_body_json(json!({"alive": true})),
            "/ready" => ResponseTemplate::new(if up { 200 } else { 503 })
                .set_body_json(match self.0.dialect {
                    super::Dialect::Contract => json!({"ready": up, "checks": {"mlflow": up, "database": true}}),
                    super::Dialect::Reworded => json!({"ready": up, "checks": {"mlflow": if up { "ok" } else { "unhealthy" }, "db": "ok"}}),
                }),
            "/version" => ResponseTemplate::new(200).set_body_json(json!({
                "version": API_VERSION, "mlflow_major_version": self.0.profile.proxy.mlflow_major_version,
            })),
            _ => ResponseTemplate::new(200).set_body_raw(
                "# HELP hokusai_requests_total Requests served.\n# TYPE hokusai_requests_total counter\nhokusai_requests_total 1\n",
                "text/plain; version=0.0.4",
            ),
        }
    }

    /// The endpoint family of an MLflow path (`api/2.0/mlflow/runs/create`: `runs`).
    fn family(mlflow_path: &str) -> Option<&str> {
        mlflow_path.split('/').skip_while(|p| *p != "mlflow").nth(1)
    }

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

    /// The MLflow proxy. `rest` is the MLflow path (`api/2.0/mlflow/...`).
    fn proxy(&self, req: &Request, rest: &str, record: &KeyRecord) -> (ResponseTemplate, u16) {
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
                    super::Dialect::Contract => json!({
                        "detail": "Insufficient permissions for this operation", "error": "FORBIDDEN",
                        "required_scopes": state.profile.scopes.write_scopes,
                    }),
                    super::Dialect::Reworded => json!({
                        "detail": "This key may only read", "error": "FORBIDDEN",
                    }),
                });
                return (t, 403);
            }
        }
        if !self.mlflow_reachable() {
            state.mlflow_failed();
            let msg = match state.dialect {
                super::Dialect::Contract => format!(
                    "Failed to connect to MLflow server at {}",
                    state.mlflow_internal_url
                ),
                super::Dialect::Reworded => "Tracking backend refused the connection".to_owned(),
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
                    super::Dialect::Contract => {
                        format!("MLflow server request timeout after {secs:.1}s")
                    }
                    super::Dialect::Reworded => "Tracking backend too slow".to_owned(),
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
    fn refused_by_breakage(
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
    fn bend_reply(&self, mut reply: MlflowReply, rest: &str, upstream_path: &str) -> MlflowReply {
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
    fn map_upstream(&self, reply: MlflowReply, upstream_path: &str) -> ResponseTemplate {
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
    fn mlflow_direct(&self, req: &Request, path: &str) -> MlflowReply {
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

fn reply_template(reply: MlflowReply) -> ResponseTemplate {
    reply.into_template()
}
