//! `Deserialize` for [`Stmt`]: one JSON object with a single key, dispatched on the key. A body
//! that does not fit its typed form keeps the statement verbatim ([`Stmt::Unknown`]); a string
//! (nft's text fallback for statements without a JSON form) becomes [`Stmt::Text`].
//!
//! Runtime values in bodies (counter packets/bytes, quota `used`, `last` timestamps) are read and
//! dropped here.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::Value;

use super::expr::{read_single, verdict, Single};
use super::{from_raw, verbatim, DepthGuard, LimitBody, QuotaBody};
use crate::model::{
    Counter, CtCount, Dup, Expr, Flow, Fwd, Limit, Log, Mangle, MapLookup, MapStmt, Match, Meter,
    Nat, NatKind, Queue, Quota, Reject, SetStmt, Stmt, Synproxy, SynproxySpec, Tproxy, Xt,
};

impl<'de> Deserialize<'de> for Stmt {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StmtVisitor)
    }
}

struct StmtVisitor;

impl<'de> Visitor<'de> for StmtVisitor {
    type Value = Stmt;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an nftables statement")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Stmt, E> {
        Ok(Stmt::Text(v.to_owned()))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Stmt, E> {
        Ok(Stmt::Unknown(v.into()))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Stmt, E> {
        Ok(Stmt::Unknown(v.into()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Stmt, E> {
        Ok(Stmt::Unknown(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Stmt, E> {
        Ok(Stmt::Unknown(v.into()))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Stmt, E> {
        Ok(Stmt::Unknown(Value::Null))
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Stmt, A::Error> {
        let mut items = Vec::new();
        while let Some(v) = seq.next_element::<Value>()? {
            items.push(v);
        }
        Ok(Stmt::Unknown(Value::Array(items)))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Stmt, A::Error> {
        let _depth = DepthGuard::enter()?;
        match read_single(map)? {
            Single::One(key, raw) => stmt_from(&key, raw).map_err(de::Error::custom),
            Single::Other(value) => Ok(Stmt::Unknown(value)),
        }
    }
}

/// The typed statement for `{key: raw}`, or the object verbatim when it does not fit.
pub(crate) fn stmt_from(key: &str, raw: &RawValue) -> serde_json::Result<Stmt> {
    match typed_stmt(key, raw) {
        Some(Ok(stmt)) => Ok(stmt),
        _ => verbatim(key, raw).map(Stmt::Unknown),
    }
}

fn typed_stmt(key: &str, raw: &RawValue) -> Option<serde_json::Result<Stmt>> {
    let is_null = raw.get().trim() == "null";
    Some(match key {
        "match" => from_raw::<Match>(raw).map(Stmt::Match),
        "counter" => counter(raw),
        "mangle" => from_raw::<Mangle>(raw).map(|m| Stmt::Mangle(Box::new(m))),
        "quota" => quota(raw),
        "limit" => limit(raw),
        "fwd" => from_raw::<Fwd>(raw).map(|f| Stmt::Fwd(Box::new(f))),
        "notrack" => from_raw::<()>(raw).map(|()| Stmt::Notrack),
        "dup" if is_null => Ok(Stmt::Dup(None)),
        "dup" => from_raw::<Dup>(raw).map(|d| Stmt::Dup(Some(Box::new(d)))),
        "snat" => nat(NatKind::Snat, raw, is_null),
        "dnat" => nat(NatKind::Dnat, raw, is_null),
        "masquerade" => nat(NatKind::Masquerade, raw, is_null),
        "redirect" => nat(NatKind::Redirect, raw, is_null),
        "reject" if is_null => Ok(Stmt::Reject(None)),
        "reject" => from_raw::<Reject>(raw)
            .map(|r| Stmt::Reject(Some(r).filter(|r| r.expr.is_some() || r.reject_type.is_some()))),
        "set" => from_raw::<SetStmt>(raw).map(|s| Stmt::Set(Box::new(s))),
        "map" => from_raw::<MapStmt>(raw).map(|m| Stmt::Map(Box::new(m))),
        "log" if is_null => Ok(Stmt::Log(None)),
        "log" => from_raw::<Log>(raw).map(|mut l| {
            if l.level.as_deref() == Some("warn") {
                l.level = None;
            }
            Stmt::Log(Some(Box::new(l)).filter(|l| **l != Log::default()))
        }),
        "ct helper" => from_raw::<Expr>(raw).map(Stmt::CtHelper),
        "ct timeout" => from_raw::<Expr>(raw).map(Stmt::CtTimeout),
        "ct expectation" => from_raw::<Expr>(raw).map(Stmt::CtExpectation),
        "secmark" => from_raw::<Expr>(raw).map(Stmt::Secmark),
        "meter" => from_raw::<Meter>(raw).map(|m| Stmt::Meter(Box::new(m))),
        "queue" if is_null => Ok(Stmt::Queue(None)),
        "queue" => {
            from_raw::<Queue>(raw).map(|q| Stmt::Queue(Some(q).filter(|q| *q != Queue::default())))
        }
        "vmap" => from_raw::<MapLookup>(raw).map(|m| Stmt::Vmap(Box::new(m))),
        "ct count" => from_raw::<CtCount>(raw).map(Stmt::CtCount),
        "xt" => from_raw::<Xt>(raw).map(Stmt::Xt),
        "tproxy" => from_raw::<Tproxy>(raw).map(|t| Stmt::Tproxy(Box::new(t))),
        "synproxy" => synproxy(raw),
        "flow" => from_raw::<Flow>(raw).map(Stmt::Flow),
        "reset" => from_raw::<Expr>(raw).map(Stmt::Reset),
        "last" => last(raw),
        _ => return verdict(key, raw).map(|r| r.map(Stmt::Verdict)),
    })
}

/// First character of a raw body: `n`ull, `"`string, `{`object, …
fn first_char(raw: &RawValue) -> Option<char> {
    raw.get().trim_start().chars().next()
}

/// A named-object reference: a name, or `{"map": …}` choosing the name by packet data.
fn object_ref(raw: &RawValue) -> serde_json::Result<Expr> {
    match from_raw::<Expr>(raw)? {
        e @ (Expr::String(_) | Expr::Map(_)) => Ok(e),
        _ => Err(de::Error::custom("not an object reference")),
    }
}

fn counter(raw: &RawValue) -> serde_json::Result<Stmt> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Values {
        #[serde(default, rename = "packets")]
        _packets: Option<u64>,
        #[serde(default, rename = "bytes")]
        _bytes: Option<u64>,
    }
    match first_char(raw) {
        Some('n') => from_raw::<()>(raw).map(|()| Stmt::Counter(Counter::Anonymous)),
        Some('{') => match from_raw::<Values>(raw) {
            Ok(_) => Ok(Stmt::Counter(Counter::Anonymous)),
            Err(_) => object_ref(raw).map(|e| Stmt::Counter(Counter::Named(e))),
        },
        _ => object_ref(raw).map(|e| Stmt::Counter(Counter::Named(e))),
    }
}

fn quota(raw: &RawValue) -> serde_json::Result<Stmt> {
    if first_char(raw) == Some('{') {
        if let Ok(body) = from_raw::<QuotaBody>(raw) {
            return body
                .into_spec()
                .map(|s| Stmt::Quota(Quota::Anonymous(s)))
                .ok_or_else(|| de::Error::custom("unknown quota unit"));
        }
    }
    object_ref(raw).map(|e| Stmt::Quota(Quota::Named(e)))
}

fn limit(raw: &RawValue) -> serde_json::Result<Stmt> {
    if first_char(raw) == Some('{') {
        if let Ok(body) = from_raw::<LimitBody>(raw) {
            return body
                .into_spec()
                .map(|s| Stmt::Limit(Limit::Anonymous(s)))
                .ok_or_else(|| de::Error::custom("unknown limit unit"));
        }
    }
    object_ref(raw).map(|e| Stmt::Limit(Limit::Named(e)))
}

fn synproxy(raw: &RawValue) -> serde_json::Result<Stmt> {
    match first_char(raw) {
        Some('n') => from_raw::<()>(raw)
            .map(|()| Stmt::Synproxy(Synproxy::Anonymous(SynproxySpec::default()))),
        Some('{') => match from_raw::<SynproxySpec>(raw) {
            Ok(spec) => Ok(Stmt::Synproxy(Synproxy::Anonymous(spec))),
            Err(_) => object_ref(raw).map(|e| Stmt::Synproxy(Synproxy::Named(e))),
        },
        _ => object_ref(raw).map(|e| Stmt::Synproxy(Synproxy::Named(e))),
    }
}

fn nat(kind: NatKind, raw: &RawValue, is_null: bool) -> serde_json::Result<Stmt> {
    if is_null {
        return Ok(Stmt::Nat(kind, None));
    }
    let nat = from_raw::<Nat>(raw)?;
    Ok(Stmt::Nat(
        kind,
        Some(Box::new(nat)).filter(|n| **n != Nat::default()),
    ))
}

fn last(raw: &RawValue) -> serde_json::Result<Stmt> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Used {
        #[serde(rename = "used")]
        _used: u64,
    }
    match first_char(raw) {
        Some('n') => from_raw::<()>(raw).map(|()| Stmt::Last),
        _ => from_raw::<Used>(raw).map(|_| Stmt::Last),
    }
}
