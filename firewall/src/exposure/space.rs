//! The traffic-class space: a region is a product of one interval set per dimension.
//!
//! Every dimension is a range of integers: addresses as numbers, ports, protocol codes (see
//! [`super::values`] for the order that keeps the port-carrying protocols contiguous), conntrack
//! states and interface tokens as small indices. A region with an empty dimension is empty.

/// Number of dimensions.
pub(crate) const NDIM: usize = 7;
/// Source address.
pub(crate) const SADDR: usize = 0;
/// Destination address.
pub(crate) const DADDR: usize = 1;
/// Input interface (token index).
pub(crate) const IIF: usize = 2;
/// Output interface (token index).
pub(crate) const OIF: usize = 3;
/// Conntrack state (index, see `values::CT_STATES`).
pub(crate) const CT: usize = 4;
/// Layer-4 protocol (internal code, see `values::proto_code`).
pub(crate) const PROTO: usize = 5;
/// Destination port. Invariant: a region whose ports are not all ports holds only protocols
/// that carry ports (codes `0..=PORT_PROTOS_MAX`); the decomposition order (proto before port)
/// keeps it.
pub(crate) const DPORT: usize = 6;

/// An inclusive interval.
pub(crate) type Iv = (u128, u128);

/// A sorted set of disjoint, non-adjacent inclusive intervals. One interval is stored inline.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Ivs {
    /// Exactly one interval.
    One([Iv; 1]),
    /// Zero or at least two intervals.
    Many(Vec<Iv>),
}

impl Ivs {
    /// `[lo, hi]`.
    pub(crate) fn one(lo: u128, hi: u128) -> Self {
        Self::One([(lo, hi)])
    }

    /// The empty set.
    pub(crate) fn empty() -> Self {
        Self::Many(Vec::new())
    }

    /// From intervals in any order, overlapping or adjacent.
    pub(crate) fn from_unsorted(mut v: Vec<Iv>) -> Self {
        v.sort_unstable();
        let mut out: Vec<Iv> = Vec::with_capacity(v.len());
        for (lo, hi) in v {
            match out.last_mut() {
                Some(last) if lo <= last.1.saturating_add(1) => last.1 = last.1.max(hi),
                _ => out.push((lo, hi)),
            }
        }
        Self::from_sorted(out)
    }

    /// From sorted, disjoint, non-adjacent intervals.
    fn from_sorted(v: Vec<Iv>) -> Self {
        match v.as_slice() {
            [one] => Self::One([*one]),
            _ => Self::Many(v),
        }
    }

    /// The intervals.
    pub(crate) fn as_slice(&self) -> &[Iv] {
        match self {
            Self::One(a) => a,
            Self::Many(v) => v,
        }
    }

    /// Whether the set is empty.
    pub(crate) fn is_empty(&self) -> bool {
        self.as_slice().is_empty()
    }

    /// Smallest and largest member.
    pub(crate) fn hull(&self) -> Option<Iv> {
        let s = self.as_slice();
        Some((s.first()?.0, s.last()?.1))
    }

    /// Whether the set is exactly `[0, max]`.
    pub(crate) fn is_full(&self, max: u128) -> bool {
        matches!(self, Self::One([(0, hi)]) if *hi == max)
    }

    /// Whether `v` is a member.
    pub(crate) fn contains(&self, v: u128) -> bool {
        self.as_slice().iter().any(|&(lo, hi)| lo <= v && v <= hi)
    }

    /// Whether the two sets share a member.
    pub(crate) fn intersects(&self, other: &Self) -> bool {
        let (a, b) = (self.as_slice(), other.as_slice());
        let (mut i, mut j) = (0, 0);
        while let (Some(x), Some(y)) = (a.get(i), b.get(j)) {
            if x.1 < y.0 {
                i += 1;
            } else if y.1 < x.0 {
                j += 1;
            } else {
                return true;
            }
        }
        false
    }

    /// `self ∩ other`.
    pub(crate) fn intersect(&self, other: &Self) -> Self {
        if let (Self::One([(a, b)]), Self::One([(c, d)])) = (self, other) {
            let (lo, hi) = ((*a).max(*c), (*b).min(*d));
            return if lo <= hi {
                Self::one(lo, hi)
            } else {
                Self::empty()
            };
        }
        let (a, b) = (self.as_slice(), other.as_slice());
        let mut out = Vec::new();
        let (mut i, mut j) = (0, 0);
        while let (Some(x), Some(y)) = (a.get(i), b.get(j)) {
            let (lo, hi) = (x.0.max(y.0), x.1.min(y.1));
            if lo <= hi {
                out.push((lo, hi));
            }
            if x.1 < y.1 {
                i += 1;
            } else {
                j += 1;
            }
        }
        Self::from_sorted(out)
    }

    /// `self \ other`.
    pub(crate) fn minus(&self, other: &Self) -> Self {
        let b = other.as_slice();
        let mut out = Vec::new();
        let mut j = 0;
        for &(lo, hi) in self.as_slice() {
            let mut cur = lo;
            let mut open = true;
            while let Some(&(blo, bhi)) = b.get(j) {
                if bhi < cur {
                    j += 1;
                    continue;
                }
                if blo > hi {
                    break;
                }
                if blo > cur {
                    out.push((cur, blo - 1));
                }
                if bhi >= hi {
                    open = false;
                    break;
                }
                cur = bhi + 1;
                j += 1;
            }
            if open {
                out.push((cur, hi));
            }
        }
        Self::from_sorted(out)
    }

    /// `self ∪ other`.
    pub(crate) fn union(&self, other: &Self) -> Self {
        let mut v = Vec::with_capacity(self.as_slice().len() + other.as_slice().len());
        v.extend_from_slice(self.as_slice());
        v.extend_from_slice(other.as_slice());
        Self::from_unsorted(v)
    }

    /// `self ⊆ other`.
    pub(crate) fn is_subset(&self, other: &Self) -> bool {
        self.minus(other).is_empty()
    }
}

/// A product of interval sets, one per dimension.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Region {
    /// The dimensions, indexed by [`SADDR`] … [`DPORT`].
    pub(crate) dims: [Ivs; NDIM],
}

impl Region {
    /// The dimension `d` (out-of-range indices read as the empty set, never used).
    pub(crate) fn dim(&self, d: usize) -> &Ivs {
        static EMPTY: Ivs = Ivs::Many(Vec::new());
        self.dims.get(d).unwrap_or(&EMPTY)
    }

    /// Replaces dimension `d`.
    pub(crate) fn set(&mut self, d: usize, v: Ivs) {
        if let Some(slot) = self.dims.get_mut(d) {
            *slot = v;
        }
    }

    /// Whether the region holds no point.
    pub(crate) fn is_empty(&self) -> bool {
        self.dims.iter().any(Ivs::is_empty)
    }

    /// Whether the two regions share a point.
    pub(crate) fn intersects(&self, other: &Self) -> bool {
        self.dims
            .iter()
            .zip(&other.dims)
            .all(|(a, b)| a.intersects(b))
    }

    /// `self ∩ other`, or `None` when empty.
    pub(crate) fn intersect(&self, other: &Self) -> Option<Self> {
        let mut out = self.clone();
        for (slot, b) in out.dims.iter_mut().zip(&other.dims) {
            let v = slot.intersect(b);
            if v.is_empty() {
                return None;
            }
            *slot = v;
        }
        Some(out)
    }

    /// `self \ other` as disjoint regions: for each dimension in order, the part of what is
    /// left that lies outside `other` in that dimension (at most [`NDIM`] pieces).
    pub(crate) fn subtract(&self, other: &Self, out: &mut Vec<Self>) {
        if !self.intersects(other) {
            out.push(self.clone());
            return;
        }
        let mut cur = self.clone();
        for d in 0..NDIM {
            let (inside, outside) = {
                let a = cur.dim(d);
                let b = other.dim(d);
                if a.is_subset(b) {
                    continue;
                }
                (a.intersect(b), a.minus(b))
            };
            let mut piece = cur.clone();
            piece.set(d, outside);
            out.push(piece);
            cur.set(d, inside);
        }
    }

    /// The smallest box holding the region: each dimension's hull.
    pub(crate) fn hull(&self) -> Self {
        let mut out = self.clone();
        for slot in &mut out.dims {
            if let Some((lo, hi)) = slot.hull() {
                *slot = Ivs::one(lo, hi);
            }
        }
        out
    }

    /// The smallest box holding both.
    pub(crate) fn hull_with(&self, other: &Self) -> Self {
        let mut out = self.clone();
        for (slot, b) in out.dims.iter_mut().zip(&other.dims) {
            *slot = match (slot.hull(), b.hull()) {
                (Some((a0, a1)), Some((b0, b1))) => Ivs::one(a0.min(b0), a1.max(b1)),
                (Some((a0, a1)), None) | (None, Some((a0, a1))) => Ivs::one(a0, a1),
                (None, None) => Ivs::empty(),
            };
        }
        out
    }
}

/// The bounds of each dimension for one address family and ruleset.
#[derive(Debug, Clone)]
pub(crate) struct Space {
    /// Largest value of each dimension.
    pub(crate) max: [u128; NDIM],
}

impl Space {
    /// The space of `addr_bits`-bit addresses and `ifaces` interface tokens.
    pub(crate) fn new(addr_bits: u32, ifaces: usize) -> Self {
        let addr_max = if addr_bits >= 128 {
            u128::MAX
        } else {
            (1u128 << addr_bits) - 1
        };
        let if_max = (ifaces.max(1) - 1) as u128;
        Self {
            max: [
                addr_max,
                addr_max,
                if_max,
                if_max,
                (super::values::CT_STATES.len() - 1) as u128,
                255,
                65535,
            ],
        }
    }

    /// Largest value of dimension `d`.
    pub(crate) fn max(&self, d: usize) -> u128 {
        self.max.get(d).copied().unwrap_or(0)
    }

    /// Everything.
    pub(crate) fn universe(&self) -> Region {
        Region {
            dims: self.max.map(|m| Ivs::one(0, m)),
        }
    }

    /// Everything, with dimension `d` set to `v`.
    pub(crate) fn with(&self, d: usize, v: Ivs) -> Region {
        let mut r = self.universe();
        r.set(d, v);
        r
    }

    /// Whether dimension `d` of `r` is all values.
    pub(crate) fn is_full(&self, r: &Region, d: usize) -> bool {
        r.dim(d).is_full(self.max(d))
    }

    /// Bitmask of the dimensions `r` restricts.
    pub(crate) fn restricted(&self, r: &Region) -> u8 {
        (0..NDIM)
            .filter(|&d| !self.is_full(r, d))
            .fold(0, |m, d| m | (1 << d))
    }

    /// `r` with the dimensions in `mask` widened to all values.
    pub(crate) fn widen(&self, r: &Region, mask: u8) -> Region {
        let mut out = r.clone();
        for d in (0..NDIM).filter(|d| mask & (1 << d) != 0) {
            out.set(d, Ivs::one(0, self.max(d)));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ivs(v: &[(u128, u128)]) -> Ivs {
        Ivs::from_unsorted(v.to_vec())
    }

    #[test]
    fn interval_algebra() {
        let a = ivs(&[(0, 10), (20, 30)]);
        let b = ivs(&[(5, 25)]);
        assert_eq!(a.intersect(&b), ivs(&[(5, 10), (20, 25)]));
        assert_eq!(a.minus(&b), ivs(&[(0, 4), (26, 30)]));
        assert_eq!(b.minus(&a), ivs(&[(11, 19)]));
        assert_eq!(a.union(&b), ivs(&[(0, 30)]));
        assert_eq!(ivs(&[(0, 3), (4, 9)]), Ivs::one(0, 9));
        assert!(ivs(&[(6, 8)]).is_subset(&a));
        assert!(!b.is_subset(&a));
        assert_eq!(
            Ivs::one(0, u128::MAX).minus(&Ivs::one(0, u128::MAX)),
            Ivs::empty()
        );
        assert_eq!(
            Ivs::one(0, u128::MAX).minus(&Ivs::one(5, 5)),
            ivs(&[(0, 4), (6, u128::MAX)])
        );
    }

    #[test]
    fn region_subtraction_partitions() {
        let space = Space::new(32, 3);
        let u = space.universe();
        let mut m = space.with(SADDR, Ivs::one(10, 20));
        m.set(PROTO, Ivs::one(0, 0));
        m.set(DPORT, Ivs::one(22, 22));
        let mut pieces = Vec::new();
        u.subtract(&m, &mut pieces);
        assert_eq!(pieces.len(), 3);
        for (i, p) in pieces.iter().enumerate() {
            assert!(!p.intersects(&m));
            for q in pieces.iter().skip(i + 1) {
                assert!(!p.intersects(q));
            }
            // The port invariant: restricted ports only with port protocols.
            if !space.is_full(p, DPORT) {
                assert_eq!(p.dim(PROTO), &Ivs::one(0, 0));
            }
        }
    }
}
