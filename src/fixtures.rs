//! The fixture every check and test gets: [`Env`], one handle on the target (registry and
//! auth URLs, profile), the API keys, an HTTP client, the Redis handle, the ECS client,
//! and — on the stand-in — the stand-in itself, for inspection and fault switches.
//!
//! ```no_run
//! # async fn demo() {
//! use hokusai_verify::fixtures::Env;
//! use hokusai_verify::http::{Auth, Req};
//! let env = Env::from_env().await.expect("configuration");
//! let ex = env.http.send(env.registry_url(), Req::get("/health")).await.unwrap();
//! assert_eq!(ex.status, 200);
//! let ex = env.http.send(env.registry_url(), Req::get("/").auth(Auth::Bearer(env.keys.primary.clone()))).await;
//! # }
//! ```

use crate::cache::Cache;
use crate::catalogue::Fault;
use crate::config::{Config, ConfigError, LiveTarget, Profile, Target, TargetKind};
use crate::ecs::EcsClient;
use crate::evidence::Failure;
use crate::http::HttpClient;
use crate::secret::ApiKey;
use crate::secret::display_url;
use crate::standin::{StandIn, StandInError, StandInOptions};
use std::sync::Arc;
use url::Url;

pub use crate::catalogue::Keys;

/// The Redis of the platform, as far as this run can reach it.
#[derive(Debug, Clone)]
pub enum RedisAccess {
    Connected(Cache),
    /// A Redis was configured, but it does not answer (a finding).
    Unreachable {
        url: String,
        error: String,
    },
    /// No Redis configured (live runs outside the VPC): Redis checks skip.
    NotConfigured(String),
}

/// The ECS API, as far as this run can reach it.
#[derive(Debug, Clone)]
pub enum EcsAccess {
    Client(EcsClient),
    /// Checks needing ECS skip with this reason.
    NotConfigured(String),
}

/// Why an [`Env`] could not be built. Nothing was sent to the target.
#[derive(Debug, thiserror::Error)]
pub enum EnvError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    StandIn(#[from] StandInError),
}

/// The environment of one check or test.
pub struct Env {
    pub config: Config,
    pub http: HttpClient,
    registry: Url,
    auth: Url,
    pub keys: Keys,
    pub redis: RedisAccess,
    pub ecs: EcsAccess,
    standin: Option<StandIn>,
    mlflow_direct: Option<Url>,
}

impl std::fmt::Debug for Env {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Env")
            .field("target", &self.config.target)
            .field("profile", &self.config.profile.name)
            .field("registry", &self.registry.as_str())
            .field("auth", &self.auth.as_str())
            .field("keys", &self.keys)
            .finish_non_exhaustive()
    }
}

impl Env {
    /// Reads the configuration from the environment and builds the environment (starting a
    /// stand-in unless `HOKUSAI_TARGET=live`).
    pub async fn from_env() -> Result<Arc<Env>, EnvError> {
        Self::build(Config::from_env()?).await
    }

    /// Builds the environment for `config`.
    pub async fn build(config: Config) -> Result<Arc<Env>, EnvError> {
        match &config.target {
            Target::StandIn(s) => {
                let mut opts = StandInOptions::new(config.profile.clone())
                    .redis_url(s.redis_url.clone())
                    .faults(s.faults.iter().copied())
                    .dialect(s.dialect)
                    .realistic(s.realistic);
                if s.fast {
                    opts = opts.fast();
                }
                let standin = StandIn::start(opts).await?;
                for b in &s.breakages {
                    standin.set_breakage(*b, true);
                }
                Ok(Self::on_standin(config, standin).await)
            }
            Target::Live(live) => {
                let live = (**live).clone();
                Ok(Arc::new(Self::live(config, live).await))
            }
        }
    }

    /// A stand-in environment with these faults, fast timings and the given profile; panics
    /// with instructions if Redis is missing (for tests).
    pub async fn standin_with(profile: Profile, faults: &[Fault]) -> Arc<Env> {
        let mut config = Config::standin(profile);
        if let Some(s) = config.standin_settings_mut() {
            s.faults = faults.iter().copied().collect();
        }
        match Self::build(config).await {
            Ok(env) => env,
            Err(e) => panic!("{e}"),
        }
    }

    /// An environment around an already started stand-in.
    pub async fn on_standin(config: Config, standin: StandIn) -> Arc<Env> {
        Arc::new(Self::standin_env(config, standin).await)
    }

    /// A stand-in environment whose ECS checks go to another ECS endpoint (moto).
    pub async fn on_standin_with_ecs(config: Config, standin: StandIn, ecs: EcsClient) -> Arc<Env> {
        let mut env = Self::standin_env(config, standin).await;
        env.ecs = EcsAccess::Client(ecs);
        Arc::new(env)
    }

    /// An environment whose MLflow client talks straight to an MLflow server (no proxy, no
    /// key), for running the registration checks against a real MLflow of the `profile`'s
    /// major.
    pub async fn for_mlflow_server(url: Url, profile: Profile) -> Arc<Env> {
        let config = Config::standin(profile);
        let key = ApiKey::random();
        Arc::new(Env {
            http: HttpClient::new(config.request_timeout, config.connect_timeout),
            registry: url.clone(),
            auth: url.clone(),
            keys: Keys::new(key),
            redis: RedisAccess::NotConfigured("an MLflow-only environment has no Redis".into()),
            ecs: EcsAccess::NotConfigured("an MLflow-only environment has no ECS".into()),
            standin: None,
            mlflow_direct: Some(url),
            config,
        })
    }

    /// MLflow's own address when checks talk to it directly (see [`Env::for_mlflow_server`]).
    pub fn mlflow_direct(&self) -> Option<&Url> {
        self.mlflow_direct.as_ref()
    }

    async fn standin_env(config: Config, standin: StandIn) -> Env {
        // The stand-in's own counts of its auth failures, read around each request: what a
        // platform's logs would say about an answer (an auth failure told as a bad key, the
        // auth middleware's own error).
        let timeouts = standin.timeouts();
        let http = HttpClient::new(config.request_timeout, config.connect_timeout)
            .watching_auth_log(crate::http::AuthLog(std::sync::Arc::new(move || {
                timeouts.counts()
            })));
        let keys = standin.keys().as_keys();
        let redis = connect_redis(&standin.redis_url(), standin.redis_prefix()).await;
        let ecs = EcsAccess::Client(
            EcsClient::for_endpoint(
                standin.ecs_url().as_str(),
                "us-east-1",
                &config.profile.ecs.cluster,
                ecs_timeouts(&config),
            )
            .await,
        );
        Env {
            http,
            registry: standin.registry_url(),
            auth: standin.auth_url(),
            keys,
            redis,
            ecs,
            standin: Some(standin),
            mlflow_direct: None,
            config,
        }
    }

    async fn live(config: Config, live: LiveTarget) -> Env {
        let http = HttpClient::new(config.request_timeout, config.connect_timeout);
        let redis = match &live.redis_url {
            Some(url) => connect_redis(url, "").await,
            None => RedisAccess::NotConfigured(
                "no HOKUSAI_REDIS_URL: the platform's Redis is usually only reachable inside its VPC".into(),
            ),
        };
        let cluster = live
            .aws
            .cluster
            .clone()
            .unwrap_or_else(|| config.profile.ecs.cluster.clone());
        let ecs = match (&live.aws.region, crate::ecs::credentials_available() || live.aws.endpoint_url.is_some()) {
            (None, _) => EcsAccess::NotConfigured("no AWS region (set HOKUSAI_AWS_REGION or AWS_REGION)".into()),
            (Some(_), false) => EcsAccess::NotConfigured(
                "no AWS credentials in the environment, profile files or container (instance metadata is never probed)".into(),
            ),
            (Some(region), true) => EcsAccess::Client(
                EcsClient::live(
                    region,
                    live.aws.endpoint_url.as_ref().map(Url::as_str),
                    &cluster,
                    ecs_timeouts(&config),
                )
                .await,
            ),
        };
        Env {
            http,
            registry: live.registry_url.clone(),
            auth: live.auth_url.clone(),
            keys: live.keys.clone(),
            redis,
            ecs,
            standin: None,
            mlflow_direct: None,
            config,
        }
    }

    pub fn registry_url(&self) -> &Url {
        &self.registry
    }

    /// The clients clean-up deletes through: the contract's primary route with the primary
    /// key, and MLflow's own address when configured (`HOKUSAI_MLFLOW_INTERNAL_URL`: the
    /// fallback for deletes the proxy refuses).
    pub fn cleanup_clients(
        &self,
    ) -> (
        crate::mlflow::MlflowClient,
        Option<crate::mlflow::MlflowClient>,
    ) {
        use crate::mlflow::{ApiPrefix, MlflowClient};
        let client = MlflowClient::via_proxy(
            self.http.clone(),
            self.registry_url().clone(),
            crate::http::Auth::Bearer(self.keys.primary.clone()),
            ApiPrefix::Api,
        );
        let direct = self
            .config
            .mlflow_url
            .as_ref()
            .map(|u| MlflowClient::direct(self.http.clone(), u.clone(), ApiPrefix::Api));
        (client, direct)
    }

    /// What classifies this environment's answers into symptoms: the profile's auth-failure
    /// shape, the API's auth timeout, and the keys that must be accepted.
    pub fn observer(&self) -> Arc<crate::evidence::Observer> {
        let p = self.profile();
        let auth_timeout = self.standin().map_or(
            std::time::Duration::from_millis(p.auth.validate_timeout_ms),
            |s| s.timing().auth_timeout,
        );
        let upstream_timeout = self.standin().map_or(
            std::time::Duration::from_millis(p.proxy.upstream_timeout_ms),
            |s| s.timing().upstream_timeout,
        );
        Arc::new(crate::evidence::Observer {
            auth_failure_status: p.auth.failure_status,
            auth_timeout,
            upstream_timeout,
            slow_answer: std::time::Duration::from_millis(p.health.latency_budget_ms),
            valid_keys: self
                .keys
                .all()
                .filter(|(role, _)| role.must_be_accepted())
                .map(|(role, k)| (role, secrecy::SecretString::from(k.expose().to_owned())))
                .collect(),
            routed: p.proxy.routed_spellings.clone(),
            rejection_latency_judged: self.standin().is_none(),
            standin_timeouts: self.standin().map(|s| s.timeouts()),
        })
    }
    pub fn auth_url(&self) -> &Url {
        &self.auth
    }
    pub fn profile(&self) -> &Profile {
        &self.config.profile
    }
    /// `standin` or `live`.
    pub fn target_name(&self) -> &'static str {
        match self.config.kind() {
            TargetKind::Standin => "standin",
            TargetKind::Live => "live",
        }
    }

    /// The stand-in, when the target is one.
    pub fn standin(&self) -> Option<&StandIn> {
        self.standin.as_ref()
    }

    /// The stand-in, or a skip for checks that need to look inside the platform.
    pub fn require_standin(&self, why: &str) -> Result<&StandIn, Failure> {
        self.standin.as_ref().ok_or_else(|| {
            Failure::not_applicable(format!("only observable on the stand-in: {why}"))
        })
    }

    /// The Redis handle, a skip when none is configured, or a failure when it is down.
    pub fn require_redis(&self) -> Result<&Cache, Failure> {
        match &self.redis {
            RedisAccess::Connected(c) => Ok(c),
            RedisAccess::NotConfigured(why) => Err(Failure::skipped(why.clone())),
            RedisAccess::Unreachable { url, error } => Err(Failure::failed(
                format!("Redis at {url} answers"),
                format!("no connection: {error}"),
            )
            .symptom(crate::evidence::Symptom::DependencyUnhealthy {
                service: "redis".into(),
            })
            .blocked("Redis reachable")),
        }
    }

    /// The key of `role`, or a skip naming the variable that would hold it.
    pub fn key(&self, role: crate::catalogue::KeyRole) -> Result<ApiKey, Failure> {
        self.keys
            .get(role)
            .cloned()
            .ok_or_else(|| Failure::skipped(role.missing()))
    }

    /// The ECS client, or a skip with the reason.
    pub fn require_ecs(&self) -> Result<&EcsClient, Failure> {
        match &self.ecs {
            EcsAccess::Client(c) => Ok(c),
            EcsAccess::NotConfigured(why) => Err(Failure::skipped(why.clone())),
        }
    }
}

/// The ECS client's bounds: the suite's own request and connect timeouts.
fn ecs_timeouts(config: &Config) -> crate::ecs::EcsTimeouts {
    crate::ecs::EcsTimeouts {
        request: config.request_timeout,
        connect: config.connect_timeout,
    }
}

async fn connect_redis(url: &str, prefix: &str) -> RedisAccess {
    match Cache::connect(url, prefix).await {
        Ok(c) => RedisAccess::Connected(c),
        Err(e) => RedisAccess::Unreachable {
            url: display_url(url),
            error: crate::secret::redact(&e.to_string()),
        },
    }
}
