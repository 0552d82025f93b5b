//! A check's verdict, as a pure function of what happened: how its body ended (its own
//! assertion, a step before it, a panic, the run budget), what the runner-owned clean-up
//! left, and whether strict mode fails skips. Nothing else goes in, so nothing else can
//! change a verdict:
//!
//! - the outcome is the body's own: an assertion that held is a pass, whatever clean-up did
//!   afterwards; what clean-up could not remove is a finding of its own (the run's
//!   `nothing-left-behind` line, listed once in the report), never this check's verdict;
//! - a failure at a step before the assertion is *blocked* (on the line that step verifies,
//!   when it names one), never failed; so is a failure after one of the check's requests
//!   was failed in front of what the check verifies ([`blocked_in_front`]: the platform's
//!   own count says its auth layer failed it), unless that is the check's own line;
//! - what was recorded while the check injected a fault is marked at recording time (see
//!   [`crate::check::inject`]) and reaches this function only through `saw`, already
//!   filtered.

use super::{Failure, Outcome, Symptom};
use crate::evidence::Line;
use crate::mlflow::workflow::LeftBehind;

/// How a check's body ended.
#[derive(Debug, Clone)]
pub enum BodyEnd {
    /// It returned: `Ok` when its assertion held.
    Returned(Result<(), Failure>),
    /// It panicked (a defect of the suite), with the message (redacted by the caller).
    Panicked(String),
    /// The run budget of `budget_s` seconds ran out before it finished (or started).
    OutOfTime { budget_s: u64 },
}

/// What the runner-owned clean-up did after the body.
#[derive(Debug, Clone, Default)]
pub struct Cleanup {
    /// What it could not remove (with the commands that do).
    pub left: Vec<LeftBehind>,
    /// It did not finish within its bound (`left` then lists what may remain).
    pub timed_out: bool,
}

/// The verdict of one check, ready for its [`super::CheckResult`].
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub outcome: Outcome,
    /// The contract line the verdict is on, when it is not the check's declared one (an
    /// assertion on one of several lines; a block on the line of the blocking step).
    pub line: Option<Line>,
    pub expected: Option<String>,
    pub actual: Option<String>,
    pub message: Option<String>,
    /// What the check saw and what its failure (or blocking step) named, typed.
    pub symptoms: Vec<Symptom>,
}

/// Composes the verdict; see the module documentation.
pub fn compose(body: BodyEnd, saw: Vec<Symptom>, cleanup: &Cleanup, strict: bool) -> Verdict {
    let mut v = Verdict {
        outcome: Outcome::Passed,
        line: None,
        expected: None,
        actual: None,
        message: None,
        symptoms: saw,
    };
    let failure = match body {
        BodyEnd::Returned(Ok(())) => None,
        BodyEnd::Returned(Err(f)) => Some(f),
        BodyEnd::Panicked(msg) => Some(Failure::Error {
            class: "panic".into(),
            message: format!("the check panicked: {msg}"),
        }),
        BodyEnd::OutOfTime { budget_s } => {
            v.symptoms.push(Symptom::OutOfTime { budget_s });
            Some(
                Failure::Error {
                    class: "budget".into(),
                    message: format!(
                        "the run budget of {budget_s} s (HOKUSAI_RUN_BUDGET_S) ran out before this check finished"
                    ),
                }
                .blocked("the run budget"),
            )
        }
    };
    if let Some(f) = failure {
        v.symptoms.extend(f.symptoms());
        apply(&mut v, f, strict);
    }
    if !cleanup.left.is_empty() || cleanup.timed_out {
        let what = if cleanup.timed_out {
            "clean-up did not finish in time".to_owned()
        } else {
            format!("clean-up left {} object(s) behind", cleanup.left.len())
        };
        let note = format!("{what} (reported once, under contract:nothing-left-behind)");
        v.message = Some(match v.message.take() {
            None => format!("passed; {note}"),
            Some(m) => format!("{m}; {note}"),
        });
    }
    v
}

/// A check that failed, or was blocked on no named line, after one of its requests met a
/// symptom that [`Symptom::blocks`] (`met`: what its requests showed, injected ones left
/// out) is blocked at that symptom's step, on its line: the request never reached what the
/// check verifies. Unless that line is the one the failing assertion (or the check, `own`)
/// verifies: then the failure is the check's own.
pub fn blocked_in_front(body: BodyEnd, met: &[Symptom], own: Option<Line>) -> BodyEnd {
    let Some((step, line)) = met.iter().find_map(Symptom::blocks) else {
        return body;
    };
    match body {
        BodyEnd::Returned(Err(f @ Failure::Failed { line: l, .. })) if l.or(own) != Some(line) => {
            BodyEnd::Returned(Err(f.blocked_on(step, line)))
        }
        BodyEnd::Returned(Err(Failure::Blocked {
            step: s,
            inner,
            line: None,
        })) if own != Some(line) => BodyEnd::Returned(Err(Failure::Blocked {
            step: s,
            inner,
            line: Some(line),
        })),
        other => other,
    }
}

fn apply(v: &mut Verdict, f: Failure, strict: bool) {
    match f {
        Failure::Failed {
            expected,
            actual,
            line,
            ..
        } => {
            v.outcome = Outcome::Failed;
            v.line = line;
            v.message = Some(format!("expected {expected}, got {actual}"));
            v.expected = Some(expected);
            v.actual = Some(actual);
        }
        Failure::Blocked { step, inner, line } => {
            v.line = line;
            let why = match *inner {
                Failure::Failed {
                    expected, actual, ..
                } => {
                    let why = format!("expected {expected}, got {actual}");
                    v.expected = Some(expected);
                    v.actual = Some(actual);
                    why
                }
                Failure::Transport(e) => e.to_string(),
                Failure::Error { message, .. } => message,
                other => format!("{other:?}"),
            };
            v.message = Some(format!("blocked at {step}: {why}"));
            v.outcome = Outcome::Blocked { step };
        }
        Failure::Skipped(reason) if strict => {
            v.outcome = Outcome::Failed;
            v.message = Some(format!(
                "skipped, and HOKUSAI_STRICT=1 fails skips: {reason}"
            ));
        }
        Failure::Skipped(reason) => {
            v.message = Some(reason.clone());
            v.outcome = Outcome::Skipped { reason };
        }
        Failure::NotApplicable(reason) => {
            v.message = Some(reason.clone());
            v.outcome = Outcome::NotApplicable { reason };
        }
        Failure::Transport(e) => {
            use crate::http::HttpErrorKind as K;
            let class = match e.kind {
                K::Timeout => "timeout",
                K::Refused | K::Connect | K::Tls => "unreachable",
                _ => "unexpected response",
            };
            v.outcome = Outcome::Error {
                class: class.into(),
            };
            v.message = Some(e.to_string());
        }
        Failure::Error { class, message } => {
            v.outcome = Outcome::Error { class };
            v.message = Some(message);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mlflow::workflow::LeftKind;

    fn left() -> Cleanup {
        Cleanup {
            left: vec![LeftBehind::new(
                LeftKind::RegisteredModel,
                "hokusai-hv-x".into(),
                "DELETE registered-models/delete: 400".into(),
            )],
            timed_out: false,
        }
    }

    fn failed() -> Failure {
        Failure::failed("version 2", "version 3")
            .symptom(Symptom::RepeatedQueryCollapsed)
            .on_line(Line::VersionNumbering)
    }

    #[test]
    fn an_assertion_that_held_passes() {
        let v = compose(
            BodyEnd::Returned(Ok(())),
            vec![],
            &Cleanup::default(),
            false,
        );
        assert_eq!(v.outcome, Outcome::Passed);
        assert_eq!(v.message, None);
        assert!(v.symptoms.is_empty());
    }

    #[test]
    fn what_clean_up_left_never_fails_a_check_that_passed() {
        let v = compose(BodyEnd::Returned(Ok(())), vec![], &left(), false);
        assert_eq!(v.outcome, Outcome::Passed);
        assert!(
            v.symptoms.is_empty(),
            "no symptom: the run-level finding names it"
        );
        let m = v.message.unwrap();
        assert!(
            m.starts_with("passed; clean-up left 1 object(s) behind"),
            "{m}"
        );
        assert!(m.contains("nothing-left-behind"));
    }

    #[test]
    fn what_clean_up_left_never_replaces_the_checks_own_failure() {
        let v = compose(BodyEnd::Returned(Err(failed())), vec![], &left(), false);
        assert_eq!(v.outcome, Outcome::Failed);
        assert_eq!(v.line, Some(Line::VersionNumbering));
        assert_eq!(v.expected.as_deref(), Some("version 2"));
        assert_eq!(
            v.actual.as_deref(),
            Some("version 3"),
            "the actual is the check's own"
        );
        assert_eq!(v.symptoms, vec![Symptom::RepeatedQueryCollapsed]);
        assert!(
            v.message
                .unwrap()
                .starts_with("expected version 2, got version 3; clean-up")
        );
    }

    #[test]
    fn a_clean_up_that_timed_out_is_said() {
        let c = Cleanup {
            left: vec![],
            timed_out: true,
        };
        let v = compose(BodyEnd::Returned(Ok(())), vec![], &c, false);
        assert_eq!(v.outcome, Outcome::Passed);
        assert!(v.message.unwrap().contains("did not finish in time"));
    }

    #[test]
    fn a_failed_step_before_the_assertion_blocks_on_its_line() {
        let f = Failure::failed("a 2xx", "404")
            .symptom(Symptom::UpstreamUnreachable)
            .blocked_on("the registration workflow", Line::RegistrationWorkflow);
        let v = compose(BodyEnd::Returned(Err(f)), vec![], &left(), false);
        assert_eq!(
            v.outcome,
            Outcome::Blocked {
                step: "the registration workflow".into()
            }
        );
        assert_eq!(v.line, Some(Line::RegistrationWorkflow));
        assert_eq!(v.symptoms, vec![Symptom::UpstreamUnreachable]);
        assert!(
            v.message
                .unwrap()
                .starts_with("blocked at the registration workflow: expected a 2xx, got 404")
        );
    }

    #[test]
    fn a_failure_after_the_auth_layer_failed_the_request_blocks_on_its_line() {
        let met = [
            Symptom::KeyAccepted {
                role: crate::catalogue::KeyRole::Valid,
                via: "Authorization: Bearer".into(),
                spelling: None,
            },
            Symptom::AuthNeedsRedis,
        ];
        let body = blocked_in_front(
            BodyEnd::Returned(Err(failed())),
            &met,
            Some(Line::KeyFormats),
        );
        let v = compose(body, vec![], &Cleanup::default(), false);
        assert!(matches!(v.outcome, Outcome::Blocked { ref step } if step.contains("auth layer")));
        assert_eq!(v.line, Some(Line::RedisDownFallback));
        assert_eq!(
            v.expected.as_deref(),
            Some("version 2"),
            "the check's own expectation stays"
        );

        // A block on no named line takes the auth layer's; one on a named line keeps it.
        let plain = Failure::failed("a", "b").blocked("a step");
        let body = blocked_in_front(BodyEnd::Returned(Err(plain)), &met, None);
        let v = compose(body, vec![], &Cleanup::default(), false);
        assert_eq!(v.line, Some(Line::RedisDownFallback));
        let named =
            Failure::failed("a", "b").blocked_on("the workflow", Line::RegistrationWorkflow);
        let body = blocked_in_front(BodyEnd::Returned(Err(named)), &met, None);
        let v = compose(body, vec![], &Cleanup::default(), false);
        assert_eq!(v.line, Some(Line::RegistrationWorkflow));
    }

    #[test]
    fn the_auth_layers_own_line_fails_and_nothing_else_is_touched() {
        let met = [Symptom::AuthNeedsRedis];
        // The check of that line: its failure is its own.
        let own = Failure::failed("the key accepted with Redis down", "500");
        let body = blocked_in_front(
            BodyEnd::Returned(Err(own)),
            &met,
            Some(Line::RedisDownFallback),
        );
        assert_eq!(
            compose(body, vec![], &Cleanup::default(), false).outcome,
            Outcome::Failed
        );
        // A pass stays a pass, an error an error; without the symptom nothing changes.
        let body = blocked_in_front(BodyEnd::Returned(Ok(())), &met, None);
        assert_eq!(
            compose(body, vec![], &Cleanup::default(), false).outcome,
            Outcome::Passed
        );
        let err = Failure::Error {
            class: "redis".into(),
            message: "down".into(),
        };
        let body = blocked_in_front(BodyEnd::Returned(Err(err)), &met, None);
        assert!(matches!(
            compose(body, vec![], &Cleanup::default(), false).outcome,
            Outcome::Error { .. }
        ));
        let body = blocked_in_front(
            BodyEnd::Returned(Err(failed())),
            &[Symptom::RepeatedQueryCollapsed],
            None,
        );
        assert_eq!(
            compose(body, vec![], &Cleanup::default(), false).outcome,
            Outcome::Failed
        );
    }

    #[test]
    fn a_plain_block_keeps_the_declared_line() {
        let f = Failure::error("redis", "refused").blocked("reading the cache");
        let v = compose(
            BodyEnd::Returned(Err(f)),
            vec![],
            &Cleanup::default(),
            false,
        );
        assert!(matches!(v.outcome, Outcome::Blocked { .. }));
        assert_eq!(v.line, None);
        assert_eq!(
            v.message.as_deref(),
            Some("blocked at reading the cache: refused")
        );
    }

    #[test]
    fn the_budget_blocks_and_says_so() {
        let v = compose(
            BodyEnd::OutOfTime { budget_s: 60 },
            vec![],
            &Cleanup::default(),
            false,
        );
        assert_eq!(
            v.outcome,
            Outcome::Blocked {
                step: "the run budget".into()
            }
        );
        assert_eq!(v.symptoms, vec![Symptom::OutOfTime { budget_s: 60 }]);
    }

    #[test]
    fn a_panic_is_an_error_of_class_panic() {
        let v = compose(
            BodyEnd::Panicked("boom".into()),
            vec![],
            &Cleanup::default(),
            false,
        );
        assert_eq!(
            v.outcome,
            Outcome::Error {
                class: "panic".into()
            }
        );
        assert_eq!(v.message.as_deref(), Some("the check panicked: boom"));
    }

    #[test]
    fn strict_mode_fails_skips_but_not_not_applicable() {
        let skip = || BodyEnd::Returned(Err(Failure::skipped("set HOKUSAI_REDIS_URL")));
        let na = || BodyEnd::Returned(Err(Failure::not_applicable("stand-in only")));
        let c = Cleanup::default();
        assert!(matches!(
            compose(skip(), vec![], &c, false).outcome,
            Outcome::Skipped { .. }
        ));
        assert_eq!(compose(skip(), vec![], &c, true).outcome, Outcome::Failed);
        for strict in [false, true] {
            assert!(matches!(
                compose(na(), vec![], &c, strict).outcome,
                Outcome::NotApplicable { .. }
            ));
        }
    }

    #[test]
    fn what_the_check_saw_is_kept_beside_its_failure() {
        let v = compose(
            BodyEnd::Returned(Err(failed())),
            vec![Symptom::CacheEntryPresent],
            &Cleanup::default(),
            false,
        );
        assert_eq!(
            v.symptoms,
            vec![Symptom::CacheEntryPresent, Symptom::RepeatedQueryCollapsed]
        );
    }
}
