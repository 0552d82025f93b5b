//! The API's rate limiter: a per-key hourly window counted in Redis, its `X-RateLimit-*`
//! headers and the 429 past the limit.

use super::super::keys::KeyRecord;
use super::super::state::lock;
use super::{RegistryResponder, detail};
use crate::catalogue::{Breakage, Fault};
use wiremock::ResponseTemplate;

impl RegistryResponder {
    /// The 429 past the limit, with `Retry-After` (seconds until the window resets).
    pub(super) fn limited(&self, record: &KeyRecord, ttl: i64) -> ResponseTemplate {
        let reset = chrono::Utc::now().timestamp() + ttl;
        let mut t = detail(429, "Rate limit exceeded");
        if !self.0.broken(Breakage::RateLimitWithoutRetryAfter) {
            t = t.insert_header("retry-after", ttl.max(1).to_string());
        }
        t.insert_header("x-ratelimit-limit", record.rate_limit_per_hour.to_string())
            .insert_header("x-ratelimit-remaining", "0")
            .insert_header("x-ratelimit-reset", reset.to_string())
    }

    /// `INCR rate_limit:hourly:<key_id>` (+ `EXPIRE` on the first); None when the limiter is
    /// off or Redis fails (fail open).
    pub(super) fn count(&self, record: &KeyRecord) -> Option<(u64, i64)> {
        let state = &self.0;
        if state.has(Fault::RateLimitOff) || state.has(Fault::CacheOff) {
            return None;
        }
        let key = state.redis_key(&state.profile.rate_limit_key(&record.key_id));
        let window = state.profile.rate_limit.window_secs;
        let mut slot = lock(&state.redis);
        let count: u64 = slot.with(|c| redis::cmd("INCR").arg(&key).query(c)).ok()?;
        if count == 1 {
            let _ = slot.with(|c| redis::cmd("EXPIRE").arg(&key).arg(window).query::<()>(c));
        }
        let ttl: i64 = slot
            .with(|c| redis::cmd("TTL").arg(&key).query(c))
            .unwrap_or(window as i64);
        Some((count, ttl))
    }

    /// Adds `X-RateLimit-*` to an authenticated answer (none when the limiter did not count).
    pub(super) fn rate_headers(
        &self,
        t: ResponseTemplate,
        record: &KeyRecord,
        counted: Option<(u64, i64)>,
    ) -> ResponseTemplate {
        let Some((count, ttl)) = counted else {
            return t;
        };
        if count > record.rate_limit_per_hour
            || (self.0.broken(Breakage::RateLimitShared)
                && self
                    .0
                    .limiter_tripped
                    .load(std::sync::atomic::Ordering::SeqCst))
        {
            return t; // the 429 already carries its headers
        }
        let reset = chrono::Utc::now().timestamp() + ttl.max(0);
        let remaining = if self.0.broken(Breakage::RateLimitRemainingStuck) {
            record.rate_limit_per_hour
        } else {
            record.rate_limit_per_hour - count
        };
        t.insert_header("x-ratelimit-limit", record.rate_limit_per_hour.to_string())
            .insert_header("x-ratelimit-remaining", remaining.to_string())
            .insert_header("x-ratelimit-reset", reset.to_string())
    }
}
