//! The canonical document (format [`FORMAT`]): RFC 8785 JSON of the normalised model, its
//! SHA-256, per-table digests, and the verifier's way back from a document to the model.
//!
//! ```json
//! {"flags": [...], "format": "palisade.nftables/1",
//!  "tables": {"inet filter": {"chains": {"input": {"hook": "input", "policy": "drop", "prio": 0,
//!             "rules": [{"expr": [{"match": {...}}, {"accept": null}]}], "type": "filter"}},
//!             "family": "inet", "flowtables": {}, "name": "filter", "objects": {}, "sets": {}}}}
//! ```
//!
//! The model serialises straight into canonical bytes through a checking JCS writer ([`jcs`]);
//! tests compare those bytes with `palisade_evidence::Canonical::from_value` over the corpus and
//! random rulesets. The rules are in `docs/canonical-nftables.md`.

pub(crate) mod jcs;
mod ser;

use std::collections::BTreeMap;

use palisade_evidence::{Canonical, Sha256Digest};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;

pub(crate) use jcs::{compare_keys, JcsValue as JcsValueRef};

use crate::flags::Flag;
use crate::model::{Ruleset, Table};

/// Identifies this canonical form in the document.
pub const FORMAT: &str = "palisade.nftables/1";

/// The model could not be written in canonical form.
#[derive(Debug, thiserror::Error)]
pub enum CanonicalizeError {
    /// A number has no exact RFC 8785 form (an integer above 2^53 that a double cannot hold), or
    /// the writer found members out of order (a bug).
    #[error("cannot write the canonical ruleset: {source}")]
    Write {
        /// The writer's report.
        #[source]
        source: serde_json::Error,
    },
}

/// A document that is not a canonical ruleset document.
#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    /// Not JSON, or not the document's shape.
    #[error("not a canonical ruleset document: {source}")]
    Shape {
        /// What the JSON reader reported.
        #[source]
        source: serde_json::Error,
    },
    /// Another format (or version) of the document.
    #[error("document format {found:?}, expected {FORMAT:?}")]
    Format {
        /// The format the document claims.
        found: String,
    },
    /// A table is keyed by something else than `"<family> <name>"`.
    #[error("table {key:?} is keyed wrongly")]
    TableKey {
        /// The key.
        key: String,
    },
    /// The document parses but is not the canonical form of what it describes (not normalised,
    /// flags that do not match, not RFC 8785 bytes).
    #[error("document is not in canonical form")]
    NotCanonical,
    /// Re-canonicalising the parsed model failed.
    #[error(transparent)]
    Canonicalize(#[from] CanonicalizeError),
}

/// The document as written.
#[derive(Serialize)]
struct DocOut<'a> {
    flags: &'a [Flag],
    format: &'static str,
    #[serde(serialize_with = "jcs_map")]
    tables: &'a BTreeMap<String, Table>,
    #[serde(
        skip_serializing_if = "<[Value]>::is_empty",
        serialize_with = "jcs_list"
    )]
    unknown_items: &'a [Value],
}

/// The document as read back.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DocIn {
    #[serde(rename = "flags")]
    _flags: Vec<Flag>,
    format: String,
    tables: BTreeMap<String, Table>,
    #[serde(default)]
    unknown_items: Vec<Value>,
}

impl Ruleset {
    /// The canonical document and its SHA-256.
    pub fn canonical(&self) -> Result<Canonical, CanonicalizeError> {
        let flags = self.flags();
        let doc = DocOut {
            flags: &flags,
            format: FORMAT,
            tables: &self.tables,
            unknown_items: &self.unknown_items,
        };
        let bytes = jcs::to_vec(&doc).map_err(|source| CanonicalizeError::Write { source })?;
        Ok(Canonical::from_jcs_bytes(bytes))
    }

    /// SHA-256 of each table object's canonical bytes, by `"<family> <name>"`: policies can
    /// scope tables that orchestrators own while the whole-document digest covers everything.
    pub fn table_digests(&self) -> Result<BTreeMap<String, Sha256Digest>, CanonicalizeError> {
        let mut buf = Vec::with_capacity(4096);
        self.tables
            .iter()
            .map(|(key, table)| {
                buf.clear();
                jcs::write(&mut buf, table)
                    .map_err(|source| CanonicalizeError::Write { source })?;
                Ok((key.clone(), Sha256Digest::of(&buf)))
            })
            .collect()
    }

    /// Reads a canonical document back into the model (the verifier's direction). Only a
    /// document that is exactly the canonical form of what it describes is accepted, so
    /// `Ruleset::from_canonical(c)?.canonical()? == c` always holds.
    pub fn from_canonical(bytes: &[u8]) -> Result<Ruleset, DocumentError> {
        let doc: DocIn =
            serde_json::from_slice(bytes).map_err(|source| DocumentError::Shape { source })?;
        if doc.format != FORMAT {
            return Err(DocumentError::Format { found: doc.format });
        }
        for (key, table) in &doc.tables {
            if *key != table.key() {
                return Err(DocumentError::TableKey { key: key.clone() });
            }
        }
        let mut ruleset = Ruleset {
            tables: doc.tables,
            unknown_items: doc.unknown_items,
        };
        crate::normalize::ruleset(&mut ruleset);
        if ruleset.canonical()?.as_bytes() != bytes {
            return Err(DocumentError::NotCanonical);
        }
        Ok(ruleset)
    }
}

/// `serialize_with` for string-keyed maps: members in RFC 8785 order.
pub(crate) fn jcs_map<S, V>(map: &BTreeMap<String, V>, s: S) -> Result<S::Ok, S::Error>
where
    S: Serializer,
    V: Serialize,
{
    jcs::serialize_map_sorted(map, s)
}

/// `serialize_with` for verbatim attribute maps.
pub(crate) fn jcs_values<S: Serializer>(
    map: &BTreeMap<String, Value>,
    s: S,
) -> Result<S::Ok, S::Error> {
    let wrapped: BTreeMap<String, JcsValueRef<'_>> = map
        .iter()
        .map(|(k, v)| (k.clone(), JcsValueRef(v)))
        .collect();
    jcs::serialize_map_sorted(&wrapped, s)
}

fn jcs_list<S: Serializer>(items: &[Value], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(items.iter().map(JcsValueRef))
}

#[cfg(test)]
mod tests;
