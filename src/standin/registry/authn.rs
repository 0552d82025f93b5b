//! The API-key middleware: the key a request carries (either header form), the Redis auth
//! cache in front of the auth service, and the API's rejections.

use super::super::auth::{ApiAuth, AuthFailure, api_validate};
use super::super::keys::KeyRecord;
use super::super::state::{State, lock};
use super::{RegistryResponder, delayed, detail, said, wrong_ttl};
use crate::catalogue::{Breakage, Fault};
use serde_json::{Value, json};
use wiremock::{Request, ResponseTemplate};

/// What the auth middleware decided.
pub(super) enum Authn {
    Ok(KeyRecord),
    Reject(ResponseTemplate),
}

/// The key a request carries: `Authorization: <bearer in any case> <key>` or `X-API-Key`
/// (not under `x-api-key-ignored`).
fn presented_key_of(state: &State, req: &Request) -> Option<String> {
    if state.broken(Breakage::XApiKeyIgnored) && req.headers.get("authorization").is_none() {
        return None;
    }
    presented_key(req)
}

/// The key a request carries: `Authorization: <bearer in any case> <key>` or `X-API-Key`.
pub(super) fn presented_key(req: &Request) -> Option<String> {
    let header = |n: &str| req.headers.get(n).and_then(|v| v.to_str().ok());
    if let Some(v) = header("authorization") {
        if let Some((scheme, key)) = v.trim().split_once(char::is_whitespace)
            && scheme.eq_ignore_ascii_case("bearer")
        {
            return Some(key.trim().to_owned());
        }
        // Any other scheme is "a key in the wrong form": presented but invalid.
        return Some(String::new());
    }
    header("x-api-key").map(|v| v.trim().to_owned())
}

fn well_formed(key: &str) -> bool {
    crate::secret::ApiKey::parse(key).is_ok() && key.len() == key.trim().len()
}

impl RegistryResponder {
    pub(super) fn authenticate(&self, req: &Request) -> Authn {
        let state = &self.0;
        let Some(key) = presented_key_of(state, req) else {
            return Authn::Reject(self.rejection(401, "API key required"));
        };
        if state.broken(Breakage::BearerRejected) && req.headers.get("authorization").is_some() {
            return Authn::Reject(self.rejection(401, "Invalid or expired API key"));
        }
        if !well_formed(&key) {
            return Authn::Reject(self.rejection(401, "Invalid or expired API key"));
        }
        let cache_key = if state.broken(Breakage::CacheKeyRenamed) {
            state.redis_key(&format!("auth_cache:{key}"))
        } else {
            state.redis_key(&state.profile.cache_key(&key))
        };
        let cache_on = !state.has(Fault::CacheOff);
        if !cache_on && state.broken(Breakage::AuthNeedsRedis) {
            // The middleware's own error (what its log would say: Redis unavailable).
            state
                .timeouts
                .auth_redis_errors
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            return Authn::Reject(said(
                state,
                500,
                "Internal Server Error",
                "unexpected failure",
            ));
        }
        if cache_on && !state.broken(Breakage::CacheNotRead) {
            let cached: Option<String> = lock(&state.redis)
                .with(|c| redis::cmd("GET").arg(&cache_key).query(c))
                .ok()
                .flatten();
            // A cached failure (`cache-failed-validations`) is answered from the cache, in
            // the API's own words, without asking the auth service.
            if cached
                .as_deref()
                .is_some_and(|json| json.contains("\"is_valid\": false"))
            {
                return Authn::Reject(said(
                    state,
                    401,
                    "API key is invalid",
                    "Credentials rejected (cached)",
                ));
            }
            if let Some(record) = cached.and_then(|json| self.record_from_cache(&json, &key)) {
                if state.broken(Breakage::CacheRenewedOnUse) {
                    let ttl = state.profile.cache.ttl_secs;
                    let _ = lock(&state.redis)
                        .with(|c| redis::cmd("EXPIRE").arg(&cache_key).arg(ttl).query::<()>(c));
                }
                return Authn::Ok(record);
            }
        }
        match api_validate(state, &key) {
            ApiAuth::Valid(record) => {
                let refresh_broken = state.broken(Breakage::CacheNotRefreshed)
                    && !lock(&state.cached_once).insert(cache_key.clone());
                if cache_on && !refresh_broken {
                    let ttl = if state.has(Fault::CacheTtlWrong) {
                        wrong_ttl(state.profile.cache.ttl_secs)
                    } else if state.broken(Breakage::CacheTtlShort) {
                        (state.profile.cache.ttl_secs / 5).max(1)
                    } else {
                        state.profile.cache.ttl_secs
                    };
                    let value = json!({"key_id": record.key_id, "user_id": record.user_id, "scopes": record.scopes,
                        "rate_limit_per_hour": record.rate_limit_per_hour}).to_string();
                    // A Redis error only means no caching (fail open).
                    let _ = lock(&state.redis).with(|c| {
                        redis::cmd("SET")
                            .arg(&cache_key)
                            .arg(&value)
                            .arg("EX")
                            .arg(ttl)
                            .query::<()>(c)
                    });
                }
                Authn::Ok(record)
            }
            ApiAuth::Invalid => {
                if cache_on && state.broken(Breakage::CacheFailedValidations) {
                    let _ = lock(&state.redis).with(|c| {
                        redis::cmd("SET")
                            .arg(&cache_key)
                            .arg("{\"is_valid\": false}")
                            .arg("EX")
                            .arg(60)
                            .query::<()>(c)
                    });
                }
                Authn::Reject(self.rejection(401, "Invalid or expired API key"))
            }
            failed if state.broken(Breakage::AuthErrorsAsBadKey) => {
                let t = self.rejection(401, "Invalid or expired API key");
                // Told only once the API gave up waiting for the auth service.
                Authn::Reject(if matches!(failed, ApiAuth::Failed(AuthFailure::Timeout)) {
                    delayed(t, state.timing.auth_timeout)
                } else {
                    t
                })
            }
            ApiAuth::RateLimited => {
                Authn::Reject(detail(429, "Rate limit exceeded").insert_header("retry-after", "60"))
            }
            ApiAuth::Failed(why) => {
                let message = match why {
                    AuthFailure::Error => state.say(
                        "Authentication service error",
                        "Could not verify credentials: the auth backend failed",
                    ),
                    AuthFailure::Timeout => state.say(
                        "Authentication service timeout",
                        "Could not verify credentials in time (auth backend)",
                    ),
                    AuthFailure::Unavailable => state.say(
                        "Authentication service unavailable",
                        "Could not verify credentials: auth backend offline",
                    ),
                };
                let mut t = detail(state.profile.auth.failure_status, message);
                if state.profile.auth.failure_retry_after {
                    t = t.insert_header("retry-after", "30");
                }
                if why == AuthFailure::Timeout {
                    t = delayed(t, state.timing.auth_timeout);
                }
                Authn::Reject(t)
            }
        }
    }

    /// A rejection of the key: FastAPI's `{"detail": …}` (none under the
    /// `rejection-without-detail` breakage).
    pub(super) fn rejection(&self, status: u16, text: &str) -> ResponseTemplate {
        if self.0.broken(Breakage::RejectionWithoutDetail) {
            return ResponseTemplate::new(status).set_body_json(json!({}));
        }
        detail(status, text)
    }

    /// Rebuilds the key record from a cache entry (the cache stores what validation returned).
    pub(super) fn record_from_cache(&self, json: &str, raw_key: &str) -> Option<KeyRecord> {
        let v: Value = serde_json::from_str(json).ok()?;
        let base = self.0.keys.find(raw_key)?.clone();
        Some(KeyRecord {
            key_id: v.get("key_id")?.as_str()?.to_owned(),
            user_id: v.get("user_id")?.as_str()?.to_owned(),
            scopes: v
                .get("scopes")?
                .as_array()?
                .iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect(),
            rate_limit_per_hour: v.get("rate_limit_per_hour")?.as_u64()?,
            ..base
        })
    }
}
