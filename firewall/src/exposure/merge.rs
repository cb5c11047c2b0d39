//! Coalescing: regions that differ in one dimension only, and carry the same key, become one.
//! Used to keep match conditions, live regions and the reported classes small.

use std::collections::HashMap;
use std::hash::Hash;

use super::space::{Ivs, Region, NDIM};

/// Merges regions that agree on every dimension but one and whose payloads have the same key;
/// `combine` folds the payload of a merged region into the survivor. With `adjacent_only`,
/// only regions whose differing dimension is adjacent (touching intervals) merge, so boxes
/// stay boxes. Regions are assumed disjoint (or their union is what is meant).
pub(crate) fn coalesce<P, K, FK, FC>(
    mut items: Vec<(Region, P)>,
    key: FK,
    combine: FC,
    adjacent_only: bool,
) -> Vec<(Region, P)>
where
    K: Hash + Eq,
    FK: Fn(&P) -> K,
    FC: Fn(&mut P, P),
{
    for _round in 0..2 {
        let before = items.len();
        for d in (0..NDIM).rev() {
            if items.len() < 2 {
                return items;
            }
            items = merge_dim(items, d, &key, &combine, adjacent_only);
        }
        if items.len() == before {
            break;
        }
    }
    items
}

#[allow(
    clippy::indexing_slicing,
    reason = "d < NDIM: callers iterate over the dimensions"
)]
fn merge_dim<P, K, FK, FC>(
    items: Vec<(Region, P)>,
    d: usize,
    key: &FK,
    combine: &FC,
    adjacent_only: bool,
) -> Vec<(Region, P)>
where
    K: Hash + Eq,
    FK: Fn(&P) -> K,
    FC: Fn(&mut P, P),
{
    let mut groups: HashMap<(K, Region), Vec<(Ivs, P)>> = HashMap::with_capacity(items.len());
    for (mut region, payload) in items {
        let value = std::mem::replace(&mut region.dims[d], Ivs::empty());
        let k = (key(&payload), region);
        match groups.get_mut(&k) {
            Some(list) => list.push((value, payload)),
            None => {
                groups.insert(k, vec![(value, payload)]);
            }
        }
    }
    let mut out = Vec::with_capacity(groups.len());
    for ((_, rest), mut list) in groups {
        if list.len() == 1 {
            if let Some((value, payload)) = list.pop() {
                out.push((with(rest, d, value), payload));
            }
            continue;
        }
        if adjacent_only {
            list.sort_by(|a, b| a.0.cmp(&b.0));
            let mut run: Option<(Ivs, P)> = None;
            for (value, payload) in list {
                run = Some(match run {
                    None => (value, payload),
                    Some((acc, mut acc_p)) => {
                        if touches(&acc, &value) {
                            combine(&mut acc_p, payload);
                            (acc.union(&value), acc_p)
                        } else {
                            out.push((with(rest.clone(), d, acc), acc_p));
                            (value, payload)
                        }
                    }
                });
            }
            if let Some((value, payload)) = run {
                out.push((with(rest, d, value), payload));
            }
        } else {
            let mut iter = list.into_iter();
            if let Some((mut acc, mut acc_p)) = iter.next() {
                let mut parts: Vec<(u128, u128)> = acc.as_slice().to_vec();
                for (value, payload) in iter {
                    parts.extend_from_slice(value.as_slice());
                    combine(&mut acc_p, payload);
                }
                acc = Ivs::from_unsorted(parts);
                out.push((with(rest, d, acc), acc_p));
            }
        }
    }
    // Deterministic order, whatever the hash map did.
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn with(mut region: Region, d: usize, value: Ivs) -> Region {
    region.set(d, value);
    region
}

/// Whether two single intervals touch (the union is one interval).
fn touches(a: &Ivs, b: &Ivs) -> bool {
    match (a.hull(), b.hull()) {
        (Some((_, ahi)), Some((blo, _))) => {
            a.as_slice().len() == 1 && b.as_slice().len() == 1 && ahi.saturating_add(1) == blo
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exposure::space::{Space, DPORT, SADDR};

    #[test]
    fn merges_neighbours_with_equal_keys() {
        let space = Space::new(32, 1);
        let r = |lo: u128, hi: u128, port: u128| {
            let mut r = space.with(SADDR, Ivs::one(lo, hi));
            r.set(DPORT, Ivs::one(port, port));
            r
        };
        let items = vec![
            (r(0, 9, 22), 1u8),
            (r(10, 19, 22), 1),
            (r(30, 39, 22), 1),
            (r(0, 9, 80), 2),
        ];
        let merged = coalesce(items.clone(), |p| *p, |_, _| {}, true);
        assert_eq!(merged.len(), 3);
        let merged = coalesce(items, |_| (), |a, b| *a = (*a).max(b), false);
        // 22 → {0-19, 30-39}; then 80 and 22 share saddr 0-9 only partly: stays 2.
        assert_eq!(merged.len(), 2);
    }
}
