//! `report.json`: the [`Report`](super::Report) model itself, schema in `docs/report-schema.md`.

use super::Report;

pub fn render(r: &Report) -> String {
    serde_json::to_string_pretty(r).expect("the report serialises")
}
