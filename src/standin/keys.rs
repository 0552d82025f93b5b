//! The stand-in's test keys: fresh random keys per instance (so every run uses new secrets
//! and any leak test has a real canary), each with a documented role.

use crate::secret::ApiKey;

/// What the auth service knows about a key.
#[derive(Debug, Clone)]
pub struct KeyRecord {
    pub key: ApiKey,
    /// The role's name (`valid`, `revoked`, ...), safe to print.
    pub role: &'static str,
    pub key_id: String,
    pub user_id: String,
    pub scopes: Vec<String>,
    pub rate_limit_per_hour: u64,
    pub state: KeyState,
    /// Services this key is valid for.
    pub services: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    Active,
    Revoked,
    Expired,
}

/// The keys a stand-in instance issues.
#[derive(Debug, Clone)]
pub struct TestKeys {
    /// Read and write scopes, normal limit: the key the suite runs with.
    pub valid: KeyRecord,
    /// Another valid key (for "other keys are unaffected").
    pub second: KeyRecord,
    /// Read scope only.
    pub read_only: KeyRecord,
    /// Revoked at the auth service.
    pub revoked: KeyRecord,
    /// Expired.
    pub expired: KeyRecord,
    /// A limit of [`LOW_RATE_LIMIT`] requests per hour.
    pub low_limit: KeyRecord,
}

/// The low-limit key's hourly limit.
pub const LOW_RATE_LIMIT: u64 = 5;
/// The normal keys' hourly limit.
pub const NORMAL_RATE_LIMIT: u64 = 100_000;

/// Keys the caller chooses for some roles (the rest are generated): how
/// `hokusai-verify standin` takes the same `HOKUSAI_*_API_KEY` variables a live run uses,
/// so no key is ever printed or written.
#[derive(Debug, Clone, Default)]
pub struct ChosenKeys {
    pub valid: Option<ApiKey>,
    pub second: Option<ApiKey>,
    pub read_only: Option<ApiKey>,
    pub revoked: Option<ApiKey>,
    pub expired: Option<ApiKey>,
    pub low_limit: Option<ApiKey>,
}

impl TestKeys {
    /// Fresh random keys for every role, with the chosen ones where given.
    pub fn with_chosen(service_id: &str, chosen: &ChosenKeys) -> Self {
        let mut k = Self::generate(service_id);
        let pairs: [(&mut KeyRecord, &Option<ApiKey>); 6] = [
            (&mut k.valid, &chosen.valid),
            (&mut k.second, &chosen.second),
            (&mut k.read_only, &chosen.read_only),
            (&mut k.revoked, &chosen.revoked),
            (&mut k.expired, &chosen.expired),
            (&mut k.low_limit, &chosen.low_limit),
        ];
        for (record, key) in pairs {
            if let Some(key) = key {
                record.key = key.clone();
            }
        }
        k
    }

    pub fn generate(service_id: &str) -> Self {
        let rw = vec![
            "model:read".to_owned(),
            "model:write".to_owned(),
            "mlflow:access".to_owned(),
        ];
        let make =
            |role: &'static str, scopes: Vec<String>, limit: u64, state: KeyState| KeyRecord {
                key: ApiKey::random(),
                role,
                key_id: format!("key-{role}-{}", fastrand::u32(..)),
                user_id: format!("user-{role}"),
                scopes,
                rate_limit_per_hour: limit,
                state,
                services: vec![service_id.to_owned()],
            };
        Self {
            valid: make("valid", rw.clone(), NORMAL_RATE_LIMIT, KeyState::Active),
            second: make("second", rw.clone(), NORMAL_RATE_LIMIT, KeyState::Active),
            read_only: make(
                "read-only",
                vec!["model:read".into()],
                NORMAL_RATE_LIMIT,
                KeyState::Active,
            ),
            revoked: make("revoked", rw.clone(), NORMAL_RATE_LIMIT, KeyState::Revoked),
            expired: make("expired", rw.clone(), NORMAL_RATE_LIMIT, KeyState::Expired),
            low_limit: make("low-limit", rw, LOW_RATE_LIMIT, KeyState::Active),
        }
    }

    pub fn all(&self) -> [&KeyRecord; 6] {
        [
            &self.valid,
            &self.second,
            &self.read_only,
            &self.revoked,
            &self.expired,
            &self.low_limit,
        ]
    }

    pub fn find(&self, raw: &str) -> Option<&KeyRecord> {
        self.all().into_iter().find(|r| r.key.expose() == raw)
    }
}
