//! `GET /v1/openapi.json`: the API's OpenAPI 3.1 document (`verifier/openapi.json`), served as
//! written. Its tests keep it honest: every route the router declares is documented with the
//! same methods and the role its handler demands, and nothing else is.

use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;

/// The document.
pub const DOCUMENT: &str = include_str!("../../openapi.json");

/// The handler (anonymous: the document holds nothing secret).
pub(super) async fn document() -> impl IntoResponse {
    ([(CONTENT_TYPE, "application/json")], DOCUMENT)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::Value;

    use super::DOCUMENT;

    const API: &str = include_str!("../api.rs");
    const CREDENTIALS: &str = include_str!("credentials.rs");
    const POLICIES: &str = include_str!("policies.rs");
    const APPROVALS: &str = include_str!("approvals.rs");
    const CLUSTER: &str = include_str!("cluster.rs");
    const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

    /// `(path, method) → handler` from the `.route(...)` calls in `api.rs`.
    fn declared() -> BTreeMap<(String, String), String> {
        let mut out = BTreeMap::new();
        for call in API.split(".route(").skip(1) {
            let call = call.split(".route(").next().unwrap_or(call);
            let path = call.split('"').nth(1).unwrap().to_owned();
            let after = call.splitn(3, '"').nth(2).unwrap();
            for piece in
                after.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':' || c == '('))
            {
                let Some((method, rest)) = piece.split_once('(') else {
                    continue;
                };
                if METHODS.contains(&method) {
                    let handler = rest.trim_end_matches('(').to_owned();
                    out.insert((path.clone(), method.to_owned()), handler);
                }
            }
            if after.contains("fallback") {
                break;
            }
        }
        out
    }

    /// The role `handler` demands, from its extractor (`anonymous` without one).
    fn role_of(handler: &str) -> String {
        let (source, name) = match handler.split_once("::") {
            Some(("credentials", name)) => (CREDENTIALS, name),
            Some(("policies", name)) => (POLICIES, name),
            Some(("approvals", name)) => (APPROVALS, name),
            Some(("cluster", name)) => (CLUSTER, name),
            Some(("registrar", _)) => return "anonymous".into(),
            Some(("openapi" | "push", _)) => return "anonymous".into(),
            _ => (API, handler),
        };
        let signature = source
            .split(&format!("async fn {name}("))
            .nth(1)
            .and_then(|s| s.split(") ->").next())
            .unwrap_or_else(|| panic!("no handler {handler}"));
        for (extractor, role) in [
            ("Admin", "admin"),
            ("Operator", "operator"),
            ("Viewer", "viewer"),
        ] {
            if signature.contains(&format!(": {extractor}"))
                || signature.contains(&format!("{extractor}("))
            {
                return role.into();
            }
        }
        "anonymous".into()
    }

    #[test]
    fn every_route_is_documented_with_its_methods_and_role_and_nothing_else() {
        let doc: Value = serde_json::from_str(DOCUMENT).unwrap();
        assert_eq!(doc["openapi"], "3.1.0");
        let declared = declared();
        assert!(
            declared.len() >= 18,
            "the route scan found only {declared:?}"
        );
        let mut documented = BTreeMap::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let role = op["x-palisade-role"]
                    .as_str()
                    .unwrap_or("missing")
                    .to_owned();
                let axum_path = path.clone();
                documented.insert((axum_path, method.clone()), role);
            }
        }
        let declared_roles: BTreeMap<_, _> = declared
            .iter()
            .map(|(k, handler)| (k.clone(), role_of(handler)))
            .collect();
        assert_eq!(declared_roles, documented);
    }

    #[test]
    fn every_reference_resolves() {
        let doc: Value = serde_json::from_str(DOCUMENT).unwrap();
        fn walk(v: &Value, doc: &Value) {
            match v {
                Value::Object(map) => {
                    if let Some(Value::String(r)) = map.get("$ref") {
                        let target = r
                            .trim_start_matches("#/")
                            .split('/')
                            .fold(doc, |d, k| &d[k]);
                        assert!(!target.is_null(), "dangling {r}");
                    }
                    map.values().for_each(|x| walk(x, doc));
                }
                Value::Array(items) => items.iter().for_each(|x| walk(x, doc)),
                _ => {}
            }
        }
        walk(&doc, &doc);
    }
}
