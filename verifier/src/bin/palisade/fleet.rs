//! `palisade status`: the fleet at a glance — agents by state, the same per label, and every
//! agent that is not passing.

use std::collections::BTreeMap;

use palisade_verifier::api::AgentSummary;
use serde::Serialize;

/// The states in display order (`registered`: enrolment not finished; `pending`: not yet
/// attested).
const STATES: [&str; 6] = ["pass", "fail", "error", "missed", "pending", "registered"];

/// Counts by state for the whole fleet and per `key=value` label, and the agents needing a look.
#[derive(Debug, Default, PartialEq, Serialize)]
pub struct Status {
    /// Agents in all.
    pub agents: usize,
    /// By state.
    pub states: BTreeMap<String, usize>,
    /// By label, then state.
    pub labels: BTreeMap<String, BTreeMap<String, usize>>,
    /// Agents whose state is not `pass`, with that state.
    pub attention: Vec<(String, String)>,
}

fn state(a: &AgentSummary) -> &str {
    match (a.status.as_str(), a.state.as_str()) {
        ("registered", _) => "registered",
        (_, "") => &a.last_outcome,
        (_, state) => state,
    }
}

/// Summarises `agents`.
pub fn summarise(agents: &[AgentSummary]) -> Status {
    let mut s = Status {
        agents: agents.len(),
        ..Status::default()
    };
    for a in agents {
        let st = state(a).to_owned();
        *s.states.entry(st.clone()).or_default() += 1;
        for (k, v) in &a.labels {
            let group = s.labels.entry(format!("{k}={v}")).or_default();
            *group.entry(st.clone()).or_default() += 1;
        }
        if st != "pass" {
            s.attention.push((a.id.clone(), st));
        }
    }
    s
}

/// The status as a table for people.
pub fn render(s: &Status) -> String {
    let mut out = format!("{:<28} {:>6}", "GROUP", "AGENTS");
    for st in STATES {
        out.push_str(&format!(" {:>10}", st.to_uppercase()));
    }
    out.push('\n');
    out.push_str(&row("(all)", s.agents, &s.states));
    for (label, states) in &s.labels {
        out.push_str(&row(label, states.values().sum(), states));
    }
    if s.attention.is_empty() {
        out.push_str("\nevery agent passes\n");
    } else {
        out.push_str(&format!("\nnot passing ({}):\n", s.attention.len()));
        for (id, st) in &s.attention {
            out.push_str(&format!("  {id:<26} {}\n", st.to_uppercase()));
        }
    }
    out
}

fn row(name: &str, total: usize, states: &BTreeMap<String, usize>) -> String {
    let mut line = format!("{name:<28} {total:>6}");
    for st in STATES {
        line.push_str(&format!(" {:>10}", states.get(st).copied().unwrap_or(0)));
    }
    line.push('\n');
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent(id: &str, status: &str, outcome: &str, role: &str) -> AgentSummary {
        AgentSummary {
            id: id.into(),
            status: status.into(),
            last_outcome: outcome.into(),
            contact: String::new(),
            state: String::new(),
            push: false,
            labels: [("role".to_owned(), role.to_owned())].into(),
        }
    }

    #[test]
    fn states_are_counted_per_fleet_and_label_and_non_passing_agents_listed() {
        let s = summarise(&[
            agent("w1", "active", "pass", "web"),
            agent("w2", "active", "fail", "web"),
            agent("d1", "active", "pass", "db"),
            agent("d2", "registered", "pending", "db"),
        ]);
        assert_eq!(s.agents, 4);
        assert_eq!(s.states["pass"], 2);
        assert_eq!(s.labels["role=web"]["fail"], 1);
        assert_eq!(s.labels["role=db"]["registered"], 1);
        assert_eq!(
            s.attention,
            [
                ("w2".to_owned(), "fail".to_owned()),
                ("d2".to_owned(), "registered".to_owned())
            ]
        );
        let table = render(&s);
        assert!(table.contains("role=web"), "{table}");
        assert!(table.contains("not passing (2):"), "{table}");
    }
}
