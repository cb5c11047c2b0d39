//! Statements and rules in nft syntax.

use super::expr::{expr, omit_eq, verdict};
use super::Out;
use crate::model::{
    Counter, Expr, Limit, LimitSpec, MatchOp, NatKind, Quota, Rule, Stmt, Synproxy, SynproxySpec,
};

/// A rule: its statements, then its comment.
pub(super) fn rule(o: &mut Out, r: &Rule) {
    if !r.unknown.is_empty() {
        o.unrenderable("rule attributes the model does not know", &r.unknown);
    }
    for (i, s) in r.stmts.iter().enumerate() {
        if i > 0 {
            o.push(" ");
        }
        stmt(o, s);
    }
    if let Some(c) = &r.comment {
        o.push(" comment ");
        o.quoted(c);
    }
}

/// A statement.
pub(super) fn stmt(o: &mut Out, s: &Stmt) {
    match s {
        Stmt::Verdict(v) => verdict(o, v),
        Stmt::Match(m) => {
            expr(o, &m.left);
            match m.op {
                MatchOp::In => {}
                MatchOp::Eq if omit_eq(o, &m.left, &m.right) => {}
                op => {
                    o.push(" ");
                    o.push(op.symbol());
                }
            }
            o.push(" ");
            expr(o, &m.right);
        }
        Stmt::Counter(Counter::Anonymous) => o.push("counter"),
        Stmt::Counter(Counter::Named(e)) => named(o, "counter", e),
        Stmt::Mangle(m) => {
            expr(o, &m.key);
            o.push(" set ");
            expr(o, &m.value);
        }
        Stmt::Quota(Quota::Anonymous(q)) => {
            o.push("quota ");
            if q.inv {
                o.push("over ");
            }
            o.push(&format!("{} ", q.val));
            o.bare(&q.val_unit);
        }
        Stmt::Quota(Quota::Named(e)) => named(o, "quota", e),
        Stmt::Limit(Limit::Anonymous(l)) => {
            o.push("limit ");
            limit_spec(o, l);
        }
        Stmt::Limit(Limit::Named(e)) => named(o, "limit", e),
        Stmt::Fwd(f) => {
            o.push("fwd ");
            if let Some(addr) = &f.addr {
                if let Some(family) = &f.family {
                    o.bare(family);
                    o.push(" ");
                }
                o.push("to ");
                expr(o, addr);
                o.push(" device ");
            } else {
                o.push("to ");
            }
            expr(o, &f.dev);
        }
        Stmt::Notrack => o.push("notrack"),
        Stmt::Dup(None) => o.unrenderable("dup without a destination", s),
        Stmt::Dup(Some(d)) => {
            o.push("dup to ");
            match (&d.addr, &d.dev) {
                (Some(addr), dev) => {
                    expr(o, addr);
                    if let Some(dev) = dev {
                        o.push(" device ");
                        expr(o, dev);
                    }
                }
                (None, Some(dev)) => expr(o, dev),
                (None, None) => o.unrenderable("dup without a destination", s),
            }
        }
        Stmt::Nat(kind, nat) => {
            o.push(kind.keyword());
            if let Some(n) = nat {
                if let Some(family) = &n.family {
                    o.push(" ");
                    o.bare(family);
                }
                if n.type_flags.iter().any(|f| f == "prefix") {
                    o.push(" prefix");
                }
                let to_addr = matches!(kind, NatKind::Snat | NatKind::Dnat);
                if n.addr.is_some() || n.port.is_some() {
                    o.push(" to ");
                }
                if let (Some(addr), true) = (&n.addr, to_addr) {
                    expr(o, addr);
                } else if n.addr.is_some() {
                    o.unrenderable("an address for masquerade or redirect", s);
                }
                if let Some(port) = &n.port {
                    o.push(":");
                    expr(o, port);
                }
                // nft sets `netmap` itself for `prefix` mappings and lists it; its parser
                // (1.0.6) does not take the keyword back.
                let prefix = n.type_flags.iter().any(|f| f == "prefix");
                let flags: Vec<&str> = n
                    .flags
                    .iter()
                    .map(String::as_str)
                    .filter(|f| !(prefix && *f == "netmap"))
                    .collect();
                if !flags.is_empty() {
                    o.push(" ");
                    o.push(&flags.join(","));
                }
            }
        }
        Stmt::Reject(None) => o.push("reject"),
        Stmt::Reject(Some(r)) => {
            o.push("reject with ");
            match (r.reject_type.as_deref(), &r.expr) {
                (Some("tcp reset"), None) => o.push("tcp reset"),
                (Some(t @ ("icmpx" | "icmp" | "icmpv6")), Some(code)) => {
                    o.push(t);
                    o.push(" ");
                    o.token(code);
                }
                _ => o.unrenderable("a reject type", s),
            }
        }
        Stmt::Set(x) => {
            o.bare(&x.op);
            o.push(" ");
            at_name(o, &x.set);
            o.push(" { ");
            expr(o, &x.elem);
            for inner in &x.stmt {
                o.push(" ");
                stmt(o, inner);
            }
            o.push(" }");
        }
        Stmt::Map(x) => {
            o.bare(&x.op);
            o.push(" ");
            at_name(o, &x.map);
            o.push(" { ");
            expr(o, &x.elem);
            for inner in &x.stmt {
                o.push(" ");
                stmt(o, inner);
            }
            o.push(" : ");
            expr(o, &x.data);
            o.push(" }");
        }
        Stmt::Log(None) => o.push("log"),
        Stmt::Log(Some(l)) => {
            o.push("log");
            if let Some(p) = &l.prefix {
                if p.contains('$') {
                    o.fail(
                        format!("log prefix {p:?} contains '$' (nft expands variables)"),
                        None,
                    );
                }
                o.push(" prefix ");
                o.quoted(p);
            }
            for (name, v) in [
                ("group", l.group),
                ("snaplen", l.snaplen),
                ("queue-threshold", l.queue_threshold),
            ] {
                if let Some(v) = v {
                    o.push(&format!(" {name} {v}"));
                }
            }
            if let Some(level) = &l.level {
                o.push(" level ");
                o.bare(level);
            }
            log_flags(o, &l.flags);
        }
        Stmt::CtHelper(e) => set_obj(o, "ct helper", e),
        Stmt::CtTimeout(e) => set_obj(o, "ct timeout", e),
        Stmt::CtExpectation(e) => set_obj(o, "ct expectation", e),
        Stmt::Secmark(e) => set_obj(o, "meta secmark", e),
        Stmt::Meter(m) => {
            o.push("meter ");
            match &m.name {
                Some(name) => o.name(name),
                None => o.unrenderable("a meter without a name", s),
            }
            if let Some(size) = m.size {
                o.push(&format!(" size {size}"));
            }
            o.push(" { ");
            expr(o, &m.key);
            o.push(" ");
            stmt(o, &m.stmt);
            o.push(" }");
        }
        Stmt::Queue(None) => o.push("queue"),
        Stmt::Queue(Some(q)) => {
            o.push("queue");
            if !q.flags.is_empty() {
                o.push(" flags ");
                o.push(&q.flags.join(","));
            }
            match (&q.num, q.flags.is_empty()) {
                (Some(num), _) => {
                    o.push(" to ");
                    expr(o, num);
                }
                (None, false) => o.unrenderable("queue flags without a queue number", s),
                (None, true) => {}
            }
        }
        Stmt::Vmap(m) => {
            expr(o, &m.key);
            o.push(" vmap ");
            expr(o, &m.data);
        }
        Stmt::CtCount(c) => {
            o.push("ct count ");
            if c.inv {
                o.push("over ");
            }
            o.push(&c.val.to_string());
        }
        Stmt::Xt(_) => o.unrenderable(
            "an iptables-nft xt statement (its arguments are not listed)",
            s,
        ),
        Stmt::Tproxy(t) => {
            o.push("tproxy ");
            if let Some(f) = &t.family {
                o.bare(f);
                o.push(" ");
            }
            o.push("to ");
            if let Some(addr) = &t.addr {
                expr(o, addr);
            }
            if let Some(port) = &t.port {
                o.push(":");
                expr(o, port);
            }
        }
        Stmt::Synproxy(Synproxy::Anonymous(spec)) => {
            o.push("synproxy");
            synproxy_spec(o, spec, " ");
        }
        Stmt::Synproxy(Synproxy::Named(e)) => named(o, "synproxy", e),
        Stmt::Flow(f) => {
            o.push("flow ");
            o.bare(&f.op);
            o.push(" ");
            at_name(o, &f.flowtable);
        }
        Stmt::Reset(e) => {
            o.push("reset ");
            expr(o, e);
        }
        Stmt::Last => o.push("last"),
        // nft's own text for a statement without a JSON form: it is nft syntax already.
        Stmt::Text(t) => o.push(t),
        Stmt::Unknown(v) => o.unrenderable("a statement the model does not know", v),
    }
}

/// `@name` (a set, map or flowtable reference as JSON writes it).
fn at_name(o: &mut Out, reference: &str) {
    match reference.strip_prefix('@') {
        Some(name) => {
            o.push("@");
            o.name(name);
        }
        None => o.fail(
            format!("reference {reference:?} does not start with '@'"),
            None,
        ),
    }
}

fn named(o: &mut Out, kind: &str, e: &Expr) {
    o.push(kind);
    o.push(" name ");
    expr(o, e);
}

fn set_obj(o: &mut Out, what: &str, e: &Expr) {
    o.push(what);
    o.push(" set ");
    expr(o, e);
}

/// `rate [over] N[ unit]/per[ burst N unit]` (statement and object).
pub(super) fn limit_spec(o: &mut Out, l: &LimitSpec) {
    o.push("rate ");
    if l.inv {
        o.push("over ");
    }
    o.push(&l.rate.to_string());
    if let Some(unit) = &l.rate_unit {
        o.push(" ");
        o.bare(unit);
    }
    o.push("/");
    o.bare(&l.per);
    if l.burst != 0 {
        o.push(&format!(" burst {} ", l.burst));
        match (&l.rate_unit, &l.burst_unit) {
            (None, _) => o.push("packets"),
            (Some(_), Some(unit)) => o.bare(unit),
            (Some(_), None) => o.push("bytes"),
        }
    }
}

/// `mss N wscale N timestamp sack-perm`, each item preceded by `sep`.
pub(super) fn synproxy_spec(o: &mut Out, spec: &SynproxySpec, sep: &str) {
    if let Some(mss) = spec.mss {
        o.push(&format!("{sep}mss {mss}"));
    }
    if let Some(w) = spec.wscale {
        o.push(&format!("{sep}wscale {w}"));
    }
    if !spec.flags.is_empty() {
        o.push(sep);
        // The model sorts flags; nft's grammar wants `timestamp` before `sack-perm`.
        let mut flags: Vec<&String> = spec.flags.iter().collect();
        flags.sort_by_key(|f| *f != "timestamp");
        for (i, f) in flags.into_iter().enumerate() {
            if i > 0 {
                o.push(" ");
            }
            o.bare(f);
        }
    }
}

/// Log flags: `flags tcp sequence,options flags ip options flags skuid flags ether` or `flags all`.
fn log_flags(o: &mut Out, flags: &[String]) {
    let mut tcp = Vec::new();
    for f in flags {
        match f.as_str() {
            "tcp sequence" => tcp.push("sequence"),
            "tcp options" => tcp.push("options"),
            "ip options" => o.push(" flags ip options"),
            "skuid" | "ether" | "all" => {
                o.push(" flags ");
                o.push(f);
            }
            other => o.fail(format!("log flag {other:?}"), None),
        }
    }
    if !tcp.is_empty() {
        tcp.sort_unstable_by_key(|t| *t != "sequence");
        o.push(" flags tcp ");
        o.push(&tcp.join(","));
    }
}
