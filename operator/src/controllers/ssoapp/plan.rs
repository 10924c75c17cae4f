//! The pure decisions of the SsoApp controller: the application slug, the OAuth2 provider's
//! desired fields, the steps toward provider + application + tenant-group binding, and the
//! conditions.

use dezky_crds::condition::{reasons, types};
use dezky_crds::ssoapp::{ClientType, Scope, SsoAppSpec};
use sha2::{Digest, Sha256};

use crate::conditions::Verdict;
use crate::upstream::authentik::RedirectUri;

/// Longest application slug Authentik accepts in our status field.
pub const MAX_SLUG: usize = 50;
/// Reason: waiting for the tenant's group.
pub const REASON_WAITING: &str = "Waiting";

/// The application slug of SsoApp `name` of `tenant`: `<tenant>-<name>`, or, when longer than
/// [`MAX_SLUG`], a prefix of it with a short hash of the whole, so it stays unique and stable.
pub fn application_slug(tenant: &str, name: &str) -> String {
    let full = format!("{tenant}-{name}");
    if full.len() <= MAX_SLUG {
        return full;
    }
    let digest = Sha256::digest(full.as_bytes());
    let hash: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
    let prefix = full[..MAX_SLUG - hash.len() - 1].trim_end_matches('-');
    format!("{prefix}-{hash}")
}

/// The issuer URL of an application under the Authentik base URL.
pub fn issuer(authentik_base: &str, slug: &str) -> String {
    format!(
        "{}/application/o/{slug}/",
        authentik_base.trim_end_matches('/')
    )
}

/// The OIDC discovery document of an issuer.
pub fn discovery_url(issuer: &str) -> String {
    format!("{issuer}.well-known/openid-configuration")
}

/// The scope names of the spec, as Authentik's managed scope mappings name them. Authentik ships
/// no `groups` mapping: its managed `profile` mapping emits the `groups` claim, so `groups` asks
/// for that one (authentik.md, "The `profile` scope mapping adds `groups`").
pub fn scope_names(scopes: &[Scope]) -> Vec<String> {
    let mut names: Vec<String> = scopes
        .iter()
        .map(|s| {
            match s {
                Scope::Openid => "openid",
                Scope::Email => "email",
                Scope::Profile => "profile",
                Scope::Groups => "profile",
                Scope::OfflineAccess => "offline_access",
            }
            .to_string()
        })
        .collect();
    names.sort();
    names.dedup();
    names
}

/// `confidential` or `public`.
pub fn client_type(spec: &SsoAppSpec) -> &'static str {
    match spec.client_type {
        ClientType::Confidential => "confidential",
        ClientType::Public => "public",
    }
}

/// The grant types: the code flow, and refresh tokens when `offline_access` is asked for.
pub fn grant_types(spec: &SsoAppSpec) -> Vec<String> {
    let mut grants = vec!["authorization_code".to_string()];
    if spec.scopes.contains(&Scope::OfflineAccess) {
        grants.push("refresh_token".into());
    }
    grants
}

/// Strict redirect URIs, in the spec's order.
pub fn redirect_uris(spec: &SsoAppSpec) -> Vec<RedirectUri> {
    spec.redirect_uris.iter().map(RedirectUri::strict).collect()
}

/// What Authentik holds for one of the app's objects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    Missing,
    /// Ours; `drifted` when managed fields differ from the spec.
    Ours {
        drifted: bool,
    },
    Unmarked,
    Foreign,
}

/// Everything the plan decides on.
#[derive(Debug, Clone)]
pub struct Facts {
    /// `None` when the namespace belongs to no Tenant.
    pub tenant: Option<String>,
    pub allow_adoption: bool,
    pub adopt_annotation: bool,
    pub paused: bool,
    /// The tenant group's pk, once it exists.
    pub group_pk: Option<String>,
    pub provider: Found,
    pub application: Found,
    /// The application's provider is the one we manage.
    pub provider_attached: bool,
    /// The app has a binding of the tenant group.
    pub group_bound: bool,
    /// Bindings of anything else (pks), which would widen who may use the app.
    pub other_bindings: Vec<String>,
    /// The credentials Secret holds the current values.
    pub secret_current: bool,
}

/// One change, applied in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    CreateProvider {
        adopt: bool,
    },
    UpdateProvider,
    /// Create the application without a provider (unreachable until bound), or adopt it.
    CreateApplication {
        adopt: bool,
    },
    UpdateApplication,
    BindGroup,
    RemoveBinding {
        pk: String,
    },
    /// Attach the provider once the binding exists.
    AttachProvider,
    WriteSecret,
}

/// What the plan decided.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub steps: Vec<Step>,
    pub identity: Verdict,
    pub ready_override: Option<Verdict>,
}

/// Decides the steps and the IdentityReady condition of one pass.
pub fn plan(f: &Facts) -> Plan {
    if f.tenant.is_none() {
        return Plan {
            steps: Vec::new(),
            identity: Verdict::failed(
                types::IDENTITY_READY,
                reasons::TENANT_NOT_FOUND,
                "the namespace belongs to no Tenant",
            ),
            ready_override: Some(Verdict::failed(
                types::READY,
                reasons::TENANT_NOT_FOUND,
                "the namespace belongs to no Tenant (label dezky.io/tenant)",
            )),
        };
    }
    let Some(_) = &f.group_pk else {
        return Plan {
            steps: Vec::new(),
            identity: Verdict::unknown(
                types::IDENTITY_READY,
                REASON_WAITING,
                "waiting for the tenant's group (the Tenant is not ready yet)",
            ),
            ready_override: None,
        };
    };
    let adopt = f.adopt_annotation && f.allow_adoption;
    for (what, found) in [
        ("OAuth2 provider", &f.provider),
        ("application", &f.application),
    ] {
        let refusal = match found {
            Found::Foreign => Verdict::failed(
                types::IDENTITY_READY,
                reasons::NAME_TAKEN,
                format!("the Authentik {what} name belongs to another owner"),
            ),
            Found::Unmarked if !adopt => Verdict::failed(
                types::IDENTITY_READY,
                reasons::ADOPTION_REQUIRED,
                format!(
                    "an Authentik {what} with this name exists without a Dezky marker; annotate dezky.io/adopt: \"true\" (the Tenant must allow adoption)"
                ),
            ),
            _ => continue,
        };
        return Plan {
            steps: Vec::new(),
            identity: refusal,
            ready_override: None,
        };
    }
    let mut steps = Vec::new();
    match f.provider {
        Found::Missing => steps.push(Step::CreateProvider { adopt: false }),
        Found::Unmarked => steps.push(Step::CreateProvider { adopt: true }),
        Found::Ours { drifted: true } => steps.push(Step::UpdateProvider),
        _ => {}
    }
    match f.application {
        Found::Missing => steps.push(Step::CreateApplication { adopt: false }),
        Found::Unmarked => steps.push(Step::CreateApplication { adopt: true }),
        Found::Ours { drifted: true } => steps.push(Step::UpdateApplication),
        _ => {}
    }
    if !f.group_bound {
        steps.push(Step::BindGroup);
    }
    for pk in &f.other_bindings {
        steps.push(Step::RemoveBinding { pk: pk.clone() });
    }
    if !f.provider_attached {
        steps.push(Step::AttachProvider);
    }
    if !f.secret_current
        || steps
            .iter()
            .any(|s| matches!(s, Step::CreateProvider { .. } | Step::UpdateProvider))
    {
        steps.push(Step::WriteSecret);
    }
    let identity = if f.paused && !steps.is_empty() {
        steps.clear();
        Verdict::failed(
            types::IDENTITY_READY,
            reasons::PAUSED,
            "paused: changes are pending",
        )
    } else if steps.is_empty() {
        Verdict::ok(
            types::IDENTITY_READY,
            "the provider, the application and the tenant-group binding exist",
        )
    } else {
        Verdict::unknown(
            types::IDENTITY_READY,
            reasons::RECONCILING,
            "provisioning the application",
        )
    };
    Plan {
        steps,
        identity,
        ready_override: None,
    }
}

#[cfg(test)]
mod tests;
