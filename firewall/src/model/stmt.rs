//! Statements: the building blocks of rules (libnftables JSON "STATEMENTS"), typed.
//!
//! Runtime values (counter packets/bytes, quota `used`, `last` timestamps) are not part of the
//! model: a statement keeps only its configuration. Serialisation lives in `canonical::ser`,
//! parsing in `parse::stmt`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::expr::{Expr, MapLookup, Verdict};

/// One statement of a rule.
#[derive(Debug, Clone, PartialEq)]
pub enum Stmt {
    /// `accept`, `drop`, `continue`, `return`, `jump`, `goto`.
    Verdict(Verdict),
    /// `{"match": {"op", "left", "right"}}`: a comparison.
    Match(Match),
    /// `counter` (anonymous) or `counter name …`.
    Counter(Counter),
    /// `{"mangle": {"key", "value"}}`: `… set …` on packet data, meta or conntrack.
    Mangle(Box<Mangle>),
    /// `quota` (anonymous) or `quota name …`.
    Quota(Quota),
    /// `limit` (anonymous) or `limit name …`.
    Limit(Limit),
    /// `fwd to …`.
    Fwd(Box<Fwd>),
    /// `notrack`.
    Notrack,
    /// `dup to …` (`None`: `{"dup": null}`).
    Dup(Option<Box<Dup>>),
    /// `snat`, `dnat`, `masquerade`, `redirect` (`None`: no arguments).
    Nat(NatKind, Option<Box<Nat>>),
    /// `reject [with …]` (`None`: `{"reject": null}`).
    Reject(Option<Reject>),
    /// `add @set { … }` / `update @set { … }`: fills a set from the packet path.
    Set(Box<SetStmt>),
    /// `add @map { k : v }` (`{"map": {...}}` statement, nft ≥ 1.0.7).
    Map(Box<MapStmt>),
    /// `log …` (`None`: plain `log`).
    Log(Option<Box<Log>>),
    /// `ct helper set …` (a reference to a named ct helper).
    CtHelper(Expr),
    /// `ct timeout set …` (a reference to a named ct timeout).
    CtTimeout(Expr),
    /// `ct expectation set …` (a reference to a named ct expectation).
    CtExpectation(Expr),
    /// `meta secmark set …` (a reference to a named secmark).
    Secmark(Expr),
    /// `meter NAME { key stmt }` (fills an anonymous dynamic set).
    Meter(Box<Meter>),
    /// `queue …` (`None`: plain `queue`).
    Queue(Option<Queue>),
    /// `{"vmap": {"key", "data"}}`: `key vmap data`.
    Vmap(Box<MapLookup>),
    /// `ct count [over] N`.
    CtCount(CtCount),
    /// An iptables-nft compat statement whose arguments JSON does not show (unverifiable).
    Xt(Xt),
    /// `tproxy to …`.
    Tproxy(Box<Tproxy>),
    /// `synproxy …` (anonymous) or `synproxy name …`.
    Synproxy(Synproxy),
    /// `flow add @flowtable`.
    Flow(Flow),
    /// `reset tcp option …` (strip an option).
    Reset(Expr),
    /// `last` (when a rule last matched: the timestamp is runtime state and dropped).
    Last,
    /// A statement nft printed as text because it has no JSON form in that nft version
    /// (for example an anonymous chain `jump { … }` in nft 1.0.6). Kept and flagged.
    Text(String),
    /// Anything this model does not know, kept verbatim (and flagged).
    Unknown(Value),
}

/// A comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Match {
    /// Left-hand side (packet data, meta, …).
    pub left: Expr,
    /// The operator.
    pub op: MatchOp,
    /// Right-hand side (a constant, a set, …).
    pub right: Expr,
}

/// Comparison operators of a `match`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MatchOp {
    /// `==`
    #[serde(rename = "==")]
    Eq,
    /// `!=`
    #[serde(rename = "!=")]
    Ne,
    /// `<`
    #[serde(rename = "<")]
    Lt,
    /// `>`
    #[serde(rename = ">")]
    Gt,
    /// `<=`
    #[serde(rename = "<=")]
    Le,
    /// `>=`
    #[serde(rename = ">=")]
    Ge,
    /// `in`: a flag test (`tcp flags syn`, `ct state established,related`).
    #[serde(rename = "in")]
    In,
}

impl MatchOp {
    /// The JSON operator.
    pub fn symbol(self) -> &'static str {
        match self {
            Self::Eq => "==",
            Self::Ne => "!=",
            Self::Lt => "<",
            Self::Gt => ">",
            Self::Le => "<=",
            Self::Ge => ">=",
            Self::In => "in",
        }
    }
}

/// A counter statement.
#[derive(Debug, Clone, PartialEq)]
pub enum Counter {
    /// An anonymous counter (canonical `{"counter": null}`: its values are runtime state).
    Anonymous,
    /// A reference to a named counter (a name or a map lookup).
    Named(Expr),
}

/// `{"mangle": {"key", "value"}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mangle {
    /// What is changed (payload, exthdr, tcp option, meta or ct expression).
    pub key: Expr,
    /// The new value.
    pub value: Expr,
}

/// A quota statement.
#[derive(Debug, Clone, PartialEq)]
pub enum Quota {
    /// An anonymous quota (its `used` value is runtime state and dropped).
    Anonymous(QuotaSpec),
    /// A reference to a named quota.
    Named(Expr),
}

/// The configuration of a quota.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QuotaSpec {
    /// Match once the quota is exceeded (`over`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub inv: bool,
    /// Quota value, in `val_unit`.
    pub val: u64,
    /// `bytes`, `kbytes` or `mbytes` (the largest that divides the value, as nft prints it).
    pub val_unit: String,
}

/// A limit statement.
#[derive(Debug, Clone, PartialEq)]
pub enum Limit {
    /// An anonymous limit.
    Anonymous(LimitSpec),
    /// A reference to a named limit.
    Named(Expr),
}

/// The configuration of a rate limit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LimitSpec {
    /// Burst (omitted when 0).
    #[serde(skip_serializing_if = "is_zero")]
    pub burst: u64,
    /// Unit of `burst` for byte limits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub burst_unit: Option<String>,
    /// Match once the rate is exceeded (`over`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub inv: bool,
    /// Time unit: `second`, `minute`, `hour`, `day`, `week`.
    pub per: String,
    /// Rate value.
    pub rate: u64,
    /// Unit of `rate` for byte limits (absent: packets).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_unit: Option<String>,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

/// `fwd`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fwd {
    /// Next-hop address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub addr: Option<Expr>,
    /// Output interface.
    pub dev: Expr,
    /// Family of `addr`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family: Option<String>,
}

/// `dup`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dup {
    /// Destination address (or interface in the netdev family).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub addr: Option<Expr>,
    /// Output interface.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dev: Option<Expr>,
}

/// Which address translation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NatKind {
    /// `snat`
    Snat,
    /// `dnat`
    Dnat,
    /// `masquerade`
    Masquerade,
    /// `redirect`
    Redirect,
}

impl NatKind {
    /// The JSON key and nft keyword.
    pub fn keyword(self) -> &'static str {
        match self {
            Self::Snat => "snat",
            Self::Dnat => "dnat",
            Self::Masquerade => "masquerade",
            Self::Redirect => "redirect",
        }
    }
}

/// Arguments of an address translation.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Nat {
    /// Address to translate to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub addr: Option<Expr>,
    /// `ip` or `ip6`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family: Option<String>,
    /// `random`, `fully-random`, `persistent`, `netmap` (sorted).
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "crate::parse::string_or_seq"
    )]
    pub flags: Vec<String>,
    /// Port to translate to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<Expr>,
    /// `prefix` (sorted).
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "crate::parse::string_or_seq"
    )]
    pub type_flags: Vec<String>,
}

/// `reject with …`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reject {
    /// ICMP code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expr: Option<Expr>,
    /// `tcp reset`, `icmpx`, `icmp`, `icmpv6`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub reject_type: Option<String>,
}

/// `add|update|delete @set { elem [stmts] }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetStmt {
    /// The element added (an expression of packet data).
    pub elem: Expr,
    /// `add`, `update` or `delete`.
    pub op: String,
    /// The set, as `@name`.
    pub set: String,
    /// Statements attached to the element.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stmt: Vec<Stmt>,
}

/// `add @map { key : value }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MapStmt {
    /// The value stored.
    pub data: Expr,
    /// The key added.
    pub elem: Expr,
    /// The map, as `@name`.
    pub map: String,
    /// `add`, `update` or `delete`.
    pub op: String,
    /// Statements attached to the element.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stmt: Vec<Stmt>,
}

/// `log`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Log {
    /// `tcp sequence`, `tcp options`, `ip options`, `skuid`, `ether`, `all` (sorted).
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "crate::parse::string_or_seq"
    )]
    pub flags: Vec<String>,
    /// NFLOG group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<u64>,
    /// Syslog level (absent: `warn`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<String>,
    /// Log prefix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// NFLOG queue threshold.
    #[serde(
        default,
        rename = "queue-threshold",
        skip_serializing_if = "Option::is_none"
    )]
    pub queue_threshold: Option<u64>,
    /// NFLOG snap length.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snaplen: Option<u64>,
}

/// `meter NAME size N { key stmt }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Meter {
    /// The key (packet data).
    pub key: Expr,
    /// Meter name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Maximum number of entries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// The statement applied per key.
    pub stmt: Stmt,
}

/// `queue`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Queue {
    /// `bypass`, `fanout` (sorted).
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "crate::parse::string_or_seq"
    )]
    pub flags: Vec<String>,
    /// Queue number, range or expression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num: Option<Expr>,
}

/// `ct count [over] N`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CtCount {
    /// Match when the count is exceeded (`over`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub inv: bool,
    /// Connection count.
    pub val: u64,
}

/// An iptables-nft compat statement: JSON carries only its type and name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Xt {
    /// Extension name (`conntrack`, `MASQUERADE`, …).
    pub name: String,
    /// `match`, `target` or `watcher`.
    #[serde(rename = "type")]
    pub xt_type: String,
}

/// `tproxy to …`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tproxy {
    /// Address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub addr: Option<Expr>,
    /// `ip` or `ip6`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family: Option<String>,
    /// Port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<Expr>,
}

/// A synproxy statement.
#[derive(Debug, Clone, PartialEq)]
pub enum Synproxy {
    /// Inline configuration.
    Anonymous(SynproxySpec),
    /// A reference to a named synproxy object.
    Named(Expr),
}

/// Synproxy configuration (statement or object).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SynproxySpec {
    /// `timestamp`, `sack-perm` (sorted).
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "crate::parse::string_or_seq"
    )]
    pub flags: Vec<String>,
    /// Maximum segment size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mss: Option<u64>,
    /// Window scale.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wscale: Option<u64>,
}

/// `flow add @flowtable`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Flow {
    /// The flowtable, as `@name`.
    pub flowtable: String,
    /// `add`.
    pub op: String,
}
