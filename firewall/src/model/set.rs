//! Named sets and maps. The struct is also the canonical JSON shape of a set (fields declared
//! in RFC 8785 order), so the canonical writer serialises it directly.

use std::collections::BTreeMap;

use serde::de::{self, Deserializer};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::expr::Expr;
use super::stmt::Stmt;

/// A named set or map.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Set {
    /// `auto-merge`: adjacent intervals are merged when elements are added (nft ≥ 1.0.7 lists it).
    #[serde(
        default,
        rename = "auto-merge",
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub auto_merge: bool,
    /// Comment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Elements, sorted (map elements are [`Expr::Mapping`]). Empty for dynamic sets: their
    /// elements are runtime state.
    #[serde(default, rename = "elem", skip_serializing_if = "Vec::is_empty")]
    pub elements: Vec<Expr>,
    /// `constant`, `interval`, `timeout`, `dynamic` (sorted).
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "crate::parse::string_or_seq"
    )]
    pub flags: Vec<String>,
    /// Garbage-collection interval in seconds.
    #[serde(
        default,
        rename = "gc-interval",
        skip_serializing_if = "Option::is_none"
    )]
    pub gc_interval: Option<u64>,
    /// Set, map or meter.
    pub kind: SetKind,
    /// Value type of a map (`verdict`, `ipv4_addr`, `counter`, …).
    #[serde(default, rename = "map", skip_serializing_if = "Option::is_none")]
    pub map_type: Option<SetType>,
    /// `performance` or `memory` (absent: performance).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// Maximum number of elements.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// Statements every element carries (`counter`, …).
    #[serde(default, rename = "stmt", skip_serializing_if = "Vec::is_empty")]
    pub stmts: Vec<Stmt>,
    /// Default element timeout in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u64>,
    /// Key type.
    #[serde(rename = "type")]
    pub key_type: SetType,
    /// Attributes this model does not know, verbatim (flagged).
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        serialize_with = "crate::canonical::jcs_values"
    )]
    pub unknown: BTreeMap<String, Value>,
}

impl Set {
    /// An empty set of `key_type`.
    pub fn new(kind: SetKind, key_type: SetType) -> Self {
        Self {
            auto_merge: false,
            comment: None,
            elements: Vec::new(),
            flags: Vec::new(),
            gc_interval: None,
            kind,
            map_type: None,
            policy: None,
            size: None,
            stmts: Vec::new(),
            timeout: None,
            key_type,
            unknown: BTreeMap::new(),
        }
    }

    /// Whether the set has `flag`.
    pub fn has_flag(&self, flag: &str) -> bool {
        self.flags.iter().any(|f| f == flag)
    }
}

/// Set, map or meter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SetKind {
    /// A set.
    Set,
    /// A map (elements are `key : value`).
    Map,
    /// A meter listed as an object (older nft).
    Meter,
}

impl SetKind {
    /// The JSON key and nft keyword.
    pub fn keyword(self) -> &'static str {
        match self {
            Self::Set => "set",
            Self::Map => "map",
            Self::Meter => "meter",
        }
    }
}

/// The type of set keys or map values.
#[derive(Debug, Clone, PartialEq)]
pub enum SetType {
    /// A named type: `ipv4_addr`, `inet_service`, `verdict`, …
    Name(String),
    /// A concatenation of named types: `["ipv4_addr", "inet_service"]`.
    Concat(Vec<String>),
    /// `{"typeof": EXPR}` (nft ≥ 1.0.7 lists the typeof expression; 1.0.6 lists the type).
    Typeof(Box<Expr>),
}

impl Serialize for SetType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Name(n) => s.serialize_str(n),
            Self::Concat(parts) => parts.serialize(s),
            Self::Typeof(expr) => {
                let mut map = s.serialize_map(Some(1))?;
                map.serialize_entry("typeof", expr)?;
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for SetType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Rare (one per set): go through a `Value`, then re-read a `typeof` expression as text,
        // since `Expr` reads its operands as raw JSON text.
        match Value::deserialize(d)? {
            Value::String(n) => Ok(Self::Name(n)),
            Value::Array(parts) if !parts.is_empty() => parts
                .into_iter()
                .map(|p| match p {
                    Value::String(s) => Ok(s),
                    other => Err(de::Error::custom(format!("set type part {other}"))),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Self::Concat),
            Value::Object(mut map) if map.len() == 1 => match map.remove("typeof") {
                Some(expr) => serde_json::from_str::<Expr>(&expr.to_string())
                    .map(|e| Self::Typeof(Box::new(e)))
                    .map_err(de::Error::custom),
                None => Err(de::Error::custom("set type object without typeof")),
            },
            other => Err(de::Error::custom(format!("not a set type: {other}"))),
        }
    }
}
