//! The Tenant controller's pure part: names, markers, the desired state, and `plan` over
//! plain observed data (no IO), unit-tested below.

use dezky_crds::condition::{reasons, types};
use dezky_crds::{Member, Tenant};
use kube::ResourceExt;
use serde_json::{Map, json};

use super::super::partner::{Step as NsStep, plan_group, plan_namespace};
use crate::conditions::{self, Verdict};
use crate::quantity;
use crate::runtime::namespace::NamespaceObs;
use crate::runtime::{Context, ReconcileError};
use crate::upstream::authentik::{GroupObs, GroupSpec, Observed};
use crate::upstream::marker::{Marker, Ownership};
use crate::upstream::ocis::{FilesGroup, Grantee, Space, SpacePermission, SpaceRole, SpaceSpec};

/// The file roles, each an Authentik group and an OCIS group shared on the tenant's space.
pub const FILE_ROLES: [SpaceRole; 3] = [SpaceRole::Viewer, SpaceRole::Editor, SpaceRole::Manager];

/// The tenant's namespace and Authentik group: `tenant-<name>`.
pub fn tenant_resource_name(tenant: &str) -> String {
    format!("tenant-{tenant}")
}

/// The tenant a namespace named `tenant-<name>` belongs to.
pub fn tenant_of_namespace(namespace: &str) -> Option<&str> {
    namespace.strip_prefix("tenant-").filter(|n| !n.is_empty())
}

/// `viewer`, `editor` or `manager`.
pub fn role_word(role: SpaceRole) -> &'static str {
    match role {
        SpaceRole::Viewer => "viewer",
        SpaceRole::Editor => "editor",
        SpaceRole::Manager => "manager",
    }
}

/// The file-role group name, in Authentik and OCIS: `tenant-<name>-files-<role>`.
pub fn file_role_group_name(tenant: &str, role: SpaceRole) -> String {
    format!("tenant-{tenant}-files-{}", role_word(role))
}

/// The marker of a tenant's file-role group (Authentik and OCIS): the tenant's kind and name
/// with `/files-<role>` appended, which no Tenant name can produce (names have no `/`).
pub fn file_role_marker(tenant_marker: &Marker, role: SpaceRole) -> Marker {
    Marker {
        name: format!("{}/files-{}", tenant_marker.name, role_word(role)),
        ..tenant_marker.clone()
    }
}

/// The managed fields of the tenant group.
pub fn group_spec(tenant: &Tenant) -> GroupSpec {
    let mut attributes = Map::new();
    attributes.insert("dezky.io/tenant".into(), json!(tenant.name_any()));
    attributes.insert("dezky.io/suspended".into(), json!(tenant.spec.suspended));
    GroupSpec {
        name: tenant_resource_name(&tenant.name_any()),
        attributes,
    }
}

/// The managed fields of a file-role group.
pub fn role_group_spec(tenant: &Tenant, role: SpaceRole) -> GroupSpec {
    let mut attributes = Map::new();
    attributes.insert("dezky.io/tenant".into(), json!(tenant.name_any()));
    attributes.insert("dezky.io/file-role".into(), json!(role_word(role)));
    GroupSpec {
        name: file_role_group_name(&tenant.name_any(), role),
        attributes,
    }
}

/// The space name: the display name without the characters OCIS refuses.
pub fn space_name(display_name: &str) -> String {
    let cleaned: String = display_name
        .chars()
        .map(|c| if "/\\.:?*\"<>|".contains(c) { ' ' } else { c })
        .collect();
    let trimmed = cleaned.split_whitespace().collect::<Vec<_>>().join(" ");
    if trimmed.is_empty() {
        "Workspace".into()
    } else {
        trimmed
    }
}

/// What a lookup found, classified by marker.
#[derive(Debug, Clone, PartialEq)]
pub enum Found<T> {
    Missing,
    Ours(T),
    Unmarked(T),
    Foreign(T),
}

/// Everything the Tenant controller observes.
#[derive(Debug, Clone)]
pub struct TenantObserved {
    pub namespace: NamespaceObs,
    pub group: Observed<GroupObs>,
    pub role_groups: Vec<(SpaceRole, Observed<GroupObs>)>,
    pub space: Found<Space>,
    pub files_groups: Vec<(SpaceRole, Found<FilesGroup>)>,
    /// Permissions on our space (empty when it does not exist yet).
    pub permissions: Vec<SpacePermission>,
}

/// One step toward the desired state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    CreateNamespace,
    AdoptNamespace,
    /// Create (or adopt) the tenant group (`None`) or a file-role group.
    CreateGroup {
        role: Option<SpaceRole>,
        adopt: bool,
    },
    UpdateGroup {
        role: Option<SpaceRole>,
    },
    CreateSpace {
        adopt: bool,
    },
    UpdateSpace,
    /// Restore our disabled space.
    RestoreSpace,
    /// Disable our space while the tenant is suspended (OCIS keeps its content and shares).
    DisableSpace,
    CreateFilesGroup {
        role: SpaceRole,
        adopt: bool,
    },
    /// Share the space with a files group.
    Share {
        role: SpaceRole,
        group_id: String,
    },
    /// Change the role of an existing permission.
    SetRole {
        role: SpaceRole,
        permission_id: String,
    },
}

/// The plan: steps, and the verdict of each part once they are taken.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub steps: Vec<Step>,
    pub verdicts: Vec<Verdict>,
}

/// The desired state a plan compares against (pure inputs).
#[derive(Debug, Clone)]
pub struct Desired {
    pub namespace: String,
    pub group: GroupSpec,
    pub role_groups: Vec<(SpaceRole, GroupSpec)>,
    pub space: SpaceSpec,
    pub adopt: bool,
    pub paused: bool,
    /// `spec.suspended`: the space is disabled until the tenant is resumed.
    pub suspended: bool,
}

fn first_failure(verdicts: Vec<Verdict>, ok: Verdict) -> Verdict {
    verdicts
        .into_iter()
        .find(|v| v.status != dezky_crds::ConditionStatus::True)
        .unwrap_or(ok)
}

/// The identity part: the tenant group and the three file-role groups.
fn plan_identity(desired: &Desired, observed: &TenantObserved) -> (Vec<Step>, Verdict) {
    let mut steps = Vec::new();
    let mut verdicts = Vec::new();
    let (step, verdict) = plan_group(
        &observed.group,
        &desired.group,
        desired.adopt,
        desired.paused,
    );
    steps.extend(step.map(|s| group_step(s, None)));
    verdicts.push(verdict);
    for (role, spec) in &desired.role_groups {
        let found = observed
            .role_groups
            .iter()
            .find(|(r, _)| r == role)
            .map(|(_, o)| o.clone())
            .unwrap_or(Observed::Missing);
        let (step, verdict) = plan_group(&found, spec, desired.adopt, desired.paused);
        steps.extend(step.map(|s| group_step(s, Some(*role))));
        verdicts.push(verdict);
    }
    let ok = Verdict::ok(
        types::IDENTITY_READY,
        format!(
            "Authentik group {} and its file-role groups are provisioned",
            desired.group.name
        ),
    );
    (steps, first_failure(verdicts, ok))
}

fn group_step(step: NsStep, role: Option<SpaceRole>) -> Step {
    match step {
        NsStep::CreateGroup { adopt } => Step::CreateGroup { role, adopt },
        NsStep::UpdateGroup => Step::UpdateGroup { role },
        NsStep::CreateNamespace => Step::CreateNamespace,
        NsStep::AdoptNamespace => Step::AdoptNamespace,
    }
}

/// The files part: the space (quota, name), the OCIS groups and the space's shares.
fn plan_files(desired: &Desired, observed: &TenantObserved) -> (Vec<Step>, Verdict) {
    let t = types::FILES_READY;
    let paused = desired.paused;
    let mut steps = Vec::new();
    let mut problems = Vec::new();
    let mut pending = Vec::new();
    let space = match &observed.space {
        Found::Ours(space) if desired.suspended => {
            if !space.disabled {
                steps.push(Step::DisableSpace);
                pending.push("disable the space");
            }
            // a disabled space can be neither changed nor shared: that waits for the resume
            None
        }
        Found::Ours(space) => {
            if space.disabled {
                steps.push(Step::RestoreSpace);
                pending.push("restore the space");
            } else if space.quota_bytes != desired.space.quota_bytes
                || space.name != desired.space.name
            {
                steps.push(Step::UpdateSpace);
                pending.push("update the space");
            }
            Some(space)
        }
        Found::Missing => {
            steps.push(Step::CreateSpace { adopt: false });
            pending.push("create the space");
            None
        }
        Found::Unmarked(_) if desired.adopt => {
            steps.push(Step::CreateSpace { adopt: true });
            pending.push("adopt the space");
            None
        }
        Found::Unmarked(space) => {
            problems.push(Verdict::failed(
                t,
                reasons::ADOPTION_REQUIRED,
                format!(
                    "OCIS space {:?} exists and is not managed by Dezky: annotate dezky.io/adopt=true (and allowAdoption) to adopt it",
                    space.name
                ),
            ));
            None
        }
        Found::Foreign(_) => None,
    };
    for role in FILE_ROLES {
        let name = desired
            .role_groups
            .iter()
            .find(|(r, _)| *r == role)
            .map(|(_, s)| s.name.clone())
            .unwrap_or_default();
        let found = observed
            .files_groups
            .iter()
            .find(|(r, _)| *r == role)
            .map(|(_, f)| f.clone())
            .unwrap_or(Found::Missing);
        let group = match found {
            Found::Ours(group) => Some(group),
            Found::Missing => {
                steps.push(Step::CreateFilesGroup { role, adopt: false });
                pending.push("create the OCIS groups");
                None
            }
            Found::Unmarked(_) if desired.adopt => {
                steps.push(Step::CreateFilesGroup { role, adopt: true });
                pending.push("adopt the OCIS groups");
                None
            }
            Found::Unmarked(_) => {
                problems.push(Verdict::failed(
                    t,
                    reasons::ADOPTION_REQUIRED,
                    format!("OCIS group {name} exists and is not managed by Dezky: annotate dezky.io/adopt=true (and allowAdoption) to adopt it"),
                ));
                None
            }
            Found::Foreign(_) => {
                problems.push(Verdict::failed(
                    t,
                    reasons::NAME_TAKEN,
                    format!("OCIS group {name} is managed by another Dezky object or installation"),
                ));
                None
            }
        };
        if let (Some(_space), Some(group)) = (space, group) {
            let id = format!("g:{}", group.id);
            match observed.permissions.iter().find(|p| {
                p.id == id || matches!(&p.grantee, Grantee::Group { id } if *id == group.id)
            }) {
                None => {
                    steps.push(Step::Share {
                        role,
                        group_id: group.id.clone(),
                    });
                    pending.push("share the space");
                }
                Some(p) if p.role() != Some(role) => {
                    steps.push(Step::SetRole {
                        role,
                        permission_id: p.id.clone(),
                    });
                    pending.push("fix a share's role");
                }
                Some(_) => {}
            }
        }
    }
    if let Some(problem) = problems.into_iter().next() {
        return (Vec::new(), problem);
    }
    if paused && !steps.is_empty() {
        pending.dedup();
        return (
            Vec::new(),
            Verdict::failed(
                t,
                reasons::PAUSED,
                format!("paused: would {}", pending.join(", ")),
            ),
        );
    }
    let ok = if desired.suspended {
        Verdict {
            reason: reasons::SUSPENDED.into(),
            ..Verdict::ok(
                t,
                format!(
                    "the tenant is suspended: project space {:?} is disabled until it is resumed",
                    desired.space.name
                ),
            )
        }
    } else {
        Verdict::ok(
            t,
            format!(
                "project space {:?} ({} bytes) is shared with the file-role groups",
                desired.space.name, desired.space.quota_bytes
            ),
        )
    };
    (steps, ok)
}

/// The Tenant's plan (pure).
pub fn plan(desired: &Desired, observed: &TenantObserved) -> Plan {
    let (ns_step, ns_verdict) = plan_namespace(
        &observed.namespace,
        &desired.namespace,
        desired.adopt,
        desired.paused,
    );
    let (identity_steps, identity_verdict) = plan_identity(desired, observed);
    let (files_steps, files_verdict) = plan_files(desired, observed);
    Plan {
        steps: ns_step
            .map(|s| group_step(s, None))
            .into_iter()
            .chain(identity_steps)
            .chain(files_steps)
            .collect(),
        verdicts: vec![ns_verdict, identity_verdict, files_verdict],
    }
}

pub fn classify<T>(marker: &Marker, found: Option<&str>, object: T) -> Found<T> {
    match marker.classify(found) {
        Ownership::Ours => Found::Ours(object),
        Ownership::Unmarked => Found::Unmarked(object),
        Ownership::Foreign => Found::Foreign(object),
    }
}

/// The desired state of `tenant`.
pub fn desired(tenant: &Tenant) -> Result<Desired, ReconcileError> {
    let quota = quantity::parse_bytes(&tenant.spec.storage_quota).ok_or_else(|| {
        ReconcileError::Invalid(format!(
            "storageQuota {:?} is not a quantity",
            tenant.spec.storage_quota
        ))
    })?;
    Ok(Desired {
        namespace: tenant_resource_name(&tenant.name_any()),
        group: group_spec(tenant),
        role_groups: FILE_ROLES
            .iter()
            .map(|r| (*r, role_group_spec(tenant, *r)))
            .collect(),
        space: SpaceSpec {
            name: space_name(&tenant.spec.display_name),
            description: Some(format!("Dezky tenant {}", tenant.name_any())),
            quota_bytes: quota,
        },
        adopt: Context::wants_adoption(tenant) && tenant.spec.allow_adoption,
        paused: Context::is_paused(tenant),
        suspended: tenant.spec.suspended,
    })
}

/// What remains in the tenant's namespace: Members, MailDomains, SsoApps, and the seats held.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dependents {
    pub members: usize,
    pub maildomains: usize,
    pub ssoapps: usize,
    pub seats_used: i32,
}

impl Dependents {
    /// "2 Members, 1 MailDomain" — `None` when nothing remains.
    pub fn describe(&self) -> Option<String> {
        let parts: Vec<String> = [
            (self.members, "Member"),
            (self.maildomains, "MailDomain"),
            (self.ssoapps, "SsoApp"),
        ]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, kind)| format!("{n} {kind}{}", if *n == 1 { "" } else { "s" }))
        .collect();
        (!parts.is_empty()).then(|| parts.join(", "))
    }
}

/// Whether a Member holds a seat: it is not being deleted and not refused for the seat limit.
pub fn holds_seat(member: &Member) -> bool {
    member.metadata.deletion_timestamp.is_none()
        && !member.status.as_ref().is_some_and(|s| {
            conditions::get(&s.conditions, types::READY)
                .is_some_and(|c| c.reason == reasons::SEAT_LIMIT_EXCEEDED)
        })
}

#[cfg(test)]
mod tests;
