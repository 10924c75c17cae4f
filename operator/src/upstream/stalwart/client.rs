//! [`StalwartClient`]: the [`MailClient`] contract over Stalwart's JMAP registry methods.

use serde_json::{Map, Value, json};

use super::jmap::{self, SetResponse};
use super::snapshots::{Snapshots, by_address, by_name};
use super::wire::{AccountWire, DkimWire, DomainWire, GetResponse, QueryResponse, decode};
use super::zone::mail_records;
use super::{
    DkimKey, DkimMode, DomainSpec, MailAlias, MailClient, MailDnsRecord, MailDomain, MailError,
    Mailbox, MailboxSpec, NewDkimKey, Page, describe, marker_in, normalize_domain,
};
use crate::upstream::http::{ErrorCategory, Secret, UpstreamHttp};
use crate::upstream::marker::Marker;

const DOMAIN_PROPERTIES: [&str; 5] = ["name", "description", "dkimManagement", "isEnabled", "id"];
const ACCOUNT_PROPERTIES: [&str; 9] = [
    "@type",
    "name",
    "domainId",
    "emailAddress",
    "description",
    "quotas",
    "aliases",
    "permissions",
    "credentials",
];

/// The Stalwart client; cheap to clone.
#[derive(Clone, Debug)]
pub struct StalwartClient {
    http: UpstreamHttp,
    /// The collections observations are answered from.
    pub(super) snapshots: Snapshots,
}

fn permissions(suspended: bool) -> Value {
    if suspended {
        // Stalwart has no disabled flag: login and delivery are denied through permissions,
        // which keeps the password (stalwart.md 4.10). An account's own permission lists are
        // not managed by Dezky, so replacing the whole value is safe.
        json!({"@type": "Merge", "enabledPermissions": {}, "disabledPermissions": {"authenticate": true, "emailReceive": true}})
    } else {
        json!({"@type": "Inherit"})
    }
}

fn aliases_wire(aliases: &[MailAlias]) -> Value {
    let mut sorted = aliases.to_vec();
    sorted.sort();
    sorted.dedup();
    let map: Map<String, Value> = sorted
        .iter()
        .enumerate()
        .map(|(i, a)| {
            (
                i.to_string(),
                json!({"name": a.local_part, "domainId": a.domain_id, "enabled": true}),
            )
        })
        .collect();
    Value::Object(map)
}

fn get_by_ref(object: &str, query_call: &str, properties: &[&str]) -> Value {
    json!([format!("x:{object}/get"), {"#ids": {"resultOf": query_call, "name": format!("x:{object}/query"), "path": "/ids"}, "properties": properties}, "g"])
}

impl StalwartClient {
    /// A client over `http` (whose base URL is the server's root; requests go to `jmap`).
    pub fn new(http: UpstreamHttp) -> StalwartClient {
        StalwartClient {
            snapshots: Snapshots::new(&http),
            http,
        }
    }

    async fn query_get<T: serde::de::DeserializeOwned>(
        &self,
        operation: &'static str,
        object: &str,
        query: Value,
        properties: &[&str],
    ) -> Result<(Vec<T>, QueryResponse), MailError> {
        let calls = vec![
            json!([format!("x:{object}/query"), query, "q"]),
            get_by_ref(object, "q", properties),
        ];
        let mut results = jmap::call(&self.http, operation, calls, true)
            .await?
            .into_iter();
        let query: QueryResponse = decode(operation, results.next().unwrap_or_default())?;
        let got: GetResponse<T> = decode(operation, results.next().unwrap_or_default())?;
        Ok((got.list, query))
    }

    async fn get<T: serde::de::DeserializeOwned>(
        &self,
        operation: &'static str,
        object: &str,
        id: &str,
        properties: &[&str],
    ) -> Result<Option<T>, MailError> {
        let calls =
            vec![json!([format!("x:{object}/get"), {"ids": [id], "properties": properties}, "g"])];
        let result = jmap::call(&self.http, operation, calls, true)
            .await?
            .into_iter()
            .next()
            .unwrap_or_default();
        let got: GetResponse<T> = decode(operation, result)?;
        Ok(got.list.into_iter().next())
    }

    async fn set(
        &self,
        operation: &'static str,
        object: &str,
        args: Value,
    ) -> Result<SetResponse, MailError> {
        let calls = vec![json!([format!("x:{object}/set"), args, "s"])];
        let result = jmap::call(&self.http, operation, calls, false)
            .await?
            .into_iter()
            .next()
            .unwrap_or_default();
        SetResponse::parse(operation, result)
    }

    pub(super) async fn update(
        &self,
        operation: &'static str,
        object: &str,
        id: &str,
        patch: Value,
    ) -> Result<(), MailError> {
        let mut response = self
            .set(operation, object, json!({"update": {id: patch}}))
            .await?;
        response.updated(id).map_err(|e| e.into_error(operation))
    }

    async fn destroy(
        &self,
        operation: &'static str,
        object: &str,
        id: &str,
    ) -> Result<(), MailError> {
        let mut response = self
            .set(operation, object, json!({"destroy": [id]}))
            .await?;
        response.destroyed(id).map_err(|e| e.into_error(operation))
    }

    async fn get_account(&self, id: &str) -> Result<Option<Mailbox>, MailError> {
        Ok(self
            .get::<AccountWire>("account.get", "Account", id, &ACCOUNT_PROPERTIES)
            .await?
            .map(Into::into))
    }
}

impl MailClient for StalwartClient {
    #[tracing::instrument(skip(self), fields(upstream = "stalwart"))]
    async fn find_domain(&self, name: &str) -> Result<Option<MailDomain>, MailError> {
        let name = normalize_domain(name);
        Ok(self.domain_snapshot().await?.find_one(&by_name(&name)))
    }

    #[tracing::instrument(skip(self), fields(upstream = "stalwart"))]
    async fn get_domain(&self, id: &str) -> Result<Option<MailDomain>, MailError> {
        let found: Option<MailDomain> = self
            .get::<DomainWire>("domain.get", "Domain", id, &DOMAIN_PROPERTIES)
            .await?
            .map(Into::into);
        match &found {
            Some(domain) => self.snapshots.domains.put(domain.clone()),
            None => self.snapshots.domains.remove(id),
        }
        Ok(found)
    }

    #[tracing::instrument(skip(self), fields(upstream = "stalwart"))]
    async fn list_domains(
        &self,
        position: u64,
        page_size: u64,
    ) -> Result<Page<MailDomain>, MailError> {
        let query = json!({"sort": [{"property": "name", "isAscending": true}], "position": position, "limit": page_size, "calculateTotal": true});
        let (list, q) = self
            .query_get::<DomainWire>("domain.list", "Domain", query, &DOMAIN_PROPERTIES)
            .await?;
        let next = q.position + q.ids.len() as u64;
        Ok(Page {
            items: list.into_iter().map(Into::into).collect(),
            next: (!q.ids.is_empty() && q.total.is_some_and(|t| next < t)).then_some(next),
        })
    }

    #[tracing::instrument(skip(self, spec, marker), fields(upstream = "stalwart", domain = %spec.name))]
    async fn create_domain(
        &self,
        spec: &DomainSpec,
        marker: &Marker,
        adopt: bool,
    ) -> Result<MailDomain, MailError> {
        let name = normalize_domain(&spec.name);
        if let Some(existing) = self.find_domain(&name).await? {
            return self.claim_domain(existing, marker, adopt).await;
        }
        let mut create = json!({"name": name, "description": marker.key()});
        if spec.dkim == DkimMode::Manual {
            create["dkimManagement"] = json!({"@type": "Manual"});
        }
        // Leaving dkimManagement out selects Stalwart's default: automatic DKIM.
        let mut response = self
            .set("domain.create", "Domain", json!({"create": {"d": create}}))
            .await?;
        match response.created("d") {
            Ok(id) => {
                let created = MailDomain {
                    id,
                    name,
                    description: Some(marker.key()),
                    dkim: spec.dkim,
                    enabled: true,
                };
                self.snapshots.domains.put(created.clone());
                Ok(created)
            }
            Err(error) if error.kind == "primaryKeyViolation" && error.properties == ["name"] => {
                // Created concurrently since our lookup: judge it by its marker. A name that
                // is another domain's alias is a real conflict (stalwart.md 5.2.5).
                let id = error.object_id.map(|o| o.id).unwrap_or_default();
                match self.get_domain(&id).await? {
                    Some(existing) if existing.name == name => {
                        self.claim_domain(existing, marker, adopt).await
                    }
                    _ => Err(MailError::NameTaken {
                        object: "Domain",
                        id,
                    }),
                }
            }
            Err(error) => Err(error.into_error("domain.create")),
        }
    }

    #[tracing::instrument(skip(self, current, spec, marker), fields(upstream = "stalwart", domain = %current.id))]
    async fn update_domain(
        &self,
        current: &MailDomain,
        spec: &DomainSpec,
        marker: &Marker,
    ) -> Result<bool, MailError> {
        let mut patch = Map::new();
        if current.marker() != Some(marker.key().as_str()) {
            patch.insert("description".into(), json!(marker.key()));
        }
        if current.dkim != spec.dkim {
            let mode = match spec.dkim {
                DkimMode::Manual => "Manual",
                DkimMode::Automatic => "Automatic",
            };
            patch.insert("dkimManagement".into(), json!({"@type": mode}));
        }
        if patch.is_empty() {
            return Ok(false);
        }
        let updated = self
            .update("domain.update", "Domain", &current.id, Value::Object(patch))
            .await;
        match updated {
            Ok(()) => self.snapshots.domains.put(MailDomain {
                description: Some(marker.key()),
                dkim: spec.dkim,
                ..current.clone()
            }),
            Err(ref e) if e.category() == ErrorCategory::NotFound => {
                self.snapshots.domains.remove(&current.id)
            }
            Err(_) => {}
        }
        updated.map(|()| true)
    }

    #[tracing::instrument(skip(self), fields(upstream = "stalwart"))]
    async fn delete_domain(&self, id: &str) -> Result<(), MailError> {
        self.destroy("domain.delete", "Domain", id).await?;
        self.snapshots.domains.remove(id);
        Ok(())
    }

    #[tracing::instrument(skip(self), fields(upstream = "stalwart"))]
    async fn list_dkim_keys(&self, domain_id: &str) -> Result<Vec<DkimKey>, MailError> {
        let properties = ["@type", "selector", "stage", "publicKey", "domainId"];
        let (list, _) = self
            .query_get::<DkimWire>(
                "dkim.list",
                "DkimSignature",
                json!({"filter": {"domainId": domain_id}}),
                &properties,
            )
            .await?;
        Ok(list
            .into_iter()
            .map(|k| DkimKey {
                id: k.id,
                domain_id: k.domain_id,
                algorithm: k.kind,
                selector: k.selector,
                stage: k.stage,
                public_key: k.public_key,
            })
            .collect())
    }

    #[tracing::instrument(skip(self, key), fields(upstream = "stalwart", selector = %key.selector))]
    async fn create_dkim_key(
        &self,
        domain_id: &str,
        key: &NewDkimKey,
    ) -> Result<String, MailError> {
        let create = json!({"@type": key.algorithm.wire_name(), "domainId": domain_id, "selector": key.selector, "stage": "active",
            "privateKey": {"@type": "Text", "secret": key.private_key_pem.expose()}});
        let mut response = self
            .set(
                "dkim.create",
                "DkimSignature",
                json!({"create": {"k": create}}),
            )
            .await?;
        response
            .created("k")
            .map_err(|e| e.into_error("dkim.create"))
    }

    #[tracing::instrument(skip(self), fields(upstream = "stalwart"))]
    async fn delete_dkim_key(&self, id: &str) -> Result<(), MailError> {
        self.destroy("dkim.delete", "DkimSignature", id).await
    }

    #[tracing::instrument(skip(self), fields(upstream = "stalwart"))]
    async fn dns_records(&self, domain_id: &str) -> Result<Vec<MailDnsRecord>, MailError> {
        let calls = vec![
            json!(["x:Domain/get", {"ids": [domain_id], "properties": ["name", "dnsZoneFile"]}, "z"]),
        ];
        let result = jmap::call(&self.http, "domain.zone", calls, true)
            .await?
            .into_iter()
            .next()
            .unwrap_or_default();
        let zone = result
            .get("list")
            .and_then(|l| l.get(0))
            .and_then(|d| d.get("dnsZoneFile"))
            .and_then(Value::as_str)
            .ok_or(MailError::Rejected {
                operation: "domain.zone",
                kind: "notFound".into(),
                properties: Vec::new(),
            })?;
        Ok(mail_records(zone))
    }

    #[tracing::instrument(skip(self), fields(upstream = "stalwart"))]
    async fn find_mailbox(
        &self,
        local_part: &str,
        domain_id: &str,
    ) -> Result<Option<Mailbox>, MailError> {
        let local = local_part.trim().to_lowercase();
        Ok(self
            .mailbox_snapshot()
            .await?
            .find_one(&by_address(&local, domain_id)))
    }

    #[tracing::instrument(skip(self), fields(upstream = "stalwart"))]
    async fn list_mailboxes(
        &self,
        domain_id: Option<&str>,
        position: u64,
        page_size: u64,
    ) -> Result<Page<Mailbox>, MailError> {
        let mut filter = json!({"@type": "User"});
        if let Some(domain_id) = domain_id {
            filter["domainId"] = json!(domain_id);
        }
        let query = json!({"filter": filter, "sort": [{"property": "name", "isAscending": true}], "position": position, "limit": page_size, "calculateTotal": true});
        let (list, q) = self
            .query_get::<AccountWire>("account.list", "Account", query, &ACCOUNT_PROPERTIES)
            .await?;
        let next = q.position + q.ids.len() as u64;
        Ok(Page {
            items: list
                .into_iter()
                .filter(|a| a.kind.as_deref() != Some("Group"))
                .map(Into::into)
                .collect(),
            next: (!q.ids.is_empty() && q.total.is_some_and(|t| next < t)).then_some(next),
        })
    }

    #[tracing::instrument(skip(self, spec, password, marker), fields(upstream = "stalwart", domain_id = %spec.domain_id))]
    async fn create_mailbox(
        &self,
        spec: &MailboxSpec,
        password: &Secret,
        marker: &Marker,
        adopt: bool,
    ) -> Result<Mailbox, MailError> {
        let local = spec.local_part.trim().to_lowercase();
        if let Some(existing) = self.find_mailbox(&local, &spec.domain_id).await? {
            return self.claim_mailbox(existing, spec, marker, adopt).await;
        }
        let description = describe(spec.display_name.as_deref(), marker);
        let quotas = match spec.quota_bytes {
            Some(bytes) => json!({"maxDiskQuota": bytes}),
            None => json!({}),
        };
        let create = json!({
            "@type": "User", "name": local, "domainId": spec.domain_id, "description": description,
            "credentials": {"0": {"@type": "Password", "secret": password.expose()}},
            "aliases": aliases_wire(&spec.aliases), "quotas": quotas, "permissions": permissions(spec.suspended),
        });
        let mut response = self
            .set(
                "account.create",
                "Account",
                json!({"create": {"a": create}}),
            )
            .await?;
        match response.created("a") {
            Ok(id) => {
                let created = self.get_account(&id).await?.ok_or(MailError::Protocol {
                    operation: "account.create",
                    reason: "created account not found".into(),
                })?;
                self.snapshots.mailboxes.put(created.clone());
                Ok(created)
            }
            Err(error) if error.kind == "primaryKeyViolation" && error.properties == ["email"] => {
                let holder = error.object_id.unwrap_or(jmap::ObjectRefWire {
                    object: String::new(),
                    id: String::new(),
                });
                if holder.object == "Account"
                    && let Some(existing) = self.get_account(&holder.id).await?
                    && existing.local_part == local
                    && existing.domain_id == spec.domain_id
                {
                    // created since the snapshot was loaded: judge it by its marker
                    self.snapshots.mailboxes.put(existing.clone());
                    return self.claim_mailbox(existing, spec, marker, adopt).await;
                }
                // The address is an alias of another account, or a mailing list.
                let object = if holder.object == "MailingList" {
                    "MailingList"
                } else {
                    "Account"
                };
                Err(MailError::NameTaken {
                    object,
                    id: holder.id,
                })
            }
            Err(error) => Err(error.into_error("account.create")),
        }
    }

    #[tracing::instrument(skip(self, current, spec, marker), fields(upstream = "stalwart", account = %current.id))]
    async fn update_mailbox(
        &self,
        current: &Mailbox,
        spec: &MailboxSpec,
        marker: &Marker,
    ) -> Result<bool, MailError> {
        let mut patch = Map::new();
        let description = describe(spec.display_name.as_deref(), marker);
        if current.description.as_deref() != Some(description.as_str())
            || marker_in(Some(&description)) != current.marker()
        {
            patch.insert("description".into(), json!(description));
        }
        if current.quota_bytes != spec.quota_bytes {
            patch.insert(
                "quotas/maxDiskQuota".into(),
                spec.quota_bytes.map_or(Value::Null, |b| json!(b)),
            );
        }
        let mut have: Vec<MailAlias> = current.aliases.values().cloned().collect();
        let mut want = spec.aliases.clone();
        have.sort();
        have.dedup();
        want.sort();
        want.dedup();
        if have != want {
            // A top-level value replaces the whole list (stalwart.md 2): no index bookkeeping.
            patch.insert("aliases".into(), aliases_wire(&want));
        }
        if current.suspended != spec.suspended {
            patch.insert("permissions".into(), permissions(spec.suspended));
        }
        if patch.is_empty() {
            return Ok(false);
        }
        let updated = self
            .update(
                "account.update",
                "Account",
                &current.id,
                Value::Object(patch),
            )
            .await;
        match updated {
            Ok(()) => self.snapshots.mailboxes.put(Mailbox {
                description: Some(description),
                quota_bytes: spec.quota_bytes,
                aliases: want
                    .into_iter()
                    .enumerate()
                    .map(|(i, a)| (i.to_string(), a))
                    .collect(),
                suspended: spec.suspended,
                ..current.clone()
            }),
            Err(ref e) if e.category() == ErrorCategory::NotFound => {
                self.snapshots.mailboxes.remove(&current.id)
            }
            Err(_) => {}
        }
        updated.map(|()| true)
    }

    #[tracing::instrument(skip(self, password), fields(upstream = "stalwart"))]
    async fn set_password(&self, id: &str, password: &Secret) -> Result<(), MailError> {
        let account = self.get_account(id).await?.ok_or(MailError::Rejected {
            operation: "account.password",
            kind: "notFound".into(),
            properties: Vec::new(),
        })?;
        let patch = match &account.password_index {
            // Only the secret is patched: replacing `credentials` would drop app passwords.
            Some(index) => json!({format!("credentials/{index}/secret"): password.expose()}),
            None => json!({"credentials/0": {"@type": "Password", "secret": password.expose()}}),
        };
        self.update("account.password", "Account", id, patch)
            .await?;
        self.snapshots.mailboxes.modify(id, |mailbox| {
            mailbox.password_index = account.password_index.or(Some("0".into()));
        });
        Ok(())
    }

    #[tracing::instrument(skip(self), fields(upstream = "stalwart"))]
    async fn delete_mailbox(&self, id: &str) -> Result<(), MailError> {
        self.destroy("account.delete", "Account", id).await?;
        self.snapshots.mailboxes.remove(id);
        Ok(())
    }
}
