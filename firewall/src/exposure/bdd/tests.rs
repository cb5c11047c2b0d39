//! The manager against interval arithmetic: set operations, garbage collection, the budget.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "test code")]

use proptest::prelude::*;

use super::*;
use crate::exposure::space::{Ivs, Region, Space, DPORT, SADDR};

/// A space with 8-bit addresses would not exist; 32-bit with small values keeps cases readable.
fn space() -> Space {
    Space::new(32, 3)
}

fn region(space: &Space, saddr: (u128, u128), ports: (u128, u128)) -> Region {
    let mut r = space.with(SADDR, Ivs::one(saddr.0, saddr.1));
    r.set(DPORT, Ivs::one(ports.0, ports.1));
    r
}

/// The set of `(saddr, port)` points of a diagram, over small ranges.
fn points(m: &Manager, vars: &Vars, space: &Space, f: Bdd) -> Vec<(u128, u128)> {
    let (boxes, exact) = vars.boxes(m, f, space);
    assert!(exact);
    let mut out = Vec::new();
    for b in boxes {
        for &(slo, shi) in b.dim(SADDR).as_slice() {
            for s in slo..=shi.min(40) {
                for &(plo, phi) in b.dim(DPORT).as_slice() {
                    for p in plo..=phi.min(40) {
                        out.push((s, p));
                    }
                }
            }
        }
    }
    out.sort_unstable();
    out
}

fn small() -> impl Strategy<Value = (u128, u128)> {
    (0u128..40, 0u128..40).prop_map(|(a, b)| (a.min(b), a.max(b)))
}

proptest! {
    #[test]
    fn operations_agree_with_point_sets(
        a in proptest::collection::vec((small(), small()), 1..5),
        b in proptest::collection::vec((small(), small()), 1..5),
    ) {
        let space = space();
        let vars = Vars::new(&space);
        let mut m = Manager::new(1 << 20);
        let ra: Vec<Region> = a.iter().map(|&(s, p)| region(&space, s, p)).collect();
        let rb: Vec<Region> = b.iter().map(|&(s, p)| region(&space, s, p)).collect();
        let fa = vars.regions(&mut m, &ra).unwrap();
        let fb = vars.regions(&mut m, &rb).unwrap();
        let pa = points(&m, &vars, &space, fa);
        let pb = points(&m, &vars, &space, fb);
        let and = m.and(fa, fb).unwrap();
        let or = m.or(fa, fb).unwrap();
        let diff = m.diff(fa, fb).unwrap();
        let expect_and: Vec<_> = pa.iter().filter(|p| pb.contains(p)).copied().collect();
        let mut expect_or = pa.clone();
        expect_or.extend(pb.iter().copied());
        expect_or.sort_unstable();
        expect_or.dedup();
        let expect_diff: Vec<_> = pa.iter().filter(|p| !pb.contains(p)).copied().collect();
        prop_assert_eq!(points(&m, &vars, &space, and), expect_and.clone());
        prop_assert_eq!(points(&m, &vars, &space, or), expect_or);
        prop_assert_eq!(points(&m, &vars, &space, diff), expect_diff);
        prop_assert_eq!(m.meets(fa, fb), !expect_and.is_empty());
    }
}

#[test]
fn equal_sets_are_the_same_node() {
    let space = space();
    let vars = Vars::new(&space);
    let mut m = Manager::new(1 << 20);
    let one = vars
        .region(&mut m, &region(&space, (0, 19), (22, 22)))
        .unwrap();
    let a = vars
        .region(&mut m, &region(&space, (0, 9), (22, 22)))
        .unwrap();
    let b = vars
        .region(&mut m, &region(&space, (10, 19), (22, 22)))
        .unwrap();
    assert_eq!(m.or(a, b).unwrap(), one);
    assert_eq!(m.diff(one, b).unwrap(), a);
    let universe = vars.region(&mut m, &space.universe()).unwrap();
    assert_eq!(m.diff(universe, universe).unwrap(), FALSE);
}

#[test]
fn gc_keeps_what_roots_reach_and_frees_the_rest() {
    let space = space();
    let vars = Vars::new(&space);
    let mut m = Manager::new(1 << 20);
    let keep = vars
        .region(&mut m, &region(&space, (3, 17), (80, 443)))
        .unwrap();
    let before = points(&m, &vars, &space, keep);
    for i in 0..200 {
        vars.region(&mut m, &region(&space, (i, i + 5), (i, 2 * i)))
            .unwrap();
    }
    let grown = m.live();
    m.gc([keep]);
    assert!(m.live() < grown / 4, "{} of {grown}", m.live());
    assert_eq!(points(&m, &vars, &space, keep), before);
    // Freed nodes are reused, and hash-consing still finds the survivors.
    let again = vars
        .region(&mut m, &region(&space, (3, 17), (80, 443)))
        .unwrap();
    assert_eq!(again, keep);
}

#[test]
fn the_budget_is_an_error_not_a_panic() {
    let space = Space::new(128, 3);
    let vars = Vars::new(&space);
    let mut m = Manager::new(64);
    let mut hit = false;
    for i in 0..100u128 {
        let r = region(&space, (i << 64, (i << 64) + 7), (i, i));
        if vars.region(&mut m, &r).is_err() {
            hit = true;
            break;
        }
    }
    assert!(hit);
}
