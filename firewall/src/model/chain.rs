//! Chains and rules. A chain's canonical JSON flattens its base-chain attributes next to its
//! rules (`{"type", "hook", "prio", "policy", "rules"}`), the shape the foundation's policies read.

use std::collections::BTreeMap;

use serde::de::{self, Deserializer};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::stmt::Stmt;

/// A chain: regular (`base == None`) or base (attached to a hook).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Chain {
    /// Hook attachment of a base chain.
    pub base: Option<BaseChain>,
    /// Comment (nft ≥ 1.0.7 lists it).
    pub comment: Option<String>,
    /// Rules, in order: order is semantic (first match wins).
    pub rules: Vec<Rule>,
    /// Rules were listed for this chain but the chain itself was not (malformed listing; flagged).
    pub undeclared: bool,
    /// Attributes this model does not know, verbatim (flagged).
    pub unknown: BTreeMap<String, Value>,
}

/// The hook attachment of a base chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseChain {
    /// `filter`, `nat` or `route`.
    pub chain_type: String,
    /// `prerouting`, `input`, `forward`, `output`, `postrouting`, `ingress`, `egress`.
    pub hook: String,
    /// Priority (lower runs first).
    pub prio: i64,
    /// Default verdict: `accept` or `drop`.
    pub policy: Option<String>,
    /// Devices of a netdev (or inet ingress) chain, sorted. nft 1.0.6 does not list them in JSON.
    pub devices: Vec<String>,
}

/// A rule: statements evaluated left to right.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Comment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Statements, in order.
    #[serde(rename = "expr")]
    pub stmts: Vec<Stmt>,
    /// Attributes this model does not know, verbatim (flagged).
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        serialize_with = "crate::canonical::jcs_values"
    )]
    pub unknown: BTreeMap<String, Value>,
}

/// The canonical JSON shape of a chain (members in RFC 8785 order).
#[derive(Serialize)]
struct ChainOut<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    comment: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dev: Option<&'a [String]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    hook: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    policy: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    prio: Option<i64>,
    rules: &'a [Rule],
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    chain_type: Option<&'a str>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    undeclared: bool,
    #[serde(
        skip_serializing_if = "BTreeMap::is_empty",
        serialize_with = "crate::canonical::jcs_values"
    )]
    unknown: &'a BTreeMap<String, Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChainIn {
    #[serde(default)]
    comment: Option<String>,
    #[serde(default, deserialize_with = "crate::parse::string_or_seq")]
    dev: Vec<String>,
    #[serde(default)]
    hook: Option<String>,
    #[serde(default)]
    policy: Option<String>,
    #[serde(default)]
    prio: Option<i64>,
    rules: Vec<Rule>,
    #[serde(default, rename = "type")]
    chain_type: Option<String>,
    #[serde(default)]
    undeclared: bool,
    #[serde(default)]
    unknown: BTreeMap<String, Value>,
}

impl Serialize for Chain {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let base = self.base.as_ref();
        ChainOut {
            comment: self.comment.as_deref(),
            dev: base.map(|b| b.devices.as_slice()).filter(|d| !d.is_empty()),
            hook: base.map(|b| b.hook.as_str()),
            policy: base.and_then(|b| b.policy.as_deref()),
            prio: base.map(|b| b.prio),
            rules: &self.rules,
            chain_type: base.map(|b| b.chain_type.as_str()),
            undeclared: self.undeclared,
            unknown: &self.unknown,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Chain {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let c = ChainIn::deserialize(d)?;
        let base = match (c.chain_type, c.hook, c.prio) {
            (Some(chain_type), Some(hook), Some(prio)) => Some(BaseChain {
                chain_type,
                hook,
                prio,
                policy: c.policy,
                devices: c.dev,
            }),
            (None, None, None) if c.policy.is_none() && c.dev.is_empty() => None,
            _ => {
                return Err(de::Error::custom(
                    "a base chain needs type, hook and prio; a regular chain has none of them",
                ))
            }
        };
        Ok(Self {
            base,
            comment: c.comment,
            rules: c.rules,
            undeclared: c.undeclared,
            unknown: c.unknown,
        })
    }
}
