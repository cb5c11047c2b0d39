//! From accepted regions to the document: classes (coalesced, CIDR covers, names), open
//! ports, loopback facts.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};

use super::merge::coalesce;
use super::pipeline::{FamilyResult, HookResult};
use super::schema::{BaseChainRef, Class, HookExposure, Loopback, OpenPort, RuleRef};
use super::space::{Ivs, Region, Space, CT, DADDR, DPORT, IIF, OIF, PROTO, SADDR};
use super::values::{self, Interfaces};
use super::{Live, Notes};
use crate::model::Ruleset;

/// The report of one family.
pub(crate) struct FamilyReport {
    pub(crate) hooks: BTreeMap<String, HookExposure>,
    pub(crate) open_ports: Vec<OpenPort>,
    pub(crate) loopback: Loopback,
}

/// Builds the report of one family.
pub(crate) fn family(
    name: &str,
    r: &FamilyResult<'_>,
    ifaces: &Interfaces,
    notes: &Notes,
    ruleset: &Ruleset,
) -> FamilyReport {
    let mut hooks = BTreeMap::new();
    let mut open_ports = Vec::new();
    let mut loopback = Loopback {
        accepted_on_lo: false,
        spoofed_loopback_accepted: false,
    };
    let view = View {
        space: &r.space,
        bits: r.bits,
        ifaces,
        notes,
        ruleset,
        rendered: RefCell::default(),
    };
    for h in &r.hooks {
        let merged = merge_classes(&h.accepted);
        if h.hook == "input" {
            open_ports = view.open_ports(name, &merged);
            if let Some(l) = &h.loopback {
                loopback = l.clone();
            }
        }
        let accepted = merged
            .iter()
            .map(|(region, (certain, via))| view.class(region, *certain, via))
            .collect();
        hooks.insert(
            h.hook.to_owned(),
            HookExposure {
                base_chains: base_chains(h),
                default: default_verdict(h),
                accepted,
            },
        );
    }
    FamilyReport {
        hooks,
        open_ports,
        loopback,
    }
}

fn base_chains(h: &HookResult<'_>) -> Vec<BaseChainRef> {
    h.stages
        .iter()
        .map(|s| BaseChainRef {
            table: s.table.to_owned(),
            chain: s.chain.to_owned(),
            hook: s.base.hook.clone(),
            chain_type: s.base.chain_type.clone(),
            priority: s.base.prio,
            policy: s.base.policy.clone().unwrap_or_else(|| "accept".to_owned()),
        })
        .collect()
}

fn default_verdict(h: &HookResult<'_>) -> &'static str {
    if h.stages
        .iter()
        .any(|s| s.base.policy.as_deref() == Some("drop"))
    {
        "drop"
    } else {
        "accept"
    }
}

/// Accepted regions merged as far as they go, keeping apart certain and possible and regions
/// accepted by different rules (so that each class names exactly the rules that accept it).
fn merge_classes(accepted: &[Live]) -> Vec<(Region, (bool, Vec<u32>))> {
    let items = accepted
        .iter()
        .map(|l| (l.region.clone(), (l.certain, l.via.clone())))
        .collect();
    coalesce(items, Clone::clone, |_, _| {}, false)
}

struct View<'a> {
    space: &'a Space,
    bits: u32,
    ifaces: &'a Interfaces,
    notes: &'a Notes,
    ruleset: &'a Ruleset,
    /// Rules rendered once, however many classes name them.
    rendered: RefCell<HashMap<u32, RuleRef>>,
}

impl View<'_> {
    fn via(&self, via: &[u32]) -> Vec<RuleRef> {
        let mut rendered = self.rendered.borrow_mut();
        via.iter()
            .map(|&v| {
                rendered
                    .entry(v)
                    .or_insert_with(|| self.notes.rule_ref(v, self.ruleset))
                    .clone()
            })
            .collect()
    }

    fn class(&self, r: &Region, certain: bool, via: &[u32]) -> Class {
        let (iif, iif_except) = self.interfaces(r.dim(IIF));
        let (oif, oif_except) = self.interfaces(r.dim(OIF));
        Class {
            proto: values::proto_names(r.dim(PROTO)),
            ports: self.ports(r),
            sources: values::cidrs(r.dim(SADDR), self.bits),
            destinations: values::cidrs(r.dim(DADDR), self.bits),
            iif,
            iif_except,
            oif,
            oif_except,
            ct_state: ct_names(r.dim(CT)),
            certain,
            via: self.via(via),
        }
    }

    fn ports(&self, r: &Region) -> Option<Vec<[u32; 2]>> {
        if self.space.is_full(r, DPORT) || !r.dim(PROTO).intersects(&values::port_protos()) {
            return None;
        }
        Some(port_list(r.dim(DPORT)))
    }

    fn interfaces(&self, set: &Ivs) -> (Option<Vec<String>>, Option<Vec<String>>) {
        let all = Ivs::one(0, self.ifaces.other());
        if set.is_full(self.ifaces.other()) {
            return (None, None);
        }
        let names = |s: &Ivs| -> Vec<String> {
            s.as_slice()
                .iter()
                .flat_map(|&(lo, hi)| lo..=hi)
                .filter_map(|t| self.ifaces.name(t).map(str::to_owned))
                .collect()
        };
        if set.contains(self.ifaces.other()) {
            (None, Some(names(&all.minus(set))))
        } else {
            (Some(names(set)), None)
        }
    }

    /// New connections accepted on input, per protocol with ports and port range.
    fn open_ports(&self, family: &str, merged: &[(Region, (bool, Vec<u32>))]) -> Vec<OpenPort> {
        type Key = (u128, u128, u128, Ivs, Ivs, bool, Vec<u32>);
        let mut groups: BTreeMap<Key, Ivs> = BTreeMap::new();
        for (r, (certain, via)) in merged {
            if !r.dim(CT).contains(0) {
                continue;
            }
            let protos = r.dim(PROTO).intersect(&values::port_protos());
            for &(plo, phi) in protos.as_slice() {
                for code in plo..=phi {
                    for &(lo, hi) in r.dim(DPORT).as_slice() {
                        let key = (
                            code,
                            lo,
                            hi,
                            r.dim(IIF).clone(),
                            r.dim(DADDR).clone(),
                            *certain,
                            via.clone(),
                        );
                        let entry = groups.entry(key).or_insert_with(Ivs::empty);
                        *entry = entry.union(r.dim(SADDR));
                    }
                }
            }
        }
        let lo_only = Ivs::one(self.ifaces.lo(), self.ifaces.lo());
        groups
            .into_iter()
            .map(|((code, lo, hi, iif_set, daddr, certain, via), saddr)| {
                let (iif, iif_except) = self.interfaces(&iif_set);
                OpenPort {
                    family: family.to_owned(),
                    hook: "input".to_owned(),
                    proto: values::proto_names(&Ivs::one(code, code)).join(","),
                    port_from: u32::try_from(lo).unwrap_or(u32::MAX),
                    port_to: u32::try_from(hi).unwrap_or(u32::MAX),
                    sources: values::cidrs(&saddr, self.bits),
                    widest_prefix: values::widest_prefix(&saddr, self.bits),
                    destinations: values::cidrs(&daddr, self.bits),
                    iif,
                    iif_except,
                    loopback_only: iif_set == lo_only,
                    certain,
                    via: self.via(&via),
                }
            })
            .collect()
    }
}

fn port_list(set: &Ivs) -> Vec<[u32; 2]> {
    set.as_slice()
        .iter()
        .map(|&(lo, hi)| {
            [
                u32::try_from(lo).unwrap_or(u32::MAX),
                u32::try_from(hi).unwrap_or(u32::MAX),
            ]
        })
        .collect()
}

fn ct_names(set: &Ivs) -> Vec<String> {
    values::CT_STATES
        .iter()
        .enumerate()
        .filter(|(i, _)| set.contains(*i as u128))
        .map(|(_, s)| (*s).to_owned())
        .collect()
}
