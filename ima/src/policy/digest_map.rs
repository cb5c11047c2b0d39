//! A runtime policy's path → accepted-digests map, with a read index laid out for the per-entry
//! lookup: one probe into a table of 16-byte slots, then one contiguous record holding the
//! name and its digests, instead of a chain of heap pointers (hash slot → key string → entry →
//! digest vector → digest bytes) that misses the cache at every link on a 100k-path policy.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::OnceLock;

/// A map from a path (or keyring / buffer name) to its accepted digests, in the order the policy
/// lists the paths, with the digests decoded once to bytes.
#[derive(Debug, Clone, Default)]
pub struct DigestMap {
    entries: Vec<(String, Vec<Vec<u8>>)>,
    index: HashMap<String, usize, foldhash::fast::RandomState>,
    /// Built on the first [`DigestMap::check`] after a change; every change clears it.
    packed: OnceLock<Option<Packed>>,
}

impl DigestMap {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// The accepted digests for `name`, if the map lists it.
    pub fn get(&self, name: &str) -> Option<&[Vec<u8>]> {
        let i = *self.index.get(name)?;
        self.entries.get(i).map(|(_, digests)| digests.as_slice())
    }

    /// `None` when `name` is not listed; otherwise whether `digest` is one of its digests. The
    /// per-entry lookup of policy evaluation.
    #[inline]
    pub fn check(&self, name: &str, digest: &[u8]) -> Option<bool> {
        match self.packed.get_or_init(|| Packed::build(&self.entries)) {
            Some(packed) => packed.check(name, digest),
            None => self
                .get(name)
                .map(|list| list.iter().any(|d| d.as_slice() == digest)),
        }
    }

    /// True when `name` is listed and `digest` is one of its digests.
    pub fn contains(&self, name: &str, digest: &[u8]) -> bool {
        self.check(name, digest) == Some(true)
    }

    /// Builds the read index now rather than at the first lookup (policy loading calls it, so
    /// the first evaluation does not pay for it).
    pub fn prepare(&self) {
        self.packed.get_or_init(|| Packed::build(&self.entries));
    }

    /// Adds `digest` to `name`'s list (no duplicates); a new name goes last.
    pub fn insert(&mut self, name: &str, digest: Vec<u8>) {
        self.packed = OnceLock::new();
        let i = match self.index.get(name) {
            Some(i) => *i,
            None => {
                self.index.insert(name.to_owned(), self.entries.len());
                self.entries.push((name.to_owned(), Vec::new()));
                self.entries.len() - 1
            }
        };
        if let Some((_, list)) = self.entries.get_mut(i) {
            if !list.contains(&digest) {
                list.push(digest);
            }
        }
    }

    /// Replaces `name`'s list (a JSON object's later duplicate key wins, as in Python).
    pub fn set(&mut self, name: String, digests: Vec<Vec<u8>>) {
        self.packed = OnceLock::new();
        match self.index.get(&name).and_then(|i| self.entries.get_mut(*i)) {
            Some((_, list)) => *list = digests,
            None => {
                self.index.insert(name.clone(), self.entries.len());
                self.entries.push((name, digests));
            }
        }
    }

    /// Sorts every list by its hex form and drops duplicates, as `keylime-policy` writes them.
    pub fn sort_digests(&mut self) {
        self.packed = OnceLock::new();
        for (_, list) in &mut self.entries {
            list.sort();
            list.dedup();
        }
    }

    /// Paths (names) and their digests, in policy order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[Vec<u8>])> {
        self.entries.iter().map(|(n, d)| (n.as_str(), d.as_slice()))
    }

    /// How many paths (names) the map lists.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when the map lists no path.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl PartialEq for DigestMap {
    fn eq(&self, other: &Self) -> bool {
        self.entries == other.entries
    }
}
impl Eq for DigestMap {}

/// An open-addressed table (linear probing, about three quarters full, any size: the home slot
/// is the hash scaled to the table) of 8-byte `(hash tag, record offset)` slots over one byte
/// arena of records `name_len: u32 LE, count: u32 LE, name, count × (len: u8, digest)`.
/// Read-only: rebuilt whole after a change. Small slots matter: the probe is a random access, and
/// a 100k-path policy's table is ~1 MB (it fits in a core's L2 cache) where 16-byte slots at
/// most half full took 4 MB and a cache miss on most entries.
#[derive(Clone, Default)]
struct Packed {
    slots: Vec<Slot>,
    records: Vec<u8>,
    hasher: foldhash::fast::RandomState,
}

impl std::fmt::Debug for Packed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Packed")
            .field("slots", &self.slots.len())
            .field("record_bytes", &self.records.len())
            .finish()
    }
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    /// The low 32 bits of the name's hash (the home slot comes from the high bits).
    tag: u32,
    /// Offset of the record in `records`; [`EMPTY_AT`] for an empty slot.
    at: u32,
}

/// `Slot::at` of an empty slot (record offsets stay below it).
const EMPTY_AT: u32 = u32::MAX;

const EMPTY: Slot = Slot {
    tag: 0,
    at: EMPTY_AT,
};

impl Packed {
    /// The index, or `None` when the records would not fit 32-bit offsets (a policy of 4 GiB,
    /// which no verifier accepts; [`DigestMap::check`] then uses the map itself).
    fn build(entries: &[(String, Vec<Vec<u8>>)]) -> Option<Self> {
        let bytes: usize = entries.iter().map(|(n, d)| record_len(n, d)).sum();
        if bytes >= EMPTY_AT as usize {
            return None;
        }
        let mut packed = Self {
            slots: vec![EMPTY; entries.len() + entries.len() / 3 + 1],
            records: Vec::with_capacity(bytes),
            hasher: foldhash::fast::RandomState::default(),
        };
        for (name, digests) in entries {
            let at = u32::try_from(packed.records.len()).ok()?;
            packed.push_record(name, digests);
            let hash = packed.hasher.hash_one(name.as_str());
            // Names are unique in `entries` (the builder's index guarantees it), so no probe
            // needs to compare names here.
            let mut i = packed.home(hash);
            while packed.slots.get(i).is_some_and(|s| s.at != EMPTY_AT) {
                i = packed.next(i);
            }
            if let Some(slot) = packed.slots.get_mut(i) {
                *slot = Slot {
                    tag: hash as u32,
                    at,
                };
            }
        }
        Some(packed)
    }

    /// The slot a hash starts probing at: the hash's high bits scaled to the table's size.
    #[inline]
    fn home(&self, hash: u64) -> usize {
        ((u128::from(hash) * self.slots.len() as u128) >> 64) as usize
    }

    #[inline]
    fn next(&self, i: usize) -> usize {
        if i + 1 >= self.slots.len() {
            0
        } else {
            i + 1
        }
    }

    fn push_record(&mut self, name: &str, digests: &[Vec<u8>]) {
        // A loaded policy's digests are real hash lengths (at most 64 bytes); a longer one,
        // which no entry can carry, is left out rather than stored truncated.
        let fits = || {
            digests
                .iter()
                .filter_map(|d| Some((u8::try_from(d.len()).ok()?, d)))
        };
        let len = u32::try_from(name.len()).unwrap_or(u32::MAX);
        let count = u32::try_from(fits().count()).unwrap_or(u32::MAX);
        self.records.extend_from_slice(&len.to_le_bytes());
        self.records.extend_from_slice(&count.to_le_bytes());
        self.records
            .extend_from_slice(name.as_bytes().get(..len as usize).unwrap_or_default());
        for (n, digest) in fits().take(count as usize) {
            self.records.push(n);
            self.records.extend_from_slice(digest);
        }
    }

    #[inline]
    fn check(&self, name: &str, digest: &[u8]) -> Option<bool> {
        let hash = self.hasher.hash_one(name);
        let tag = hash as u32;
        let mut i = self.home(hash);
        // The table always has an empty slot, so the probe ends; the bound is a second guard.
        for _ in 0..self.slots.len() {
            let slot = self.slots.get(i)?;
            if slot.at == EMPTY_AT {
                return None;
            }
            if slot.tag == tag {
                if let Some(found) = self.record_check(slot.at as usize, name, digest) {
                    return Some(found);
                }
            }
            i = self.next(i);
        }
        None
    }

    /// `None` when the record at `at` is for another name; otherwise whether it lists `digest`.
    #[inline]
    fn record_check(&self, at: usize, name: &str, digest: &[u8]) -> Option<bool> {
        let record = self.records.get(at..)?;
        let len = u32::from_le_bytes(record.get(..4)?.try_into().ok()?) as usize;
        let count = u32::from_le_bytes(record.get(4..8)?.try_into().ok()?);
        if len != name.len() || record.get(8..8 + len)? != name.as_bytes() {
            return None;
        }
        let mut rest = record.get(8 + len..)?;
        for _ in 0..count {
            let (&n, tail) = rest.split_first()?;
            let (d, tail) = tail.split_at_checked(usize::from(n))?;
            if d == digest {
                return Some(true);
            }
            rest = tail;
        }
        Some(false)
    }
}

fn record_len(name: &str, digests: &[Vec<u8>]) -> usize {
    8 + name.len() + digests.iter().map(|d| 1 + d.len()).sum::<usize>()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(map: &DigestMap, name: &str, digest: &[u8]) -> Option<bool> {
        map.get(name)
            .map(|list| list.iter().any(|d| d.as_slice() == digest))
    }

    #[test]
    fn index_answers_as_the_map_for_listed_unlisted_and_colliding_names() {
        let mut map = DigestMap::new();
        for i in 0..5000u32 {
            let digests = (0..=(i % 3)).map(|k| vec![k as u8; 32]).collect();
            map.set(format!("/usr/lib/lib{i}.so"), digests);
        }
        map.set(String::new(), vec![vec![9; 20]]);
        for i in 0..6000u32 {
            let name = format!("/usr/lib/lib{i}.so");
            for k in 0..4u8 {
                let digest = [k; 32];
                assert_eq!(map.check(&name, &digest), reference(&map, &name, &digest));
            }
            // A prefix of a listed digest is not that digest.
            assert_eq!(map.check(&name, &[0; 31]), reference(&map, &name, &[0; 31]));
        }
        assert_eq!(map.check("", &[9; 20]), Some(true));
        assert_eq!(map.check("/usr/lib/lib1.s", &[0; 32]), None);
    }

    #[test]
    fn index_is_rebuilt_after_every_change() {
        let mut map = DigestMap::new();
        assert_eq!(map.check("/bin/a", &[1; 32]), None);
        map.insert("/bin/a", vec![1; 32]);
        assert_eq!(map.check("/bin/a", &[1; 32]), Some(true));
        map.insert("/bin/a", vec![2; 32]);
        assert_eq!(map.check("/bin/a", &[2; 32]), Some(true));
        map.set("/bin/a".to_owned(), vec![vec![3; 32]]);
        assert_eq!(map.check("/bin/a", &[1; 32]), Some(false));
        assert_eq!(map.check("/bin/a", &[3; 32]), Some(true));
        let cloned = map.clone();
        map.set("/bin/b".to_owned(), vec![vec![4; 32]]);
        assert_eq!(map.check("/bin/b", &[4; 32]), Some(true));
        assert_eq!(cloned.check("/bin/b", &[4; 32]), None);
    }

    #[test]
    fn an_oversized_digest_never_matches() {
        let mut map = DigestMap::new();
        map.set("/x".to_owned(), vec![vec![7; 300], vec![8; 32]]);
        assert_eq!(map.check("/x", &[7; 300]), Some(false));
        assert_eq!(map.check("/x", &[8; 32]), Some(true));
        assert_eq!(map.check("/x", &[]), Some(false));
    }
}
