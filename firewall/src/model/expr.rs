//! Expressions: the operands of statements (libnftables JSON "EXPRESSIONS"), typed.
//!
//! Every expression serialises back to the libnftables JSON form it was read from (with
//! volatile fields dropped), which is the form the canonical document and Rego policies use.
//! Serialisation lives in `canonical::ser`, parsing in `parse::expr`.

use serde::{Deserialize, Serialize};
use serde_json::{Number, Value};

use super::stmt::Stmt;

/// One expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// An integer immediate (`22`, `16` for a mark). Floats never occur in nft output.
    Number(Number),
    /// A string immediate: an address, an interface name, a symbolic constant (`"established"`).
    String(String),
    /// A boolean immediate, used by existence checks (`tcp option sack exists` → `true`).
    Bool(bool),
    /// A reference to a named set or map: `"@name"` (the name is stored without `@`).
    SetRef(String),
    /// The wildcard / catch-all element `"*"`.
    Wildcard,
    /// A list of values combined as flags (`["established", "related"]`): a bare JSON array.
    List(Vec<Expr>),
    /// A `key : value` pair in a map or an anonymous map literal (JSON: two-element array).
    Mapping(Box<Expr>, Box<Expr>),
    /// `{"concat": [...]}`: a concatenation (`ip saddr . tcp dport`).
    Concat(Vec<Expr>),
    /// `{"set": [...]}`: an anonymous set (or map) literal.
    Set(Vec<Expr>),
    /// `{"map": {"key", "data"}}`: a map lookup.
    Map(Box<MapLookup>),
    /// `{"prefix": {"addr", "len"}}`: an address prefix.
    Prefix(Box<Prefix>),
    /// `{"range": [lo, hi]}`: an inclusive range.
    Range(Box<Range>),
    /// `{"payload": ...}`: packet data.
    Payload(Payload),
    /// `{"exthdr": ...}`: an IPv6 extension header field.
    Exthdr(Exthdr),
    /// `{"tcp option": ...}`: a TCP option field.
    TcpOption(TcpOption),
    /// `{"ip option": ...}`: an IPv4 option field.
    IpOption(HeaderOption),
    /// `{"sctp chunk": ...}`: an SCTP chunk field.
    SctpChunk(HeaderOption),
    /// `{"dccp option": {"type"}}` (nft ≥ 1.0.7).
    DccpOption(DccpOption),
    /// `{"meta": {"key"}}`: packet meta data.
    Meta(Meta),
    /// `{"rt": ...}`: routing data.
    Rt(Rt),
    /// `{"ct": ...}`: conntrack data.
    Ct(Ct),
    /// `{"numgen": ...}`: a number generator.
    Numgen(Numgen),
    /// `{"jhash": ...}`: a Jenkins hash of packet data.
    Jhash(Box<Jhash>),
    /// `{"symhash": ...}`: a symmetric hash.
    Symhash(Symhash),
    /// `{"fib": ...}`: a FIB lookup.
    Fib(Fib),
    /// `{"&" | "|" | "^" | "<<" | ">>": [left, right]}`: a binary operation.
    Binop(Box<Binop>),
    /// A verdict (in verdict maps).
    Verdict(Verdict),
    /// `{"elem": ...}`: a set element with attributes (timeout, comment, statements).
    Elem(Box<Elem>),
    /// `{"socket": ...}`: socket data.
    Socket(Socket),
    /// `{"osf": ...}`: OS fingerprint.
    Osf(Osf),
    /// `{"ipsec": ...}`: IPsec (xfrm) data.
    Ipsec(Ipsec),
    /// Anything this model does not know, kept verbatim (and flagged).
    Unknown(Value),
}

impl Expr {
    /// An immediate from its JSON string: `@name` is a set reference, `*` the wildcard.
    pub fn from_immediate(s: &str) -> Self {
        match s {
            "*" => Self::Wildcard,
            _ => match s.strip_prefix('@') {
                Some(name) => Self::SetRef(name.to_owned()),
                None => Self::String(s.to_owned()),
            },
        }
    }

    /// An unsigned integer immediate.
    pub fn uint(n: u64) -> Self {
        Self::Number(n.into())
    }
}

/// A map lookup: `key map data`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MapLookup {
    /// The mapping: an anonymous map literal or a `@map` reference.
    pub data: Expr,
    /// The looked-up key.
    pub key: Expr,
}

/// An address prefix.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prefix {
    /// The network address.
    pub addr: Expr,
    /// The prefix length in bits.
    pub len: u32,
}

/// An inclusive range `lo-hi` (JSON: a two-element array).
#[derive(Debug, Clone, PartialEq)]
pub struct Range {
    /// Lower bound.
    pub lo: Expr,
    /// Upper bound.
    pub hi: Expr,
}

/// A reference to packet data.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    /// A named header field: `{"protocol": "tcp", "field": "dport"}`.
    Named {
        /// Header (`ip`, `ip6`, `tcp`, `th`, `ether`, …).
        protocol: String,
        /// Field of that header.
        field: String,
    },
    /// Raw bits: `{"base": "nh", "offset": 8, "len": 8}` (`@nh,8,8`).
    Raw {
        /// Reference point: `ll`, `nh`, `th` or `ih`.
        base: String,
        /// Offset in bits.
        offset: u64,
        /// Length in bits.
        len: u64,
    },
}

/// An IPv6 extension header field; without `field` it is an existence check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exthdr {
    /// Field name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Header name (`hbh`, `rt`, `frag`, `dst`, `mh`, `srh`).
    pub name: String,
    /// Offset (only for `rt0`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
}

/// A TCP option field; without `field` it is an existence check.
#[derive(Debug, Clone, PartialEq)]
pub enum TcpOption {
    /// A named option: `{"name": "maxseg", "field": "size"}`.
    Named {
        /// Option name (`maxseg`, `sack`, `sack1`, `window`, `mptcp`, …).
        name: String,
        /// Field of the option.
        field: Option<String>,
    },
    /// A raw option: `{"base": kind, "offset", "len"}` (`tcp option @6,8,8`).
    Raw {
        /// The option kind number.
        base: u64,
        /// Offset in bits.
        offset: u64,
        /// Length in bits.
        len: u64,
    },
}

/// An IPv4 option or SCTP chunk field; without `field` it is an existence check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeaderOption {
    /// Field name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Option or chunk name.
    pub name: String,
}

/// A DCCP option existence check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DccpOption {
    /// Option type number.
    #[serde(rename = "type")]
    pub option_type: u64,
}

/// Packet meta data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Meta {
    /// Meta key (`iifname`, `l4proto`, `mark`, `nfproto`, …).
    pub key: String,
}

/// Routing data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rt {
    /// `ip` or `ip6` (for `nexthop`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family: Option<String>,
    /// `classid`, `nexthop`, `mtu`, `ipsec`.
    pub key: String,
}

/// Conntrack data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ct {
    /// `original` or `reply`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dir: Option<String>,
    /// `ip` or `ip6`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family: Option<String>,
    /// Conntrack key (`state`, `mark`, `ip saddr`, …).
    pub key: String,
}

/// A number generator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Numgen {
    /// Modulus.
    #[serde(rename = "mod")]
    pub modulus: u64,
    /// `inc` or `random`.
    pub mode: String,
    /// Offset added to the result.
    #[serde(default)]
    pub offset: u64,
}

/// A Jenkins hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Jhash {
    /// Hashed expression.
    pub expr: Expr,
    /// Modulus.
    #[serde(rename = "mod")]
    pub modulus: u64,
    /// Offset added to the result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// Hash seed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
}

/// A symmetric hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Symhash {
    /// Modulus.
    #[serde(rename = "mod")]
    pub modulus: u64,
    /// Offset added to the result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
}

/// A FIB lookup.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fib {
    /// Lookup inputs (`saddr`, `daddr`, `mark`, `iif`, `oif`), sorted.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "crate::parse::string_or_seq"
    )]
    pub flags: Vec<String>,
    /// `oif`, `oifname`, `type` or `check`.
    pub result: String,
}

/// A binary operation.
#[derive(Debug, Clone, PartialEq)]
pub struct Binop {
    /// The operator.
    pub op: BinOp,
    /// Left operand.
    pub left: Expr,
    /// Right operand.
    pub right: Expr,
}

/// Binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    /// `&`
    And,
    /// `|`
    Or,
    /// `^`
    Xor,
    /// `<<`
    Lshift,
    /// `>>`
    Rshift,
}

impl BinOp {
    /// The JSON key and nft operator.
    pub fn symbol(self) -> &'static str {
        match self {
            Self::And => "&",
            Self::Or => "|",
            Self::Xor => "^",
            Self::Lshift => "<<",
            Self::Rshift => ">>",
        }
    }

    /// The operator for a JSON key.
    pub fn from_symbol(s: &str) -> Option<Self> {
        Some(match s {
            "&" => Self::And,
            "|" => Self::Or,
            "^" => Self::Xor,
            "<<" => Self::Lshift,
            ">>" => Self::Rshift,
            _ => return None,
        })
    }
}

/// A verdict (statement or verdict-map value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// `accept`
    Accept,
    /// `drop`
    Drop,
    /// `continue`
    Continue,
    /// `return`
    Return,
    /// `queue` (as a verdict-map value)
    Queue,
    /// `break`
    Break,
    /// `jump CHAIN`
    Jump(String),
    /// `goto CHAIN`
    Goto(String),
}

impl Verdict {
    /// The JSON key and nft keyword.
    pub fn keyword(&self) -> &'static str {
        match self {
            Self::Accept => "accept",
            Self::Drop => "drop",
            Self::Continue => "continue",
            Self::Return => "return",
            Self::Queue => "queue",
            Self::Break => "break",
            Self::Jump(_) => "jump",
            Self::Goto(_) => "goto",
        }
    }

    /// The target chain of `jump` and `goto`.
    pub fn target(&self) -> Option<&str> {
        match self {
            Self::Jump(t) | Self::Goto(t) => Some(t),
            _ => None,
        }
    }
}

/// A set element with attributes.
#[derive(Debug, Clone, PartialEq)]
pub struct Elem {
    /// The element's value.
    pub val: Expr,
    /// Timeout in seconds.
    pub timeout: Option<u64>,
    /// Comment.
    pub comment: Option<String>,
    /// Per-element statements (`counter`, `limit`, `quota`, …); JSON merges their keys into the
    /// element object. Their runtime values are dropped.
    pub stmts: Vec<Stmt>,
}

/// Socket data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Socket {
    /// `transparent`, `mark`, `wildcard`, `cgroupv2`.
    pub key: String,
    /// Cgroup level (for `cgroupv2`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<u64>,
}

/// OS fingerprint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Osf {
    /// `name` or `version`.
    pub key: String,
    /// `loose` or `skip`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<String>,
}

/// IPsec (xfrm) data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ipsec {
    /// `in` or `out`.
    pub dir: String,
    /// `ip` or `ip6` (for addresses).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family: Option<String>,
    /// `reqid`, `spi`, `saddr`, `daddr`.
    pub key: String,
    /// Policy number.
    #[serde(default)]
    pub spnum: u64,
}
