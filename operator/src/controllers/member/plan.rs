//! The pure decisions of the Member controller: who the member belongs to, whether it may be
//! provisioned (domain, seats), what its Authentik user, group memberships and Stalwart mailbox
//! should be, which one-off actions (password, sessions) are due, and the conditions.
//!
//! Nothing here does IO; the controller gathers [`Facts`], calls [`plan`] and applies the steps.

use std::collections::BTreeSet;

use dezky_crds::ConditionStatus;
use dezky_crds::condition::{reasons, types};
use dezky_crds::member::FileRole;
use serde_json::{Map, Value, json};

use crate::conditions::Verdict;

/// User attribute: when a retired member's data may be purged (RFC 3339), `null` while active.
/// The Tenant controller purges users (and their mailboxes, see [`ATTR_RETAINED_MAILBOX`]) whose
/// time has passed.
pub const ATTR_PURGE_AFTER: &str = "dezky.io/purge-after";
/// User attribute: the Stalwart account id of a retired member's mailbox, for the purge.
pub const ATTR_RETAINED_MAILBOX: &str = "dezky.io/retained-mailbox";
/// User attribute: the tenant (or `partner:<name>`) the user belongs to.
pub const ATTR_TENANT: &str = "dezky.io/tenant";
/// User attribute: the member's portal role (`admin` or `member`).
pub const ATTR_ROLE: &str = "dezky.io/role";
/// Reason: a mailbox or files are waiting for something outside this object.
pub const REASON_WAITING: &str = "Waiting";
/// Reason: the part is not requested by the spec.
pub const REASON_NOT_REQUESTED: &str = "NotRequested";

pub use super::names::{
    credentials_secret_name, file_role_group, go_duration, holds_seat, member_of_namespace,
    quantity_bytes, split_address,
};

/// Who the Member belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// The namespace belongs to no Tenant or Partner (or it does not exist).
    Missing,
    /// A tenant member.
    Tenant {
        name: String,
        allow_adoption: bool,
        suspended: bool,
        /// The tenant group's pk, once the Tenant controller created it.
        group_pk: Option<String>,
        /// The file-role groups' pks by role, once they exist.
        file_groups: Vec<(FileRole, String)>,
    },
    /// Partner staff: SSO only, in the partner group.
    Partner {
        name: String,
        domain: String,
        allow_adoption: bool,
        suspended: bool,
        group_pk: Option<String>,
    },
}

/// What Authentik holds under the member's username.
#[derive(Debug, Clone, PartialEq)]
pub enum UserFact {
    Missing,
    /// Ours: pk, active flag, direct group pks, whether a purge time is set.
    Ours(UserView),
    /// A retired user of a Member of the same tenant that no longer exists: taken over.
    Retained(UserView),
    Unmarked,
    Foreign,
}

/// The parts of an Authentik user the plan looks at.
#[derive(Debug, Clone, PartialEq)]
pub struct UserView {
    pub pk: i64,
    pub is_active: bool,
    pub groups: BTreeSet<String>,
    /// The managed fields differ from the desired user (name, email, path, attributes, active).
    pub drifted: bool,
}

/// What Stalwart holds at the member's address.
#[derive(Debug, Clone, PartialEq)]
pub enum MailboxFact {
    /// Not looked at (no verified domain on the mail server yet, or no mailbox wanted).
    NotObserved,
    Missing,
    /// Ours; `drifted` when quota, aliases, description or suspension differ.
    Ours {
        id: String,
        drifted: bool,
    },
    /// A retired mailbox of a Member of the same tenant that no longer exists: taken over.
    Retained {
        id: String,
    },
    Unmarked,
    Foreign,
}

/// The mail side of the member's address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailDomainFact {
    /// The address's domain is not a verified MailDomain of the tenant.
    NotVerified,
    /// Verified, but the mail server domain does not exist yet.
    NoServerDomain,
    /// Verified, with the mail server domain id.
    Ready { domain_id: String },
}

/// Everything the plan decides on.
#[derive(Debug, Clone)]
pub struct Facts {
    pub email: String,
    pub scope: Scope,
    pub paused: bool,
    pub adopt_annotation: bool,
    pub suspended: bool,
    pub holds_seat: bool,
    pub mail_domain: MailDomainFact,
    /// Aliases whose domain is not a verified MailDomain of the tenant.
    pub unverified_aliases: Vec<String>,
    pub mailbox_wanted: bool,
    pub files_wanted: bool,
    pub file_role: FileRole,
    pub user: UserFact,
    pub mailbox: MailboxFact,
    /// The credentials Secret exists and was issued for the current `credentialsRotation`.
    pub password_current: bool,
    /// A new `sessionsRevocation` value has not been acted on.
    pub sessions_revocation_due: bool,
}

impl Facts {
    fn tenant_allows_adoption(&self) -> bool {
        match &self.scope {
            Scope::Tenant { allow_adoption, .. } | Scope::Partner { allow_adoption, .. } => {
                *allow_adoption
            }
            Scope::Missing => false,
        }
    }

    /// Suspended by the member itself or by its tenant/partner.
    pub fn effective_suspended(&self) -> bool {
        self.suspended
            || matches!(
                self.scope,
                Scope::Tenant {
                    suspended: true,
                    ..
                } | Scope::Partner {
                    suspended: true,
                    ..
                }
            )
    }

    fn is_partner(&self) -> bool {
        matches!(self.scope, Scope::Partner { .. })
    }
}

/// One change upstream, applied in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Create the user (or adopt an unmarked one when `adopt`).
    CreateUser {
        adopt: bool,
    },
    /// Take a retired user of a former Member of the tenant over (re-marked, purge time cleared).
    TakeOverUser,
    /// Bring the user's managed fields to the spec (active flag, attributes, purge time cleared).
    UpdateUser,
    AddToGroup {
        group_pk: String,
    },
    RemoveFromGroup {
        group_pk: String,
    },
    /// Issue a new one-time password: set it in Authentik (and Stalwart), then write the Secret.
    IssuePassword,
    /// Create the mailbox with the member's password (or adopt an unmarked one when `adopt`).
    CreateMailbox {
        adopt: bool,
    },
    /// Take a retired mailbox over, then bring it to the spec.
    TakeOverMailbox,
    UpdateMailbox,
    EndSessions,
}

/// What the plan decided.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub steps: Vec<Step>,
    pub verdicts: Vec<Verdict>,
    /// A Ready that overrides the summary (tenant missing, domain not verified, seats).
    pub ready_override: Option<Verdict>,
    /// The condition types Ready needs for this member.
    pub required: Vec<&'static str>,
}

fn blocked(reason: &str, message: String) -> Plan {
    Plan {
        steps: Vec::new(),
        verdicts: Vec::new(),
        ready_override: Some(Verdict::failed(types::READY, reason, message)),
        required: Vec::new(),
    }
}

/// Decides the steps and conditions of one pass over a live (not deleted) Member. While paused,
/// the steps are computed but not returned, and each part with pending changes says so.
pub fn plan(f: &Facts) -> Plan {
    if !f.paused {
        return plan_unpaused(f);
    }
    let mut planned = plan_unpaused(&Facts {
        paused: false,
        ..f.clone()
    });
    let mut pending: Vec<&'static str> = Vec::new();
    for step in &planned.steps {
        let types_: &[&'static str] = match step {
            Step::CreateMailbox { .. } | Step::TakeOverMailbox | Step::UpdateMailbox => {
                &[types::MAILBOX_READY]
            }
            Step::AddToGroup { .. } | Step::RemoveFromGroup { .. } => {
                &[types::IDENTITY_READY, types::FILES_READY]
            }
            _ => &[types::IDENTITY_READY],
        };
        for type_ in types_ {
            if !pending.contains(type_) {
                pending.push(type_);
            }
        }
    }
    planned.steps.clear();
    for verdict in &mut planned.verdicts {
        if pending.contains(&verdict.type_) && verdict.status != ConditionStatus::False {
            *verdict = Verdict::failed(
                verdict.type_,
                reasons::PAUSED,
                "paused (dezky.io/paused): changes are pending",
            );
        }
    }
    planned
}

fn plan_unpaused(f: &Facts) -> Plan {
    let domain = split_address(&f.email).map(|(_, d)| d).unwrap_or_default();
    match &f.scope {
        Scope::Missing => {
            return blocked(
                reasons::TENANT_NOT_FOUND,
                "the namespace belongs to no Tenant or Partner (label dezky.io/tenant or dezky.io/partner)".into(),
            );
        }
        Scope::Partner { domain: own, .. } if *own != domain => {
            return blocked(
                reasons::DOMAIN_NOT_VERIFIED,
                format!("partner staff addresses must be on the partner's domain {own}"),
            );
        }
        Scope::Tenant { .. } if f.mail_domain == MailDomainFact::NotVerified => {
            return blocked(
                reasons::DOMAIN_NOT_VERIFIED,
                format!("{domain} is not a verified MailDomain of the tenant; nothing was created"),
            );
        }
        _ => {}
    }
    if !f.holds_seat {
        return blocked(
            reasons::SEAT_LIMIT_EXCEEDED,
            "the tenant has more Members than seats; this one is not provisioned".into(),
        );
    }
    let mut steps = Vec::new();
    let mut verdicts = Vec::new();
    let write = !f.paused;
    let adopt = f.adopt_annotation && f.tenant_allows_adoption();
    let suspended = f.effective_suspended();

    // identity
    let (user_ok, identity_verdict) = match &f.user {
        UserFact::Missing if write => {
            steps.push(Step::CreateUser { adopt: false });
            (true, None)
        }
        UserFact::Unmarked if adopt && write => {
            steps.push(Step::CreateUser { adopt: true });
            (true, None)
        }
        UserFact::Retained(_) if write => {
            steps.push(Step::TakeOverUser);
            (true, None)
        }
        UserFact::Ours(view) => {
            if view.drifted && write {
                steps.push(Step::UpdateUser);
            }
            (true, None)
        }
        UserFact::Missing | UserFact::Retained(_) => (
            false,
            Some(Verdict::failed(
                types::IDENTITY_READY,
                reasons::PAUSED,
                "paused: the user is not created",
            )),
        ),
        UserFact::Unmarked => (
            false,
            Some(Verdict::failed(
                types::IDENTITY_READY,
                reasons::ADOPTION_REQUIRED,
                format!(
                    "an Authentik user {} exists without a Dezky marker; annotate dezky.io/adopt: \"true\" (the Tenant must allow adoption)",
                    f.email
                ),
            )),
        ),
        UserFact::Foreign => (
            false,
            Some(Verdict::failed(
                types::IDENTITY_READY,
                reasons::NAME_TAKEN,
                format!(
                    "the Authentik username {} belongs to another owner",
                    f.email
                ),
            )),
        ),
    };
    let user_groups = match &f.user {
        UserFact::Ours(v) | UserFact::Retained(v) => v.groups.clone(),
        _ => BTreeSet::new(),
    };
    let mut groups_pending = false;
    if user_ok {
        // memberships: the tenant (or partner) group, and exactly the file-role group of the role
        let (main_group, file_groups): (Option<&String>, &[(FileRole, String)]) = match &f.scope {
            Scope::Tenant {
                group_pk,
                file_groups,
                ..
            } => (group_pk.as_ref(), file_groups),
            Scope::Partner { group_pk, .. } => (group_pk.as_ref(), &[]),
            Scope::Missing => (None, &[]),
        };
        match main_group {
            Some(pk) if !user_groups.contains(pk) => {
                if write {
                    steps.push(Step::AddToGroup {
                        group_pk: pk.clone(),
                    })
                }
            }
            Some(_) => {}
            None => groups_pending = true,
        }
        for (role, pk) in file_groups {
            let wanted = f.files_wanted && *role == f.file_role && !f.is_partner();
            let member = user_groups.contains(pk);
            if wanted && !member && write {
                steps.push(Step::AddToGroup {
                    group_pk: pk.clone(),
                });
            } else if !wanted && member && write {
                steps.push(Step::RemoveFromGroup {
                    group_pk: pk.clone(),
                });
            }
        }
    }
    let password_due = user_ok && !f.password_current && write;
    verdicts.push(match identity_verdict {
        Some(v) => v,
        None if groups_pending => Verdict::unknown(
            types::IDENTITY_READY,
            REASON_WAITING,
            "waiting for the tenant's group (the Tenant is not ready yet)",
        ),
        None if steps.is_empty() && !password_due && suspended => {
            Verdict::ok(types::IDENTITY_READY, "the user exists and is suspended")
        }
        None if steps.is_empty() && !password_due => {
            Verdict::ok(types::IDENTITY_READY, "the user exists in the tenant group")
        }
        None if f.paused => Verdict::failed(
            types::IDENTITY_READY,
            reasons::PAUSED,
            "paused: changes are pending",
        ),
        None => Verdict::unknown(
            types::IDENTITY_READY,
            reasons::RECONCILING,
            "updating the user",
        ),
    });

    // mailbox (tenant members only)
    let mut required = vec![types::IDENTITY_READY];
    if !f.is_partner() {
        required.push(types::MAILBOX_READY);
        required.push(types::FILES_READY);
        let verdict = if !f.mailbox_wanted {
            plan_mailbox_off(f, write, &mut steps)
        } else {
            match (&f.mail_domain, &f.mailbox) {
                (MailDomainFact::Ready { .. }, _) if !user_ok => {
                    Verdict::unknown(types::MAILBOX_READY, REASON_WAITING, "waiting for the user")
                }
                (MailDomainFact::Ready { .. }, MailboxFact::Missing) if write => {
                    steps.push(Step::CreateMailbox { adopt: false });
                    Verdict::unknown(
                        types::MAILBOX_READY,
                        reasons::RECONCILING,
                        "creating the mailbox",
                    )
                }
                (MailDomainFact::Ready { .. }, MailboxFact::Unmarked) if adopt && write => {
                    steps.push(Step::CreateMailbox { adopt: true });
                    Verdict::unknown(
                        types::MAILBOX_READY,
                        reasons::RECONCILING,
                        "adopting the mailbox",
                    )
                }
                (MailDomainFact::Ready { .. }, MailboxFact::Retained { .. }) if write => {
                    steps.push(Step::TakeOverMailbox);
                    Verdict::unknown(
                        types::MAILBOX_READY,
                        reasons::RECONCILING,
                        "restoring the retained mailbox",
                    )
                }
                (MailDomainFact::Ready { .. }, MailboxFact::Ours { drifted, .. }) => {
                    if *drifted && write {
                        steps.push(Step::UpdateMailbox);
                    }
                    if !f.unverified_aliases.is_empty() {
                        Verdict::failed(
                            types::MAILBOX_READY,
                            reasons::DOMAIN_NOT_VERIFIED,
                            format!(
                                "aliases on unverified domains are left out: {}",
                                f.unverified_aliases.join(", ")
                            ),
                        )
                    } else if *drifted && !write {
                        Verdict::failed(
                            types::MAILBOX_READY,
                            reasons::PAUSED,
                            "paused: changes are pending",
                        )
                    } else {
                        Verdict::ok(types::MAILBOX_READY, "the mailbox exists")
                    }
                }
                (MailDomainFact::Ready { .. }, MailboxFact::Unmarked) => Verdict::failed(
                    types::MAILBOX_READY,
                    reasons::ADOPTION_REQUIRED,
                    "a mailbox with this address exists without a Dezky marker; annotate dezky.io/adopt: \"true\" (the Tenant must allow adoption)",
                ),
                (MailDomainFact::Ready { .. }, MailboxFact::Foreign) => Verdict::failed(
                    types::MAILBOX_READY,
                    reasons::NAME_TAKEN,
                    "the address belongs to another owner on the mail server",
                ),
                (MailDomainFact::Ready { .. }, _) if f.paused => Verdict::failed(
                    types::MAILBOX_READY,
                    reasons::PAUSED,
                    "paused: the mailbox is not created",
                ),
                (MailDomainFact::Ready { .. }, MailboxFact::NotObserved) => Verdict::unknown(
                    types::MAILBOX_READY,
                    reasons::RECONCILING,
                    "the mailbox was not observed",
                ),
                _ => Verdict::unknown(
                    types::MAILBOX_READY,
                    REASON_WAITING,
                    "waiting for the domain on the mail server (MailDomain MailServerReady)",
                ),
            }
        };
        verdicts.push(verdict);
        verdicts.push(if !f.files_wanted {
            Verdict::ok(types::FILES_READY, "no file access requested")
        } else if !user_ok {
            Verdict::unknown(types::FILES_READY, REASON_WAITING, "waiting for the user")
        } else {
            let pending = match &f.scope {
                Scope::Tenant { file_groups, .. } => {
                    !file_groups.iter().any(|(r, _)| *r == f.file_role)
                }
                _ => false,
            };
            if pending {
                Verdict::unknown(
                    types::FILES_READY,
                    REASON_WAITING,
                    "waiting for the tenant's file-role groups",
                )
            } else {
                Verdict::ok(
                    types::FILES_READY,
                    "the file role is granted through its group",
                )
            }
        });
    }
    // after the mailbox steps: a new mailbox gets the same password, a restored one the new one
    if password_due {
        steps.push(Step::IssuePassword);
    }
    if user_ok && f.sessions_revocation_due && write {
        steps.push(Step::EndSessions);
    }
    // suspension: a user that becomes inactive also loses its sessions
    if let UserFact::Ours(view) = &f.user
        && suspended
        && view.is_active
        && write
        && !steps.contains(&Step::EndSessions)
    {
        steps.push(Step::EndSessions);
    }
    Plan {
        steps,
        verdicts,
        ready_override: None,
        required,
    }
}

/// Reason: the member's mailbox exists but is turned off (`spec.mailbox.enabled: false`).
pub const REASON_MAILBOX_DISABLED: &str = "MailboxDisabled";

/// The mailbox part when the spec turns the mailbox off: one of ours that exists is disabled
/// (login and delivery refused, mail and password kept, so turning it on restores it as it
/// was); anything else is left alone.
fn plan_mailbox_off(f: &Facts, write: bool, steps: &mut Vec<Step>) -> Verdict {
    match &f.mailbox {
        MailboxFact::Ours { drifted: true, .. } if write => {
            steps.push(Step::UpdateMailbox);
            Verdict::unknown(
                types::MAILBOX_READY,
                reasons::RECONCILING,
                "disabling the mailbox",
            )
        }
        MailboxFact::Ours { drifted: true, .. } => Verdict::failed(
            types::MAILBOX_READY,
            reasons::PAUSED,
            "paused: changes are pending",
        ),
        MailboxFact::Ours { .. } => Verdict {
            reason: REASON_MAILBOX_DISABLED.into(),
            ..Verdict::ok(
                types::MAILBOX_READY,
                "the mailbox is turned off (spec.mailbox.enabled: false): login and delivery are refused, its mail is kept; set it to true to restore it",
            )
        },
        _ => Verdict::ok(types::MAILBOX_READY, "no mailbox requested"),
    }
}

/// The attributes the operator manages on a member's user (besides the marker).
pub fn user_attributes(
    scope_name: &str,
    admin: bool,
    purge_after: Option<&str>,
) -> Map<String, Value> {
    let mut attributes = Map::new();
    attributes.insert(ATTR_TENANT.into(), json!(scope_name));
    attributes.insert(
        ATTR_ROLE.into(),
        json!(if admin { "admin" } else { "member" }),
    );
    attributes.insert(
        ATTR_PURGE_AFTER.into(),
        purge_after.map_or(Value::Null, |t| json!(t)),
    );
    attributes.insert(ATTR_RETAINED_MAILBOX.into(), Value::Null);
    attributes
}

#[cfg(test)]
mod tests;
