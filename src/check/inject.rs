//! A check that switches something on in the stand-in to watch the platform's reaction (an
//! auth service that times out, a slow MLflow) does it through an [`Injection`] guard:
//! what the check records while the guard lives is marked injected (so it names no root
//! cause and stays out of the latency figures), and dropping the guard restores what was
//! there before, on every path out of the check, `?` and panics included.

use super::{Check, Failure};
use crate::catalogue::{Fault, KeyRole};
use crate::fixtures::Env;
use crate::standin::AuthOverride;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// What a check can switch on for itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Injected {
    /// A catalogue fault.
    Fault(Fault),
    /// How the auth service answers validate calls (5xx, 429, unreachable).
    Auth(AuthOverride),
    /// A key revoked at the auth service.
    Revoked(KeyRole),
}

impl From<Fault> for Injected {
    fn from(f: Fault) -> Self {
        Injected::Fault(f)
    }
}

impl From<AuthOverride> for Injected {
    fn from(o: AuthOverride) -> Self {
        Injected::Auth(o)
    }
}

/// Switched on while it lives; see the module documentation.
#[must_use = "the injection ends when the guard is dropped"]
pub struct Injection {
    env: Arc<Env>,
    flag: Arc<AtomicBool>,
    /// The flag's value before this guard (guards nest).
    flag_before: bool,
    undo: Undo,
}

enum Undo {
    Fault(Fault, bool),
    Auth(Option<AuthOverride>),
    Revoked(KeyRole, bool),
}

impl Check {
    /// Switches `what` on in the stand-in until the returned guard is dropped. On a live
    /// target the check is not applicable (nothing can be injected there).
    pub fn inject(&self, what: impl Into<Injected>) -> Result<Injection, Failure> {
        let standin = self
            .env
            .require_standin("the check injects a failure into the platform")?;
        let undo = match what.into() {
            Injected::Fault(f) => {
                let before = standin.faults().contains(&f);
                standin.set_fault(f, true);
                Undo::Fault(f, before)
            }
            Injected::Auth(o) => {
                let before = standin.auth_override();
                standin.set_auth_override(Some(o));
                Undo::Auth(before)
            }
            Injected::Revoked(role) => {
                let before = standin.is_revoked(role);
                standin.revoke(role);
                Undo::Revoked(role, before)
            }
        };
        let flag = self.evidence.injected_flag();
        let flag_before = flag.swap(true, Ordering::SeqCst);
        Ok(Injection {
            env: self.env.clone(),
            flag,
            flag_before,
            undo,
        })
    }
}

impl Drop for Injection {
    fn drop(&mut self) {
        if let Some(standin) = self.env.standin() {
            match self.undo {
                Undo::Fault(f, before) => standin.set_fault(f, before),
                Undo::Auth(before) => standin.set_auth_override(before),
                Undo::Revoked(role, before) => {
                    if !before {
                        standin.unrevoke(role);
                    }
                }
            }
        }
        self.flag.store(self.flag_before, Ordering::SeqCst);
    }
}
