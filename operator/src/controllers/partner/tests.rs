//! Unit tests of the plan (pure, plain data).

use super::*;
use dezky_crds::ConditionStatus;
use dezky_crds::PartnerSpec;

fn partner(allow: bool) -> Partner {
    let mut p = Partner::new(
        "northwind",
        PartnerSpec {
            display_name: "Northwind IT".into(),
            domain: "northwind.test".into(),
            margin_percent: 20,
            contact: None,
            suspended: false,
            allow_adoption: allow,
            deletion_policy: DeletionPolicy::Orphan,
        },
    );
    p.metadata.uid = Some("uid-1".into());
    p
}

fn group(attributes: Map<String, Value>) -> GroupObs {
    GroupObs {
        pk: "g1".into(),
        num_pk: 1,
        name: "partner-northwind".into(),
        is_superuser: false,
        users: vec![],
        attributes,
    }
}

use serde_json::Value;

fn observed(namespace: NamespaceObs, group: Observed<GroupObs>) -> PartnerObserved {
    PartnerObserved {
        namespace,
        group,
        tenants: 0,
    }
}

#[test]
fn a_new_partner_creates_namespace_and_group() {
    let got = plan(
        &partner(false),
        &observed(NamespaceObs::Missing, Observed::Missing),
        false,
        false,
    );
    assert_eq!(
        got.steps,
        vec![Step::CreateNamespace, Step::CreateGroup { adopt: false }]
    );
    assert!(
        got.verdicts
            .iter()
            .all(|v| v.status == ConditionStatus::True)
    );
}

#[test]
fn a_converged_partner_plans_nothing() {
    let p = partner(false);
    let spec = group_spec(&p);
    let got = plan(
        &p,
        &observed(NamespaceObs::Ours, Observed::Ours(group(spec.attributes))),
        false,
        false,
    );
    assert!(got.steps.is_empty(), "{got:?}");
    // A changed managed attribute (suspension) is an update.
    let mut p = partner(false);
    p.spec.suspended = true;
    let got = super::plan(
        &p,
        &observed(
            NamespaceObs::Ours,
            Observed::Ours(group(group_spec(&partner(false)).attributes)),
        ),
        false,
        false,
    );
    assert_eq!(got.steps, vec![Step::UpdateGroup]);
}

#[test]
fn adoption_needs_the_annotation_and_allow_adoption() {
    let unmarked = || Observed::Unmarked(group(Map::new()));
    for (allow, wants) in [(false, false), (true, false), (false, true)] {
        let got = plan(
            &partner(allow),
            &observed(NamespaceObs::Unlabelled, unmarked()),
            false,
            wants,
        );
        assert!(got.steps.is_empty(), "allow={allow} wants={wants}");
        assert!(
            got.verdicts
                .iter()
                .all(|v| v.reason == reasons::ADOPTION_REQUIRED)
        );
    }
    let got = plan(
        &partner(true),
        &observed(NamespaceObs::Unlabelled, unmarked()),
        false,
        true,
    );
    assert_eq!(
        got.steps,
        vec![Step::AdoptNamespace, Step::CreateGroup { adopt: true }]
    );
}

#[test]
fn foreign_objects_are_never_taken_and_paused_changes_nothing() {
    let got = plan(
        &partner(true),
        &observed(
            NamespaceObs::Foreign("other".into()),
            Observed::Foreign(group(Map::new())),
        ),
        false,
        true,
    );
    assert!(got.steps.is_empty());
    assert!(got.verdicts.iter().all(|v| v.reason == reasons::NAME_TAKEN));
    let got = plan(
        &partner(false),
        &observed(NamespaceObs::Missing, Observed::Missing),
        true,
        false,
    );
    assert!(got.steps.is_empty());
    assert!(got.verdicts.iter().all(|v| v.reason == reasons::PAUSED));
}
