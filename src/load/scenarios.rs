//! Units of work for the load engine: one HTTP request, or one whole registration workflow
//! (with its clean-up).

use super::RequestOutcome;
use crate::fixtures::Env;
use crate::http::{Auth, HttpClient, HttpErrorKind, Req};
use crate::mlflow::workflow::{Created, RegistrationRequest, register};
use crate::mlflow::{ApiPrefix, MlflowClient};
use crate::model::SampleModel;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use url::Url;

pub type Work =
    Arc<dyn Fn(u64) -> Pin<Box<dyn Future<Output = RequestOutcome> + Send>> + Send + Sync>;

fn class(kind: HttpErrorKind) -> String {
    match kind {
        HttpErrorKind::Timeout => "timeout",
        HttpErrorKind::Refused | HttpErrorKind::Connect | HttpErrorKind::Tls => "connect",
        _ => "other",
    }
    .to_owned()
}

/// One request per unit (built fresh each time by `req`).
pub fn http(client: HttpClient, base: Url, req: impl Fn() -> Req + Send + Sync + 'static) -> Work {
    let req = Arc::new(req);
    Arc::new(move |_| {
        let (client, base, req) = (client.clone(), base.clone(), req.clone());
        Box::pin(async move {
            match client.send(&base, req()).await {
                Ok(ex) => RequestOutcome::Status(ex.status),
                Err(e) => RequestOutcome::Error(class(e.kind)),
            }
        })
    })
}

/// One full registration workflow per unit (through the proxy, cleaned up afterwards).
pub fn registration(env: Arc<Env>) -> Work {
    Arc::new(move |i| {
        let env = env.clone();
        Box::pin(async move {
            let client = MlflowClient::via_proxy(
                env.http.clone(),
                env.registry_url().clone(),
                Auth::Bearer(env.keys.primary.clone()),
                ApiPrefix::Api,
            );
            let created = Created::default();
            let r = register(
                &client,
                &RegistrationRequest::fresh(&format!("load-{i}")),
                SampleModel::get(),
                env.profile().mlflow_major(),
                &created,
                None,
            )
            .await;
            let _ = created.cleanup(&client, None).await;
            match r {
                Ok(_) => RequestOutcome::Status(200),
                Err(crate::mlflow::workflow::WorkflowError::Stage { error, .. }) => {
                    match (error.status, error.transport) {
                        (Some(s), _) => RequestOutcome::Status(s),
                        (None, Some(k)) => RequestOutcome::Error(class(k)),
                        _ => RequestOutcome::Error("other".into()),
                    }
                }
                Err(_) => RequestOutcome::Error("over budget".into()),
            }
        })
    })
}

/// Uploads a 1 MB artifact for the download scenario; returns its proxied path.
pub async fn seed_artifact(env: &Env) -> Result<String, crate::mlflow::MlflowError> {
    use crate::http::Auth;
    use crate::mlflow::{ApiPrefix, MlflowClient};
    let client = MlflowClient::via_proxy(
        env.http.clone(),
        env.registry_url().clone(),
        Auth::Bearer(env.keys.primary.clone()),
        ApiPrefix::Api,
    );
    let exp = client
        .create_experiment(&crate::mlflow::naming::experiment_name("load"), &[])
        .await?;
    let run = client.create_run(&exp, "load", &[]).await?;
    let rel = format!("{exp}/{}/artifacts/blob.bin", run.info.run_id);
    client.upload_artifact(&rel, vec![7u8; 1024 * 1024]).await?;
    Ok(client.artifact_path(&rel))
}
