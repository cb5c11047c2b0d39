//! One form for intervals of integers and addresses: ranges that are exactly a prefix become the
//! prefix, one-value ranges and full-length prefixes become the value, and interval sets become
//! the fewest disjoint, non-adjacent intervals. Addresses are printed as nft (glibc
//! `inet_ntop`) prints them.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::model::{Expr, Prefix, Range};

/// The value space of an interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Domain {
    Int,
    V4,
    V6,
}

impl Domain {
    fn bits(self) -> u32 {
        match self {
            Self::Int => 64,
            Self::V4 => 32,
            Self::V6 => 128,
        }
    }

    fn max(self) -> u128 {
        match self {
            Self::Int => u128::from(u64::MAX),
            Self::V4 => u128::from(u32::MAX),
            Self::V6 => u128::MAX,
        }
    }
}

/// A single value.
fn point(e: &Expr) -> Option<(Domain, u128)> {
    match e {
        Expr::Number(n) => n.as_u64().map(|v| (Domain::Int, u128::from(v))),
        Expr::String(s) => {
            if let Ok(a) = s.parse::<Ipv4Addr>() {
                Some((Domain::V4, u128::from(u32::from(a))))
            } else {
                s.parse::<Ipv6Addr>()
                    .ok()
                    .map(|a| (Domain::V6, u128::from(a)))
            }
        }
        _ => None,
    }
}

/// The inclusive interval an element covers.
fn interval(e: &Expr) -> Option<(Domain, u128, u128)> {
    match e {
        Expr::Range(r) => {
            let (d1, lo) = point(&r.lo)?;
            let (d2, hi) = point(&r.hi)?;
            (d1 == d2 && lo <= hi).then_some((d1, lo, hi))
        }
        Expr::Prefix(p) => {
            let (d, addr) = point(&p.addr)?;
            let bits = d.bits();
            if d == Domain::Int || p.len > bits {
                return None;
            }
            let host = if p.len == 0 {
                d.max()
            } else {
                d.max() >> p.len
            };
            if addr & host != 0 {
                return None; // host bits set: not a plain prefix, leave it alone
            }
            Some((d, addr, addr | host))
        }
        other => point(other).map(|(d, v)| (d, v, v)),
    }
}

/// The element for `[lo, hi]`: a value, a prefix (addresses only) or a range.
fn element(d: Domain, lo: u128, hi: u128) -> Expr {
    let value = |v: u128| match d {
        Domain::Int => Expr::Number(u64::try_from(v).unwrap_or(u64::MAX).into()),
        Domain::V4 => {
            Expr::String(Ipv4Addr::from(u32::try_from(v).unwrap_or(u32::MAX)).to_string())
        }
        Domain::V6 => Expr::String(format_v6(v)),
    };
    if lo == hi {
        return value(lo);
    }
    if d != Domain::Int {
        if let Some(len) = prefix_len(d, lo, hi) {
            return Expr::Prefix(Box::new(Prefix {
                addr: value(lo),
                len,
            }));
        }
    }
    Expr::Range(Box::new(Range {
        lo: value(lo),
        hi: value(hi),
    }))
}

/// The prefix length if `[lo, hi]` is exactly one prefix.
fn prefix_len(d: Domain, lo: u128, hi: u128) -> Option<u32> {
    let span = hi - lo; // size - 1
    if span == d.max() {
        return (lo == 0).then_some(0);
    }
    let size = span + 1;
    (size.is_power_of_two() && lo & span == 0).then(|| d.bits() - size.trailing_zeros())
}

/// A simpler form of a single range or prefix, if it has one.
pub(super) fn simplify(e: &Expr) -> Option<Expr> {
    let (d, lo, hi) = interval(e)?;
    let simpler = element(d, lo, hi);
    (simpler != *e).then_some(simpler)
}

/// The elements of an interval set merged into the fewest disjoint, non-adjacent intervals;
/// `None` when an element is not a plain integer or address (a concatenation, a mapping, an
/// element with attributes, a symbol): such sets are only sorted.
pub(super) fn merge(items: &[Expr]) -> Option<Vec<Expr>> {
    let mut spans = items
        .iter()
        .map(interval)
        .collect::<Option<Vec<(Domain, u128, u128)>>>()?;
    spans.sort_unstable();
    let mut merged: Vec<(Domain, u128, u128)> = Vec::with_capacity(spans.len());
    for (d, lo, hi) in spans {
        match merged.last_mut() {
            Some((ld, _, lhi)) if *ld == d && (lo <= *lhi || lo - *lhi == 1) => {
                *lhi = (*lhi).max(hi);
            }
            _ => merged.push((d, lo, hi)),
        }
    }
    let out: Vec<Expr> = merged
        .into_iter()
        .map(|(d, lo, hi)| element(d, lo, hi))
        .collect();
    (out.as_slice() != items).then_some(out)
}

/// An IPv6 address as glibc's `inet_ntop` prints it: lowercase, the longest run (≥ 2) of zero
/// groups compressed (the first if tied), and `::a.b.c.d` / `::ffff:a.b.c.d` for addresses
/// whose first 96 bits are zero or IPv4-mapped.
pub(crate) fn format_v6(v: u128) -> String {
    let words: Vec<u16> = (0..8)
        .map(|i| u16::try_from((v >> (112 - 16 * i)) & 0xffff).unwrap_or(0))
        .collect();
    let (mut best, mut cur): ((usize, usize), Option<(usize, usize)>) = ((0, 0), None);
    for (i, w) in words.iter().enumerate() {
        if *w == 0 {
            let (start, len) = cur.unwrap_or((i, 0));
            cur = Some((start, len + 1));
            if len + 1 > best.1 {
                best = (start, len + 1);
            }
        } else {
            cur = None;
        }
    }
    if best.1 < 2 {
        best = (usize::MAX, 0);
    }
    let w5 = words.get(5).copied().unwrap_or(0);
    if best.0 == 0 && (best.1 == 6 || (best.1 == 5 && w5 == 0xffff)) {
        let v4 = Ipv4Addr::from(u32::try_from(v & 0xffff_ffff).unwrap_or(0));
        return if best.1 == 6 {
            format!("::{v4}")
        } else {
            format!("::ffff:{v4}")
        };
    }
    let mut out = String::with_capacity(39);
    let mut i = 0;
    while i < 8 {
        if i == best.0 {
            out.push_str("::");
            i += best.1;
            continue;
        }
        if i > 0 && !out.ends_with(':') {
            out.push(':');
        }
        out.push_str(&format!("{:x}", words.get(i).copied().unwrap_or(0)));
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v6(s: &str) -> String {
        format_v6(u128::from(s.parse::<Ipv6Addr>().unwrap()))
    }

    #[test]
    fn ipv6_is_printed_like_inet_ntop() {
        for s in [
            "::",
            "::1",
            "::2",
            "2001:db8::",
            "2001:db8::1",
            "fe80::1:2",
            "1::",
            "1:0:0:1::1",
            "1:2:3:4:5:6:7:8",
            "::ffff:1.2.3.4",
            "::1.2.3.4",
            "ff02::1:ff00:0",
            "::102",
            "1:0:1:0:1:0:1:0",
            "2001:db8:0:1::",
        ] {
            assert_eq!(v6(s), s);
        }
        assert_eq!(v6("0:0:0:0:0:0:0:0"), "::");
        assert_eq!(
            v6("2001:0db8:0000:0000:0001:0000:0000:0001"),
            "2001:db8::1:0:0:1"
        );
    }

    fn s(v: &str) -> Expr {
        Expr::String(v.to_owned())
    }

    fn range(lo: Expr, hi: Expr) -> Expr {
        Expr::Range(Box::new(Range { lo, hi }))
    }

    fn prefix(a: &str, len: u32) -> Expr {
        Expr::Prefix(Box::new(Prefix { addr: s(a), len }))
    }

    #[test]
    fn ranges_that_are_prefixes_become_prefixes() {
        assert_eq!(
            simplify(&range(s("10.0.0.0"), s("10.0.0.255"))),
            Some(prefix("10.0.0.0", 24))
        );
        assert_eq!(
            simplify(&range(s("::"), s("::ffff"))),
            Some(prefix("::", 112))
        );
        assert_eq!(
            simplify(&range(s("0.0.0.0"), s("255.255.255.255"))),
            Some(prefix("0.0.0.0", 0))
        );
        assert_eq!(
            simplify(&range(s("10.0.0.1"), s("10.0.0.1"))),
            Some(s("10.0.0.1"))
        );
        assert_eq!(simplify(&prefix("10.0.0.1", 32)), Some(s("10.0.0.1")));
        assert_eq!(
            simplify(&range(Expr::uint(22), Expr::uint(22))),
            Some(Expr::uint(22))
        );
        assert_eq!(simplify(&range(s("10.0.0.1"), s("10.0.0.9"))), None);
        assert_eq!(simplify(&prefix("10.0.0.0", 8)), None);
        assert_eq!(simplify(&prefix("10.0.0.1", 8)), None);
    }

    #[test]
    fn adjacent_and_overlapping_intervals_merge() {
        let items = [
            range(Expr::uint(1), Expr::uint(3)),
            range(Expr::uint(4), Expr::uint(5)),
            Expr::uint(7),
            Expr::uint(8),
        ];
        assert_eq!(
            merge(&items),
            Some(vec![
                range(Expr::uint(1), Expr::uint(5)),
                range(Expr::uint(7), Expr::uint(8))
            ])
        );
        let items = [
            prefix("10.0.1.0", 25),
            prefix("10.0.1.128", 25),
            s("10.0.0.5"),
        ];
        assert_eq!(
            merge(&items),
            Some(vec![s("10.0.0.5"), prefix("10.0.1.0", 24)])
        );
        assert_eq!(merge(&[s("eth0")]), None);
        assert_eq!(merge(&[Expr::uint(22), Expr::uint(80)]), None);
    }
}
