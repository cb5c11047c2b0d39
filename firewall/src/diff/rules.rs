//! The edit script of one chain's rules: added, removed, moved and changed rules with their
//! 1-based positions.
//!
//! Rules are compared as values (the model is normalised, so equal rules have equal canonical
//! bytes). The common prefix and suffix are skipped by direct comparison; the rules of the
//! middle are interned to ids by a hash of their serialisation (collisions resolved by
//! comparing the rules), aligned by [`super::align`], and then:
//! - an unmatched old rule equal to an unmatched new rule is one `moved` entry;
//! - within a hunk (the unmatched run between two matched rules), the remaining removals and
//!   additions are paired into `changed` entries in order, choosing — when their numbers differ
//!   — the order-preserving pairing whose rules share the most statements;
//! - the rest are `removed` and `added`.
//!
//! The script is computed in a canonical orientation (the two middles ordered by their rules'
//! hashes), so `diff(b, a)` is exactly the mirror image of `diff(a, b)`.

use std::cmp::Ordering;
use std::collections::hash_map::{DefaultHasher, Entry};
use std::collections::{HashMap, VecDeque};
use std::hash::Hasher;

use super::align::align;
use super::types::{RuleAt, RuleChange, RuleChangeKind};
use crate::model::Rule;
use crate::render::rule_text;

/// Largest hunk (removals × additions) paired by similarity; larger ones pair in order.
const MAX_PAIRING: usize = 4096;

/// What became of one rule (on its side of the script).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Kept,
    /// Removed (old side) or added (new side).
    Gone,
    Moved(usize),
    Changed(usize),
}

/// The edit script turning `old` into `new`.
pub(super) fn script(old: &[Rule], new: &[Rule]) -> Vec<RuleChange> {
    let prefix = old.iter().zip(new).take_while(|(a, b)| a == b).count();
    let (old_rest, new_rest) = (
        old.get(prefix..).unwrap_or_default(),
        new.get(prefix..).unwrap_or_default(),
    );
    let suffix = old_rest
        .iter()
        .rev()
        .zip(new_rest.iter().rev())
        .take_while(|(a, b)| a == b)
        .count();
    let a = old_rest.get(..old_rest.len() - suffix).unwrap_or_default();
    let b = new_rest.get(..new_rest.len() - suffix).unwrap_or_default();
    if a.is_empty() && b.is_empty() {
        return Vec::new();
    }
    let (ids_a, ids_b, order) = intern(a, b);
    let (fate_a, fate_b) = if order == Ordering::Greater {
        let (fb, fa) = fates(b, a, &ids_b, &ids_a);
        (fa, fb)
    } else {
        fates(a, b, &ids_a, &ids_b)
    };
    walk(a, b, &fate_a, &fate_b, prefix)
}

/// Ids for the rules of both sides (equal rules, equal ids) and the order of the two id-free
/// sequences (by rule hash, then by value), which fixes the orientation of the computation.
fn intern(a: &[Rule], b: &[Rule]) -> (Vec<u32>, Vec<u32>, Ordering) {
    let mut table: HashMap<u64, Vec<(u32, &Rule)>> = HashMap::with_capacity(a.len() + b.len());
    let mut next = 0u32;
    let mut hashes = (Vec::with_capacity(a.len()), Vec::with_capacity(b.len()));
    let mut ids = (Vec::with_capacity(a.len()), Vec::with_capacity(b.len()));
    let mut buf = Vec::with_capacity(1024);
    for (side, rules) in [(0, a), (1, b)] {
        for rule in rules {
            let h = rule_hash(rule, &mut buf);
            let bucket = table.entry(h).or_default();
            let id = match bucket.iter().find(|(_, r)| *r == rule) {
                Some(&(id, _)) => id,
                None => {
                    bucket.push((next, rule));
                    next += 1;
                    next - 1
                }
            };
            let (hs, is) = if side == 0 {
                (&mut hashes.0, &mut ids.0)
            } else {
                (&mut hashes.1, &mut ids.1)
            };
            hs.push(h);
            is.push(id);
        }
    }
    let order = hashes.0.cmp(&hashes.1).then_with(|| {
        // Equal hash sequences with different rules: a collision; order by canonical bytes.
        let bytes = |rs: &[Rule]| rs.iter().map(canonical_bytes).collect::<Vec<_>>();
        bytes(a).cmp(&bytes(b))
    });
    (ids.0, ids.1, order)
}

/// A 64-bit hash of the rule's serialisation, written into `buf` (reused: one allocation for
/// all rules) and hashed in one call.
fn rule_hash(rule: &Rule, buf: &mut Vec<u8>) -> u64 {
    buf.clear();
    if serde_json::to_writer(&mut *buf, rule).is_err() {
        // Not serialisable as JSON (cannot happen for a model built by the parser): hash its
        // debug form instead; equality is still decided by comparing the rules.
        buf.clear();
        buf.extend_from_slice(format!("{rule:?}").as_bytes());
    }
    let mut h = DefaultHasher::new();
    h.write(buf);
    h.finish()
}

fn canonical_bytes(rule: &Rule) -> Vec<u8> {
    let mut out = Vec::new();
    if crate::canonical::jcs::write(&mut out, rule).is_err() {
        out = format!("{rule:?}").into_bytes();
    }
    out
}

/// The fate of each rule of `a` and of `b`.
fn fates(a: &[Rule], b: &[Rule], ids_a: &[u32], ids_b: &[u32]) -> (Vec<Fate>, Vec<Fate>) {
    let pairs = align(ids_a, ids_b);
    let mut fa = vec![Fate::Gone; a.len()];
    let mut fb = vec![Fate::Gone; b.len()];
    for &(i, j) in &pairs {
        set(&mut fa, i, Fate::Kept);
        set(&mut fb, j, Fate::Kept);
    }
    // Moves: an unmatched old rule equal to an unmatched new one, first with first.
    let mut gone: HashMap<u32, VecDeque<usize>> = HashMap::new();
    for (i, f) in fa.iter().enumerate() {
        if let (Fate::Gone, Some(&id)) = (f, ids_a.get(i)) {
            gone.entry(id).or_default().push_back(i);
        }
    }
    for j in 0..fb.len() {
        if fb.get(j) != Some(&Fate::Gone) {
            continue;
        }
        let Some(id) = ids_b.get(j) else { continue };
        if let Entry::Occupied(mut e) = gone.entry(*id) {
            if let Some(i) = e.get_mut().pop_front() {
                set(&mut fa, i, Fate::Moved(j));
                set(&mut fb, j, Fate::Moved(i));
            }
        }
    }
    // Changes: pair what is left within each hunk.
    let bounds = pairs.iter().copied().chain([(a.len(), b.len())]);
    let (mut i0, mut j0) = (0, 0);
    for (i1, j1) in bounds {
        let rem: Vec<usize> = (i0..i1)
            .filter(|&i| fa.get(i) == Some(&Fate::Gone))
            .collect();
        let add: Vec<usize> = (j0..j1)
            .filter(|&j| fb.get(j) == Some(&Fate::Gone))
            .collect();
        for (i, j) in pair_hunk(a, b, &rem, &add) {
            set(&mut fa, i, Fate::Changed(j));
            set(&mut fb, j, Fate::Changed(i));
        }
        (i0, j0) = (i1 + 1, j1 + 1);
    }
    (fa, fb)
}

fn set(fates: &mut [Fate], at: usize, fate: Fate) {
    if let Some(f) = fates.get_mut(at) {
        *f = fate;
    }
}

/// Pairs `min(|rem|, |add|)` removals with additions, order-preserving. Equal numbers pair
/// position by position; otherwise (for small hunks) the pairing that maximises the statements
/// the paired rules share, by dynamic programming.
fn pair_hunk(a: &[Rule], b: &[Rule], rem: &[usize], add: &[usize]) -> Vec<(usize, usize)> {
    let k = rem.len().min(add.len());
    if rem.len() == add.len() || rem.len() * add.len() > MAX_PAIRING {
        return rem
            .iter()
            .copied()
            .zip(add.iter().copied())
            .take(k)
            .collect();
    }
    // Pair every element of the shorter list with a distinct element of the longer one.
    let flip = rem.len() > add.len();
    let (short, long) = if flip { (add, rem) } else { (rem, add) };
    let score = |s: usize, l: usize| -> i64 {
        let (i, j) = if flip { (l, s) } else { (s, l) };
        match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) => similarity(x, y),
            _ => 0,
        }
    };
    let (ns, nl) = (short.len(), long.len());
    let w = nl + 1;
    // best[x * w + y]: best score pairing short[..x] all within long[..y] (None: impossible).
    let mut best: Vec<Option<i64>> = vec![None; (ns + 1) * w];
    for y in 0..=nl {
        set_cell(&mut best, y, Some(0));
    }
    for x in 1..=ns {
        for y in x..=nl {
            let skip = cell(&best, x * w + y - 1);
            let take = cell(&best, (x - 1) * w + y - 1).map(|s| {
                s + match (short.get(x - 1), long.get(y - 1)) {
                    (Some(&s_at), Some(&l_at)) => score(s_at, l_at),
                    _ => 0,
                }
            });
            set_cell(&mut best, x * w + y, skip.max(take));
        }
    }
    let mut out = Vec::with_capacity(k);
    let (mut x, mut y) = (ns, nl);
    while x > 0 && y > 0 {
        if cell(&best, x * w + y) == cell(&best, x * w + y - 1) {
            y -= 1;
            continue;
        }
        if let (Some(&s_at), Some(&l_at)) = (short.get(x - 1), long.get(y - 1)) {
            out.push(if flip { (l_at, s_at) } else { (s_at, l_at) });
        }
        x -= 1;
        y -= 1;
    }
    out.reverse();
    out
}

fn cell(best: &[Option<i64>], at: usize) -> Option<i64> {
    best.get(at).copied().flatten()
}

fn set_cell(best: &mut [Option<i64>], at: usize, v: Option<i64>) {
    if let Some(c) = best.get_mut(at) {
        *c = v;
    }
}

/// Statements of `x` that also occur in `y`, plus one for an equal comment.
fn similarity(x: &Rule, y: &Rule) -> i64 {
    let shared = x.stmts.iter().filter(|s| y.stmts.contains(s)).count() as i64;
    shared + i64::from(x.comment == y.comment)
}

/// The entries in script order: per hunk, removals first, then additions, changes and moves in
/// new order. Positions are 1-based in the whole chain.
fn walk(a: &[Rule], b: &[Rule], fa: &[Fate], fb: &[Fate], offset: usize) -> Vec<RuleChange> {
    let at = |rules: &[Rule], i: usize| RuleAt {
        position: offset + i + 1,
        rule: rules.get(i).map(rule_text).unwrap_or_default(),
    };
    let mut out = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < fa.len() || j < fb.len() {
        match fa.get(i) {
            Some(Fate::Gone) => {
                out.push(RuleChange {
                    change: RuleChangeKind::Removed,
                    old: Some(at(a, i)),
                    new: None,
                });
                i += 1;
                continue;
            }
            Some(Fate::Moved(_) | Fate::Changed(_)) => {
                i += 1;
                continue;
            }
            _ => {}
        }
        let (change, old) = match fb.get(j) {
            Some(Fate::Gone) => (RuleChangeKind::Added, None),
            Some(Fate::Moved(from)) => (RuleChangeKind::Moved, Some(at(a, *from))),
            Some(Fate::Changed(from)) => (RuleChangeKind::Changed, Some(at(a, *from))),
            Some(Fate::Kept) | None => {
                // Both sides are at a kept rule (or one side is exhausted): step over it.
                i += 1;
                j += 1;
                continue;
            }
        };
        out.push(RuleChange {
            change,
            old,
            new: Some(at(b, j)),
        });
        j += 1;
    }
    out
}
