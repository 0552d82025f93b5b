//! The path spellings that reach registry data (contract section 3): every one must demand
//! a key; those the profile routes (section 6 and the profile's row in section 10) must reach
//! MLflow with one.

super::vocabulary! {
    /// A way of spelling an MLflow REST path on the registry host.
    #[derive(strum::EnumString)]
    #[serde(rename_all = "kebab-case")]
    #[strum(serialize_all = "kebab-case")]
    pub enum Spelling {
        /// `/api/mlflow/api/2.0/…`: the contract's primary route (the proxy rewrites it to
        /// `ajax-api`). Preconditions of checks go through it.
        ProxyApi,
        /// `/api/mlflow/ajax-api/2.0/…`.
        ProxyAjax,
        /// `/mlflow/ajax-api/2.0/…`.
        MlflowAjax,
        /// `/api/2.0/mlflow/…`: MLflow's own client with the registry host as tracking URI.
        BareApi,
        /// `/ajax-api/2.0/…`.
        BareAjax,
    }
}

impl Spelling {
    /// The primary route: preconditions use it unless a check's own line is about another
    /// spelling.
    pub const PRIMARY: Spelling = Spelling::ProxyApi;

    /// Every spelling, in the contract's order.
    pub fn all() -> impl Iterator<Item = Spelling> {
        use strum::IntoEnumIterator;
        Spelling::iter()
    }

    pub fn id(self) -> &'static str {
        self.into()
    }

    /// The prefix that comes before `mlflow/…` or `mlflow-artifacts/…`.
    pub fn prefix(self) -> &'static str {
        match self {
            Spelling::ProxyApi => "/api/mlflow/api/2.0/",
            Spelling::ProxyAjax => "/api/mlflow/ajax-api/2.0/",
            Spelling::MlflowAjax => "/mlflow/ajax-api/2.0/",
            Spelling::BareApi => "/api/2.0/",
            Spelling::BareAjax => "/ajax-api/2.0/",
        }
    }

    /// `prefix` + `mlflow/` + `endpoint` (`experiments/search`).
    pub fn path(self, endpoint: &str) -> String {
        format!("{}mlflow/{endpoint}", self.prefix())
    }

    /// The spelling of a request path, if it is one of the five; the longest prefix wins
    /// (`/api/mlflow/api/2.0/` before `/api/2.0/`).
    pub fn of(path: &str) -> Option<Spelling> {
        Spelling::all()
            .filter(|s| path.starts_with(s.prefix()))
            .max_by_key(|s| s.prefix().len())
    }

    /// The spelling's `api/2.0` form is MLflow's REST API (rewritten by the proxy), not the
    /// `ajax-api` one the UI uses.
    pub fn is_api(self) -> bool {
        matches!(self, Spelling::ProxyApi | Spelling::BareApi)
    }
}

impl std::fmt::Display for Spelling {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_has_the_longest_matching_spelling() {
        for s in Spelling::all() {
            assert_eq!(Spelling::of(&s.path("experiments/search")), Some(s));
            assert_eq!(s.id().parse::<Spelling>().ok(), Some(s));
        }
        assert_eq!(Spelling::of("/health"), None);
    }
}
