//! The model in nft's native syntax: [`nft_script`] for `nft -f` (strict: a construct nft syntax
//! cannot express is an error, never approximated), [`rule_text`] and [`stmt_text`] for alerts
//! and diffs (lenient: such a construct appears as `«json:…»`, clearly marked).
//!
//! The JSON listing does not say which type a string has, so the script quotes every string
//! value (`iifname "eth0"`, `ip saddr "10.0.0.1"`, `ct state "established"`): nft reads a quoted
//! string exactly like the bare token. Names (tables, chains, sets, objects) and keywords are
//! written bare and must be valid nft identifiers.

mod expr;
mod stmt;
mod table;

use crate::model::{Expr, Rule, Ruleset, Stmt};

/// A construct nft's native syntax cannot express (or not faithfully).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    /// The first such construct, described.
    #[error("cannot render in nft syntax: {what}")]
    Unrenderable {
        /// What and where.
        what: String,
    },
}

/// The ruleset as an nft script (`nft -f`). It declares the tables; it does not flush the
/// ruleset first. Errors on anything nft syntax cannot express faithfully: unknown (verbatim)
/// constructs, `xt` statements, undeclared tables or chains, names that are not nft identifiers,
/// strings containing `"`, chains on ingress/egress hooks whose devices the listing did not show.
pub fn nft_script(ruleset: &Ruleset) -> Result<String, RenderError> {
    let mut out = Out::new(Mode::Script);
    if !ruleset.unknown_items.is_empty() {
        out.fail("top-level items the model could not place".to_owned(), None);
    }
    for t in ruleset.tables.values() {
        table::table(&mut out, t);
    }
    out.finish()
}

/// One rule as nft prints it (`ip saddr @admins tcp dport 22 counter accept`), for humans.
pub fn rule_text(rule: &Rule) -> String {
    let mut out = Out::new(Mode::Text);
    stmt::rule(&mut out, rule);
    out.buf
}

/// One statement as nft prints it, for humans.
pub fn stmt_text(s: &Stmt) -> String {
    let mut out = Out::new(Mode::Text);
    stmt::stmt(&mut out, s);
    out.buf
}

/// One expression as nft prints it, for humans.
pub fn expr_text(e: &Expr) -> String {
    let mut out = Out::new(Mode::Text);
    expr::expr(&mut out, e);
    out.buf
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// For `nft -f`: strict and explicit.
    Script,
    /// For humans: nft's own look, fallbacks marked.
    Text,
}

/// The text being written, and the first construct that could not be.
struct Out {
    buf: String,
    mode: Mode,
    error: Option<String>,
}

impl Out {
    fn new(mode: Mode) -> Self {
        Self {
            buf: String::with_capacity(1024),
            mode,
            error: None,
        }
    }

    fn finish(self) -> Result<String, RenderError> {
        match self.error {
            Some(what) => Err(RenderError::Unrenderable { what }),
            None => Ok(self.buf),
        }
    }

    fn push(&mut self, s: &str) {
        self.buf.push_str(s);
    }

    /// Records a construct that cannot be written; in text mode writes it as marked JSON.
    fn fail(&mut self, what: String, json: Option<String>) {
        if self.mode == Mode::Text {
            self.buf.push_str("«json:");
            self.buf.push_str(json.as_deref().unwrap_or(&what));
            self.buf.push('»');
        } else if self.error.is_none() {
            self.error = Some(what);
        }
    }

    /// A verbatim JSON construct.
    fn unrenderable<T: serde::Serialize>(&mut self, what: &str, value: &T) {
        let json = serde_json::to_string(value).unwrap_or_default();
        self.fail(format!("{what}: {json}"), Some(json));
    }

    /// A string value, quoted.
    fn quoted(&mut self, s: &str) {
        if s.contains('"') {
            self.fail(format!("string {s:?} contains a double quote"), None);
            return;
        }
        if self.mode == Mode::Text && is_plain(s) {
            self.buf.push_str(s);
            return;
        }
        self.buf.push('"');
        self.buf.push_str(s);
        self.buf.push('"');
    }

    /// A name or keyword, bare: it must be an nft identifier.
    fn bare(&mut self, s: &str) {
        if is_identifier(s) {
            self.buf.push_str(s);
        } else {
            self.fail(
                format!("{s:?} is not an nft identifier"),
                Some(format!("{s:?}")),
            );
        }
    }

    /// The name of a table, chain, set, object or flowtable: an nft identifier that is not one of
    /// nft's reserved words (nft 1.0.6 has no quoting for names).
    fn name(&mut self, s: &str) {
        if RESERVED.binary_search(&s).is_ok() {
            self.fail(
                format!("name {s:?} is an nft keyword"),
                Some(format!("{s:?}")),
            );
        } else {
            self.bare(s);
        }
    }

    /// A value nft reads as a bare token (an ICMP code, a number).
    fn token(&mut self, e: &Expr) {
        match e {
            Expr::String(s) => self.bare(s),
            Expr::Number(n) => self.push(&n.to_string()),
            other => self.unrenderable("not a single token", other),
        }
    }
}

/// Text a human reads unambiguously without quotes: names, numbers, addresses.
fn is_plain(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '-' | '_' | '.' | ':'))
}

/// Words nft 1.0.6's scanner reserves in every state (its unscoped keywords), sorted: a table,
/// chain, set or object with such a name cannot be written in nft syntax.
const RESERVED: [&str; 156] = [
    "-",
    "8021ad",
    "8021q",
    "accept",
    "add",
    "ah",
    "all",
    "and",
    "arp",
    "auto-merge",
    "bridge",
    "cgroup",
    "chain",
    "comment",
    "comp",
    "constant",
    "continue",
    "counter",
    "cpu",
    "create",
    "ct",
    "day",
    "dccp",
    "define",
    "delete",
    "describe",
    "device",
    "devices",
    "dnat",
    "drop",
    "dst",
    "dup",
    "dynamic",
    "ecn",
    "element",
    "elements",
    "eq",
    "esp",
    "ether",
    "exists",
    "expires",
    "export",
    "exthdr",
    "fib",
    "flags",
    "flow",
    "flowtable",
    "flush",
    "frag",
    "fwd",
    "gc-interval",
    "ge",
    "get",
    "goto",
    "gt",
    "handle",
    "hbh",
    "hook",
    "hour",
    "ibriport",
    "ibrname",
    "icmp",
    "icmpv6",
    "igmp",
    "iif",
    "iifgroup",
    "iifname",
    "iiftype",
    "import",
    "include",
    "index",
    "inet",
    "insert",
    "interval",
    "ip",
    "ip6",
    "ipsec",
    "jhash",
    "jump",
    "le",
    "limit",
    "list",
    "log",
    "lshift",
    "lt",
    "map",
    "mark",
    "masquerade",
    "meta",
    "meter",
    "mh",
    "missing",
    "monitor",
    "ne",
    "netdev",
    "nftrace",
    "not",
    "notrack",
    "numgen",
    "obriport",
    "obrname",
    "offload",
    "oif",
    "oifgroup",
    "oifname",
    "oiftype",
    "or",
    "osf",
    "pkttype",
    "policy",
    "position",
    "priority",
    "queue",
    "quota",
    "random",
    "redefine",
    "redirect",
    "reject",
    "rename",
    "replace",
    "reset",
    "return",
    "rshift",
    "rt",
    "rt0",
    "rt2",
    "rtclassid",
    "rule",
    "ruleset",
    "sctp",
    "secmark",
    "set",
    "size",
    "skgid",
    "skuid",
    "snat",
    "socket",
    "srh",
    "symhash",
    "synproxy",
    "table",
    "tcp",
    "th",
    "time",
    "timeout",
    "tproxy",
    "type",
    "typeof",
    "udp",
    "udplite",
    "undefine",
    "update",
    "vlan",
    "vmap",
    "xor",
    "xt",
];

/// nft's `string` token: `({letter}|[_.])({letter}|{digit}|[/\-_\.])*`.
fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == '.')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '-' | '_' | '.'))
}

#[cfg(test)]
mod tests;
