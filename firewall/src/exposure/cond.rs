//! Match conditions: what a `match` (or one key of a verdict map) says about the traffic-class
//! space, as regions where it certainly matches (`def`) and regions where it may or may not
//! (`maybe`, for anything the space does not model). Outside both it certainly does not match.

use super::merge::coalesce;
use super::space::{Ivs, Region, Space, DPORT, PROTO};
use super::values;

/// Largest number of regions a condition may have before it is widened to its hull.
const MAX_COND_REGIONS: usize = 50_000;

/// A condition over the space.
#[derive(Debug, Clone, Default)]
pub(crate) struct Cond {
    /// Regions where it certainly holds (disjoint from `maybe`).
    pub(crate) def: Vec<Region>,
    /// Regions where it may or may not hold.
    pub(crate) maybe: Vec<Region>,
}

impl Cond {
    /// Never holds.
    pub(crate) fn never() -> Self {
        Self::default()
    }

    /// Holds exactly in `r`.
    pub(crate) fn exactly(r: Region) -> Self {
        Self {
            def: vec![r],
            maybe: Vec::new(),
        }
    }

    /// May hold in `r` (nothing certain).
    pub(crate) fn maybe_in(r: Region) -> Self {
        Self {
            def: Vec::new(),
            maybe: vec![r],
        }
    }

    /// Bitmask of the dimensions the condition reads.
    pub(crate) fn uses(&self, space: &Space) -> u8 {
        self.def
            .iter()
            .chain(&self.maybe)
            .fold(0u8, |m, r| m | space.restricted(r))
    }

    /// The smallest box outside which it never holds.
    pub(crate) fn hull(&self) -> Option<Region> {
        self.def
            .iter()
            .chain(&self.maybe)
            .fold(None, |acc: Option<Region>, r| match acc {
                None => Some(r.hull()),
                Some(h) => Some(h.hull_with(r)),
            })
    }

    /// The negation within `within` (the implicit dependencies of the match still apply).
    pub(crate) fn negate_within(&self, within: &Region, space: &Space) -> Self {
        let mut rest = vec![within.clone()];
        for r in self.def.iter().chain(&self.maybe) {
            let mut next = Vec::with_capacity(rest.len() + 4);
            for piece in &rest {
                piece.subtract(r, &mut next);
            }
            rest = next;
            if rest.len() > MAX_COND_REGIONS {
                return Self::maybe_in(within.clone());
            }
        }
        let maybe = self
            .maybe
            .iter()
            .filter_map(|m| m.intersect(within))
            .collect();
        Self { def: rest, maybe }.tidy(space)
    }

    /// Keeps the port invariant, merges neighbours, and widens runaway conditions.
    pub(crate) fn tidy(self, space: &Space) -> Self {
        let mut def = Vec::with_capacity(self.def.len());
        let mut maybe = Vec::with_capacity(self.maybe.len());
        for r in self.def {
            split_ports(r, space, &mut def, &mut maybe);
        }
        for r in self.maybe {
            let mut sink = Vec::new();
            split_ports(r, space, &mut sink, &mut maybe);
            maybe.extend(sink);
        }
        let def = merge(def);
        let maybe: Vec<Region> = merge(maybe)
            .into_iter()
            .flat_map(|m| {
                let mut rest = vec![m];
                for d in &def {
                    let mut next = Vec::new();
                    for piece in &rest {
                        piece.subtract(d, &mut next);
                    }
                    rest = next;
                }
                rest
            })
            .collect();
        if def.len() + maybe.len() > MAX_COND_REGIONS {
            let hull = Self {
                def: Vec::new(),
                maybe: def.into_iter().chain(maybe).collect(),
            }
            .hull();
            return hull.map_or_else(Self::never, Self::maybe_in);
        }
        Self { def, maybe }
    }
}

/// A region that restricts ports but holds protocols without ports is split: the part with
/// port protocols keeps its meaning; the rest reads bytes that are not a port (`th dport` on
/// ICMP), so it goes to `maybe` with all ports.
fn split_ports(r: Region, space: &Space, def: &mut Vec<Region>, maybe: &mut Vec<Region>) {
    if space.is_full(&r, DPORT) || r.dim(PROTO).is_subset(&values::port_protos()) {
        def.push(r);
        return;
    }
    let with_ports = r.dim(PROTO).intersect(&values::port_protos());
    let without = r.dim(PROTO).minus(&values::port_protos());
    if !with_ports.is_empty() {
        let mut a = r.clone();
        a.set(PROTO, with_ports);
        def.push(a);
    }
    let mut b = r;
    b.set(PROTO, without);
    b.set(DPORT, Ivs::one(0, space.max(DPORT)));
    maybe.push(b);
}

fn merge(regions: Vec<Region>) -> Vec<Region> {
    if regions.len() < 2 {
        return regions;
    }
    coalesce(
        regions.into_iter().map(|r| (r, ())).collect(),
        |_| (),
        |_, _| {},
        false,
    )
    .into_iter()
    .map(|(r, ())| r)
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exposure::space::SADDR;

    #[test]
    fn negation_keeps_dependencies_and_maybe() {
        let space = Space::new(32, 1);
        let tcp = space.with(PROTO, Ivs::one(0, 0));
        let mut port22 = tcp.clone();
        port22.set(DPORT, Ivs::one(22, 22));
        let not22 = Cond::exactly(port22).negate_within(&tcp, &space);
        assert_eq!(not22.def.len(), 1);
        assert_eq!(
            not22.def[0].dim(DPORT),
            &Ivs::from_unsorted(vec![(0, 21), (23, 65535)])
        );
        assert_eq!(not22.def[0].dim(PROTO), &Ivs::one(0, 0));

        let m = Cond::maybe_in(space.with(SADDR, Ivs::one(0, 9)));
        let n = m.negate_within(&space.universe(), &space);
        assert_eq!(n.maybe.len(), 1);
        assert_eq!(n.def.len(), 1);
        assert_eq!(n.def[0].dim(SADDR).hull(), Some((10, u128::from(u32::MAX))));
    }

    #[test]
    fn th_dport_on_portless_protocols_is_maybe() {
        let space = Space::new(32, 1);
        let c = Cond::exactly(space.with(DPORT, Ivs::one(53, 53))).tidy(&space);
        assert_eq!(c.def.len(), 1);
        assert_eq!(c.def[0].dim(PROTO), &values::port_protos());
        assert_eq!(c.maybe.len(), 1);
        assert!(space.is_full(&c.maybe[0], DPORT));
    }
}
