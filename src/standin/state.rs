//! The state every stand-in host shares: faults, keys, the MLflow store, logs of what each
//! service received (for "the upstream never saw the key"-style checks), and the real Redis.

use super::keys::TestKeys;
use super::mlflow::MlflowStore;
use crate::catalogue::{Breakage, Fault, FaultSet, KeyRole};
use crate::config::Profile;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard, RwLock};
use std::time::Duration;

/// Time limits of the emulated platform. The contract's values are the default; tests
/// shorten them so that a 30 s upstream timeout costs half a second.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// The API's timeout for its validate call to the auth service (contract: 5 s).
    pub auth_timeout: Duration,
    /// The proxy's upstream timeout (contract: 30 s).
    pub upstream_timeout: Duration,
    /// Extra latency of every registry answer under `slow-registry`.
    pub slow_registry_delay: Duration,
    /// The registration workflow's budget (contract: the profile's, 30 s).
    pub workflow_budget: Duration,
    /// Under `api-blocks-while-serving`: how long `/health` probes its dependencies
    /// synchronously on the API's only worker (nothing else is answered meanwhile); within
    /// the health budget, so `/health` alone is in time.
    pub blocking_probe: Duration,
    /// Answer times of a real deployment on top (`HOKUSAI_STANDIN_LATENCY=realistic`):
    /// health about 20 ms, a proxied MLflow call about 60 ms p50 / 100 ms p90, MLflow direct
    /// 5 ms, an uncached key validation 180 ms more.
    pub realistic: bool,
}

impl Timing {
    /// The realistic answer time of a registry request (`validated`: an uncached key
    /// validation happened while answering it).
    pub fn realistic_registry_delay(path: &str, validated: bool) -> Duration {
        let base = if path.starts_with("/api/mlflow/") || path.starts_with("/mlflow/") {
            // p50 about 64 ms, p90 about 100 ms.
            let r = fastrand::f64();
            if r < 0.8 {
                45.0 + r / 0.8 * 30.0
            } else {
                80.0 + (r - 0.8) / 0.2 * 40.0
            }
        } else {
            20.0
        };
        let auth = if validated { 180.0 } else { 0.0 };
        Duration::from_secs_f64((base + auth) / 1000.0)
    }
}

impl Timing {
    /// The contract's limits, from the profile.
    pub fn from_profile(p: &Profile) -> Self {
        Self {
            auth_timeout: Duration::from_millis(p.auth.validate_timeout_ms),
            upstream_timeout: Duration::from_millis(p.proxy.upstream_timeout_ms),
            slow_registry_delay: Duration::from_millis(p.health.latency_budget_ms + 500),
            workflow_budget: Duration::from_secs(p.workflow.budget_secs),
            blocking_probe: Duration::from_millis(p.health.latency_budget_ms * 4 / 5),
            realistic: false,
        }
    }

    /// Short limits for tests: the same behaviour in a fraction of the time.
    pub fn fast(p: &Profile) -> Self {
        Self {
            auth_timeout: Duration::from_millis(300),
            upstream_timeout: Duration::from_millis(400),
            slow_registry_delay: Duration::from_millis(p.health.latency_budget_ms + 200),
            workflow_budget: Duration::from_secs(5),
            blocking_probe: Duration::from_millis(p.health.latency_budget_ms * 3 / 5),
            realistic: false,
        }
    }
}

/// How the auth service misbehaves beyond the catalogue's faults (auth-area checks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthOverride {
    /// Every validate call answers 500.
    ServerError,
    /// Every validate call answers 429.
    TooManyRequests,
    /// The API's route to the auth service refuses connections.
    Unreachable,
}

/// Which key a request to the auth service carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SentKey {
    /// The key of one of the stand-in's roles.
    Role(KeyRole),
    /// A key the stand-in did not issue.
    Unknown,
    /// No key.
    Missing,
}

impl From<KeyRole> for SentKey {
    fn from(r: KeyRole) -> Self {
        SentKey::Role(r)
    }
}

/// One `POST /api/v1/keys/validate` the auth service received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidateCall {
    /// The key in the Bearer header: one of the stand-in's roles, an unknown key, or none.
    pub key: SentKey,
    /// Was the key sent as `Authorization: Bearer`?
    pub bearer: bool,
    pub service_id: Option<String>,
    pub client_ip: Option<String>,
    /// What the auth service answered (its status; `None`: no answer in time).
    pub answered: Option<u16>,
}

/// One `POST /api/v1/usage/{key_id}` the auth service received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageCall {
    pub key_id: String,
    pub endpoint: String,
    pub status_code: u16,
}

/// One request the proxy sent to MLflow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardedRequest {
    pub method: String,
    /// Path as MLflow saw it (after any rewrite).
    pub path: String,
    /// The raw query string, as forwarded.
    pub query: Option<String>,
    /// Header names, lower-case.
    pub header_names: Vec<String>,
    /// Did any forwarded header carry the client's API key?
    pub carried_key: bool,
    pub user_id: Option<String>,
    pub key_id: Option<String>,
    pub body_len: usize,
    /// The body, when small (DELETE bodies, JSON).
    pub body: Option<Vec<u8>>,
}

/// A synchronous Redis connection (wiremock responders are synchronous; each stand-in host
/// runs on its own thread, so a sub-millisecond local Redis call is fine there).
pub(crate) struct RedisSlot {
    client: redis::Client,
    conn: Option<redis::Connection>,
}

impl RedisSlot {
    pub(crate) fn connect(url: &str) -> redis::RedisResult<Self> {
        let client = redis::Client::open(url)?;
        let conn = client.get_connection_with_timeout(Duration::from_millis(500))?;
        conn.set_read_timeout(Some(Duration::from_millis(500)))?;
        conn.set_write_timeout(Some(Duration::from_millis(500)))?;
        Ok(Self {
            client,
            conn: Some(conn),
        })
    }

    /// Runs `f` on a live connection, reconnecting once if the last one broke.
    pub(crate) fn with<T>(
        &mut self,
        f: impl Fn(&mut redis::Connection) -> redis::RedisResult<T>,
    ) -> redis::RedisResult<T> {
        if self.conn.is_none() {
            let c = self
                .client
                .get_connection_with_timeout(Duration::from_millis(500))?;
            c.set_read_timeout(Some(Duration::from_millis(500)))?;
            self.conn = Some(c);
        }
        let r = f(self.conn.as_mut().expect("connected above"));
        if r.as_ref()
            .is_err_and(|e| e.is_io_error() || e.is_connection_dropped())
        {
            self.conn = None;
        }
        r
    }
}

pub(crate) struct State {
    pub profile: Profile,
    pub keys: TestKeys,
    pub timing: Timing,
    /// Prefix of every Redis key this instance writes (isolation between instances).
    pub ns: String,
    /// MLflow's internal address, as the proxy names it in errors.
    pub mlflow_internal_url: String,
    /// How messages are worded (see [`super::Dialect`]).
    pub dialect: super::Dialect,
    faults: RwLock<FaultSet>,
    breakages: RwLock<BTreeSet<Breakage>>,
    /// Under `rate-limit-shared`: some key went over its limit, so every key is limited.
    pub(crate) limiter_tripped: std::sync::atomic::AtomicBool,
    /// Roles revoked at runtime (revocation-window checks).
    revoked: RwLock<BTreeSet<KeyRole>>,
    auth_override: RwLock<Option<AuthOverride>>,
    pub redis: Mutex<RedisSlot>,
    pub mlflow: Mutex<MlflowStore>,
    pub validate_calls: Mutex<Vec<ValidateCall>>,
    /// Cache keys written once (the `cache-not-refreshed` breakage writes each only once).
    pub cached_once: Mutex<std::collections::HashSet<String>>,
    pub usage_calls: Mutex<Vec<UsageCall>>,
    pub forwarded: Mutex<Vec<ForwardedRequest>>,
    /// Consecutive failed connections to MLflow (the API's circuit breaker).
    pub mlflow_failures: AtomicU32,
    /// The timeouts that really happened here (the suite reads them instead of latency).
    pub timeouts: std::sync::Arc<crate::evidence::Timeouts>,
}

/// Locks a mutex even if a panicking thread poisoned it (a stand-in must keep answering).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl State {
    pub(crate) fn new(
        profile: Profile,
        faults: FaultSet,
        timing: Timing,
        redis: RedisSlot,
        ns: String,
        keys: TestKeys,
    ) -> Self {
        let release = profile.mlflow_release();
        Self {
            profile,
            keys,
            timing,
            ns,
            mlflow_internal_url: "http://mlflow.hokusai-development.local:5000".into(),
            dialect: super::Dialect::Contract,
            faults: RwLock::new(faults),
            breakages: RwLock::new(BTreeSet::new()),
            limiter_tripped: Default::default(),
            revoked: RwLock::new(BTreeSet::new()),
            auth_override: RwLock::new(None),
            redis: Mutex::new(redis),
            mlflow: Mutex::new(MlflowStore::new(release)),
            validate_calls: Mutex::new(Vec::new()),
            cached_once: Mutex::new(Default::default()),
            usage_calls: Mutex::new(Vec::new()),
            forwarded: Mutex::new(Vec::new()),
            mlflow_failures: AtomicU32::new(0),
            timeouts: Default::default(),
        }
    }

    /// The contract's example wording, or other words under the reworded dialect.
    pub fn say(&self, contract: &'static str, reworded: &'static str) -> &'static str {
        match self.dialect {
            super::Dialect::Contract => contract,
            super::Dialect::Reworded => reworded,
        }
    }

    pub fn has(&self, f: Fault) -> bool {
        self.faults
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&f)
    }

    pub fn faults(&self) -> FaultSet {
        self.faults
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn set_fault(&self, f: Fault, on: bool) {
        let mut set = self.faults.write().unwrap_or_else(|p| p.into_inner());
        if on {
            set.insert(f);
        } else {
            set.remove(&f);
        }
    }

    pub fn broken(&self, b: Breakage) -> bool {
        self.breakages
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&b)
    }

    pub fn set_breakage(&self, b: Breakage, on: bool) {
        let mut set = self.breakages.write().unwrap_or_else(|p| p.into_inner());
        if on {
            set.insert(b);
        } else {
            set.remove(&b);
        }
    }

    pub fn is_revoked(&self, role: KeyRole) -> bool {
        self.revoked
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&role)
    }

    pub fn unrevoke(&self, role: KeyRole) {
        self.revoked
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&role);
    }

    pub fn revoke(&self, role: KeyRole) {
        self.revoked
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(role);
    }

    pub fn auth_override(&self) -> Option<AuthOverride> {
        *self.auth_override.read().unwrap_or_else(|p| p.into_inner())
    }

    pub fn set_auth_override(&self, o: Option<AuthOverride>) {
        *self
            .auth_override
            .write()
            .unwrap_or_else(|p| p.into_inner()) = o;
    }

    /// Namespaced Redis key.
    pub fn redis_key(&self, key: &str) -> String {
        format!("{}{key}", self.ns)
    }

    pub fn mlflow_failed(&self) -> u32 {
        self.mlflow_failures.fetch_add(1, Ordering::SeqCst) + 1
    }

    pub fn mlflow_ok(&self) {
        self.mlflow_failures.store(0, Ordering::SeqCst);
    }

    /// The circuit breaker opens after 5 consecutive failures.
    pub fn circuit_state(&self) -> &'static str {
        if self.mlflow_failures.load(Ordering::SeqCst) >= 5 {
            "OPEN"
        } else {
            "CLOSED"
        }
    }
}
