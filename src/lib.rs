//! # hokusai-verify
//!
//! Integration-test suite for the Hokusai model-registration platform: an MLflow registry
//! behind an API-key auth proxy (API service on ECS behind an ALB, an auth service, a Redis
//! auth cache, S3 artifacts). The same checks run against live infrastructure or against
//! the stand-in, a faithful wiremock emulation of the platform with a switch per fault.
//!
//! Where things live:
//! - [`catalogue`]: the typed vocabulary (areas, faults, breakages, key roles), a leaf;
//! - [`config`]: target selection, environment variables, profiles;
//! - [`secret`]: API keys as secret types, redaction of everything written;
//! - [`http`]: the timed HTTP client and its evidence;
//! - [`cache`], [`ecs`], [`mlflow`]: the Redis handle, the ECS client, the MLflow client and
//!   the registration workflow; [`model`]: the sample model that gets registered;
//! - [`fixtures`]: [`fixtures::Env`], the handle every check and test gets;
//! - [`evidence`]: what a check sees and how it fails (evidence, symptoms, failures,
//!   contract lines), the floor under the MLflow client, the fixtures and the runner;
//! - [`check`]: how one check runs and what it records; [`checks`]: the catalogue by area;
//! - [`load`]: the load engine (open/closed models, HDR histograms, baselines);
//! - [`report`]: the report (root causes, health score, Markdown/JSON/JUnit/HTML);
//! - [`standin`]: the emulated platform and its fault switches.

pub mod cache;
pub mod catalogue;
pub mod check;
pub mod checks;
pub mod commands;
pub mod config;
pub mod ecs;
pub mod evidence;
pub mod fixtures;
pub mod http;
pub mod load;
pub mod mlflow;
pub mod model;
pub mod report;
pub mod secret;
pub mod selftest;
pub mod serve;
pub mod standin;
