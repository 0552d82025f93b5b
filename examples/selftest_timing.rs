//! Times a healthy catalogue run and the slowest faults on the stand-in (manual measurement).
use hokusai_verify::config::Profile;
use hokusai_verify::selftest::{Scenario, run};
use hokusai_verify::standin::Fault;
use std::time::Instant;

#[tokio::main]
async fn main() {
    let p = Profile::default_profile();
    for faults in [
        vec![],
        vec![Fault::AuthSlow],
        vec![Fault::MlflowSlow],
        vec![Fault::SlowRegistry],
    ] {
        let t = Instant::now();
        let r = run(
            &p,
            &Scenario {
                faults: faults.clone(),
                ..Default::default()
            },
        )
        .await;
        let bad = r.iter().filter(|r| r.outcome.is_bad()).count();
        println!(
            "{faults:?}: {} checks, {bad} bad, {:.1} s",
            r.len(),
            t.elapsed().as_secs_f64()
        );
    }
}
