//! Django REST framework conventions of the Authentik simulator: error shapes, query parsing, field validation, pagination.

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use uuid::Uuid;

/// An API error in DRF's shapes.
#[derive(Debug)]
pub enum ApiError {
    /// 400 `{"<field>": ["message"], ...}`.
    Fields(BTreeMap<String, Vec<String>>),
    /// 400 with a bare list body (`ValidationError(detail=str)`).
    List(String),
    /// 400 with an empty body (e.g. `set_password`).
    EmptyBadRequest,
    /// 403 `{"detail": ...}`.
    Forbidden(&'static str),
    /// 404 `{"detail": ...}`.
    NotFound(String),
}

impl ApiError {
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        Self::Fields(BTreeMap::from([(field.to_owned(), vec![message.into()])]))
    }

    pub fn not_found(model: &str) -> Self {
        Self::NotFound(format!("No {model} matches the given query."))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            Self::Fields(errors) => (StatusCode::BAD_REQUEST, Json(json!(errors))).into_response(),
            Self::List(message) => {
                (StatusCode::BAD_REQUEST, Json(json!([message]))).into_response()
            }
            Self::EmptyBadRequest => StatusCode::BAD_REQUEST.into_response(),
            Self::Forbidden(detail) => {
                (StatusCode::FORBIDDEN, Json(json!({"detail": detail}))).into_response()
            }
            Self::NotFound(detail) => {
                (StatusCode::NOT_FOUND, Json(json!({"detail": detail}))).into_response()
            }
        }
    }
}

pub type ApiResult = Result<Response, ApiError>;

/// Query parameters with repeated keys, as DRF sees them.
#[derive(Debug, Default)]
pub struct Params(pub Vec<(String, String)>);

impl Params {
    pub fn parse(raw: Option<&str>) -> Self {
        Self(
            url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn all(&self, key: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// A boolean flag (`true`/`false`, DRF style) with its default.
    pub fn flag(&self, key: &str, default: bool) -> bool {
        self.get(key)
            .map_or(default, |v| v.eq_ignore_ascii_case("true"))
    }

    /// The `attributes` filter: a JSON object whose keys must all equal the object's attributes.
    pub fn attributes(&self) -> Result<Option<Map<String, Value>>, ApiError> {
        let Some(raw) = self.get("attributes") else {
            return Ok(None);
        };
        match serde_json::from_str::<Value>(raw) {
            Ok(Value::Object(map)) => Ok(Some(map)),
            Ok(_) => Err(ApiError::List(
                "filter: value must be key:value mapping".into(),
            )),
            Err(_) => Err(ApiError::List("filter: failed to parse JSON".into())),
        }
    }
}

/// True when every key of `filter` is present in `attributes` with an equal value.
pub fn attributes_match(attributes: &Map<String, Value>, filter: &Map<String, Value>) -> bool {
    filter.iter().all(|(k, v)| attributes.get(k) == Some(v))
}

/// One page of results in Authentik's pagination shape (page numbers, `next`/`previous` 0 when none).
pub fn paginate(params: &Params, items: Vec<Value>) -> ApiResult {
    let page_size = params
        .get("page_size")
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|v| *v > 0)
        .unwrap_or(20)
        .min(100);
    let count = items.len();
    let total_pages = count.div_ceil(page_size).max(1);
    let page = match params.get("page") {
        None => 1,
        Some(v) => match v.parse::<usize>() {
            Ok(p) if p >= 1 && p <= total_pages => p,
            _ => return Err(ApiError::NotFound("Invalid page.".into())),
        },
    };
    let start = (page - 1) * page_size;
    let results: Vec<Value> = items.into_iter().skip(start).take(page_size).collect();
    let end_index = if results.is_empty() {
        0
    } else {
        start + results.len()
    };
    let body = json!({
        "pagination": {
            "next": if page < total_pages { page + 1 } else { 0 },
            "previous": page.saturating_sub(1),
            "count": count,
            "current": page,
            "total_pages": total_pages,
            "start_index": if results.is_empty() { 0 } else { start + 1 },
            "end_index": end_index,
        },
        "results": results,
        "autocomplete": {},
    });
    Ok(Json(body).into_response())
}

pub fn ok(value: Value) -> ApiResult {
    Ok(Json(value).into_response())
}

pub fn created(value: Value) -> ApiResult {
    Ok((StatusCode::CREATED, Json(value)).into_response())
}

pub fn no_content() -> ApiResult {
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Parses a JSON object body the way DRF does (parse errors are 400 `detail`).
pub fn body_object(body: &Bytes) -> Result<Map<String, Value>, ApiError> {
    if body.is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::field(
            "non_field_errors",
            "Invalid data. Expected a dictionary, but got list.",
        )),
        Err(e) => Err(ApiError::field("detail", format!("JSON parse error - {e}"))),
    }
}

/// Field-by-field validation of one request body, collecting DRF-style errors.
pub struct Fields<'a> {
    pub body: &'a Map<String, Value>,
    /// A partial update: required fields may be absent.
    pub partial: bool,
    pub errors: BTreeMap<String, Vec<String>>,
}

impl<'a> Fields<'a> {
    pub fn new(body: &'a Map<String, Value>, partial: bool) -> Self {
        Self {
            body,
            partial,
            errors: BTreeMap::new(),
        }
    }

    pub fn error(&mut self, field: &str, message: impl Into<String>) {
        self.errors
            .entry(field.to_owned())
            .or_default()
            .push(message.into());
    }

    fn missing(&mut self, field: &str, required: bool) {
        if required && !self.partial {
            self.error(field, "This field is required.");
        }
    }

    /// A string field; `allow_blank` as in DRF.
    pub fn string(&mut self, field: &str, required: bool, allow_blank: bool) -> Option<String> {
        match self.body.get(field) {
            None => {
                self.missing(field, required);
                None
            }
            Some(Value::Null) => {
                self.error(field, "This field may not be null.");
                None
            }
            Some(Value::String(s)) if s.trim().is_empty() && !allow_blank => {
                self.error(field, "This field may not be blank.");
                None
            }
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            Some(_) => {
                self.error(field, "Not a valid string.");
                None
            }
        }
    }

    pub fn boolean(&mut self, field: &str) -> Option<bool> {
        match self.body.get(field) {
            None => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(Value::String(s)) if s == "true" || s == "false" => Some(s == "true"),
            Some(_) => {
                self.error(field, "Must be a valid boolean.");
                None
            }
        }
    }

    pub fn integer(&mut self, field: &str, required: bool) -> Option<i64> {
        match self.body.get(field) {
            None => {
                self.missing(field, required);
                None
            }
            Some(Value::Number(n)) if n.as_i64().is_some() => n.as_i64(),
            Some(Value::String(s)) if s.parse::<i64>().is_ok() => s.parse().ok(),
            Some(_) => {
                self.error(field, "A valid integer is required.");
                None
            }
        }
    }

    /// A nullable field: `Some(None)` is an explicit null.
    pub fn nullable(&mut self, field: &str) -> Option<Option<&'a Value>> {
        match self.body.get(field) {
            None => None,
            Some(Value::Null) => Some(None),
            Some(v) => Some(Some(v)),
        }
    }

    /// A JSON dict field (`JSONDictField`).
    pub fn dict(&mut self, field: &str) -> Option<Map<String, Value>> {
        match self.body.get(field) {
            None => None,
            Some(Value::Object(map)) => Some(map.clone()),
            Some(_) => {
                self.error(field, "Value must be a dictionary.");
                None
            }
        }
    }

    /// A list field; `None` when absent.
    pub fn list(&mut self, field: &str, required: bool) -> Option<Vec<Value>> {
        match self.body.get(field) {
            None => {
                self.missing(field, required);
                None
            }
            Some(Value::Array(items)) => Some(items.clone()),
            Some(other) => {
                self.error(
                    field,
                    format!(
                        "Expected a list of items but got type \"{}\".",
                        json_type(other)
                    ),
                );
                None
            }
        }
    }

    /// A primary key related field holding a UUID that must exist (`exists` decides).
    pub fn uuid_ref(
        &mut self,
        field: &str,
        value: &Value,
        exists: impl Fn(&Uuid) -> bool,
    ) -> Option<Uuid> {
        let raw = value
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| value.to_string());
        match Uuid::parse_str(&raw) {
            Ok(id) if exists(&id) => Some(id),
            Ok(_) => {
                self.error(
                    field,
                    format!("Invalid pk \"{raw}\" - object does not exist."),
                );
                None
            }
            Err(_) => {
                self.error(field, format!("“{raw}” is not a valid UUID."));
                None
            }
        }
    }

    /// A primary key related field holding an integer that must exist.
    pub fn int_ref(
        &mut self,
        field: &str,
        value: &Value,
        exists: impl Fn(i64) -> bool,
    ) -> Option<i64> {
        match value
            .as_i64()
            .or_else(|| value.as_str().and_then(|s| s.parse().ok()))
        {
            Some(id) if exists(id) => Some(id),
            Some(id) => {
                self.error(
                    field,
                    format!("Invalid pk \"{id}\" - object does not exist."),
                );
                None
            }
            None => {
                self.error(
                    field,
                    format!(
                        "Incorrect type. Expected pk value, received {}.",
                        json_type(value)
                    ),
                );
                None
            }
        }
    }

    /// A choice field.
    pub fn choice(&mut self, field: &str, choices: &[&str]) -> Option<String> {
        let value = self.string(field, false, true)?;
        if choices.contains(&value.as_str()) {
            Some(value)
        } else {
            self.error(field, format!("\"{value}\" is not a valid choice."));
            None
        }
    }

    pub fn finish(self) -> Result<(), ApiError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Fields(self.errors))
        }
    }
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}
