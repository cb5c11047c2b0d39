//! Templates and constraints, like Gatekeeper's: a *template* is a Rego module with a parameter
//! schema that defines `violation` objects over one node (`input.node`) or the selected fleet
//! (`input.cluster`); a *constraint* selects nodes by labels, sets the template's parameters and
//! says what a violation means (`deny`, `warn`, `dryrun`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::engine::{Limits, Policy, PolicyError};
use crate::schema;

/// What a template's `violation` rule sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// One node at a time: `input.node`, `input.parameters`.
    Node,
    /// Every selected node at once: `input.cluster` (summaries and label groups).
    Cluster,
}

/// When a cluster-scope template's constraints are re-evaluated.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EvaluateOn {
    /// At once when what cluster scope sees of a node changes (labels, outcome, verification,
    /// firewall digests), and on the tick.
    #[default]
    Change,
    /// Only on the tick (the verifier: every second) and when a node leaves: for templates
    /// that judge time, such as `freshness`, where a change costs a walk over every node and
    /// a second's delay changes nothing.
    Tick,
}

impl EvaluateOn {
    fn is_change(&self) -> bool {
        *self == Self::Change
    }
}

/// A template's metadata (`template.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateSpec {
    /// Name (`[a-z0-9_]+`), also the last part of its Rego package.
    pub name: String,
    /// Version (increases with every change).
    pub version: u32,
    /// Node or cluster.
    pub scope: Scope,
    /// One line for people.
    #[serde(default)]
    pub title: String,
    /// What it checks.
    #[serde(default)]
    pub description: String,
    /// JSON Schema of its parameters (the subset in `schema.rs`).
    #[serde(default = "any_object")]
    pub parameters: Value,
    /// Cluster scope: when its constraints are re-evaluated.
    #[serde(default, skip_serializing_if = "EvaluateOn::is_change")]
    pub evaluate_on: EvaluateOn,
}

fn any_object() -> Value {
    serde_json::json!({"type": "object"})
}

/// A template ready to evaluate: its metadata and its loaded Rego.
#[derive(Debug, Clone)]
pub struct Template {
    /// Metadata.
    pub spec: TemplateSpec,
    /// The loaded module (name = the template's name).
    pub policy: Policy,
}

impl Template {
    /// Loads `rego` (which must be package `palisade.templates.<name>` and define `violation`).
    pub fn load(spec: TemplateSpec, rego: &str, limits: Limits) -> Result<Self, ModelError> {
        if spec.name.is_empty()
            || !spec
                .name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            return Err(ModelError::Template {
                name: spec.name.clone(),
                reason: "the name must be [a-z0-9_]+".into(),
            });
        }
        if spec.scope == Scope::Node && spec.evaluate_on == EvaluateOn::Tick {
            return Err(ModelError::Template {
                name: spec.name.clone(),
                reason: "evaluate_on \"tick\" is for cluster-scope templates".into(),
            });
        }
        let path = format!("templates/{}/template.rego", spec.name);
        let policy = Policy::load(
            &spec.name,
            spec.version,
            vec![(path, rego.to_owned())],
            limits,
        )?;
        let want = format!("data.palisade.templates.{}", spec.name);
        if policy.packages() != [want.clone()] {
            return Err(ModelError::Template {
                name: spec.name.clone(),
                reason: format!("the module must be package {want}"),
            });
        }
        Ok(Self { spec, policy })
    }
}

/// What a violation of a constraint means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Enforcement {
    /// Reported, not acted on (trying a constraint out).
    Dryrun,
    /// Reported as a warning.
    Warn,
    /// The node fails: its result and EAR say so, and an alert fires.
    Deny,
}

/// Which nodes a constraint applies to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Selector {
    /// Every one of these labels must be on the node (empty: every node).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

impl Selector {
    /// Whether a node with `labels` is selected.
    pub fn selects(&self, labels: &BTreeMap<String, String>) -> bool {
        self.labels.iter().all(|(k, v)| labels.get(k) == Some(v))
    }
}

/// A template bound to nodes and parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Constraint {
    /// Name, unique in a set.
    pub name: String,
    /// The template it instantiates.
    pub template: String,
    /// Which nodes.
    #[serde(default, rename = "match")]
    pub selector: Selector,
    /// The template's parameters.
    #[serde(default = "empty_object")]
    pub parameters: Value,
    /// What a violation means.
    #[serde(default = "deny")]
    pub enforcement: Enforcement,
}

fn empty_object() -> Value {
    Value::Object(serde_json::Map::new())
}

fn deny() -> Enforcement {
    Enforcement::Deny
}

/// Why templates or constraints do not load.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// A template's Rego does not load.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// A template is malformed.
    #[error("template {name}: {reason}")]
    Template {
        /// Template name.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// A constraint is malformed, names no known template or has invalid parameters.
    #[error("constraint {name}: {reason}")]
    Constraint {
        /// Constraint name.
        name: String,
        /// What is wrong.
        reason: String,
    },
}

/// Templates and the constraints over them, checked against each other.
#[derive(Debug, Clone)]
pub struct PolicySet {
    templates: BTreeMap<String, Template>,
    constraints: Vec<Constraint>,
}

impl PolicySet {
    /// Checks that every constraint names a loaded template, has a unique name and valid
    /// parameters; fills in the parameters' defaults.
    pub fn new(templates: Vec<Template>, constraints: Vec<Constraint>) -> Result<Self, ModelError> {
        let mut by_name = BTreeMap::new();
        for t in templates {
            let name = t.spec.name.clone();
            if by_name.insert(name.clone(), t).is_some() {
                return Err(ModelError::Template {
                    name,
                    reason: "defined twice".into(),
                });
            }
        }
        let mut checked = Vec::with_capacity(constraints.len());
        for mut c in constraints {
            let bad = |reason: String| ModelError::Constraint {
                name: c.name.clone(),
                reason,
            };
            if checked.iter().any(|o: &Constraint| o.name == c.name) {
                return Err(bad("defined twice".into()));
            }
            let Some(t) = by_name.get(&c.template) else {
                return Err(bad(format!("no template {}", c.template)));
            };
            let problems = schema::violations(&t.spec.parameters, &c.parameters);
            if !problems.is_empty() {
                return Err(bad(problems.join("; ")));
            }
            c.parameters = schema::with_defaults(&t.spec.parameters, &c.parameters);
            checked.push(c);
        }
        Ok(Self {
            templates: by_name,
            constraints: checked,
        })
    }

    /// The templates, by name.
    pub fn templates(&self) -> &BTreeMap<String, Template> {
        &self.templates
    }

    /// The constraints, in the order given.
    pub fn constraints(&self) -> &[Constraint] {
        &self.constraints
    }

    /// The template of `constraint` (it exists: checked in [`PolicySet::new`]).
    pub fn template_of(&self, constraint: &Constraint) -> Option<&Template> {
        self.templates.get(&constraint.template)
    }

    /// Whether `constraint` looks at one node or the whole fleet (its template's scope).
    pub fn scope_of(&self, constraint: &Constraint) -> Scope {
        self.template_of(constraint)
            .map_or(Scope::Node, |t| t.spec.scope)
    }
}
