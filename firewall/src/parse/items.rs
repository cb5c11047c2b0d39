//! The top level of `nft -j` output: `{"nftables": [item, …]}`, each item `{KIND: {…}}`. Rules
//! and sets (the large items) are read with typed visitors; the small ones (table, chain,
//! flowtable, objects) through a `serde_json` map. Items are placed into their table as they
//! stream by, so the listing's order does not matter.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::expr::{into_mapping, Key};
use crate::model::{
    table_key, BaseChain, Chain, Expr, Flowtable, Object, Rule, Ruleset, Set, SetKind, SetType,
    Stmt, Table,
};

/// Reads the whole document.
pub(super) fn read_document<'de, D: Deserializer<'de>>(d: D) -> Result<Ruleset, D::Error> {
    d.deserialize_map(DocumentVisitor)
}

struct DocumentVisitor;

impl<'de> Visitor<'de> for DocumentVisitor {
    type Value = Ruleset;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(r#"the top level {"nftables": [...]}"#)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Ruleset, A::Error> {
        let mut builder = Builder::default();
        let mut seen = false;
        while let Some(key) = map.next_key::<Key<'de>>()? {
            if key.0 != "nftables" || seen {
                return Err(de::Error::custom(format!(
                    r#"the top level must be {{"nftables": [...]}}, found member {:?}"#,
                    key.0
                )));
            }
            map.next_value_seed(ItemsSeed(&mut builder))?;
            seen = true;
        }
        if !seen {
            return Err(de::Error::custom(
                r#"the top level must be {"nftables": [...]}"#,
            ));
        }
        Ok(builder.finish())
    }
}

struct ItemsSeed<'b>(&'b mut Builder);

impl<'de> DeserializeSeed<'de> for ItemsSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ItemsSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of nftables items")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(ItemSeed(&mut *self.0))?.is_some() {}
        Ok(())
    }
}

struct ItemSeed<'b>(&'b mut Builder);

impl<'de> DeserializeSeed<'de> for ItemSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ItemSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an nftables item")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let Some(kind) = map.next_key::<Key<'de>>()? else {
            self.0.unknown_items.push(Value::Object(Map::new()));
            return Ok(());
        };
        let kind = kind.0;
        match kind.as_ref() {
            "metainfo" => {
                map.next_value::<de::IgnoredAny>()?;
            }
            "rule" => {
                let rule = map.next_value::<RuleItem>()?;
                self.0.add_rule(rule);
            }
            "set" | "map" | "meter" => {
                let set_kind = match kind.as_ref() {
                    "map" => SetKind::Map,
                    "meter" => SetKind::Meter,
                    _ => SetKind::Set,
                };
                let item = map.next_value::<SetItem>()?;
                self.0.add_set(set_kind, item);
            }
            other => {
                let body = map.next_value::<Value>()?;
                self.0.add_other(other, body);
            }
        }
        // An item with more than one member is not nft's: keep the rest verbatim.
        while let Some((k, v)) = map.next_entry::<String, Value>()? {
            let mut m = Map::new();
            m.insert(k, v);
            self.0.unknown_items.push(Value::Object(m));
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut items = Vec::new();
        while let Some(v) = seq.next_element::<Value>()? {
            items.push(v);
        }
        self.0.unknown_items.push(Value::Array(items));
        Ok(())
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.0.unknown_items.push(v.into());
        Ok(())
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        self.0.unknown_items.push(v.into());
        Ok(())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        self.0.unknown_items.push(v.into());
        Ok(())
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        self.0.unknown_items.push(v.into());
        Ok(())
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<(), E> {
        self.0.unknown_items.push(v.into());
        Ok(())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.0.unknown_items.push(Value::Null);
        Ok(())
    }
}

/// The place fields of an item: which table (and chain) it belongs to.
#[derive(Default)]
struct Place {
    family: Option<String>,
    table: Option<String>,
}

/// `{"rule": {...}}`.
#[derive(Default)]
struct RuleItem {
    place: Place,
    chain: Option<String>,
    rule: Rule,
}

impl<'de> de::Deserialize<'de> for RuleItem {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RuleItem;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a rule object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RuleItem, A::Error> {
                let mut item = RuleItem::default();
                while let Some(key) = map.next_key::<Key<'de>>()? {
                    match key.0.as_ref() {
                        "family" => item.place.family = Some(map.next_value()?),
                        "table" => item.place.table = Some(map.next_value()?),
                        "chain" => item.chain = Some(map.next_value()?),
                        "handle" | "index" | "position" => {
                            map.next_value::<de::IgnoredAny>()?;
                        }
                        "comment" => item.rule.comment = Some(map.next_value()?),
                        "expr" => item.rule.stmts = map.next_value::<Vec<Stmt>>()?,
                        other => {
                            let v = map.next_value::<Value>()?;
                            item.rule.unknown.insert(other.to_owned(), v);
                        }
                    }
                }
                Ok(item)
            }
        }
        d.deserialize_map(V)
    }
}

/// `{"set": {...}}` / `{"map": {...}}`: elements and statements typed, the rest as values.
#[derive(Default)]
struct SetItem {
    fields: Map<String, Value>,
    elements: Vec<Expr>,
    stmts: Vec<Stmt>,
}

impl<'de> de::Deserialize<'de> for SetItem {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = SetItem;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a set object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SetItem, A::Error> {
                let mut item = SetItem::default();
                while let Some(key) = map.next_key::<Key<'de>>()? {
                    match key.0.as_ref() {
                        "elem" => {
                            item.elements = match map.next_value::<Expr>()? {
                                Expr::List(items) => items,
                                one => vec![one],
                            }
                        }
                        "stmt" => item.stmts = map.next_value::<Vec<Stmt>>()?,
                        other => {
                            let v = map.next_value::<Value>()?;
                            item.fields.insert(other.to_owned(), v);
                        }
                    }
                }
                Ok(item)
            }
        }
        d.deserialize_map(V)
    }
}

#[derive(Default)]
struct Builder {
    tables: BTreeMap<String, Table>,
    unknown_items: Vec<Value>,
}

fn take_string(fields: &mut Map<String, Value>, key: &str) -> Option<String> {
    match fields.remove(key) {
        Some(Value::String(s)) => Some(s),
        Some(other) => {
            fields.insert(key.to_owned(), other);
            None
        }
        None => None,
    }
}

fn take_list(fields: &mut Map<String, Value>, key: &str) -> Option<Vec<String>> {
    let value = fields.remove(key)?;
    match serde_json::from_value::<Wrapped>(value.clone()) {
        Ok(Wrapped(list)) => Some(list),
        Err(_) => {
            fields.insert(key.to_owned(), value);
            None
        }
    }
}

#[derive(serde::Deserialize)]
struct Wrapped(#[serde(deserialize_with = "super::string_or_seq")] Vec<String>);

fn take_int<T: serde::de::DeserializeOwned>(
    fields: &mut Map<String, Value>,
    key: &str,
) -> Option<T> {
    let value = fields.remove(key)?;
    match serde_json::from_value::<T>(value.clone()) {
        Ok(v) => Some(v),
        Err(_) => {
            fields.insert(key.to_owned(), value);
            None
        }
    }
}

fn into_unknown(fields: Map<String, Value>) -> BTreeMap<String, Value> {
    fields.into_iter().collect()
}

impl Builder {
    fn finish(self) -> Ruleset {
        Ruleset {
            tables: self.tables,
            unknown_items: self.unknown_items,
        }
    }

    /// The table an item belongs to, created (as undeclared) if the listing has not declared it.
    fn table(&mut self, family: &str, name: &str) -> &mut Table {
        self.tables
            .entry(table_key(family, name))
            .or_insert_with(|| Table {
                undeclared: true,
                ..Table::new(family, name)
            })
    }

    fn keep(&mut self, kind: &str, body: Value) {
        let mut m = Map::new();
        m.insert(kind.to_owned(), body);
        self.unknown_items.push(Value::Object(m));
    }

    fn add_rule(&mut self, item: RuleItem) {
        match (item.place.family, item.place.table, item.chain) {
            (Some(family), Some(table), Some(chain)) => {
                let chain = self
                    .table(&family, &table)
                    .chains
                    .entry(chain)
                    .or_insert_with(|| Chain {
                        undeclared: true,
                        ..Chain::default()
                    });
                chain.rules.push(item.rule);
            }
            (family, table, chain) => {
                let mut body = match serde_json::to_value(&item.rule) {
                    Ok(Value::Object(m)) => m,
                    _ => Map::new(),
                };
                for (k, v) in [("family", family), ("table", table), ("chain", chain)] {
                    if let Some(v) = v {
                        body.insert(k.to_owned(), v.into());
                    }
                }
                self.keep("rule", Value::Object(body));
            }
        }
    }

    fn add_set(&mut self, kind: SetKind, item: SetItem) {
        let mut fields = item.fields;
        let family = take_string(&mut fields, "family");
        let table = take_string(&mut fields, "table");
        let name = take_string(&mut fields, "name");
        let key_type = fields.remove("type").and_then(set_type);
        let (Some(family), Some(table), Some(name), Some(key_type)) =
            (family, table, name, key_type)
        else {
            self.keep(kind.keyword(), Value::Object(fields));
            return;
        };
        fields.remove("handle");
        let mut set = Set::new(kind, key_type);
        set.map_type = fields.remove("map").and_then(set_type);
        set.flags = take_list(&mut fields, "flags").unwrap_or_default();
        set.policy = take_string(&mut fields, "policy");
        set.size = take_int(&mut fields, "size");
        set.timeout = take_int(&mut fields, "timeout");
        set.gc_interval = take_int(&mut fields, "gc-interval");
        set.comment = take_string(&mut fields, "comment");
        set.auto_merge = take_int::<bool>(&mut fields, "auto-merge").unwrap_or(false);
        set.elements = item.elements;
        if kind == SetKind::Map {
            set.elements = set.elements.into_iter().map(into_mapping).collect();
        }
        set.stmts = item.stmts;
        set.unknown = into_unknown(fields);
        self.table(&family, &table).sets.insert(name, set);
    }

    fn add_other(&mut self, kind: &str, body: Value) {
        let Value::Object(mut fields) = body else {
            self.keep(kind, body);
            return;
        };
        let family = take_string(&mut fields, "family");
        let table_name = take_string(&mut fields, if kind == "table" { "name" } else { "table" });
        let (Some(family), Some(table_name)) = (family, table_name) else {
            self.keep(kind, Value::Object(fields));
            return;
        };
        fields.remove("handle");
        match kind {
            "table" => {
                let flags = take_list(&mut fields, "flags").unwrap_or_default();
                let comment = take_string(&mut fields, "comment");
                let table = self.table(&family, &table_name);
                table.undeclared = false;
                table.flags = flags;
                table.comment = comment;
                table.unknown = into_unknown(fields);
            }
            "chain" => {
                let Some(name) = take_string(&mut fields, "name") else {
                    fields.insert("family".into(), family.into());
                    fields.insert("table".into(), table_name.into());
                    self.keep(kind, Value::Object(fields));
                    return;
                };
                let chain = chain_from(fields);
                let slot = self
                    .table(&family, &table_name)
                    .chains
                    .entry(name)
                    .or_default();
                let rules = std::mem::take(&mut slot.rules);
                *slot = Chain { rules, ..chain };
            }
            "flowtable" => {
                let name = take_string(&mut fields, "name").unwrap_or_default();
                let flowtable = Flowtable {
                    devices: take_list(&mut fields, "dev").unwrap_or_default(),
                    flags: take_list(&mut fields, "flags").unwrap_or_default(),
                    hook: take_string(&mut fields, "hook"),
                    prio: take_int(&mut fields, "prio"),
                    unknown: into_unknown(fields),
                };
                self.table(&family, &table_name)
                    .flowtables
                    .insert(name, flowtable);
            }
            _ => {
                match kind {
                    "counter" => {
                        fields.remove("packets");
                        fields.remove("bytes");
                    }
                    "quota" => {
                        fields.remove("used");
                    }
                    _ => {}
                }
                let object = Object::from_fields(kind, fields);
                self.table(&family, &table_name)
                    .objects
                    .insert(object.key(), object);
            }
        }
    }
}

fn set_type(value: Value) -> Option<SetType> {
    serde_json::from_str::<SetType>(&value.to_string()).ok()
}

/// A chain from its listed fields (place fields and name already taken).
fn chain_from(mut fields: Map<String, Value>) -> Chain {
    let comment = take_string(&mut fields, "comment");
    let chain_type = take_string(&mut fields, "type");
    let hook = take_string(&mut fields, "hook");
    let prio = take_int::<i64>(&mut fields, "prio");
    let base = match (chain_type, hook, prio) {
        (Some(chain_type), Some(hook), Some(prio)) => Some(BaseChain {
            chain_type,
            hook,
            prio,
            policy: take_string(&mut fields, "policy"),
            devices: take_list(&mut fields, "dev").unwrap_or_default(),
        }),
        (chain_type, hook, prio) => {
            // A partial base chain is not something the model can place: keep it verbatim.
            if let Some(t) = chain_type {
                fields.insert("type".into(), t.into());
            }
            if let Some(h) = hook {
                fields.insert("hook".into(), h.into());
            }
            if let Some(p) = prio {
                fields.insert("prio".into(), p.into());
            }
            None
        }
    };
    Chain {
        base,
        comment,
        rules: Vec::new(),
        undeclared: false,
        unknown: into_unknown(fields),
    }
}
