//! Validation of registry objects as Stalwart does it on create and after a patch: defaults,
//! `@type` variants, names, foreign keys, credentials, DKIM keys and the unique indexes.

use serde_json::{Map, Value, json};

use super::{
    Kind, Registry, hash_secret, invalid_patch, object_ref, required, set_error, str_of, type_of,
};
use crate::stalwart::jmap::{decode_id, encode_id};
use crate::stalwart::rules::{
    is_valid_domain_name, normalize_domain, normalize_local_part, password_problem,
};
use crate::stalwart::zone;

fn check_variant(obj: &Map<String, Value>, key: &str, allowed: &[&str]) -> Result<(), Value> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(()),
        Some(Value::Object(_)) if type_of(obj.get(key)).is_some_and(|t| allowed.contains(&t)) => {
            Ok(())
        }
        Some(Value::Object(_)) => Err(invalid_patch(
            "Missing or invalid '@type' property in object",
            key,
        )),
        Some(_) => Err(invalid_patch("Invalid value for object property", key)),
    }
}

fn check_object(obj: &Map<String, Value>, key: &str) -> Result<(), Value> {
    match obj.get(key) {
        None | Some(Value::Null) | Some(Value::Object(_)) => Ok(()),
        Some(_) => Err(invalid_patch("Invalid value for object property", key)),
    }
}

impl Registry {
    pub(super) fn apply_defaults(
        &self,
        kind: Kind,
        obj: &mut Map<String, Value>,
    ) -> Result<(), Value> {
        let defaults = match kind {
            Kind::Domain => json!({
                "aliases": {}, "isEnabled": true, "description": null,
                "certificateManagement": {"@type": "Manual"},
                "dkimManagement": {"@type": "Automatic",
                    "algorithms": {"Dkim1Ed25519Sha256": true, "Dkim1RsaSha256": true},
                    "selectorTemplate": "v{version}-{algorithm}-{date-%Y%m%d}",
                    "rotateAfter": 7776000000u64, "retireAfter": 604800000u64, "deleteAfter": 2592000000u64},
                "dnsManagement": {"@type": "Manual"}, "memberTenantId": null, "directoryId": null,
                "catchAllAddress": null, "subAddressing": {"@type": "Enabled"}, "allowRelaying": false,
                "reportAddressUri": "mailto:postmaster", "logo": null
            }),
            Kind::Account => {
                match str_of(obj, "@type") {
                    Some("User") | Some("Group") => {}
                    _ => {
                        return Err(invalid_patch(
                            "Missing or invalid '@type' property in object",
                            "",
                        ));
                    }
                }
                json!({
                    "credentials": {}, "memberGroupIds": {}, "memberTenantId": null,
                    "roles": {"@type": if str_of(obj, "@type") == Some("Group") { "Default" } else { "User" }},
                    "permissions": {"@type": "Inherit"}, "quotas": {}, "aliases": {}, "description": null,
                    "locale": "en_US", "timeZone": null, "encryptionAtRest": {"@type": "Disabled"}
                })
            }
            Kind::DkimSignature => {
                match str_of(obj, "@type") {
                    Some(
                        "Dkim1Ed25519Sha256" | "Dkim1RsaSha256" | "Dkim2Ed25519Sha256"
                        | "Dkim2RsaSha256",
                    ) => {}
                    _ => {
                        return Err(invalid_patch(
                            "Missing or invalid '@type' property in object",
                            "",
                        ));
                    }
                }
                json!({
                    "auid": null, "canonicalization": "relaxed/relaxed", "expire": null,
                    "headers": {"From": true, "To": true, "Date": true, "Subject": true, "Message-ID": true},
                    "report": true, "thirdParty": null, "thirdPartyHash": null, "memberTenantId": null,
                    "nextTransitionAt": null, "stage": "active"
                })
            }
        };
        if let Value::Object(defaults) = defaults {
            for (key, value) in defaults {
                obj.entry(key).or_insert(value);
            }
        }
        Ok(())
    }

    pub(super) fn check(
        &self,
        kind: Kind,
        id: Option<u64>,
        obj: &mut Map<String, Value>,
        old: Option<&Map<String, Value>>,
    ) -> Result<(), Value> {
        match kind {
            Kind::Domain => self.check_domain(id, obj),
            Kind::Account => self.check_account(id, obj, old),
            Kind::DkimSignature => self.check_dkim(obj, old),
        }
    }

    pub(super) fn check_domain(
        &self,
        id: Option<u64>,
        obj: &mut Map<String, Value>,
    ) -> Result<(), Value> {
        let name = match obj.get("name") {
            None | Some(Value::Null) => return Err(required("name")),
            Some(Value::String(name)) => name.clone(),
            Some(_) => return Err(invalid_patch("Invalid value for property.", "name")),
        };
        let name = normalize_domain(&name)
            .filter(|n| is_valid_domain_name(n))
            .ok_or_else(|| invalid_patch("Invalid domain name", "name"))?;
        obj.insert("name".into(), json!(name));
        check_object(obj, "aliases")?;
        let mut aliases = Map::new();
        if let Some(Value::Object(map)) = obj.get("aliases") {
            for alias in map.keys() {
                let alias = normalize_domain(alias)
                    .filter(|n| is_valid_domain_name(n))
                    .ok_or_else(|| invalid_patch("Invalid domain name", "aliases"))?;
                aliases.insert(alias, json!(true));
            }
        }
        obj.insert("aliases".into(), Value::Object(aliases.clone()));
        check_variant(obj, "dkimManagement", &["Automatic", "Manual"])?;
        // A partial automatic DKIM object (create or update) gets the defaults of its fields.
        if type_of(obj.get("dkimManagement")) == Some("Automatic")
            && let Some(Value::Object(dkim)) = obj.get_mut("dkimManagement")
        {
            let defaults = json!({
                "algorithms": {"Dkim1Ed25519Sha256": true, "Dkim1RsaSha256": true},
                "selectorTemplate": "v{version}-{algorithm}-{date-%Y%m%d}",
                "rotateAfter": 7776000000u64, "retireAfter": 604800000u64, "deleteAfter": 2592000000u64
            });
            if let Value::Object(defaults) = defaults {
                for (key, value) in defaults {
                    dkim.entry(key).or_insert(value);
                }
            }
        }
        check_variant(obj, "certificateManagement", &["Automatic", "Manual"])?;
        check_variant(obj, "dnsManagement", &["Automatic", "Manual"])?;
        check_variant(obj, "subAddressing", &["Enabled", "Disabled", "Custom"])?;
        for (key, value) in obj.iter() {
            if value == &json!("") {
                return Err(set_error(
                    "invalidPatch",
                    Some("Invalid value for property."),
                    &[key],
                ));
            }
        }
        for (other, domain) in &self.coll(Kind::Domain).items {
            if Some(*other) == id {
                continue;
            }
            let other_names: Vec<&str> =
                std::iter::once(str_of(domain, "name").unwrap_or_default())
                    .chain(
                        domain
                            .get("aliases")
                            .and_then(Value::as_object)
                            .into_iter()
                            .flat_map(|m| m.keys().map(String::as_str)),
                    )
                    .collect();
            let property = if other_names.contains(&name.as_str()) {
                "name"
            } else if aliases.keys().any(|a| other_names.contains(&a.as_str())) {
                "aliases"
            } else {
                continue;
            };
            return Err(
                json!({"type": "primaryKeyViolation", "properties": [property], "objectId": object_ref(Kind::Domain, *other)}),
            );
        }
        Ok(())
    }

    pub(super) fn check_account(
        &self,
        id: Option<u64>,
        obj: &mut Map<String, Value>,
        old: Option<&Map<String, Value>>,
    ) -> Result<(), Value> {
        let name = match obj.get("name") {
            None | Some(Value::Null) => return Err(required("name")),
            Some(Value::String(name)) => name.clone(),
            Some(_) => return Err(invalid_patch("Invalid value for property.", "name")),
        };
        let name = normalize_local_part(&name)
            .ok_or_else(|| invalid_patch("Invalid email local part", "name"))?;
        obj.insert("name".into(), json!(name));
        let domain_id = match obj.get("domainId") {
            None | Some(Value::Null) => return Err(required("domainId")),
            Some(value) => self
                .exists(Kind::Domain, value)
                .ok_or_else(|| json!({"type": "invalidForeignKey", "objectId": {"object": "Domain", "id": value}}))?,
        };
        for key in ["credentials", "aliases", "quotas", "memberGroupIds"] {
            check_object(obj, key)?;
        }
        let is_group = str_of(obj, "@type") == Some("Group");
        check_variant(
            obj,
            "roles",
            if is_group {
                &["Default", "Custom"]
            } else {
                &["User", "Admin", "Custom"]
            },
        )?;
        check_variant(obj, "permissions", &["Inherit", "Merge", "Replace"])?;
        check_variant(obj, "encryptionAtRest", &["Disabled", "Aes128", "Aes256"])?;
        if let Some(Value::Object(permissions)) = obj.get_mut("permissions")
            && permissions.get("@type") != Some(&json!("Inherit"))
        {
            permissions.entry("enabledPermissions").or_insert(json!({}));
            permissions
                .entry("disabledPermissions")
                .or_insert(json!({}));
        }
        if let Some(Value::Object(groups)) = obj.get("memberGroupIds") {
            for (group, member) in groups {
                let is_group_account = decode_id(group)
                    .and_then(|g| self.coll(Kind::Account).items.get(&g))
                    .is_some_and(|g| str_of(g, "@type") == Some("Group"));
                if member == &json!(true) && !is_group_account {
                    return Err(
                        json!({"type": "invalidForeignKey", "objectId": {"object": "Account", "id": group}}),
                    );
                }
            }
        }
        self.check_credentials(obj, old)?;
        // Aliases: normalized, on existing domains.
        let mut addresses = vec![(name.clone(), domain_id)];
        if let Some(Value::Object(aliases)) = obj.get_mut("aliases") {
            for alias in aliases.values_mut() {
                let Value::Object(alias) = alias else {
                    return Err(invalid_patch(
                        "Invalid value for object property",
                        "aliases",
                    ));
                };
                let local = str_of(alias, "name")
                    .and_then(normalize_local_part)
                    .ok_or_else(|| invalid_patch("Invalid email local part", "aliases"))?;
                let alias_domain = alias
                    .get("domainId")
                    .and_then(|d| self.exists(Kind::Domain, d))
                    .ok_or_else(|| json!({"type": "invalidForeignKey", "objectId": {"object": "Domain", "id": alias.get("domainId").cloned().unwrap_or(Value::Null)}}))?;
                alias.insert("name".into(), json!(local));
                alias.entry("enabled").or_insert(json!(true));
                alias.entry("description").or_insert(Value::Null);
                addresses.push((local, alias_domain));
            }
        }
        // The global `email` index over account names and aliases.
        for (other, account) in &self.coll(Kind::Account).items {
            if Some(*other) == id {
                continue;
            }
            if self
                .addresses(account)
                .iter()
                .any(|held| addresses.contains(held))
            {
                return Err(
                    json!({"type": "primaryKeyViolation", "properties": ["email"], "objectId": object_ref(Kind::Account, *other)}),
                );
            }
        }
        Ok(())
    }

    pub(super) fn check_credentials(
        &self,
        obj: &mut Map<String, Value>,
        old: Option<&Map<String, Value>>,
    ) -> Result<(), Value> {
        let old_credentials = old
            .and_then(|o| o.get("credentials"))
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let Some(Value::Object(credentials)) = obj.get_mut("credentials") else {
            return Ok(());
        };
        let mut passwords = 0;
        for (index, credential) in credentials.iter_mut() {
            let Value::Object(credential) = credential else {
                return Err(invalid_patch(
                    "Invalid value for object property",
                    "credentials",
                ));
            };
            match str_of(credential, "@type") {
                Some("Password") => passwords += 1,
                Some("AppPassword" | "ApiKey")
                    if old_credentials.get(index) != Some(&Value::Object(credential.clone())) =>
                {
                    return Err(set_error(
                        "invalidProperties",
                        Some("Secondary credentials cannot be set directly."),
                        &["credentials"],
                    ));
                }
                Some("AppPassword" | "ApiKey") => continue,
                _ => {
                    return Err(invalid_patch(
                        "Missing or invalid '@type' property in object",
                        "credentials",
                    ));
                }
            }
            let previous = old_credentials
                .get(index)
                .and_then(|c| c.get("secret"))
                .cloned();
            let secret = match credential.get("secret") {
                Some(Value::String(secret)) if secret == "****" => previous.ok_or_else(|| {
                    set_error("invalidProperties", Some("Invalid password."), &["secret"])
                })?,
                Some(Value::String(secret)) if Some(&json!(secret)) == previous.as_ref() => {
                    json!(secret)
                }
                Some(Value::String(secret))
                    if secret.starts_with('$') || secret.starts_with('{') =>
                {
                    json!(secret)
                }
                Some(Value::String(secret)) => {
                    if let Some(problem) = password_problem(secret) {
                        return Err(set_error("invalidProperties", Some(problem), &["secret"]));
                    }
                    json!(hash_secret(secret))
                }
                _ => return Err(required("secret")),
            };
            credential.insert("secret".into(), secret);
            credential.entry("credentialId").or_insert(json!("a"));
            credential.entry("otpAuth").or_insert(Value::Null);
            credential.entry("expiresAt").or_insert(Value::Null);
            credential.entry("allowedIps").or_insert(json!({}));
        }
        if passwords > 1 {
            return Err(set_error(
                "invalidProperties",
                Some("Only one password credential is allowed."),
                &["credentials"],
            ));
        }
        Ok(())
    }

    pub(super) fn check_dkim(
        &self,
        obj: &mut Map<String, Value>,
        old: Option<&Map<String, Value>>,
    ) -> Result<(), Value> {
        match obj.get("domainId") {
            None | Some(Value::Null) => return Err(required("domainId")),
            Some(value) => {
                self.exists(Kind::Domain, value)
                    .ok_or_else(|| json!({"type": "invalidForeignKey", "objectId": {"object": "Domain", "id": value}}))?;
            }
        }
        match obj.get("selector") {
            Some(Value::String(s)) if !s.is_empty() => {}
            _ => return Err(required("selector")),
        }
        match obj.get("stage").and_then(Value::as_str) {
            Some("active" | "pending" | "retiring" | "retired") => {}
            _ => {
                return Err(set_error(
                    "invalidPatch",
                    Some("Invalid value for property."),
                    &["stage"],
                ));
            }
        }
        let dkim_type = str_of(obj, "@type").unwrap_or_default().to_string();
        let key = match obj.get("privateKey") {
            None | Some(Value::Null) => return Err(required("privateKey")),
            Some(Value::Object(key)) if key.get("@type") == Some(&json!("Text")) => key.clone(),
            Some(Value::Object(key)) if key.contains_key("@type") => {
                return Err(set_error(
                    "invalidProperties",
                    Some("Failed to validate DKIM signature: only inline keys are simulated"),
                    &["privateKey"],
                ));
            }
            Some(_) => {
                return Err(invalid_patch(
                    "Invalid value for object property",
                    "privateKey",
                ));
            }
        };
        let secret = match key.get("secret").and_then(Value::as_str) {
            Some("****") => old
                .and_then(|o| o.get("privateKey"))
                .and_then(|k| k.get("secret"))
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| required("privateKey"))?,
            Some(secret) => secret.to_string(),
            None => return Err(required("privateKey")),
        };
        zone::parse_private_key(&dkim_type, &secret).map_err(|reason| {
            set_error(
                "invalidProperties",
                Some(&format!("Failed to validate DKIM signature: {reason}")),
                &["privateKey"],
            )
        })?;
        obj.insert(
            "privateKey".into(),
            json!({"@type": "Text", "secret": secret}),
        );
        Ok(())
    }

    /// With automatic DKIM, one active key per configured algorithm (Stalwart's task manager
    /// creates them a few seconds after the domain; the simulator does it at once).
    pub(super) fn ensure_automatic_dkim(&mut self, domain: u64) {
        let Some(obj) = self.coll(Kind::Domain).items.get(&domain) else {
            return;
        };
        if type_of(obj.get("dkimManagement")) != Some("Automatic") {
            return;
        }
        let algorithms: Vec<String> = obj
            .get("dkimManagement")
            .and_then(|d| d.get("algorithms"))
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter(|(_, on)| **on == json!(true))
                    .map(|(k, _)| k.clone())
                    .collect()
            })
            .unwrap_or_default();
        let jid = json!(encode_id(domain));
        let date = chrono::Utc::now().format("%Y%m%d").to_string();
        for algorithm in algorithms {
            let present = self.coll(Kind::DkimSignature).items.values().any(|k| {
                k.get("domainId") == Some(&jid)
                    && str_of(k, "@type") == Some(algorithm.as_str())
                    && str_of(k, "stage") == Some("active")
            });
            if present {
                continue;
            }
            let short = if zone::is_rsa(&algorithm) {
                "rsa"
            } else {
                "ed25519"
            };
            let mut input = Map::new();
            input.insert("@type".into(), json!(algorithm));
            input.insert("domainId".into(), jid.clone());
            input.insert("selector".into(), json!(format!("v1-{short}-{date}")));
            input.insert(
                "privateKey".into(),
                json!({"@type": "Text", "secret": zone::generate_private_key(&algorithm)}),
            );
            // Generated input always passes validation; a failure would be a simulator bug.
            if let Err(error) = self.create(Kind::DkimSignature, &input) {
                tracing::error!(%error, "automatic DKIM key was refused");
            }
        }
    }
}
