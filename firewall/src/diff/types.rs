//! The diff's schema: what [`super::diff`] returns and what `palisade diff --json` prints
//! (documented field by field in `docs/diff.md`). Every list holds only what differs.

use serde::ser::Serializer;
use serde::{Deserialize, Serialize};

/// Identifies this schema in the JSON form.
pub const DIFF_FORMAT: &str = "palisade.nftables-diff/1";

/// What changed between two rulesets.
///
/// Serialised as `{"counts", "format", "summary", "tables", "unknown_items_added",
/// "unknown_items_removed"}`; `counts` and `summary` are derived ([`Self::counts`],
/// [`Self::summary`]).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
pub struct RulesetDiff {
    /// Tables that differ, by key (`"<family> <name>"`) in ascending order.
    pub tables: Vec<TableDiff>,
    /// Top-level items the model could not place (verbatim JSON) that only the new ruleset has.
    #[serde(default)]
    pub unknown_items_added: Vec<String>,
    /// Such items that only the old ruleset has.
    #[serde(default)]
    pub unknown_items_removed: Vec<String>,
}

/// Whether a thing exists on both sides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Only in the new ruleset.
    Added,
    /// Only in the old ruleset.
    Removed,
    /// In both, different.
    Changed,
}

/// A table that differs. An added (removed) table is diffed against nothing: all its chains,
/// rules, sets, elements and objects appear as added (removed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableDiff {
    /// `"<family> <name>"` (`"inet filter"`).
    pub name: String,
    /// Added, removed or changed.
    pub status: Status,
    /// Table attributes that differ (`flags`, `comment`, …).
    pub attributes: Vec<AttributeChange>,
    /// Chains that differ, by name.
    pub chains: Vec<ChainDiff>,
    /// Sets and maps that differ, by name.
    pub sets: Vec<SetDiff>,
    /// Named objects that differ, by `"<kind> <name>"` (`"counter ssh_hits"`).
    pub objects: Vec<ItemDiff>,
    /// Flowtables that differ, by name.
    pub flowtables: Vec<ItemDiff>,
}

/// A chain that differs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainDiff {
    /// Chain name.
    pub name: String,
    /// Added, removed or changed.
    pub status: Status,
    /// Attributes that differ: `type`, `hook`, `priority`, `policy`, `devices`, `comment`, …
    pub attributes: Vec<AttributeChange>,
    /// The edit script of the rules, in script order (per hunk: removals, then additions,
    /// changes and moves in new order).
    pub rules: Vec<RuleChange>,
}

/// One attribute whose value differs; `None` where the attribute is absent (a regular chain has
/// no `policy`; everything is absent on the side where the owner does not exist).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttributeChange {
    /// Attribute name (nft keyword; `unknown:<key>` for attributes the model keeps verbatim).
    pub attribute: String,
    /// Old value in nft syntax (or compact JSON).
    pub old: Option<String>,
    /// New value.
    pub new: Option<String>,
}

/// One entry of a chain's edit script.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleChange {
    /// What happened to the rule.
    pub change: RuleChangeKind,
    /// Where the rule was (absent for `added`).
    pub old: Option<RuleAt>,
    /// Where the rule is (absent for `removed`).
    pub new: Option<RuleAt>,
}

/// The kinds of [`RuleChange`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleChangeKind {
    /// A rule only the new chain has.
    Added,
    /// A rule only the old chain has.
    Removed,
    /// The same rule at another place of the order (`old` and `new` hold the same text).
    Moved,
    /// A rule replaced by another one at the same place of the alignment.
    Changed,
}

/// A rule and its 1-based position in its chain ("rule 4").
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RuleAt {
    /// 1-based position.
    pub position: usize,
    /// The rule in nft syntax (`tcp dport 22 accept`).
    pub rule: String,
}

/// A set, map or meter that differs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetDiff {
    /// Set name.
    pub name: String,
    /// `set`, `map` or `meter` (the new kind if it changed; the change is also an attribute).
    pub kind: String,
    /// Added, removed or changed.
    pub status: Status,
    /// Declaration attributes that differ: `type`, `map`, `flags`, `timeout`, `size`, …
    pub attributes: Vec<AttributeChange>,
    /// Elements only the new set has, in nft syntax (`10.1.0.0/16`, `"eth0" : jump zone`).
    pub elements_added: Vec<String>,
    /// Elements only the old set has.
    pub elements_removed: Vec<String>,
    /// Elements whose key is in both but whose value or attributes differ (a verdict map
    /// entry pointing elsewhere, an element with another timeout or comment).
    pub elements_changed: Vec<ElementChange>,
}

/// An element whose key stayed while the rest changed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ElementChange {
    /// The key (`"eth1"`).
    pub key: String,
    /// The old element (`"eth1" : jump zone_internal`).
    pub old: String,
    /// The new element (`"eth1" : jump zone_public`).
    pub new: String,
}

/// A named object or flowtable that differs (configuration only: counter values, quota usage
/// are runtime state and not in the model).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemDiff {
    /// Objects: `"<kind> <name>"`; flowtables: the name.
    pub name: String,
    /// Added, removed or changed.
    pub status: Status,
    /// Configuration fields that differ.
    pub attributes: Vec<AttributeChange>,
}

/// How many changes of each kind a diff holds (rules, elements and objects of added or removed
/// tables, chains and sets count as added or removed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DiffCounts {
    /// Tables only the new ruleset has.
    pub tables_added: usize,
    /// Tables only the old ruleset has.
    pub tables_removed: usize,
    /// Attribute changes of tables in both.
    pub table_changes: usize,
    /// Chains added (including those of added tables).
    pub chains_added: usize,
    /// Chains removed.
    pub chains_removed: usize,
    /// Policy changes of chains in both.
    pub policy_changes: usize,
    /// Other attribute changes of chains in both (type, hook, priority, devices, …).
    pub chain_changes: usize,
    /// Rules added.
    pub rules_added: usize,
    /// Rules removed.
    pub rules_removed: usize,
    /// Rules moved.
    pub rules_moved: usize,
    /// Rules changed in place.
    pub rules_changed: usize,
    /// Sets and maps added.
    pub sets_added: usize,
    /// Sets and maps removed.
    pub sets_removed: usize,
    /// Declaration changes of sets and maps in both.
    pub set_changes: usize,
    /// Set and map elements added.
    pub elements_added: usize,
    /// Set and map elements removed.
    pub elements_removed: usize,
    /// Set and map elements changed (same key).
    pub elements_changed: usize,
    /// Named objects added.
    pub objects_added: usize,
    /// Named objects removed.
    pub objects_removed: usize,
    /// Named objects whose configuration changed.
    pub objects_changed: usize,
    /// Flowtables added.
    pub flowtables_added: usize,
    /// Flowtables removed.
    pub flowtables_removed: usize,
    /// Flowtables whose configuration changed.
    pub flowtables_changed: usize,
    /// Unplaceable top-level items added or removed.
    pub unknown_items: usize,
}

impl RulesetDiff {
    /// Whether the two rulesets are equal.
    pub fn is_empty(&self) -> bool {
        self.tables.is_empty()
            && self.unknown_items_added.is_empty()
            && self.unknown_items_removed.is_empty()
    }

    /// Counts of each kind of change.
    pub fn counts(&self) -> DiffCounts {
        let mut c = DiffCounts {
            unknown_items: self.unknown_items_added.len() + self.unknown_items_removed.len(),
            ..DiffCounts::default()
        };
        for t in &self.tables {
            match t.status {
                Status::Added => c.tables_added += 1,
                Status::Removed => c.tables_removed += 1,
                Status::Changed => c.table_changes += t.attributes.len(),
            }
            for ch in &t.chains {
                count_chain(&mut c, ch);
            }
            for s in &t.sets {
                match s.status {
                    Status::Added => c.sets_added += 1,
                    Status::Removed => c.sets_removed += 1,
                    Status::Changed => c.set_changes += s.attributes.len(),
                }
                c.elements_added += s.elements_added.len();
                c.elements_removed += s.elements_removed.len();
                c.elements_changed += s.elements_changed.len();
            }
            for o in &t.objects {
                bump(
                    o.status,
                    &mut c.objects_added,
                    &mut c.objects_removed,
                    &mut c.objects_changed,
                );
            }
            for f in &t.flowtables {
                bump(
                    f.status,
                    &mut c.flowtables_added,
                    &mut c.flowtables_removed,
                    &mut c.flowtables_changed,
                );
            }
        }
        c
    }
}

fn count_chain(c: &mut DiffCounts, ch: &ChainDiff) {
    match ch.status {
        Status::Added => c.chains_added += 1,
        Status::Removed => c.chains_removed += 1,
        Status::Changed => {
            for a in &ch.attributes {
                if a.attribute == "policy" {
                    c.policy_changes += 1;
                } else {
                    c.chain_changes += 1;
                }
            }
        }
    }
    for r in &ch.rules {
        match r.change {
            RuleChangeKind::Added => c.rules_added += 1,
            RuleChangeKind::Removed => c.rules_removed += 1,
            RuleChangeKind::Moved => c.rules_moved += 1,
            RuleChangeKind::Changed => c.rules_changed += 1,
        }
    }
}

fn bump(status: Status, added: &mut usize, removed: &mut usize, changed: &mut usize) {
    match status {
        Status::Added => *added += 1,
        Status::Removed => *removed += 1,
        Status::Changed => *changed += 1,
    }
}

/// The serialised shape (members in sorted order, so the output is stable to read and diff).
#[derive(Serialize)]
struct RulesetDiffOut<'a> {
    counts: DiffCounts,
    format: &'static str,
    summary: String,
    tables: &'a [TableDiff],
    unknown_items_added: &'a [String],
    unknown_items_removed: &'a [String],
}

impl Serialize for RulesetDiff {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        RulesetDiffOut {
            counts: self.counts(),
            format: DIFF_FORMAT,
            summary: self.summary(),
            tables: &self.tables,
            unknown_items_added: &self.unknown_items_added,
            unknown_items_removed: &self.unknown_items_removed,
        }
        .serialize(s)
    }
}
