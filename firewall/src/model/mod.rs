//! The typed model of an nftables ruleset (the whole libnftables JSON schema, `man
//! libnftables-json`, plus what nft 1.0.6 lists beyond it).
//!
//! The model holds configuration only: handles, counter values, quota usage, element expiry and
//! the elements of dynamic sets are runtime state and never enter it. It is *normalised* when it
//! is built ([`crate::from_nft_json`], [`Ruleset::from_canonical`]), so two rulesets with the
//! same meaning are equal values — see `docs/canonical-nftables.md` for the rules.

pub mod chain;
pub mod expr;
pub mod object;
pub mod set;
pub mod stmt;
pub mod table;

use std::collections::BTreeMap;

use serde_json::Value;

pub use chain::{BaseChain, Chain, Rule};
pub use expr::{
    BinOp, Binop, Ct, DccpOption, Elem, Expr, Exthdr, Fib, HeaderOption, Ipsec, Jhash, MapLookup,
    Meta, Numgen, Osf, Payload, Prefix, Range, Rt, Socket, Symhash, TcpOption, Verdict,
};
pub use object::{Flowtable, Object, ObjectBody, OBJECT_KINDS};
pub use set::{Set, SetKind, SetType};
pub use stmt::{
    Counter, CtCount, Dup, Flow, Fwd, Limit, LimitSpec, Log, Mangle, MapStmt, Match, MatchOp,
    Meter, Nat, NatKind, Queue, Quota, QuotaSpec, Reject, SetStmt, Stmt, Synproxy, SynproxySpec,
    Tproxy, Xt,
};
pub use table::{table_key, Table};

/// A whole ruleset: every table of one network namespace.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Ruleset {
    /// Tables by `"<family> <name>"`.
    pub tables: BTreeMap<String, Table>,
    /// Top-level list items nft printed that belong to no table this model could place, kept
    /// verbatim and sorted (flagged).
    pub unknown_items: Vec<Value>,
}

impl Ruleset {
    /// The table `family name`, if present.
    pub fn table(&self, family: &str, name: &str) -> Option<&Table> {
        self.tables.get(&table_key(family, name))
    }

    /// Number of rules in all chains.
    pub fn rule_count(&self) -> usize {
        self.tables
            .values()
            .flat_map(|t| t.chains.values())
            .map(|c| c.rules.len())
            .sum()
    }
}
