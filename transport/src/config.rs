//! Loading the daemons' TOML configuration: read the file, apply environment overrides,
//! deserialise into the daemon's raw configuration type. Each daemon then validates its own.
//!
//! `PREFIX` + a key path with `__` between levels sets that key: with prefix `PALISADE_AGENT_`,
//! `PALISADE_AGENT_TPM__TCTI=x` sets `tpm.tcti`. Values are read as TOML literals when they parse
//! as one (`14`, `true`, `["a"]`), else as strings.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The TOML (after overrides) does not match the schema.
    #[error("invalid configuration: {0}")]
    Parse(String),
    /// A value is out of range or inconsistent.
    #[error("invalid configuration: {field}: {reason}")]
    Invalid {
        /// The offending key.
        field: &'static str,
        /// Why.
        reason: String,
    },
}

impl ConfigError {
    /// An out-of-range value.
    pub fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field,
            reason: reason.into(),
        }
    }
}

/// Reads `path` (none: an empty document), applies the overrides in `env` named with `prefix`,
/// and deserialises the result.
pub fn load<T: DeserializeOwned>(
    path: Option<&Path>,
    prefix: &str,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<T, ConfigError> {
    let text = match path {
        Some(p) => std::fs::read_to_string(p).map_err(|source| ConfigError::Read {
            path: p.to_path_buf(),
            source,
        })?,
        None => String::new(),
    };
    parse(&text, prefix, env)
}

/// Like [`load`], from TOML text.
pub fn parse<T: DeserializeOwned>(
    text: &str,
    prefix: &str,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<T, ConfigError> {
    let mut doc: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| ConfigError::Parse(e.to_string()))?;
    apply_env_overrides(&mut doc, prefix, env).map_err(ConfigError::Parse)?;
    toml::Value::Table(doc)
        .try_into()
        .map_err(|e: toml::de::Error| ConfigError::Parse(e.to_string()))
}

/// Applies every `(name, value)` whose name starts with `prefix` to `doc`.
pub fn apply_env_overrides(
    doc: &mut toml::Table,
    prefix: &str,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<(), String> {
    for (name, value) in env {
        let Some(path) = name.strip_prefix(prefix) else {
            continue;
        };
        let keys: Vec<String> = path.split("__").map(str::to_ascii_lowercase).collect();
        let Some((last, parents)) = keys.split_last() else {
            continue;
        };
        let mut table = &mut *doc;
        for key in parents {
            let entry = table
                .entry(key.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            table = entry
                .as_table_mut()
                .ok_or_else(|| format!("{name}: {key} is not a table"))?;
        }
        table.insert(last.clone(), parse_literal(&value));
    }
    Ok(())
}

fn parse_literal(value: &str) -> toml::Value {
    format!("v = {value}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(value.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_keys_literals_and_strings() {
        let mut doc: toml::Table = "[tpm]\ntcti = \"a\"".parse().unwrap();
        let env = [
            ("P_TPM__TCTI", "b:c"),
            ("P_PCR", "14"),
            ("P_LIST", "[\"x\"]"),
            ("OTHER", "1"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()));
        apply_env_overrides(&mut doc, "P_", env).unwrap();
        assert_eq!(doc["tpm"]["tcti"].as_str(), Some("b:c"));
        assert_eq!(doc["pcr"].as_integer(), Some(14));
        assert_eq!(doc["list"].as_array().map(Vec::len), Some(1));
        assert!(!doc.contains_key("other"));
    }

    #[test]
    fn overriding_through_a_scalar_is_an_error() {
        let mut doc: toml::Table = "pcr = 15".parse().unwrap();
        let env = [("P_PCR__X".to_owned(), "1".to_owned())];
        assert!(apply_env_overrides(&mut doc, "P_", env).is_err());
    }
}
