//! Tables, chains, sets, objects and flowtables in nft syntax. nft adds a table's chains before
//! its objects, sets and rules (`nft_cmd_expand`), so jumps and verdict maps may name chains
//! declared later in the block.

use super::expr::expr;
use super::stmt::{limit_spec, rule, stmt, synproxy_spec};
use super::Out;
use crate::model::{Chain, Flowtable, Object, ObjectBody, Set, SetKind, SetType, Table};

pub(super) fn table(o: &mut Out, t: &Table) {
    if t.undeclared {
        o.fail(
            format!(
                "table {} {} was not declared by the listing",
                t.family, t.name
            ),
            None,
        );
    }
    if !t.unknown.is_empty() {
        o.unrenderable("table attributes the model does not know", &t.unknown);
    }
    o.push("table ");
    o.bare(&t.family);
    o.push(" ");
    o.name(&t.name);
    o.push(" {\n");
    if !t.flags.is_empty() {
        o.push("\tflags ");
        for (i, f) in t.flags.iter().enumerate() {
            if i > 0 {
                o.push(",");
            }
            match f.as_str() {
                "dormant" | "owner" | "persist" => o.push(f),
                _ => o.fail(
                    format!("table flag {f:?} (nft 1.0.6 lists table flags corrupted)"),
                    None,
                ),
            }
        }
        o.push("\n");
    }
    if let Some(c) = &t.comment {
        o.push("\tcomment ");
        o.quoted(c);
        o.push("\n");
    }
    for obj in t.objects.values() {
        o.push("\n");
        object(o, obj);
    }
    for (name, s) in &t.sets {
        o.push("\n");
        set(o, name, s);
    }
    for (name, f) in &t.flowtables {
        o.push("\n");
        flowtable(o, name, f);
    }
    for (name, c) in &t.chains {
        o.push("\n");
        chain(o, name, c);
    }
    o.push("}\n");
}

fn chain(o: &mut Out, name: &str, c: &Chain) {
    if c.undeclared {
        o.fail(
            format!("chain {name} was not declared by the listing"),
            None,
        );
    }
    if !c.unknown.is_empty() {
        o.unrenderable("chain attributes the model does not know", &c.unknown);
    }
    o.push("\tchain ");
    o.name(name);
    o.push(" {\n");
    if let Some(b) = &c.base {
        o.push("\t\ttype ");
        o.bare(&b.chain_type);
        o.push(" hook ");
        o.bare(&b.hook);
        match b.devices.as_slice() {
            [] if matches!(b.hook.as_str(), "ingress" | "egress") => o.fail(
                format!(
                    "chain {name}: the {} hook needs devices the listing did not show",
                    b.hook
                ),
                None,
            ),
            [] => {}
            [one] => {
                o.push(" device ");
                o.quoted(one);
            }
            many => {
                o.push(" devices = { ");
                for (i, d) in many.iter().enumerate() {
                    if i > 0 {
                        o.push(", ");
                    }
                    o.quoted(d);
                }
                o.push(" }");
            }
        }
        o.push(&format!(" priority {};", b.prio));
        if let Some(policy) = &b.policy {
            o.push(" policy ");
            o.bare(policy);
            o.push(";");
        }
        o.push("\n");
    }
    if let Some(comment) = &c.comment {
        o.push("\t\tcomment ");
        o.quoted(comment);
        o.push("\n");
    }
    for r in &c.rules {
        o.push("\t\t");
        rule(o, r);
        o.push("\n");
    }
    o.push("\t}\n");
}

fn set_type(o: &mut Out, t: &SetType) {
    match t {
        SetType::Name(n) => o.bare(n),
        SetType::Concat(parts) => {
            for (i, p) in parts.iter().enumerate() {
                if i > 0 {
                    o.push(" . ");
                }
                o.bare(p);
            }
        }
        SetType::Typeof(e) => expr(o, e),
    }
}

fn set(o: &mut Out, name: &str, s: &Set) {
    if s.kind == SetKind::Meter {
        o.fail(format!("meter {name} listed as a set"), None);
    }
    if !s.unknown.is_empty() {
        o.unrenderable("set attributes the model does not know", &s.unknown);
    }
    o.push("\t");
    o.push(s.kind.keyword());
    o.push(" ");
    o.name(name);
    o.push(" {\n\t\t");
    let typeof_form = matches!(s.key_type, SetType::Typeof(_));
    o.push(if typeof_form { "typeof " } else { "type " });
    set_type(o, &s.key_type);
    if let Some(m) = &s.map_type {
        o.push(" : ");
        set_type(o, m);
    }
    o.push("\n");
    if !s.flags.is_empty() {
        o.push("\t\tflags ");
        for (i, f) in s.flags.iter().enumerate() {
            if i > 0 {
                o.push(",");
            }
            o.bare(f);
        }
        o.push("\n");
    }
    for (kw, v) in [("timeout", s.timeout), ("gc-interval", s.gc_interval)] {
        if let Some(v) = v {
            o.push(&format!("\t\t{kw} {v}s\n"));
        }
    }
    if let Some(size) = s.size {
        o.push(&format!("\t\tsize {size}\n"));
    }
    if let Some(policy) = &s.policy {
        o.push("\t\tpolicy ");
        o.bare(policy);
        o.push("\n");
    }
    if s.auto_merge {
        o.push("\t\tauto-merge\n");
    }
    if let Some(c) = &s.comment {
        o.push("\t\tcomment ");
        o.quoted(c);
        o.push("\n");
    }
    for st in &s.stmts {
        o.push("\t\t");
        stmt(o, st);
        o.push("\n");
    }
    if !s.elements.is_empty() {
        o.push("\t\telements = { ");
        for (i, e) in s.elements.iter().enumerate() {
            if i > 0 {
                o.push(",\n\t\t\t     ");
            }
            expr(o, e);
        }
        o.push(" }\n");
    }
    o.push("\t}\n");
}

fn flowtable(o: &mut Out, name: &str, f: &Flowtable) {
    if !f.unknown.is_empty() {
        o.unrenderable("flowtable attributes the model does not know", &f.unknown);
    }
    o.push("\tflowtable ");
    o.name(name);
    o.push(" {\n");
    if let (Some(hook), Some(prio)) = (&f.hook, f.prio) {
        o.push("\t\thook ");
        o.bare(hook);
        o.push(&format!(" priority {prio}\n"));
    }
    if !f.devices.is_empty() {
        o.push("\t\tdevices = { ");
        for (i, d) in f.devices.iter().enumerate() {
            if i > 0 {
                o.push(", ");
            }
            o.quoted(d);
        }
        o.push(" }\n");
    }
    for flag in &f.flags {
        o.push("\t\tflags ");
        o.bare(flag);
        o.push("\n");
    }
    o.push("\t}\n");
}

fn object(o: &mut Out, obj: &Object) {
    let kind = obj.body.kind().to_owned();
    o.push("\t");
    o.push(&kind);
    o.push(" ");
    o.name(&obj.name);
    o.push(" {\n");
    if let Some(c) = &obj.comment {
        o.push("\t\tcomment ");
        o.quoted(c);
        o.push("\n");
    }
    o.push("\t\t");
    match &obj.body {
        ObjectBody::Counter => o.push("packets 0 bytes 0"),
        ObjectBody::Quota { bytes, inv } => {
            if *inv {
                o.push("over ");
            }
            let (v, unit) =
                crate::parse::byte_quantity(*bytes, None).unwrap_or((*bytes, "bytes".into()));
            o.push(&format!("{v} {unit}"));
        }
        ObjectBody::Limit(l) => limit_spec(o, l),
        ObjectBody::CtHelper {
            helper_type,
            protocol,
            l3proto,
        } => {
            o.push("type ");
            o.quoted(helper_type);
            o.push(" protocol ");
            protocol_name(o, protocol);
            o.push("\n\t\tl3proto ");
            o.bare(l3proto);
        }
        ObjectBody::CtTimeout {
            protocol,
            l3proto,
            policy,
        } => {
            o.push("protocol ");
            protocol_name(o, protocol);
            o.push("\n\t\tl3proto ");
            o.bare(l3proto);
            if !policy.is_empty() {
                o.push("\n\t\tpolicy = { ");
                for (i, (state, secs)) in policy.iter().enumerate() {
                    if i > 0 {
                        o.push(", ");
                    }
                    o.bare(state);
                    o.push(&format!(" : {secs}"));
                }
                o.push(" }");
            }
        }
        ObjectBody::CtExpectation {
            protocol,
            dport,
            timeout,
            size,
            l3proto,
        } => {
            o.push("protocol ");
            protocol_name(o, protocol);
            o.push(&format!(
                "\n\t\tdport {dport}\n\t\ttimeout {timeout}ms\n\t\tsize {size}"
            ));
            o.push("\n\t\tl3proto ");
            o.bare(l3proto);
        }
        ObjectBody::Synproxy(spec) => synproxy_spec(o, spec, "\n\t\t"),
        ObjectBody::Secmark { context } => o.quoted(context),
        ObjectBody::Unknown { .. } => {
            o.unrenderable("an object the model does not know", &obj.to_value())
        }
    }
    o.push("\n\t}\n");
}

fn protocol_name(o: &mut Out, protocol: &serde_json::Value) {
    match protocol {
        serde_json::Value::String(p) => o.bare(p),
        other => o.fail(format!("protocol {other} is not a name"), None),
    }
}
