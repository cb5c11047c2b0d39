//! The `input.cluster` of one cluster-scope constraint, kept up to date node by node instead of
//! rebuilt from the whole fleet on every evaluation: the selected nodes' summaries, their label
//! groups, and per group the nodes by firewall digest (so templates count digests per group
//! without visiting nodes). Every update is a few map operations on regorus values that the
//! last evaluation no longer holds, so nothing is copied.

use std::collections::BTreeMap;

use regorus::Value as Rv;

/// What one node contributes to a fleet input.
#[derive(Debug, Clone)]
pub(super) struct Contribution<'a> {
    pub(super) labels: &'a BTreeMap<String, String>,
    /// Its firewall digest, when its evidence verified and had one.
    pub(super) digest: Option<&'a str>,
    pub(super) summary: &'a Rv,
}

/// The selected nodes of one constraint, as regorus values (objects, always).
#[derive(Debug, Clone)]
pub(super) struct Fleet {
    /// id → summary.
    nodes: Rv,
    /// `"key=value"` → sorted ids.
    groups: Rv,
    /// `"key=value"` → digest → sorted ids.
    firewall_groups: Rv,
}

impl Default for Fleet {
    fn default() -> Self {
        Self {
            nodes: Rv::new_object(),
            groups: Rv::new_object(),
            firewall_groups: Rv::new_object(),
        }
    }
}

impl Fleet {
    /// `{now, nodes, groups, firewall_groups}`.
    pub(super) fn input(&self, now: i64) -> Rv {
        super::object([
            ("now", Rv::from(now)),
            ("nodes", self.nodes.clone()),
            ("groups", self.groups.clone()),
            ("firewall_groups", self.firewall_groups.clone()),
        ])
    }

    /// Replaces the summary of node `id`, whose groups and digest are unchanged.
    pub(super) fn set_summary(&mut self, id: &str, summary: &Rv) {
        if let Ok(nodes) = self.nodes.as_object_mut() {
            nodes.insert(Rv::from(id), summary.clone());
        }
    }

    /// Adds node `id`.
    pub(super) fn add(&mut self, id: &str, c: &Contribution<'_>) {
        let rid = Rv::from(id);
        if let Ok(nodes) = self.nodes.as_object_mut() {
            nodes.insert(rid.clone(), c.summary.clone());
        }
        for key in group_keys(c.labels) {
            if let Ok(groups) = self.groups.as_object_mut() {
                insert_sorted(groups.get_or_insert_with(key.clone(), Rv::new_array), &rid);
            }
            let (Some(d), Ok(groups)) = (c.digest, self.firewall_groups.as_object_mut()) else {
                continue;
            };
            if let Ok(by_digest) = groups
                .get_or_insert_with(key, Rv::new_object)
                .as_object_mut()
            {
                insert_sorted(
                    by_digest.get_or_insert_with(Rv::from(d), Rv::new_array),
                    &rid,
                );
            }
        }
    }

    /// Removes node `id`, which contributed `c`.
    pub(super) fn remove(&mut self, id: &str, c: &Contribution<'_>) {
        let rid = Rv::from(id);
        if let Ok(nodes) = self.nodes.as_object_mut() {
            nodes.remove(&rid);
        }
        for key in group_keys(c.labels) {
            remove_from(&mut self.groups, &key, &rid);
            let Some(d) = c.digest else {
                continue;
            };
            let Ok(groups) = self.firewall_groups.as_object_mut() else {
                continue;
            };
            if let Some(by_digest) = groups.get_mut(&key) {
                remove_from(by_digest, &Rv::from(d), &rid);
                if by_digest.as_object().is_ok_and(|o| o.is_empty()) {
                    groups.remove(&key);
                }
            }
        }
    }
}

/// `"key=value"` of every label.
fn group_keys(labels: &BTreeMap<String, String>) -> impl Iterator<Item = Rv> + '_ {
    labels.iter().map(|(k, v)| Rv::from(format!("{k}={v}")))
}

/// Adds `id` to the sorted array `ids` (no duplicates): a binary search, and a push when it
/// sorts last (loading a fleet in id order), else a sort of the nearly sorted array.
fn insert_sorted(ids: &mut Rv, id: &Rv) {
    let Ok(a) = ids.as_array_mut() else {
        return;
    };
    if let Err(at) = a.as_slice().binary_search(id) {
        let last = at == a.len();
        a.push(id.clone());
        if !last {
            a.sort();
        }
    }
}

/// Removes `id` from the array `map[key]`, and the key once its array is empty.
fn remove_from(map: &mut Rv, key: &Rv, id: &Rv) {
    let Ok(o) = map.as_object_mut() else {
        return;
    };
    let Some(Ok(a)) = o.get_mut(key).map(Rv::as_array_mut) else {
        return;
    };
    a.retain(|x| x != id);
    if a.is_empty() {
        o.remove(key);
    }
}
