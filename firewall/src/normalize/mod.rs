//! Normalisation: turns a parsed ruleset into the one value every equivalent ruleset has. It runs
//! after parsing nft output and after reading a canonical document, and is idempotent.
//!
//! What it does (the numbers are the rules of `docs/canonical-nftables.md`):
//! - sets filled from the packet path (`set add/update` and `map` statements, or the `dynamic`
//!   flag) get the `dynamic` flag and lose their elements: runtime state (rule 9);
//! - flag lists and list expressions are sorted (rule 6);
//! - set and map elements and anonymous set literals are sorted and deduplicated by their
//!   canonical bytes (rule 6);
//! - intervals take one form (rule 7): a range that is exactly an address prefix becomes the
//!   prefix, a one-value range or a full-length prefix becomes the value, and the elements of an
//!   interval set (named with the `interval` flag, or anonymous) are merged into the fewest
//!   disjoint, non-adjacent intervals;
//! - an element object with no attribute left becomes its bare value (rule 5);
//! - a one-element anonymous set compared with `==` or `!=` becomes its element (rule 8).

mod interval;

use std::collections::BTreeSet;

use crate::canonical::jcs;
use crate::model::{Expr, Match, MatchOp, Ruleset, SetKind, Stmt, Table};
use crate::walk::{self, ChildMut};

/// Normalises a whole ruleset in place.
pub(crate) fn ruleset(ruleset: &mut Ruleset) {
    for table in ruleset.tables.values_mut() {
        table_in_place(table);
    }
    sort_dedup_by_bytes(&mut ruleset.unknown_items);
}

fn table_in_place(table: &mut Table) {
    sort_strings(&mut table.flags);
    let dynamic = dynamic_sets(table);
    for (name, set) in &mut table.sets {
        sort_strings(&mut set.flags);
        if dynamic.contains(name.as_str()) && !set.has_flag("dynamic") {
            set.flags.push("dynamic".to_owned());
            sort_strings(&mut set.flags);
        }
        set.stmts.iter_mut().for_each(stmt);
        if set.has_flag("dynamic") {
            set.elements.clear();
            continue;
        }
        if set.kind == SetKind::Map {
            for e in &mut set.elements {
                *e = crate::parse::expr::into_mapping(std::mem::replace(e, Expr::Wildcard));
            }
        }
        set.elements.iter_mut().for_each(expr);
        if set.kind == SetKind::Set && set.has_flag("interval") {
            if let Some(merged) = interval::merge(&set.elements) {
                set.elements = merged;
            }
        }
        sort_dedup_by_bytes(&mut set.elements);
    }
    for chain in table.chains.values_mut() {
        if let Some(base) = &mut chain.base {
            sort_strings(&mut base.devices);
        }
        for rule in &mut chain.rules {
            rule.stmts.iter_mut().for_each(stmt);
        }
    }
    for flowtable in table.flowtables.values_mut() {
        sort_strings(&mut flowtable.devices);
        sort_strings(&mut flowtable.flags);
    }
}

/// Names of the sets of `table` that statements fill from the packet path.
fn dynamic_sets(table: &Table) -> BTreeSet<String> {
    fn visit(s: &Stmt, out: &mut BTreeSet<String>) {
        match s {
            Stmt::Set(x) => {
                out.insert(x.set.trim_start_matches('@').to_owned());
            }
            Stmt::Map(x) => {
                out.insert(x.map.trim_start_matches('@').to_owned());
            }
            _ => {}
        }
        walk::stmt_children(s, &walk::Path::root(), &mut |_, child| {
            if let walk::Child::Stmt(inner) = child {
                visit(inner, out);
            }
        });
    }
    let mut out = BTreeSet::new();
    for chain in table.chains.values() {
        for rule in &chain.rules {
            for s in &rule.stmts {
                visit(s, &mut out);
            }
        }
    }
    out
}

/// Normalises a statement and everything in it.
pub(crate) fn stmt(s: &mut Stmt) {
    walk::stmt_children_mut(s, &mut |child| match child {
        ChildMut::Expr(e) => expr(e),
        ChildMut::Stmt(inner) => stmt(inner),
    });
    if let Stmt::Match(m) = s {
        single_element_set(m);
    }
}

/// `== { x }` and `!= { x }` compare with `x` (nft itself loads `tcp dport { 22 }` as
/// `tcp dport 22`, but lists `{ 1-3, 4-5 }` as the one-element set `{ 1-5 }`) (rule 8).
fn single_element_set(m: &mut Match) {
    if !matches!(m.op, MatchOp::Eq | MatchOp::Ne) {
        return;
    }
    if let Expr::Set(items) = &mut m.right {
        if let [only] = items.as_mut_slice() {
            if !matches!(only, Expr::Elem(_)) {
                m.right = std::mem::replace(only, Expr::Wildcard);
            }
        }
    }
}

/// Normalises an expression and everything in it (children first).
pub(crate) fn expr(e: &mut Expr) {
    walk::expr_children_mut(e, &mut |child| match child {
        ChildMut::Expr(inner) => expr(inner),
        ChildMut::Stmt(inner) => stmt(inner),
    });
    match e {
        Expr::List(items) => sort_dedup_by_bytes(items),
        Expr::Set(items) => {
            if let Some(merged) = interval::merge(items) {
                *items = merged;
            }
            sort_dedup_by_bytes(items);
        }
        Expr::Range(_) | Expr::Prefix(_) => {
            if let Some(simpler) = interval::simplify(e) {
                *e = simpler;
            }
        }
        Expr::Elem(elem)
            if elem.timeout.is_none() && elem.comment.is_none() && elem.stmts.is_empty() =>
        {
            *e = std::mem::replace(&mut elem.val, Expr::Wildcard);
        }
        _ => {}
    }
}

fn sort_strings(v: &mut Vec<String>) {
    v.sort();
    v.dedup();
}

/// Sorts by canonical bytes and drops duplicates (sets are sets). An item without a canonical
/// form (an integer above 2^53) sorts first and is never merged with another.
fn sort_dedup_by_bytes<T: serde::Serialize>(items: &mut Vec<T>) {
    if items.len() < 2 {
        return;
    }
    let mut keyed: Vec<(Option<Vec<u8>>, T)> = items
        .drain(..)
        .map(|item| (jcs::to_vec(&item).ok(), item))
        .collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    keyed.dedup_by(|a, b| a.0.is_some() && a.0 == b.0);
    items.extend(keyed.into_iter().map(|(_, item)| item));
}
