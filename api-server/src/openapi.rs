//! The OpenAPI 3.0 document of the API, built from the route table (paths, parameters, request
//! body schemas from the Rust types, problem+json errors), served at `/api/openapi.json`.

use serde_json::{Map, Value, json};

use crate::routes::Route;

/// The path parameters of a template, e.g. `["tenant", "member"]`.
pub fn path_params(path: &str) -> Vec<&str> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .collect()
}

fn operation_id(route: &Route) -> String {
    let mut id = route.method.as_str().to_lowercase();
    for seg in route
        .path
        .split('/')
        .filter(|s| !s.is_empty() && *s != "api" && *s != "v1")
    {
        let seg = seg.trim_start_matches('{').trim_end_matches('}');
        id.push('_');
        id.push_str(&seg.replace(['-', '.'], "_"));
    }
    id
}

fn problem_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
    })
}

/// Builds the document.
pub fn document(routes: &[Route]) -> Value {
    let mut generator = schemars::generate::SchemaSettings::openapi3().into_generator();
    let mut paths: Map<String, Value> = Map::new();
    for route in routes {
        let mut op = Map::new();
        op.insert("operationId".into(), json!(operation_id(route)));
        op.insert("summary".into(), json!(route.summary));
        op.insert("tags".into(), json!([route.tag]));
        let params: Vec<Value> = path_params(route.path)
            .into_iter()
            .map(|p| {
                json!({"name": p, "in": "path", "required": true,
                       "schema": {"type": "string", "pattern": "^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", "maxLength": 253}})
            })
            .collect();
        if !params.is_empty() {
            op.insert("parameters".into(), Value::Array(params));
        }
        if let Some(schema_fn) = route.body {
            let schema = schema_fn(&mut generator);
            op.insert(
                "requestBody".into(),
                json!({"required": true, "content": {"application/json": {"schema": schema.to_value()}}}),
            );
        }
        let mut responses = Map::new();
        let success_content = if route.produces == "application/json" {
            json!({"application/json": {"schema": {"type": "object"}}})
        } else {
            json!({route.produces: {"schema": {"type": "string"}}})
        };
        if route.success == 204 {
            responses.insert("204".into(), json!({"description": "Done"}));
        } else {
            responses.insert(
                route.success.to_string(),
                json!({"description": "Success", "content": success_content}),
            );
        }
        if route.method == http::Method::DELETE {
            responses.insert("204".into(), json!({"description": "Done"}));
        }
        if route.auth {
            op.insert("security".into(), json!([{"bearer": []}]));
            responses.insert("400".into(), problem_response("The request is malformed"));
            responses.insert("401".into(), problem_response("No valid bearer token"));
            responses.insert(
                "403".into(),
                problem_response("The caller's role does not allow this on this target"),
            );
            responses.insert("404".into(), problem_response("Not found"));
            responses.insert("409".into(), problem_response("Conflict, or not ready yet"));
            responses.insert(
                "410".into(),
                problem_response("Shown once already, or past its retention"),
            );
            responses.insert(
                "422".into(),
                problem_response(
                    "The Kubernetes API refused the resource; `errors` lists each field",
                ),
            );
            responses.insert("502".into(), problem_response("The Kubernetes API failed"));
        } else if route.path == "/readyz" {
            responses.insert("503".into(), json!({"description": "Not ready", "content": {"application/json": {"schema": {"type": "object"}}}}));
        }
        op.insert("responses".into(), Value::Object(responses));
        let entry = paths
            .entry(route.path.to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(m) = entry.as_object_mut() {
            m.insert(route.method.as_str().to_lowercase(), Value::Object(op));
        }
    }
    let mut schemas: Map<String, Value> = generator.definitions().clone();
    schemas.insert(
        "Problem".into(),
        json!({
            "type": "object",
            "description": "RFC 9457 problem details",
            "required": ["type", "title", "status", "detail"],
            "properties": {
                "type": {"type": "string"},
                "title": {"type": "string"},
                "status": {"type": "integer"},
                "detail": {"type": "string"},
                "errors": {"type": "array", "items": {
                    "type": "object", "required": ["field", "reason"],
                    "properties": {"field": {"type": "string"}, "reason": {"type": "string"}},
                }},
            },
        }),
    );
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "Dezky API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Operator console, partner portal, tenant admin and member self-service. Every write becomes a Kubernetes resource change recorded with the acting user.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_documented_with_its_parameters() {
        let routes = crate::routes::routes();
        let doc = document(&routes);
        for r in &routes {
            let op = &doc["paths"][r.path][r.method.as_str().to_lowercase()];
            assert!(
                op.is_object(),
                "{} {} is not in the document",
                r.method,
                r.path
            );
            let documented: Vec<&str> = op["parameters"]
                .as_array()
                .map(|a| a.iter().filter_map(|p| p["name"].as_str()).collect())
                .unwrap_or_default();
            assert_eq!(documented, path_params(r.path), "{} {}", r.method, r.path);
            assert_eq!(
                op["requestBody"].is_object(),
                r.body.is_some(),
                "{} {}",
                r.method,
                r.path
            );
        }
        let count: usize = doc["paths"]
            .as_object()
            .map(|p| {
                p.values()
                    .map(|m| m.as_object().map_or(0, |m| m.len()))
                    .sum()
            })
            .unwrap_or(0);
        assert_eq!(count, routes.len());
    }

    #[test]
    fn body_schemas_resolve() {
        let doc = document(&crate::routes::routes());
        let text = doc.to_string();
        let schemas = doc["components"]["schemas"].as_object().expect("schemas");
        for part in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
            let name = part.split('"').next().unwrap_or_default();
            assert!(schemas.contains_key(name), "dangling $ref to {name}");
        }
    }
}
