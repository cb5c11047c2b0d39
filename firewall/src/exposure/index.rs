//! The live regions of a chain under evaluation, indexed so that a rule finds the regions it
//! can touch without scanning them all.
//!
//! Each region is filed under one dimension — the one where its hull is narrowest relative to
//! the dimension's size — in a dyadic bucket: the smallest aligned power-of-two block holding
//! the hull (`level` = block size in bits, `key` = block number). A query box visits, per
//! dimension and non-empty level, the buckets its interval overlaps. Removal is lazy: a taken
//! region leaves a stale id behind, pruned when its bucket is next visited.

use std::collections::BTreeMap;

use super::space::{Region, Space, NDIM};
use super::Live;

/// Levels per dimension: block sizes 2^0 … 2^128.
const LEVELS: usize = 129;

#[derive(Debug, Default)]
struct DimIndex {
    /// Buckets per level: block number → region ids.
    levels: Vec<BTreeMap<u128, Vec<u32>>>,
    /// Levels that ever held a region, ascending.
    active: Vec<u8>,
}

/// Live regions with an index.
#[derive(Debug)]
pub(crate) struct LiveSet {
    slots: Vec<Option<Live>>,
    count: usize,
    dims: Vec<DimIndex>,
    bits: [u32; NDIM],
}

fn level_key(lo: u128, hi: u128) -> (usize, u128) {
    let x = lo ^ hi;
    let level = if x == 0 { 0 } else { 128 - x.leading_zeros() } as usize;
    let key = if level >= 128 { 0 } else { lo >> level };
    (level, key)
}

impl LiveSet {
    /// An empty set for regions of `space`.
    pub(crate) fn new(space: &Space) -> Self {
        let bits = space.max.map(|m| (128 - m.leading_zeros()).max(1));
        Self {
            slots: Vec::new(),
            count: 0,
            dims: (0..NDIM).map(|_| DimIndex::default()).collect(),
            bits,
        }
    }

    /// Adds a region.
    pub(crate) fn insert(&mut self, live: Live) {
        let mut best: Option<(u64, usize, usize, u128)> = None;
        for d in 0..NDIM {
            let Some((lo, hi)) = live.region.dim(d).hull() else {
                return; // empty region: nothing to keep
            };
            let (level, key) = level_key(lo, hi);
            let bits = u64::from(self.bits.get(d).copied().unwrap_or(128));
            // Relative width in 1/1024ths of the dimension.
            let rel = (level as u64 * 1024) / bits;
            if best.is_none_or(|b| rel < b.0) {
                best = Some((rel, d, level, key));
            }
        }
        let Some((_, d, level, key)) = best else {
            return;
        };
        let id = u32::try_from(self.slots.len()).unwrap_or(u32::MAX);
        self.slots.push(Some(live));
        self.count += 1;
        if let Some(index) = self.dims.get_mut(d) {
            if index.levels.is_empty() {
                index.levels.resize_with(LEVELS, BTreeMap::new);
            }
            if let Some(buckets) = index.levels.get_mut(level) {
                buckets.entry(key).or_default().push(id);
            }
            if let Err(pos) = index.active.binary_search(&(level as u8)) {
                index.active.insert(pos, level as u8);
            }
        }
    }

    /// Adds regions.
    pub(crate) fn extend(&mut self, lives: impl IntoIterator<Item = Live>) {
        for l in lives {
            self.insert(l);
        }
        if self.slots.len() > 2 * self.count + 4096 {
            let all = self.drain();
            for l in all {
                self.insert(l);
            }
        }
    }

    /// Removes and returns every region that intersects `query`.
    pub(crate) fn take_intersecting(&mut self, query: &Region) -> Vec<Live> {
        let mut ids = Vec::new();
        for (d, index) in self.dims.iter_mut().enumerate() {
            let Some((qlo, qhi)) = query.dim(d).hull() else {
                return Vec::new();
            };
            for &level in &index.active {
                let shift = u32::from(level);
                let (klo, khi) = if shift >= 128 {
                    (0, 0)
                } else {
                    (qlo >> shift, qhi >> shift)
                };
                let Some(buckets) = index.levels.get_mut(usize::from(level)) else {
                    continue;
                };
                let mut emptied = Vec::new();
                for (key, bucket) in buckets.range_mut(klo..=khi) {
                    bucket.retain(|&id| {
                        let slot = self.slots.get(id as usize).and_then(Option::as_ref);
                        match slot {
                            None => false,
                            Some(l) => {
                                if l.region.intersects(query) {
                                    ids.push(id);
                                }
                                true
                            }
                        }
                    });
                    if bucket.is_empty() {
                        emptied.push(*key);
                    }
                }
                for key in emptied {
                    buckets.remove(&key);
                }
            }
        }
        ids.sort_unstable();
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(live) = self.slots.get_mut(id as usize).and_then(Option::take) {
                self.count -= 1;
                out.push(live);
            }
        }
        out
    }

    /// Removes and returns every region, in insertion order.
    pub(crate) fn drain(&mut self) -> Vec<Live> {
        let out: Vec<Live> = self.slots.drain(..).flatten().collect();
        self.count = 0;
        for index in &mut self.dims {
            index.levels.clear();
            index.active.clear();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exposure::space::{Ivs, DPORT, SADDR};

    fn live(region: Region) -> Live {
        Live {
            region,
            certain: true,
            via: Vec::new(),
        }
    }

    #[test]
    fn finds_exactly_the_intersecting_regions() {
        let space = Space::new(32, 1);
        let mut set = LiveSet::new(&space);
        for i in 0..1000u128 {
            set.insert(live(space.with(SADDR, Ivs::one(i * 10, i * 10 + 9))));
        }
        set.insert(live(space.with(DPORT, Ivs::one(22, 22))));
        let q = space.with(SADDR, Ivs::one(95, 125));
        let got = set.take_intersecting(&q);
        // 90-99, 100-109, 110-119, 120-129, and the port-22 region (all addresses).
        assert_eq!(got.len(), 5);
        assert!(set.take_intersecting(&q).is_empty());
        assert_eq!(set.drain().len(), 996);
    }
}
