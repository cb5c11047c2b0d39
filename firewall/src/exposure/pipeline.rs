//! Paths through the hooks: which base chains a packet on the input, forward or output path
//! passes, in which order, and how their verdicts combine (accept ends one base chain and the
//! packet goes on to the next; drop is final; a chain's policy applies when its rules fall
//! through).

use super::bdd::{Exhausted, FALSE};
use super::classes::{certainty, combine, Labelled, SetClass};
use super::eval::{ChainOut, Eval};
use super::flows::Flows;
use super::matcher::Ctx;
use super::schema::Loopback;
use super::space::{Ivs, Space, CT, IIF, OIF, SADDR};
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
    /// Loopback facts (the input path only).
    pub(crate) loopback: Option<Loopback>,
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

/// Evaluates every path of one family. Beyond `budget` live decision-diagram nodes the family
/// is reported as "everything possible" (sound, and flagged as truncated).
pub(crate) fn family<'r>(
    ruleset: &'r Ruleset,
    bits: u32,
    ifaces: &Interfaces,
    notes: &mut Notes,
    budget: usize,
) -> FamilyResult<'r> {
    let space = Space::new(bits, ifaces.len());
    let ctx = Ctx {
        space: space.clone(),
        bits,
        ifaces,
    };
    let mut eval = Eval::new(ruleset, ctx, notes, budget);
    let mut hooks = Vec::new();
    let mut truncated = false;
    for hook in HOOKS {
        let stages = stages(ruleset, bits == 128, hook);
        let (accepted, loopback) = match path(&mut eval, hook, &stages, ifaces) {
            Ok(done) => done,
            Err(Exhausted) => {
                truncated = true;
                eval.reset();
                everything_possible(&space, hook)
            }
        };
        hooks.push(HookResult {
            hook,
            stages,
            accepted,
            loopback,
        });
    }
    FamilyResult {
        bits,
        space,
        hooks,
        truncated,
    }
}

/// The sound answer when the evaluation could not finish: anything may get through.
fn everything_possible(space: &Space, hook: &str) -> (Vec<Live>, Option<Loopback>) {
    let all = Live {
        region: space.universe(),
        certain: false,
        via: Vec::new(),
    };
    let loopback = (hook == "input").then_some(Loopback {
        accepted_on_lo: false,
        spoofed_loopback_accepted: true,
    });
    (vec![all], loopback)
}

fn path(
    eval: &mut Eval<'_>,
    hook: &str,
    stages: &[Stage<'_>],
    ifaces: &Interfaces,
) -> Result<(Vec<Live>, Option<Loopback>), Exhausted> {
    let space = eval.ctx.space.clone();
    let universe = eval.vars.region(&mut eval.m, &space.universe())?;
    let mut flows = Flows::one(0, universe);
    let mut classes: Option<Vec<SetClass>> = None;
    eval.dropped = FALSE;
    for stage in stages {
        let base = stage.base;
        eval.opaque = opaque(hook, base);
        let (enter, skip) = entry(eval, base, flows, ifaces)?;
        eval.held = skip.sets().collect();
        eval.held.extend(classes.iter().flatten().map(|c| c.set));
        let run = eval.run_chain(stage.table, stage.chain, enter, 0);
        eval.held.clear();
        let ChainOut { accepted, returned } = run.inspect_err(|_| {
            eval.notes.unevaluated(
                stage.table,
                stage.chain,
                None,
                "the evaluation outgrew its memory budget: this path is reported as \
                 possible everywhere"
                    .to_owned(),
            );
        })?;
        let mut out: Vec<Labelled> = accepted
            .into_iter()
            .map(|(label, taint, set)| (Some(label), taint, set))
            .collect();
        if base.policy.as_deref() == Some("drop") {
            let fell = returned.all(&mut eval.m)?;
            eval.dropped = eval.m.or(eval.dropped, fell)?;
        } else {
            let policy =
                (base.hook == hook).then(|| eval.notes.label(stage.table, stage.chain, None));
            out.extend(returned.iter().map(|(t, s)| (policy, t, s)));
        }
        out.extend(skip.iter().map(|(t, s)| (None, t, s)));
        flows = Flows::default();
        for &(_, t, s) in &out {
            flows.add(&mut eval.m, t, s)?;
        }
        classes = Some(combine(eval, classes, out)?);
    }
    eval.opaque = 0;
    let loopback = if hook == "input" {
        Some(loopback(eval, &flows, ifaces)?)
    } else {
        None
    };
    let classes = classes.unwrap_or_else(|| {
        vec![SetClass {
            via: Vec::new(),
            taint: 0,
            set: universe,
        }]
    });
    Ok((certainty(eval, classes)?, loopback))
}

/// Loopback facts from what the path accepts and may drop.
fn loopback(
    eval: &mut Eval<'_>,
    flows: &Flows,
    ifaces: &Interfaces,
) -> Result<Loopback, Exhausted> {
    let space = eval.ctx.space.clone();
    let m = &mut eval.m;
    let accepted = flows.all(m)?;
    let certain = m.diff(accepted, eval.dropped)?;
    let lo = Ivs::one(ifaces.lo(), ifaces.lo());
    // Everything on lo in state new, established, related.
    let mut on_lo = space.with(IIF, lo.clone());
    on_lo.set(CT, Ivs::one(0, 2));
    let on_lo = eval.vars.region(m, &on_lo)?;
    let loopback_sources = if eval.ctx.bits == 32 {
        Ivs::one(0x7f00_0000, 0x7fff_ffff)
    } else {
        Ivs::one(1, 1)
    };
    let mut spoofed = space.with(SADDR, loopback_sources);
    spoofed.set(IIF, Ivs::one(0, ifaces.other()).minus(&lo));
    spoofed.set(CT, Ivs::one(0, 0));
    let spoofed = eval.vars.region(m, &spoofed)?;
    Ok(Loopback {
        accepted_on_lo: m.diff(on_lo, certain)? == FALSE,
        spoofed_loopback_accepted: m.meets(accepted, spoofed),
    })
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

/// Which packets a base chain sees, and which pass it by: NAT chains see only the first
/// packet of a connection (state new or related); ingress and egress chains only their
/// devices (nft 1.0.6 does not list them: then any device, possibly).
fn entry(
    eval: &mut Eval<'_>,
    base: &BaseChain,
    flows: Flows,
    ifaces: &Interfaces,
) -> Result<(Flows, Flows), Exhausted> {
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
        return Ok((flows, Flows::default()));
    };
    let inside = match &set {
        Some(set) => eval
            .vars
            .region(&mut eval.m, &eval.ctx.space.with(dim, set.clone()))?,
        None => FALSE,
    };
    let mut enter = Flows::default();
    let mut skip = Flows::default();
    for (taint, s) in flows.iter() {
        if set.is_none() || (taint | eval.opaque) & (1 << dim) != 0 {
            // The chain may or may not see these packets.
            enter.add(&mut eval.m, taint, s)?;
            skip.add(&mut eval.m, taint, s)?;
            continue;
        }
        let a = eval.m.and(s, inside)?;
        let b = eval.m.diff(s, inside)?;
        enter.add(&mut eval.m, taint, a)?;
        skip.add(&mut eval.m, taint, b)?;
    }
    Ok((enter, skip))
}
