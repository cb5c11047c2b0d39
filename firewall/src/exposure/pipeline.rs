//! Paths through the hooks: which base chains a packet on the input, forward or output path
//! passes, in which order, and how their verdicts combine (accept ends one base chain and the
//! packet goes on to the next; drop is final; a chain's policy applies when its rules fall
//! through).

use super::eval::{add_via, merge_live, ChainOut, Eval};
use super::matcher::Ctx;
use super::space::{Ivs, Space, CT, IIF, OIF};
use super::values::Interfaces;
use super::{Live, Notes};
use crate::model::{BaseChain, Ruleset};

/// The paths reported.
pub(crate) const HOOKS: [&str; 3] = ["input", "forward", "output"];

/// Conntrack runs at priority -200 in prerouting and output: chains at or before it see no
/// conntrack state yet.
const CONNTRACK_PRIORITY: i64 = -200;

/// A base chain on a path.
#[derive(Debug, Clone)]
pub(crate) struct Stage<'r> {
    pub(crate) table: &'r str,
    pub(crate) chain: &'r str,
    pub(crate) base: &'r BaseChain,
}

/// The outcome of one path.
#[derive(Debug)]
pub(crate) struct HookResult<'r> {
    pub(crate) hook: &'static str,
    pub(crate) stages: Vec<Stage<'r>>,
    pub(crate) accepted: Vec<Live>,
}

/// The outcome of all paths of one family.
#[derive(Debug)]
pub(crate) struct FamilyResult<'r> {
    pub(crate) bits: u32,
    pub(crate) space: Space,
    pub(crate) hooks: Vec<HookResult<'r>>,
    pub(crate) truncated: bool,
}

/// The hooks a packet on `path` passes, in order.
fn path_hooks(path: &str) -> &'static [&'static str] {
    match path {
        "input" => &["ingress", "prerouting", "input"],
        "forward" => &["ingress", "prerouting", "forward", "postrouting", "egress"],
        _ => &["output", "postrouting", "egress"],
    }
}

/// The base chains on `path` for the family, in evaluation order: hook order, then priority
/// (lower first). Equal priorities run in an order the listing does not show; we take table
/// key, then chain name. The verdict does not depend on it: a packet is accepted exactly when
/// no base chain drops it (only packet rewriting, which we do not model, could depend on it).
pub(crate) fn stages<'r>(ruleset: &'r Ruleset, v6: bool, path: &str) -> Vec<Stage<'r>> {
    let hooks = path_hooks(path);
    let mut out: Vec<(usize, Stage<'r>)> = Vec::new();
    for (key, table) in &ruleset.tables {
        let ok = match table.family.as_str() {
            "inet" | "netdev" => true,
            "ip" => !v6,
            "ip6" => v6,
            _ => false,
        };
        if !ok {
            continue;
        }
        for (name, chain) in &table.chains {
            let Some(base) = &chain.base else { continue };
            let Some(pos) = hooks.iter().position(|h| *h == base.hook) else {
                continue;
            };
            if table.family == "netdev" && !matches!(base.hook.as_str(), "ingress" | "egress") {
                continue;
            }
            out.push((
                pos,
                Stage {
                    table: key,
                    chain: name,
                    base,
                },
            ));
        }
    }
    out.sort_by(|a, b| {
        (a.0, a.1.base.prio, a.1.table, a.1.chain).cmp(&(b.0, b.1.base.prio, b.1.table, b.1.chain))
    });
    out.into_iter().map(|(_, s)| s).collect()
}

/// Evaluates every path of one family.
pub(crate) fn family<'r>(
    ruleset: &'r Ruleset,
    bits: u32,
    ifaces: &Interfaces,
    notes: &mut Notes,
    cap: usize,
) -> FamilyResult<'r> {
    let space = Space::new(bits, ifaces.len());
    let ctx = Ctx {
        space: space.clone(),
        bits,
        ifaces,
    };
    let mut eval = Eval::new(ruleset, ctx, notes, cap);
    let mut hooks = Vec::new();
    for hook in HOOKS {
        let stages = stages(ruleset, bits == 128, hook);
        let accepted = path(&mut eval, hook, &stages, ifaces);
        hooks.push(HookResult {
            hook,
            stages,
            accepted,
        });
    }
    FamilyResult {
        bits,
        space,
        hooks,
        truncated: eval.truncated,
    }
}

fn path(eval: &mut Eval<'_>, hook: &str, stages: &[Stage<'_>], ifaces: &Interfaces) -> Vec<Live> {
    let space = eval.ctx.space.clone();
    let mut live = vec![Live {
        region: space.universe(),
        certain: true,
        taint: 0,
        via: Vec::new(),
    }];
    let mut dropped: Vec<Live> = Vec::new();
    let truncated_before = eval.truncated;
    for stage in stages {
        let base = stage.base;
        eval.opaque = opaque(hook, base);
        let (enter, skip) = entry(&space, base, live, eval.opaque, ifaces);
        let ChainOut {
            mut accepted,
            dropped: d,
            returned,
        } = eval.run_chain(stage.table, stage.chain, enter, 0);
        dropped.extend(d);
        let policy_label =
            (base.hook == hook).then(|| eval.notes.label(stage.table, stage.chain, None));
        if base.policy.as_deref() == Some("drop") {
            dropped.extend(returned.into_iter().filter(|l| !l.certain));
        } else {
            for mut l in returned {
                if let Some(label) = policy_label {
                    add_via(&mut l.via, &[label]);
                }
                accepted.push(l);
            }
        }
        accepted.extend(skip);
        live = if accepted.len() > 64 {
            merge_live(accepted)
        } else {
            accepted
        };
    }
    eval.opaque = 0;
    if eval.truncated == truncated_before {
        refine(&mut live, &dropped);
    }
    live
}

/// Dimensions a stage cannot see: the output interface before routing, the input interface
/// of locally generated packets, conntrack state before conntrack.
fn opaque(hook: &str, base: &BaseChain) -> u8 {
    let mut mask = 0u8;
    match hook {
        "input" => mask |= 1 << OIF,
        "output" => mask |= 1 << IIF,
        _ => {
            if matches!(base.hook.as_str(), "ingress" | "prerouting") {
                mask |= 1 << OIF;
            }
        }
    }
    let pre_ct = base.hook == "ingress"
        || (matches!(base.hook.as_str(), "prerouting" | "output")
            && base.prio <= CONNTRACK_PRIORITY);
    if pre_ct {
        mask |= 1 << CT;
    }
    mask
}

/// Which regions a base chain sees: NAT chains only the first packet of a connection (state
/// new or related); ingress and egress chains only their devices (nft 1.0.6 does not list
/// them: then any device, possibly).
fn entry(
    space: &Space,
    base: &BaseChain,
    live: Vec<Live>,
    opaque: u8,
    ifaces: &Interfaces,
) -> (Vec<Live>, Vec<Live>) {
    let (dim, set) = if base.chain_type == "nat" {
        (CT, Some(Ivs::from_unsorted(vec![(0, 0), (2, 2)])))
    } else if matches!(base.hook.as_str(), "ingress" | "egress") {
        let dim = if base.hook == "ingress" { IIF } else { OIF };
        let set = (!base.devices.is_empty()).then(|| {
            base.devices
                .iter()
                .fold(Ivs::empty(), |acc, d| acc.union(&ifaces.matching(d)))
        });
        (dim, set)
    } else {
        return (live, Vec::new());
    };
    let mut enter = Vec::new();
    let mut skip = Vec::new();
    for l in live {
        let Some(set) = set
            .as_ref()
            .filter(|_| (l.taint | opaque) & (1 << dim) == 0)
        else {
            let mut u = l;
            u.certain = false;
            enter.push(u.clone());
            skip.push(u);
            continue;
        };
        let inside = l.region.dim(dim).intersect(set);
        let outside = l.region.dim(dim).minus(set);
        if !inside.is_empty() {
            let mut a = l.clone();
            a.region.set(dim, inside);
            enter.push(a);
        }
        if !outside.is_empty() {
            let mut b = l;
            b.region.set(dim, outside);
            skip.push(b);
        }
    }
    let _ = space;
    (enter, skip)
}

/// A packet in an uncertain accepted region that no dropped region holds is accepted on every
/// way it can take: certain after all. Skipped when too costly (it only sharpens `certain`).
fn refine(accepted: &mut Vec<Live>, dropped: &[Live]) {
    let uncertain = accepted.iter().filter(|l| !l.certain).count();
    if uncertain == 0 || uncertain.saturating_mul(dropped.len()) > 4_000_000 {
        return;
    }
    let mut out = Vec::with_capacity(accepted.len());
    for l in accepted.drain(..) {
        if l.certain {
            out.push(l);
            continue;
        }
        let mut rest = vec![l.region.clone()];
        for d in dropped.iter().filter(|d| d.region.intersects(&l.region)) {
            let mut next = Vec::new();
            for piece in &rest {
                piece.subtract(&d.region, &mut next);
            }
            rest = next;
        }
        let covered: Vec<_> = {
            let mut c = vec![l.region.clone()];
            for r in &rest {
                let mut next = Vec::new();
                for piece in &c {
                    piece.subtract(r, &mut next);
                }
                c = next;
            }
            c
        };
        for region in rest {
            out.push(Live {
                region,
                certain: true,
                taint: l.taint,
                via: l.via.clone(),
            });
        }
        for region in covered {
            out.push(Live {
                region,
                certain: false,
                taint: l.taint,
                via: l.via.clone(),
            });
        }
    }
    *accepted = out;
}
