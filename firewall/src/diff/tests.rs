//! Tests of the semantic diff on rulesets captured from real `nft -j list ruleset` output
//! (`fixtures/*.nft` loaded into a scratch network namespace by `fixtures/make.sh`), plus
//! property tests of the edit script (`tests/prop.rs`).

mod prop;

use super::*;
use crate::from_nft_json;

fn fixture(name: &str) -> Ruleset {
    let bytes: &[u8] = match name {
        "base" => include_bytes!("fixtures/base.json"),
        "top_insert" => include_bytes!("fixtures/top_insert.json"),
        "moved" => include_bytes!("fixtures/moved.json"),
        "changed" => include_bytes!("fixtures/changed.json"),
        "policy" => include_bytes!("fixtures/policy.json"),
        "set_elements" => include_bytes!("fixtures/set_elements.json"),
        "vmap" => include_bytes!("fixtures/vmap.json"),
        "table_removed" => include_bytes!("fixtures/table_removed.json"),
        other => panic!("no fixture {other}"),
    };
    from_nft_json(bytes).unwrap()
}

const VARIANTS: [&str; 7] = [
    "top_insert",
    "moved",
    "changed",
    "policy",
    "set_elements",
    "vmap",
    "table_removed",
];

fn from_base(variant: &str) -> RulesetDiff {
    diff(&fixture("base"), &fixture(variant))
}

/// The only changed chain of the only changed table.
fn only_chain(d: &RulesetDiff) -> &ChainDiff {
    assert_eq!(d.tables.len(), 1, "{d:#?}");
    assert_eq!(d.tables[0].chains.len(), 1, "{d:#?}");
    &d.tables[0].chains[0]
}

/// Rule `n` (1-based) of `table`/`chain`, as the diff shows it (`render::rule_text`, whose exact
/// spelling — `iif lo` or `meta iif lo` — is the renderer's business, not the diff's).
fn text_of(r: &Ruleset, table: &str, chain: &str, n: usize) -> String {
    crate::render::rule_text(&r.tables[table].chains[chain].rules[n - 1])
}

fn at(position: usize, rule: &str) -> Option<RuleAt> {
    Some(RuleAt {
        position,
        rule: rule.to_owned(),
    })
}

#[test]
fn identical_rulesets_have_an_empty_diff() {
    let base = fixture("base");
    let d = diff(&base, &base);
    assert!(d.is_empty());
    assert_eq!(d.summary(), "no changes");
    assert_eq!(d.to_text(), "no changes\n");
    assert_eq!(d.counts(), DiffCounts::default());
    // The canonical document read back (the verifier's side) is the same ruleset.
    let canonical = base.canonical().unwrap();
    let back = Ruleset::from_canonical(canonical.as_bytes()).unwrap();
    assert!(diff(&base, &back).is_empty());
}

#[test]
fn every_variant_differs_from_the_base() {
    for v in VARIANTS {
        assert!(!from_base(v).is_empty(), "{v}");
    }
}

#[test]
fn rule_inserted_at_the_top_is_one_addition_not_n_changes() {
    let d = from_base("top_insert");
    let c = only_chain(&d);
    assert_eq!(c.name, "input");
    assert_eq!(c.status, Status::Changed);
    assert!(c.attributes.is_empty());
    assert_eq!(
        c.rules,
        [RuleChange {
            change: RuleChangeKind::Added,
            old: None,
            new: at(1, "ip saddr 203.0.113.7 drop"),
        }]
    );
    assert_eq!(d.summary(), "1 rule added");
}

#[test]
fn rule_moved_is_one_move() {
    let d = from_base("moved");
    let c = only_chain(&d);
    let lo = text_of(&fixture("base"), "inet filter", "input", 2);
    assert!(lo.contains("iif lo accept"), "{lo}");
    assert_eq!(lo, text_of(&fixture("moved"), "inet filter", "input", 4));
    assert_eq!(
        c.rules,
        [RuleChange {
            change: RuleChangeKind::Moved,
            old: at(2, &lo),
            new: at(4, &lo),
        }]
    );
    assert!(d.to_text().contains(&format!("rule 2 moved to 4: `{lo}`")));
    assert_eq!(d.summary(), "1 rule moved");
}

#[test]
fn rule_changed_in_place_is_one_change() {
    let d = from_base("changed");
    let c = only_chain(&d);
    assert_eq!(
        c.rules,
        [RuleChange {
            change: RuleChangeKind::Changed,
            old: at(4, "tcp dport 2222 accept"),
            new: at(4, "tcp dport 22 accept"),
        }]
    );
    assert!(d
        .to_text()
        .contains("rule 4 changed: `tcp dport 2222 accept` → `tcp dport 22 accept`"));
}

#[test]
fn chain_policy_change_is_an_attribute_change() {
    let d = from_base("policy");
    let c = only_chain(&d);
    assert!(c.rules.is_empty());
    assert_eq!(
        c.attributes,
        [AttributeChange {
            attribute: "policy".into(),
            old: Some("drop".into()),
            new: Some("accept".into()),
        }]
    );
    assert_eq!(d.counts().policy_changes, 1);
    assert_eq!(d.summary(), "1 policy change");
    assert!(d.to_text().contains("chain input: policy drop → accept"));
}

#[test]
fn set_element_additions_and_removals_are_listed() {
    let d = from_base("set_elements");
    let t = &d.tables[0];
    assert!(t.chains.is_empty());
    assert_eq!(t.sets.len(), 1);
    let s = &t.sets[0];
    assert_eq!(
        (s.name.as_str(), s.kind.as_str(), s.status),
        ("allowed_v4", "set", Status::Changed)
    );
    assert!(s.attributes.is_empty());
    assert_eq!(s.elements_added, ["172.16.0.0/12", "198.51.100.0/24"]);
    assert_eq!(s.elements_removed, ["192.168.1.0/24"]);
    assert!(s.elements_changed.is_empty());
    assert_eq!(d.summary(), "2 set elements added, 1 set element removed");
}

#[test]
fn verdict_map_change_is_a_map_element_change() {
    let d = from_base("vmap");
    let s = &d.tables[0].sets[0];
    assert_eq!((s.name.as_str(), s.kind.as_str()), ("zones", "map"));
    assert_eq!(
        s.elements_changed,
        [ElementChange {
            key: "eth1".into(),
            old: "eth1 : jump zone_internal".into(),
            new: "eth1 : jump zone_public".into(),
        }]
    );
    assert_eq!(s.elements_added, ["eth2 : drop"]);
    assert!(s.elements_removed.is_empty());
}

#[test]
fn removed_table_removes_everything_in_it() {
    let d = from_base("table_removed");
    assert_eq!(d.tables.len(), 1);
    let t = &d.tables[0];
    assert_eq!((t.name.as_str(), t.status), ("ip nat", Status::Removed));
    let c = &t.chains[0];
    assert_eq!(c.status, Status::Removed);
    let masquerade = text_of(&fixture("base"), "ip nat", "postrouting", 1);
    assert!(
        masquerade.contains("oifname eth0 masquerade"),
        "{masquerade}"
    );
    assert_eq!(
        c.rules,
        [RuleChange {
            change: RuleChangeKind::Removed,
            old: at(1, &masquerade),
            new: None,
        }]
    );
    assert_eq!(
        d.summary(),
        "1 table removed, 1 chain removed, 1 rule removed"
    );
    let text = d.to_text();
    assert!(text.contains("table ip nat:\n  table removed\n"), "{text}");
    assert!(
        text.contains(
            "chain postrouting removed: type nat hook postrouting priority 100 policy accept"
        ),
        "{text}"
    );
}

#[test]
fn added_ruleset_counts_every_rule_and_element() {
    let base = fixture("base");
    let d = diff(&Ruleset::default(), &base);
    let c = d.counts();
    assert_eq!(c.tables_added, 2);
    assert_eq!(c.rules_added, base.rule_count());
    assert_eq!(c.elements_added, 4);
    assert_eq!(c.objects_added, 1);
    let positions: Vec<usize> = d.tables[0]
        .chains
        .iter()
        .find(|c| c.name == "input")
        .unwrap()
        .rules
        .iter()
        .map(|r| r.new.as_ref().unwrap().position)
        .collect();
    assert_eq!(positions, (1..=7).collect::<Vec<_>>());
}

#[test]
fn diff_in_both_directions_are_mirror_images() {
    for v in VARIANTS {
        let (a, b) = (fixture("base"), fixture(v));
        assert_eq!(
            normalised(&diff(&b, &a)),
            normalised(&mirror(&diff(&a, &b))),
            "{v}"
        );
    }
}

#[test]
fn text_puts_policies_before_rules_before_set_elements() {
    let mut new = fixture("policy");
    let changed = fixture("changed");
    let set_elements = fixture("set_elements");
    let filter = new.tables.get_mut("inet filter").unwrap();
    filter.chains = changed.tables["inet filter"].chains.clone();
    filter
        .chains
        .get_mut("input")
        .unwrap()
        .base
        .as_mut()
        .unwrap()
        .policy = Some("accept".into());
    filter.sets = set_elements.tables["inet filter"].sets.clone();
    let text = diff(&fixture("base"), &new).to_text();
    let expected = "\
1 policy change, 1 rule changed, 2 set elements added, 1 set element removed
table inet filter:
  chain input: policy drop → accept
chain inet filter input:
  rule 4 changed: `tcp dport 2222 accept` → `tcp dport 22 accept`
set inet filter allowed_v4:
  element added: 172.16.0.0/12
  element added: 198.51.100.0/24
  element removed: 192.168.1.0/24
";
    assert_eq!(text, expected);
    let limited = diff(&fixture("base"), &new).to_text_limited(3);
    assert!(
        limited.ends_with("  chain input: policy drop → accept\n… 6 more lines\n"),
        "{limited}"
    );
}

#[test]
fn json_has_the_documented_shape() {
    let d = from_base("changed");
    let v = serde_json::to_value(&d).unwrap();
    assert_eq!(v["format"], DIFF_FORMAT);
    assert_eq!(v["summary"], "1 rule changed");
    assert_eq!(v["counts"]["rules_changed"], 1);
    let rule = &v["tables"][0]["chains"][0]["rules"][0];
    assert_eq!(
        *rule,
        serde_json::json!({
            "change": "changed",
            "old": {"position": 4, "rule": "tcp dport 2222 accept"},
            "new": {"position": 4, "rule": "tcp dport 22 accept"},
        })
    );
    let back: RulesetDiff = serde_json::from_value(v).unwrap();
    assert_eq!(back, d);
}

#[test]
fn objects_and_chain_attributes_are_compared() {
    let base = fixture("base");
    let mut new = base.clone();
    let t = new.tables.get_mut("inet filter").unwrap();
    t.objects.clear();
    let input = t.chains.get_mut("input").unwrap();
    input.base.as_mut().unwrap().prio = 10;
    t.flags = vec!["dormant".into()];
    let d = diff(&base, &new);
    let t = &d.tables[0];
    assert_eq!(t.attributes[0].attribute, "flags");
    assert_eq!(t.chains[0].attributes[0].attribute, "priority");
    assert_eq!(t.objects[0].name, "counter ssh_hits");
    assert_eq!(t.objects[0].status, Status::Removed);
    let c = d.counts();
    assert_eq!(
        (c.table_changes, c.chain_changes, c.objects_removed),
        (1, 1, 1)
    );
}

#[test]
fn chain_hook_type_priority_and_devices_are_attribute_changes() {
    let base = fixture("base");
    let mut new = base.clone();
    let fwd = new
        .tables
        .get_mut("inet filter")
        .unwrap()
        .chains
        .get_mut("forward")
        .unwrap();
    let b = fwd.base.as_mut().unwrap();
    b.chain_type = "route".into();
    b.hook = "output".into();
    b.prio = -150;
    b.devices = vec!["eth0".into(), "eth1".into()];
    let d = diff(&base, &new);
    let c = only_chain(&d);
    assert_eq!(c.name, "forward");
    let names: Vec<&str> = c.attributes.iter().map(|a| a.attribute.as_str()).collect();
    assert_eq!(names, ["type", "hook", "devices", "priority"]);
    assert_eq!(c.attributes[2].old, None);
    assert_eq!(c.attributes[2].new.as_deref(), Some("eth0, eth1"));
    assert_eq!(
        (
            c.attributes[3].old.as_deref(),
            c.attributes[3].new.as_deref()
        ),
        (Some("0"), Some("-150"))
    );
    assert_eq!(d.counts().chain_changes, 4);
    assert_eq!(d.counts().policy_changes, 0);
    assert!(
        d.to_text()
            .contains("  chain forward: hook forward → output\n"),
        "{}",
        d.to_text()
    );
}

#[test]
fn added_chain_and_set_list_their_contents() {
    let base = fixture("base");
    let mut new = base.clone();
    let t = new.tables.get_mut("inet filter").unwrap();
    let mut chain = t.chains["zone_public"].clone();
    chain
        .rules
        .push(base.tables["inet filter"].chains["input"].rules[3].clone());
    t.chains.insert("zone_dmz".into(), chain);
    let mut set = t.sets["allowed_v4"].clone();
    set.flags.clear();
    t.sets.insert("blocked".into(), set);
    let d = diff(&base, &new);
    let t = &d.tables[0];
    let c = &t.chains[0];
    assert_eq!((c.name.as_str(), c.status), ("zone_dmz", Status::Added));
    let added: Vec<(RuleChangeKind, usize)> = c
        .rules
        .iter()
        .map(|r| (r.change, r.new.as_ref().unwrap().position))
        .collect();
    assert_eq!(
        added,
        [(RuleChangeKind::Added, 1), (RuleChangeKind::Added, 2)]
    );
    assert_eq!(
        c.rules[1].new.as_ref().unwrap().rule,
        "tcp dport 2222 accept"
    );
    let s = &t.sets[0];
    assert_eq!((s.name.as_str(), s.status), ("blocked", Status::Added));
    assert_eq!(s.elements_added, ["10.0.0.0/8", "192.168.1.0/24"]);
    assert_eq!(
        d.summary(),
        "1 chain added, 2 rules added, 1 set added, 2 set elements added"
    );
    let text = d.to_text();
    assert!(
        text.contains("  chain zone_dmz added: regular chain\n"),
        "{text}"
    );
    assert!(
        text.contains("  rule 2 added: `tcp dport 2222 accept`\n"),
        "{text}"
    );
    assert!(
        text.contains(
            "set inet filter blocked:\n  set added: kind set type ipv4_addr (2 elements)\n"
        ),
        "{text}"
    );
}

#[test]
fn set_declaration_change_is_an_attribute_change() {
    let base = fixture("base");
    let mut new = base.clone();
    let s = new
        .tables
        .get_mut("inet filter")
        .unwrap()
        .sets
        .get_mut("allowed_v4")
        .unwrap();
    s.timeout = Some(3600);
    s.comment = Some("admins".into());
    let d = diff(&base, &new);
    let s = &d.tables[0].sets[0];
    let names: Vec<&str> = s.attributes.iter().map(|a| a.attribute.as_str()).collect();
    assert_eq!(names, ["timeout", "comment"]);
    assert_eq!(s.attributes[0].new.as_deref(), Some("3600s"));
    assert!(s.elements_added.is_empty() && s.elements_removed.is_empty());
    assert_eq!(d.summary(), "2 set declaration changes");
}

/// `d` with old and new swapped.
pub(super) fn mirror(d: &RulesetDiff) -> RulesetDiff {
    let status = |s: Status| match s {
        Status::Added => Status::Removed,
        Status::Removed => Status::Added,
        Status::Changed => Status::Changed,
    };
    let attrs = |a: &[AttributeChange]| -> Vec<AttributeChange> {
        a.iter()
            .map(|a| AttributeChange {
                attribute: a.attribute.clone(),
                old: a.new.clone(),
                new: a.old.clone(),
            })
            .collect()
    };
    let item = |i: &ItemDiff| ItemDiff {
        name: i.name.clone(),
        status: status(i.status),
        attributes: attrs(&i.attributes),
    };
    RulesetDiff {
        tables: d
            .tables
            .iter()
            .map(|t| TableDiff {
                name: t.name.clone(),
                status: status(t.status),
                attributes: attrs(&t.attributes),
                chains: t
                    .chains
                    .iter()
                    .map(|c| ChainDiff {
                        name: c.name.clone(),
                        status: status(c.status),
                        attributes: attrs(&c.attributes),
                        rules: c.rules.iter().map(mirror_rule).collect(),
                    })
                    .collect(),
                sets: t
                    .sets
                    .iter()
                    .map(|s| SetDiff {
                        name: s.name.clone(),
                        kind: s.kind.clone(),
                        status: status(s.status),
                        attributes: attrs(&s.attributes),
                        elements_added: s.elements_removed.clone(),
                        elements_removed: s.elements_added.clone(),
                        elements_changed: s
                            .elements_changed
                            .iter()
                            .map(|e| ElementChange {
                                key: e.key.clone(),
                                old: e.new.clone(),
                                new: e.old.clone(),
                            })
                            .collect(),
                    })
                    .collect(),
                objects: t.objects.iter().map(item).collect(),
                flowtables: t.flowtables.iter().map(item).collect(),
            })
            .collect(),
        unknown_items_added: d.unknown_items_removed.clone(),
        unknown_items_removed: d.unknown_items_added.clone(),
    }
}

pub(super) fn mirror_rule(r: &RuleChange) -> RuleChange {
    let change = match r.change {
        RuleChangeKind::Added => RuleChangeKind::Removed,
        RuleChangeKind::Removed => RuleChangeKind::Added,
        other => other,
    };
    RuleChange {
        change,
        old: r.new.clone(),
        new: r.old.clone(),
    }
}

/// `d` with its order-free lists sorted (script order differs between the two directions).
pub(super) fn normalised(d: &RulesetDiff) -> RulesetDiff {
    let mut d = d.clone();
    for t in &mut d.tables {
        for c in &mut t.chains {
            c.rules
                .sort_by(|a, b| (a.change, &a.old, &a.new).cmp(&(b.change, &b.old, &b.new)));
        }
        for s in &mut t.sets {
            s.elements_added.sort();
            s.elements_removed.sort();
            s.elements_changed.sort();
        }
    }
    d
}
