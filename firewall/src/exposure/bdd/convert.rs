//! Between boxes (products of interval sets, [`Region`]) and decision diagrams: the variable
//! layout of the traffic-class space, a box as a diagram, and a diagram as disjoint boxes.
//!
//! Variables are ordered by dimension — protocol, port, conntrack state, input and output
//! interface, source and destination address — each dimension's bits most significant first,
//! so that prefixes and ranges are short paths and the dimensions rules split on most often
//! (protocol and port) sit on top, above the address sets they share.

use super::{Bdd, Exhausted, Manager, FALSE, TRUE};
use crate::exposure::space::{
    Iv, Ivs, Region, Space, CT, DADDR, DPORT, IIF, NDIM, OIF, PROTO, SADDR,
};

/// Dimensions from the top of the diagram down.
const ORDER: [usize; NDIM] = [PROTO, DPORT, CT, IIF, OIF, SADDR, DADDR];

/// Most pieces one dimension of one diagram is cut into before [`Vars::boxes`] gives up and
/// reports the hull (inexact).
const MAX_PIECES: usize = 1 << 20;

/// Where each dimension's bits are.
#[derive(Debug, Clone)]
pub(crate) struct Vars {
    /// First variable of each dimension (indexed by dimension).
    first: [u16; NDIM],
    /// Bits of each dimension.
    bits: [u32; NDIM],
    /// Largest value of each dimension.
    max: [u128; NDIM],
}

impl Vars {
    /// The layout for `space`.
    pub(crate) fn new(space: &Space) -> Self {
        let mut first = [0u16; NDIM];
        let mut bits = [0u32; NDIM];
        let mut next = 0u16;
        for d in ORDER {
            let b = (128 - space.max(d).leading_zeros()).max(1);
            if let (Some(f), Some(w)) = (first.get_mut(d), bits.get_mut(d)) {
                *f = next;
                *w = b;
            }
            next = next.saturating_add(u16::try_from(b).unwrap_or(u16::MAX));
        }
        Self {
            first,
            bits,
            max: space.max,
        }
    }

    fn first(&self, d: usize) -> u16 {
        self.first.get(d).copied().unwrap_or(0)
    }

    fn bits(&self, d: usize) -> u32 {
        self.bits.get(d).copied().unwrap_or(1)
    }

    /// The packets of `region`, exactly.
    pub(crate) fn region(&self, m: &mut Manager, region: &Region) -> Result<Bdd, Exhausted> {
        self.encode(m, region, true)
    }

    /// The packets of `region`, and codes no packet has (conntrack states and interface tokens
    /// past the last) where the region does not restrict the dimension: cheaper, and the same
    /// once intersected with, or taken from, an exact set.
    pub(crate) fn region_loose(&self, m: &mut Manager, region: &Region) -> Result<Bdd, Exhausted> {
        self.encode(m, region, false)
    }

    fn encode(&self, m: &mut Manager, region: &Region, exact: bool) -> Result<Bdd, Exhausted> {
        let mut acc = TRUE;
        for &d in ORDER.iter().rev() {
            let set = region.dim(d);
            let dmax = self.max.get(d).copied().unwrap_or(0);
            let whole = if exact { mask(self.bits(d)) } else { dmax };
            if dmax == whole && set.is_full(dmax) {
                continue;
            }
            acc = self.ivs(m, d, set.as_slice(), acc)?;
            if acc == FALSE {
                return Ok(FALSE);
            }
        }
        Ok(acc)
    }

    /// The union of `regions`, loosely ([`Vars::region_loose`]).
    pub(crate) fn regions<'r>(
        &self,
        m: &mut Manager,
        regions: impl IntoIterator<Item = &'r Region>,
    ) -> Result<Bdd, Exhausted> {
        let mut acc = FALSE;
        for r in regions {
            let b = self.region_loose(m, r)?;
            acc = m.or(acc, b)?;
        }
        Ok(acc)
    }

    /// Values of dimension `d` in `ivs` (sorted, disjoint), continuing with `then`.
    fn ivs(&self, m: &mut Manager, d: usize, ivs: &[Iv], then: Bdd) -> Result<Bdd, Exhausted> {
        let bits = self.bits(d);
        self.ivs_rec(m, self.first(d), bits, 0, 0, ivs, then)
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "one recursive walk down a dimension's bits"
    )]
    fn ivs_rec(
        &self,
        m: &mut Manager,
        var0: u16,
        bits: u32,
        depth: u32,
        base: u128,
        ivs: &[Iv],
        then: Bdd,
    ) -> Result<Bdd, Exhausted> {
        let rem = bits - depth;
        let top = base | mask(rem);
        // Only the intervals that meet [base, top] matter.
        let start = ivs.partition_point(|iv| iv.1 < base);
        let end = ivs.partition_point(|iv| iv.0 <= top);
        let ivs = ivs.get(start..end).unwrap_or(&[]);
        match ivs {
            [] => return Ok(FALSE),
            [(lo, hi)] if *lo <= base && *hi >= top => return Ok(then),
            _ => {}
        }
        let mid = base | (1u128 << (rem - 1));
        let lo = self.ivs_rec(m, var0, bits, depth + 1, base, ivs, then)?;
        let hi = self.ivs_rec(m, var0, bits, depth + 1, mid, ivs, then)?;
        let var = var0.saturating_add(u16::try_from(depth).unwrap_or(u16::MAX));
        m.mk(var, lo, hi)
    }

    /// `f` as disjoint boxes. `exact` is false when a dimension had to be widened to its hull
    /// (pathological diagrams only): the boxes then hold more than `f`.
    pub(crate) fn boxes(&self, m: &Manager, f: Bdd, space: &Space) -> (Vec<Region>, bool) {
        let mut out = Vec::new();
        let mut exact = true;
        let mut partial = space.universe();
        self.boxes_rec(m, f, 0, &mut partial, &mut out, &mut exact);
        (out, exact)
    }

    fn boxes_rec(
        &self,
        m: &Manager,
        f: Bdd,
        k: usize,
        partial: &mut Region,
        out: &mut Vec<Region>,
        exact: &mut bool,
    ) {
        if f == FALSE {
            return;
        }
        let Some(&d) = ORDER.get(k) else {
            out.push(partial.clone());
            return;
        };
        let mut pieces = Vec::new();
        if !self.split(m, f, d, &mut pieces) {
            *exact = false;
            pieces = self.below(m, f, d);
        }
        // Group the pieces by the diagram they lead to.
        pieces.sort_unstable_by_key(|p| p.0);
        let mut rest = pieces.as_slice();
        while let Some(&(next, _)) = rest.first() {
            let n = rest.partition_point(|p| p.0 == next);
            let (group, tail) = rest.split_at(n);
            let set = Ivs::from_unsorted(group.iter().map(|p| p.1).collect());
            let saved = partial.dim(d).clone();
            partial.set(d, set);
            self.boxes_rec(m, next, k + 1, partial, out, exact);
            partial.set(d, saved);
            rest = tail;
        }
    }

    /// Every diagram below dimension `d` that `f` reaches, each with the whole dimension.
    fn below(&self, m: &Manager, f: Bdd, d: usize) -> Vec<(Bdd, Iv)> {
        let end = u32::from(self.first(d)) + self.bits(d);
        let dmax = self.max.get(d).copied().unwrap_or(0);
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        let mut stack = vec![f];
        while let Some(g) = stack.pop() {
            if g == FALSE || !seen.insert(g) {
                continue;
            }
            if u32::from(m.var(g)) >= end {
                out.push((g, (0, dmax)));
            } else {
                let (lo, hi) = m.branches(g);
                stack.extend([lo, hi]);
            }
        }
        out
    }

    /// The values of dimension `d` that lead from `f` to each diagram below the dimension, as
    /// aligned blocks `(next, interval)`. False when there are more than [`MAX_PIECES`].
    fn split(&self, m: &Manager, f: Bdd, d: usize, out: &mut Vec<(Bdd, Iv)>) -> bool {
        let (first, bits) = (self.first(d), self.bits(d));
        let end = u32::from(first) + bits;
        let dmax = self.max.get(d).copied().unwrap_or(0);
        let mut stack = vec![(f, 0u32, 0u128)];
        while let Some((g, depth, prefix)) = stack.pop() {
            if g == FALSE {
                continue;
            }
            let var = m.var(g);
            if u32::from(var) >= end || depth == bits {
                let rem = bits - depth;
                let lo = shl(prefix, rem);
                let hi = (lo | mask(rem)).min(dmax);
                if lo <= hi {
                    out.push((g, (lo, hi)));
                }
            } else if u32::from(var) > u32::from(first) + depth {
                // This bit is not tested here: both values lead to `g`.
                stack.push((g, depth + 1, prefix << 1 | 1));
                stack.push((g, depth + 1, prefix << 1));
            } else {
                let (lo, hi) = m.branches(g);
                stack.push((hi, depth + 1, prefix << 1 | 1));
                stack.push((lo, depth + 1, prefix << 1));
            }
            if out.len() > MAX_PIECES {
                return false;
            }
        }
        true
    }
}

fn mask(bits: u32) -> u128 {
    if bits >= 128 {
        u128::MAX
    } else {
        (1u128 << bits) - 1
    }
}

fn shl(v: u128, by: u32) -> u128 {
    if by >= 128 {
        0
    } else {
        v << by
    }
}

#[cfg(test)]
mod tests;
