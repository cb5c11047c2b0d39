//! Boxes to diagrams and back: exact round trips, 128-bit addresses, partial dimensions.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "test code")]

use proptest::prelude::*;

use super::*;

fn ivs_strategy(max: u128) -> impl Strategy<Value = Ivs> {
    proptest::collection::vec((0..=max, 0..=max), 0..6).prop_map(|v| {
        Ivs::from_unsorted(v.into_iter().map(|(a, b)| (a.min(b), a.max(b))).collect())
    })
}

proptest! {
    #[test]
    fn a_box_round_trips(
        saddr in ivs_strategy(u128::from(u32::MAX)),
        port in ivs_strategy(65535),
        ct in ivs_strategy(4),
        iif in ivs_strategy(5),
    ) {
        let space = Space::new(32, 6);
        let vars = Vars::new(&space);
        let mut m = Manager::new(1 << 20);
        let mut r = space.universe();
        r.set(SADDR, saddr);
        r.set(DPORT, port);
        r.set(CT, ct);
        r.set(IIF, iif);
        let f = vars.region(&mut m, &r).unwrap();
        let (boxes, exact) = vars.boxes(&m, f, &space);
        prop_assert!(exact);
        if r.is_empty() {
            prop_assert_eq!(f, FALSE);
            prop_assert!(boxes.is_empty());
        } else {
            prop_assert_eq!(boxes, vec![r]);
        }
    }
}

#[test]
fn ipv6_prefixes_and_the_whole_space() {
    let space = Space::new(128, 2);
    let vars = Vars::new(&space);
    let mut m = Manager::new(1 << 20);
    let net = 0x2001_0db8_u128 << 96;
    let r = space.with(DADDR, Ivs::one(net, net | ((1u128 << 80) - 1)));
    let f = vars.region(&mut m, &r).unwrap();
    assert_eq!(vars.boxes(&m, f, &space).0, vec![r]);
    let u = vars.region(&mut m, &space.universe()).unwrap();
    assert_eq!(vars.boxes(&m, u, &space).0, vec![space.universe()]);
    // Conntrack has 5 states in 3 bits: the universe excludes codes 5 to 7.
    assert_ne!(u, TRUE);
}

#[test]
fn a_difference_becomes_disjoint_boxes() {
    let space = Space::new(32, 2);
    let vars = Vars::new(&space);
    let mut m = Manager::new(1 << 20);
    let u = vars.region(&mut m, &space.universe()).unwrap();
    let mut ssh = space.with(PROTO, Ivs::one(0, 0));
    ssh.set(DPORT, Ivs::one(22, 22));
    ssh.set(SADDR, Ivs::one(10 << 24, (11 << 24) - 1));
    let s = vars.region(&mut m, &ssh).unwrap();
    let rest = m.diff(u, s).unwrap();
    let (boxes, exact) = vars.boxes(&m, rest, &space);
    assert!(exact);
    for (i, b) in boxes.iter().enumerate() {
        assert!(!b.intersects(&ssh));
        for c in &boxes[i + 1..] {
            assert!(!b.intersects(c));
        }
    }
    // Back together, the pieces and the hole are the universe.
    let mut back = s;
    for b in &boxes {
        let f = vars.region(&mut m, b).unwrap();
        back = m.or(back, f).unwrap();
    }
    assert_eq!(back, u);
    // The loose encoding may hold codes no packet has, and nothing else.
    let loose = vars.regions(&mut m, &boxes).unwrap();
    let loose = m.or(loose, s).unwrap();
    assert_ne!(loose, u);
    assert_eq!(m.and(loose, u).unwrap(), u);
}
