//! Exposure: the effective verdict a ruleset gives to classes of traffic, computed here so
//! that Rego policies can be declarative ("nobody reaches tcp/22 from 0.0.0.0/0", "input
//! default is drop") without re-implementing netfilter. Schema and semantics:
//! `docs/exposure.md`.
//!
//! The traffic-class space has seven dimensions: source and destination address, input and
//! output interface, conntrack state, layer-4 protocol and destination port. Regions of it
//! (products of interval sets) flow through the base chains of each path in priority order;
//! every rule splits them into the part it matches and the part that carries on. What the
//! space does not model (marks, ICMP types, TCP flags, rate limits, fib, …) makes a region
//! *conditional*: it goes both ways and its outcome is possible, not certain. Nothing
//! reachable is ever reported unreachable.

mod bdd;
mod classes;
mod compile;
mod cond;
mod eval;
mod flows;
mod index;
mod matcher;
mod merge;
mod pipeline;
mod query;
mod report;
mod schema;
mod space;
mod values;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet, HashMap};

pub use query::{cidr_contains, holds, Packet, PacketVerdict};
pub use schema::{
    BaseChainRef, Class, Exposure, FamilyExposure, HookExposure, Loopback, OpenPort, RuleRef,
    Unevaluated, EXPOSURE_FORMAT,
};

use crate::model::Ruleset;

/// Tuning of [`exposure_with`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExposureOptions {
    /// Most live decision-diagram nodes one family's evaluation may hold (about 20 bytes
    /// each); beyond, the family is reported as "everything possible" (`truncated`, and a
    /// note in `unevaluated`).
    pub max_nodes: usize,
}

impl Default for ExposureOptions {
    fn default() -> Self {
        Self {
            max_nodes: DEFAULT_MAX_NODES,
        }
    }
}

/// Default of [`ExposureOptions::max_nodes`]: about 160 MiB at most.
pub const DEFAULT_MAX_NODES: usize = 8 << 20;

/// The exposure of `ruleset`, with default options. Never fails: what cannot be evaluated is
/// listed in [`Exposure::unevaluated`] and the traffic it touches is reported as possible.
pub fn exposure(ruleset: &Ruleset) -> Exposure {
    exposure_with(ruleset, &ExposureOptions::default())
}

/// The exposure of `ruleset`.
pub fn exposure_with(ruleset: &Ruleset, options: &ExposureOptions) -> Exposure {
    let ifaces = values::Interfaces::new(compile::interface_names(ruleset));
    let mut notes = Notes::default();
    let mut families = BTreeMap::new();
    let mut loopback = BTreeMap::new();
    let mut open_ports = Vec::new();
    let mut truncated = false;
    for (family, bits) in [("ipv4", 32), ("ipv6", 128)] {
        let result = pipeline::family(ruleset, bits, &ifaces, &mut notes, options.max_nodes);
        truncated |= result.truncated;
        let fam = report::family(family, &result, &ifaces, &notes, ruleset);
        open_ports.extend(fam.open_ports);
        loopback.insert(family.to_owned(), fam.loopback);
        families.insert(family.to_owned(), FamilyExposure { hooks: fam.hooks });
    }
    open_ports.sort();
    Exposure {
        format: EXPOSURE_FORMAT,
        families,
        open_ports,
        loopback,
        unevaluated: notes.unevaluated.into_iter().collect(),
        truncated,
    }
}

/// A region of traffic on its way through the chains.
#[derive(Debug, Clone)]
pub(crate) struct Live {
    /// The traffic.
    pub(crate) region: space::Region,
    /// Every packet of the region takes this way (no undecidable condition on the way).
    pub(crate) certain: bool,
    /// Labels of the rules that accepted it so far.
    pub(crate) via: Vec<u32>,
}

/// A rule (`Some(index)`) or the policy (`None`) of a chain: what a label stands for.
type LabelKey = (String, String, Option<usize>);

/// What the evaluation could not interpret, and rule labels.
#[derive(Debug, Default)]
pub(crate) struct Notes {
    unevaluated: BTreeSet<Unevaluated>,
    labels: Vec<LabelKey>,
    ids: HashMap<LabelKey, u32>,
}

impl Notes {
    /// Records an unevaluated construct.
    pub(crate) fn unevaluated(
        &mut self,
        table: &str,
        chain: &str,
        rule: Option<usize>,
        reason: String,
    ) {
        self.unevaluated.insert(Unevaluated {
            table: table.to_owned(),
            chain: chain.to_owned(),
            rule,
            reason,
        });
    }

    /// The label of rule `rule` (`None`: the policy) of `table`/`chain`.
    pub(crate) fn label(&mut self, table: &str, chain: &str, rule: Option<usize>) -> u32 {
        let key = (table.to_owned(), chain.to_owned(), rule);
        if let Some(&id) = self.ids.get(&key) {
            return id;
        }
        let id = u32::try_from(self.labels.len()).unwrap_or(u32::MAX);
        self.labels.push(key.clone());
        self.ids.insert(key, id);
        id
    }

    /// What a label stands for, with the rule rendered as nft prints it.
    pub(crate) fn rule_ref(&self, id: u32, ruleset: &Ruleset) -> RuleRef {
        let Some((table, chain, index)) = self.labels.get(id as usize) else {
            return RuleRef {
                table: String::new(),
                chain: String::new(),
                index: None,
                text: "?".to_owned(),
            };
        };
        let c = ruleset.tables.get(table).and_then(|t| t.chains.get(chain));
        let text = match index {
            Some(i) => c
                .and_then(|c| c.rules.get(*i))
                .map_or_else(|| "?".to_owned(), crate::render::rule_text),
            None => format!(
                "policy {}",
                c.and_then(|c| c.base.as_ref())
                    .and_then(|b| b.policy.as_deref())
                    .unwrap_or("accept")
            ),
        };
        RuleRef {
            table: table.clone(),
            chain: chain.clone(),
            index: *index,
            text,
        }
    }
}
