//! Query-string parsing that tolerates kube-rs's `?&k=v` and a bare trailing `?`.

use std::collections::HashMap;

/// The decoded query parameters (the last value of a repeated key wins).
#[derive(Debug, Clone, Default)]
pub struct Query {
    params: HashMap<String, String>,
}

impl Query {
    pub fn parse(raw: &str) -> Query {
        let params = url::form_urlencoded::parse(raw.as_bytes())
            .filter(|(k, _)| !k.is_empty())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        Query { params }
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.params.get(key).map(String::as_str)
    }

    /// `true`/`1` (and a bare key) count as set.
    pub fn flag(&self, key: &str) -> bool {
        matches!(self.get(key), Some("true" | "1" | ""))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kube_rs_quirks() {
        let q = Query::parse("&limit=500&fieldSelector=metadata.name%3Dx");
        assert_eq!(q.get("limit"), Some("500"));
        assert_eq!(q.get("fieldSelector"), Some("metadata.name=x"));
        assert!(Query::parse("").get("limit").is_none());
        assert!(Query::parse("&watch=true").flag("watch"));
        assert!(!Query::parse("watch=false").flag("watch"));
    }
}
