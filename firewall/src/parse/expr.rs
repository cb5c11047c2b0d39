//! `Deserialize` for [`Expr`]: immediates directly, objects by their single key. The body of a
//! known key is captured as raw text and parsed strictly; if it does not fit its typed form the
//! whole object is kept verbatim ([`Expr::Unknown`]).
//!
//! Works with `serde_json`'s slice and string readers only (raw text capture).

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Number, Value};

use super::{from_raw, verbatim, DepthGuard};
use crate::model::{
    BinOp, Binop, Ct, DccpOption, Elem, Expr, Exthdr, Fib, HeaderOption, Ipsec, Jhash, MapLookup,
    Meta, Numgen, Osf, Payload, Prefix, Range, Rt, Socket, Stmt, Symhash, TcpOption, Verdict,
};

impl<'de> Deserialize<'de> for Expr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ExprVisitor)
    }
}

struct ExprVisitor;

impl<'de> Visitor<'de> for ExprVisitor {
    type Value = Expr;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an nftables expression")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Expr, E> {
        Ok(Expr::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Expr, E> {
        Ok(Expr::Number(v.into()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Expr, E> {
        Ok(Expr::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Expr, E> {
        Number::from_f64(v)
            .map(Expr::Number)
            .ok_or_else(|| E::custom("number is not finite"))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Expr, E> {
        Ok(Expr::from_immediate(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Expr, E> {
        Ok(Expr::Unknown(Value::Null))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Expr, A::Error> {
        let _depth = DepthGuard::enter()?;
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(2));
        while let Some(item) = seq.next_element::<Expr>()? {
            items.push(item);
        }
        Ok(Expr::List(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Expr, A::Error> {
        let _depth = DepthGuard::enter()?;
        match read_single(map)? {
            Single::One(key, raw) => expr_from(&key, raw).map_err(de::Error::custom),
            Single::Other(value) => Ok(Expr::Unknown(value)),
        }
    }
}

/// An object read as `{key: raw body}`, or verbatim when it does not have exactly one member.
pub(crate) enum Single<'de> {
    One(Cow<'de, str>, &'de RawValue),
    Other(Value),
}

/// Reads an object that should have exactly one member.
pub(crate) fn read_single<'de, A: MapAccess<'de>>(mut map: A) -> Result<Single<'de>, A::Error> {
    let Some(key) = map.next_key::<Key<'de>>()? else {
        return Ok(Single::Other(Value::Object(Map::new())));
    };
    let raw: &'de RawValue = map.next_value()?;
    let Some(second) = map.next_key::<String>()? else {
        return Ok(Single::One(key.0, raw));
    };
    let mut all = Map::new();
    let first: Value = serde_json::from_str(raw.get()).map_err(de::Error::custom)?;
    all.insert(key.0.into_owned(), first);
    all.insert(second, map.next_value::<Value>()?);
    while let Some((k, v)) = map.next_entry::<String, Value>()? {
        all.insert(k, v);
    }
    Ok(Single::Other(Value::Object(all)))
}

/// A member name, borrowed when it has no escapes.
pub(crate) struct Key<'de>(pub(crate) Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

/// The typed expression for `{key: raw}`, or the object verbatim when it does not fit.
pub(crate) fn expr_from(key: &str, raw: &RawValue) -> serde_json::Result<Expr> {
    match typed_expr(key, raw) {
        Some(Ok(expr)) => Ok(expr),
        _ => verbatim(key, raw).map(Expr::Unknown),
    }
}

fn typed_expr(key: &str, raw: &RawValue) -> Option<serde_json::Result<Expr>> {
    Some(match key {
        "concat" => from_raw::<Vec<Expr>>(raw).map(Expr::Concat),
        "set" => set_items(raw).map(Expr::Set),
        "map" => from_raw::<MapLookup>(raw).map(|m| Expr::Map(Box::new(m))),
        "prefix" => from_raw::<Prefix>(raw).map(|p| Expr::Prefix(Box::new(p))),
        "range" => {
            from_raw::<[Expr; 2]>(raw).map(|[lo, hi]| Expr::Range(Box::new(Range { lo, hi })))
        }
        "payload" => from_raw::<PayloadBody>(raw)
            .and_then(PayloadBody::typed)
            .map(Expr::Payload),
        "exthdr" => from_raw::<Exthdr>(raw).map(Expr::Exthdr),
        "tcp option" => from_raw::<TcpOptionBody>(raw)
            .and_then(TcpOptionBody::typed)
            .map(Expr::TcpOption),
        "ip option" => from_raw::<HeaderOption>(raw).map(Expr::IpOption),
        "sctp chunk" => from_raw::<HeaderOption>(raw).map(Expr::SctpChunk),
        "dccp option" => from_raw::<DccpOption>(raw).map(Expr::DccpOption),
        "meta" => from_raw::<Meta>(raw).map(Expr::Meta),
        "rt" => from_raw::<Rt>(raw).map(Expr::Rt),
        "ct" => from_raw::<Ct>(raw).map(Expr::Ct),
        "numgen" => from_raw::<Numgen>(raw).map(Expr::Numgen),
        "jhash" => from_raw::<Jhash>(raw).map(|j| Expr::Jhash(Box::new(j))),
        "symhash" => from_raw::<Symhash>(raw).map(Expr::Symhash),
        "fib" => from_raw::<Fib>(raw).map(Expr::Fib),
        "elem" => from_raw::<ElemBody>(raw).map(|e| Expr::Elem(Box::new(e.0))),
        "socket" => from_raw::<Socket>(raw).map(Expr::Socket),
        "osf" => from_raw::<Osf>(raw).map(Expr::Osf),
        "ipsec" => from_raw::<Ipsec>(raw).map(Expr::Ipsec),
        _ => {
            if let Some(op) = BinOp::from_symbol(key) {
                from_raw::<[Expr; 2]>(raw)
                    .map(|[left, right]| Expr::Binop(Box::new(Binop { op, left, right })))
            } else {
                return verdict(key, raw).map(|r| r.map(Expr::Verdict));
            }
        }
    })
}

/// A verdict body: `null`, or `{"target": chain}` for `jump` and `goto`.
pub(crate) fn verdict(key: &str, raw: &RawValue) -> Option<serde_json::Result<Verdict>> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Target {
        target: String,
    }
    let null = |v: Verdict| from_raw::<()>(raw).map(|()| v);
    Some(match key {
        "accept" => null(Verdict::Accept),
        "drop" => null(Verdict::Drop),
        "continue" => null(Verdict::Continue),
        "return" => null(Verdict::Return),
        "queue" => null(Verdict::Queue),
        "break" => null(Verdict::Break),
        "jump" => from_raw::<Target>(raw).map(|t| Verdict::Jump(t.target)),
        "goto" => from_raw::<Target>(raw).map(|t| Verdict::Goto(t.target)),
        _ => return None,
    })
}

/// Items of an anonymous set: an array, or one expression. In a set literal a two-element
/// array is a `key : value` mapping (as nft's own JSON parser reads it).
fn set_items(raw: &RawValue) -> serde_json::Result<Vec<Expr>> {
    let items = if raw.get().trim_start().starts_with('[') {
        from_raw::<Vec<Expr>>(raw)?
    } else {
        vec![from_raw::<Expr>(raw)?]
    };
    Ok(items.into_iter().map(into_mapping).collect())
}

/// Turns a two-element list (`[key, value]`) into a mapping.
pub(crate) fn into_mapping(item: Expr) -> Expr {
    match item {
        Expr::List(mut pair) if pair.len() == 2 => match (pair.pop(), pair.pop()) {
            (Some(value), Some(key)) => Expr::Mapping(Box::new(key), Box::new(value)),
            _ => Expr::List(pair),
        },
        other => other,
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct PayloadBody {
    #[serde(default)]
    base: Option<String>,
    #[serde(default)]
    field: Option<String>,
    #[serde(default)]
    len: Option<u64>,
    #[serde(default)]
    offset: Option<u64>,
    #[serde(default)]
    protocol: Option<String>,
}

impl PayloadBody {
    fn typed(self) -> serde_json::Result<Payload> {
        match self {
            Self {
                protocol: Some(protocol),
                field: Some(field),
                base: None,
                offset: None,
                len: None,
            } => Ok(Payload::Named { protocol, field }),
            Self {
                base: Some(base),
                offset: Some(offset),
                len: Some(len),
                protocol: None,
                field: None,
            } => Ok(Payload::Raw { base, offset, len }),
            _ => Err(de::Error::custom("payload is neither named nor raw")),
        }
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct TcpOptionBody {
    #[serde(default)]
    base: Option<u64>,
    #[serde(default)]
    field: Option<String>,
    #[serde(default)]
    len: Option<u64>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    offset: Option<u64>,
}

impl TcpOptionBody {
    fn typed(self) -> serde_json::Result<TcpOption> {
        match self {
            Self {
                name: Some(name),
                field,
                base: None,
                offset: None,
                len: None,
            } => Ok(TcpOption::Named { name, field }),
            Self {
                base: Some(base),
                offset: Some(offset),
                len: Some(len),
                name: None,
                field: None,
            } => Ok(TcpOption::Raw { base, offset, len }),
            _ => Err(de::Error::custom("tcp option is neither named nor raw")),
        }
    }
}

/// `{"val", "timeout", "expires", "comment", <statement keys>}`; `expires` is runtime state.
struct ElemBody(Elem);

impl<'de> Deserialize<'de> for ElemBody {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ElemVisitor;
        impl<'de> Visitor<'de> for ElemVisitor {
            type Value = ElemBody;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a set element object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ElemBody, A::Error> {
                let (mut val, mut timeout, mut comment, mut stmts) = (None, None, None, Vec::new());
                while let Some(key) = map.next_key::<Key<'de>>()? {
                    match key.0.as_ref() {
                        "val" => val = Some(map.next_value::<Expr>()?),
                        "timeout" => timeout = Some(map.next_value::<u64>()?),
                        "expires" => {
                            map.next_value::<de::IgnoredAny>()?;
                        }
                        "comment" => comment = Some(map.next_value::<String>()?),
                        other => {
                            let raw: &RawValue = map.next_value()?;
                            match super::stmt::stmt_from(other, raw).map_err(de::Error::custom)? {
                                Stmt::Unknown(_) | Stmt::Text(_) => {
                                    return Err(de::Error::custom("unknown element attribute"))
                                }
                                stmt => stmts.push(stmt),
                            }
                        }
                    }
                }
                let val = val.ok_or_else(|| de::Error::missing_field("val"))?;
                Ok(ElemBody(Elem {
                    val,
                    timeout,
                    comment,
                    stmts,
                }))
            }
        }
        d.deserialize_map(ElemVisitor)
    }
}
