//! Tables: the unit nft owns things by (and the unit palisade digests separately, so policies can
//! scope tables that orchestrators churn). The struct is the canonical JSON shape of a table.

use std::collections::BTreeMap;

use serde::de::{self, Deserializer};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::chain::Chain;
use super::object::{Flowtable, Object};
use super::set::Set;
use crate::canonical::JcsValueRef;

/// A table and everything in it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Table {
    /// Chains by name.
    #[serde(serialize_with = "crate::canonical::jcs_map")]
    pub chains: BTreeMap<String, Chain>,
    /// Comment (nft ≥ 1.0.7 lists it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Address family: `ip`, `ip6`, `inet`, `arp`, `bridge`, `netdev`.
    pub family: String,
    /// `dormant`, `owner`, `persist` (sorted).
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "crate::parse::string_or_seq"
    )]
    pub flags: Vec<String>,
    /// Flowtables by name.
    #[serde(default, serialize_with = "crate::canonical::jcs_map")]
    pub flowtables: BTreeMap<String, Flowtable>,
    /// Table name.
    pub name: String,
    /// Named objects by `"<kind> <name>"`.
    #[serde(
        serialize_with = "serialize_objects",
        deserialize_with = "deserialize_objects"
    )]
    pub objects: BTreeMap<String, Object>,
    /// Sets and maps by name.
    #[serde(serialize_with = "crate::canonical::jcs_map")]
    pub sets: BTreeMap<String, Set>,
    /// Items were listed for this table but the table itself was not (malformed; flagged).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub undeclared: bool,
    /// Attributes this model does not know, verbatim (flagged).
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        serialize_with = "crate::canonical::jcs_values"
    )]
    pub unknown: BTreeMap<String, Value>,
}

impl Table {
    /// An empty table.
    pub fn new(family: &str, name: &str) -> Self {
        Self {
            family: family.to_owned(),
            name: name.to_owned(),
            ..Self::default()
        }
    }

    /// The key of the table in its ruleset: `"<family> <name>"`.
    pub fn key(&self) -> String {
        table_key(&self.family, &self.name)
    }
}

/// `"<family> <name>"`.
pub fn table_key(family: &str, name: &str) -> String {
    format!("{family} {name}")
}

fn serialize_objects<S: Serializer>(
    objects: &BTreeMap<String, Object>,
    s: S,
) -> Result<S::Ok, S::Error> {
    let values: BTreeMap<&String, Value> = objects.iter().map(|(k, o)| (k, o.to_value())).collect();
    let mut entries: Vec<(&String, &Value)> = values.iter().map(|(k, v)| (*k, v)).collect();
    entries.sort_by(|a, b| crate::canonical::compare_keys(a.0, b.0));
    let mut map = s.serialize_map(Some(entries.len()))?;
    for (k, v) in entries {
        map.serialize_entry(k, &JcsValueRef(v))?;
    }
    map.end()
}

fn deserialize_objects<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, Object>, D::Error> {
    let raw = BTreeMap::<String, serde_json::Map<String, Value>>::deserialize(d)?;
    let mut out = BTreeMap::new();
    for (key, mut fields) in raw {
        let kind = match fields.remove("kind") {
            Some(Value::String(k)) => k,
            _ => return Err(de::Error::custom(format!("object {key:?} has no kind"))),
        };
        let object = Object::from_fields(&kind, fields);
        if object.key() != key {
            return Err(de::Error::custom(format!(
                "object {key:?} is keyed wrongly (want {:?})",
                object.key()
            )));
        }
        out.insert(key, object);
    }
    Ok(out)
}
