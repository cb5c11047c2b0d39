//! `Serialize` for expressions and statements: the libnftables JSON form, members in RFC 8785
//! order, runtime values left out.

use serde::ser::{SerializeMap, SerializeStruct, Serializer};
use serde::Serialize;

use super::jcs::{compare_keys, JcsValue};
use crate::model::{
    Counter, Elem, Expr, Limit, NatKind, Payload, Quota, Stmt, Synproxy, SynproxySpec, TcpOption,
    Verdict,
};

/// `{key: body}`.
fn single<S: Serializer, T: Serialize + ?Sized>(
    s: S,
    key: &str,
    body: &T,
) -> Result<S::Ok, S::Error> {
    let mut map = s.serialize_map(Some(1))?;
    map.serialize_entry(key, body)?;
    map.end()
}

impl Serialize for Expr {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Number(n) => n.serialize(s),
            Self::String(v) => s.serialize_str(v),
            Self::Bool(b) => s.serialize_bool(*b),
            Self::SetRef(name) => s.collect_str(&format_args!("@{name}")),
            Self::Wildcard => s.serialize_str("*"),
            Self::List(items) => items.serialize(s),
            Self::Mapping(k, v) => [&**k, &**v].serialize(s),
            Self::Concat(items) => single(s, "concat", items),
            Self::Set(items) => single(s, "set", items),
            Self::Map(m) => single(s, "map", m),
            Self::Prefix(p) => single(s, "prefix", p),
            Self::Range(r) => single(s, "range", &[&r.lo, &r.hi]),
            Self::Payload(p) => single(s, "payload", p),
            Self::Exthdr(e) => single(s, "exthdr", e),
            Self::TcpOption(t) => single(s, "tcp option", t),
            Self::IpOption(o) => single(s, "ip option", o),
            Self::SctpChunk(o) => single(s, "sctp chunk", o),
            Self::DccpOption(o) => single(s, "dccp option", o),
            Self::Meta(m) => single(s, "meta", m),
            Self::Rt(r) => single(s, "rt", r),
            Self::Ct(c) => single(s, "ct", c),
            Self::Numgen(n) => single(s, "numgen", n),
            Self::Jhash(j) => single(s, "jhash", j),
            Self::Symhash(h) => single(s, "symhash", h),
            Self::Fib(f) => single(s, "fib", f),
            Self::Binop(b) => single(s, b.op.symbol(), &[&b.left, &b.right]),
            Self::Verdict(v) => v.serialize(s),
            Self::Elem(e) => single(s, "elem", &ElemOut(e)),
            Self::Socket(x) => single(s, "socket", x),
            Self::Osf(x) => single(s, "osf", x),
            Self::Ipsec(x) => single(s, "ipsec", x),
            Self::Unknown(v) => JcsValue(v).serialize(s),
        }
    }
}

impl Serialize for Verdict {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Target<'a> {
            target: &'a str,
        }
        match self.target() {
            Some(target) => single(s, self.keyword(), &Target { target }),
            None => single(s, self.keyword(), &()),
        }
    }
}

impl Serialize for Payload {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Named { protocol, field } => {
                let mut st = s.serialize_struct("payload", 2)?;
                st.serialize_field("field", field)?;
                st.serialize_field("protocol", protocol)?;
                st.end()
            }
            Self::Raw { base, offset, len } => {
                let mut st = s.serialize_struct("payload", 3)?;
                st.serialize_field("base", base)?;
                st.serialize_field("len", len)?;
                st.serialize_field("offset", offset)?;
                st.end()
            }
        }
    }
}

impl Serialize for TcpOption {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Named { name, field } => {
                let mut st = s.serialize_struct("tcp option", 2)?;
                if let Some(field) = field {
                    st.serialize_field("field", field)?;
                }
                st.serialize_field("name", name)?;
                st.end()
            }
            Self::Raw { base, offset, len } => {
                let mut st = s.serialize_struct("tcp option", 3)?;
                st.serialize_field("base", base)?;
                st.serialize_field("len", len)?;
                st.serialize_field("offset", offset)?;
                st.end()
            }
        }
    }
}

/// An element object: its attributes and the keys of its statements, merged and sorted.
struct ElemOut<'a>(&'a Elem);

enum ElemField<'a> {
    Str(&'a str),
    Num(u64),
    Expr(&'a Expr),
    Stmt(&'a Stmt),
}

impl Serialize for ElemField<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Str(v) => s.serialize_str(v),
            Self::Num(n) => s.serialize_u64(*n),
            Self::Expr(e) => e.serialize(s),
            Self::Stmt(st) => StmtBody(st).serialize(s),
        }
    }
}

impl Serialize for ElemOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let e = self.0;
        let mut fields: Vec<(&str, ElemField<'_>)> = Vec::with_capacity(3 + e.stmts.len());
        fields.push(("val", ElemField::Expr(&e.val)));
        if let Some(t) = e.timeout {
            fields.push(("timeout", ElemField::Num(t)));
        }
        if let Some(c) = &e.comment {
            fields.push(("comment", ElemField::Str(c)));
        }
        for stmt in &e.stmts {
            fields.push((stmt.key(), ElemField::Stmt(stmt)));
        }
        fields.sort_by(|a, b| compare_keys(a.0, b.0));
        let mut map = s.serialize_map(Some(fields.len()))?;
        for (k, v) in &fields {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl Stmt {
    /// The JSON key of the statement (empty for [`Stmt::Text`] and [`Stmt::Unknown`]).
    pub fn key(&self) -> &str {
        match self {
            Self::Verdict(v) => v.keyword(),
            Self::Match(_) => "match",
            Self::Counter(_) => "counter",
            Self::Mangle(_) => "mangle",
            Self::Quota(_) => "quota",
            Self::Limit(_) => "limit",
            Self::Fwd(_) => "fwd",
            Self::Notrack => "notrack",
            Self::Dup(_) => "dup",
            Self::Nat(kind, _) => NatKind::keyword(*kind),
            Self::Reject(_) => "reject",
            Self::Set(_) => "set",
            Self::Map(_) => "map",
            Self::Log(_) => "log",
            Self::CtHelper(_) => "ct helper",
            Self::CtTimeout(_) => "ct timeout",
            Self::CtExpectation(_) => "ct expectation",
            Self::Secmark(_) => "secmark",
            Self::Meter(_) => "meter",
            Self::Queue(_) => "queue",
            Self::Vmap(_) => "vmap",
            Self::CtCount(_) => "ct count",
            Self::Xt(_) => "xt",
            Self::Tproxy(_) => "tproxy",
            Self::Synproxy(_) => "synproxy",
            Self::Flow(_) => "flow",
            Self::Reset(_) => "reset",
            Self::Last => "last",
            Self::Text(_) | Self::Unknown(_) => "",
        }
    }
}

impl Serialize for Stmt {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Text(t) => s.serialize_str(t),
            Self::Unknown(v) => JcsValue(v).serialize(s),
            _ => single(s, self.key(), &StmtBody(self)),
        }
    }
}

/// The body of a statement (what its key maps to).
struct StmtBody<'a>(&'a Stmt);

impl Serialize for StmtBody<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Target<'a> {
            target: &'a str,
        }
        match self.0 {
            Stmt::Verdict(v) => match v.target() {
                Some(target) => Target { target }.serialize(s),
                None => s.serialize_unit(),
            },
            Stmt::Match(m) => m.serialize(s),
            Stmt::Counter(Counter::Anonymous) | Stmt::Notrack | Stmt::Last => s.serialize_unit(),
            Stmt::Counter(Counter::Named(e))
            | Stmt::Quota(Quota::Named(e))
            | Stmt::Limit(Limit::Named(e))
            | Stmt::Synproxy(Synproxy::Named(e))
            | Stmt::CtHelper(e)
            | Stmt::CtTimeout(e)
            | Stmt::CtExpectation(e)
            | Stmt::Secmark(e)
            | Stmt::Reset(e) => e.serialize(s),
            Stmt::Mangle(m) => m.serialize(s),
            Stmt::Quota(Quota::Anonymous(q)) => q.serialize(s),
            Stmt::Limit(Limit::Anonymous(l)) => l.serialize(s),
            Stmt::Fwd(f) => f.serialize(s),
            Stmt::Dup(d) => d.serialize(s),
            Stmt::Nat(_, n) => n.serialize(s),
            Stmt::Reject(r) => r.serialize(s),
            Stmt::Set(x) => x.serialize(s),
            Stmt::Map(x) => x.serialize(s),
            Stmt::Log(l) => l.serialize(s),
            Stmt::Meter(m) => m.serialize(s),
            Stmt::Queue(q) => q.serialize(s),
            Stmt::Vmap(m) => m.serialize(s),
            Stmt::CtCount(c) => c.serialize(s),
            Stmt::Xt(x) => x.serialize(s),
            Stmt::Tproxy(t) => t.serialize(s),
            Stmt::Synproxy(Synproxy::Anonymous(spec)) if *spec == SynproxySpec::default() => {
                s.serialize_unit()
            }
            Stmt::Synproxy(Synproxy::Anonymous(spec)) => spec.serialize(s),
            Stmt::Flow(f) => f.serialize(s),
            Stmt::Text(t) => s.serialize_str(t),
            Stmt::Unknown(v) => JcsValue(v).serialize(s),
        }
    }
}
