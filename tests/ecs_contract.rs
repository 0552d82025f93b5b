//! The ECS checks against moto (a real implementation of the ECS API), with services in
//! healthy and unhealthy states, must agree with the stand-in's ECS emulation on every case.
//! moto comes from `HOKUSAI_MOTO_URL` (`make test` starts it with
//! `MOTO_ECS_SERVICE_RUNNING=2`: a new service runs 2 tasks, so desired 2 is healthy and
//! desired 3 stays below its count with its rollout IN_PROGRESS).

use aws_sdk_ecs::types::ContainerDefinition;
use hokusai_verify::catalogue::Area;
use hokusai_verify::check::Outcome;
use hokusai_verify::config::{Config, Profile};
use hokusai_verify::ecs::EcsClient;
use hokusai_verify::fixtures::Env;
use hokusai_verify::standin::{Fault, StandIn, StandInOptions};
use rstest::rstest;

fn moto() -> Option<String> {
    match std::env::var("HOKUSAI_MOTO_URL") {
        Ok(u) => Some(u),
        Err(_) if std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0") => {
            panic!(
                "CI must compare with moto: run `make test` (it starts one) or set HOKUSAI_MOTO_URL"
            )
        }
        Err(_) => {
            eprintln!(
                "HOKUSAI_MOTO_URL not set: skipping the comparison with moto (make test runs it)"
            );
            None
        }
    }
}

/// Creates the cluster and the services in moto: `desired` per service, `None` = not created.
async fn seed(ecs: &EcsClient, desired: &[(&str, Option<i32>)]) {
    let c = &ecs.client;
    c.create_cluster()
        .cluster_name(&ecs.cluster)
        .send()
        .await
        .expect("CreateCluster");
    let container = ContainerDefinition::builder()
        .name("app")
        .image("nginx:latest")
        .memory(512)
        .essential(true)
        .build();
    c.register_task_definition()
        .family("hokusai")
        .container_definitions(container)
        .send()
        .await
        .expect("RegisterTaskDefinition");
    for (name, d) in desired {
        if let Some(d) = d {
            c.create_service()
                .cluster(&ecs.cluster)
                .service_name(*name)
                .task_definition("hokusai")
                .desired_count(*d)
                .send()
                .await
                .expect("CreateService");
        }
    }
}

const AUTH: &str = "hokusai-auth-development";
const API: &str = "hokusai-api-development";
const MLFLOW: &str = "hokusai-mlflow-development";

#[rstest]
#[case::healthy("us-east-1", &[(AUTH, Some(2)), (API, Some(2)), (MLFLOW, Some(2))], None)]
#[case::degraded("us-west-2", &[(AUTH, Some(3)), (API, Some(3)), (MLFLOW, Some(2))], Some(Fault::EcsDegraded))]
#[case::missing("eu-west-1", &[(AUTH, Some(2)), (API, Some(2)), (MLFLOW, None)], Some(Fault::EcsMissing))]
#[tokio::test]
async fn ecs_checks_agree_with_moto(
    #[case] region: &str,
    #[case] desired: &[(&str, Option<i32>)],
    #[case] fault: Option<Fault>,
) {
    let Some(moto) = moto() else { return };
    let profile = Profile::default_profile();
    let ecs = EcsClient::for_endpoint(
        &moto,
        region,
        &profile.ecs.cluster,
        hokusai_verify::ecs::EcsTimeouts::default(),
    )
    .await;
    seed(&ecs, desired).await;

    let moto_env = Env::on_standin_with_ecs(
        Config::standin(profile.clone()),
        StandIn::start(StandInOptions::new(profile.clone()))
            .await
            .unwrap_or_else(|e| panic!("{e}")),
        ecs,
    )
    .await;
    let standin_env =
        Env::standin_with(profile.clone(), &fault.into_iter().collect::<Vec<_>>()).await;
    for service in [AUTH, API, MLFLOW] {
        let spec = hokusai_verify::checks::find(
            &profile,
            Area::InfraHealth,
            &format!("ecs_service[{service}]"),
        )
        .unwrap();
        let (on_moto, on_standin) = (spec.run(&moto_env).await, spec.run(&standin_env).await);
        assert_eq!(
            on_moto.outcome == Outcome::Passed,
            on_standin.outcome == Outcome::Passed,
            "{service}: moto and the stand-in disagree\n  moto:     {}\n  stand-in: {}",
            on_moto.explain(),
            on_standin.explain()
        );
        let missing = |r: &hokusai_verify::check::CheckResult| {
            r.message.as_deref().unwrap_or("").contains("MISSING")
        };
        assert_eq!(
            missing(&on_moto),
            missing(&on_standin),
            "{service}: {}",
            on_moto.explain()
        );
        let expect_pass = desired.iter().any(|(n, d)| *n == service && *d == Some(2));
        assert_eq!(
            on_moto.outcome == Outcome::Passed,
            expect_pass,
            "{}",
            on_moto.explain()
        );
    }
}
