use super::error::MlflowError;
use super::types::*;
use crate::evidence::{Evidence, EvidenceSink};
use crate::http::{Auth, Exchange, HttpClient, Req};
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use url::Url;

/// The page size MLflow's own client asks `metrics/get-history` for.
const HISTORY_PAGE: &str = "25000";

/// The `user_id` of the runs the suite creates (MLflow's own client sends the OS user's).
const USER_ID: &str = "hokusai-verify";

/// Which spelling of MLflow's REST prefix to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiPrefix {
    /// `api/2.0/...`
    Api,
    /// `ajax-api/2.0/...` (what MLflow's UI uses)
    Ajax,
}

impl ApiPrefix {
    pub fn as_str(self) -> &'static str {
        match self {
            ApiPrefix::Api => "api/2.0",
            ApiPrefix::Ajax => "ajax-api/2.0",
        }
    }
}

/// A typed MLflow client, either straight at an MLflow server or through the registry's
/// proxy (`{registry}/api/mlflow/` + MLflow path, with an API key).
///
/// ```no_run
/// # async fn demo(env: &hokusai_verify::fixtures::Env) -> Result<(), hokusai_verify::mlflow::MlflowError> {
/// use hokusai_verify::mlflow::{ApiPrefix, MlflowClient};
/// use hokusai_verify::http::Auth;
/// let client = MlflowClient::via_proxy(env.http.clone(), env.registry_url().clone(),
///     Auth::Bearer(env.keys.primary.clone()), ApiPrefix::Api);
/// let experiments = client.search_experiments(Some("name LIKE 'hv-%'"), 10).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct MlflowClient {
    http: HttpClient,
    base: Url,
    mount: String,
    prefix: ApiPrefix,
    auth: Auth,
    sink: Option<EvidenceSink>,
    host: &'static str,
}

impl MlflowClient {
    /// Straight at an MLflow server (no key).
    pub fn direct(http: HttpClient, base: Url, prefix: ApiPrefix) -> Self {
        Self {
            http,
            base,
            mount: String::new(),
            prefix,
            auth: Auth::None,
            sink: None,
            host: "mlflow",
        }
    }

    /// Through the registry's proxy at `/api/mlflow/`.
    pub fn via_proxy(http: HttpClient, registry: Url, auth: Auth, prefix: ApiPrefix) -> Self {
        Self {
            http,
            base: registry,
            mount: "/api/mlflow".into(),
            prefix,
            auth,
            sink: None,
            host: "registry",
        }
    }

    /// Records every call into a check's evidence.
    pub fn recording(mut self, sink: EvidenceSink) -> Self {
        self.sink = Some(sink);
        self
    }

    /// The same client with the other prefix.
    pub fn with_prefix(&self, prefix: ApiPrefix) -> Self {
        Self {
            prefix,
            ..self.clone()
        }
    }

    pub fn prefix(&self) -> ApiPrefix {
        self.prefix
    }

    /// The path of an MLflow endpoint (`registered-models/get`) under this client's mount.
    pub fn path(&self, endpoint: &str) -> String {
        format!("{}/{}/mlflow/{endpoint}", self.mount, self.prefix.as_str())
    }

    /// The path of an artifact under the artifact proxy (`<exp>/<run>/artifacts/<path>`).
    pub fn artifact_path(&self, rel: &str) -> String {
        format!(
            "{}/{}/mlflow-artifacts/artifacts/{}",
            self.mount,
            self.prefix.as_str(),
            rel.trim_start_matches('/')
        )
    }

    /// Sends any request with this client's key, recording it; the raw answer.
    pub async fn raw(&self, req: Req) -> Result<Exchange, MlflowError> {
        let call = req.line();
        let req = req.auth(self.auth.clone());
        let auth = req.auth.describe();
        let result = self.http.send(&self.base, req).await;
        if let Some(sink) = &self.sink {
            match &result {
                Ok(ex) => sink.answered(self.host, ex),
                Err(e) => sink.unanswered(self.host, auth, e),
            }
        }
        result.map_err(|e| MlflowError::from_transport(call, &e))
    }

    /// [`MlflowClient::raw`] for several requests sent side by side (all at once), each
    /// answer recorded once it is final: one that timed out beside the others is sent again
    /// alone ([`crate::http::HttpClient::send_batch`]).
    #[allow(clippy::result_large_err)]
    pub async fn raw_side_by_side(&self, reqs: Vec<Req>) -> Vec<Result<Exchange, MlflowError>> {
        let reqs: Vec<Req> = reqs
            .into_iter()
            .map(|r| r.auth(self.auth.clone()))
            .collect();
        let calls: Vec<(String, String)> =
            reqs.iter().map(|r| (r.line(), r.auth.describe())).collect();
        let n = reqs.len();
        let answers = self.http.send_batch(&self.base, reqs, n).await;
        answers
            .into_iter()
            .zip(calls)
            .map(|(result, (call, auth))| {
                if let Some(sink) = &self.sink {
                    match &result {
                        Ok(ex) => sink.answered(self.host, ex),
                        Err(e) => sink.unanswered(self.host, auth, e),
                    }
                }
                result.map_err(|e| MlflowError::from_transport(call, &e))
            })
            .collect()
    }

    /// A call that must answer 2xx with JSON of type `T`.
    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        endpoint: &str,
        body: Option<Value>,
        query: &[(&str, &str)],
    ) -> Result<T, MlflowError> {
        let mut req = Req::new(method.clone(), self.path(endpoint));
        for (k, v) in query {
            req = req.query(*k, *v);
        }
        if let Some(b) = &body {
            req = req.json(b);
        }
        let call = format!("{method} {endpoint}");
        let ex = self.raw(req).await.map_err(|mut e| {
            e.call = call.clone();
            e
        })?;
        if !(200..300).contains(&ex.status) {
            return Err(MlflowError::from_exchange(call, &ex));
        }
        serde_json::from_slice(&ex.body)
            .map_err(|e| MlflowError::unexpected(call, &ex, &format!("unexpected body ({e})")))
    }

    /// A field MLflow always sends in this 2xx answer: missing, or of another shape, is an
    /// unexpected answer (a finding), never an empty default.
    // The error type every call of this client returns (boxing it only here would not help).
    #[allow(clippy::result_large_err)]
    fn required<T: DeserializeOwned>(v: &Value, name: &str, call: &str) -> Result<T, MlflowError> {
        let f = v.get(name).ok_or_else(|| {
            MlflowError::malformed(call, format!("a 2xx answer without `{name}`"))
        })?;
        serde_json::from_value(f.clone()).map_err(|e| {
            MlflowError::malformed(call, format!("`{name}` is not what MLflow sends: {e}"))
        })
    }

    /// A list field: MLflow leaves an empty list out of its answer (proto3), so a missing
    /// field is an empty list; a present one that does not parse is an unexpected answer.
    #[allow(clippy::result_large_err)]
    fn list<T: DeserializeOwned>(v: &Value, name: &str, call: &str) -> Result<Vec<T>, MlflowError> {
        match v.get(name) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(_) => Self::required(v, name, call),
        }
    }

    // ---- experiments ----

    pub async fn create_experiment(&self, name: &str, tags: &[Tag]) -> Result<String, MlflowError> {
        let v: Value = self
            .call(
                Method::POST,
                "experiments/create",
                Some(json!({"name": name, "tags": tags})),
                &[],
            )
            .await?;
        Self::required(&v, "experiment_id", "experiments/create")
    }

    /// `None` when no experiment has that name.
    pub async fn get_experiment_by_name(
        &self,
        name: &str,
    ) -> Result<Option<Experiment>, MlflowError> {
        match self
            .call::<Value>(
                Method::GET,
                "experiments/get-by-name",
                None,
                &[("experiment_name", name)],
            )
            .await
        {
            Ok(v) => Ok(Some(Self::required(
                &v,
                "experiment",
                "experiments/get-by-name",
            )?)),
            Err(e) if e.is("RESOURCE_DOES_NOT_EXIST") => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub async fn search_experiments(
        &self,
        filter: Option<&str>,
        max_results: u32,
    ) -> Result<Vec<Experiment>, MlflowError> {
        self.search_experiments_in(filter, max_results, "ACTIVE_ONLY")
            .await
    }

    /// `experiments/search` with MLflow's `view_type` (`ACTIVE_ONLY`, `DELETED_ONLY`, `ALL`).
    pub async fn search_experiments_in(
        &self,
        filter: Option<&str>,
        max_results: u32,
        view_type: &str,
    ) -> Result<Vec<Experiment>, MlflowError> {
        // As MLflow's own client sends it (platform/mlflow-client-calls): a POST with a body.
        let mut body = json!({"max_results": max_results, "view_type": view_type});
        if let Some(f) = filter {
            body["filter"] = json!(f);
        }
        let v: Value = self
            .call(Method::POST, "experiments/search", Some(body), &[])
            .await?;
        Self::list(&v, "experiments", "experiments/search")
    }

    pub async fn delete_experiment(&self, id: &str) -> Result<(), MlflowError> {
        self.call::<Value>(
            Method::POST,
            "experiments/delete",
            Some(json!({"experiment_id": id})),
            &[],
        )
        .await
        .map(drop)
    }

    // ---- runs ----

    pub async fn create_run(
        &self,
        experiment_id: &str,
        run_name: &str,
        tags: &[Tag],
    ) -> Result<Run, MlflowError> {
        let body = json!({"experiment_id": experiment_id, "run_name": run_name, "start_time": now_ms(), "tags": tags, "user_id": USER_ID});
        let v: Value = self
            .call(Method::POST, "runs/create", Some(body), &[])
            .await?;
        Self::required(&v, "run", "runs/create")
    }

    pub async fn log_batch(
        &self,
        run_id: &str,
        metrics: &[Metric],
        params: &[Tag],
        tags: &[Tag],
    ) -> Result<(), MlflowError> {
        let body = json!({"run_id": run_id, "metrics": metrics, "params": params, "tags": tags});
        self.call::<Value>(Method::POST, "runs/log-batch", Some(body), &[])
            .await
            .map(drop)
    }

    pub async fn log_metric(
        &self,
        run_id: &str,
        key: &str,
        value: f64,
        step: i64,
    ) -> Result<(), MlflowError> {
        let body = json!({"run_id": run_id, "run_uuid": run_id, "key": key, "value": value, "timestamp": now_ms(), "step": step});
        self.call::<Value>(Method::POST, "runs/log-metric", Some(body), &[])
            .await
            .map(drop)
    }

    pub async fn log_param(&self, run_id: &str, key: &str, value: &str) -> Result<(), MlflowError> {
        let body = json!({"run_id": run_id, "run_uuid": run_id, "key": key, "value": value});
        self.call::<Value>(Method::POST, "runs/log-parameter", Some(body), &[])
            .await
            .map(drop)
    }

    pub async fn set_registered_model_tag(
        &self,
        name: &str,
        key: &str,
        value: &str,
    ) -> Result<(), MlflowError> {
        let body = json!({"name": name, "key": key, "value": value});
        self.call::<Value>(Method::POST, "registered-models/set-tag", Some(body), &[])
            .await
            .map(drop)
    }

    pub async fn set_run_tag(
        &self,
        run_id: &str,
        key: &str,
        value: &str,
    ) -> Result<(), MlflowError> {
        let body = json!({"run_id": run_id, "run_uuid": run_id, "key": key, "value": value});
        self.call::<Value>(Method::POST, "runs/set-tag", Some(body), &[])
            .await
            .map(drop)
    }

    pub async fn finish_run(&self, run_id: &str) -> Result<RunInfo, MlflowError> {
        let body = json!({"run_id": run_id, "run_uuid": run_id, "status": "FINISHED", "end_time": now_ms()});
        let v: Value = self
            .call(Method::POST, "runs/update", Some(body), &[])
            .await?;
        Self::required(&v, "run_info", "runs/update")
    }

    pub async fn get_run(&self, run_id: &str) -> Result<Run, MlflowError> {
        // As MLflow's own client sends it (docs/mlflow-clients.md): both spellings of the id.
        let v: Value = self
            .call(
                Method::GET,
                "runs/get",
                None,
                &[("run_uuid", run_id), ("run_id", run_id)],
            )
            .await?;
        Self::required(&v, "run", "runs/get")
    }

    pub async fn delete_run(&self, run_id: &str) -> Result<(), MlflowError> {
        self.call::<Value>(
            Method::POST,
            "runs/delete",
            Some(json!({"run_id": run_id})),
            &[],
        )
        .await
        .map(drop)
    }

    pub async fn metric_history(
        &self,
        run_id: &str,
        key: &str,
    ) -> Result<Vec<Metric>, MlflowError> {
        let v: Value = self
            // As MLflow's own client sends it (docs/mlflow-clients.md): MLflow 3.9 answers
            // no metrics (and a page token) without `max_results`.
            .call(
                Method::GET,
                "metrics/get-history",
                None,
                &[
                    ("run_uuid", run_id),
                    ("metric_key", key),
                    ("run_id", run_id),
                    ("max_results", HISTORY_PAGE),
                ],
            )
            .await?;
        Self::list(&v, "metrics", "metrics/get-history")
    }

    pub async fn list_run_artifacts(
        &self,
        run_id: &str,
        path: Option<&str>,
    ) -> Result<Vec<FileInfo>, MlflowError> {
        let mut q = vec![("run_id", run_id)];
        if let Some(p) = path {
            q.push(("path", p));
        }
        let v: Value = self.call(Method::GET, "artifacts/list", None, &q).await?;
        Self::list(&v, "files", "artifacts/list")
    }

    // ---- artifacts (the mlflow-artifacts proxy) ----

    /// `PUT` an artifact; `rel` is `<experiment_id>/<run_id>/artifacts/<path>`.
    pub async fn upload_artifact(&self, rel: &str, bytes: Vec<u8>) -> Result<(), MlflowError> {
        let len = bytes.len() as u64;
        let req = Req::new(Method::PUT, self.artifact_path(rel))
            .raw_body(bytes, Some("application/octet-stream"));
        let ex = self.raw(req).await?;
        if (200..300).contains(&ex.status) {
            self.count_upload(len);
            Ok(())
        } else {
            Err(MlflowError::from_exchange(
                format!("PUT mlflow-artifacts/artifacts/{rel}"),
                &ex,
            ))
        }
    }

    /// `DELETE` an artifact or a whole artifact directory (MLflow's artifact service removes
    /// a directory with everything under it).
    pub async fn delete_artifacts(&self, rel: &str) -> Result<(), MlflowError> {
        let ex = self
            .raw(Req::new(Method::DELETE, self.artifact_path(rel)))
            .await?;
        if (200..300).contains(&ex.status) {
            Ok(())
        } else {
            Err(MlflowError::from_exchange(
                format!("DELETE mlflow-artifacts/artifacts/{rel}"),
                &ex,
            ))
        }
    }

    /// `GET` an artifact's bytes.
    pub async fn download_artifact(&self, rel: &str) -> Result<Vec<u8>, MlflowError> {
        let ex = self.raw(Req::get(self.artifact_path(rel))).await?;
        if ex.status == 200 {
            Ok(ex.body)
        } else {
            Err(MlflowError::from_exchange(
                format!("GET mlflow-artifacts/artifacts/{rel}"),
                &ex,
            ))
        }
    }

    /// Streams `len` bytes of deterministic pseudo-random content (from `seed`) to an
    /// artifact, never holding more than one chunk in memory; returns the sha256 sent.
    pub async fn upload_artifact_stream(
        &self,
        rel: &str,
        len: u64,
        seed: u64,
    ) -> Result<String, MlflowError> {
        use sha2::Digest;
        let hasher = std::sync::Arc::new(std::sync::Mutex::new(sha2::Sha256::new()));
        let h = hasher.clone();
        const CHUNK: u64 = 1 << 20;
        let mut rng = fastrand::Rng::with_seed(seed);
        let chunks = futures_util::stream::iter((0..len.div_ceil(CHUNK)).map(move |i| {
            let n = CHUNK.min(len - i * CHUNK) as usize;
            let mut buf = vec![0u8; n];
            rng.fill(&mut buf);
            h.lock().unwrap_or_else(|p| p.into_inner()).update(&buf);
            Ok::<_, std::io::Error>(bytes::Bytes::from(buf))
        }));
        let path = self.artifact_path(rel);
        let url = crate::http::join_url(&self.base, &path);
        let call = format!("PUT mlflow-artifacts/artifacts/{rel} ({len} bytes, streamed)");
        let mut rb = self
            .http
            .reqwest()
            .put(url)
            .header("Content-Type", "application/octet-stream")
            .header("Content-Length", len.to_string())
            .timeout(self.http.timeout().max(std::time::Duration::from_secs(120)))
            .body(reqwest::Body::wrap_stream(chunks));
        rb = crate::http::apply_auth(rb, &self.auth);
        let started = std::time::Instant::now();
        let resp = rb.send().await;
        let status = resp.as_ref().ok().map(|r| r.status().as_u16());
        let headers = resp
            .as_ref()
            .map(|r| r.headers().clone())
            .unwrap_or_default();
        let body = match resp {
            Ok(r) => r.bytes().await.map(|b| b.to_vec()).unwrap_or_default(),
            Err(e) => {
                let err = crate::http::HttpError::from_reqwest_public(
                    &e,
                    call.clone(),
                    started.elapsed(),
                    &[],
                );
                self.note(
                    &call,
                    None,
                    started.elapsed(),
                    String::new(),
                    Some(err.to_string()),
                );
                return Err(MlflowError::from_transport(call, &err));
            }
        };
        if let Some(s) = status.filter(|s| !(200..300).contains(s)) {
            // A refused upload is evidence like any answer: recorded and classified whole.
            let ex = self.streamed_exchange("PUT", &path, s, headers, body, started.elapsed());
            return Err(MlflowError::from_exchange(call, &ex));
        }
        let excerpt = crate::secret::redact(
            &String::from_utf8_lossy(&body)
                .chars()
                .take(200)
                .collect::<String>(),
        );
        self.note(&call, status, started.elapsed(), excerpt.clone(), None);
        if status.is_some_and(|s| (200..300).contains(&s)) {
            self.count_upload(len);
        }
        match status {
            Some(s) if (200..300).contains(&s) => Ok(hasher
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone()
                .finalize()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect()),
            s => Err(MlflowError {
                call,
                status: s,
                error_code: None,
                message: excerpt,
                html: false,
                content_type: None,
                detail: None,
                transport: None,
            }),
        }
    }

    /// Downloads an artifact chunk by chunk, hashing as it goes; returns (bytes, sha256).
    pub async fn download_artifact_digest(&self, rel: &str) -> Result<(u64, String), MlflowError> {
        use futures_util::StreamExt;
        use sha2::Digest;
        let path = self.artifact_path(rel);
        let url = crate::http::join_url(&self.base, &path);
        let call = format!("GET mlflow-artifacts/artifacts/{rel} (streamed)");
        let rb = crate::http::apply_auth(
            self.http
                .reqwest()
                .get(url)
                .timeout(self.http.timeout().max(std::time::Duration::from_secs(120))),
            &self.auth,
        );
        let started = std::time::Instant::now();
        let transport = |e: reqwest::Error, started: std::time::Instant| {
            let err = crate::http::HttpError::from_reqwest_public(
                &e,
                call.clone(),
                started.elapsed(),
                &[],
            );
            MlflowError::from_transport(call.clone(), &err)
        };
        let resp = rb.send().await.map_err(|e| transport(e, started))?;
        let status = resp.status().as_u16();
        if status != 200 {
            let headers = resp.headers().clone();
            let body = resp.bytes().await.unwrap_or_default().to_vec();
            let ex = self.streamed_exchange("GET", &path, status, headers, body, started.elapsed());
            return Err(MlflowError::from_exchange(call, &ex));
        }
        let mut hasher = sha2::Sha256::new();
        let mut n = 0u64;
        let mut stream = resp.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| transport(e, started))?;
            n += chunk.len() as u64;
            hasher.update(&chunk);
        }
        self.note(
            &call,
            Some(status),
            started.elapsed(),
            format!("{n} bytes"),
            None,
        );
        Ok((
            n,
            hasher
                .finalize()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect(),
        ))
    }

    /// The answer to a streamed transfer that failed, as an [`Exchange`] recorded like any
    /// other (so its shape is classified the same way).
    fn streamed_exchange(
        &self,
        method: &str,
        path: &str,
        status: u16,
        headers: reqwest::header::HeaderMap,
        body: Vec<u8>,
        latency: std::time::Duration,
    ) -> Exchange {
        let ex = Exchange {
            retried: None,
            sent: None,
            counted: Default::default(),
            line: format!("{method} {path}"),
            auth: self.auth.describe(),
            status,
            headers,
            body,
            latency,
            secrets: self
                .auth
                .secret_values()
                .iter()
                .map(|s| s.to_string())
                .collect(),
        };
        if let Some(sink) = &self.sink {
            sink.answered(self.host, &ex);
        }
        ex
    }

    /// Counts uploaded artifact bytes into the check's evidence (the report's storage line).
    fn count_upload(&self, bytes: u64) {
        if let Some(sink) = &self.sink {
            sink.uploaded(bytes);
        }
    }

    /// Bytes of the files under a run's artifact directory `path` (whole tree, at most
    /// `depth` levels down); what a refused clean-up leaves on the platform.
    pub async fn run_artifact_bytes(&self, run_id: &str) -> Result<u64, MlflowError> {
        let mut total = 0;
        let mut dirs: Vec<(Option<String>, u32)> = vec![(None, 0)];
        while let Some((dir, depth)) = dirs.pop() {
            for f in self.list_run_artifacts(run_id, dir.as_deref()).await? {
                if f.is_dir {
                    if depth < 8 {
                        dirs.push((Some(f.path), depth + 1));
                    }
                } else {
                    total += f.file_size.unwrap_or(0);
                }
            }
        }
        Ok(total)
    }

    fn note(
        &self,
        call: &str,
        status: Option<u16>,
        elapsed: std::time::Duration,
        excerpt: String,
        error: Option<String>,
    ) {
        if let Some(sink) = &self.sink {
            sink.push(Evidence {
                request: call.to_owned(),
                host: self.host.to_owned(),
                auth: self.auth.describe(),
                status,
                content_type: None,
                latency_ms: elapsed.as_secs_f64() * 1e3,
                body_excerpt: excerpt,
                error,
                symptoms: Vec::new(),
                injected: false,
                retried: None,
                sent: None,
            });
        }
    }

    // ---- registry ----

    /// Creates the model; an existing name is fine (returns `false`).
    pub async fn create_registered_model(
        &self,
        name: &str,
        description: &str,
        tags: &[Tag],
    ) -> Result<bool, MlflowError> {
        let body = json!({"name": name, "description": description, "tags": tags});
        match self
            .call::<Value>(Method::POST, "registered-models/create", Some(body), &[])
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if e.is("RESOURCE_ALREADY_EXISTS") => Ok(false),
            Err(e) => Err(e),
        }
    }

    pub async fn get_registered_model(&self, name: &str) -> Result<RegisteredModel, MlflowError> {
        let v: Value = self
            .call(
                Method::GET,
                "registered-models/get",
                None,
                &[("name", name)],
            )
            .await?;
        Self::required(&v, "registered_model", "registered-models/get")
    }

    pub async fn search_registered_models(
        &self,
        filter: &str,
        max_results: u32,
    ) -> Result<Vec<RegisteredModel>, MlflowError> {
        let max = max_results.to_string();
        let v: Value = self
            .call(
                Method::GET,
                "registered-models/search",
                None,
                &[("filter", filter), ("max_results", &max)],
            )
            .await?;
        Self::list(&v, "registered_models", "registered-models/search")
    }

    pub async fn delete_registered_model(&self, name: &str) -> Result<(), MlflowError> {
        self.call::<Value>(
            Method::DELETE,
            "registered-models/delete",
            Some(json!({"name": name})),
            &[],
        )
        .await
        .map(drop)
    }

    // ---- MLflow 3's logged models (what an MLflow 3 client sends; docs/mlflow-clients.md) ----

    /// `POST logged-models`: a logged model from `run`; returns its id and artifact URI.
    pub async fn create_logged_model(
        &self,
        experiment_id: &str,
        name: &str,
        run_id: &str,
    ) -> Result<LoggedModelInfo, MlflowError> {
        let v: Value = self
            .call(
                Method::POST,
                "logged-models",
                Some(
                    json!({"experiment_id": experiment_id, "name": name, "source_run_id": run_id,
                            "tags": [{"key": "mlflow.user", "value": "hokusai-verify"}]}),
                ),
                &[],
            )
            .await?;
        Self::required(&v["model"], "info", "logged-models")
    }

    /// `PATCH logged-models/<id>` to `LOGGED_MODEL_READY` (the client's finalize).
    pub async fn finalize_logged_model(&self, id: &str) -> Result<LoggedModelInfo, MlflowError> {
        let endpoint = format!("logged-models/{id}");
        let v: Value = self
            .call(
                Method::PATCH,
                &endpoint,
                Some(json!({"model_id": id, "status": "LOGGED_MODEL_READY"})),
                &[],
            )
            .await?;
        Self::required(&v["model"], "info", &endpoint)
    }

    /// `POST runs/outputs`: records the logged model as the run's output.
    pub async fn log_model_output(&self, run_id: &str, model_id: &str) -> Result<(), MlflowError> {
        self.call::<Value>(
            Method::POST,
            "runs/outputs",
            Some(json!({"run_id": run_id, "models": [{"model_id": model_id, "step": 0}]})),
            &[],
        )
        .await
        .map(drop)
    }

    /// `DELETE logged-models/<id>`.
    pub async fn delete_logged_model(&self, id: &str) -> Result<(), MlflowError> {
        self.call::<Value>(
            Method::DELETE,
            &format!("logged-models/{id}"),
            Some(json!({"model_id": id})),
            &[],
        )
        .await
        .map(drop)
    }

    /// `model-versions/create` from a logged model (`models:/<id>` with `model_id`).
    pub async fn create_model_version_from_logged_model(
        &self,
        name: &str,
        model_id: &str,
    ) -> Result<ModelVersion, MlflowError> {
        let v: Value = self
            .call(
                Method::POST,
                "model-versions/create",
                Some(json!({"name": name, "source": format!("models:/{model_id}"), "model_id": model_id})),
                &[],
            )
            .await?;
        Self::required(&v, "model_version", "model-versions/create")
    }

    pub async fn latest_versions(&self, name: &str) -> Result<Vec<ModelVersion>, MlflowError> {
        let v: Value = self
            .call(
                Method::POST,
                "registered-models/get-latest-versions",
                Some(json!({"name": name})),
                &[],
            )
            .await?;
        Self::list(
            &v,
            "model_versions",
            "registered-models/get-latest-versions",
        )
    }

    pub async fn create_model_version(
        &self,
        name: &str,
        source: &str,
        run_id: &str,
        description: &str,
    ) -> Result<ModelVersion, MlflowError> {
        let body =
            json!({"name": name, "source": source, "run_id": run_id, "description": description});
        let v: Value = self
            .call(Method::POST, "model-versions/create", Some(body), &[])
            .await?;
        Self::required(&v, "model_version", "model-versions/create")
    }

    pub async fn get_model_version(
        &self,
        name: &str,
        version: &str,
    ) -> Result<ModelVersion, MlflowError> {
        let v: Value = self
            .call(
                Method::GET,
                "model-versions/get",
                None,
                &[("name", name), ("version", version)],
            )
            .await?;
        Self::required(&v, "model_version", "model-versions/get")
    }

    /// Where MLflow's client downloads a version from (`model-versions/get-download-uri`).
    pub async fn download_uri(&self, name: &str, version: &str) -> Result<String, MlflowError> {
        let v: Value = self
            .call(
                Method::GET,
                "model-versions/get-download-uri",
                None,
                &[("name", name), ("version", version)],
            )
            .await?;
        Self::required(&v, "artifact_uri", "model-versions/get-download-uri")
    }

    /// The entries directly under an artifact directory (`<exp>/<run>/artifacts/<dir>`),
    /// listed through the artifact service as MLflow's client lists them (`?path=`).
    pub async fn list_artifact_dir(&self, rel_dir: &str) -> Result<Vec<FileInfo>, MlflowError> {
        let list = format!(
            "{}/{}/mlflow-artifacts/artifacts",
            self.mount,
            self.prefix.as_str()
        );
        let call = "GET mlflow-artifacts/artifacts?path=";
        let ex = self
            .raw(Req::get(list).query("path", rel_dir.trim_matches('/')))
            .await?;
        if ex.status != 200 {
            return Err(MlflowError::from_exchange(call.into(), &ex));
        }
        let v: Value = serde_json::from_slice(&ex.body).map_err(|e| {
            MlflowError::unexpected(call.into(), &ex, &format!("unexpected body ({e})"))
        })?;
        Self::list(&v, "files", call)
    }

    /// Every file under an artifact directory with its size, walked as MLflow's client walks
    /// it, at most 8 levels down. Paths are relative to `rel_dir`.
    pub async fn artifact_tree(&self, rel_dir: &str) -> Result<Vec<(String, u64)>, MlflowError> {
        let root = rel_dir.trim_matches('/');
        let mut files = Vec::new();
        let mut dirs = vec![(String::new(), 0u32)];
        while let Some((dir, depth)) = dirs.pop() {
            let path = if dir.is_empty() {
                root.to_owned()
            } else {
                format!("{root}/{dir}")
            };
            for f in self.list_artifact_dir(&path).await? {
                let sub = if dir.is_empty() {
                    f.path.clone()
                } else {
                    format!("{dir}/{}", f.path)
                };
                if f.is_dir {
                    if depth < 8 {
                        dirs.push((sub, depth + 1));
                    }
                } else {
                    files.push((sub, f.file_size.unwrap_or(0)));
                }
            }
        }
        files.sort();
        Ok(files)
    }

    pub async fn search_model_versions(
        &self,
        filter: &str,
    ) -> Result<Vec<ModelVersion>, MlflowError> {
        let v: Value = self
            .call(
                Method::GET,
                "model-versions/search",
                None,
                // MLflow's own client's default page (SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT).
                &[("filter", filter), ("max_results", "10000")],
            )
            .await?;
        Self::list(&v, "model_versions", "model-versions/search")
    }

    pub async fn set_model_version_tag(
        &self,
        name: &str,
        version: &str,
        key: &str,
        value: &str,
    ) -> Result<(), MlflowError> {
        let body = json!({"name": name, "version": version, "key": key, "value": value});
        self.call::<Value>(Method::POST, "model-versions/set-tag", Some(body), &[])
            .await
            .map(drop)
    }

    pub async fn delete_model_version(&self, name: &str, version: &str) -> Result<(), MlflowError> {
        let body = json!({"name": name, "version": version});
        self.call::<Value>(Method::DELETE, "model-versions/delete", Some(body), &[])
            .await
            .map(drop)
    }

    pub async fn set_alias(
        &self,
        name: &str,
        alias: &str,
        version: &str,
    ) -> Result<(), MlflowError> {
        let body = json!({"name": name, "alias": alias, "version": version});
        self.call::<Value>(Method::POST, "registered-models/alias", Some(body), &[])
            .await
            .map(drop)
    }

    pub async fn get_by_alias(&self, name: &str, alias: &str) -> Result<ModelVersion, MlflowError> {
        let v: Value = self
            .call(
                Method::GET,
                "registered-models/alias",
                None,
                &[("name", name), ("alias", alias)],
            )
            .await?;
        Self::required(&v, "model_version", "registered-models/alias")
    }

    pub async fn delete_alias(&self, name: &str, alias: &str) -> Result<(), MlflowError> {
        let body = json!({"name": name, "alias": alias});
        self.call::<Value>(Method::DELETE, "registered-models/alias", Some(body), &[])
            .await
            .map(drop)
    }
}

pub(crate) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
