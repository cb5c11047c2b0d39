//! The diff as text a human reads in an alert: a summary line, then the changes in three tiers —
//! structure and policies, rules, sets and objects — each grouped by table, chain or set.
//!
//! ```text
//! 1 policy change, 1 rule changed, 1 set element added
//! table inet filter:
//!   chain input: policy drop → accept
//! chain inet filter input:
//!   rule 4 changed: `tcp dport 2222 accept` → `tcp dport 22 accept`
//! set inet filter allowed_v4:
//!   element added: 172.16.0.0/12
//! ```

use super::types::{
    AttributeChange, ChainDiff, DiffCounts, RuleChange, RuleChangeKind, RulesetDiff, SetDiff,
    Status, TableDiff,
};

impl RulesetDiff {
    /// One line of counts, most important first ("1 policy change, 3 rules changed, 12 set
    /// elements added"); `no changes` for an empty diff.
    pub fn summary(&self) -> String {
        let c = self.counts();
        let parts: Vec<String> = summary_items(&c)
            .into_iter()
            .filter(|(n, _, _)| *n > 0)
            .map(|(n, one, many)| format!("{n} {}", if n == 1 { one } else { many }))
            .collect();
        if parts.is_empty() {
            "no changes".to_owned()
        } else {
            parts.join(", ")
        }
    }

    /// The whole diff as text (summary line first, one line per change, newline-terminated).
    pub fn to_text(&self) -> String {
        join(&self.lines())
    }

    /// The diff as text cut after `max_lines` lines (plus a line saying how many were left
    /// out): the summary and the most important changes come first, so the cut loses the least.
    pub fn to_text_limited(&self, max_lines: usize) -> String {
        let mut lines = self.lines();
        if lines.len() > max_lines {
            let left = lines.len() - max_lines;
            lines.truncate(max_lines);
            lines.push(format!("… {left} more lines"));
        }
        join(&lines)
    }

    fn lines(&self) -> Vec<String> {
        let mut out = vec![self.summary()];
        for t in &self.tables {
            structure(&mut out, t);
        }
        for t in &self.tables {
            for c in &t.chains {
                rules(&mut out, t, c);
            }
        }
        for t in &self.tables {
            for s in &t.sets {
                set(&mut out, t, s);
            }
            objects(&mut out, t);
        }
        if !self.unknown_items_added.is_empty() || !self.unknown_items_removed.is_empty() {
            out.push("ruleset:".to_owned());
            for i in &self.unknown_items_added {
                out.push(format!("  unplaced item added: {i}"));
            }
            for i in &self.unknown_items_removed {
                out.push(format!("  unplaced item removed: {i}"));
            }
        }
        out
    }
}

fn join(lines: &[String]) -> String {
    let mut s = lines.join("\n");
    s.push('\n');
    s
}

fn summary_items(c: &DiffCounts) -> Vec<(usize, &'static str, &'static str)> {
    vec![
        (c.tables_added, "table added", "tables added"),
        (c.tables_removed, "table removed", "tables removed"),
        (
            c.table_changes,
            "table attribute change",
            "table attribute changes",
        ),
        (c.chains_added, "chain added", "chains added"),
        (c.chains_removed, "chain removed", "chains removed"),
        (c.policy_changes, "policy change", "policy changes"),
        (
            c.chain_changes,
            "chain attribute change",
            "chain attribute changes",
        ),
        (c.rules_changed, "rule changed", "rules changed"),
        (c.rules_added, "rule added", "rules added"),
        (c.rules_removed, "rule removed", "rules removed"),
        (c.rules_moved, "rule moved", "rules moved"),
        (c.sets_added, "set added", "sets added"),
        (c.sets_removed, "set removed", "sets removed"),
        (
            c.set_changes,
            "set declaration change",
            "set declaration changes",
        ),
        (
            c.elements_changed,
            "set element changed",
            "set elements changed",
        ),
        (c.elements_added, "set element added", "set elements added"),
        (
            c.elements_removed,
            "set element removed",
            "set elements removed",
        ),
        (c.objects_added, "object added", "objects added"),
        (c.objects_removed, "object removed", "objects removed"),
        (c.objects_changed, "object changed", "objects changed"),
        (c.flowtables_added, "flowtable added", "flowtables added"),
        (
            c.flowtables_removed,
            "flowtable removed",
            "flowtables removed",
        ),
        (
            c.flowtables_changed,
            "flowtable changed",
            "flowtables changed",
        ),
        (
            c.unknown_items,
            "unplaced item changed",
            "unplaced items changed",
        ),
    ]
}

fn value(v: Option<&String>) -> &str {
    v.map_or("(none)", String::as_str)
}

/// `policy drop → accept`.
fn attribute(a: &AttributeChange) -> String {
    format!(
        "{} {} → {}",
        a.attribute,
        value(a.old.as_ref()),
        value(a.new.as_ref())
    )
}

/// The attributes of an added or removed thing: `type filter hook input priority 0`.
fn description(attributes: &[AttributeChange], status: Status) -> String {
    attributes
        .iter()
        .filter_map(|a| {
            let v = if status == Status::Added {
                &a.new
            } else {
                &a.old
            };
            v.as_ref().map(|v| format!("{} {v}", a.attribute))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn status_word(s: Status) -> &'static str {
    match s {
        Status::Added => "added",
        Status::Removed => "removed",
        Status::Changed => "changed",
    }
}

/// Tier 1: tables and chains added or removed, table and chain attributes.
fn structure(out: &mut Vec<String>, t: &TableDiff) {
    let mut lines = Vec::new();
    if t.status != Status::Changed {
        lines.push(format!("  table {}", status_word(t.status)));
    }
    for a in &t.attributes {
        lines.push(format!("  {}", attribute(a)));
    }
    for c in &t.chains {
        if c.status == Status::Changed {
            for a in &c.attributes {
                lines.push(format!("  chain {}: {}", c.name, attribute(a)));
            }
        } else {
            let d = description(&c.attributes, c.status);
            let d = if d.is_empty() {
                "regular chain".to_owned()
            } else {
                d
            };
            lines.push(format!("  chain {} {}: {d}", c.name, status_word(c.status)));
        }
    }
    if !lines.is_empty() {
        out.push(format!("table {}:", t.name));
        out.append(&mut lines);
    }
}

/// Tier 2: a chain's edit script.
fn rules(out: &mut Vec<String>, t: &TableDiff, c: &ChainDiff) {
    if c.rules.is_empty() {
        return;
    }
    out.push(format!("chain {} {}:", t.name, c.name));
    out.extend(c.rules.iter().map(|r| format!("  {}", rule(r))));
}

fn rule(r: &RuleChange) -> String {
    let pos = |at: &Option<super::RuleAt>| at.as_ref().map_or(0, |a| a.position);
    let text = |at: &Option<super::RuleAt>| at.as_ref().map_or("", |a| a.rule.as_str()).to_owned();
    match r.change {
        RuleChangeKind::Added => format!("rule {} added: `{}`", pos(&r.new), text(&r.new)),
        RuleChangeKind::Removed => format!("rule {} removed: `{}`", pos(&r.old), text(&r.old)),
        RuleChangeKind::Moved => format!(
            "rule {} moved to {}: `{}`",
            pos(&r.old),
            pos(&r.new),
            text(&r.new)
        ),
        RuleChangeKind::Changed => {
            let (o, n) = (pos(&r.old), pos(&r.new));
            let at = if o == n {
                format!("{o}")
            } else {
                format!("{o} (now {n})")
            };
            format!("rule {at} changed: `{}` → `{}`", text(&r.old), text(&r.new))
        }
    }
}

/// Tier 3: a set's declaration and elements.
fn set(out: &mut Vec<String>, t: &TableDiff, s: &SetDiff) {
    out.push(format!("{} {} {}:", s.kind, t.name, s.name));
    if s.status == Status::Changed {
        for a in &s.attributes {
            out.push(format!("  {}", attribute(a)));
        }
        for e in &s.elements_changed {
            out.push(format!("  element changed: `{}` → `{}`", e.old, e.new));
        }
        for e in &s.elements_added {
            out.push(format!("  element added: {e}"));
        }
        for e in &s.elements_removed {
            out.push(format!("  element removed: {e}"));
        }
    } else {
        let n = s.elements_added.len() + s.elements_removed.len();
        let plural = if n == 1 { "" } else { "s" };
        let d = description(&s.attributes, s.status);
        out.push(format!(
            "  {} {}: {d} ({n} element{plural})",
            s.kind,
            status_word(s.status)
        ));
    }
}

/// Tier 3: named objects and flowtables.
fn objects(out: &mut Vec<String>, t: &TableDiff) {
    let mut lines = Vec::new();
    let things = t
        .objects
        .iter()
        .map(|o| (String::new(), o))
        .chain(t.flowtables.iter().map(|f| ("flowtable ".to_owned(), f)));
    for (prefix, item) in things {
        if item.status == Status::Changed {
            let changes: Vec<String> = item.attributes.iter().map(attribute).collect();
            lines.push(format!(
                "  {prefix}{} changed: {}",
                item.name,
                changes.join(", ")
            ));
        } else {
            let d = description(&item.attributes, item.status);
            let sep = if d.is_empty() { "" } else { ": " };
            lines.push(format!(
                "  {prefix}{} {}{sep}{d}",
                item.name,
                status_word(item.status)
            ));
        }
    }
    if !lines.is_empty() {
        out.push(format!("table {}:", t.name));
        out.append(&mut lines);
    }
}
