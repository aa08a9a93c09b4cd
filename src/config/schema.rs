//! The config's JSON Schema, generated from the DTOs (feature `schema`); shipped as
//! `schema/tollgate.schema.json` and checked against this generator by a test.

use super::ConfigDto;

/// The JSON Schema (draft-07, the dialect editors support best) of the filter configuration,
/// pretty-printed with a trailing newline.
pub fn schema_json() -> String {
    let mut schema = schemars::generate::SchemaSettings::draft07().into_generator().into_root_schema_for::<ConfigDto>();
    schema.insert("title".into(), "tollgate filter configuration".into());
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}
