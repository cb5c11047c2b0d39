//! The policies palisade ships, compiled into the binary.

use crate::engine::{Limits, Policy, PolicyError};
use crate::model::{ModelError, Template, TemplateSpec};

/// Name of the foundation firewall baseline.
pub const FOUNDATION_NAME: &str = "foundation-firewall";

/// Sources of the foundation firewall baseline.
pub const FOUNDATION_MODULES: &[(&str, &str)] = &[(
    "foundation/firewall.rego",
    include_str!("../policies/foundation/firewall.rego"),
)];

/// The foundation firewall baseline: input hook default-drop, no tcp/22 accepted.
pub fn foundation(limits: Limits) -> Result<Policy, PolicyError> {
    let modules = FOUNDATION_MODULES
        .iter()
        .map(|(p, s)| ((*p).to_owned(), (*s).to_owned()))
        .collect();
    Policy::load(FOUNDATION_NAME, 1, modules, limits)
}

/// One template of the shipped library (`policies/templates/<dir>/`).
#[derive(Debug, Clone, Copy)]
pub struct Shipped {
    /// Directory name (the template's name).
    pub dir: &'static str,
    /// `template.json`.
    pub spec: &'static str,
    /// `template.rego`.
    pub rego: &'static str,
    /// `template_test.rego`, its Rego unit tests.
    pub tests: Option<&'static str>,
}

/// Every shipped template, by directory name (embedded by `build.rs`).
pub const SHIPPED: &[Shipped] = include!(concat!(env!("OUT_DIR"), "/shipped.rs"));

/// The shipped templates, loaded.
pub fn templates(limits: Limits) -> Result<Vec<Template>, ModelError> {
    SHIPPED
        .iter()
        .map(|s| {
            let spec: TemplateSpec =
                serde_json::from_str(s.spec).map_err(|e| ModelError::Template {
                    name: s.dir.to_owned(),
                    reason: format!("template.json: {e}"),
                })?;
            Template::load(spec, s.rego, limits)
        })
        .collect()
}

/// The shipped templates and their tests as (path, source) modules, for the test runner.
pub fn test_modules() -> Vec<(String, String)> {
    let mut modules = Vec::new();
    for s in SHIPPED {
        modules.push((
            format!("templates/{}/template.rego", s.dir),
            s.rego.to_owned(),
        ));
        if let Some(tests) = s.tests {
            let path = format!("templates/{}/template_test.rego", s.dir);
            modules.push((path, tests.to_owned()));
        }
    }
    modules
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_template_loads_and_has_passing_tests() {
        let templates = templates(Limits::default()).unwrap();
        assert_eq!(templates.len(), SHIPPED.len());
        for s in SHIPPED {
            assert!(s.tests.is_some(), "template {} ships without tests", s.dir);
        }
        let report = crate::testing::run(&test_modules()).unwrap();
        let failed: Vec<String> = report
            .cases
            .iter()
            .filter(|c| c.outcome != crate::testing::Outcome::Pass)
            .map(|c| format!("{}.{}: {:?}", c.package, c.name, c.outcome))
            .collect();
        assert!(failed.is_empty(), "{failed:#?}");
        assert!(report.passed());
        // A node template's Rego `defaults` (used without parameters) agree with its schema's.
        let mut checked = 0;
        for t in &templates {
            let mut engine = crate::new_engine().unwrap();
            engine
                .add_policy(
                    "t.rego".into(),
                    SHIPPED
                        .iter()
                        .find(|s| s.dir == t.spec.name)
                        .unwrap()
                        .rego
                        .into(),
                )
                .unwrap();
            let rule = format!("data.palisade.templates.{}.defaults", t.spec.name);
            let Ok(rego) = engine.eval_rule(rule) else {
                continue;
            };
            let rego: serde_json::Value =
                serde_json::from_str(&rego.to_json_str().unwrap()).unwrap();
            let schema = crate::schema::with_defaults(&t.spec.parameters, &serde_json::json!({}));
            for (key, value) in schema.as_object().unwrap() {
                assert_eq!(
                    rego.get(key),
                    Some(value),
                    "{}: default of {key}",
                    t.spec.name
                );
            }
            checked += 1;
        }
        assert!(checked >= 9, "only {checked} templates have Rego defaults");
        assert!(SHIPPED.len() >= 11, "the shipped library lost templates");
    }
}
