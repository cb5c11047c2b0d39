//! Expressions in nft syntax.

use super::{Mode, Out};
use crate::model::{Expr, Payload, TcpOption, Verdict};

/// Writes an expression.
pub(super) fn expr(o: &mut Out, e: &Expr) {
    match e {
        Expr::Number(n) => o.push(&n.to_string()),
        Expr::String(s) => o.quoted(s),
        Expr::Bool(true) => o.push("exists"),
        Expr::Bool(false) => o.push("missing"),
        Expr::SetRef(name) => {
            o.push("@");
            o.name(name);
        }
        Expr::Wildcard => o.push("*"),
        Expr::List(items) => join(o, items, ","),
        Expr::Mapping(k, v) => {
            expr(o, k);
            o.push(" : ");
            expr(o, v);
        }
        Expr::Concat(items) => join(o, items, " . "),
        Expr::Set(items) => {
            o.push("{ ");
            join(o, items, ", ");
            o.push(" }");
        }
        Expr::Map(m) => {
            expr(o, &m.key);
            o.push(" map ");
            expr(o, &m.data);
        }
        Expr::Prefix(p) => {
            expr(o, &p.addr);
            o.push(&format!("/{}", p.len));
        }
        Expr::Range(r) => {
            expr(o, &r.lo);
            o.push("-");
            expr(o, &r.hi);
        }
        Expr::Payload(Payload::Named { protocol, field }) => {
            o.bare(protocol);
            o.push(" ");
            o.bare(field);
        }
        Expr::Payload(Payload::Raw { base, offset, len }) => {
            o.push("@");
            o.bare(base);
            o.push(&format!(",{offset},{len}"));
        }
        Expr::Exthdr(x) => match (&x.field, x.offset) {
            (Some(field), None) => {
                o.bare(&x.name);
                o.push(" ");
                o.push(field);
            }
            (None, None) => {
                o.push("exthdr ");
                o.bare(&x.name);
            }
            (_, Some(_)) => o.unrenderable("extension header with an offset", e),
        },
        Expr::TcpOption(TcpOption::Named { name, field }) => {
            o.push("tcp option ");
            o.bare(name);
            optional_field(o, field.as_deref());
        }
        Expr::TcpOption(TcpOption::Raw { base, offset, len }) => {
            o.push(&format!("tcp option @{base},{offset},{len}"));
        }
        Expr::IpOption(x) => {
            o.push("ip option ");
            o.bare(&x.name);
            optional_field(o, x.field.as_deref());
        }
        Expr::SctpChunk(x) => {
            o.push("sctp chunk ");
            o.bare(&x.name);
            optional_field(o, x.field.as_deref());
        }
        Expr::DccpOption(x) => o.push(&format!("dccp option {}", x.option_type)),
        Expr::Meta(m) => {
            o.push("meta ");
            o.bare(&m.key);
        }
        Expr::Rt(r) => {
            o.push("rt ");
            if let Some(f) = &r.family {
                o.bare(f);
                o.push(" ");
            }
            o.bare(&r.key);
        }
        Expr::Ct(c) => {
            o.push("ct ");
            for part in [&c.dir, &c.family].into_iter().flatten() {
                o.bare(part);
                o.push(" ");
            }
            // Keys such as "ip saddr" carry their protocol.
            let mut words = c.key.split(' ').peekable();
            while let Some(w) = words.next() {
                o.bare(w);
                if words.peek().is_some() {
                    o.push(" ");
                }
            }
        }
        Expr::Numgen(n) => {
            o.push("numgen ");
            o.bare(&n.mode);
            o.push(&format!(" mod {}", n.modulus));
            if n.offset != 0 {
                o.push(&format!(" offset {}", n.offset));
            }
        }
        Expr::Jhash(j) => {
            o.push("jhash ");
            expr(o, &j.expr);
            o.push(&format!(" mod {}", j.modulus));
            if let Some(seed) = j.seed {
                o.push(&format!(" seed 0x{seed:x}"));
            }
            if let Some(off) = j.offset {
                o.push(&format!(" offset {off}"));
            }
        }
        Expr::Symhash(h) => {
            o.push(&format!("symhash mod {}", h.modulus));
            if let Some(off) = h.offset {
                o.push(&format!(" offset {off}"));
            }
        }
        Expr::Fib(f) => {
            o.push("fib ");
            for (i, flag) in f.flags.iter().enumerate() {
                if i > 0 {
                    o.push(" . ");
                }
                o.bare(flag);
            }
            o.push(" ");
            o.bare(&f.result);
        }
        Expr::Binop(b) => {
            operand(o, &b.left);
            o.push(&format!(" {} ", b.op.symbol()));
            match &b.right {
                Expr::List(items) => {
                    o.push("(");
                    join(o, items, "|");
                    o.push(")");
                }
                right => operand(o, right),
            }
        }
        Expr::Verdict(v) => verdict(o, v),
        Expr::Elem(el) => {
            expr(o, &el.val);
            for s in &el.stmts {
                o.push(" ");
                super::stmt::stmt(o, s);
            }
            if let Some(t) = el.timeout {
                o.push(&format!(" timeout {t}s"));
            }
            if let Some(c) = &el.comment {
                o.push(" comment ");
                o.quoted(c);
            }
        }
        Expr::Socket(s) => {
            o.push("socket ");
            o.bare(&s.key);
            if let Some(level) = s.level {
                o.push(&format!(" level {level}"));
            }
        }
        Expr::Osf(x) => {
            o.push("osf ");
            if let Some(ttl) = &x.ttl {
                o.push("ttl ");
                o.bare(ttl);
                o.push(" ");
            }
            o.bare(&x.key);
        }
        Expr::Ipsec(x) => {
            o.push("ipsec ");
            o.bare(&x.dir);
            if x.spnum != 0 {
                o.push(&format!(" spnum {}", x.spnum));
            }
            o.push(" ");
            if let Some(f) = &x.family {
                o.bare(f);
                o.push(" ");
            }
            o.bare(&x.key);
        }
        Expr::Unknown(v) => o.unrenderable("an expression the model does not know", v),
    }
}

/// An operand of a binary operation: parenthesised when it is one itself.
fn operand(o: &mut Out, e: &Expr) {
    if matches!(e, Expr::Binop(_)) {
        o.push("(");
        expr(o, e);
        o.push(")");
    } else {
        expr(o, e);
    }
}

fn optional_field(o: &mut Out, field: Option<&str>) {
    if let Some(f) = field {
        o.push(" ");
        o.bare(f);
    }
}

fn join(o: &mut Out, items: &[Expr], sep: &str) {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            o.push(sep);
        }
        expr(o, item);
    }
}

/// A verdict.
pub(super) fn verdict(o: &mut Out, v: &Verdict) {
    o.push(v.keyword());
    if let Some(target) = v.target() {
        o.push(" ");
        o.name(target);
    }
}

/// The value of a `match` for a human: nft prints `tcp dport 22`, not `tcp dport == 22`, except
/// where the comparison is with a flag type and `==` differs from a flag test.
pub(super) fn omit_eq(o: &Out, left: &Expr, right: &Expr) -> bool {
    if matches!(right, Expr::Bool(_)) {
        return true; // `exists` / `missing`
    }
    if o.mode == Mode::Script {
        return false;
    }
    let flag_type = match left {
        Expr::Payload(Payload::Named { protocol, field }) => protocol == "tcp" && field == "flags",
        Expr::Ct(c) => matches!(c.key.as_str(), "state" | "status" | "event" | "label"),
        _ => false,
    };
    !flag_type
}
