//! OpenAPI v3: the `/openapi/v3` index and one document per group-version, built from the CRD
//! schemas (so `kubectl explain` works) with the operations kubectl inspects for
//! `fieldValidation` support.

use axum::body::Body;
use http::{HeaderMap, HeaderValue, Response, StatusCode, header};
use serde_json::{Map, Value, json};
use sha2::Digest;

use super::discovery::{cached, hex};
use super::{Query, error_response};
use crate::errors::ApiError;
use crate::registry::{Registry, ResourceInfo};

fn schema_name(r: &ResourceInfo, kind: &str) -> String {
    let prefix = match r.group.as_str() {
        "" => "io.k8s.api.core".to_string(),
        "coordination.k8s.io" => "io.k8s.api.coordination".to_string(),
        "events.k8s.io" => "io.k8s.api.events".to_string(),
        "apiextensions.k8s.io" => {
            "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions".to_string()
        }
        g => g.split('.').rev().collect::<Vec<_>>().join("."),
    };
    format!("{prefix}.{}.{kind}", r.version)
}

fn param(name: &str, description: &str, ty: &str) -> Value {
    json!({"name": name, "in": "query", "description": description, "schema": {"type": ty, "uniqueItems": true}})
}

fn write_params(patch: bool) -> Vec<Value> {
    let mut p = vec![
        param(
            "dryRun",
            "When present, indicates that modifications should not be persisted.",
            "string",
        ),
        param(
            "fieldManager",
            "fieldManager is a name associated with the actor or entity that is making these changes.",
            "string",
        ),
        param(
            "fieldValidation",
            "fieldValidation instructs the server on how to handle objects in the request containing unknown or duplicate fields.",
            "string",
        ),
    ];
    if patch {
        p.push(param(
            "force",
            "Force is going to \"force\" Apply requests.",
            "boolean",
        ));
    }
    p
}

fn list_params() -> Vec<Value> {
    [
        ("allowWatchBookmarks", "boolean"),
        ("continue", "string"),
        ("fieldSelector", "string"),
        ("labelSelector", "string"),
        ("limit", "integer"),
        ("resourceVersion", "string"),
        ("resourceVersionMatch", "string"),
        ("sendInitialEvents", "boolean"),
        ("timeoutSeconds", "integer"),
        ("watch", "boolean"),
    ]
    .iter()
    .map(|(n, t)| param(n, n, t))
    .collect()
}

fn op(
    r: &ResourceInfo,
    action: &str,
    params: Vec<Value>,
    response: &str,
    body: Option<Value>,
) -> Value {
    let mut o = json!({
        "description": format!("{action} {}", r.kind),
        "operationId": format!("{action}{}", r.kind),
        "parameters": params,
        "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{response}")}}}},
                      "401": {"description": "Unauthorized"}},
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": {"group": r.group, "version": r.version, "kind": r.kind},
    });
    if let Some(b) = body {
        o["requestBody"] = b;
    }
    o
}

fn object_body(name: &str) -> Value {
    json!({"content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{name}")}}}, "required": true})
}

fn patch_body() -> Value {
    let schema = json!({"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.Patch"});
    json!({"content": {"application/json-patch+json": {"schema": schema}, "application/merge-patch+json": {"schema": schema},
        "application/apply-patch+yaml": {"schema": schema}}, "required": true})
}

fn object_meta_schema() -> Value {
    let s = |d: &str| json!({"type": "string", "description": d});
    json!({"description": "ObjectMeta is metadata that all persisted resources must have, which includes all objects users must create.",
    "type": "object",
    "properties": {
        "name": s("Name must be unique within a namespace. Cannot be updated."),
        "generateName": s("GenerateName is an optional prefix, used by the server, to generate a unique name ONLY IF the Name field has not been provided."),
        "namespace": s("Namespace defines the space within which each name must be unique."),
        "uid": s("UID is the unique in time and space value for this object. Populated by the system. Read-only."),
        "resourceVersion": s("An opaque value that represents the internal version of this object. Populated by the system. Read-only."),
        "generation": {"type": "integer", "format": "int64", "description": "A sequence number representing a specific generation of the desired state. Populated by the system. Read-only."},
        "creationTimestamp": s("CreationTimestamp is a timestamp representing the server time when this object was created."),
        "deletionTimestamp": s("DeletionTimestamp is RFC 3339 date and time at which this resource will be deleted."),
        "deletionGracePeriodSeconds": {"type": "integer", "format": "int64", "description": "Number of seconds allowed for this object to gracefully terminate before it will be removed from the system."},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}, "description": "Map of string keys and values that can be used to organize and categorize (scope and select) objects."},
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}, "description": "Annotations is an unstructured key value map stored with a resource."},
        "finalizers": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set", "description": "Must be empty before the object is deleted from the registry."},
        "ownerReferences": {"type": "array", "items": {"type": "object"}, "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["uid"], "description": "List of objects depended by this object."},
        "managedFields": {"type": "array", "items": {"type": "object"}, "description": "ManagedFields maps workflow-id and version to the set of fields that are managed by that workflow."}
    }})
}

/// The document of one group-version.
pub fn group_version_doc(reg: &Registry, group: &str, version: &str) -> Option<Value> {
    let resources = reg.resources(group, version);
    if resources.is_empty() {
        return None;
    }
    let mut paths = Map::new();
    let mut schemas = Map::new();
    schemas.insert(
        "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta".into(),
        object_meta_schema(),
    );
    schemas.insert("io.k8s.apimachinery.pkg.apis.meta.v1.Patch".into(), json!({"type": "object", "description": "Patch is provided to give a concrete name and type to the Kubernetes PATCH request body."}));
    schemas.insert("io.k8s.apimachinery.pkg.apis.meta.v1.Status".into(), json!({"type": "object", "description": "Status is a return value for calls that don't return other objects."}));
    for r in resources {
        let obj = schema_name(r, &r.kind);
        let list = schema_name(r, &r.list_kind);
        let gvk = json!([{"group": r.group, "version": r.version, "kind": r.kind}]);
        let mut schema = r.schema.clone().unwrap_or_else(|| {
            json!({"type": "object", "description": format!("{} of {}.", r.kind, r.api_version()), "x-kubernetes-preserve-unknown-fields": true})
        });
        schema["properties"]["apiVersion"] = json!({"type": "string", "description": "APIVersion defines the versioned schema of this representation of an object."});
        schema["properties"]["kind"] = json!({"type": "string", "description": "Kind is a string value representing the REST resource this object represents."});
        schema["properties"]["metadata"] = json!({"allOf": [{"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}], "description": "Standard object's metadata."});
        schema["type"] = json!("object");
        schema["x-kubernetes-group-version-kind"] = gvk.clone();
        schemas.insert(obj.clone(), schema);
        schemas.insert(list.clone(), json!({"type": "object", "description": format!("{} is a list of {}", r.list_kind, r.kind),
            "required": ["items"], "properties": {"apiVersion": {"type": "string"}, "kind": {"type": "string"},
            "items": {"type": "array", "items": {"$ref": format!("#/components/schemas/{obj}")}}, "metadata": {"type": "object"}},
            "x-kubernetes-group-version-kind": [{"group": r.group, "version": r.version, "kind": r.list_kind}]}));
        let base = if r.group.is_empty() {
            "/api/v1".to_string()
        } else {
            format!("/apis/{}/{}", r.group, r.version)
        };
        let coll = if r.namespaced {
            format!("{base}/namespaces/{{namespace}}/{}", r.resource)
        } else {
            format!("{base}/{}", r.resource)
        };
        if r.namespaced {
            paths.insert(
                format!("{base}/{}", r.resource),
                json!({"get": op(r, "list", list_params(), &list, None)}),
            );
        }
        paths.insert(coll.clone(), json!({
            "get": op(r, "list", list_params(), &list, None),
            "post": op(r, "post", write_params(false), &obj, Some(object_body(&obj))),
            "delete": op(r, "deletecollection", list_params(), "io.k8s.apimachinery.pkg.apis.meta.v1.Status", None),
        }));
        paths.insert(format!("{coll}/{{name}}"), json!({
            "get": op(r, "get", Vec::new(), &obj, None),
            "put": op(r, "put", write_params(false), &obj, Some(object_body(&obj))),
            "patch": op(r, "patch", write_params(true), &obj, Some(patch_body())),
            "delete": op(r, "delete", vec![param("dryRun", "dryRun", "string")], "io.k8s.apimachinery.pkg.apis.meta.v1.Status", None),
        }));
        if r.status {
            paths.insert(
                format!("{coll}/{{name}}/status"),
                json!({
                    "get": op(r, "get", Vec::new(), &obj, None),
                    "put": op(r, "put", write_params(false), &obj, Some(object_body(&obj))),
                    "patch": op(r, "patch", write_params(true), &obj, Some(patch_body())),
                }),
            );
        }
    }
    Some(
        json!({"openapi": "3.0.0", "info": {"title": "Kubernetes CRD Swagger", "version": "v0.1.0"},
        "paths": paths, "components": {"schemas": schemas}}),
    )
}

fn doc_hash(doc: &Value) -> String {
    hex(&sha2::Sha512::digest(
        serde_json::to_vec(doc).unwrap_or_default(),
    ))
    .to_uppercase()
}

/// `/openapi/v3` and `/openapi/v3/<api/v1 | apis/G/V>`.
pub fn serve(reg: &Registry, rest: &[&str], q: &Query, headers: &HeaderMap) -> Response<Body> {
    if rest.is_empty() {
        let mut paths = Map::new();
        for g in reg.groups() {
            for v in &g.versions {
                let Some(doc) = group_version_doc(reg, &g.name, v) else {
                    continue;
                };
                let key = if g.name.is_empty() {
                    format!("api/{v}")
                } else {
                    format!("apis/{}/{v}", g.name)
                };
                paths.insert(key.clone(), json!({"serverRelativeURL": format!("/openapi/v3/{key}?hash={}", doc_hash(&doc))}));
            }
        }
        return cached(&json!({"paths": paths}), "application/json", headers);
    }
    let (group, version) = match rest {
        ["api", v] => ("", *v),
        ["apis", g, v] => (*g, *v),
        _ => return error_response(&ApiError::path_not_found()),
    };
    let Some(doc) = group_version_doc(reg, group, version) else {
        return error_response(&ApiError::path_not_found());
    };
    let hash = doc_hash(&doc);
    if let Some(want) = q.get("hash")
        && want != hash
    {
        let mut r = Response::new(Body::empty());
        *r.status_mut() = StatusCode::MOVED_PERMANENTLY;
        let path = if group.is_empty() {
            format!("/openapi/v3/api/{version}?hash={hash}")
        } else {
            format!("/openapi/v3/apis/{group}/{version}?hash={hash}")
        };
        if let Ok(v) = HeaderValue::from_str(&path) {
            r.headers_mut().insert(header::LOCATION, v);
        }
        return r;
    }
    let mut r = cached(&doc, "application/json", headers);
    if q.get("hash").is_some() {
        r.headers_mut().insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, immutable"),
        );
    }
    r
}
