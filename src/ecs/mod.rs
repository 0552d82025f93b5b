//! ECS: the client (aws-sdk-ecs, built so it never probes the instance-metadata service)
//! and the contract's verdict on one service (contract section 8).

pub mod cloudwatch;

use aws_config::BehaviorVersion;
use aws_config::meta::credentials::CredentialsProviderChain;
use aws_config::retry::RetryConfig;
use aws_sdk_ecs::config::{Credentials, Region};
use std::time::Duration;

/// An ECS client and the cluster it looks at, under the suite's timeouts, with the same
/// memory as the HTTP client: after the ECS API timed out or could not be reached, further
/// calls in the run fail at once instead of paying the timeout again.
#[derive(Clone, Debug)]
pub struct EcsClient {
    pub client: aws_sdk_ecs::Client,
    pub cluster: String,
    failed: std::sync::Arc<std::sync::Mutex<Option<EcsCallError>>>,
}

/// Why an ECS call got no usable answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EcsCallError {
    /// `timeout`, `unreachable` or `unexpected response` (the suite's error classes).
    pub class: &'static str,
    pub message: String,
}

impl std::fmt::Display for EcsCallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.class, self.message)
    }
}

/// The suite's timeouts for ECS calls (`HOKUSAI_TIMEOUT_MS`, `HOKUSAI_CONNECT_TIMEOUT_MS`).
#[derive(Clone, Copy, Debug)]
pub struct EcsTimeouts {
    pub request: Duration,
    pub connect: Duration,
}

impl Default for EcsTimeouts {
    fn default() -> Self {
        Self {
            request: Duration::from_secs(10),
            connect: Duration::from_secs(3),
        }
    }
}

/// Is there any credential source besides instance metadata? (Checked without calling out.)
pub fn credentials_available() -> bool {
    [
        "AWS_ACCESS_KEY_ID",
        "AWS_PROFILE",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    ]
    .iter()
    .any(|v| std::env::var_os(v).is_some())
        || std::env::var_os("HOME")
            .is_some_and(|h| std::path::Path::new(&h).join(".aws/credentials").exists())
}

fn timeouts(t: EcsTimeouts) -> aws_config::timeout::TimeoutConfig {
    // The whole operation, retries included, within one request timeout.
    aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(t.connect)
        .operation_attempt_timeout(t.request)
        .operation_timeout(t.request)
        .build()
}

impl EcsClient {
    /// A client for the stand-in (or moto): static credentials, explicit region and
    /// endpoint, no retries. Never touches IMDS.
    pub async fn for_endpoint(
        endpoint: &str,
        region: &str,
        cluster: &str,
        limits: EcsTimeouts,
    ) -> Self {
        let conf = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(region.to_owned()))
            .credentials_provider(Credentials::new(
                "AKIDHOKUSAIVERIFY",
                "hokusai-verify-standin",
                None,
                None,
                "static",
            ))
            .endpoint_url(endpoint)
            .retry_config(RetryConfig::disabled())
            .timeout_config(timeouts(limits))
            .load()
            .await;
        Self {
            client: aws_sdk_ecs::Client::new(&conf),
            cluster: cluster.to_owned(),
            failed: Default::default(),
        }
    }

    /// A client for a live account: environment, profile, web-identity and container
    /// credentials (never instance metadata: a black-holed IMDS would cost seconds per
    /// check, and this suite must not send traffic there). One standard retry.
    pub async fn live(
        region: &str,
        endpoint: Option<&str>,
        cluster: &str,
        limits: EcsTimeouts,
    ) -> Self {
        let chain = live_credentials_chain();
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(region.to_owned()))
            .credentials_provider(chain)
            .retry_config(RetryConfig::standard().with_max_attempts(2))
            .timeout_config(timeouts(limits));
        if let Some(e) = endpoint {
            loader = loader.endpoint_url(e);
        }
        let conf = loader.load().await;
        Self {
            client: aws_sdk_ecs::Client::new(&conf),
            cluster: cluster.to_owned(),
            failed: Default::default(),
        }
    }

    /// `DescribeServices` for one service of the cluster, classified like the suite's HTTP
    /// failures; after a timeout or an unreachable endpoint, later calls are not sent.
    pub async fn describe(
        &self,
        service: &str,
    ) -> Result<aws_sdk_ecs::operation::describe_services::DescribeServicesOutput, EcsCallError>
    {
        if let Some(first) = self
            .failed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
        {
            return Err(EcsCallError {
                class: first.class,
                message: format!("not sent: the ECS API already failed in this run ({first})"),
            });
        }
        let out = self
            .client
            .describe_services()
            .cluster(&self.cluster)
            .services(service)
            .send()
            .await;
        out.map_err(|e| {
            use aws_sdk_ecs::error::SdkError;
            let class = match &e {
                SdkError::TimeoutError(_) => "timeout",
                SdkError::DispatchFailure(d) if d.is_timeout() => "timeout",
                SdkError::DispatchFailure(_) => "unreachable",
                _ => "unexpected response",
            };
            let err = EcsCallError {
                class,
                message: crate::secret::redact(&format!(
                    "DescribeServices failed: {}",
                    aws_sdk_ecs::error::DisplayErrorContext(&e)
                )),
            };
            if class != "unexpected response" {
                *self.failed.lock().unwrap_or_else(|p| p.into_inner()) = Some(err.clone());
            }
            err
        })
    }
}

/// Environment, profile files, web identity, ECS container: every source but instance
/// metadata (which would cost seconds where unreachable, and must not see test traffic).
pub fn live_credentials_chain() -> CredentialsProviderChain {
    CredentialsProviderChain::first_try(
        "env",
        aws_config::environment::credentials::EnvironmentVariableCredentialsProvider::new(),
    )
    .or_else(
        "profile",
        aws_config::profile::ProfileFileCredentialsProvider::builder().build(),
    )
    .or_else(
        "web-identity",
        aws_config::web_identity_token::WebIdentityTokenCredentialsProvider::builder().build(),
    )
    .or_else(
        "ecs-container",
        aws_config::ecs::EcsCredentialsProvider::builder().build(),
    )
}

/// The contract's view of one service, from `DescribeServices`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceState {
    pub name: String,
    pub status: String,
    pub running: i32,
    pub desired: i32,
    pub primary_rollout: Option<String>,
    pub primary_deployments: usize,
    pub failed_rollouts: usize,
}

impl ServiceState {
    pub fn from_sdk(s: &aws_sdk_ecs::types::Service) -> Self {
        let deployments = s.deployments();
        let primary: Vec<_> = deployments
            .iter()
            .filter(|d| d.status() == Some("PRIMARY"))
            .collect();
        Self {
            name: s.service_name().unwrap_or_default().to_owned(),
            status: s.status().unwrap_or("<none>").to_owned(),
            running: s.running_count(),
            desired: s.desired_count(),
            primary_rollout: primary
                .first()
                .and_then(|d| d.rollout_state())
                .map(|r| r.as_str().to_owned()),
            primary_deployments: primary.len(),
            failed_rollouts: deployments
                .iter()
                .filter(|d| d.rollout_state().is_some_and(|r| r.as_str() == "FAILED"))
                .count(),
        }
    }

    /// Every way this service falls short of the contract (empty = healthy).
    /// Fewer tasks running than desired, or a rollout that failed or is stuck: the
    /// `ecs-degraded` fault. (Other problems, such as a service scaled to zero, break the
    /// contract line without being that fault.)
    pub fn degraded(&self) -> bool {
        self.running < self.desired
            || self
                .primary_rollout
                .as_deref()
                .is_some_and(|r| r != "COMPLETED")
            || self.failed_rollouts > 0
    }

    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if self.status != "ACTIVE" {
            p.push(format!("status {} (expected ACTIVE)", self.status));
        }
        if self.desired < 1 {
            p.push(format!(
                "desiredCount {} (expected at least 1)",
                self.desired
            ));
        }
        if self.running != self.desired {
            p.push(format!(
                "runningCount {} != desiredCount {}",
                self.running, self.desired
            ));
        }
        if self.primary_deployments != 1 {
            p.push(format!(
                "{} PRIMARY deployments (expected 1)",
                self.primary_deployments
            ));
        }
        match self.primary_rollout.as_deref() {
            Some("COMPLETED") => {}
            other => p.push(format!(
                "PRIMARY rolloutState {} (expected COMPLETED)",
                other.unwrap_or("<none>")
            )),
        }
        if self.failed_rollouts > 0 {
            p.push(format!(
                "{} deployment(s) with rolloutState FAILED",
                self.failed_rollouts
            ));
        }
        p
    }
}
