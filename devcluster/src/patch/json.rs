//! JSON patch (RFC 6902) with the semantics of evanphx/json-patch v4, which kube-apiserver uses:
//! a `test` with value `null` against a missing member succeeds.

use serde_json::Value;

/// Why a patch could not be applied.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum JsonPatchError {
    #[error("the patch is not a JSON array of operations")]
    NotAnArray,
    #[error("unexpected kind of operation: {0}")]
    BadOp(String),
    #[error("missing {0} in operation")]
    Missing(&'static str),
    #[error("doc is missing path: \"{0}\"")]
    MissingPath(String),
    #[error("invalid index in path \"{0}\"")]
    BadIndex(String),
    #[error("testing value {0} failed: test failed")]
    TestFailed(String),
}

fn unescape(s: &str) -> String {
    s.replace("~1", "/").replace("~0", "~")
}

fn split(path: &str) -> Result<Vec<String>, JsonPatchError> {
    if path.is_empty() {
        return Ok(Vec::new());
    }
    let rest = path
        .strip_prefix('/')
        .ok_or_else(|| JsonPatchError::MissingPath(path.to_string()))?;
    Ok(rest.split('/').map(unescape).collect())
}

fn parent_mut<'a>(
    doc: &'a mut Value,
    segs: &[String],
    path: &str,
) -> Result<&'a mut Value, JsonPatchError> {
    let mut cur = doc;
    for s in segs {
        cur = match cur {
            Value::Object(m) => m.get_mut(s),
            Value::Array(a) => s.parse::<usize>().ok().and_then(|i| a.get_mut(i)),
            _ => None,
        }
        .ok_or_else(|| JsonPatchError::MissingPath(path.to_string()))?;
    }
    Ok(cur)
}

fn get<'a>(doc: &'a Value, path: &str) -> Result<Option<&'a Value>, JsonPatchError> {
    let segs = split(path)?;
    let mut cur = doc;
    for (i, s) in segs.iter().enumerate() {
        let next = match cur {
            Value::Object(m) => m.get(s),
            Value::Array(a) => a.get(
                s.parse::<usize>()
                    .map_err(|_| JsonPatchError::BadIndex(path.into()))?,
            ),
            _ => None,
        };
        match next {
            Some(n) => cur = n,
            // evanphx v4: a missing last member reads as nil; a missing container is an error.
            None if i + 1 == segs.len() => return Ok(None),
            None => return Err(JsonPatchError::MissingPath(path.to_string())),
        }
    }
    Ok(Some(cur))
}

fn add(doc: &mut Value, path: &str, value: Value) -> Result<(), JsonPatchError> {
    let segs = split(path)?;
    let Some((last, parents)) = segs.split_last() else {
        *doc = value;
        return Ok(());
    };
    match parent_mut(doc, parents, path)? {
        Value::Object(m) => {
            m.insert(last.clone(), value);
        }
        Value::Array(a) => {
            if last == "-" {
                a.push(value);
            } else {
                let i: usize = last
                    .parse()
                    .map_err(|_| JsonPatchError::BadIndex(path.into()))?;
                if i > a.len() {
                    return Err(JsonPatchError::BadIndex(path.into()));
                }
                a.insert(i, value);
            }
        }
        _ => return Err(JsonPatchError::MissingPath(path.to_string())),
    }
    Ok(())
}

fn remove(doc: &mut Value, path: &str) -> Result<Value, JsonPatchError> {
    let segs = split(path)?;
    let Some((last, parents)) = segs.split_last() else {
        return Err(JsonPatchError::MissingPath(path.to_string()));
    };
    match parent_mut(doc, parents, path)? {
        Value::Object(m) => m
            .remove(last)
            .ok_or_else(|| JsonPatchError::MissingPath(path.to_string())),
        Value::Array(a) => {
            let i: usize = last
                .parse()
                .map_err(|_| JsonPatchError::BadIndex(path.into()))?;
            if i >= a.len() {
                return Err(JsonPatchError::BadIndex(path.into()));
            }
            Ok(a.remove(i))
        }
        _ => Err(JsonPatchError::MissingPath(path.to_string())),
    }
}

/// Apply a JSON patch document to `doc`.
pub fn json_patch(doc: &mut Value, patch: &Value) -> Result<(), JsonPatchError> {
    let ops = patch.as_array().ok_or(JsonPatchError::NotAnArray)?;
    for op in ops {
        let kind = op["op"].as_str().ok_or(JsonPatchError::Missing("op"))?;
        let path = op["path"].as_str().ok_or(JsonPatchError::Missing("path"))?;
        let value = || {
            op.get("value")
                .cloned()
                .ok_or(JsonPatchError::Missing("value"))
        };
        let from = || op["from"].as_str().ok_or(JsonPatchError::Missing("from"));
        match kind {
            "add" => add(doc, path, value()?)?,
            "remove" => {
                remove(doc, path)?;
            }
            "replace" => {
                let v = value()?;
                if split(path)?.is_empty() {
                    *doc = v;
                } else {
                    remove(doc, path)?;
                    add(doc, path, v)?;
                }
            }
            "move" => {
                let v = remove(doc, from()?)?;
                add(doc, path, v)?;
            }
            "copy" => {
                let v = get(doc, from()?)?
                    .cloned()
                    .ok_or_else(|| JsonPatchError::MissingPath(path.into()))?;
                add(doc, path, v)?;
            }
            "test" => {
                let want = op.get("value").unwrap_or(&Value::Null);
                let got = get(doc, path)?;
                let ok = match got {
                    None => want.is_null(),
                    Some(g) => g == want,
                };
                if !ok {
                    return Err(JsonPatchError::TestFailed(want.to_string()));
                }
            }
            other => return Err(JsonPatchError::BadOp(other.to_string())),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finalizer_helper_sequence() {
        let mut doc = json!({"metadata": {"name": "x"}});
        json_patch(
            &mut doc,
            &json!([{"op":"test","path":"/metadata/finalizers","value":null},
                    {"op":"add","path":"/metadata/finalizers","value":["a"]}]),
        )
        .unwrap();
        json_patch(
            &mut doc,
            &json!([{"op":"add","path":"/metadata/finalizers/-","value":"b"}]),
        )
        .unwrap();
        assert_eq!(doc["metadata"]["finalizers"], json!(["a", "b"]));
        json_patch(
            &mut doc,
            &json!([{"op":"test","path":"/metadata/finalizers/0","value":"a"},{"op":"remove","path":"/metadata/finalizers/0"}]),
        )
        .unwrap();
        assert_eq!(doc["metadata"]["finalizers"], json!(["b"]));
        let err = json_patch(
            &mut doc,
            &json!([{"op":"test","path":"/metadata/finalizers/0","value":"a"}]),
        );
        assert!(matches!(err, Err(JsonPatchError::TestFailed(_))));
        assert!(
            json_patch(
                &mut doc,
                &json!([{"op":"test","path":"/metadata/finalizers","value":null}])
            )
            .is_err()
        );
    }

    #[test]
    fn replace_move_copy() {
        let mut doc = json!({"a": 1, "b": {"c": 2}});
        json_patch(
            &mut doc,
            &json!([{"op":"replace","path":"/a","value":3},{"op":"copy","from":"/b/c","path":"/d"},
            {"op":"move","from":"/b","path":"/e"}]),
        )
        .unwrap();
        assert_eq!(doc, json!({"a": 3, "d": 2, "e": {"c": 2}}));
        assert!(json_patch(&mut doc, &json!([{"op":"replace","path":"/zz","value":1}])).is_err());
    }
}
