//! The foundation's canonical form of an nftables ruleset, computed from `nft -j` JSON.
//!
//! Rules (each has a test in `canonical/tests.rs`):
//! 1. `metainfo` (nft version) is dropped.
//! 2. Objects are keyed by identity, so creation order does not matter: tables by
//!    `"<family> <name>"`; inside a table, chains and sets by name, other objects by
//!    `"<kind> <name>"`. JCS then sorts the keys.
//! 3. Kernel handles (`handle`) are dropped everywhere; back-references (`family`, `table`,
//!    `chain`) inside a table are dropped because the position says them.
//! 4. Rule order inside a chain is kept: it is semantic (first match wins).
//! 5. Counter and quota *values* are dropped (`packets`, `bytes`, `used`); that a rule counts is
//!    kept as `{"counter": {}}`.
//! 6. Set and map elements are sorted by their canonical bytes; `flags` lists are sorted.
//! 7. Anything not understood is kept verbatim (minus rule 3's fields) and never dropped.
//!
//! The complete typed model of the whole libnftables schema arrives with the firewall issue;
//! this form already has the document shape it will keep.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::NftError;
use palisade_evidence::Canonical;

/// Identifies this canonical form in the document.
pub const FORMAT: &str = "palisade.nftables/0";

/// Fields that identify an object's place, not its meaning.
const PLACE_FIELDS: [&str; 4] = ["handle", "family", "table", "chain"];

#[derive(Default)]
struct Table {
    attrs: Map<String, Value>,
    chains: BTreeMap<String, Map<String, Value>>,
    rules: BTreeMap<String, Vec<Value>>,
    sets: BTreeMap<String, Value>,
    objects: BTreeMap<String, Value>,
}

/// Turns `nft -j list ruleset` output into the canonical model (a JSON value; serialise it with
/// [`Canonical`]).
pub fn canonicalize(raw: &Value) -> Result<Value, NftError> {
    let items = raw
        .get("nftables")
        .and_then(Value::as_array)
        .ok_or_else(|| NftError::Json("top level must be {\"nftables\": [...]}".to_owned()))?;
    let mut tables: BTreeMap<String, Table> = BTreeMap::new();
    for item in items {
        let Some((kind, body)) = item.as_object().and_then(single_entry) else {
            return Err(NftError::Json(format!(
                "list item is not a one-key object: {item}"
            )));
        };
        if kind == "metainfo" {
            continue;
        }
        let body = body
            .as_object()
            .ok_or_else(|| NftError::Json(format!("{kind} is not an object")))?;
        let table_key = match kind {
            "table" => key_of(body, "family", "name")?,
            _ => key_of(body, "family", "table")?,
        };
        let table = tables.entry(table_key).or_default();
        add_item(table, kind, body)?;
    }
    let tables: Map<String, Value> = tables
        .into_iter()
        .map(|(k, t)| (k, table_value(t)))
        .collect();
    Ok(json!({ "format": FORMAT, "tables": tables }))
}

fn single_entry(map: &Map<String, Value>) -> Option<(&str, &Value)> {
    let mut it = map.iter();
    match (it.next(), it.next()) {
        (Some((k, v)), None) => Some((k.as_str(), v)),
        _ => None,
    }
}

fn str_field<'a>(body: &'a Map<String, Value>, field: &str) -> Result<&'a str, NftError> {
    body.get(field).and_then(Value::as_str).ok_or_else(|| {
        NftError::Json(format!(
            "missing string field {field:?} in {}",
            Value::Object(body.clone())
        ))
    })
}

fn key_of(body: &Map<String, Value>, a: &str, b: &str) -> Result<String, NftError> {
    Ok(format!("{} {}", str_field(body, a)?, str_field(body, b)?))
}

fn add_item(table: &mut Table, kind: &str, body: &Map<String, Value>) -> Result<(), NftError> {
    match kind {
        "table" => {
            table.attrs = strip(body);
            table.attrs.insert(
                "family".to_owned(),
                Value::String(str_field(body, "family")?.to_owned()),
            );
            table.attrs.insert(
                "name".to_owned(),
                Value::String(str_field(body, "name")?.to_owned()),
            );
        }
        "chain" => {
            table
                .chains
                .insert(str_field(body, "name")?.to_owned(), strip(body));
        }
        "rule" => {
            let chain = str_field(body, "chain")?.to_owned();
            table.rules.entry(chain).or_default().push(rule_value(body));
        }
        "set" | "map" => {
            let mut set = strip(body);
            if let Some(Value::Array(elems)) = set.get_mut("elem") {
                sort_by_canonical(elems);
            }
            set.insert("kind".to_owned(), Value::String(kind.to_owned()));
            table
                .sets
                .insert(str_field(body, "name")?.to_owned(), Value::Object(set));
        }
        _ => {
            let name = body.get("name").and_then(Value::as_str).unwrap_or("");
            let mut obj = strip(body);
            drop_values(&mut obj);
            table
                .objects
                .insert(format!("{kind} {name}"), Value::Object(obj));
        }
    }
    Ok(())
}

/// Rule 3 and 6: drop place fields, sort flag lists.
fn strip(body: &Map<String, Value>) -> Map<String, Value> {
    let mut out: Map<String, Value> = body
        .iter()
        .filter(|(k, _)| !PLACE_FIELDS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if let Some(Value::Array(flags)) = out.get_mut("flags") {
        sort_by_canonical(flags);
    }
    out
}

/// Rule 5 for named objects.
fn drop_values(obj: &mut Map<String, Value>) {
    for field in ["packets", "bytes", "used"] {
        obj.remove(field);
    }
}

fn rule_value(body: &Map<String, Value>) -> Value {
    let mut rule = Map::new();
    let exprs = body
        .get("expr")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    rule.insert(
        "expr".to_owned(),
        Value::Array(exprs.into_iter().map(statement_value).collect()),
    );
    for (k, v) in body {
        if !PLACE_FIELDS.contains(&k.as_str()) && k != "expr" {
            rule.insert(k.clone(), v.clone());
        }
    }
    Value::Object(rule)
}

/// Rule 5 for statements: `{"counter": {"packets": n, "bytes": m}}` → `{"counter": {}}`,
/// `{"quota": {..., "used": n}}` loses `used`. Rule 6 for anonymous sets: `{"set": [...]}`
/// literals anywhere in the statement are sorted.
fn statement_value(stmt: Value) -> Value {
    let mut stmt = stmt;
    if let Value::Object(map) = &mut stmt {
        for key in ["counter", "quota"] {
            if let Some(Value::Object(inner)) = map.get_mut(key) {
                drop_values(inner);
            }
        }
    }
    sort_anonymous_sets(&mut stmt);
    stmt
}

fn sort_anonymous_sets(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map.iter_mut() {
                sort_anonymous_sets(inner);
                if let ("set", Value::Array(items)) = (key.as_str(), inner) {
                    sort_by_canonical(items);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(sort_anonymous_sets),
        _ => {}
    }
}

fn sort_by_canonical(items: &mut [Value]) {
    items.sort_by_cached_key(|v| {
        Canonical::from_value(v)
            .map(Canonical::into_bytes)
            .unwrap_or_default()
    });
}

fn table_value(t: Table) -> Value {
    let Table {
        mut attrs,
        chains,
        mut rules,
        sets,
        objects,
    } = t;
    let chains: Map<String, Value> = chains
        .into_iter()
        .map(|(name, mut chain)| {
            let chain_rules = rules.remove(&name).unwrap_or_default();
            chain.insert("rules".to_owned(), Value::Array(chain_rules));
            (name, Value::Object(chain))
        })
        .collect();
    // Rules of a chain nft did not list (cannot happen with a consistent dump) are still kept.
    let orphans: Map<String, Value> = rules
        .into_iter()
        .map(|(k, v)| (k, Value::Array(v)))
        .collect();
    attrs.insert("chains".to_owned(), Value::Object(chains));
    attrs.insert("sets".to_owned(), Value::Object(sets.into_iter().collect()));
    attrs.insert(
        "objects".to_owned(),
        Value::Object(objects.into_iter().collect()),
    );
    if !orphans.is_empty() {
        attrs.insert("orphan_rules".to_owned(), Value::Object(orphans));
    }
    Value::Object(attrs)
}

#[cfg(test)]
mod tests;
