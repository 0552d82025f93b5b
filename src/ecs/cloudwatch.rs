//! ECS CPU and memory utilisation from CloudWatch (`AWS/ECS` `CPUUtilization`,
//! `MemoryUtilization`) for a run's window (checklist 9c, live mode).
//!
//! Why not `aws-sdk-cloudwatch`? Its current releases speak only the new `rpcv2Cbor`
//! protocol, which moto (what the tests run against) does not serve, while CloudWatch still
//! serves JSON 1.0 (what the AWS CLI uses). Two calls over JSON 1.0, signed with SigV4 from
//! the same credential chain as the ECS client, cost less than the SDK's 70 s of build.

use aws_credential_types::Credentials;
use aws_credential_types::provider::ProvideCredentials;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::time::{SystemTime, UNIX_EPOCH};

/// Maximum and mean utilisation of one service over a window, in percent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Utilisation {
    pub service: String,
    pub cpu_max: Option<f64>,
    pub cpu_mean: Option<f64>,
    pub memory_max: Option<f64>,
    pub memory_mean: Option<f64>,
    pub datapoints: usize,
}

/// A minimal CloudWatch client (JSON 1.0 protocol) for the ECS metrics.
#[derive(Clone)]
pub struct CloudWatch {
    http: reqwest::Client,
    /// Set after a call timed out or could not connect: later calls are not sent (the
    /// same memory as the ECS client's; a dead endpoint costs one timeout, not one per call).
    dead: std::sync::Arc<std::sync::Mutex<Option<String>>>,
    endpoint: String,
    region: String,
    credentials: Credentials,
    pub cluster: String,
}

impl std::fmt::Debug for CloudWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CloudWatch({}, {})", self.endpoint, self.region)
    }
}

fn epoch(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
}

impl CloudWatch {
    fn with(
        endpoint: Option<&str>,
        region: &str,
        cluster: &str,
        credentials: Credentials,
        limits: crate::ecs::EcsTimeouts,
    ) -> Self {
        Self {
            http: reqwest::Client::builder()
                .timeout(limits.request)
                .connect_timeout(limits.connect)
                .build()
                .expect("a reqwest client"),
            dead: Default::default(),
            endpoint: endpoint.map_or_else(
                || format!("https://monitoring.{region}.amazonaws.com"),
                |e| e.trim_end_matches('/').to_owned(),
            ),
            region: region.to_owned(),
            credentials,
            cluster: cluster.to_owned(),
        }
    }

    /// Static test credentials and an explicit endpoint (moto, a stand-in), within `limits`.
    pub fn for_endpoint(
        endpoint: &str,
        region: &str,
        cluster: &str,
        limits: crate::ecs::EcsTimeouts,
    ) -> Self {
        Self::with(
            Some(endpoint),
            region,
            cluster,
            Credentials::new(
                "AKIDHOKUSAIVERIFY",
                "hokusai-verify-standin",
                None,
                None,
                "static",
            ),
            limits,
        )
    }

    /// Credentials from the environment, profile files, web identity or the ECS container
    /// (never instance metadata), as for the ECS client.
    pub async fn live(
        region: &str,
        endpoint: Option<&str>,
        cluster: &str,
        limits: crate::ecs::EcsTimeouts,
    ) -> Result<Self, String> {
        let chain = crate::ecs::live_credentials_chain();
        let creds = chain
            .provide_credentials()
            .await
            .map_err(|e| format!("no AWS credentials for CloudWatch: {e}"))?;
        Ok(Self::with(endpoint, region, cluster, creds, limits))
    }

    /// One signed JSON 1.0 call.
    async fn call(&self, action: &str, body: &Value) -> Result<Value, String> {
        if let Some(why) = self.dead.lock().unwrap_or_else(|p| p.into_inner()).clone() {
            return Err(format!("{action}: not sent: {why}"));
        }
        use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
        use aws_sigv4::sign::v4;
        let body = serde_json::to_vec(body).expect("json");
        let url = format!("{}/", self.endpoint);
        let host = url::Url::parse(&url).map_err(|e| e.to_string())?;
        let host = match host.port() {
            Some(p) => format!("{}:{p}", host.host_str().unwrap_or("")),
            None => host.host_str().unwrap_or("").to_owned(),
        };
        let target = format!("GraniteServiceVersion20100801.{action}");
        let headers = [
            ("host", host.as_str()),
            ("content-type", "application/x-amz-json-1.0"),
            ("x-amz-target", target.as_str()),
        ];
        let identity = self.credentials.clone().into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("monitoring")
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| e.to_string())?
            .into();
        let signable = SignableRequest::new(
            "POST",
            url.as_str(),
            headers.iter().copied(),
            SignableBody::Bytes(&body),
        )
        .map_err(|e| e.to_string())?;
        let (instructions, _) = sign(signable, &params)
            .map_err(|e| e.to_string())?
            .into_parts();
        let mut rb = self.http.post(&url).body(body.clone());
        for (k, v) in headers.iter().copied().filter(|(k, _)| *k != "host") {
            rb = rb.header(k, v);
        }
        for (k, v) in instructions.headers() {
            rb = rb.header(k, v);
        }
        let resp = rb.send().await.map_err(|e| {
            let why = format!("{action}: {e}");
            if e.is_timeout() || e.is_connect() {
                *self.dead.lock().unwrap_or_else(|p| p.into_inner()) =
                    Some(format!("{} already failed ({e})", self.endpoint));
            }
            why
        })?;
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        if !status.is_success() {
            return Err(format!(
                "{action}: {status}: {}",
                text.chars().take(200).collect::<String>()
            ));
        }
        if text.trim().is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&text).map_err(|e| format!("{action}: unreadable answer ({e})"))
    }

    /// Stores datapoints (for seeding a test double; real AWS reserves `AWS/` namespaces).
    pub async fn put(
        &self,
        namespace: &str,
        metric: &str,
        service: &str,
        points: &[(SystemTime, f64)],
    ) -> Result<(), String> {
        let data: Vec<Value> = points
            .iter()
            .map(|(t, v)| {
                json!({"MetricName": metric, "Dimensions": self.dimensions(service), "Value": v, "Unit": "Percent", "Timestamp": epoch(*t)})
            })
            .collect();
        self.call(
            "PutMetricData",
            &json!({"Namespace": namespace, "MetricData": data}),
        )
        .await
        .map(drop)
    }

    fn dimensions(&self, service: &str) -> Value {
        json!([{"Name": "ClusterName", "Value": self.cluster}, {"Name": "ServiceName", "Value": service}])
    }

    /// `GetMetricData` for CPU and memory of `service` between `start` and `end` (1-minute
    /// periods, Average and Maximum).
    pub async fn utilisation(
        &self,
        service: &str,
        start: SystemTime,
        end: SystemTime,
    ) -> Result<Utilisation, String> {
        let q = |id: &str, metric: &str, stat: &str| {
            json!({"Id": id, "MetricStat": {"Metric": {"Namespace": "AWS/ECS", "MetricName": metric, "Dimensions": self.dimensions(service)},
                   "Period": 60, "Stat": stat}})
        };
        let body = json!({
            "MetricDataQueries": [q("cpumax", "CPUUtilization", "Maximum"), q("cpuavg", "CPUUtilization", "Average"),
                                   q("memmax", "MemoryUtilization", "Maximum"), q("memavg", "MemoryUtilization", "Average")],
            "StartTime": epoch(start), "EndTime": epoch(end),
        });
        let out = self.call("GetMetricData", &body).await?;
        let values = |id: &str| -> Vec<f64> {
            out["MetricDataResults"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|r| r["Id"] == id)
                .flat_map(|r| r["Values"].as_array().cloned().unwrap_or_default())
                .filter_map(|v| v.as_f64())
                .collect()
        };
        let max = |v: &[f64]| {
            v.iter()
                .copied()
                .fold(None, |m: Option<f64>, x| Some(m.map_or(x, |m| m.max(x))))
        };
        let mean = |v: &[f64]| (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64);
        let (cm, ca, mm, ma) = (
            values("cpumax"),
            values("cpuavg"),
            values("memmax"),
            values("memavg"),
        );
        Ok(Utilisation {
            service: service.to_owned(),
            cpu_max: max(&cm),
            cpu_mean: mean(&ca),
            memory_max: max(&mm),
            memory_mean: mean(&ma),
            datapoints: cm.len() + ca.len() + mm.len() + ma.len(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A black-holed endpoint costs one timeout (the configured one, not a fixed 15 s);
    /// later calls are not sent.
    #[tokio::test]
    async fn a_dead_endpoint_costs_one_timeout() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", l.local_addr().unwrap());
        let limits = crate::ecs::EcsTimeouts {
            request: Duration::from_millis(300),
            connect: Duration::from_millis(200),
        };
        let cw = CloudWatch::for_endpoint(&url, "us-east-1", "c", limits);
        let (from, to) = (
            SystemTime::now() - Duration::from_secs(60),
            SystemTime::now(),
        );
        let t = std::time::Instant::now();
        assert!(cw.utilisation("a", from, to).await.is_err());
        let first = t.elapsed();
        assert!(first < Duration::from_secs(3), "{first:?}");
        let t = std::time::Instant::now();
        let e = cw.utilisation("b", from, to).await.unwrap_err();
        assert!(e.contains("not sent"), "{e}");
        assert!(
            t.elapsed() < Duration::from_millis(100),
            "{:?}",
            t.elapsed()
        );
        drop(l);
    }
}
