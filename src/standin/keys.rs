//! The stand-in's test keys: fresh random keys per instance (so every run uses new secrets
//! and any leak test has a real canary), each with a documented role.

use crate::catalogue::KeyRole;
use crate::secret::ApiKey;
use std::collections::BTreeMap;

/// What the auth service knows about a key.
#[derive(Debug, Clone)]
pub struct KeyRecord {
    pub key: ApiKey,
    /// What the key is for (safe to print).
    pub role: KeyRole,
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

/// The keys a stand-in instance issues: one per [`KeyRole`].
#[derive(Debug, Clone)]
pub struct TestKeys {
    records: Vec<KeyRecord>,
}

/// The low-limit key's hourly limit.
pub const LOW_RATE_LIMIT: u64 = 5;
/// The normal keys' hourly limit.
pub const NORMAL_RATE_LIMIT: u64 = 100_000;

impl TestKeys {
    /// Fresh random keys for every role, with the `chosen` ones where given (how
    /// `hokusai-verify standin` takes the same `HOKUSAI_*_API_KEY` variables a live run
    /// uses, so no key is ever printed or written).
    pub fn with_chosen(service_id: &str, chosen: &BTreeMap<KeyRole, ApiKey>) -> Self {
        let mut k = Self::generate(service_id);
        for r in &mut k.records {
            if let Some(key) = chosen.get(&r.role) {
                r.key = key.clone();
            }
        }
        k
    }

    pub fn generate(service_id: &str) -> Self {
        let records = KeyRole::all()
            .map(|role| {
                let scopes: &[&str] = match role {
                    KeyRole::ReadOnly => &["model:read"],
                    _ => &["model:read", "model:write", "mlflow:access"],
                };
                KeyRecord {
                    key: ApiKey::random(),
                    role,
                    key_id: format!("key-{role}-{}", fastrand::u32(..)),
                    user_id: format!("user-{role}"),
                    scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
                    rate_limit_per_hour: match role {
                        KeyRole::LowLimit => LOW_RATE_LIMIT,
                        _ => NORMAL_RATE_LIMIT,
                    },
                    state: match role {
                        KeyRole::Revoked => KeyState::Revoked,
                        KeyRole::Expired => KeyState::Expired,
                        _ => KeyState::Active,
                    },
                    services: vec![service_id.to_owned()],
                }
            })
            .collect();
        Self { records }
    }

    /// The record of `role` (every role has one).
    pub fn get(&self, role: KeyRole) -> &KeyRecord {
        self.records
            .iter()
            .find(|r| r.role == role)
            .expect("generate makes a record for every role")
    }

    pub fn all(&self) -> impl Iterator<Item = &KeyRecord> {
        self.records.iter()
    }

    pub fn find(&self, raw: &str) -> Option<&KeyRecord> {
        self.all().find(|r| r.key.expose() == raw)
    }

    /// Every key by role, as a run holds them.
    pub fn as_keys(&self) -> crate::catalogue::Keys {
        self.all().fold(
            crate::catalogue::Keys::new(self.get(KeyRole::Valid).key.clone()),
            |k, r| k.with(r.role, r.key.clone()),
        )
    }
}
