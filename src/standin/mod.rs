//! The stand-in: a faithful, stateful emulation of the Hokusai platform, built on wiremock
//! (one catch-all custom responder per host over shared state), with the auth cache and the
//! rate-limit counters in a **real Redis**, namespaced per instance.
//!
//! Hosts: the registry (ALB + API service), the auth service, MLflow (its internal
//! address, for direct calls) and the ECS API. Every fault of `shared/platform/faults.md`
//! is a [`Fault`] switch, on at start or at any time.
//!
//! ```no_run
//! # async fn demo() -> Result<(), hokusai_verify::standin::StandInError> {
//! use hokusai_verify::standin::{Fault, StandIn, StandInOptions};
//! use hokusai_verify::config::Profile;
//! let standin = StandIn::start(StandInOptions::new(Profile::default_profile())).await?;
//! standin.set_fault(Fault::MlflowDown, true);
//! println!("registry at {}", standin.registry_url());
//! # Ok(()) }
//! ```

mod alb;
pub mod auth;
pub mod ecs;
mod keys;
pub mod mlflow;
mod registry;
mod state;

pub use crate::catalogue::{Breakage, Dialect, Fault, FaultSet, UnknownFault};
pub use keys::{KeyRecord, KeyState, LOW_RATE_LIMIT, NORMAL_RATE_LIMIT, TestKeys};
pub use registry::{API_VERSION, wrong_ttl};
pub use state::{AuthOverride, ForwardedRequest, SentKey, Timing, UsageCall, ValidateCall};

use crate::config::Profile;
use state::{RedisSlot, State, lock};
use std::net::TcpListener;
use std::sync::Arc;
use url::Url;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Respond};

/// How to start a stand-in.
#[derive(Debug, Clone)]
pub struct StandInOptions {
    pub profile: Profile,
    pub faults: FaultSet,
    /// The real Redis that holds the auth cache and rate-limit counters.
    pub redis_url: String,
    pub timing: Timing,
    /// Fixed ports (registry, auth, mlflow, ecs) for `hokusai-verify standin`; tests use 0.
    pub ports: [u16; 4],
    /// Keys chosen by the caller, by role (the rest are generated).
    pub keys: std::collections::BTreeMap<crate::catalogue::KeyRole, crate::secret::ApiKey>,
    /// Prefix of this instance's Redis keys; `None`: a random `hv:<id>:` (tests). The
    /// stand-in server uses `""` so that a live run sees the contract's key names.
    pub namespace: Option<String>,
    /// How the platform words what the contract leaves open.
    pub dialect: Dialect,
}

impl StandInOptions {
    /// Contract timings, OS-assigned ports, the default Redis, no faults.
    pub fn new(profile: Profile) -> Self {
        Self {
            timing: Timing::from_profile(&profile),
            profile,
            faults: FaultSet::new(),
            redis_url: crate::config::DEFAULT_REDIS_URL.to_owned(),
            ports: [0; 4],
            keys: std::collections::BTreeMap::new(),
            namespace: None,
            dialect: Dialect::Contract,
        }
    }
    pub fn fault(mut self, f: Fault) -> Self {
        self.faults.insert(f);
        self
    }
    pub fn faults(mut self, fs: impl IntoIterator<Item = Fault>) -> Self {
        self.faults.extend(fs);
        self
    }
    pub fn redis_url(mut self, url: impl Into<String>) -> Self {
        self.redis_url = url.into();
        self
    }
    /// Shortened timeouts (tests).
    /// Words the platform's messages this way.
    pub fn dialect(mut self, d: Dialect) -> Self {
        self.dialect = d;
        self
    }

    pub fn fast(mut self) -> Self {
        let realistic = self.timing.realistic;
        self.timing = Timing::fast(&self.profile);
        self.timing.realistic = realistic;
        self
    }

    /// Adds a real deployment's answer times (see [`Timing::realistic`]).
    pub fn realistic(mut self, on: bool) -> Self {
        self.timing.realistic = on;
        self
    }
}

/// Why a stand-in could not start.
#[derive(Debug, thiserror::Error)]
pub enum StandInError {
    #[error(
        "the stand-in needs a Redis at {url} for the auth cache and rate limits, and none answers ({cause}).\n\
         Start one with:  redis-server --daemonize yes --port 6379 --save '' --appendonly no\n\
         (Debian/Ubuntu: apt-get install redis-server), or point HOKUSAI_REDIS_URL at one."
    )]
    NoRedis { url: String, cause: String },
    #[error("cannot bind stand-in port {port} on 127.0.0.1: {cause}")]
    Bind { port: u16, cause: String },
}

/// A running stand-in. Dropping it stops its servers and removes its Redis keys.
pub struct StandIn {
    state: Arc<State>,
    registry: MockServer,
    auth: MockServer,
    mlflow: MockServer,
    ecs: MockServer,
    redis_url: String,
    dead_redis_url: String,
}

async fn serve(port: u16, responder: impl Respond + 'static) -> Result<MockServer, StandInError> {
    let listener = TcpListener::bind(("127.0.0.1", port)).map_err(|e| StandInError::Bind {
        port,
        cause: e.to_string(),
    })?;
    // Recording would keep every body (200 MB uploads) in memory; our own logs suffice.
    let server = MockServer::builder()
        .listener(listener)
        .disable_request_recording()
        .start()
        .await;
    Mock::given(any())
        .respond_with(responder)
        .mount(&server)
        .await;
    Ok(server)
}

/// A loopback URL where nothing listens (what "Redis unreachable" looks like).
fn closed_port_url() -> String {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(1);
    format!("redis://127.0.0.1:{port}")
}

impl StandIn {
    /// Starts all hosts (milliseconds). Fails with instructions when Redis is missing.
    pub async fn start(opts: StandInOptions) -> Result<Self, StandInError> {
        let url = opts.redis_url.clone();
        let slot = tokio::task::spawn_blocking(move || RedisSlot::connect(&url))
            .await
            .expect("redis connect task")
            .map_err(|e| StandInError::NoRedis {
                // Never the URL's user information (a Redis password) in a message.
                url: crate::secret::display_url(&opts.redis_url),
                cause: crate::secret::redact(&e.to_string()),
            })?;
        let ns = opts.namespace.clone().unwrap_or_else(|| {
            let id: String = std::iter::repeat_with(fastrand::alphanumeric)
                .take(10)
                .collect();
            format!("hv:{id}:")
        });
        let keys = TestKeys::with_chosen(&opts.profile.auth.service_id, &opts.keys);
        let mut state = State::new(opts.profile, opts.faults, opts.timing, slot, ns, keys);
        state.dialect = opts.dialect;
        let state = Arc::new(state);
        let [rp, ap, mp, ep] = opts.ports;
        let registry = serve(rp, registry::RegistryResponder(state.clone())).await?;
        let auth = serve(ap, auth::AuthResponder(state.clone())).await?;
        let mlflow = serve(mp, MlflowServer(state.clone())).await?;
        let ecs = serve(ep, ecs::EcsResponder(state.clone())).await?;
        Ok(Self {
            state,
            registry,
            auth,
            mlflow,
            ecs,
            redis_url: opts.redis_url,
            dead_redis_url: closed_port_url(),
        })
    }

    pub fn registry_url(&self) -> Url {
        Url::parse(&self.registry.uri()).expect("wiremock uri")
    }
    pub fn auth_url(&self) -> Url {
        Url::parse(&self.auth.uri()).expect("wiremock uri")
    }
    /// MLflow's own address (no proxy, no auth), for direct calls.
    pub fn mlflow_url(&self) -> Url {
        Url::parse(&self.mlflow.uri()).expect("wiremock uri")
    }
    pub fn ecs_url(&self) -> Url {
        Url::parse(&self.ecs.uri()).expect("wiremock uri")
    }

    /// The Redis the platform uses, as reachable from the suite: under `cache-off` a closed
    /// port (Redis is gone for everybody), otherwise the real one.
    pub fn redis_url(&self) -> String {
        if self.state.has(Fault::CacheOff) {
            self.dead_redis_url.clone()
        } else {
            self.redis_url.clone()
        }
    }

    /// Prefix of this instance's Redis keys (prepend to the profile's key names).
    pub fn redis_prefix(&self) -> &str {
        &self.state.ns
    }

    pub fn profile(&self) -> &Profile {
        &self.state.profile
    }
    pub fn keys(&self) -> &TestKeys {
        &self.state.keys
    }
    pub fn timing(&self) -> Timing {
        self.state.timing
    }

    pub fn set_fault(&self, f: Fault, on: bool) {
        self.state.set_fault(f, on);
    }
    pub fn faults(&self) -> FaultSet {
        self.state.faults()
    }
    /// Switches a deliberate regression on or off (see [`Breakage`]).
    pub fn set_breakage(&self, b: Breakage, on: bool) {
        self.state.set_breakage(b, on);
    }
    /// Revokes a key at the auth service (by role); cached validations keep it working
    /// until they expire, as on the real platform.
    pub fn revoke(&self, role: crate::catalogue::KeyRole) {
        self.state.revoke(role);
    }
    /// Takes a revocation back.
    pub fn unrevoke(&self, role: crate::catalogue::KeyRole) {
        self.state.unrevoke(role);
    }
    /// Is the key of `role` revoked at the auth service (at runtime)?
    pub fn is_revoked(&self, role: crate::catalogue::KeyRole) -> bool {
        self.state.is_revoked(role)
    }
    /// How the auth service currently answers validate calls, when overridden.
    pub fn auth_override(&self) -> Option<AuthOverride> {
        self.state.auth_override()
    }
    pub fn set_auth_override(&self, o: Option<AuthOverride>) {
        self.state.set_auth_override(o);
    }

    /// Every validate call the auth service received so far.
    /// The timeouts that happened in this stand-in (its auth service's, its proxy's).
    pub fn timeouts(&self) -> Arc<crate::evidence::Timeouts> {
        self.state.timeouts.clone()
    }

    pub fn validate_calls(&self) -> Vec<ValidateCall> {
        lock(&self.state.validate_calls).clone()
    }
    /// How many validate calls carried `key` (a role's key, an unknown one, or none).
    pub fn validate_count(&self, key: impl Into<SentKey>) -> usize {
        let key = key.into();
        lock(&self.state.validate_calls)
            .iter()
            .filter(|c| c.key == key)
            .count()
    }
    /// Every usage report the auth service received so far.
    pub fn usage_calls(&self) -> Vec<UsageCall> {
        lock(&self.state.usage_calls).clone()
    }
    /// Every request the proxy forwarded to MLflow so far.
    /// Bytes of artifacts MLflow holds (what a run left on the platform).
    pub fn artifact_bytes(&self) -> u64 {
        lock(&self.state.mlflow).artifact_bytes()
    }

    pub fn forwarded(&self) -> Vec<ForwardedRequest> {
        lock(&self.state.forwarded).clone()
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        // Nothing outlives the run: remove this instance's cache entries and counters —
        // by name for its own keys, and everything under its namespace when it has one.
        let st = &self.state;
        let mut names: Vec<String> = Vec::new();
        for r in st.keys.all() {
            names.push(st.redis_key(&st.profile.cache_key(r.key.expose())));
            names.push(st.redis_key(&st.profile.rate_limit_key(&r.key_id)));
        }
        let pattern = (!st.ns.is_empty()).then(|| format!("{}*", st.ns));
        let _ = lock(&st.redis).with(|c| {
            let mut all = names.clone();
            if let Some(p) = &pattern {
                all.extend(redis::cmd("KEYS").arg(p).query::<Vec<String>>(c)?);
            }
            redis::cmd("DEL").arg(&all).query::<()>(c)
        });
    }
}

/// MLflow's internal address: the emulated server answering directly.
struct MlflowServer(Arc<State>);

impl Respond for MlflowServer {
    fn respond(&self, req: &wiremock::Request) -> wiremock::ResponseTemplate {
        if self.0.has(Fault::MlflowDown) {
            // A real outage would refuse the connection; the closest a live server gets.
            return wiremock::ResponseTemplate::new(503)
                .set_body_string("MLflow is down (stand-in fault mlflow-down)");
        }
        let ctx = mlflow::RequestContext {
            artifacts_disabled: self.0.has(Fault::ArtifactsDisabled),
            via_public_host: false,
        };
        let realistic = self.0.timing.realistic;
        let t = lock(&self.0.mlflow)
            .handle_request(req, req.url.path(), ctx)
            .into_template();
        if realistic {
            t.set_delay(std::time::Duration::from_millis(5))
        } else {
            t
        }
    }
}
