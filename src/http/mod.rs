//! HTTP helpers: one client that times every request, always has a timeout, can
//! authenticate in each of the platform's ways, and keeps what came back as [`Exchange`]
//! evidence (redacted when it is stored).

mod client;
mod exchange;
pub mod tls;

pub use client::{Auth, AuthLog, HttpClient, Req, SLOW_ROUTE_BUDGET};
pub(crate) use client::{apply_auth, join as join_url};
pub use exchange::{AuthCounts, Exchange, HttpError, HttpErrorKind};
