//! Wire shapes of the registry objects the Stalwart client reads (lenient: unknown properties
//! are ignored), and their conversion into the client's types.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::{DkimMode, MailAlias, MailDomain, MailError, Mailbox};

#[derive(Deserialize)]
pub(super) struct DomainWire {
    pub(super) id: String,
    #[serde(default)]
    pub(super) name: String,
    pub(super) description: Option<String>,
    #[serde(rename = "dkimManagement")]
    pub(super) dkim_management: Option<Value>,
    #[serde(rename = "isEnabled")]
    pub(super) is_enabled: Option<bool>,
}

impl From<DomainWire> for MailDomain {
    fn from(w: DomainWire) -> Self {
        let manual = w
            .dkim_management
            .as_ref()
            .and_then(|d| d.get("@type"))
            .and_then(Value::as_str)
            == Some("Manual");
        MailDomain {
            id: w.id,
            name: w.name,
            description: w.description,
            dkim: if manual {
                DkimMode::Manual
            } else {
                DkimMode::Automatic
            },
            enabled: w.is_enabled.unwrap_or(true),
        }
    }
}

#[derive(Deserialize)]
pub(super) struct AliasWire {
    #[serde(default)]
    pub(super) name: String,
    #[serde(rename = "domainId", default)]
    pub(super) domain_id: String,
}

#[derive(Deserialize)]
pub(super) struct AccountWire {
    pub(super) id: String,
    #[serde(rename = "@type")]
    pub(super) kind: Option<String>,
    #[serde(default)]
    pub(super) name: String,
    #[serde(rename = "domainId", default)]
    pub(super) domain_id: String,
    #[serde(rename = "emailAddress")]
    pub(super) email: Option<String>,
    pub(super) description: Option<String>,
    pub(super) quotas: Option<Map<String, Value>>,
    pub(super) aliases: Option<BTreeMap<String, AliasWire>>,
    pub(super) permissions: Option<Value>,
    pub(super) credentials: Option<BTreeMap<String, Value>>,
}

impl From<AccountWire> for Mailbox {
    fn from(w: AccountWire) -> Self {
        let suspended = w
            .permissions
            .as_ref()
            .and_then(|p| p.get("disabledPermissions"))
            .and_then(|d| d.get("authenticate"))
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let password_index = w
            .credentials
            .unwrap_or_default()
            .into_iter()
            .find(|(_, c)| c.get("@type").and_then(Value::as_str) == Some("Password"))
            .map(|(index, _)| index);
        Mailbox {
            id: w.id,
            local_part: w.name,
            domain_id: w.domain_id,
            email: w.email,
            description: w.description,
            quota_bytes: w
                .quotas
                .as_ref()
                .and_then(|q| q.get("maxDiskQuota"))
                .and_then(Value::as_u64),
            aliases: w
                .aliases
                .unwrap_or_default()
                .into_iter()
                .map(|(index, a)| {
                    (
                        index,
                        MailAlias {
                            local_part: a.name,
                            domain_id: a.domain_id,
                        },
                    )
                })
                .collect(),
            suspended,
            password_index,
        }
    }
}

#[derive(Deserialize)]
pub(super) struct DkimWire {
    pub(super) id: String,
    #[serde(rename = "@type", default)]
    pub(super) kind: String,
    #[serde(rename = "domainId", default)]
    pub(super) domain_id: String,
    #[serde(default)]
    pub(super) selector: String,
    #[serde(default)]
    pub(super) stage: String,
    #[serde(rename = "publicKey")]
    pub(super) public_key: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct GetResponse<T> {
    pub(super) list: Vec<T>,
}

#[derive(Deserialize)]
pub(super) struct QueryResponse {
    pub(super) ids: Vec<String>,
    #[serde(default)]
    pub(super) position: u64,
    pub(super) total: Option<u64>,
}

pub(super) fn decode<T: serde::de::DeserializeOwned>(
    operation: &'static str,
    value: Value,
) -> Result<T, MailError> {
    serde_json::from_value(value).map_err(|_| MailError::Protocol {
        operation,
        reason: "unexpected response shape".into(),
    })
}
