//! Rego policies over palisade's composite evidence, evaluated with regorus's interpreter.
//! No I/O: policy sources and input documents come in as values, verdicts go out as values.
#![forbid(unsafe_code)]

pub mod engine;
pub mod library;

pub use engine::{Limits, Policy, PolicyError, PolicyRef, Violation};
