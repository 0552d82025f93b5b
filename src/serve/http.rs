//! `serve`'s HTTP side: `GET /metrics` (OpenMetrics), `GET /` (the last report, as HTML),
//! `GET /report.json`, `GET /healthz` (the exporter's own health). Read-only: nothing a
//! request sends changes what the exporter does.

use super::State;
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// How long a client may take to send its request head (a scraper that connects and says
/// nothing does not hold a task for ever).
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves `state` on `listener` until the task is dropped.
pub async fn serve(listener: TcpListener, state: Arc<State>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            // Out of file descriptors or similar: wait a little instead of spinning.
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let state = state.clone();
        tokio::spawn(async move {
            let io = hyper_util::rt::TokioIo::new(stream);
            let service = hyper::service::service_fn(move |req| {
                let state = state.clone();
                async move { Ok::<_, std::convert::Infallible>(answer(&req, &state)) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(io, service)
                .await;
        });
    }
}

fn respond(
    status: StatusCode,
    content_type: &str,
    body: impl Into<Bytes>,
) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header(hyper::header::CONTENT_TYPE, content_type)
        .header(hyper::header::CACHE_CONTROL, "no-store")
        .body(Full::new(body.into()))
        .expect("a valid response")
}

fn answer(req: &Request<Incoming>, state: &State) -> Response<Full<Bytes>> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return respond(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain; charset=utf-8",
            "only GET\n",
        );
    }
    const NOT_YET: &str = "no run has completed yet\n";
    match req.uri().path() {
        "/metrics" => respond(
            StatusCode::OK,
            super::metrics::CONTENT_TYPE,
            state.metrics.encode(),
        ),
        "/" => match state.last() {
            Some(l) => respond(StatusCode::OK, "text/html; charset=utf-8", l.html),
            None => respond(
                StatusCode::SERVICE_UNAVAILABLE,
                "text/plain; charset=utf-8",
                NOT_YET,
            ),
        },
        "/report.json" => match state.last() {
            Some(l) => respond(StatusCode::OK, "application/json", l.json),
            None => respond(
                StatusCode::SERVICE_UNAVAILABLE,
                "text/plain; charset=utf-8",
                NOT_YET,
            ),
        },
        "/healthz" => healthz(state),
        _ => respond(
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "not found: /metrics, /, /report.json, /healthz\n",
        ),
    }
}

/// 200 while the scheduler runs; 503 once it stopped. The body says how many runs completed,
/// whether one is running and how old the last one is.
fn healthz(state: &State) -> Response<Full<Bytes>> {
    let age = state.last().and_then(|l| l.ended.elapsed().ok());
    let body = serde_json::json!({
        "status": if state.stopped() { "stopped" } else { "ok" },
        "runs_completed": state.completed(),
        "running": state.running(),
        "last_run_age_s": age.map(|a| (a.as_secs_f64() * 10.0).round() / 10.0),
        "interval_s": state.interval.as_secs_f64(),
    });
    let status = if state.stopped() {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    respond(status, "application/json", format!("{body}\n"))
}
