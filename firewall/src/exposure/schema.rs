//! The exposure document: the facts a Rego policy reads (`docs/exposure.md` explains each
//! field with examples). Field names are stable; maps are keyed by fixed words.

use std::collections::BTreeMap;

use serde::Serialize;

/// Schema version of [`Exposure`].
pub const EXPOSURE_FORMAT: &str = "palisade-exposure-v1";

/// What the ruleset lets through, per family and hook.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Exposure {
    /// [`EXPOSURE_FORMAT`].
    pub format: &'static str,
    /// `"ipv4"` and `"ipv6"`.
    pub families: BTreeMap<String, FamilyExposure>,
    /// New connections accepted on the input hook, per protocol and port range (both families).
    pub open_ports: Vec<OpenPort>,
    /// Loopback facts per family (`"ipv4"`, `"ipv6"`).
    pub loopback: BTreeMap<String, Loopback>,
    /// Constructs the evaluation could not interpret; the traffic they touch is reported as
    /// possible, never as certain.
    pub unevaluated: Vec<Unevaluated>,
    /// A chain had more live traffic regions than the cap and they were merged conservatively
    /// (outcomes there are possible, not certain).
    pub truncated: bool,
}

/// One family.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FamilyExposure {
    /// `"input"`, `"forward"`, `"output"`.
    pub hooks: BTreeMap<String, HookExposure>,
}

/// One hook of one family.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HookExposure {
    /// The base chains a packet on this path passes, in evaluation order (the hook's own and
    /// those of the hooks before and after it on the path, such as prerouting for input).
    pub base_chains: Vec<BaseChainRef>,
    /// `"drop"` if any of those base chains has policy drop, else `"accept"`: the verdict for
    /// traffic no rule matches.
    pub default: &'static str,
    /// Traffic classes that may be accepted on this path.
    pub accepted: Vec<Class>,
}

/// A base chain on a path.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BaseChainRef {
    /// Table key, `"<family> <name>"`.
    pub table: String,
    /// Chain name.
    pub chain: String,
    /// Hook the chain is attached to.
    pub hook: String,
    /// `filter`, `nat` or `route`.
    #[serde(rename = "type")]
    pub chain_type: String,
    /// Priority.
    pub priority: i64,
    /// `accept` or `drop` (nft's default: accept).
    pub policy: String,
}

/// A traffic class: every combination of the listed values.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Class {
    /// Layer-4 protocols: `tcp`, `udp`, `sctp`, `dccp`, `udplite`, `icmp`, `icmpv6`, and
    /// `other` (every other protocol number) or the other protocols by name or number.
    pub proto: Vec<String>,
    /// Destination port ranges `[from, to]`; `null`: any port, or no protocol with ports.
    pub ports: Option<Vec<[u32; 2]>>,
    /// Source addresses, as the fewest CIDR blocks.
    pub sources: Vec<String>,
    /// Destination addresses, as the fewest CIDR blocks.
    pub destinations: Vec<String>,
    /// Input interfaces; `null`: any interface except those in `iif_except`.
    pub iif: Option<Vec<String>>,
    /// Input interfaces excluded when `iif` is `null`; `null`: none excluded.
    pub iif_except: Option<Vec<String>>,
    /// Output interfaces (forward, output); as `iif`.
    pub oif: Option<Vec<String>>,
    /// Output interfaces excluded when `oif` is `null`.
    pub oif_except: Option<Vec<String>>,
    /// Conntrack states: `new`, `established`, `related`, `invalid`, `untracked`.
    pub ct_state: Vec<String>,
    /// Every packet of the class is accepted (else: some may be, depending on what the
    /// evaluation does not model).
    pub certain: bool,
    /// Rules (or chain policies) that accepted the class, in the order the packet met them;
    /// at most 8.
    pub via: Vec<RuleRef>,
}

/// A rule, or a chain's policy, that accepts traffic.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct RuleRef {
    /// Table key, `"<family> <name>"`.
    pub table: String,
    /// Chain name.
    pub chain: String,
    /// 0-based index of the rule in the chain; `null`: the chain's policy.
    pub index: Option<usize>,
    /// The rule as nft prints it (`tcp dport 22 accept`), or `policy accept`.
    pub text: String,
}

/// New connections to a port range accepted on input.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct OpenPort {
    /// `ipv4` or `ipv6`.
    pub family: String,
    /// Always `input`.
    pub hook: String,
    /// `tcp`, `udp`, `sctp`, `dccp` or `udplite`.
    pub proto: String,
    /// First port.
    pub port_from: u32,
    /// Last port.
    pub port_to: u32,
    /// Source addresses, as the fewest CIDR blocks.
    pub sources: Vec<String>,
    /// The shortest prefix length among `sources` (0: the whole address space).
    pub widest_prefix: u32,
    /// Destination addresses, as the fewest CIDR blocks.
    pub destinations: Vec<String>,
    /// Input interfaces; `null`: any except `iif_except`.
    pub iif: Option<Vec<String>>,
    /// Input interfaces excluded when `iif` is `null`.
    pub iif_except: Option<Vec<String>>,
    /// Only from the loopback interface.
    pub loopback_only: bool,
    /// Certainly accepted (else possibly).
    pub certain: bool,
    /// Rules (or chain policies) that accept it, in the order the packet meets them; at most 8.
    pub via: Vec<RuleRef>,
}

/// Loopback handling on input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Loopback {
    /// Everything arriving on `lo` in state new, established or related is certainly accepted.
    pub accepted_on_lo: bool,
    /// New connections from a loopback source (127.0.0.0/8, ::1) arriving on another
    /// interface may be accepted.
    pub spoofed_loopback_accepted: bool,
}

/// A construct the evaluation could not interpret.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Unevaluated {
    /// Table key.
    pub table: String,
    /// Chain name.
    pub chain: String,
    /// Rule index in the chain (`null`: the chain as a whole).
    pub rule: Option<usize>,
    /// Why.
    pub reason: String,
}
