//! Aligning two sequences of interned rule ids: which old rule is which new rule.
//!
//! 1. The common prefix and suffix are matched in linear time.
//! 2. The middle is anchored patience-style: ids that occur exactly once on each side, kept in
//!    the longest order-preserving chain (a longest increasing subsequence, `O(k log k)`).
//! 3. Each gap between anchors is treated the same way (prefix, suffix, anchors unique *within*
//!    the gap), and a gap without unique ids goes to Myers' greedy `O((n+m)·D)` algorithm.
//!
//! All of it runs under a work budget linear in the input plus a constant: the evidence is
//! attacker-controlled, so a crafted ruleset must not make the verifier quadratic. A gap the
//! budget cannot afford (or whose edit distance exceeds [`MAX_D`]) stays unmatched — the script
//! is then less minimal (removals and additions instead of matches), never wrong.

use std::collections::HashMap;

/// Largest edit distance Myers is run to (its trace takes `O(D²)` memory).
const MAX_D: usize = 2048;

/// Work allowed beyond a few passes over the input (about 10–50 ms).
const EXTRA_WORK: u64 = 20_000_000;

/// Matched pairs `(old index, new index)`, strictly increasing in both coordinates.
pub(super) fn align(old: &[u32], new: &[u32]) -> Vec<(usize, usize)> {
    let len = (old.len() + new.len()) as u64;
    let mut aligner = Aligner {
        old,
        new,
        pairs: Vec::with_capacity(old.len().min(new.len())),
        budget: EXTRA_WORK + 8 * len,
    };
    let mut regions = vec![(0, old.len(), 0, new.len())];
    while let Some(region) = regions.pop() {
        aligner.region(region, &mut regions);
    }
    let mut pairs = aligner.pairs;
    pairs.sort_unstable();
    pairs
}

type Region = (usize, usize, usize, usize);

struct Aligner<'a> {
    old: &'a [u32],
    new: &'a [u32],
    pairs: Vec<(usize, usize)>,
    budget: u64,
}

impl Aligner<'_> {
    /// Matches what it can of `old[o0..o1]` against `new[n0..n1]`; pushes sub-regions.
    fn region(&mut self, (mut o0, mut o1, mut n0, mut n1): Region, regions: &mut Vec<Region>) {
        while o0 < o1 && n0 < n1 && self.old.get(o0) == self.new.get(n0) {
            self.pairs.push((o0, n0));
            o0 += 1;
            n0 += 1;
        }
        while o0 < o1 && n0 < n1 && self.old.get(o1 - 1) == self.new.get(n1 - 1) {
            o1 -= 1;
            n1 -= 1;
            self.pairs.push((o1, n1));
        }
        if o0 == o1 || n0 == n1 {
            return;
        }
        let size = (o1 - o0 + n1 - n0) as u64;
        if !self.spend(size * 4) {
            return;
        }
        let old = self.old.get(o0..o1).unwrap_or_default();
        let new = self.new.get(n0..n1).unwrap_or_default();
        let anchors = unique_anchors(old, new);
        if anchors.is_empty() {
            if let Some(matches) = myers(old, new, &mut self.budget) {
                self.pairs
                    .extend(matches.into_iter().map(|(i, j)| (o0 + i, n0 + j)));
            }
            return;
        }
        let (mut po, mut pn) = (o0, n0);
        for (i, j) in anchors {
            let (ai, aj) = (o0 + i, n0 + j);
            self.pairs.push((ai, aj));
            regions.push((po, ai, pn, aj));
            (po, pn) = (ai + 1, aj + 1);
        }
        regions.push((po, o1, pn, n1));
    }

    fn spend(&mut self, work: u64) -> bool {
        match self.budget.checked_sub(work) {
            Some(left) => {
                self.budget = left;
                true
            }
            None => false,
        }
    }
}

/// Ids occurring exactly once in each of `old` and `new`, as `(old index, new index)` pairs,
/// reduced to a longest chain increasing in both (patience diff's anchors).
fn unique_anchors(old: &[u32], new: &[u32]) -> Vec<(usize, usize)> {
    // id → (count in old, count in new, index in old, index in new)
    let mut seen: HashMap<u32, (u32, u32, usize, usize)> = HashMap::with_capacity(old.len());
    for (i, id) in old.iter().enumerate() {
        let e = seen.entry(*id).or_insert((0, 0, i, 0));
        e.0 = e.0.saturating_add(1);
    }
    for (j, id) in new.iter().enumerate() {
        if let Some(e) = seen.get_mut(id) {
            e.1 = e.1.saturating_add(1);
            e.3 = j;
        }
    }
    let mut candidates: Vec<(usize, usize)> = seen
        .into_values()
        .filter(|&(co, cn, _, _)| co == 1 && cn == 1)
        .map(|(_, _, i, j)| (i, j))
        .collect();
    candidates.sort_unstable();
    longest_increasing(&candidates)
}

/// The longest subsequence of `pairs` (sorted by old index) whose new indices increase.
fn longest_increasing(pairs: &[(usize, usize)]) -> Vec<(usize, usize)> {
    // tails[l]: index into `pairs` of the smallest tail of an increasing run of length l + 1.
    let mut tails: Vec<usize> = Vec::new();
    let mut prev: Vec<Option<usize>> = vec![None; pairs.len()];
    for (at, &(_, j)) in pairs.iter().enumerate() {
        let l = tails.partition_point(|&t| pairs.get(t).is_some_and(|p| p.1 < j));
        if l > 0 {
            if let (Some(p), Some(&t)) = (prev.get_mut(at), tails.get(l - 1)) {
                *p = Some(t);
            }
        }
        match tails.get_mut(l) {
            Some(slot) => *slot = at,
            None => tails.push(at),
        }
    }
    let mut out = Vec::with_capacity(tails.len());
    let mut cursor = tails.last().copied();
    while let Some(at) = cursor {
        if let Some(&p) = pairs.get(at) {
            out.push(p);
        }
        cursor = prev.get(at).copied().flatten();
    }
    out.reverse();
    out
}

/// Myers' greedy shortest edit script: the matched pairs of a longest common subsequence, or
/// `None` when the edit distance exceeds [`MAX_D`] or the work exceeds `budget`.
fn myers(a: &[u32], b: &[u32], budget: &mut u64) -> Option<Vec<(usize, usize)>> {
    let (n, m) = (a.len() as isize, b.len() as isize);
    let cap = (a.len() + b.len()).min(MAX_D) as isize;
    // v[k + cap + 1]: furthest x on diagonal k. trace: v over k ∈ [-d-1, d+1] before step d.
    let mut v = vec![0isize; 2 * cap as usize + 3];
    let mut trace: Vec<isize> = Vec::new();
    let idx = |k: isize| (k + cap + 1) as usize;
    for d in 0..=cap {
        let lo = idx(-d - 1);
        trace.extend_from_slice(v.get(lo..lo + 2 * d as usize + 3)?);
        *budget = budget.checked_sub(2 * d as u64 + 1)?;
        for k in (-d..=d).step_by(2) {
            let down = *v.get(idx(k - 1))?;
            let right = *v.get(idx(k + 1))?;
            let mut x = if k == -d || (k != d && down < right) {
                right
            } else {
                down + 1
            };
            let mut y = x - k;
            let start = x;
            while x < n && y < m && a.get(x as usize) == b.get(y as usize) {
                x += 1;
                y += 1;
            }
            *budget = budget.checked_sub((x - start) as u64)?;
            *v.get_mut(idx(k))? = x;
            if x >= n && y >= m {
                return backtrack(&trace, n, m, d);
            }
        }
    }
    None
}

/// Walks the trace back from `(n, m)`, collecting the diagonal (matching) moves.
fn backtrack(trace: &[isize], n: isize, m: isize, dist: isize) -> Option<Vec<(usize, usize)>> {
    let mut out = Vec::new();
    let (mut x, mut y) = (n, m);
    for d in (0..=dist).rev() {
        // The snapshot of step d starts at Σ_{e<d} (2e + 3) = d² + 2d and covers k ∈ [-d-1, d+1].
        let base = (d * d + 2 * d) as usize;
        let at = |k: isize| trace.get(base + (k + d + 1) as usize).copied();
        let k = x - y;
        let prev_k = if k == -d || (k != d && at(k - 1)? < at(k + 1)?) {
            k + 1
        } else {
            k - 1
        };
        let prev_x = if d == 0 { 0 } else { at(prev_k)? };
        let prev_y = if d == 0 { 0 } else { prev_x - prev_k };
        while x > prev_x && y > prev_y {
            x -= 1;
            y -= 1;
            out.push((x as usize, y as usize));
        }
        (x, y) = (prev_x, prev_y);
    }
    out.reverse();
    Some(out)
}
