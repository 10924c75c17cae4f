//! Unit tests of the member plan: plain data in, steps and conditions out.

use super::*;
use dezky_crds::ConditionStatus;

fn tenant() -> Scope {
    Scope::Tenant {
        name: "acme".into(),
        allow_adoption: false,
        suspended: false,
        group_pk: Some("g-tenant".into()),
        file_groups: vec![
            (FileRole::Viewer, "g-viewer".into()),
            (FileRole::Editor, "g-editor".into()),
            (FileRole::Manager, "g-manager".into()),
        ],
    }
}

fn facts() -> Facts {
    Facts {
        email: "jdoe@acme.test".into(),
        scope: tenant(),
        paused: false,
        adopt_annotation: false,
        suspended: false,
        holds_seat: true,
        mail_domain: MailDomainFact::Ready {
            domain_id: "d1".into(),
        },
        unverified_aliases: Vec::new(),
        mailbox_wanted: true,
        files_wanted: true,
        file_role: FileRole::Editor,
        user: UserFact::Missing,
        mailbox: MailboxFact::Missing,
        password_current: false,
        sessions_revocation_due: false,
    }
}

fn converged() -> Facts {
    Facts {
        user: UserFact::Ours(UserView {
            pk: 7,
            is_active: true,
            groups: ["g-tenant".to_string(), "g-editor".to_string()].into(),
            drifted: false,
        }),
        mailbox: MailboxFact::Ours {
            id: "a1".into(),
            drifted: false,
        },
        password_current: true,
        ..facts()
    }
}

fn verdict<'a>(plan: &'a Plan, type_: &str) -> &'a Verdict {
    plan.verdicts
        .iter()
        .find(|v| v.type_ == type_)
        .expect("verdict present")
}

#[test]
fn a_new_member_gets_user_groups_mailbox_and_one_password() {
    let p = plan(&facts());
    assert_eq!(
        p.steps,
        [
            Step::CreateUser { adopt: false },
            Step::AddToGroup {
                group_pk: "g-tenant".into()
            },
            Step::AddToGroup {
                group_pk: "g-editor".into()
            },
            Step::CreateMailbox { adopt: false },
            Step::IssuePassword,
        ]
    );
    assert_eq!(
        p.required,
        [
            types::IDENTITY_READY,
            types::MAILBOX_READY,
            types::FILES_READY
        ]
    );
}

#[test]
fn a_converged_member_needs_nothing() {
    let p = plan(&converged());
    assert!(p.steps.is_empty(), "{:?}", p.steps);
    assert!(p.ready_override.is_none());
    assert!(
        p.verdicts.iter().all(|v| v.status == ConditionStatus::True),
        "{:?}",
        p.verdicts
    );
}

#[test]
fn nothing_is_created_before_the_domain_verifies_or_beyond_the_seats() {
    let mut f = facts();
    f.mail_domain = MailDomainFact::NotVerified;
    let p = plan(&f);
    assert!(p.steps.is_empty());
    assert_eq!(
        p.ready_override.expect("override").reason,
        reasons::DOMAIN_NOT_VERIFIED
    );
    let mut f = facts();
    f.holds_seat = false;
    let p = plan(&f);
    assert!(p.steps.is_empty());
    assert_eq!(
        p.ready_override.expect("override").reason,
        reasons::SEAT_LIMIT_EXCEEDED
    );
    let mut f = facts();
    f.scope = Scope::Missing;
    assert_eq!(
        plan(&f).ready_override.expect("override").reason,
        reasons::TENANT_NOT_FOUND
    );
}

#[test]
fn the_mailbox_waits_for_the_mail_server_domain_only() {
    let mut f = facts();
    f.mail_domain = MailDomainFact::NoServerDomain;
    let p = plan(&f);
    assert!(p.steps.contains(&Step::CreateUser { adopt: false }));
    assert!(
        !p.steps
            .iter()
            .any(|s| matches!(s, Step::CreateMailbox { .. }))
    );
    assert_eq!(verdict(&p, types::MAILBOX_READY).reason, REASON_WAITING);
}

#[test]
fn a_role_change_moves_the_user_between_file_groups() {
    let mut f = converged();
    f.file_role = FileRole::Viewer;
    assert_eq!(
        plan(&f).steps,
        [
            Step::AddToGroup {
                group_pk: "g-viewer".into()
            },
            Step::RemoveFromGroup {
                group_pk: "g-editor".into()
            },
        ]
    );
    f.files_wanted = false;
    assert_eq!(
        plan(&f).steps,
        [Step::RemoveFromGroup {
            group_pk: "g-editor".into()
        }]
    );
}

#[test]
fn rotation_and_revocation_are_acted_on_once() {
    let mut f = converged();
    f.password_current = false;
    assert_eq!(plan(&f).steps, [Step::IssuePassword]);
    let mut f = converged();
    f.sessions_revocation_due = true;
    assert_eq!(plan(&f).steps, [Step::EndSessions]);
}

#[test]
fn suspension_updates_the_user_and_ends_sessions() {
    let mut f = converged();
    f.suspended = true;
    if let UserFact::Ours(view) = &mut f.user {
        view.drifted = true;
    }
    if let MailboxFact::Ours { drifted, .. } = &mut f.mailbox {
        *drifted = true;
    }
    assert_eq!(
        plan(&f).steps,
        [Step::UpdateUser, Step::UpdateMailbox, Step::EndSessions]
    );
    // the tenant's suspension counts too
    let mut f = converged();
    if let Scope::Tenant { suspended, .. } = &mut f.scope {
        *suspended = true;
    }
    assert!(f.effective_suspended());
    if let UserFact::Ours(view) = &mut f.user {
        view.drifted = true;
    }
    assert_eq!(plan(&f).steps, [Step::UpdateUser, Step::EndSessions]);
}

#[test]
fn adoption_needs_the_annotation_and_the_tenant() {
    let mut f = facts();
    f.user = UserFact::Unmarked;
    let p = plan(&f);
    assert!(p.steps.is_empty() || !p.steps.contains(&Step::CreateUser { adopt: true }));
    assert_eq!(
        verdict(&p, types::IDENTITY_READY).reason,
        reasons::ADOPTION_REQUIRED
    );
    f.adopt_annotation = true;
    assert_eq!(
        verdict(&plan(&f), types::IDENTITY_READY).reason,
        reasons::ADOPTION_REQUIRED
    );
    if let Scope::Tenant { allow_adoption, .. } = &mut f.scope {
        *allow_adoption = true;
    }
    assert_eq!(plan(&f).steps[0], Step::CreateUser { adopt: true });
    let mut f = facts();
    f.user = UserFact::Foreign;
    f.adopt_annotation = true;
    let p = plan(&f);
    assert!(
        p.steps
            .iter()
            .all(|s| !matches!(s, Step::CreateUser { .. }))
    );
    assert_eq!(
        verdict(&p, types::IDENTITY_READY).reason,
        reasons::NAME_TAKEN
    );
}

#[test]
fn a_retired_member_of_the_tenant_is_taken_over() {
    let mut f = facts();
    f.user = UserFact::Retained(UserView {
        pk: 3,
        is_active: false,
        groups: ["g-tenant".to_string(), "g-editor".to_string()].into(),
        drifted: true,
    });
    f.mailbox = MailboxFact::Retained { id: "a9".into() };
    f.password_current = true;
    assert_eq!(plan(&f).steps, [Step::TakeOverUser, Step::TakeOverMailbox]);
    f.password_current = false;
    assert_eq!(
        plan(&f).steps,
        [
            Step::TakeOverUser,
            Step::TakeOverMailbox,
            Step::IssuePassword
        ],
        "the restored mailbox gets the new password"
    );
}

#[test]
fn paused_observes_only() {
    let mut f = facts();
    f.paused = true;
    let p = plan(&f);
    assert!(p.steps.is_empty());
    assert_eq!(verdict(&p, types::IDENTITY_READY).reason, reasons::PAUSED);
    assert_eq!(verdict(&p, types::MAILBOX_READY).reason, reasons::PAUSED);
    // drift while paused is reported, not corrected
    let mut f = converged();
    f.paused = true;
    f.suspended = true;
    if let UserFact::Ours(view) = &mut f.user {
        view.drifted = true;
    }
    let p = plan(&f);
    assert!(p.steps.is_empty());
    assert_eq!(verdict(&p, types::IDENTITY_READY).reason, reasons::PAUSED);
    assert_eq!(
        verdict(&p, types::MAILBOX_READY).status,
        ConditionStatus::True
    );
    // a refusal stays a refusal
    let mut f = facts();
    f.paused = true;
    f.user = UserFact::Foreign;
    assert_eq!(
        verdict(&plan(&f), types::IDENTITY_READY).reason,
        reasons::NAME_TAKEN
    );
}

#[test]
fn partner_staff_get_sso_only_on_the_partner_domain() {
    let mut f = facts();
    f.email = "desk@northwind.test".into();
    f.scope = Scope::Partner {
        name: "northwind".into(),
        domain: "northwind.test".into(),
        allow_adoption: false,
        suspended: false,
        group_pk: Some("g-partner".into()),
    };
    let p = plan(&f);
    assert_eq!(
        p.steps,
        [
            Step::CreateUser { adopt: false },
            Step::AddToGroup {
                group_pk: "g-partner".into()
            },
            Step::IssuePassword,
        ]
    );
    assert_eq!(p.required, [types::IDENTITY_READY]);
    f.email = "desk@other.test".into();
    assert_eq!(
        plan(&f).ready_override.expect("override").reason,
        reasons::DOMAIN_NOT_VERIFIED
    );
}

#[test]
fn helpers_parse_quantities_seats_and_markers() {
    assert_eq!(quantity_bytes("5Gi"), Some(5 * 1024 * 1024 * 1024));
    assert_eq!(quantity_bytes("500M"), Some(500_000_000));
    assert_eq!(quantity_bytes("1e9"), Some(1_000_000_000));
    assert_eq!(quantity_bytes("1.5Ki"), Some(1536));
    assert_eq!(quantity_bytes("5Xi"), None);
    assert_eq!(
        go_duration("168h"),
        Some(std::time::Duration::from_secs(168 * 3600))
    );
    assert_eq!(
        go_duration("1h30m"),
        Some(std::time::Duration::from_secs(5400))
    );
    assert_eq!(go_duration("2s"), Some(std::time::Duration::from_secs(2)));
    assert_eq!(go_duration("5d"), None);
    let members = vec![
        ("b".to_string(), "2026-01-01T00:00:01Z".to_string()),
        ("a".to_string(), "2026-01-01T00:00:01Z".to_string()),
        ("c".to_string(), "2026-01-01T00:00:00Z".to_string()),
    ];
    assert!(holds_seat(&members, "c", 2));
    assert!(holds_seat(&members, "a", 2));
    assert!(!holds_seat(&members, "b", 2), "the newest extra one waits");
    assert!(!holds_seat(&members, "zz", 5), "unknown names hold no seat");
    assert_eq!(
        member_of_namespace("dezky:prod:Member:tenant-acme/jdoe", "prod", "tenant-acme"),
        Some("jdoe")
    );
    assert_eq!(
        member_of_namespace("dezky:prod:Member:tenant-evil/jdoe", "prod", "tenant-acme"),
        None
    );
    assert_eq!(
        member_of_namespace("dezky:stage:Member:tenant-acme/jdoe", "prod", "tenant-acme"),
        None
    );
    assert_eq!(
        split_address("JDoe@Acme.test"),
        Some(("jdoe".into(), "acme.test".into()))
    );
    assert_eq!(
        file_role_group("acme", FileRole::Manager),
        "tenant-acme-files-manager"
    );
}

#[test]
fn a_mailbox_turned_off_is_disabled_not_deleted_and_never_created() {
    // turned off while it exists (the drift is the disabled flag): one update, nothing deleted
    let off = Facts {
        mailbox_wanted: false,
        mailbox: MailboxFact::Ours {
            id: "a1".into(),
            drifted: true,
        },
        ..converged()
    };
    let p = plan(&off);
    assert_eq!(p.steps, [Step::UpdateMailbox]);
    assert_eq!(
        verdict(&p, types::MAILBOX_READY).status,
        ConditionStatus::Unknown
    );
    // once disabled: nothing to do, MailboxReady says it is off
    let disabled = Facts {
        mailbox: MailboxFact::Ours {
            id: "a1".into(),
            drifted: false,
        },
        ..off.clone()
    };
    let p = plan(&disabled);
    assert!(p.steps.is_empty(), "{:?}", p.steps);
    let v = verdict(&p, types::MAILBOX_READY);
    assert_eq!(v.status, ConditionStatus::True);
    assert_eq!(v.reason, REASON_MAILBOX_DISABLED);
    // paused: the change waits
    let p = plan(&Facts {
        paused: true,
        ..off.clone()
    });
    assert!(p.steps.is_empty());
    assert_eq!(verdict(&p, types::MAILBOX_READY).reason, reasons::PAUSED);
    // off and missing: nothing is created
    let p = plan(&Facts {
        mailbox: MailboxFact::Missing,
        ..off.clone()
    });
    assert!(p.steps.is_empty(), "{:?}", p.steps);
    assert_eq!(
        verdict(&p, types::MAILBOX_READY).reason,
        reasons::RECONCILED
    );
    // an unmarked mailbox at the address is left alone
    let p = plan(&Facts {
        mailbox: MailboxFact::Unmarked,
        ..off
    });
    assert!(p.steps.is_empty(), "{:?}", p.steps);
}
