//! Flags: what the canonical document cannot vouch for. `unknown` marks constructs the model
//! does not know (kept verbatim); `unverifiable` marks constructs whose meaning the listing does
//! not carry (iptables-nft `xt` statements, devices and table flags nft 1.0.6 does not list
//! faithfully). Flags are computed from the model, so they are always in step with it.

use serde::{Deserialize, Serialize};

use crate::model::{Expr, Ruleset, Stmt, Table};
use crate::walk::{self, Path};

/// Why a part of the ruleset is flagged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FlagKind {
    /// The model does not know the construct; it is kept verbatim.
    Unknown,
    /// The listing does not carry the construct's meaning.
    Unverifiable,
}

/// One flagged construct. Members in RFC 8785 order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Flag {
    /// Chain name, for flags inside a chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain: Option<String>,
    /// What is wrong, for humans.
    pub detail: String,
    /// `unknown` or `unverifiable`.
    pub kind: FlagKind,
    /// JSON pointer to the construct, inside the table object (or the document for
    /// `unknown_items`).
    pub path: String,
    /// Index of the rule in its chain (0-based), for flags inside a rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<usize>,
    /// Table key (`"<family> <name>"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
}

/// Table flags nft knows.
const TABLE_FLAGS: [&str; 3] = ["dormant", "owner", "persist"];

impl Ruleset {
    /// Every flagged construct, in document order.
    pub fn flags(&self) -> Vec<Flag> {
        let mut out = Vec::new();
        for (key, table) in &self.tables {
            table_flags(key, table, &mut out);
        }
        for (i, _) in self.unknown_items.iter().enumerate() {
            out.push(Flag {
                chain: None,
                detail: "a top-level item the model cannot place, kept verbatim".to_owned(),
                kind: FlagKind::Unknown,
                path: format!("/unknown_items/{i}"),
                rule: None,
                table: None,
            });
        }
        out
    }
}

struct Sink<'a> {
    table: &'a str,
    chain: Option<&'a str>,
    rule: Option<usize>,
    out: &'a mut Vec<Flag>,
}

impl Sink<'_> {
    fn push(&mut self, kind: FlagKind, path: String, detail: String) {
        self.out.push(Flag {
            chain: self.chain.map(str::to_owned),
            detail,
            kind,
            path,
            rule: self.rule,
            table: Some(self.table.to_owned()),
        });
    }
}

fn table_flags(key: &str, table: &Table, out: &mut Vec<Flag>) {
    let mut sink = Sink {
        table: key,
        chain: None,
        rule: None,
        out,
    };
    if table.undeclared {
        sink.push(
            FlagKind::Unknown,
            String::new(),
            "items were listed for a table the listing does not declare".to_owned(),
        );
    }
    unknown_attrs(&mut sink, Path::root(), &table.unknown);
    for flag in &table.flags {
        if !TABLE_FLAGS.contains(&flag.as_str()) {
            sink.push(
                FlagKind::Unverifiable,
                "/flags".to_owned(),
                format!(
                    "table flag {flag:?} is not a flag nft knows: nft 1.0.6 lists table flags \
                     corrupted, so whether the table is dormant cannot be told"
                ),
            );
        }
    }
    for (name, chain) in &table.chains {
        let path = Path::root().key("chains").key(name);
        sink.chain = Some(name);
        sink.rule = None;
        if chain.undeclared {
            sink.push(
                FlagKind::Unknown,
                path.to_string(),
                "rules were listed for a chain the listing does not declare".to_owned(),
            );
        }
        unknown_attrs(&mut sink, path.clone(), &chain.unknown);
        if let Some(base) = &chain.base {
            if matches!(base.hook.as_str(), "ingress" | "egress") && base.devices.is_empty() {
                sink.push(
                    FlagKind::Unverifiable,
                    path.key("dev").to_string(),
                    format!(
                        "{} chain without devices: nft 1.0.6 does not list a chain's devices \
                         in JSON, so which interfaces it filters cannot be told",
                        base.hook
                    ),
                );
            }
        }
        for (i, rule) in chain.rules.iter().enumerate() {
            sink.rule = Some(i);
            let rule_path = path.key("rules").index(i);
            unknown_attrs(&mut sink, rule_path.clone(), &rule.unknown);
            for (j, stmt) in rule.stmts.iter().enumerate() {
                stmt_flags(&mut sink, rule_path.key("expr").index(j), stmt);
            }
        }
    }
    sink.chain = None;
    sink.rule = None;
    for (name, set) in &table.sets {
        let path = Path::root().key("sets").key(name);
        unknown_attrs(&mut sink, path.clone(), &set.unknown);
        for (i, e) in set.elements.iter().enumerate() {
            expr_flags(&mut sink, path.key("elem").index(i), e);
        }
        for (i, s) in set.stmts.iter().enumerate() {
            stmt_flags(&mut sink, path.key("stmt").index(i), s);
        }
    }
    for (key, object) in &table.objects {
        if let crate::model::ObjectBody::Unknown { kind, .. } = &object.body {
            sink.push(
                FlagKind::Unknown,
                Path::root().key("objects").key(key).to_string(),
                format!("object kind {kind:?} (or one of its fields) is not known, kept verbatim"),
            );
        }
    }
    for (name, flowtable) in &table.flowtables {
        unknown_attrs(
            &mut sink,
            Path::root().key("flowtables").key(name),
            &flowtable.unknown,
        );
    }
}

fn unknown_attrs(
    sink: &mut Sink<'_>,
    path: Path,
    unknown: &std::collections::BTreeMap<String, serde_json::Value>,
) {
    if !unknown.is_empty() {
        let names: Vec<&str> = unknown.keys().map(String::as_str).collect();
        sink.push(
            FlagKind::Unknown,
            path.key("unknown").to_string(),
            format!(
                "attributes not known to the model, kept verbatim: {}",
                names.join(", ")
            ),
        );
    }
}

fn stmt_flags(sink: &mut Sink<'_>, path: Path, stmt: &Stmt) {
    match stmt {
        Stmt::Xt(xt) => sink.push(
            FlagKind::Unverifiable,
            path.to_string(),
            format!(
                "iptables-nft compat {} {:?}: nft does not list its arguments",
                xt.xt_type, xt.name
            ),
        ),
        Stmt::Text(text) => sink.push(
            FlagKind::Unknown,
            path.to_string(),
            format!("nft listed this statement as text (no JSON form in its version): {text}"),
        ),
        Stmt::Unknown(value) => sink.push(
            FlagKind::Unknown,
            path.to_string(),
            format!(
                "statement not known to the model, kept verbatim: {}",
                summary(value)
            ),
        ),
        _ => walk::stmt_children(stmt, &path, &mut |p, child| match child {
            walk::Child::Expr(e) => expr_flags(sink, p, e),
            walk::Child::Stmt(s) => stmt_flags(sink, p, s),
        }),
    }
}

fn expr_flags(sink: &mut Sink<'_>, path: Path, expr: &Expr) {
    if let Expr::Unknown(value) = expr {
        sink.push(
            FlagKind::Unknown,
            path.to_string(),
            format!(
                "expression not known to the model, kept verbatim: {}",
                summary(value)
            ),
        );
        return;
    }
    walk::expr_children(expr, &path, &mut |p, child| match child {
        walk::Child::Expr(e) => expr_flags(sink, p, e),
        walk::Child::Stmt(s) => stmt_flags(sink, p, s),
    });
}

/// The key of a verbatim object, or its kind of JSON value.
fn summary(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Object(m) => {
            let keys: Vec<&str> = m.keys().map(String::as_str).collect();
            format!("{{{}}}", keys.join(", "))
        }
        serde_json::Value::Array(_) => "an array".to_owned(),
        other => other.to_string(),
    }
}
