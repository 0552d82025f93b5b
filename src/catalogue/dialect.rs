//! How the stand-in words what the contract leaves open.

use std::str::FromStr;

super::vocabulary! {
    /// How the stand-in words what the contract leaves to the platform: every message, every
    /// `detail` text the contract gives only as an example, every JSON field the contract does
    /// not fix. `reworded` keeps the statuses, shapes and fields the contract fixes and changes
    /// everything else, so that the suite is tested against wording it did not write
    /// (`HOKUSAI_STANDIN_DIALECT=reworded`).
    #[derive(Default)]
    #[serde(rename_all = "kebab-case")]
    pub enum Dialect {
        /// The contract's examples, word for word.
        #[default]
        Contract,
        /// Other words, other optional fields.
        Reworded,
    }
}

impl FromStr for Dialect {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "contract" => Ok(Dialect::Contract),
            "reworded" => Ok(Dialect::Reworded),
            other => Err(format!(
                "{} is not `contract` or `reworded`",
                crate::secret::shown(other)
            )),
        }
    }
}
