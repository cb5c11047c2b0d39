//! Attributes of tables, chains, sets, objects and flowtables, and set element deltas.
//!
//! Each thing is described as a list of `(rank, attribute) → value` pairs in nft syntax (absent
//! attributes omitted); two descriptions are merged in that fixed order, so the comparison is
//! symmetric and a thing that does not exist on one side is simply "everything absent".

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use serde_json::Value;

use super::types::{AttributeChange, ElementChange, ItemDiff, SetDiff, Status};
use crate::model::{Chain, Expr, Flowtable, Object, Set, SetType, Table};
use crate::render::{expr_text, stmt_text};

/// Attribute values keyed by (rank, name): known attributes first in a fixed order, then the
/// ones the model keeps verbatim (`unknown:<key>`), by name.
type Attrs = BTreeMap<(u8, String), String>;

const UNKNOWN_RANK: u8 = 100;

/// The changed attributes between two descriptions.
pub(super) fn compare(old: &Attrs, new: &Attrs) -> Vec<AttributeChange> {
    let keys: std::collections::BTreeSet<&(u8, String)> = old.keys().chain(new.keys()).collect();
    keys.into_iter()
        .filter_map(|key| {
            let (o, n) = (old.get(key), new.get(key));
            (o != n).then(|| AttributeChange {
                attribute: key.1.clone(),
                old: o.cloned(),
                new: n.cloned(),
            })
        })
        .collect()
}

fn put(attrs: &mut Attrs, rank: u8, name: &str, value: Option<String>) {
    if let Some(v) = value {
        attrs.insert((rank, name.to_owned()), v);
    }
}

fn put_unknown(attrs: &mut Attrs, unknown: &BTreeMap<String, Value>) {
    for (k, v) in unknown {
        attrs.insert((UNKNOWN_RANK, format!("unknown:{k}")), json_text(v));
    }
}

/// A JSON value as text: strings bare, everything else compact JSON.
pub(super) fn json_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn list(items: &[String]) -> Option<String> {
    (!items.is_empty()).then(|| items.join(", "))
}

fn flag(set: bool) -> Option<String> {
    set.then(|| "true".to_owned())
}

/// Table attributes (chains, sets, objects and flowtables are compared separately).
pub(super) fn table_attrs(t: Option<&Table>) -> Attrs {
    let mut a = Attrs::new();
    if let Some(t) = t {
        put(&mut a, 0, "flags", list(&t.flags));
        put(&mut a, 1, "comment", t.comment.clone());
        put(&mut a, 2, "undeclared", flag(t.undeclared));
        put_unknown(&mut a, &t.unknown);
    }
    a
}

/// Chain attributes, in nft's order (`type filter hook input priority 0; policy drop;`).
pub(super) fn chain_attrs(c: Option<&Chain>) -> Attrs {
    let mut a = Attrs::new();
    if let Some(c) = c {
        if let Some(b) = &c.base {
            put(&mut a, 0, "type", Some(b.chain_type.clone()));
            put(&mut a, 1, "hook", Some(b.hook.clone()));
            put(&mut a, 2, "devices", list(&b.devices));
            put(&mut a, 3, "priority", Some(b.prio.to_string()));
            put(&mut a, 4, "policy", b.policy.clone());
        }
        put(&mut a, 5, "comment", c.comment.clone());
        put(&mut a, 6, "undeclared", flag(c.undeclared));
        put_unknown(&mut a, &c.unknown);
    }
    a
}

fn set_type_text(t: &SetType) -> String {
    match t {
        SetType::Name(n) => n.clone(),
        SetType::Concat(parts) => parts.join(" . "),
        SetType::Typeof(e) => format!("typeof {}", expr_text(e)),
    }
}

/// Set, map or meter declaration (elements are compared separately).
pub(super) fn set_attrs(s: Option<&Set>) -> Attrs {
    let mut a = Attrs::new();
    if let Some(s) = s {
        put(&mut a, 0, "kind", Some(s.kind.keyword().to_owned()));
        put(&mut a, 1, "type", Some(set_type_text(&s.key_type)));
        put(&mut a, 2, "map", s.map_type.as_ref().map(set_type_text));
        put(&mut a, 3, "flags", list(&s.flags));
        put(&mut a, 4, "timeout", s.timeout.map(|t| format!("{t}s")));
        put(
            &mut a,
            5,
            "gc-interval",
            s.gc_interval.map(|t| format!("{t}s")),
        );
        put(&mut a, 6, "size", s.size.map(|n| n.to_string()));
        put(&mut a, 7, "policy", s.policy.clone());
        put(&mut a, 8, "auto-merge", flag(s.auto_merge));
        let stmts: Vec<String> = s.stmts.iter().map(stmt_text).collect();
        put(
            &mut a,
            9,
            "stmt",
            (!stmts.is_empty()).then(|| stmts.join(" ")),
        );
        put(&mut a, 10, "comment", s.comment.clone());
        put_unknown(&mut a, &s.unknown);
    }
    a
}

/// A named object's configuration: the fields of its canonical JSON but `kind` and `name`
/// (which are its key).
pub(super) fn object_attrs(o: Option<&Object>) -> Attrs {
    let mut a = Attrs::new();
    if let Some(Value::Object(fields)) = o.map(Object::to_value) {
        for (k, v) in fields {
            if k != "kind" && k != "name" {
                a.insert((0, k), json_text(&v));
            }
        }
    }
    a
}

/// A flowtable's configuration.
pub(super) fn flowtable_attrs(f: Option<&Flowtable>) -> Attrs {
    let mut a = Attrs::new();
    if let Some(f) = f {
        put(&mut a, 0, "hook", f.hook.clone());
        put(&mut a, 1, "priority", f.prio.map(|p| p.to_string()));
        put(&mut a, 2, "devices", list(&f.devices));
        put(&mut a, 3, "flags", list(&f.flags));
        put_unknown(&mut a, &f.unknown);
    }
    a
}

/// `Added`, `Removed` or `Changed` for a thing present on the old and/or new side.
pub(super) fn status<T>(old: Option<&T>, new: Option<&T>) -> Status {
    match (old, new) {
        (None, _) => Status::Added,
        (_, None) => Status::Removed,
        _ => Status::Changed,
    }
}

/// An object or flowtable (the caller has checked that they differ).
pub(super) fn item(name: &str, status: Status, old: &Attrs, new: &Attrs) -> ItemDiff {
    ItemDiff {
        name: name.to_owned(),
        status,
        attributes: compare(old, new),
    }
}

/// A set or map that differs: declaration and element deltas.
pub(super) fn set(name: &str, old: Option<&Set>, new: Option<&Set>) -> SetDiff {
    let none: &[Expr] = &[];
    let old_elems = old.map_or(none, |s| &s.elements);
    let new_elems = new.map_or(none, |s| &s.elements);
    let (elements_added, elements_removed, elements_changed) = elements(old_elems, new_elems);
    SetDiff {
        name: name.to_owned(),
        kind: new
            .or(old)
            .map(|s| s.kind.keyword().to_owned())
            .unwrap_or_default(),
        status: status(old, new),
        attributes: compare(&set_attrs(old), &set_attrs(new)),
        elements_added,
        elements_removed,
        elements_changed,
    }
}

/// Canonical bytes of an expression (its identity).
fn bytes(e: &Expr) -> Vec<u8> {
    let mut out = Vec::new();
    if crate::canonical::jcs::write(&mut out, e).is_err() {
        out = format!("{e:?}").into_bytes();
    }
    out
}

/// The key of an element: a map element's key, an element's value without its attributes.
fn key_of(e: &Expr) -> &Expr {
    match e {
        Expr::Mapping(k, _) => key_of(k),
        Expr::Elem(el) => key_of(&el.val),
        other => other,
    }
}

/// Elements only in `new`, only in `old`, and pairs with equal keys (changed), in nft syntax.
fn elements(old: &[Expr], new: &[Expr]) -> (Vec<String>, Vec<String>, Vec<ElementChange>) {
    let old_bytes: Vec<Vec<u8>> = old.iter().map(bytes).collect();
    let new_bytes: Vec<Vec<u8>> = new.iter().map(bytes).collect();
    let in_old: HashSet<&[u8]> = old_bytes.iter().map(Vec::as_slice).collect();
    let in_new: HashSet<&[u8]> = new_bytes.iter().map(Vec::as_slice).collect();
    let removed: Vec<&Expr> = old
        .iter()
        .zip(&old_bytes)
        .filter(|(_, b)| !in_new.contains(b.as_slice()))
        .map(|(e, _)| e)
        .collect();
    let added: Vec<&Expr> = new
        .iter()
        .zip(&new_bytes)
        .filter(|(_, b)| !in_old.contains(b.as_slice()))
        .map(|(e, _)| e)
        .collect();
    // Pair removed and added elements with the same key.
    let mut by_key: HashMap<Vec<u8>, VecDeque<usize>> = HashMap::new();
    for (i, e) in removed.iter().enumerate() {
        by_key.entry(bytes(key_of(e))).or_default().push_back(i);
    }
    let mut paired_old = vec![false; removed.len()];
    let mut changed = Vec::new();
    let mut added_text = Vec::new();
    for e in added {
        let partner = match by_key.entry(bytes(key_of(e))) {
            Entry::Occupied(mut q) => q.get_mut().pop_front(),
            Entry::Vacant(_) => None,
        };
        match partner.and_then(|i| Some((i, *removed.get(i)?))) {
            Some((i, old_e)) => {
                if let Some(p) = paired_old.get_mut(i) {
                    *p = true;
                }
                changed.push(ElementChange {
                    key: expr_text(key_of(e)),
                    old: expr_text(old_e),
                    new: expr_text(e),
                });
            }
            None => added_text.push(expr_text(e)),
        }
    }
    let removed_text = removed
        .iter()
        .zip(&paired_old)
        .filter(|(_, p)| !**p)
        .map(|(e, _)| expr_text(e))
        .collect();
    (added_text, removed_text, changed)
}
