//! The simulated Stalwart registry: Domain, Account and DkimSignature objects, their
//! JSON-pointer patches, unique keys, foreign keys and "linked" checks.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::jmap::{decode_id, encode_id};
use super::rules::{normalize_domain, normalize_local_part};
use super::zone;

mod validate;

/// The object types this simulator serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Kind {
    Domain,
    Account,
    DkimSignature,
}

impl Kind {
    pub(crate) fn from_name(name: &str) -> Option<Kind> {
        match name {
            "Domain" => Some(Kind::Domain),
            "Account" => Some(Kind::Account),
            "DkimSignature" => Some(Kind::DkimSignature),
            _ => None,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Domain => "Domain",
            Kind::Account => "Account",
            Kind::DkimSignature => "DkimSignature",
        }
    }

    fn properties(self) -> &'static [&'static str] {
        match self {
            Kind::Domain => &[
                "name",
                "aliases",
                "isEnabled",
                "description",
                "logo",
                "certificateManagement",
                "dkimManagement",
                "dnsManagement",
                "memberTenantId",
                "directoryId",
                "catchAllAddress",
                "subAddressing",
                "allowRelaying",
                "reportAddressUri",
            ],
            Kind::Account => &[
                "@type",
                "name",
                "domainId",
                "credentials",
                "memberGroupIds",
                "memberTenantId",
                "roles",
                "permissions",
                "quotas",
                "aliases",
                "description",
                "locale",
                "timeZone",
                "encryptionAtRest",
            ],
            Kind::DkimSignature => &[
                "@type",
                "auid",
                "canonicalization",
                "expire",
                "headers",
                "privateKey",
                "report",
                "thirdParty",
                "thirdPartyHash",
                "domainId",
                "memberTenantId",
                "selector",
                "nextTransitionAt",
                "stage",
            ],
        }
    }

    fn server_set(self) -> &'static [&'static str] {
        match self {
            Kind::Domain => &["createdAt", "dnsZoneFile"],
            Kind::Account => &["createdAt", "emailAddress", "usedDiskQuota"],
            Kind::DkimSignature => &["createdAt", "publicKey"],
        }
    }

    fn filters(self) -> &'static [&'static str] {
        match self {
            Kind::Domain => &["name", "aliases", "text", "memberTenantId"],
            Kind::Account => &[
                "name",
                "domainId",
                "@type",
                "memberGroupIds",
                "memberTenantId",
                "text",
            ],
            Kind::DkimSignature => &["domainId", "memberTenantId"],
        }
    }
}

/// A per-object SetError as Stalwart writes it.
pub(crate) fn set_error(kind: &str, description: Option<&str>, properties: &[&str]) -> Value {
    let mut error = json!({"type": kind});
    if let Some(description) = description {
        error["description"] = json!(description);
    }
    if !properties.is_empty() {
        error["properties"] = json!(properties);
    }
    error
}

fn invalid_patch(description: &str, property: &str) -> Value {
    set_error("invalidPatch", Some(description), &[property])
}

fn object_ref(kind: Kind, id: u64) -> Value {
    json!({"object": kind.name(), "id": encode_id(id)})
}

fn required(property: &str) -> Value {
    json!({"type": "validationFailed", "validationErrors": [{"type": "Required", "property": property}]})
}

/// A method-level error: (type, description).
pub(crate) type MethodError = (&'static str, String);

#[derive(Default)]
struct Collection {
    next: u64,
    items: BTreeMap<u64, Map<String, Value>>,
}

/// All objects of the simulated server.
pub(crate) struct Registry {
    hostname: String,
    collections: BTreeMap<Kind, Collection>,
}

fn hash_secret(secret: &str) -> String {
    format!(
        "$sim-sha256${:x}",
        Sha256::digest(format!("stalwart-sim:{secret}"))
    )
}

fn str_of<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    obj.get(key).and_then(Value::as_str)
}

fn type_of(value: Option<&Value>) -> Option<&str> {
    value.and_then(|v| v.get("@type")).and_then(Value::as_str)
}

/// Applies one PatchObject entry (`key` is a property or a JSON pointer) to `obj`.
fn apply_pointer(obj: &mut Map<String, Value>, key: &str, value: &Value) -> Result<(), Value> {
    let segments: Vec<&str> = key.split('/').collect();
    let (last, parents) = segments.split_last().unwrap_or((&"", &[]));
    let mut target = obj;
    for segment in parents {
        target = match target.get_mut(*segment) {
            Some(Value::Object(next)) => next,
            _ => return Err(invalid_patch("Invalid JSON Pointer path", key)),
        };
    }
    if value.is_null() && !parents.is_empty() {
        target.remove(*last);
    } else {
        target.insert((*last).to_string(), value.clone());
    }
    Ok(())
}

impl Registry {
    pub(crate) fn new(hostname: String) -> Registry {
        let mut collections = BTreeMap::new();
        for kind in [Kind::Domain, Kind::Account, Kind::DkimSignature] {
            collections.insert(
                kind,
                Collection {
                    next: 1,
                    items: BTreeMap::new(),
                },
            );
        }
        Registry {
            hostname,
            collections,
        }
    }

    fn coll(&self, kind: Kind) -> &Collection {
        &self.collections[&kind]
    }

    fn coll_mut(&mut self, kind: Kind) -> &mut Collection {
        self.collections.entry(kind).or_default()
    }

    fn exists(&self, kind: Kind, id: &Value) -> Option<u64> {
        let id = decode_id(id.as_str()?)?;
        self.coll(kind).items.contains_key(&id).then_some(id)
    }

    pub(crate) fn ids(&self, kind: Kind) -> Vec<u64> {
        self.coll(kind).items.keys().copied().collect()
    }

    /// Creates an object from a client's create map.
    pub(crate) fn create(&mut self, kind: Kind, input: &Map<String, Value>) -> Result<u64, Value> {
        for key in input.keys() {
            if kind.server_set().contains(&key.as_str()) || key == "id" {
                return Err(invalid_patch("Cannot modify server set property", key));
            }
            if !kind.properties().contains(&key.as_str()) {
                return Err(invalid_patch("Invalid key for object", ""));
            }
        }
        let mut obj = input.clone();
        self.apply_defaults(kind, &mut obj)?;
        self.check(kind, None, &mut obj, None)?;
        obj.insert(
            "createdAt".into(),
            json!(chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()),
        );
        let collection = self.coll_mut(kind);
        let id = collection.next;
        collection.next += 1;
        collection.items.insert(id, obj);
        if kind == Kind::Domain {
            self.ensure_automatic_dkim(id);
        }
        Ok(id)
    }

    /// Applies a PatchObject to an existing object; the result is validated as a whole.
    pub(crate) fn update(
        &mut self,
        kind: Kind,
        id: u64,
        patch: &Map<String, Value>,
    ) -> Result<(), Value> {
        let old = self
            .coll(kind)
            .items
            .get(&id)
            .cloned()
            .ok_or_else(|| set_error("notFound", None, &[]))?;
        let mut obj = old.clone();
        for (key, value) in patch {
            let head = key.split('/').next().unwrap_or_default();
            if kind.server_set().contains(&head) {
                return Err(invalid_patch("Cannot modify server set property", key));
            }
            if !kind.properties().contains(&head) || head == "@type" {
                return Err(invalid_patch("Invalid property", key));
            }
            apply_pointer(&mut obj, key, value)?;
        }
        self.check(kind, Some(id), &mut obj, Some(&old))?;
        self.coll_mut(kind).items.insert(id, obj);
        if kind == Kind::Domain {
            self.ensure_automatic_dkim(id);
        }
        Ok(())
    }

    /// Destroys an object unless something still refers to it.
    pub(crate) fn destroy(&mut self, kind: Kind, id: u64) -> Result<(), Value> {
        if !self.coll(kind).items.contains_key(&id) {
            return Err(set_error("notFound", None, &[]));
        }
        let linked = self.linked_objects(kind, id);
        if !linked.is_empty() {
            return Err(
                json!({"type": "objectIsLinked", "objectId": object_ref(kind, id), "linkedObjects": linked}),
            );
        }
        self.coll_mut(kind).items.remove(&id);
        Ok(())
    }

    fn linked_objects(&self, kind: Kind, id: u64) -> Vec<Value> {
        let jid = json!(encode_id(id));
        let mut linked = Vec::new();
        match kind {
            Kind::Domain => {
                for (other, account) in &self.coll(Kind::Account).items {
                    let by_alias = account
                        .get("aliases")
                        .and_then(Value::as_object)
                        .is_some_and(|aliases| {
                            aliases.values().any(|a| a.get("domainId") == Some(&jid))
                        });
                    if account.get("domainId") == Some(&jid) || by_alias {
                        linked.push(object_ref(Kind::Account, *other));
                    }
                }
                for (other, key) in &self.coll(Kind::DkimSignature).items {
                    if key.get("domainId") == Some(&jid) {
                        linked.push(object_ref(Kind::DkimSignature, *other));
                    }
                }
            }
            Kind::Account => {
                for (other, account) in &self.coll(Kind::Account).items {
                    let member = account
                        .get("memberGroupIds")
                        .and_then(|m| m.get(encode_id(id)))
                        .is_some_and(|v| v == &json!(true));
                    if member {
                        linked.push(object_ref(Kind::Account, *other));
                    }
                }
            }
            Kind::DkimSignature => {}
        }
        linked
    }

    fn addresses(&self, account: &Map<String, Value>) -> Vec<(String, u64)> {
        let mut out = Vec::new();
        if let (Some(name), Some(domain)) = (
            str_of(account, "name"),
            account
                .get("domainId")
                .and_then(|d| self.exists(Kind::Domain, d)),
        ) {
            out.push((name.to_string(), domain));
        }
        if let Some(Value::Object(aliases)) = account.get("aliases") {
            for alias in aliases.values() {
                if let (Some(name), Some(domain)) = (
                    alias.get("name").and_then(Value::as_str),
                    alias
                        .get("domainId")
                        .and_then(|d| self.exists(Kind::Domain, d)),
                ) {
                    out.push((name.to_string(), domain));
                }
            }
        }
        out
    }

    fn domain_name(&self, id: &Value) -> Option<&str> {
        let id = decode_id(id.as_str()?)?;
        str_of(self.coll(Kind::Domain).items.get(&id)?, "name")
    }

    /// The object as `x:*/get` returns it: secrets masked, server-set properties computed.
    pub(crate) fn render(
        &self,
        kind: Kind,
        id: u64,
        properties: Option<&[String]>,
    ) -> Option<Value> {
        let stored = self.coll(kind).items.get(&id)?;
        let wanted = |p: &str| properties.is_none_or(|list| list.iter().any(|x| x == p));
        let mut out = Map::new();
        for (key, value) in stored {
            if wanted(key) {
                out.insert(key.clone(), value.clone());
            }
        }
        match kind {
            Kind::Domain => {
                if wanted("dnsZoneFile") {
                    out.insert("dnsZoneFile".into(), json!(self.zone_file(id)));
                }
            }
            Kind::Account => {
                if let Some(Value::Object(credentials)) = out.get_mut("credentials") {
                    for credential in credentials.values_mut() {
                        if let Some(secret) = credential.get_mut("secret") {
                            *secret = json!("****");
                        }
                    }
                }
                if wanted("emailAddress") {
                    let domain = stored
                        .get("domainId")
                        .and_then(|d| self.domain_name(d))
                        .unwrap_or_default();
                    out.insert(
                        "emailAddress".into(),
                        json!(format!(
                            "{}@{domain}",
                            str_of(stored, "name").unwrap_or_default()
                        )),
                    );
                }
                if wanted("usedDiskQuota") {
                    out.insert("usedDiskQuota".into(), json!(0));
                }
            }
            Kind::DkimSignature => {
                if out.contains_key("privateKey") {
                    out.insert(
                        "privateKey".into(),
                        json!({"@type": "Text", "secret": "****"}),
                    );
                }
                if wanted("publicKey") {
                    out.insert("publicKey".into(), json!(self.public_key(stored)));
                }
            }
        }
        out.insert("id".into(), json!(encode_id(id)));
        Some(Value::Object(out))
    }

    fn public_key(&self, key: &Map<String, Value>) -> String {
        let dkim_type = str_of(key, "@type").unwrap_or_default();
        let secret = key
            .get("privateKey")
            .and_then(|k| k.get("secret"))
            .and_then(Value::as_str)
            .unwrap_or_default();
        zone::parse_private_key(dkim_type, secret)
            .map(|der| zone::public_key(dkim_type, &der))
            .unwrap_or_default()
    }

    fn zone_file(&self, domain: u64) -> String {
        let Some(obj) = self.coll(Kind::Domain).items.get(&domain) else {
            return String::new();
        };
        let jid = json!(encode_id(domain));
        let keys: Vec<zone::ZoneDkim> = self
            .coll(Kind::DkimSignature)
            .items
            .values()
            .filter(|k| k.get("domainId") == Some(&jid) && str_of(k, "stage") != Some("retired"))
            .map(|k| zone::ZoneDkim {
                selector: str_of(k, "selector").unwrap_or_default().to_string(),
                dkim_type: str_of(k, "@type").unwrap_or_default().to_string(),
                public_key: self.public_key(k),
            })
            .collect();
        let report = str_of(obj, "reportAddressUri").unwrap_or("mailto:postmaster");
        zone::zone_file(
            str_of(obj, "name").unwrap_or_default(),
            &self.hostname,
            report,
            &keys,
        )
    }

    /// The ids matching a query filter (AND of all keys), in the requested order.
    pub(crate) fn query(
        &self,
        kind: Kind,
        filter: Option<&Value>,
        sort: Option<&Value>,
    ) -> Result<Vec<u64>, MethodError> {
        let filter = match filter {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(map)) => map.clone(),
            Some(_) => return Err(("invalidArguments", "filter must be an object".into())),
        };
        for key in filter.keys() {
            if !kind.filters().contains(&key.as_str()) {
                return Err((
                    "unsupportedFilter",
                    format!("Unsupported filter property: {key}"),
                ));
            }
        }
        let mut ids: Vec<u64> = self
            .coll(kind)
            .items
            .iter()
            .filter(|(_, obj)| {
                filter.iter().all(|(key, wanted)| match key.as_str() {
                    "text" => {
                        let needle = wanted.as_str().unwrap_or_default().to_lowercase();
                        ["name", "description"].iter().any(|p| {
                            str_of(obj, p).is_some_and(|v| v.to_lowercase().contains(&needle))
                        })
                    }
                    "aliases" => obj
                        .get("aliases")
                        .and_then(Value::as_object)
                        .is_some_and(|m| wanted.as_str().is_some_and(|w| m.contains_key(w))),
                    "memberGroupIds" => obj
                        .get("memberGroupIds")
                        .and_then(Value::as_object)
                        .is_some_and(|m| wanted.as_str().is_some_and(|w| m.contains_key(w))),
                    _ => obj.get(key) == Some(wanted),
                })
            })
            .map(|(id, _)| *id)
            .collect();
        ids.sort_unstable_by(|a, b| b.cmp(a));
        if let Some(Value::Array(sort)) = sort {
            for comparator in sort.iter().rev() {
                let property = comparator
                    .get("property")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let ascending = comparator
                    .get("isAscending")
                    .and_then(Value::as_bool)
                    .unwrap_or(true);
                if !["name", "id"].contains(&property) {
                    return Err((
                        "unsupportedSort",
                        format!("Unsupported sort property: {property}"),
                    ));
                }
                let key = |id: &u64| -> String {
                    if property == "id" {
                        format!("{id:020}")
                    } else {
                        self.coll(kind)
                            .items
                            .get(id)
                            .and_then(|o| str_of(o, "name"))
                            .unwrap_or_default()
                            .to_string()
                    }
                };
                ids.sort_by(|a, b| {
                    if ascending {
                        key(a).cmp(&key(b))
                    } else {
                        key(b).cmp(&key(a))
                    }
                });
            }
        }
        Ok(ids)
    }

    /// The account a mailbox login names (full address or alias), if the password matches.
    pub(crate) fn login(&self, address: &str, password: &str) -> Option<u64> {
        let (local, domain) = address.rsplit_once('@')?;
        let local = normalize_local_part(local)?;
        let domain = normalize_domain(domain)?;
        let (id, account) = self.coll(Kind::Account).items.iter().find(|(_, account)| {
            str_of(account, "@type") == Some("User")
                && self.addresses(account).iter().any(|(name, d)| {
                    name == &local
                        && self.domain_name(&json!(encode_id(*d))) == Some(domain.as_str())
                })
        })?;
        let stored = account
            .get("credentials")
            .and_then(Value::as_object)?
            .values()
            .find(|c| c.get("@type") == Some(&json!("Password")))?
            .get("secret")?
            .as_str()?;
        (stored == hash_secret(password)).then_some(*id)
    }

    /// Whether an account's permissions deny `authenticate`.
    pub(crate) fn is_suspended(&self, id: u64) -> bool {
        self.coll(Kind::Account)
            .items
            .get(&id)
            .and_then(|a| a.get("permissions"))
            .and_then(|p| p.get("disabledPermissions"))
            .and_then(|d| d.get("authenticate"))
            == Some(&json!(true))
    }

    /// An account's primary address.
    pub(crate) fn address_of(&self, id: u64) -> Option<String> {
        let account = self.coll(Kind::Account).items.get(&id)?;
        let domain = account.get("domainId").and_then(|d| self.domain_name(d))?;
        Some(format!("{}@{domain}", str_of(account, "name")?))
    }

    /// Every object, rendered as `get` shows it (secrets masked, no zone files).
    pub(crate) fn dump(&self) -> Value {
        let mut out = Map::new();
        for kind in [Kind::Domain, Kind::Account, Kind::DkimSignature] {
            let objects: Vec<Value> = self
                .ids(kind)
                .into_iter()
                .filter_map(|id| {
                    let mut v = self.render(kind, id, None)?;
                    if let Some(map) = v.as_object_mut() {
                        map.remove("dnsZoneFile");
                    }
                    Some(v)
                })
                .collect();
            out.insert(kind.name().to_string(), Value::Array(objects));
        }
        Value::Object(out)
    }
}
