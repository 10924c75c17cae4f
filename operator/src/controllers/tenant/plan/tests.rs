//! Unit tests of the plan (pure, plain data).

use super::*;
use dezky_crds::ConditionStatus;

const GIB: u64 = 1024 * 1024 * 1024;

fn desired(adopt: bool, paused: bool) -> Desired {
    Desired {
        namespace: "tenant-acme".into(),
        group: GroupSpec {
            name: "tenant-acme".into(),
            attributes: Map::new(),
        },
        role_groups: FILE_ROLES
            .iter()
            .map(|r| {
                (
                    *r,
                    GroupSpec {
                        name: format!("tenant-acme-files-{}", role_word(*r)),
                        attributes: Map::new(),
                    },
                )
            })
            .collect(),
        space: SpaceSpec {
            name: "Acme Corp".into(),
            description: None,
            quota_bytes: 2 * GIB,
        },
        adopt,
        paused,
        suspended: false,
    }
}

fn group(name: &str) -> GroupObs {
    GroupObs {
        pk: format!("pk-{name}"),
        num_pk: 1,
        name: name.into(),
        is_superuser: false,
        users: vec![],
        attributes: Map::new(),
    }
}

fn space(quota: u64) -> Space {
    Space {
        id: "space-1".into(),
        drive_type: "project".into(),
        name: "Acme Corp".into(),
        description: None,
        alias: Some("project/dezky:test:Tenant:-/acme".into()),
        quota_bytes: quota,
        used_bytes: Some(0),
        disabled: false,
    }
}

fn files_group(role: SpaceRole) -> FilesGroup {
    FilesGroup {
        id: format!("og-{}", role_word(role)),
        display_name: format!("tenant-acme-files-{}", role_word(role)),
        description: None,
    }
}

fn permission(role: SpaceRole, as_role: SpaceRole) -> SpacePermission {
    SpacePermission {
        id: format!("g:og-{}", role_word(role)),
        role_ids: vec![as_role.role_id().into()],
        grantee: Grantee::Group {
            id: format!("og-{}", role_word(role)),
        },
    }
}

fn converged() -> TenantObserved {
    TenantObserved {
        namespace: NamespaceObs::Ours,
        group: Observed::Ours(group("tenant-acme")),
        role_groups: FILE_ROLES
            .iter()
            .map(|r| {
                (
                    *r,
                    Observed::Ours(group(&format!("tenant-acme-files-{}", role_word(*r)))),
                )
            })
            .collect(),
        space: Found::Ours(space(2 * GIB)),
        files_groups: FILE_ROLES
            .iter()
            .map(|r| (*r, Found::Ours(files_group(*r))))
            .collect(),
        permissions: FILE_ROLES.iter().map(|r| permission(*r, *r)).collect(),
    }
}

fn empty() -> TenantObserved {
    TenantObserved {
        namespace: NamespaceObs::Missing,
        group: Observed::Missing,
        role_groups: vec![],
        space: Found::Missing,
        files_groups: vec![],
        permissions: vec![],
    }
}

#[test]
fn a_converged_tenant_plans_nothing_and_is_ready() {
    let got = plan(&desired(false, false), &converged());
    assert!(got.steps.is_empty(), "{got:?}");
    assert_eq!(got.verdicts.len(), 3);
    assert!(
        got.verdicts
            .iter()
            .all(|v| v.status == ConditionStatus::True)
    );
}

#[test]
fn a_new_tenant_creates_everything_it_can_see() {
    let got = plan(&desired(false, false), &empty());
    let creates = |f: fn(&Step) -> bool| got.steps.iter().filter(|s| f(s)).count();
    assert_eq!(got.steps[0], Step::CreateNamespace);
    assert_eq!(
        creates(|s| matches!(s, Step::CreateGroup { adopt: false, .. })),
        4
    );
    assert_eq!(
        creates(|s| matches!(s, Step::CreateSpace { adopt: false })),
        1
    );
    assert_eq!(
        creates(|s| matches!(s, Step::CreateFilesGroup { adopt: false, .. })),
        3
    );
    // Shares wait for the next round, when the space and groups have ids.
    assert_eq!(creates(|s| matches!(s, Step::Share { .. })), 0);
}

#[test]
fn suspension_disables_the_space_and_resumption_restores_it() {
    let suspended = Desired {
        suspended: true,
        ..desired(false, false)
    };
    let files = |p: &Plan| {
        p.verdicts
            .iter()
            .find(|v| v.type_ == types::FILES_READY)
            .cloned()
            .expect("files verdict")
    };
    let got = plan(&suspended, &converged());
    assert_eq!(got.steps, vec![Step::DisableSpace]);
    let mut disabled = converged();
    disabled.space = Found::Ours(Space {
        disabled: true,
        quota_bytes: GIB,
        ..space(2 * GIB)
    });
    // while suspended a disabled space is left alone (no quota change, no shares), and says so
    disabled.permissions = vec![];
    let got = plan(&suspended, &disabled);
    assert!(got.steps.is_empty(), "{got:?}");
    let verdict = files(&got);
    assert_eq!(
        (verdict.status, verdict.reason.as_str()),
        (ConditionStatus::True, reasons::SUSPENDED)
    );
    assert!(verdict.message.contains("suspended"), "{}", verdict.message);
    // resumed: restored first; quota and shares follow once it is enabled again
    let got = plan(&desired(false, false), &disabled);
    assert_eq!(got.steps.first(), Some(&Step::RestoreSpace));
    assert_eq!(files(&got).reason, reasons::RECONCILED);
    // paused: nothing is disabled, and the condition says what would be done
    let paused = Desired {
        suspended: true,
        ..desired(false, true)
    };
    let got = plan(&paused, &converged());
    assert!(got.steps.is_empty(), "{got:?}");
    assert_eq!(files(&got).reason, reasons::PAUSED);
    assert!(files(&got).message.contains("disable the space"));
}

#[test]
fn quota_and_share_roles_converge() {
    let mut observed = converged();
    observed.space = Found::Ours(space(GIB));
    observed.permissions = vec![
        permission(SpaceRole::Viewer, SpaceRole::Editor),
        permission(SpaceRole::Editor, SpaceRole::Editor),
    ];
    let got = plan(&desired(false, false), &observed);
    assert_eq!(
        got.steps,
        vec![
            Step::UpdateSpace,
            Step::SetRole {
                role: SpaceRole::Viewer,
                permission_id: "g:og-viewer".into()
            },
            Step::Share {
                role: SpaceRole::Manager,
                group_id: "og-manager".into()
            },
        ]
    );
}

#[test]
fn unmarked_and_foreign_objects_are_refused_and_paused_changes_nothing() {
    let mut observed = converged();
    observed.space = Found::Unmarked(space(2 * GIB));
    let refused = plan(&desired(false, false), &observed);
    assert!(refused.steps.is_empty());
    assert_eq!(refused.verdicts[2].reason, reasons::ADOPTION_REQUIRED);
    let adopted = plan(&desired(true, false), &observed);
    assert_eq!(adopted.steps, vec![Step::CreateSpace { adopt: true }]);

    let mut observed = converged();
    observed.files_groups[1] = (
        SpaceRole::Editor,
        Found::Foreign(files_group(SpaceRole::Editor)),
    );
    let taken = plan(&desired(true, false), &observed);
    assert_eq!(taken.verdicts[2].reason, reasons::NAME_TAKEN);
    assert!(taken.steps.is_empty());

    let paused = plan(&desired(false, true), &empty());
    assert!(paused.steps.is_empty(), "{paused:?}");
    assert!(paused.verdicts.iter().all(|v| v.reason == reasons::PAUSED));
}

#[test]
fn names_markers_and_space_names() {
    assert_eq!(tenant_of_namespace("tenant-acme"), Some("acme"));
    assert_eq!(tenant_of_namespace("partner-acme"), None);
    assert_eq!(tenant_of_namespace("tenant-"), None);
    assert_eq!(
        file_role_group_name("acme", SpaceRole::Editor),
        "tenant-acme-files-editor"
    );
    let m = Marker {
        installation: "prod".into(),
        kind: "Tenant".into(),
        namespace: None,
        name: "acme".into(),
        uid: "u".into(),
    };
    assert_eq!(
        file_role_marker(&m, SpaceRole::Viewer).key(),
        "dezky:prod:Tenant:-/acme/files-viewer"
    );
    assert_eq!(space_name("Acme Corp."), "Acme Corp");
    assert_eq!(space_name("a/b: c"), "a b c");
    assert_eq!(space_name("..."), "Workspace");
    let mut d = Dependents::default();
    assert_eq!(d.describe(), None);
    d.members = 2;
    d.ssoapps = 1;
    assert_eq!(d.describe().as_deref(), Some("2 Members, 1 SsoApp"));
}
