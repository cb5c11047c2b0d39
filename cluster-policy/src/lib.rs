//! Rego policies over palisade's composite evidence, evaluated with regorus's interpreter.
//! No I/O: policy sources and input documents come in as values, verdicts go out as values.
#![forbid(unsafe_code)]

pub mod cluster;
pub mod engine;
mod extensions;
pub mod library;
pub mod memory;
pub mod model;
pub mod schema;
pub mod testing;

pub use extensions::{intersects as cidr_intersects, parse as parse_cidr, Cidr};

/// A regorus engine as palisade evaluates with it: strict built-in errors (a failing built-in
/// is an error, never an undefined that reads as "no violation") and palisade's extensions.
pub(crate) fn new_engine() -> Result<regorus::Engine, String> {
    let mut engine = regorus::Engine::new();
    engine.set_strict_builtin_errors(true);
    extensions::register(&mut engine)?;
    Ok(engine)
}

pub use cluster::{Evaluator, Finding, Report};
pub use engine::{Limits, Policy, PolicyError, PolicyRef, Violation};
pub use model::{
    Constraint, Enforcement, EvaluateOn, ModelError, PolicySet, Scope, Selector, Template,
    TemplateSpec,
};
