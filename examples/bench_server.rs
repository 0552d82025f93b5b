//! A loopback HTTP server for `make bench`: answers 200 `{"ok":true}`; with
//! `--stall-ms S --every-ms E` it stalls completely for S ms every E ms (its only thread
//! sleeps, like a GC pause), which is what coordinated omission hides from a naive client.
//! Usage: bench_server PORT [--stall-ms S --every-ms E]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use wiremock::{Mock, MockServer, Respond, ResponseTemplate, matchers::any};

struct Stallable(Arc<AtomicBool>);

impl Respond for Stallable {
    fn respond(&self, _: &wiremock::Request) -> ResponseTemplate {
        while self.0.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(1));
        }
        ResponseTemplate::new(200).set_body_raw("{\"ok\":true}", "application/json")
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let port: u16 = args
        .get(1)
        .and_then(|p| p.parse().ok())
        .expect("usage: bench_server PORT [--stall-ms S --every-ms E]");
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse::<u64>().ok())
    };
    let stalled = Arc::new(AtomicBool::new(false));
    if let (Some(stall), Some(every)) = (arg("--stall-ms"), arg("--every-ms")) {
        let flag = stalled.clone();
        std::thread::spawn(move || {
            loop {
                std::thread::sleep(Duration::from_millis(every.saturating_sub(stall)));
                flag.store(true, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(stall));
                flag.store(false, Ordering::Relaxed);
            }
        });
    }
    let listener = std::net::TcpListener::bind(("127.0.0.1", port)).expect("bind");
    let server = MockServer::builder()
        .listener(listener)
        .disable_request_recording()
        .start()
        .await;
    Mock::given(any())
        .respond_with(Stallable(stalled))
        .mount(&server)
        .await;
    println!("bench server on {}", server.uri());
    tokio::signal::ctrl_c().await.ok();
}
