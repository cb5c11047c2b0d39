//! Evaluating chains over regions: first match, verdicts, `jump`/`goto`/`return`, verdict
//! maps, conditions the space cannot decide (both ways, neither certain), and the live-region
//! cap.

use std::collections::HashMap;
use std::rc::Rc;

use super::compile::{self, CRule, Step, Term};
use super::cond::Cond;
use super::index::LiveSet;
use super::matcher::Ctx;
use super::merge::coalesce;
use super::space::{Region, DADDR, DPORT, SADDR};
use super::{Live, Notes};
use crate::model::Ruleset;

/// Deepest jump nesting the kernel allows.
const MAX_DEPTH: usize = 16;
/// Most rules a region's `via` names.
pub(crate) const MAX_VIA: usize = 8;

/// Where regions end up after a chain.
#[derive(Debug, Default)]
pub(crate) struct ChainOut {
    /// Accepted (ends the base chain).
    pub(crate) accepted: Vec<Live>,
    /// Dropped, rejected or taken off the path — only those not certain (certain drops are
    /// not needed by anything that follows).
    pub(crate) dropped: Vec<Live>,
    /// Fell off the end or returned.
    pub(crate) returned: Vec<Live>,
}

/// One family's evaluator.
pub(crate) struct Eval<'a> {
    pub(crate) ruleset: &'a Ruleset,
    pub(crate) ctx: Ctx<'a>,
    pub(crate) notes: &'a mut Notes,
    pub(crate) cap: usize,
    /// Dimensions the current stage cannot see (bitmask), on top of each region's taint.
    pub(crate) opaque: u8,
    /// A conservative merge happened.
    pub(crate) truncated: bool,
    compiled: HashMap<(String, String), Rc<Vec<CRule>>>,
}

impl<'a> Eval<'a> {
    /// An evaluator for the family of `ctx`.
    pub(crate) fn new(
        ruleset: &'a Ruleset,
        ctx: Ctx<'a>,
        notes: &'a mut Notes,
        cap: usize,
    ) -> Self {
        Self {
            ruleset,
            ctx,
            notes,
            cap,
            opaque: 0,
            truncated: false,
            compiled: HashMap::new(),
        }
    }

    fn rules(&mut self, table: &str, chain: &str) -> Option<Rc<Vec<CRule>>> {
        let key = (table.to_owned(), chain.to_owned());
        if let Some(r) = self.compiled.get(&key) {
            return Some(Rc::clone(r));
        }
        let t = self.ruleset.tables.get(table)?;
        let c = t.chains.get(chain)?;
        let rules: Vec<CRule> = c
            .rules
            .iter()
            .map(|r| compile::rule(r, t, &self.ctx))
            .collect();
        for (i, r) in rules.iter().enumerate() {
            for n in &r.notes {
                self.notes.unevaluated(table, chain, Some(i), n.clone());
            }
        }
        let rules = Rc::new(rules);
        self.compiled.insert(key, Rc::clone(&rules));
        Some(rules)
    }

    /// Runs `chain` of `table` over `input`.
    pub(crate) fn run_chain(
        &mut self,
        table: &str,
        chain: &str,
        input: Vec<Live>,
        depth: usize,
    ) -> ChainOut {
        let mut out = ChainOut::default();
        let Some(rules) = self.rules(table, chain) else {
            self.notes
                .unevaluated(table, chain, None, "chain does not exist".to_owned());
            unknown(input, &mut out, None);
            return out;
        };
        let mut live = LiveSet::new(&self.ctx.space);
        live.extend(input);
        let mut merged_at = 1024;
        for (i, rule) in rules.iter().enumerate() {
            let Some(hull) = &rule.hull else { continue };
            let cands = live.take_intersecting(hull);
            if cands.is_empty() {
                continue;
            }
            let label = self.notes.label(table, chain, Some(i));
            let mut next = Vec::new();
            self.apply(rule, cands, label, depth, table, &mut out, &mut next);
            live.extend(dedupe(next));
            if live.len() > merged_at {
                let all = live.drain();
                live.extend(merge_live(all));
                merged_at = (live.len() * 2).max(1024);
                if live.len() > self.cap {
                    let all = live.drain();
                    live.extend(self.collapse(all, table, chain, i));
                }
            }
        }
        out.returned.extend(live.drain());
        out
    }

    /// Replaces regions by their hull, uncertain: sound (nothing reachable is lost) but coarse.
    fn collapse(&mut self, all: Vec<Live>, table: &str, chain: &str, rule: usize) -> Vec<Live> {
        self.truncated = true;
        self.notes.unevaluated(
            table,
            chain,
            Some(rule),
            format!(
                "more than {} live traffic regions: merged conservatively",
                self.cap
            ),
        );
        let mut it = all.into_iter();
        let Some(mut acc) = it.next() else {
            return Vec::new();
        };
        acc.certain = false;
        for l in it {
            acc.region = acc.region.hull_with(&l.region);
            acc.taint |= l.taint;
            add_via(&mut acc.via, &l.via);
        }
        vec![acc]
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "one call site; the state of one rule"
    )]
    fn apply(
        &mut self,
        rule: &CRule,
        cands: Vec<Live>,
        label: u32,
        depth: usize,
        table: &str,
        out: &mut ChainOut,
        next: &mut Vec<Live>,
    ) {
        let mut cur = cands;
        for step in &rule.steps {
            if cur.is_empty() {
                return;
            }
            match step {
                Step::Match(cond) => {
                    let (hit, miss) = self.split(cur, cond);
                    next.extend(miss);
                    cur = hit;
                }
                Step::Term(t) => {
                    self.term(t, cur, label, depth, table, out, next);
                    return;
                }
                Step::Vmap(arms) => {
                    for l in cur {
                        let mut rest = vec![l];
                        for (cond, t) in arms {
                            let mut hit = Vec::new();
                            let mut miss = Vec::new();
                            for piece in rest {
                                let (h, m) = self.split(vec![piece], cond);
                                hit.extend(h);
                                miss.extend(m);
                            }
                            rest = miss;
                            if !hit.is_empty() {
                                self.term(t, hit, label, depth, table, out, next);
                            }
                        }
                        next.extend(rest);
                    }
                    return;
                }
                Step::Taint(mask) => cur.iter_mut().for_each(|l| l.taint |= mask),
                Step::Unknown => {
                    // May be a verdict, a condition, or nothing: every way, none certain.
                    cur.iter_mut().for_each(|l| l.certain = false);
                    out.dropped.extend(cur.iter().cloned());
                    next.extend(cur.iter().cloned());
                    accept(cur.clone(), label, out);
                }
            }
        }
        next.extend(cur);
    }

    /// Splits regions by a condition: (where it may hold, where it may not).
    fn split(&self, cur: Vec<Live>, cond: &Cond) -> (Vec<Live>, Vec<Live>) {
        if cond.is_never() {
            return (Vec::new(), cur);
        }
        let mut hit = Vec::new();
        let mut miss = Vec::new();
        let space = &self.ctx.space;
        let uses = cond
            .def
            .iter()
            .chain(&cond.maybe)
            .fold(0u8, |m, r| m | space.restricted(r));
        for l in cur {
            let opaque = (l.taint | self.opaque) & uses;
            if opaque != 0 {
                // The condition reads what this region cannot tell: it may hold wherever the
                // rest of it may.
                let widened: Vec<Region> = cond
                    .def
                    .iter()
                    .chain(&cond.maybe)
                    .map(|r| space.widen(r, opaque))
                    .collect();
                let c = Cond {
                    def: Vec::new(),
                    maybe: widened,
                }
                .tidy(space);
                split_one(l, &c, &mut hit, &mut miss);
            } else {
                split_one(l, cond, &mut hit, &mut miss);
            }
        }
        (hit, miss)
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "one verdict, its regions and where they go"
    )]
    fn term(
        &mut self,
        t: &Term,
        mut cur: Vec<Live>,
        label: u32,
        depth: usize,
        table: &str,
        out: &mut ChainOut,
        next: &mut Vec<Live>,
    ) {
        match t {
            Term::Accept => accept(cur, label, out),
            Term::Drop | Term::Stolen => out.dropped.extend(cur.into_iter().filter(|l| !l.certain)),
            Term::Continue => next.extend(cur),
            Term::Return => out.returned.extend(cur),
            Term::Jump(target) | Term::Goto(target) => {
                let res = if depth >= MAX_DEPTH {
                    self.notes.unevaluated(
                        table,
                        target,
                        None,
                        "jump nesting deeper than 16".to_owned(),
                    );
                    let mut res = ChainOut::default();
                    unknown(cur, &mut res, Some(label));
                    res
                } else {
                    self.run_chain(table, target, cur, depth + 1)
                };
                out.accepted.extend(res.accepted);
                out.dropped.extend(res.dropped);
                if matches!(t, Term::Jump(_)) {
                    next.extend(res.returned);
                } else {
                    out.returned.extend(res.returned);
                }
            }
            Term::Queue => {
                cur.iter_mut().for_each(|l| l.certain = false);
                out.dropped.extend(cur.iter().cloned());
                accept(cur, label, out);
            }
            Term::Nat { dst } => {
                for l in &mut cur {
                    if *dst {
                        // The new destination may route the packet off this path.
                        l.taint |= (1 << DADDR) | (1 << DPORT);
                        l.certain = false;
                        out.dropped.push(l.clone());
                    } else {
                        l.taint |= 1 << SADDR;
                    }
                }
                accept(cur, label, out);
            }
            Term::Unknown => {
                cur.iter_mut().for_each(|l| l.certain = false);
                next.extend(cur.iter().cloned());
                unknown(cur, out, Some(label));
            }
        }
    }
}

fn push_via(via: &mut Vec<u32>, label: u32) {
    if via.len() < MAX_VIA && !via.contains(&label) {
        via.push(label);
    }
}

/// Adds `other`'s rules to `via` (up to [`MAX_VIA`]).
pub(crate) fn add_via(via: &mut Vec<u32>, other: &[u32]) {
    for &v in other {
        push_via(via, v);
    }
}

fn accept(cur: Vec<Live>, label: u32, out: &mut ChainOut) {
    for mut l in cur {
        push_via(&mut l.via, label);
        out.accepted.push(l);
    }
}

/// Something not understood happened to `cur`: accepted, dropped or carried on, none certain.
fn unknown(cur: Vec<Live>, out: &mut ChainOut, label: Option<u32>) {
    for mut l in cur {
        l.certain = false;
        out.dropped.push(l.clone());
        out.returned.push(l.clone());
        if let Some(label) = label {
            push_via(&mut l.via, label);
        }
        out.accepted.push(l);
    }
}

/// Splits one region: where `cond` holds (certain if the region was), where it may hold
/// (both ways, uncertain), and where it does not.
fn split_one(l: Live, cond: &Cond, hit: &mut Vec<Live>, miss: &mut Vec<Live>) {
    let touching: Vec<(&Region, bool)> = cond
        .def
        .iter()
        .map(|r| (r, true))
        .chain(cond.maybe.iter().map(|r| (r, false)))
        .filter(|(r, _)| l.region.intersects(r))
        .collect();
    if touching.is_empty() {
        miss.push(l);
        return;
    }
    if let [(r, true)] = touching.as_slice() {
        if l.region.is_subset(r) {
            hit.push(l);
            return;
        }
    }
    let with = |region: Region, certain: bool| Live {
        region,
        certain,
        taint: l.taint,
        via: l.via.clone(),
    };
    let mut rest = vec![l.region.clone()];
    for (r, def) in &touching {
        if let Some(x) = l.region.intersect(r) {
            if *def {
                hit.push(with(x, l.certain));
            } else {
                hit.push(with(x.clone(), false));
                miss.push(with(x, false));
            }
        }
        let mut next = Vec::with_capacity(rest.len() + 2);
        for piece in &rest {
            piece.subtract(r, &mut next);
        }
        rest = next;
    }
    for piece in rest {
        miss.push(with(piece, l.certain));
    }
}

/// One copy of each region that carries on. A condition the space cannot decide sends a
/// region both ways; when the rule (or the chain it jumps to) then does nothing to it, the two
/// copies meet again here, and without this they would double at every such rule.
fn dedupe(next: Vec<Live>) -> Vec<Live> {
    if next.len() < 2 {
        return next;
    }
    let mut seen: HashMap<(Region, u8, Vec<u32>), usize> = HashMap::with_capacity(next.len());
    let mut out: Vec<Live> = Vec::with_capacity(next.len());
    for l in next {
        let key = (l.region.clone(), l.taint, l.via.clone());
        match seen.get(&key).and_then(|&i| out.get_mut(i)) {
            Some(prev) => prev.certain &= l.certain,
            None => {
                seen.insert(key, out.len());
                out.push(l);
            }
        }
    }
    out
}

/// Exact merge of neighbouring live regions with the same certainty, taint and `via`.
pub(crate) fn merge_live(all: Vec<Live>) -> Vec<Live> {
    let items = all
        .into_iter()
        .map(|l| (l.region, (l.certain, l.taint, l.via)))
        .collect();
    coalesce(items, Clone::clone, |_, _| {}, true)
        .into_iter()
        .map(|(region, (certain, taint, via))| Live {
            region,
            certain,
            taint,
            via,
        })
        .collect()
}
