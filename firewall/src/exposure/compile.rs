//! Rules compiled for one family: each statement becomes a step the evaluator applies to
//! regions (a condition, a verdict, a verdict map, a change of what the class tells about the
//! packet), plus what could not be understood.

use std::collections::BTreeSet;

use super::cond::Cond;
use super::matcher::{self, condition, Ctx, Left};
use super::space::{Region, CT, DADDR, DPORT, SADDR};
use crate::model::{Expr, MatchOp, NatKind, Payload, Rule, Ruleset, Stmt, Table, Verdict};

/// How a step ends (or redirects) evaluation.
#[derive(Debug, Clone)]
pub(crate) enum Term {
    /// `accept`: ends this base chain.
    Accept,
    /// `drop`, `reject`: final.
    Drop,
    /// `continue`: next rule.
    Continue,
    /// `return`: back to the caller (the policy in a base chain).
    Return,
    /// `jump CHAIN`.
    Jump(String),
    /// `goto CHAIN`.
    Goto(String),
    /// `queue`: user space decides (accept or drop, neither certain).
    Queue,
    /// A NAT statement: accepts for this chain; `dst` rewrites the destination (`dnat`,
    /// `redirect`), else the source.
    Nat {
        /// The destination is rewritten.
        dst: bool,
    },
    /// `fwd`: the packet leaves this path (not delivered).
    Stolen,
    /// A statement not understood: any verdict, or none.
    Unknown,
}

/// One step of a rule.
#[derive(Debug, Clone)]
pub(crate) enum Step {
    /// Continue with the regions where the condition holds; the rest falls to the next rule.
    Match(Cond),
    /// A verdict.
    Term(Term),
    /// A verdict map: per key condition, a verdict; no key → next rule.
    Vmap(Vec<(Cond, Term)>),
    /// The dimensions (bitmask) whose class value no longer tells what the packet carries.
    Taint(u8),
    /// A statement that may do anything (accept, drop, nothing, stop the rule).
    Unknown,
}

/// A compiled rule.
#[derive(Debug, Clone)]
pub(crate) struct CRule {
    /// Steps in order.
    pub(crate) steps: Vec<Step>,
    /// The rule can never match (its conditions before any effect leave nothing).
    pub(crate) never: bool,
    /// What could not be evaluated, for `unevaluated`.
    pub(crate) notes: Vec<String>,
}

/// Compiles one rule of `table`.
pub(crate) fn rule(r: &Rule, table: &Table, ctx: &Ctx<'_>) -> CRule {
    let mut steps = Vec::with_capacity(r.stmts.len());
    let mut notes = Vec::new();
    for s in &r.stmts {
        stmt(s, table, ctx, &mut steps, &mut notes);
    }
    let never = hull(&steps, ctx).is_none();
    CRule {
        steps,
        never,
        notes,
    }
}

fn stmt(s: &Stmt, table: &Table, ctx: &Ctx<'_>, steps: &mut Vec<Step>, notes: &mut Vec<String>) {
    let maybe = || Step::Match(Cond::maybe_in(ctx.space.universe()));
    match s {
        Stmt::Verdict(v) => steps.push(Step::Term(term(v, notes))),
        Stmt::Match(m) => {
            let lefts = lefts(&m.left, ctx);
            let (cond, note) = condition(&lefts, m.op, &m.right, table, ctx);
            notes.extend(note);
            steps.push(Step::Match(cond));
        }
        Stmt::Vmap(lookup) => {
            let lefts = lefts(&lookup.key, ctx);
            let mut arms = Vec::new();
            match matcher::elements(&lookup.data, table) {
                Ok(elements) => {
                    for e in elements {
                        let Expr::Mapping(k, v) = e else {
                            notes.push(format!("verdict map element {e:?} is not key : verdict"));
                            arms.push((Cond::maybe_in(ctx.space.universe()), Term::Unknown));
                            continue;
                        };
                        let (cond, note) = condition(&lefts, MatchOp::Eq, k, table, ctx);
                        notes.extend(note);
                        let t = match v.as_ref() {
                            Expr::Verdict(verdict) => term(verdict, notes),
                            other => {
                                notes.push(format!("verdict map value {other:?} is not a verdict"));
                                Term::Unknown
                            }
                        };
                        arms.push((cond, t));
                    }
                }
                Err(why) => {
                    notes.push(match why {
                        matcher::Why::Unknown(r) => r,
                        matcher::Why::Unmodelled => "verdict map data not understood".to_owned(),
                    });
                    arms.push((Cond::maybe_in(ctx.space.universe()), Term::Unknown));
                }
            }
            steps.push(Step::Vmap(arms));
        }
        Stmt::Quota(_) | Stmt::Limit(_) | Stmt::CtCount(_) | Stmt::Meter(_) => steps.push(maybe()),
        Stmt::Mangle(m) => {
            let taint = match &m.key {
                Expr::Payload(Payload::Named { field, .. }) => match field.as_str() {
                    "saddr" => 1 << SADDR,
                    "daddr" => 1 << DADDR,
                    "dport" => 1 << DPORT,
                    _ => 0,
                },
                Expr::Ct(c) if c.key == "state" => 1 << CT,
                _ => 0,
            };
            if taint != 0 {
                steps.push(Step::Taint(taint));
            }
        }
        Stmt::Notrack => steps.push(Step::Taint(1 << CT)),
        Stmt::Nat(kind, _) => steps.push(Step::Term(Term::Nat {
            dst: matches!(kind, NatKind::Dnat | NatKind::Redirect),
        })),
        Stmt::Tproxy(_) => steps.push(Step::Taint((1 << DADDR) | (1 << DPORT))),
        Stmt::Reject(_) => steps.push(Step::Term(Term::Drop)),
        Stmt::Fwd(_) => steps.push(Step::Term(Term::Stolen)),
        Stmt::Queue(_) => steps.push(Step::Term(Term::Queue)),
        Stmt::Synproxy(_) => steps.push(Step::Unknown),
        Stmt::Xt(x) => {
            notes.push(format!(
                "iptables-nft {} {:?}: the listing does not carry its arguments",
                x.xt_type, x.name
            ));
            if x.xt_type == "match" {
                steps.push(maybe());
            } else {
                steps.push(Step::Unknown);
            }
        }
        Stmt::Text(t) => {
            let short: String = t.split_whitespace().collect::<Vec<_>>().join(" ");
            notes.push(format!(
                "statement listed as text only: {}",
                truncate(&short, 120)
            ));
            steps.push(Step::Unknown);
        }
        Stmt::Unknown(v) => {
            notes.push(format!(
                "unknown statement {}",
                truncate(&v.to_string(), 120)
            ));
            steps.push(Step::Unknown);
        }
        Stmt::Counter(_)
        | Stmt::Log(_)
        | Stmt::Dup(_)
        | Stmt::Set(_)
        | Stmt::Map(_)
        | Stmt::CtHelper(_)
        | Stmt::CtTimeout(_)
        | Stmt::CtExpectation(_)
        | Stmt::Secmark(_)
        | Stmt::Flow(_)
        | Stmt::Reset(_)
        | Stmt::Last => {}
    }
}

fn term(v: &Verdict, notes: &mut Vec<String>) -> Term {
    match v {
        Verdict::Accept => Term::Accept,
        Verdict::Drop => Term::Drop,
        Verdict::Continue => Term::Continue,
        Verdict::Return => Term::Return,
        Verdict::Jump(t) => Term::Jump(t.clone()),
        Verdict::Goto(t) => Term::Goto(t.clone()),
        Verdict::Queue => Term::Queue,
        Verdict::Break => {
            notes.push("verdict break is not a verdict nft rules carry".to_owned());
            Term::Unknown
        }
    }
}

fn lefts(e: &Expr, ctx: &Ctx<'_>) -> Vec<Left> {
    match e {
        Expr::Concat(parts) => parts.iter().map(|p| matcher::left(p, ctx)).collect(),
        other => vec![matcher::left(other, ctx)],
    }
}

/// The box outside which the rule has no effect: the conditions that come before any step
/// that changes something, intersected.
fn hull(steps: &[Step], ctx: &Ctx<'_>) -> Option<Region> {
    let mut hull = ctx.space.universe();
    for step in steps {
        let h = match step {
            Step::Match(c) => c.hull(),
            Step::Vmap(arms) => arms
                .iter()
                .filter_map(|(c, _)| c.hull())
                .reduce(|a, b| a.hull_with(&b)),
            _ => break,
        };
        hull = hull.intersect(&h?)?;
        if matches!(step, Step::Vmap(_)) {
            break;
        }
    }
    Some(hull)
}

fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

/// Every interface name or wildcard the ruleset compares `iif`, `iifname`, `oif` or `oifname`
/// with (in matches, verdict-map keys, the sets they use), and base-chain devices.
pub(crate) fn interface_names(ruleset: &Ruleset) -> BTreeSet<String> {
    let is_if = |e: &Expr| matches!(e, Expr::Meta(m) if matches!(m.key.as_str(), "iif" | "iifname" | "oif" | "oifname"));
    let mut out = BTreeSet::new();
    for table in ruleset.tables.values() {
        for chain in table.chains.values() {
            if let Some(base) = &chain.base {
                out.extend(base.devices.iter().cloned());
            }
            for r in &chain.rules {
                for s in &r.stmts {
                    let (key, right) = match s {
                        Stmt::Match(m) => (&m.left, &m.right),
                        Stmt::Vmap(l) => (&l.key, &l.data),
                        _ => continue,
                    };
                    let positions: Vec<usize> = match key {
                        Expr::Concat(parts) => (0..parts.len())
                            .filter(|&i| parts.get(i).is_some_and(is_if))
                            .collect(),
                        k if is_if(k) => vec![0],
                        _ => continue,
                    };
                    let concat = matches!(key, Expr::Concat(_));
                    for e in matcher::elements(right, table).unwrap_or_default() {
                        let e = match e {
                            Expr::Mapping(k, _) => k.as_ref(),
                            other => other,
                        };
                        for &i in &positions {
                            let part = match (concat, e) {
                                (true, Expr::Concat(p)) => p.get(i),
                                (false, v) => Some(v),
                                _ => None,
                            };
                            if let Some(Expr::String(name)) = part {
                                out.insert(name.clone());
                            }
                        }
                    }
                }
            }
        }
    }
    out
}
