//! Unit tests of the ssoapp plan: plain data in, steps and conditions out.

use super::*;
use dezky_crds::ConditionStatus;

fn facts() -> Facts {
    Facts {
        tenant: Some("acme".into()),
        allow_adoption: false,
        adopt_annotation: false,
        paused: false,
        group_pk: Some("g1".into()),
        provider: Found::Missing,
        application: Found::Missing,
        provider_attached: false,
        group_bound: false,
        other_bindings: Vec::new(),
        secret_current: false,
    }
}

fn converged() -> Facts {
    Facts {
        provider: Found::Ours { drifted: false },
        application: Found::Ours { drifted: false },
        provider_attached: true,
        group_bound: true,
        secret_current: true,
        ..facts()
    }
}

#[test]
fn a_new_app_is_created_bound_before_attached_then_its_secret_written() {
    assert_eq!(
        plan(&facts()).steps,
        [
            Step::CreateProvider { adopt: false },
            Step::CreateApplication { adopt: false },
            Step::BindGroup,
            Step::AttachProvider,
            Step::WriteSecret,
        ]
    );
}

#[test]
fn a_converged_app_needs_nothing() {
    let p = plan(&converged());
    assert!(p.steps.is_empty());
    assert_eq!(p.identity.status, ConditionStatus::True);
}

#[test]
fn foreign_bindings_are_removed_and_drift_is_corrected() {
    let mut f = converged();
    f.other_bindings = vec!["b2".into()];
    f.provider = Found::Ours { drifted: true };
    assert_eq!(
        plan(&f).steps,
        [
            Step::UpdateProvider,
            Step::RemoveBinding { pk: "b2".into() },
            Step::WriteSecret
        ]
    );
}

#[test]
fn unmarked_and_foreign_objects_are_refused() {
    let mut f = facts();
    f.application = Found::Unmarked;
    let p = plan(&f);
    assert!(p.steps.is_empty());
    assert_eq!(p.identity.reason, reasons::ADOPTION_REQUIRED);
    f.adopt_annotation = true;
    f.allow_adoption = true;
    assert!(
        plan(&f)
            .steps
            .contains(&Step::CreateApplication { adopt: true })
    );
    f.provider = Found::Foreign;
    let p = plan(&f);
    assert!(p.steps.is_empty());
    assert_eq!(p.identity.reason, reasons::NAME_TAKEN);
}

#[test]
fn missing_tenant_group_or_paused_changes_nothing() {
    let mut f = facts();
    f.tenant = None;
    assert_eq!(
        plan(&f).ready_override.expect("override").reason,
        reasons::TENANT_NOT_FOUND
    );
    let mut f = facts();
    f.group_pk = None;
    assert!(plan(&f).steps.is_empty());
    let mut f = facts();
    f.paused = true;
    let p = plan(&f);
    assert!(p.steps.is_empty());
    assert_eq!(p.identity.reason, reasons::PAUSED);
}

#[test]
fn slugs_are_deterministic_and_bounded() {
    assert_eq!(application_slug("acme", "wiki"), "acme-wiki");
    let long = application_slug(
        "a-very-long-tenant-name-for-testing",
        "an-even-longer-application-name",
    );
    assert!(long.len() <= MAX_SLUG);
    assert_eq!(
        long,
        application_slug(
            "a-very-long-tenant-name-for-testing",
            "an-even-longer-application-name"
        )
    );
    assert_ne!(
        long,
        application_slug(
            "a-very-long-tenant-name-for-testing",
            "an-even-longer-application-nam2"
        )
    );
    let iss = issuer("http://127.0.0.1:9000/", "acme-wiki");
    assert_eq!(iss, "http://127.0.0.1:9000/application/o/acme-wiki/");
    assert_eq!(
        discovery_url(&iss),
        "http://127.0.0.1:9000/application/o/acme-wiki/.well-known/openid-configuration"
    );
    assert_eq!(
        scope_names(&[Scope::Profile, Scope::Openid, Scope::Openid]),
        ["openid", "profile"]
    );
    // the groups claim comes from Authentik's managed profile mapping
    assert_eq!(
        scope_names(&[Scope::Openid, Scope::Groups]),
        ["openid", "profile"]
    );
}
