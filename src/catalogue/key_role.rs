//! The roles of the API keys a run holds, each with the variable a live run (and the
//! `standin` command) takes it from.

use crate::secret::ApiKey;
use std::collections::BTreeMap;

super::vocabulary! {
    /// What a key is for. The platform must accept `valid`, `second`, `low-limit` and
    /// `read-only` keys and refuse `revoked` and `expired` ones.
    #[derive(strum::EnumString, strum::Display)]
    #[serde(rename_all = "kebab-case")]
    #[strum(serialize_all = "kebab-case")]
    pub enum KeyRole {
        /// Read and write scopes, normal limit: the key the suite runs with (always present).
        Valid,
        /// Another valid key ("other keys are unaffected").
        Second,
        /// A small hourly limit (rate-limit checks).
        LowLimit,
        /// Read scope only (scope checks).
        ReadOnly,
        /// Revoked at the auth service.
        Revoked,
        /// Past its expiry.
        Expired,
    }
}

impl KeyRole {
    /// Every role, `valid` first.
    pub fn all() -> impl Iterator<Item = KeyRole> {
        <KeyRole as strum::IntoEnumIterator>::iter()
    }

    /// `valid`, `low-limit`, ...: safe to print.
    pub fn id(self) -> &'static str {
        self.into()
    }

    /// The variable that holds this role's key.
    pub fn var(self) -> &'static str {
        match self {
            KeyRole::Valid => "HOKUSAI_API_KEY",
            KeyRole::Second => "HOKUSAI_SECOND_API_KEY",
            KeyRole::LowLimit => "HOKUSAI_LOW_LIMIT_API_KEY",
            KeyRole::ReadOnly => "HOKUSAI_READ_ONLY_API_KEY",
            KeyRole::Revoked => "HOKUSAI_REVOKED_API_KEY",
            KeyRole::Expired => "HOKUSAI_EXPIRED_API_KEY",
        }
    }

    /// The platform must accept a key of this role.
    pub fn must_be_accepted(self) -> bool {
        !matches!(self, KeyRole::Revoked | KeyRole::Expired)
    }

    /// Why a check skips when no key of this role is configured: names the variable.
    pub fn missing(self) -> String {
        format!("no {} key configured ({})", self.id(), self.var())
    }
}

/// The keys of a run, by role. The `valid` key is always there; checks that need another
/// role get a skip naming its variable when it is absent ([`KeyRole::missing`]).
#[derive(Debug, Clone)]
pub struct Keys {
    /// The `valid` key: the one the suite runs with.
    pub primary: ApiKey,
    others: BTreeMap<KeyRole, ApiKey>,
}

impl Keys {
    /// Only the `valid` key.
    pub fn new(primary: ApiKey) -> Self {
        Self {
            primary,
            others: BTreeMap::new(),
        }
    }

    /// Adds (or replaces) the key of `role`.
    pub fn with(mut self, role: KeyRole, key: ApiKey) -> Self {
        if role == KeyRole::Valid {
            self.primary = key;
        } else {
            self.others.insert(role, key);
        }
        self
    }

    /// The key of `role`, when the run has one.
    pub fn get(&self, role: KeyRole) -> Option<&ApiKey> {
        match role {
            KeyRole::Valid => Some(&self.primary),
            other => self.others.get(&other),
        }
    }

    /// Every key the run holds, with its role (`valid` first): for leak scans and the
    /// classification of answers.
    pub fn all(&self) -> impl Iterator<Item = (KeyRole, &ApiKey)> {
        std::iter::once((KeyRole::Valid, &self.primary))
            .chain(self.others.iter().map(|(r, k)| (*r, k)))
    }
}

/// The keys the variables of [`KeyRole::var`] hold, read through `get` (a variable lookup):
/// the roles whose variable is set, or for each variable set to something that is not a
/// key, the variable and why (never the value).
pub fn keys_from_vars(
    get: impl Fn(&'static str) -> Option<String>,
) -> (BTreeMap<KeyRole, ApiKey>, Vec<(&'static str, String)>) {
    let mut keys = BTreeMap::new();
    let mut problems = Vec::new();
    for role in KeyRole::all() {
        let Some(raw) = get(role.var()) else { continue };
        match ApiKey::parse(&raw) {
            Ok(k) => {
                keys.insert(role, k);
            }
            Err(e) => problems.push((role.var(), e.to_string())),
        }
    }
    (keys, problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_role_has_its_own_variable_and_id() {
        let vars: std::collections::BTreeSet<_> = KeyRole::all().map(KeyRole::var).collect();
        assert_eq!(vars.len(), KeyRole::all().count());
        for r in KeyRole::all() {
            assert_eq!(r.id().parse::<KeyRole>().ok(), Some(r));
            assert!(r.missing().contains(r.var()));
        }
    }

    #[test]
    fn keys_by_role() {
        let primary = ApiKey::random();
        let low = ApiKey::random();
        let keys = Keys::new(primary.clone()).with(KeyRole::LowLimit, low.clone());
        assert_eq!(
            keys.get(KeyRole::Valid).map(ApiKey::expose),
            Some(primary.expose())
        );
        assert_eq!(
            keys.get(KeyRole::LowLimit).map(ApiKey::expose),
            Some(low.expose())
        );
        assert!(keys.get(KeyRole::Revoked).is_none());
        assert_eq!(
            keys.all().map(|(r, _)| r).collect::<Vec<_>>(),
            vec![KeyRole::Valid, KeyRole::LowLimit]
        );
    }

    #[test]
    fn keys_from_vars_reads_each_role_and_never_echoes_a_bad_value() {
        let good = ApiKey::random();
        let raw = good.expose().to_owned();
        let (keys, problems) = keys_from_vars(|v| match v {
            "HOKUSAI_REVOKED_API_KEY" => Some(raw.clone()),
            "HOKUSAI_EXPIRED_API_KEY" => Some("not-a-key-canary".into()),
            _ => None,
        });
        assert_eq!(
            keys.keys().copied().collect::<Vec<_>>(),
            vec![KeyRole::Revoked]
        );
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].0, "HOKUSAI_EXPIRED_API_KEY");
        assert!(!problems[0].1.contains("canary"), "{}", problems[0].1);
    }
}
