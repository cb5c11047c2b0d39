//! Semantic diff of two rulesets: what changed, by table, chain and position, for alerts ("rule 4
//! of inet filter/input changed `tcp dport 2222 accept` → `tcp dport 22 accept`") and for
//! auditors comparing two attestations.
//!
//! [`diff`] compares two normalised models (from [`crate::from_nft_json`] or
//! [`crate::Ruleset::from_canonical`]) and returns a [`RulesetDiff`]: tables, chains, sets,
//! objects and flowtables added, removed or changed; chain and set attributes (policy first);
//! each chain's rules as an edit script (added, removed, moved, changed, 1-based positions —
//! [`rules`] and [`align`] explain the algorithm); set and map element deltas. It is empty
//! exactly when the two rulesets are equal, and `diff(b, a)` is the mirror image of
//! `diff(a, b)`. The JSON schema is in `docs/diff.md`.
//!
//! Cost: equal tables and chains are skipped by comparison; a chain's rules cost a linear scan of
//! the common prefix and suffix plus `O(k log k)` hashing and anchoring of the `k` rules between
//! them, with a bounded fallback for what unique rules cannot anchor.

mod align;
mod items;
mod rules;
mod text;
mod types;

use std::collections::{BTreeMap, BTreeSet, HashSet};

pub use types::{
    AttributeChange, ChainDiff, DiffCounts, ElementChange, ItemDiff, RuleAt, RuleChange,
    RuleChangeKind, RulesetDiff, SetDiff, Status, TableDiff, DIFF_FORMAT,
};

use crate::model::{Chain, Ruleset, Table};

/// What changed from `old` to `new`.
pub fn diff(old: &Ruleset, new: &Ruleset) -> RulesetDiff {
    let tables = changed(&old.tables, &new.tables)
        .map(|(key, o, n)| table(key, o, n))
        .collect();
    let text = |items: &[serde_json::Value]| -> Vec<String> {
        items.iter().map(serde_json::Value::to_string).collect()
    };
    let (old_items, new_items) = (text(&old.unknown_items), text(&new.unknown_items));
    let only = |a: &[String], b: &[String]| -> Vec<String> {
        let other: HashSet<&String> = b.iter().collect();
        a.iter().filter(|s| !other.contains(s)).cloned().collect()
    };
    RulesetDiff {
        tables,
        unknown_items_added: only(&new_items, &old_items),
        unknown_items_removed: only(&old_items, &new_items),
    }
}

/// The keys whose values differ between two maps (present on one side only, or unequal), in
/// key order, with both sides.
fn changed<'a, V: PartialEq>(
    old: &'a BTreeMap<String, V>,
    new: &'a BTreeMap<String, V>,
) -> impl Iterator<Item = (&'a str, Option<&'a V>, Option<&'a V>)> {
    let keys: BTreeSet<&'a String> = old.keys().chain(new.keys()).collect();
    keys.into_iter().filter_map(move |k| {
        let (o, n) = (old.get(k), new.get(k));
        (o != n).then_some((k.as_str(), o, n))
    })
}

fn table(key: &str, old: Option<&Table>, new: Option<&Table>) -> TableDiff {
    let empty = Table::default();
    let (o, n) = (old.unwrap_or(&empty), new.unwrap_or(&empty));
    TableDiff {
        name: key.to_owned(),
        status: items::status(old, new),
        attributes: items::compare(&items::table_attrs(old), &items::table_attrs(new)),
        chains: changed(&o.chains, &n.chains)
            .map(|(name, oc, nc)| chain(name, oc, nc))
            .collect(),
        sets: changed(&o.sets, &n.sets)
            .map(|(name, os, ns)| items::set(name, os, ns))
            .collect(),
        objects: changed(&o.objects, &n.objects)
            .map(|(key, oo, no)| {
                let (a, b) = (items::object_attrs(oo), items::object_attrs(no));
                items::item(key, items::status(oo, no), &a, &b)
            })
            .collect(),
        flowtables: changed(&o.flowtables, &n.flowtables)
            .map(|(name, of, nf)| {
                let (a, b) = (items::flowtable_attrs(of), items::flowtable_attrs(nf));
                items::item(name, items::status(of, nf), &a, &b)
            })
            .collect(),
    }
}

fn chain(name: &str, old: Option<&Chain>, new: Option<&Chain>) -> ChainDiff {
    let none: &[crate::model::Rule] = &[];
    ChainDiff {
        name: name.to_owned(),
        status: items::status(old, new),
        attributes: items::compare(&items::chain_attrs(old), &items::chain_attrs(new)),
        rules: rules::script(
            old.map_or(none, |c| &c.rules),
            new.map_or(none, |c| &c.rules),
        ),
    }
}

#[cfg(test)]
mod tests;
