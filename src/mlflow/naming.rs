//! The one naming scheme for everything the suite creates on a platform: experiments and
//! registered models carry a token
//! `hv-<run start, yyyymmddhhmmss>-<run id>-<n>-<label>`. The stamp and the 4-letter run id
//! are the same for every object of one process, so the janitor tells a run's objects
//! apart from the platform's own, sees how old they are, and can name the run they came
//! from; `<n>` counts the objects of the run. A token is a valid token id of the contract
//! (`^[a-z0-9-]+$`, at most 64 characters). Runs live in an experiment named this way, and
//! artifacts under their run's directory (`<experiment id>/<run id>/artifacts/…`).
//!
//! ```
//! use hokusai_verify::mlflow::naming;
//! let token = naming::unique_token("Registration Flow");
//! assert!(token.starts_with(naming::run_token()));
//! assert!(token.ends_with("-registration-flow"));
//! assert_eq!(naming::model_name(&token), format!("hokusai-{token}"));
//! assert!(naming::created_at(&naming::experiment_name("x")).is_some());
//! ```

use chrono::{DateTime, NaiveDateTime, Utc};
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU32, Ordering};

/// Every suite-made token starts with this.
pub const NAME_PREFIX: &str = "hv-";

/// `hv-<run start>-<run id>`: the part of every token this process makes.
pub fn run_token() -> &'static str {
    static RUN: LazyLock<String> = LazyLock::new(|| {
        let stamp = Utc::now().format("%Y%m%d%H%M%S");
        let id: String = std::iter::repeat_with(fastrand::lowercase)
            .take(4)
            .collect();
        format!("{NAME_PREFIX}{stamp}-{id}")
    });
    &RUN
}

/// A token unique to this object of this run: `<run token>-<n>-<label>`, the label
/// lower-cased with anything but letters and digits as `-`, cut to 64 characters.
pub fn unique_token(label: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(1);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let label: String = label
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let token = format!("{}-{n}-{}", run_token(), label.trim_matches('-'));
    token
        .chars()
        .take(64)
        .collect::<String>()
        .trim_end_matches('-')
        .to_owned()
}

/// The registered model of a token: `hokusai-<token>` (the platform's model naming).
pub fn model_name(token_id: &str) -> String {
    format!("hokusai-{token_id}")
}

/// A fresh experiment name for `label`: `<token>-exp`.
pub fn experiment_name(label: &str) -> String {
    format!("{}-exp", unique_token(label))
}

/// When a suite-made name says its run started: its `hv-<yyyymmddhhmmss>-` token, wherever
/// it sits (`hv-…`, `hokusai-hv-…`, and the names of earlier versions such as
/// `hokusai-test-model-registration-hv-…`). `None` for a name the suite did not make.
pub fn created_at(name: &str) -> Option<DateTime<Utc>> {
    name.match_indices(NAME_PREFIX)
        .filter(|(i, _)| *i == 0 || name.as_bytes()[i - 1] == b'-')
        .find_map(|(i, _)| {
            let stamp = name.get(i + NAME_PREFIX.len()..i + NAME_PREFIX.len() + 14)?;
            NaiveDateTime::parse_from_str(stamp, "%Y%m%d%H%M%S")
                .ok()
                .map(|t| t.and_utc())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_run_shares_its_token_and_every_object_is_unique() {
        let a = unique_token("Registration Flow!");
        let b = unique_token("Registration Flow!");
        assert_ne!(a, b);
        for t in [&a, &b] {
            assert!(t.starts_with(run_token()), "{t}");
            assert!(
                t.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                "{t}"
            );
        }
        assert!(unique_token(&"x".repeat(200)).len() <= 64);
        assert!(experiment_name("e").ends_with("-e-exp"));
    }

    #[test]
    fn names_carry_their_run_start() {
        assert!(
            created_at("hokusai-test-model-registration-hv-20261126065301-abcd-simple").is_some(),
            "the script-parity names of earlier versions"
        );
        assert!(created_at("hokusai-production-model").is_none());
        assert!(created_at("hokusai-archv-20261126065301-x").is_none());
        let t = created_at("hokusai-hv-20261126065301-abcd-7-flow").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-11-26T06:53:01+00:00");
        let fresh = model_name(&unique_token("x"));
        assert!(created_at(&fresh).is_some_and(|t| (Utc::now() - t).num_seconds() < 60));
    }
}
