//! Measures what building one stand-in environment costs (manual measurement).
use hokusai_verify::config::Profile;
use hokusai_verify::fixtures::Env;
use std::time::Instant;

#[tokio::main]
async fn main() {
    let p = Profile::default_profile();
    let t = Instant::now();
    for _ in 0..50 {
        let _ = hokusai_verify::standin::StandIn::start(
            hokusai_verify::standin::StandInOptions::new(p.clone()),
        )
        .await
        .unwrap();
    }
    println!(
        "stand-in start: {:.1} ms",
        t.elapsed().as_secs_f64() * 1e3 / 50.0
    );
    let t = Instant::now();
    for _ in 0..50 {
        let _ = hokusai_verify::http::HttpClient::new(
            std::time::Duration::from_secs(1),
            std::time::Duration::from_secs(1),
        );
    }
    println!(
        "http client: {:.1} ms",
        t.elapsed().as_secs_f64() * 1e3 / 50.0
    );
    let t = Instant::now();
    for _ in 0..50 {
        let _ = hokusai_verify::ecs::EcsClient::for_endpoint(
            "http://127.0.0.1:1",
            "us-east-1",
            "c",
            hokusai_verify::ecs::EcsTimeouts::default(),
        )
        .await;
    }
    println!(
        "ecs client: {:.1} ms",
        t.elapsed().as_secs_f64() * 1e3 / 50.0
    );
    let t = Instant::now();
    for _ in 0..50 {
        let _ = Env::standin_with(p.clone(), &[]).await;
    }
    println!(
        "whole env: {:.1} ms",
        t.elapsed().as_secs_f64() * 1e3 / 50.0
    );
}
