//! What each route answers on success (its status and the body's schema) and which query
//! parameters it reads, keyed by method and path template: the route table says that a route
//! exists, this says what its answers look like. The resources themselves (Tenant, Member, ...)
//! are described by their Rust types; the views around them here.

use dezky_crds::{Condition, MailDomain, Member, Partner, SsoApp, Tenant};
use schemars::{JsonSchema, SchemaGenerator};
use serde_json::{Value, json};

use crate::routes::Route;

/// The body of `/readyz`.
pub fn readiness() -> Value {
    json!({"type": "object", "required": ["cache", "issuers"],
           "properties": {"cache": {"type": "boolean"}, "issuers": {"type": "boolean"}}})
}

/// The DELETE routes that answer 204 without a body (the others answer what is left).
const DELETE_NO_CONTENT: &[&str] = &[
    "/api/v1/tenants/{tenant}",
    "/api/v1/partners/{partner}",
    "/api/v1/tenants/{tenant}/domains/{domain}",
    "/api/v1/tenants/{tenant}/members/{member}",
    "/api/v1/tenants/{tenant}/ssoapps/{app}",
];

/// The status a route answers on success: the route table's, except where the handler answers
/// otherwise than its summary suggests.
pub fn success_status(route: &Route) -> u16 {
    match (route.method.as_str(), route.path) {
        ("DELETE", path) if DELETE_NO_CONTENT.contains(&path) => 204,
        ("DELETE", _) => 200,
        ("POST", "/api/v1/tenants/{tenant}/removed-members/{member}/restore") => 201,
        _ => route.success,
    }
}

fn schema_of<T: JsonSchema>(g: &mut SchemaGenerator) -> Value {
    g.subschema_for::<T>().to_value()
}

/// An object with these required properties (others may follow).
fn object(required: &[&str], properties: Value) -> Value {
    json!({"type": "object", "required": required, "properties": properties})
}

/// `{"items": [item, ...]}`.
fn list(item: Value) -> Value {
    object(
        &["items"],
        json!({"items": {"type": "array", "items": item}}),
    )
}

const STRING: fn() -> Value = || json!({"type": "string"});
const NULLABLE_STRING: fn() -> Value = || json!({"type": ["string", "null"]});
const BOOLEAN: fn() -> Value = || json!({"type": "boolean"});
const COUNT: fn() -> Value = || json!({"type": "integer", "minimum": 0});

/// `True`, `False` or `Unknown`.
fn condition_status() -> Value {
    json!({"type": "string", "enum": ["True", "False", "Unknown"]})
}

/// A tenant in a list (`TenantSummary`).
fn tenant_summary() -> Value {
    object(
        &[
            "name",
            "displayName",
            "plan",
            "seats",
            "suspended",
            "ready",
            "reason",
            "state",
            "upstreams",
            "domains",
            "mail",
        ],
        json!({
            "name": STRING(), "displayName": STRING(), "plan": STRING(),
            "seats": {"type": "integer"}, "seatsUsed": {"type": ["integer", "null"]},
            "partner": NULLABLE_STRING(), "suspended": BOOLEAN(),
            "ready": condition_status(), "reason": STRING(),
            "state": {"type": "string", "enum": ["pending", "ready", "suspended", "failing"]},
            "upstreams": {"type": "object", "additionalProperties": condition_status()},
            "domains": COUNT(), "mail": condition_status(),
        }),
    )
}

/// A tenant with its status, namespace, member count and mail domains.
fn tenant_view(g: &mut SchemaGenerator) -> Value {
    let domain = object(
        &["name", "domain", "primary", "ready", "reason"],
        json!({"name": STRING(), "domain": STRING(), "primary": BOOLEAN(),
               "ready": condition_status(), "reason": STRING()}),
    );
    object(
        &[
            "summary",
            "tenant",
            "conditions",
            "namespace",
            "members",
            "domains",
        ],
        json!({
            "summary": tenant_summary(), "tenant": schema_of::<Tenant>(g),
            "conditions": {"type": "array", "items": schema_of::<Condition>(g)},
            "namespace": NULLABLE_STRING(), "members": COUNT(),
            "domains": {"type": "array", "items": domain},
        }),
    )
}

/// A partner in a list.
fn partner_summary() -> Value {
    object(
        &[
            "name",
            "displayName",
            "domain",
            "marginPercent",
            "suspended",
            "ready",
            "reason",
            "customers",
        ],
        json!({"name": STRING(), "displayName": STRING(), "domain": STRING(),
               "marginPercent": {"type": "integer", "minimum": 0, "maximum": 100},
               "suspended": BOOLEAN(), "ready": condition_status(), "reason": STRING(),
               "customers": COUNT()}),
    )
}

/// A member as the portal shows it; `member` (the resource) is left out in staff lists.
fn member_view(g: &mut SchemaGenerator, with_resource: bool) -> Value {
    let mut required = vec![
        "name",
        "email",
        "displayName",
        "role",
        "suspended",
        "ready",
        "reason",
        "credentialsAvailable",
        "passwordPending",
        "signOutPending",
    ];
    if with_resource {
        required.push("member");
    }
    object(
        &required,
        json!({
            "name": STRING(), "email": STRING(), "displayName": STRING(),
            "role": {"type": "string", "enum": ["admin", "member"]}, "suspended": BOOLEAN(),
            "ready": condition_status(), "reason": STRING(),
            "credentialsAvailable": BOOLEAN(), "passwordPending": BOOLEAN(),
            "signOutPending": BOOLEAN(), "member": schema_of::<Member>(g),
            "tenant": STRING(),
        }),
    )
}

/// A mail domain with the DNS records to publish and their state.
fn domain_view(g: &mut SchemaGenerator) -> Value {
    object(
        &[
            "name",
            "domain",
            "primary",
            "dmarcPolicy",
            "ready",
            "reason",
            "records",
            "conditions",
            "mailDomain",
        ],
        json!({
            "name": STRING(), "domain": STRING(), "primary": BOOLEAN(),
            "dmarcPolicy": {"type": "string", "enum": ["none", "quarantine", "reject"]},
            "ready": condition_status(), "reason": STRING(),
            "records": {"type": "array", "items": schema_of::<dezky_crds::maildomain::DnsRecord>(g)},
            "conditions": {"type": "array", "items": schema_of::<Condition>(g)},
            "mailDomain": schema_of::<MailDomain>(g),
        }),
    )
}

/// An SSO app with its client id and issuer (never its secret).
fn app_view(g: &mut SchemaGenerator) -> Value {
    object(
        &[
            "name",
            "displayName",
            "ready",
            "reason",
            "clientId",
            "issuer",
            "discoveryUrl",
            "credentialsAvailable",
            "ssoApp",
        ],
        json!({
            "name": STRING(), "displayName": STRING(), "ready": condition_status(),
            "reason": STRING(), "clientId": NULLABLE_STRING(), "issuer": NULLABLE_STRING(),
            "discoveryUrl": NULLABLE_STRING(), "credentialsAvailable": BOOLEAN(),
            "ssoApp": schema_of::<SsoApp>(g),
        }),
    )
}

/// A one-time password, shown once.
fn password_once() -> Value {
    object(
        &["username", "password", "notice"],
        json!({"username": STRING(), "password": NULLABLE_STRING(), "notice": STRING()}),
    )
}

fn me(g: &mut SchemaGenerator) -> Value {
    let self_ref = object(
        &["namespace", "name", "tenant"],
        json!({"namespace": STRING(), "name": STRING(), "tenant": STRING()}),
    );
    let roles = object(
        &["operator", "partnerStaff", "tenantAdmin", "member"],
        json!({
            "operator": BOOLEAN(),
            "partnerStaff": {"type": "array", "items": STRING()},
            "tenantAdmin": {"type": "array", "items": STRING()},
            "member": {"type": "array", "items": self_ref},
        }),
    );
    object(
        &["email", "name", "audience", "roles", "members"],
        json!({
            "email": NULLABLE_STRING(), "name": NULLABLE_STRING(),
            "audience": {"type": "string", "enum": ["console", "portal"]},
            "roles": roles,
            "members": {"type": "array", "items": member_view(g, true)},
        }),
    )
}

fn overview() -> Value {
    let counts = json!({"type": "object", "additionalProperties": COUNT()});
    object(
        &[
            "tenants",
            "partners",
            "members",
            "seats",
            "domains",
            "upstreams",
            "followUp",
            "recent",
        ],
        json!({
            "tenants": object(&["total", "byState"], json!({"total": COUNT(), "byState": counts})),
            "partners": COUNT(), "members": COUNT(),
            "seats": object(&["sold", "used"], json!({"sold": {"type": "integer"}, "used": {"type": "integer"}})),
            "domains": object(&["total", "needingAttention"], json!({
                "total": COUNT(),
                "needingAttention": {"type": "array", "items": object(&["domain"], json!({
                    "namespace": NULLABLE_STRING(), "domain": STRING(), "tenant": NULLABLE_STRING(),
                }))},
            })),
            "upstreams": {"type": "object", "additionalProperties": counts},
            "followUp": {"type": "array", "items": object(&["name", "reason"], json!({"name": STRING(), "reason": STRING()}))},
            "recent": {"type": "array", "items": {"type": "object"}},
        }),
    )
}

fn audit() -> Value {
    let changed = object(
        &["kind", "name"],
        json!({"kind": STRING(), "name": STRING(), "lastChangedBy": NULLABLE_STRING()}),
    );
    object(
        &["items", "objects", "platform"],
        json!({"items": {"type": "array", "items": {"type": "object"}},
               "objects": {"type": "array", "items": changed},
               "platform": {"type": "array", "items": {"type": "object"}}}),
    )
}

fn removed_members() -> Value {
    let item = object(
        &["name", "email", "purgeAfter"],
        json!({"name": NULLABLE_STRING(), "email": STRING(), "removedAt": NULLABLE_STRING(),
               "purgeAfter": STRING(), "removedBy": NULLABLE_STRING()}),
    );
    object(
        &["items", "retention", "retentionSeconds"],
        json!({"items": {"type": "array", "items": item}, "retention": STRING(),
               "retentionSeconds": COUNT()}),
    )
}

fn mfa() -> Value {
    let item = object(
        &["name", "email", "mfaEnrolled"],
        json!({"name": STRING(), "email": STRING(), "mfaEnrolled": {"type": ["boolean", "null"]}}),
    );
    object(
        &["members", "enrolled", "items"],
        json!({"members": COUNT(), "enrolled": COUNT(), "items": {"type": "array", "items": item}}),
    )
}

fn client_secret_once() -> Value {
    object(
        &["clientId", "clientSecret", "issuer", "notice"],
        json!({"clientId": NULLABLE_STRING(), "clientSecret": NULLABLE_STRING(),
               "issuer": NULLABLE_STRING(), "notice": STRING()}),
    )
}

/// What the search box finds.
fn search_hits() -> Value {
    let hit = object(
        &["kind", "name", "label", "detail"],
        json!({"kind": {"type": "string", "enum": ["tenant", "partner", "member"]},
               "name": STRING(), "label": STRING(), "detail": STRING(),
               "tenant": STRING(), "partner": STRING()}),
    );
    object(
        &["items", "total"],
        json!({"items": {"type": "array", "items": hit}, "total": COUNT()}),
    )
}

/// A page of the platform's member directory.
fn member_directory() -> Value {
    let row = object(
        &[
            "name",
            "namespace",
            "email",
            "displayName",
            "role",
            "state",
            "ready",
            "reason",
            "suspended",
        ],
        json!({
            "name": STRING(), "namespace": STRING(), "email": STRING(), "displayName": STRING(),
            "tenant": NULLABLE_STRING(), "partner": NULLABLE_STRING(),
            "role": {"type": "string", "enum": ["admin", "member"]},
            "state": {"type": "string", "enum": ["ready", "pending", "failing", "suspended"]},
            "ready": condition_status(), "reason": STRING(), "suspended": BOOLEAN(),
            "mfaEnrolled": {"type": ["boolean", "null"]},
        }),
    );
    object(
        &["items", "total", "page", "pageSize"],
        json!({"items": {"type": "array", "items": row}, "total": COUNT(),
               "page": {"type": "integer", "minimum": 1}, "pageSize": {"type": "integer", "minimum": 1}}),
    )
}

/// One server-sent event: its name and its JSON data.
fn event() -> Value {
    object(
        &["event", "data"],
        json!({"event": {"type": "string", "enum": ["ready", "change"]}, "data": STRING()}),
    )
}

/// The schema of a route's success body; `None` for a route this table does not know yet (the
/// document then says only "an object").
pub fn known_success_schema(route: &Route, g: &mut SchemaGenerator) -> Option<Value> {
    let schema = match (route.method.as_str(), route.path) {
        ("GET", "/readyz") => readiness(),
        ("GET", "/healthz") => object(&["status"], json!({"status": {"const": "ok"}})),
        ("GET", "/metrics") => STRING(),
        ("GET", "/api/openapi.json") => object(
            &["openapi", "info", "paths", "components"],
            json!({"openapi": {"const": "3.1.0"}}),
        ),
        ("GET", "/api/v1/stream" | "/api/v1/tenants/{tenant}/stream") => event(),
        ("GET", "/api/v1/me") => me(g),
        ("GET", "/api/v1/search") => search_hits(),
        ("GET", "/api/v1/members") => member_directory(),
        (
            "POST",
            "/api/v1/me/{tenant}/reset-password"
            | "/api/v1/me/{tenant}/logout"
            | "/api/v1/tenants/{tenant}/members"
            | "/api/v1/tenants/{tenant}/members/{member}/suspend"
            | "/api/v1/tenants/{tenant}/members/{member}/resume"
            | "/api/v1/tenants/{tenant}/members/{member}/reset-password"
            | "/api/v1/tenants/{tenant}/members/{member}/logout"
            | "/api/v1/tenants/{tenant}/removed-members/{member}/restore"
            | "/api/v1/partners/{partner}/staff",
        )
        | ("GET", "/api/v1/tenants/{tenant}/members/{member}") => member_view(g, true),
        (
            "GET",
            "/api/v1/me/{tenant}/credentials"
            | "/api/v1/tenants/{tenant}/members/{member}/credentials"
            | "/api/v1/partners/{partner}/staff/{member}/credentials",
        ) => password_once(),
        ("GET", "/api/v1/overview") => overview(),
        ("GET", "/api/v1/tenants" | "/api/v1/partners/{partner}/customers") => {
            list(tenant_summary())
        }
        ("GET", "/api/v1/tenants/{tenant}" | "/api/v1/partners/{partner}/customers/{tenant}") => {
            tenant_view(g)
        }
        ("POST", "/api/v1/tenants" | "/api/v1/partners/{partner}/customers")
        | ("PATCH", "/api/v1/tenants/{tenant}")
        | (
            "POST",
            "/api/v1/tenants/{tenant}/suspend"
            | "/api/v1/tenants/{tenant}/resume"
            | "/api/v1/tenants/{tenant}/reconcile"
            | "/api/v1/partners/{partner}/customers/{tenant}/suspend"
            | "/api/v1/partners/{partner}/customers/{tenant}/resume",
        )
        | ("PUT" | "DELETE", "/api/v1/partners/{partner}/tenants/{tenant}") => {
            schema_of::<Tenant>(g)
        }
        ("GET", "/api/v1/tenants/{tenant}/audit") => audit(),
        ("GET", "/api/v1/partners") => list(partner_summary()),
        ("GET", "/api/v1/partners/{partner}") => {
            let mut view = partner_summary();
            view["properties"]["partner"] = schema_of::<Partner>(g);
            view["properties"]["customers"] = json!({"type": "array", "items": tenant_summary()});
            view
        }
        ("POST", "/api/v1/partners") | ("PATCH", "/api/v1/partners/{partner}") => {
            schema_of::<Partner>(g)
        }
        ("GET", "/api/v1/partners/{partner}/staff") => list(member_view(g, false)),
        ("GET", "/api/v1/tenants/{tenant}/members") => list(member_view(g, true)),
        ("GET", "/api/v1/tenants/{tenant}/removed-members") => removed_members(),
        ("GET", "/api/v1/tenants/{tenant}/mfa") => mfa(),
        ("GET", "/api/v1/tenants/{tenant}/domains") => list(domain_view(g)),
        ("POST", "/api/v1/tenants/{tenant}/domains")
        | ("GET", "/api/v1/tenants/{tenant}/domains/{domain}")
        | (
            "POST",
            "/api/v1/tenants/{tenant}/domains/{domain}/recheck"
            | "/api/v1/tenants/{tenant}/domains/{domain}/primary",
        )
        | ("PUT", "/api/v1/tenants/{tenant}/domains/{domain}/dmarc") => domain_view(g),
        ("GET", "/api/v1/tenants/{tenant}/ssoapps") => list(app_view(g)),
        ("POST", "/api/v1/tenants/{tenant}/ssoapps")
        | ("GET", "/api/v1/tenants/{tenant}/ssoapps/{app}") => app_view(g),
        ("GET", "/api/v1/tenants/{tenant}/ssoapps/{app}/credentials") => client_secret_once(),
        _ => return None,
    };
    Some(schema)
}

/// The schema of a route's success body.
pub fn success_schema(route: &Route, g: &mut SchemaGenerator) -> Value {
    known_success_schema(route, g).unwrap_or_else(|| json!({"type": "object"}))
}

/// The query parameters a route reads, as OpenAPI parameter objects.
pub fn query_parameters(route: &Route) -> Vec<Value> {
    let param = |name: &str, description: &str, schema: Value| json!({"name": name, "in": "query", "required": false, "description": description, "schema": schema});
    let whole = |max: u32| json!({"type": "integer", "minimum": 1, "maximum": max});
    let invoice_pages = || {
        vec![
            param(
                "limit",
                "Invoices per page, 1 to 100 (default 20)",
                whole(100),
            ),
            param(
                "startingAfter",
                "The last invoice id of the previous page",
                json!({"type": "string", "pattern": "^in_[A-Za-z0-9_]+$", "maxLength": 255}),
            ),
        ]
    };
    match (route.method.as_str(), route.path) {
        ("GET", "/api/v1/tenants" | "/api/v1/partners/{partner}/customers") => vec![
            param(
                "q",
                "Part of the slug or the display name",
                json!({"type": "string"}),
            ),
            param(
                "state",
                "Only tenants in this state: `all` (the default), `ready`, `pending`, `suspended` or `failing`; any other value is refused (400)",
                json!({"type": "string", "enum": crate::routes::TENANT_STATES}),
            ),
        ],
        ("GET", "/api/v1/search") => vec![
            param(
                "q",
                "What to look for (at most 100 characters)",
                json!({"type": "string", "maxLength": 100}),
            ),
            param(
                "limit",
                "At most this many hits, 1 to 50 (default 20)",
                whole(50),
            ),
        ],
        ("GET", "/api/v1/members") => vec![
            param("page", "The page, from 1", whole(100_000)),
            param(
                "pageSize",
                "Members per page, 1 to 200 (default 50)",
                whole(200),
            ),
            param(
                "q",
                "Part of the address or the display name",
                json!({"type": "string"}),
            ),
            param(
                "tenant",
                "Only this tenant's members",
                json!({"type": "string"}),
            ),
            param(
                "role",
                "Only admins or only members",
                json!({"type": "string", "enum": ["admin", "member", ""]}),
            ),
            param(
                "status",
                "Only members in this state",
                json!({"type": "string", "enum": ["all", "ready", "pending", "failing", "suspended", ""]}),
            ),
            param(
                "mfa",
                "Only members with (or without) a second factor",
                json!({"type": "string", "enum": ["any", "enrolled", "not-enrolled", ""]}),
            ),
        ],
        ("GET", "/api/v1/billing/invoices" | "/api/v1/tenants/{tenant}/invoices") => {
            invoice_pages()
        }
        _ => Vec::new(),
    }
}
