//! Evaluating chains over sets of packets (decision diagrams): first match, verdicts,
//! `jump`/`goto`/`return`, verdict maps, conditions the space cannot decide, and the
//! dimensions NAT and friends make unreadable.
//!
//! Sets are *may* sets: a packet is in the set a rule accepts if, for some resolution of what
//! the space does not model (marks, rate limits, …), that rule accepts it. Every drop goes
//! into one set, [`Eval::dropped`]; a packet accepted on a path is *certain* exactly when it
//! is not in that set, so certainty needs no bookkeeping of its own.

use std::collections::HashMap;
use std::rc::Rc;

use super::bdd::{Bdd, Exhausted, Manager, Vars, FALSE};
use super::compile::{self, CRule, Step, Term};
use super::cond::Cond;
use super::flows::Flows;
use super::matcher::Ctx;
use super::space::{DADDR, DPORT, SADDR};
use super::Notes;
use crate::model::Ruleset;

/// Deepest jump nesting the kernel allows.
const MAX_DEPTH: usize = 16;
/// Live nodes below which no garbage collection runs.
const GC_MIN: usize = 1 << 20;
/// Conditions with at least this many regions keep their diagram for the whole evaluation.
const CACHED_COND: usize = 8;

/// What one run of a chain produced.
#[derive(Debug, Default)]
pub(crate) struct ChainOut {
    /// `(rule label, taint, packets)` accepted by a rule of the chain or of one it jumped to.
    pub(crate) accepted: Vec<(u32, u8, Bdd)>,
    /// Fell off the end, or returned.
    pub(crate) returned: Flows,
}

/// The state of one chain run, kept where garbage collection can see it.
#[derive(Debug, Default)]
struct Frame {
    /// What reaches the next rule.
    reach: Flows,
    /// The current rule's inputs not yet processed.
    todo: Vec<(u8, Bdd)>,
    /// What carries on past the current rule.
    next: Flows,
    /// Verdict-map remainders held across a jump.
    pending: Vec<Bdd>,
    out: ChainOut,
}

/// A chain's rules, compiled for the family, with their labels.
#[derive(Debug)]
struct Compiled {
    rules: Vec<CRule>,
    labels: Vec<u32>,
}

/// One family's evaluator.
pub(crate) struct Eval<'a> {
    pub(crate) ruleset: &'a Ruleset,
    pub(crate) ctx: Ctx<'a>,
    pub(crate) notes: &'a mut Notes,
    pub(crate) m: Manager,
    pub(crate) vars: Vars,
    /// Dimensions the current stage cannot see (bitmask), on top of each flow's taint.
    pub(crate) opaque: u8,
    /// Everything that may be dropped on the current path.
    pub(crate) dropped: Bdd,
    /// Sets the caller holds across [`Eval::run_chain`].
    pub(crate) held: Vec<Bdd>,
    frames: Vec<Frame>,
    compiled: HashMap<(String, String), Rc<Compiled>>,
    conds: HashMap<(usize, u8), (Bdd, Bdd)>,
    gc_at: usize,
}

impl<'a> Eval<'a> {
    /// An evaluator for the family of `ctx`, with at most `budget` live nodes.
    pub(crate) fn new(
        ruleset: &'a Ruleset,
        ctx: Ctx<'a>,
        notes: &'a mut Notes,
        budget: usize,
    ) -> Self {
        let vars = Vars::new(&ctx.space);
        Self {
            ruleset,
            ctx,
            notes,
            m: Manager::new(budget),
            vars,
            opaque: 0,
            dropped: FALSE,
            held: Vec::new(),
            frames: vec![Frame::default()],
            compiled: HashMap::new(),
            conds: HashMap::new(),
            gc_at: GC_MIN,
        }
    }

    fn rules(&mut self, table: &str, chain: &str) -> Option<Rc<Compiled>> {
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
        let mut labels = Vec::with_capacity(rules.len());
        for (i, r) in rules.iter().enumerate() {
            for n in &r.notes {
                self.notes.unevaluated(table, chain, Some(i), n.clone());
            }
            labels.push(self.notes.label(table, chain, Some(i)));
        }
        let compiled = Rc::new(Compiled { rules, labels });
        self.compiled.insert(key, Rc::clone(&compiled));
        Some(compiled)
    }

    #[expect(
        clippy::indexing_slicing,
        reason = "`frames` always holds the root frame: run_chain pops only what it pushed"
    )]
    fn top(&mut self) -> &mut Frame {
        let last = self.frames.len() - 1;
        &mut self.frames[last]
    }

    /// Runs `chain` of `table` over `input`.
    pub(crate) fn run_chain(
        &mut self,
        table: &str,
        chain: &str,
        input: Flows,
        depth: usize,
    ) -> Result<ChainOut, Exhausted> {
        let Some(compiled) = self.rules(table, chain) else {
            self.notes
                .unevaluated(table, chain, None, "chain does not exist".to_owned());
            return self.unknown(input, None);
        };
        self.frames.push(Frame {
            reach: input,
            ..Frame::default()
        });
        for (rule, &label) in compiled.rules.iter().zip(&compiled.labels) {
            if rule.never {
                continue;
            }
            self.collect_garbage();
            let flows = std::mem::take(&mut self.top().reach);
            if flows.is_empty() {
                break;
            }
            self.top().todo = flows.into_vec();
            while let Some((taint, set)) = self.top().todo.pop() {
                self.rule(rule, taint, set, label, depth, table)?;
            }
            let next = std::mem::take(&mut self.top().next);
            self.top().reach = next;
        }
        let mut frame = if self.frames.len() > 1 {
            self.frames.pop().unwrap_or_default()
        } else {
            Frame::default()
        };
        frame.out.returned.union(&mut self.m, frame.reach)?;
        Ok(frame.out)
    }

    /// Something not understood happened to `input`: accepted, dropped or returned.
    fn unknown(&mut self, input: Flows, label: Option<u32>) -> Result<ChainOut, Exhausted> {
        let mut out = ChainOut::default();
        for (taint, set) in input.iter() {
            self.dropped = self.m.or(self.dropped, set)?;
            if let Some(label) = label {
                out.accepted.push((label, taint, set));
            }
        }
        out.returned = input;
        Ok(out)
    }

    /// Applies one rule to the packets `set` (with `taint`) that reach it.
    fn rule(
        &mut self,
        rule: &CRule,
        mut taint: u8,
        set: Bdd,
        label: u32,
        depth: usize,
        table: &str,
    ) -> Result<(), Exhausted> {
        let mut cur = set;
        let mut steps = rule.steps.as_slice();
        while let Some((step, rest)) = steps.split_first() {
            steps = rest;
            if cur == FALSE {
                return Ok(());
            }
            match step {
                Step::Match(cond) => {
                    // A run of matches is one condition: what misses any of them carries on.
                    // Intersecting the small conditions first keeps every operation on the
                    // (large) reaching set along the conditions' own paths.
                    let (mut def, mut may) = self.cond(cond, taint)?;
                    while let Some((Step::Match(next), rest)) = steps.split_first() {
                        steps = rest;
                        let (d, m) = self.cond(next, taint)?;
                        def = self.m.and(def, d)?;
                        may = self.m.and(may, m)?;
                    }
                    let miss = self.m.diff(cur, def)?;
                    self.carry(taint, miss)?;
                    cur = self.m.and(cur, may)?;
                }
                Step::Term(t) => return self.term(t, taint, cur, label, depth, table),
                Step::Vmap(arms) => {
                    let mut rest = cur;
                    for (cond, t) in arms {
                        let (def, may) = self.cond(cond, taint)?;
                        let hit = self.m.and(rest, may)?;
                        rest = self.m.diff(rest, def)?;
                        if hit != FALSE {
                            self.top().pending.push(rest);
                            self.term(t, taint, hit, label, depth, table)?;
                            rest = self.top().pending.pop().unwrap_or(FALSE);
                        }
                    }
                    return self.carry(taint, rest);
                }
                Step::Taint(mask) => taint |= mask,
                Step::Unknown => {
                    // May be a verdict, a condition, or nothing: every way.
                    self.drop_set(cur)?;
                    self.top().out.accepted.push((label, taint, cur));
                    self.carry(taint, cur)?;
                }
            }
        }
        self.carry(taint, cur)
    }

    /// `set` carries on to the next rule.
    fn carry(&mut self, taint: u8, set: Bdd) -> Result<(), Exhausted> {
        let m = &mut self.m;
        match self.frames.last_mut() {
            Some(f) => f.next.add(m, taint, set),
            None => Ok(()),
        }
    }

    fn drop_set(&mut self, set: Bdd) -> Result<(), Exhausted> {
        self.dropped = self.m.or(self.dropped, set)?;
        Ok(())
    }

    fn ret(&mut self, taint: u8, set: Bdd) -> Result<(), Exhausted> {
        let m = &mut self.m;
        match self.frames.last_mut() {
            Some(f) => f.out.returned.add(m, taint, set),
            None => Ok(()),
        }
    }

    fn term(
        &mut self,
        t: &Term,
        mut taint: u8,
        cur: Bdd,
        label: u32,
        depth: usize,
        table: &str,
    ) -> Result<(), Exhausted> {
        match t {
            Term::Accept => self.top().out.accepted.push((label, taint, cur)),
            Term::Drop | Term::Stolen => self.drop_set(cur)?,
            Term::Continue => self.carry(taint, cur)?,
            Term::Return => self.ret(taint, cur)?,
            Term::Jump(target) | Term::Goto(target) => {
                let input = Flows::one(taint, cur);
                let res = if depth >= MAX_DEPTH {
                    self.notes.unevaluated(
                        table,
                        target,
                        None,
                        "jump nesting deeper than 16".to_owned(),
                    );
                    self.unknown(input, Some(label))?
                } else {
                    self.run_chain(table, target, input, depth + 1)?
                };
                self.top().out.accepted.extend(res.accepted);
                for (t2, set) in res.returned.iter() {
                    if matches!(t, Term::Jump(_)) {
                        self.carry(t2, set)?;
                    } else {
                        self.ret(t2, set)?;
                    }
                }
            }
            Term::Queue => {
                self.drop_set(cur)?;
                self.top().out.accepted.push((label, taint, cur));
            }
            Term::Nat { dst } => {
                if *dst {
                    // The new destination may route the packet off this path.
                    taint |= (1 << DADDR) | (1 << DPORT);
                    self.drop_set(cur)?;
                } else {
                    taint |= 1 << SADDR;
                }
                self.top().out.accepted.push((label, taint, cur));
            }
            Term::Unknown => {
                self.carry(taint, cur)?;
                self.ret(taint, cur)?;
                self.drop_set(cur)?;
                self.top().out.accepted.push((label, taint, cur));
            }
        }
        Ok(())
    }

    /// A condition as `(where it certainly holds, where it may hold)` for packets with
    /// `taint`: conditions on dimensions the packet's class no longer describes, or the stage
    /// cannot see, may hold wherever the rest of them may.
    fn cond(&mut self, cond: &Cond, taint: u8) -> Result<(Bdd, Bdd), Exhausted> {
        let space = &self.ctx.space;
        let opaque = (taint | self.opaque) & cond.uses(space);
        let key = (std::ptr::from_ref(cond) as usize, opaque);
        if let Some(&hit) = self.conds.get(&key) {
            return Ok(hit);
        }
        let (def, may) = if opaque != 0 {
            let widened: Vec<_> = cond
                .def
                .iter()
                .chain(&cond.maybe)
                .map(|r| space.widen(r, opaque))
                .collect();
            (FALSE, self.vars.regions(&mut self.m, &widened)?)
        } else {
            let def = self.vars.regions(&mut self.m, &cond.def)?;
            let maybe = self.vars.regions(&mut self.m, &cond.maybe)?;
            (def, self.m.or(def, maybe)?)
        };
        if cond.def.len() + cond.maybe.len() >= CACHED_COND {
            self.conds.insert(key, (def, may));
        }
        Ok((def, may))
    }

    /// Forgets every set after the budget was exceeded, so that the next path starts afresh.
    pub(crate) fn reset(&mut self) {
        self.frames = vec![Frame::default()];
        self.conds.clear();
        self.held.clear();
        self.dropped = FALSE;
        self.m.gc([]);
        self.gc_at = GC_MIN;
    }

    /// Frees what no frame, held set or cached condition reaches, when memory has grown.
    fn collect_garbage(&mut self) {
        if self.m.live() < self.gc_at {
            return;
        }
        let mut roots = vec![self.dropped];
        roots.extend(&self.held);
        for f in &self.frames {
            roots.extend(f.reach.sets());
            roots.extend(f.todo.iter().map(|p| p.1));
            roots.extend(f.next.sets());
            roots.extend(&f.pending);
            roots.extend(f.out.accepted.iter().map(|a| a.2));
            roots.extend(f.out.returned.sets());
        }
        roots.extend(self.conds.values().flat_map(|&(d, m)| [d, m]));
        self.m.gc(roots);
        self.gc_at = (self.m.live() * 2).max(GC_MIN);
    }
}
