//! The cluster policy in force and how it changes. At start the policy directory (over the
//! shipped library) is imported: each object (`template/<name>`, `constraints`) the directory
//! changed since its last import becomes current; one the directory did not change keeps the
//! version an administrator set through the API. An API change is validated against the whole
//! set (templates load, every constraint names a template and fits its parameter schema)
//! before anything is stored; the set in force is always rebuilt from what is stored.

use palisade_cluster_policy::{Constraint, Limits, PolicyRef, PolicySet, Template, TemplateSpec};

use super::load::{
    constraints_object, labelled, record_objects, template_object, Stored, CONSTRAINTS,
};
use crate::audit::PolicySource;
use crate::store::{Source, Store, StoreError};

/// Why the cluster policy could not be read or changed.
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    /// The proposed template or constraints are not usable (nothing was stored).
    #[error("{0}")]
    Invalid(String),
    /// The stored policy in force does not load (for instance a constraint no longer fits a
    /// template the directory changed).
    #[error("stored cluster policy {name}: {reason}")]
    Stored {
        /// The object.
        name: String,
        /// Why.
        reason: String,
    },
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The evaluator thread is gone.
    #[error("the cluster policy evaluator is not running")]
    Stopped,
    /// Loading panicked.
    #[error("loading the cluster policy failed: {0}")]
    Internal(String),
}

fn invalid(e: impl std::fmt::Display) -> ChangeError {
    ChangeError::Invalid(e.to_string())
}

fn stored(name: &str, e: impl std::fmt::Display) -> ChangeError {
    ChangeError::Stored {
        name: name.to_owned(),
        reason: e.to_string(),
    }
}

/// Imports `dir_set` (what the directory and the shipped library define) and returns the set in
/// force with the `name@version` of each of its objects.
pub async fn import(
    store: &Store,
    dir_set: &PolicySet,
    limits: Limits,
) -> Result<(PolicySet, Vec<String>), ChangeError> {
    let imported = record_objects(store, dir_set).await?;
    let active = store.cluster_policy().await?;
    for r in &imported {
        let row = active.iter().find(|a| a.name == r.name);
        if row.is_none_or(|a| a.dir_hash.as_deref() != Some(r.hash.as_str())) {
            store
                .activate_cluster_policy(&r.name, &r.hash, Source::Dir, Some(&r.hash))
                .await?;
        } else if row.is_some_and(|a| a.source == Source::Api) {
            tracing::info!(name = %r.name, "keeping the version set through the API: the directory did not change it");
        }
    }
    for a in &active {
        if a.source == Source::Dir && !imported.iter().any(|r| r.name == a.name) {
            store.deactivate_cluster_policy(&a.name).await?;
        }
    }
    in_force(store, limits).await
}

/// The set in force, as stored, with the `name@version` of each object.
pub async fn in_force(
    store: &Store,
    limits: Limits,
) -> Result<(PolicySet, Vec<String>), ChangeError> {
    let mut sources = Vec::new();
    for a in store.cluster_policy().await? {
        let source = store
            .policy_source(&a.hash)
            .await?
            .ok_or_else(|| stored(&a.name, "its version is not stored"))?;
        sources.push(source);
    }
    let versions = sources.iter().map(|s| labelled(&s.reference)).collect();
    let set = blocking(move || build(&sources, limits)).await?;
    Ok((set, versions))
}

/// Loads stored objects into a set (regorus parses: blocking work).
fn build(sources: &[PolicySource], limits: Limits) -> Result<PolicySet, ChangeError> {
    let mut templates = Vec::new();
    let mut constraints: Vec<Constraint> = Vec::new();
    for s in sources {
        let name = &s.reference.name;
        let file = |suffix: &str| {
            s.modules
                .iter()
                .find(|(path, _)| path.ends_with(suffix))
                .map(|(_, text)| text.as_str())
                .ok_or_else(|| stored(name, format!("no {suffix}")))
        };
        if name == CONSTRAINTS {
            constraints =
                serde_json::from_str(file("constraints.json")?).map_err(|e| stored(name, e))?;
        } else {
            let spec: TemplateSpec =
                serde_json::from_str(file("template.json")?).map_err(|e| stored(name, e))?;
            let template = Template::load(spec, file("template.rego")?, limits)
                .map_err(|e| stored(name, e))?;
            templates.push(template);
        }
    }
    PolicySet::new(templates, constraints).map_err(|e| stored("set", e))
}

/// An administrator's new or changed template, checked against the set `current` and stored
/// as the version in force; the new set and the template's stored reference.
pub async fn put_template(
    store: &Store,
    current: PolicySet,
    spec: TemplateSpec,
    rego: String,
    limits: Limits,
) -> Result<(PolicySet, PolicyRef), ChangeError> {
    let (set, object) = blocking(move || {
        let template = Template::load(spec, &rego, limits).map_err(invalid)?;
        let object = template_object(&template);
        let mut templates: Vec<Template> = current
            .templates()
            .values()
            .filter(|t| t.spec.name != template.spec.name)
            .cloned()
            .collect();
        templates.push(template);
        let set = PolicySet::new(templates, current.constraints().to_vec()).map_err(invalid)?;
        Ok((set, object))
    })
    .await?;
    Ok((set, activate(store, object).await?))
}

/// An administrator's constraint set, checked against the templates of `current` and stored
/// as the one in force; the new set and the constraints' stored reference.
pub async fn put_constraints(
    store: &Store,
    current: &PolicySet,
    constraints: Vec<Constraint>,
) -> Result<(PolicySet, PolicyRef), ChangeError> {
    let templates = current.templates().values().cloned().collect();
    let set = PolicySet::new(templates, constraints).map_err(invalid)?;
    let object = constraints_object(set.constraints());
    Ok((set, activate(store, object).await?))
}

async fn activate(
    store: &Store,
    (name, proposed, modules): Stored,
) -> Result<PolicyRef, ChangeError> {
    let r = store.record_policy(&name, proposed, &modules).await?;
    store
        .activate_cluster_policy(&r.name, &r.hash, Source::Api, None)
        .await?;
    Ok(r)
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ChangeError> + Send + 'static,
) -> Result<T, ChangeError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ChangeError::Internal(e.to_string()))?
}
