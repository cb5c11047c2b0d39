//! The cluster policy directory: the shipped templates, replaced or extended by its own, and its
//! constraints; each template and the constraint set stored as a named, versioned policy.

use std::path::{Path, PathBuf};

use palisade_cluster_policy::{
    library, Constraint, Limits, ModelError, PolicyRef, PolicySet, Template, TemplateSpec,
};

use crate::store::Store;

/// Why the cluster policy directory does not load.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A file could not be read or parsed.
    #[error("{path}: {reason}")]
    File {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// Templates or constraints are inconsistent.
    #[error(transparent)]
    Model(#[from] ModelError),
}

/// The shipped templates, replaced or extended by `dir`'s (`<name>/template.json` with
/// `template.rego` beside it), and `dir`'s constraints (`constraints.json`,
/// `*.constraints.json`: arrays), every template evaluated under `limits`.
pub fn load_dir(dir: &Path, limits: Limits) -> Result<PolicySet, LoadError> {
    let mut templates: Vec<Template> = library::templates(limits)?;
    let mut constraints: Vec<Constraint> = Vec::new();
    for path in walk(dir)? {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if name == "template.json" {
            let spec: TemplateSpec = read_json(&path)?;
            let rego_path = path.with_file_name("template.rego");
            let rego = std::fs::read_to_string(&rego_path).map_err(|e| file(&rego_path, e))?;
            templates.retain(|t| t.spec.name != spec.name);
            templates.push(Template::load(spec, &rego, limits)?);
        } else if name == "constraints.json" || name.ends_with(".constraints.json") {
            constraints.extend(read_json::<Vec<Constraint>>(&path)?);
        }
    }
    Ok(PolicySet::new(templates, constraints)?)
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, LoadError> {
    let bytes = std::fs::read(path).map_err(|e| file(path, e))?;
    serde_json::from_slice(&bytes).map_err(|e| file(path, e))
}

fn file(path: &Path, e: impl std::fmt::Display) -> LoadError {
    LoadError::File {
        path: path.to_owned(),
        reason: e.to_string(),
    }
}

/// Every file under `dir`, sorted.
pub fn walk(dir: &Path) -> Result<Vec<PathBuf>, LoadError> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).map_err(|e| file(&d, e))? {
            let path = entry.map_err(|e| file(&d, e))?.path();
            if path.is_dir() {
                todo.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// A policy object to store: name, proposed version, files (path, content).
pub(super) type Stored = (String, u32, Vec<(String, String)>);

/// The stored form of template `t`: `template/<name>`, its `template.json` and Rego.
pub(super) fn template_object(t: &Template) -> Stored {
    let spec = serde_json::to_string_pretty(&t.spec).unwrap_or_default();
    let mut modules = vec![("template.json".to_owned(), spec)];
    modules.extend(t.policy.modules().iter().cloned());
    (format!("template/{}", t.spec.name), t.spec.version, modules)
}

/// The stored form of a constraint set: `constraints`, one `constraints.json`.
pub(super) fn constraints_object(constraints: &[Constraint]) -> Stored {
    let json = serde_json::to_string_pretty(constraints).unwrap_or_default();
    (
        CONSTRAINTS.to_owned(),
        1,
        vec![("constraints.json".to_owned(), json)],
    )
}

/// The name of the stored constraint set.
pub(super) const CONSTRAINTS: &str = "constraints";

/// Stores every template (`template/<name>`: its `template.json` and Rego) and the constraint
/// set (`constraints`) as named policies, versioned like node policies (`store/policies.rs`): a
/// changed one gets the next version, an unchanged one keeps its own.
pub async fn record_objects(
    store: &Store,
    set: &PolicySet,
) -> Result<Vec<PolicyRef>, crate::store::StoreError> {
    let mut objects: Vec<Stored> = set.templates().values().map(template_object).collect();
    objects.push(constraints_object(set.constraints()));
    let mut stored = Vec::new();
    for (name, proposed, modules) in objects {
        stored.push(store.record_policy(&name, proposed, &modules).await?);
    }
    Ok(stored)
}

/// `name@version`, as start-up logs and tests show a stored object.
pub fn labelled(r: &PolicyRef) -> String {
    format!("{}@{}", r.name, r.version)
}
