//! The checklist areas: one `src/checks/<area>.rs` and one `tests/<area>.rs` each.

super::vocabulary! {
    /// A checklist area, in checklist order.
    #[derive(strum::EnumString, strum::Display)]
    #[serde(rename_all = "snake_case")]
    #[strum(serialize_all = "snake_case")]
    pub enum Area {
        InfraHealth,
        Authentication,
        RegistrationFlow,
        MlflowProxy,
        ErrorScenarios,
        ScriptParity,
    }
}

impl Area {
    /// Every area, in checklist order.
    pub fn all() -> impl Iterator<Item = Area> {
        <Area as strum::IntoEnumIterator>::iter()
    }

    /// `infra_health`, ...: the folder of its results and the name of its test file.
    pub fn id(self) -> &'static str {
        self.into()
    }

    /// Parses an area id, or says which ones exist.
    pub fn parse(s: &str) -> Result<Area, String> {
        s.trim().parse().map_err(|_| {
            format!(
                "unknown area `{s}` (known: {})",
                Area::all().map(Area::id).collect::<Vec<_>>().join(", ")
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_unknown_names_the_known() {
        for a in Area::all() {
            assert_eq!(Area::parse(a.id()), Ok(a));
        }
        let e = Area::parse("nope").unwrap_err();
        assert!(
            e.contains("infra_health") && e.contains("script_parity"),
            "{e}"
        );
    }
}
