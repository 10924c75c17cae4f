//! The OpenAPI 3.1 document of the API, built from the route table (paths, parameters with their
//! formats and limits, request body schemas from the Rust types, success bodies, every status a
//! route can answer with problem+json errors), served at `/api/openapi.json`; and the path
//! parameter rules the router enforces, so the document and the server cannot disagree.

mod outside;
mod responses;

use axum::extract::rejection::RawPathParamsRejection;
use axum::extract::{FromRequestParts, RawPathParams, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use schemars::SchemaGenerator;
use serde_json::{Map, Value, json};

use crate::problem::ApiError;
use crate::routes::Route;

pub use outside::operations as outside_operations;
pub use responses::{query_parameters, success_schema, success_status};

/// The path parameters of a template, e.g. `["tenant", "member"]`.
pub fn path_params(path: &str) -> Vec<&str> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .collect()
}

/// What characters a path parameter may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Charset {
    /// A DNS-1123 label: `[a-z0-9-]`, starting and ending alphanumeric.
    Label,
    /// A Kubernetes object name (DNS-1123 subdomain): `[a-z0-9.-]`, starting and ending alphanumeric.
    Subdomain,
    /// A Stripe object id: the prefix, then `[A-Za-z0-9_]`.
    StripeId(&'static str),
}

/// The format and limits of one path parameter.
#[derive(Debug, Clone, Copy)]
pub struct ParamRule {
    charset: Charset,
    /// The most characters it may have.
    pub max_length: usize,
    /// What it names, for people.
    pub description: &'static str,
    /// A value that has the format (for the document's examples).
    pub example: &'static str,
}

/// The rule of the path parameter `name` (`tenant`, `member`, ...).
pub fn param_rule(name: &str) -> ParamRule {
    match name {
        "tenant" => ParamRule {
            charset: Charset::Label,
            max_length: 40,
            description: "The tenant's slug (its Tenant's metadata.name)",
            example: "acme",
        },
        "partner" => ParamRule {
            charset: Charset::Label,
            max_length: 40,
            description: "The partner's slug (its Partner's metadata.name)",
            example: "northwind",
        },
        "intent" => ParamRule {
            charset: Charset::StripeId("seti_"),
            max_length: 255,
            description: "A Stripe SetupIntent id",
            example: "seti_1AbC",
        },
        "member" => ParamRule {
            charset: Charset::Subdomain,
            max_length: 253,
            description: "The Member's metadata.name",
            example: "jdoe",
        },
        "domain" => ParamRule {
            charset: Charset::Subdomain,
            max_length: 253,
            description: "The MailDomain's metadata.name",
            example: "acme-test",
        },
        "app" => ParamRule {
            charset: Charset::Subdomain,
            max_length: 253,
            description: "The SsoApp's metadata.name",
            example: "wiki",
        },
        _ => ParamRule {
            charset: Charset::Subdomain,
            max_length: 253,
            description: "A Kubernetes object name",
            example: "x",
        },
    }
}

impl ParamRule {
    /// The regular expression of the format, as the document states it.
    pub fn pattern(&self) -> String {
        match self.charset {
            Charset::Label => "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$".into(),
            Charset::Subdomain => "^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$".into(),
            Charset::StripeId(prefix) => format!("^{prefix}[A-Za-z0-9_]+$"),
        }
    }

    /// Whether `value` has the format and fits the limit; else why not.
    pub fn check(&self, value: &str) -> Result<(), String> {
        if value.is_empty() || value.len() > self.max_length {
            return Err(format!(
                "must have 1 to {} characters, has {}",
                self.max_length,
                value.chars().count()
            ));
        }
        let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
        let ok = match self.charset {
            Charset::Label | Charset::Subdomain => {
                let dots = self.charset == Charset::Subdomain;
                let bytes = value.as_bytes();
                bytes
                    .iter()
                    .all(|&b| alnum(b) || b == b'-' || (dots && b == b'.'))
                    && bytes.first().is_some_and(|&b| alnum(b))
                    && bytes.last().is_some_and(|&b| alnum(b))
            }
            Charset::StripeId(prefix) => value.strip_prefix(prefix).is_some_and(|rest| {
                !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            }),
        };
        if ok {
            Ok(())
        } else {
            Err(format!("must match {}", self.pattern()))
        }
    }

    fn schema(&self) -> Value {
        json!({"type": "string", "minLength": 1, "maxLength": self.max_length,
               "pattern": self.pattern(), "examples": [self.example]})
    }
}

/// Middleware of the routes: refuses a request whose path parameters break their documented
/// format (400 naming the parameter) before any handler sees them, so no handler passes an
/// impossible name on to the Kubernetes API.
pub async fn enforce_path_params(req: Request, next: Next) -> Response {
    let (mut parts, body) = req.into_parts();
    match RawPathParams::from_request_parts(&mut parts, &()).await {
        Ok(params) => {
            for (name, value) in &params {
                if let Err(reason) = param_rule(name).check(value) {
                    return ApiError::bad_request(name, reason).into_response();
                }
            }
        }
        Err(RawPathParamsRejection::MissingPathParams(_)) => {}
        Err(other) => return ApiError::bad_request("path", other.body_text()).into_response(),
    }
    next.run(Request::from_parts(parts, body)).await
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

/// The generator of the body schemas: JSON Schema 2020-12 (the dialect of OpenAPI 3.1), with
/// the named schemas under `#/components/schemas`.
fn generator() -> SchemaGenerator {
    schemars::generate::SchemaSettings::draft2020_12()
        .with(|s| {
            s.definitions_path = "/components/schemas".into();
            s.meta_schema = None;
        })
        .into_generator()
}

/// The success answer of a route.
fn success_response(route: &Route, generator: &mut SchemaGenerator) -> Value {
    let status = success_status(route);
    if status == 204 {
        return json!({"description": "Done"});
    }
    let schema = success_schema(route, generator);
    let description = if status == 201 { "Created" } else { "Success" };
    json!({"description": description, "content": {route.produces: {"schema": schema}}})
}

/// The error answers of a route: every status it can answer besides success.
fn error_responses(route: &Route, responses: &mut Map<String, Value>) {
    let has_params = !path_params(route.path).is_empty();
    let has_query = !query_parameters(route).is_empty();
    if has_params || has_query || route.body.is_some() {
        responses.insert(
            "400".into(),
            problem_response(
                "The request is malformed: a path or query parameter out of its format, or a body that is not the documented JSON",
            ),
        );
    }
    if route.auth {
        let mut unauthorized = problem_response("No valid bearer token");
        unauthorized["headers"] = json!({"WWW-Authenticate": {
            "description": "The Bearer challenge (RFC 6750)",
            "schema": {"type": "string"},
        }});
        responses.insert("401".into(), unauthorized);
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
                "The request is well-formed but refused for what it says: the Kubernetes API refused the resource, or a value breaks a rule the schema cannot state (a partner that does not exist, a staff address off the partner's domain, a name that leaves no slug); `errors` names each field",
            ),
        );
        responses.insert(
            "502".into(),
            problem_response("The Kubernetes API or an upstream failed"),
        );
    }
    if route.body.is_some() {
        responses.insert(
            "413".into(),
            problem_response(&format!(
                "The body is larger than the server reads ({} bytes)",
                crate::MAX_BODY_BYTES
            )),
        );
        responses.insert(
            "415".into(),
            problem_response("The body is not `application/json`"),
        );
    }
    if route.path == "/readyz" {
        responses.insert(
            "503".into(),
            json!({"description": "Not ready", "content": {"application/json": {"schema": responses::readiness()}}}),
        );
    }
}

/// Builds the document.
pub fn document(routes: &[Route]) -> Value {
    let mut generator = generator();
    let mut paths: Map<String, Value> = Map::new();
    for route in routes {
        let mut op = Map::new();
        op.insert("operationId".into(), json!(operation_id(route)));
        op.insert("summary".into(), json!(route.summary));
        op.insert("tags".into(), json!([route.tag]));
        let mut params: Vec<Value> = path_params(route.path)
            .into_iter()
            .map(|p| {
                let rule = param_rule(p);
                json!({"name": p, "in": "path", "required": true,
                       "description": rule.description, "schema": rule.schema()})
            })
            .collect();
        params.extend(query_parameters(route));
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
        responses.insert(
            success_status(route).to_string(),
            success_response(route, &mut generator),
        );
        error_responses(route, &mut responses);
        if route.auth {
            op.insert("security".into(), json!([{"bearer": []}]));
        } else {
            op.insert("security".into(), json!([]));
        }
        op.insert("responses".into(), Value::Object(responses));
        let entry = paths
            .entry(route.path.to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(m) = entry.as_object_mut() {
            m.insert(route.method.as_str().to_lowercase(), Value::Object(op));
        }
    }
    for (path, method, op) in outside::operations() {
        if let Some(m) = paths
            .entry(path.to_owned())
            .or_insert_with(|| Value::Object(Map::new()))
            .as_object_mut()
        {
            m.insert(method.to_owned(), op);
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
                "type": {"type": "string", "format": "uri"},
                "title": {"type": "string"},
                "status": {"type": "integer", "minimum": 400, "maximum": 599},
                "detail": {"type": "string"},
                "errors": {"type": "array", "items": {
                    "type": "object", "required": ["field", "reason"],
                    "properties": {"field": {"type": "string"}, "reason": {"type": "string"}},
                }},
            },
        }),
    );
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Dezky API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Operator console, partner portal, tenant admin and member self-service. Every write becomes a Kubernetes resource change recorded with the acting user.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {
                "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                "description": "An access token issued by Authentik for the console's client (platform operators) or the portal's client (everyone else)",
            }},
        },
    })
}

#[cfg(test)]
mod tests;
