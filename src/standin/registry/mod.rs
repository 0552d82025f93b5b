//! The registry host (`registry.hokus.ai`): its ALB (this file: the load balancer's own
//! answers, added latency, and the routing table of the API service behind it), and the API
//! service's parts, one file each: the health routes (`health.rs`), the API-key middleware
//! with the Redis auth cache (`authn.rs`), the rate limiter (`limiter.rs`) and the MLflow
//! proxy (`proxy.rs`: ajax-api rewrite, header handling, error mapping). What a breakage
//! changes in the proxy is data, one row each (`breakages.rs`).

mod authn;
mod breakages;
mod health;
mod limiter;
mod proxy;

use super::alb;
use super::keys::KeyRecord;
use super::state::{State, UsageCall, lock};
use crate::catalogue::{Breakage, Fault, KeyRole, Spelling};
use authn::{Authn, presented_key};
use proxy::reply_template;
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
}
