//! Named stateful objects (counter, quota, limit, ct helper, ct timeout, ct expectation,
//! synproxy, secmark) and flowtables. Objects keep their configuration only: a counter's packets
//! and bytes and a quota's `used` are runtime state.
//!
//! Objects are small and few, so they convert through `serde_json` values: [`Object::from_fields`]
//! reads the fields nft lists (and the canonical document holds), [`Object::to_value`] writes the
//! canonical form. A kind or field this model does not know makes the object [`ObjectBody::Unknown`]
//! (kept verbatim, flagged).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::stmt::{LimitSpec, SynproxySpec};

/// A named object of a table.
#[derive(Debug, Clone, PartialEq)]
pub struct Object {
    /// Object name.
    pub name: String,
    /// Comment.
    pub comment: Option<String>,
    /// Kind and configuration.
    pub body: ObjectBody,
}

/// Kind and configuration of a named object.
#[derive(Debug, Clone, PartialEq)]
pub enum ObjectBody {
    /// A counter (values dropped).
    Counter,
    /// A quota.
    Quota {
        /// Threshold in bytes.
        bytes: u64,
        /// Match once exceeded (`over`).
        inv: bool,
    },
    /// A rate limit.
    Limit(LimitSpec),
    /// A conntrack helper.
    CtHelper {
        /// Helper type (`ftp`, `sip`, …).
        helper_type: String,
        /// Layer-4 protocol (name or number).
        protocol: Value,
        /// Layer-3 protocol (`ip`, `ip6`, `inet`).
        l3proto: String,
    },
    /// A conntrack timeout policy.
    CtTimeout {
        /// Layer-4 protocol (name or number).
        protocol: Value,
        /// Layer-3 protocol.
        l3proto: String,
        /// Timeouts in seconds per state (states at their default are not listed).
        policy: BTreeMap<String, u64>,
    },
    /// A conntrack expectation.
    CtExpectation {
        /// Layer-4 protocol (name or number).
        protocol: Value,
        /// Expected destination port.
        dport: u64,
        /// Lifetime in milliseconds.
        timeout: u64,
        /// Maximum number of expectations.
        size: u64,
        /// Layer-3 protocol.
        l3proto: String,
    },
    /// A synproxy configuration.
    Synproxy(SynproxySpec),
    /// A security mark.
    Secmark {
        /// SELinux context.
        context: String,
    },
    /// A kind (or a field of a known kind) this model does not know: the fields verbatim.
    Unknown {
        /// The kind as nft lists it.
        kind: String,
        /// All fields but `name`, `comment` and the place fields (`family`, `table`, `handle`).
        fields: Map<String, Value>,
    },
}

impl ObjectBody {
    /// The kind as nft lists it (`counter`, `ct helper`, …).
    pub fn kind(&self) -> &str {
        match self {
            Self::Counter => "counter",
            Self::Quota { .. } => "quota",
            Self::Limit(_) => "limit",
            Self::CtHelper { .. } => "ct helper",
            Self::CtTimeout { .. } => "ct timeout",
            Self::CtExpectation { .. } => "ct expectation",
            Self::Synproxy(_) => "synproxy",
            Self::Secmark { .. } => "secmark",
            Self::Unknown { kind, .. } => kind,
        }
    }
}

/// Object kinds the model knows.
pub const OBJECT_KINDS: [&str; 8] = [
    "counter",
    "quota",
    "limit",
    "ct helper",
    "ct timeout",
    "ct expectation",
    "synproxy",
    "secmark",
];

impl Object {
    /// The key of the object in its table: `"<kind> <name>"`.
    pub fn key(&self) -> String {
        format!("{} {}", self.body.kind(), self.name)
    }

    /// Builds an object of `kind` from its fields (without place fields and runtime values).
    pub fn from_fields(kind: &str, mut fields: Map<String, Value>) -> Self {
        let name = match fields.remove("name") {
            Some(Value::String(n)) => n,
            Some(other) => {
                fields.insert("name".to_owned(), other);
                String::new()
            }
            None => String::new(),
        };
        let comment = match fields.remove("comment") {
            Some(Value::String(c)) => Some(c),
            Some(other) => {
                fields.insert("comment".to_owned(), other);
                None
            }
            None => None,
        };
        let body = typed_body(kind, &fields).unwrap_or_else(|| ObjectBody::Unknown {
            kind: kind.to_owned(),
            fields,
        });
        Self {
            name,
            comment,
            body,
        }
    }

    /// The canonical JSON of the object: `{"kind", "name", "comment"?, …configuration}`.
    pub fn to_value(&self) -> Value {
        let mut out = match &self.body {
            ObjectBody::Counter => Map::new(),
            ObjectBody::Quota { bytes, inv } => {
                let mut m = Map::new();
                m.insert("bytes".into(), (*bytes).into());
                if *inv {
                    m.insert("inv".into(), true.into());
                }
                m
            }
            ObjectBody::Limit(spec) => to_map(spec),
            ObjectBody::CtHelper {
                helper_type,
                protocol,
                l3proto,
            } => {
                let mut m = Map::new();
                m.insert("type".into(), helper_type.clone().into());
                m.insert("protocol".into(), protocol.clone());
                m.insert("l3proto".into(), l3proto.clone().into());
                m
            }
            ObjectBody::CtTimeout {
                protocol,
                l3proto,
                policy,
            } => {
                let mut m = Map::new();
                m.insert("protocol".into(), protocol.clone());
                m.insert("l3proto".into(), l3proto.clone().into());
                let policy: Map<String, Value> = policy
                    .iter()
                    .map(|(k, v)| (k.clone(), (*v).into()))
                    .collect();
                m.insert("policy".into(), Value::Object(policy));
                m
            }
            ObjectBody::CtExpectation {
                protocol,
                dport,
                timeout,
                size,
                l3proto,
            } => {
                let mut m = Map::new();
                m.insert("protocol".into(), protocol.clone());
                m.insert("dport".into(), (*dport).into());
                m.insert("timeout".into(), (*timeout).into());
                m.insert("size".into(), (*size).into());
                m.insert("l3proto".into(), l3proto.clone().into());
                m
            }
            ObjectBody::Synproxy(spec) => to_map(spec),
            ObjectBody::Secmark { context } => {
                let mut m = Map::new();
                m.insert("context".into(), context.clone().into());
                m
            }
            ObjectBody::Unknown { fields, .. } => fields.clone(),
        };
        out.insert("kind".into(), self.body.kind().into());
        out.insert("name".into(), self.name.clone().into());
        if let Some(c) = &self.comment {
            out.insert("comment".into(), c.clone().into());
        }
        Value::Object(out)
    }
}

fn to_map<T: Serialize>(value: &T) -> Map<String, Value> {
    match serde_json::to_value(value) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

/// Reads a known kind strictly: any field it does not expect makes the object unknown.
fn typed_body(kind: &str, fields: &Map<String, Value>) -> Option<ObjectBody> {
    let v = Value::Object(fields.clone());
    Some(match kind {
        "counter" if fields.is_empty() => ObjectBody::Counter,
        "quota" => {
            #[derive(Deserialize)]
            #[serde(deny_unknown_fields)]
            struct Q {
                bytes: u64,
                #[serde(default)]
                inv: bool,
            }
            let q: Q = serde_json::from_value(v).ok()?;
            ObjectBody::Quota {
                bytes: q.bytes,
                inv: q.inv,
            }
        }
        "limit" => ObjectBody::Limit(crate::parse::limit_object(v)?),
        "ct helper" => {
            #[derive(Deserialize)]
            #[serde(deny_unknown_fields)]
            struct H {
                #[serde(rename = "type")]
                helper_type: String,
                protocol: Value,
                l3proto: String,
            }
            let h: H = serde_json::from_value(v).ok()?;
            ObjectBody::CtHelper {
                helper_type: h.helper_type,
                protocol: protocol(h.protocol)?,
                l3proto: h.l3proto,
            }
        }
        "ct timeout" => {
            #[derive(Deserialize)]
            #[serde(deny_unknown_fields)]
            struct T {
                protocol: Value,
                l3proto: String,
                #[serde(default)]
                policy: Option<BTreeMap<String, u64>>,
            }
            let t: T = serde_json::from_value(v).ok()?;
            ObjectBody::CtTimeout {
                protocol: protocol(t.protocol)?,
                l3proto: t.l3proto,
                policy: t.policy.unwrap_or_default(),
            }
        }
        "ct expectation" => {
            #[derive(Deserialize)]
            #[serde(deny_unknown_fields)]
            struct E {
                protocol: Value,
                dport: u64,
                timeout: u64,
                size: u64,
                l3proto: String,
            }
            let e: E = serde_json::from_value(v).ok()?;
            ObjectBody::CtExpectation {
                protocol: protocol(e.protocol)?,
                dport: e.dport,
                timeout: e.timeout,
                size: e.size,
                l3proto: e.l3proto,
            }
        }
        "synproxy" => {
            let mut spec: SynproxySpec = serde_json::from_value(v).ok()?;
            spec.flags.sort();
            spec.flags.dedup();
            ObjectBody::Synproxy(spec)
        }
        "secmark" => {
            #[derive(Deserialize)]
            #[serde(deny_unknown_fields)]
            struct S {
                context: String,
            }
            let s: S = serde_json::from_value(v).ok()?;
            ObjectBody::Secmark { context: s.context }
        }
        _ => return None,
    })
}

/// A protocol is a name or a number.
fn protocol(v: Value) -> Option<Value> {
    match v {
        Value::String(_) => Some(v),
        Value::Number(ref n) if n.is_u64() => Some(v),
        _ => None,
    }
}

/// A flowtable: a fast path for established flows (`flow add @ft`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Flowtable {
    /// Devices, sorted.
    #[serde(
        default,
        rename = "dev",
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "crate::parse::string_or_seq"
    )]
    pub devices: Vec<String>,
    /// `offload` (sorted).
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "crate::parse::string_or_seq"
    )]
    pub flags: Vec<String>,
    /// Hook (`ingress`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hook: Option<String>,
    /// Priority.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prio: Option<i64>,
    /// Attributes this model does not know, verbatim (flagged).
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        serialize_with = "crate::canonical::jcs_values"
    )]
    pub unknown: BTreeMap<String, Value>,
}
