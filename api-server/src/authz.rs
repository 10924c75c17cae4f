//! Authorization: the caller's roles, computed per request from the token and the cache, and the
//! checks every route makes against its target before it writes anything.
//!
//! - Platform operator: a console token AND membership of the platform-admins group, checked
//!   live at the issuer's userinfo endpoint (cached at most `groupsTtlSeconds`, 60 s by
//!   default), so an admin removed from the group loses access within a minute even with a valid
//!   token. The groups inside the token are not trusted for this.
//! - Partner staff: a portal token whose e-mail is a non-suspended Member in a partner's
//!   namespace; it may act on that partner's customers only.
//! - Tenant admin: a portal token whose e-mail is a non-suspended Member with role `admin` in
//!   the tenant's namespace, of a tenant that is not suspended.
//! - Member: a portal token whose e-mail is a Member of a tenant; it may act on itself only.

use std::collections::BTreeSet;
use std::sync::Arc;

use dezky_crds::member::MemberRole;
use dezky_crds::{Member, Tenant};
use kube::ResourceExt;
use serde::Serialize;

use crate::auth::{Principal, Verifier};
use crate::cache::{Cache, partner_of_tenant};
use crate::config::Audience;
use crate::problem::ApiError;

/// A Member object that is the caller.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SelfRef {
    pub tenant: String,
    pub namespace: String,
    pub name: String,
}

/// Everything the caller may act as.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Roles {
    pub operator: bool,
    pub partner_staff: BTreeSet<String>,
    pub tenant_admin: BTreeSet<String>,
    pub member: Vec<SelfRef>,
}

/// The authenticated caller and its roles.
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: Principal,
    pub roles: Roles,
}

fn active(m: &Member) -> bool {
    !m.spec.suspended && m.metadata.deletion_timestamp.is_none()
}

impl Roles {
    /// Computes the roles of a verified caller.
    pub async fn of(
        principal: &Principal,
        cache: &Cache,
        verifier: &Verifier,
        admins_group: &str,
    ) -> Roles {
        let mut roles = Roles::default();
        if principal.audience == Audience::Console {
            roles.operator = verifier
                .live_groups(principal)
                .await
                .is_some_and(|g| g.iter().any(|g| g == admins_group));
            return roles;
        }
        let Some(email) = principal.email.as_deref() else {
            return roles;
        };
        for m in cache.members.state() {
            if !m.spec.email.eq_ignore_ascii_case(email) || !active(&m) {
                continue;
            }
            let Some(ns) = m.namespace() else { continue };
            if let Some(partner) = cache.partner_of_namespace(&ns) {
                if cache.partner(&partner).is_some_and(|p| !p.spec.suspended) {
                    roles.partner_staff.insert(partner);
                }
                continue;
            }
            let Some(tenant) = cache.tenant_of_namespace(&ns) else {
                continue;
            };
            let Some(t) = cache.tenant(&tenant) else {
                continue;
            };
            if t.spec.suspended {
                continue;
            }
            if m.spec.role == MemberRole::Admin {
                roles.tenant_admin.insert(tenant.clone());
            }
            roles.member.push(SelfRef {
                tenant,
                namespace: ns,
                name: m.name_any(),
            });
        }
        roles
    }
}

fn forbidden(what: &str) -> ApiError {
    ApiError::Forbidden(format!("you may not {what}"))
}

impl Caller {
    /// Who acted, with the role used, for the audit trail.
    pub fn actor(&self, role: &str) -> String {
        format!("{} ({role})", self.principal.display())
    }

    pub fn require_operator(&self, what: &str) -> Result<(), ApiError> {
        if self.roles.operator {
            Ok(())
        } else {
            Err(forbidden(what))
        }
    }

    /// Operator, or staff of this partner.
    pub fn require_partner(&self, partner: &str, what: &str) -> Result<&'static str, ApiError> {
        if self.roles.operator {
            Ok("operator")
        } else if self.roles.partner_staff.contains(partner) {
            Ok("partner-staff")
        } else {
            Err(forbidden(what))
        }
    }

    /// Operator, or admin of this tenant.
    pub fn require_tenant_admin(&self, tenant: &str, what: &str) -> Result<&'static str, ApiError> {
        if self.roles.operator {
            Ok("operator")
        } else if self.roles.tenant_admin.contains(tenant) {
            Ok("tenant-admin")
        } else {
            Err(forbidden(what))
        }
    }

    /// Operator, admin of the tenant, or staff of its partner: may read the tenant's status.
    pub fn require_tenant_reader(
        &self,
        tenant: &Tenant,
        what: &str,
    ) -> Result<&'static str, ApiError> {
        let name = tenant.name_any();
        if self.roles.operator {
            return Ok("operator");
        }
        if self.roles.tenant_admin.contains(&name) {
            return Ok("tenant-admin");
        }
        if partner_of_tenant(tenant).is_some_and(|p| self.roles.partner_staff.contains(&p)) {
            return Ok("partner-staff");
        }
        Err(forbidden(what))
    }

    /// The caller's own Member objects.
    pub fn own_members(&self) -> &[SelfRef] {
        &self.roles.member
    }
}

/// Looks up a tenant the caller may see, answering 403 (never 404) for tenants outside its scope,
/// so nothing about another tenant leaks.
pub fn tenant_for_admin(
    caller: &Caller,
    cache: &Cache,
    tenant: &str,
    what: &str,
) -> Result<(Arc<Tenant>, &'static str), ApiError> {
    let role = caller.require_tenant_admin(tenant, what)?;
    let t = cache
        .tenant(tenant)
        .ok_or_else(|| ApiError::not_found("Tenant", tenant))?;
    Ok((t, role))
}
