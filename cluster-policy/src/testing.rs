//! A Rego unit-test runner like `opa test`: every rule named `test_*` in the given modules is
//! evaluated with regorus's interpreter (palisade's extensions registered); `true` passes,
//! `false` or undefined fails, an error is an error. Line coverage of the non-test modules
//! comes from regorus's coverage report.

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::engine::PolicyError;

/// One test's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase", tag = "outcome", content = "reason")]
pub enum Outcome {
    /// The rule evaluated to `true`.
    Pass,
    /// It was `false` or undefined.
    Fail,
    /// Evaluation failed.
    Error(String),
}

/// One test rule.
#[derive(Debug, Clone, Serialize)]
pub struct Case {
    /// `data.<package>`.
    pub package: String,
    /// The rule's name.
    pub name: String,
    /// What happened.
    #[serde(flatten)]
    pub outcome: Outcome,
    /// How long it took.
    #[serde(serialize_with = "micros")]
    pub duration: Duration,
}

fn micros<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u128(d.as_micros())
}

/// Lines of one module evaluated, and lines that could have been and were not.
#[derive(Debug, Clone, Serialize)]
pub struct Coverage {
    /// Module path.
    pub path: String,
    /// Lines evaluated.
    pub covered: Vec<u32>,
    /// Evaluable lines never evaluated.
    pub not_covered: Vec<u32>,
}

impl Coverage {
    /// Covered share in percent (100 for a module with nothing to evaluate).
    pub fn percent(&self) -> f64 {
        let all = self.covered.len() + self.not_covered.len();
        if all == 0 {
            return 100.0;
        }
        100.0 * self.covered.len() as f64 / all as f64
    }
}

/// Every test, and coverage of the modules under test.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// In package, then source order.
    pub cases: Vec<Case>,
    /// Per non-test module (`*_test.rego` are left out).
    pub coverage: Vec<Coverage>,
}

impl Report {
    /// Whether every test passed (and there was at least one).
    pub fn passed(&self) -> bool {
        !self.cases.is_empty() && self.cases.iter().all(|c| c.outcome == Outcome::Pass)
    }
}

/// Loads `modules` (path, source) and runs every `test_*` rule.
pub fn run(modules: &[(String, String)]) -> Result<Report, PolicyError> {
    let load = |module: &str, reason: String| PolicyError::Load {
        policy: "tests".into(),
        module: module.to_owned(),
        reason,
    };
    let mut engine = crate::new_engine().map_err(|e| load("", e))?;
    let mut tests = Vec::new();
    for (path, source) in modules {
        let package = engine
            .add_policy(path.clone(), source.clone())
            .map_err(|e| load(path, e.to_string()))?;
        for name in test_rules(source) {
            if !tests.contains(&(package.clone(), name.clone())) {
                tests.push((package.clone(), name));
            }
        }
    }
    engine.set_enable_coverage(true);
    let cases = tests
        .into_iter()
        .map(|(package, name)| {
            let started = Instant::now();
            let outcome = match engine.eval_rule(format!("{package}.{name}")) {
                Ok(v) if v == regorus::Value::from(true) => Outcome::Pass,
                Ok(_) => Outcome::Fail,
                Err(e) => Outcome::Error(e.to_string()),
            };
            Case {
                package,
                name,
                outcome,
                duration: started.elapsed(),
            }
        })
        .collect();
    let report = engine
        .get_coverage_report()
        .map_err(|e| load("", format!("coverage: {e}")))?;
    let coverage = report
        .files
        .into_iter()
        .filter(|f| !f.path.ends_with("_test.rego"))
        .map(|f| Coverage {
            path: f.path,
            covered: f.covered.into_iter().collect(),
            not_covered: f.not_covered.into_iter().collect(),
        })
        .collect();
    Ok(Report { cases, coverage })
}

/// Names of the rules defined at the start of a line as `test_<name>` (the `opa test`
/// convention: test rules are top-level rules whose name starts with `test_`).
fn test_rules(source: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for line in source.lines() {
        let Some(rest) = line.strip_prefix("test_") else {
            continue;
        };
        let tail: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        let name = format!("test_{tail}");
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: &str = "package p\nimport rego.v1\n\nallow if input.user == \"admin\"\n\ndeny if {\n\tinput.user == \"mallory\"\n\tinput.level > 3\n}\n";
    const TESTS: &str = "package p_test\nimport rego.v1\nimport data.p\n\ntest_admin_allowed if p.allow with input as {\"user\": \"admin\"}\n\ntest_guest_allowed if p.allow with input as {\"user\": \"guest\"}\n\ntest_broken if to_number(\"x\") > 1\n";

    #[test]
    fn passes_failures_and_errors_are_told_apart_with_coverage() {
        let report = run(&[
            ("p.rego".into(), POLICY.into()),
            ("p_test.rego".into(), TESTS.into()),
        ])
        .unwrap();
        let got: Vec<(String, Outcome)> = report
            .cases
            .iter()
            .map(|c| (c.name.clone(), c.outcome.clone()))
            .collect();
        assert_eq!(got[0], ("test_admin_allowed".into(), Outcome::Pass));
        assert_eq!(got[1], ("test_guest_allowed".into(), Outcome::Fail));
        assert!(
            matches!(&got[2].1, Outcome::Error(e) if e.contains("to_number")),
            "{got:?}"
        );
        assert!(!report.passed());
        assert_eq!(report.coverage.len(), 1, "test modules are not measured");
        let p = &report.coverage[0];
        assert!(p.covered.contains(&4), "{p:?}");
        assert!(
            p.not_covered.contains(&8),
            "deny's second line was never reached: {p:?}"
        );
        assert!(p.percent() > 0.0 && p.percent() < 100.0);
    }

    #[test]
    fn a_module_that_does_not_parse_is_an_error() {
        let err = run(&[("bad.rego".into(), "package x\nthis is not rego".into())]).unwrap_err();
        assert!(err.to_string().contains("bad.rego"), "{err}");
    }
}
