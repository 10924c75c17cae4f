"""The chart's RBAC is least privilege, exactly as the deployment contract lists it."""

from __future__ import annotations

import re

import helmrun
from chartobjects import API, KINDS, OPERATOR, rules

NONE: tuple[str, ...] = ()


def test_operator_cluster_role_is_exactly_the_contract(defaults):
    release = defaults
    expected = {}
    for kind in KINDS:
        expected[("dezky.io", kind, NONE)] = {"get", "list", "watch", "patch"}
        expected[("dezky.io", f"{kind}/status", NONE)] = {"get", "patch"}
    for kind in ("members", "ssoapps"):
        expected[("dezky.io", f"{kind}/finalizers", NONE)] = {"update"}
    expected[("", "namespaces", NONE)] = {"get", "list", "watch", "create", "patch"}
    expected[("", "secrets", NONE)] = {"get", "list", "watch", "create", "patch", "delete"}
    expected[("", "events", NONE)] = {"create", "patch"}
    expected[("events.k8s.io", "events", NONE)] = {"create", "patch"}
    expected[("apiextensions.k8s.io", "customresourcedefinitions", NONE)] = {"get", "list", "watch"}
    assert rules(release, "ClusterRole", OPERATOR) == expected


def test_operator_never_deletes_namespaces_or_dezky_objects(defaults):
    flat = rules(defaults, "ClusterRole", OPERATOR)
    assert "delete" not in flat[("", "namespaces", NONE)]
    for kind in KINDS:
        assert not {"create", "delete", "update"} & flat[("dezky.io", kind, NONE)]


def test_leader_election_is_limited_to_its_lease_in_the_release_namespace(install):
    release = install({"operator": {"leaderElection": {"leaseName": "dezky-operator-blue"}}})
    role = release.one("Role", "dezky-operator-leader-election")
    assert role["metadata"]["namespace"] == helmrun.NAMESPACE
    assert rules(release, "Role", "dezky-operator-leader-election") == {
        ("coordination.k8s.io", "leases", NONE): {"create"},
        ("coordination.k8s.io", "leases", ("dezky-operator-blue",)): {"get", "update", "patch"},
    }
    binding = release.one("RoleBinding", "dezky-operator-leader-election")
    assert binding["roleRef"]["name"] == "dezky-operator-leader-election"
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": OPERATOR, "namespace": helmrun.NAMESPACE}
    ]


def test_api_server_cluster_role_is_exactly_the_contract(defaults):
    release = defaults
    expected = {}
    for kind in KINDS:
        expected[("dezky.io", kind, NONE)] = {"get", "list", "watch", "create", "patch"}
    for kind in ("partners", "maildomains", "members", "ssoapps"):
        expected[("dezky.io", kind, NONE)].add("delete")
    for group in ("", "events.k8s.io"):
        expected[(group, "events", NONE)] = {"create", "patch", "list"}
    expected[("", "secrets", NONE)] = {"get", "patch"}
    expected[("", "namespaces", NONE)] = {"get", "list", "watch"}
    expected[("", "configmaps", NONE)] = {"create", "get", "list", "update", "delete"}
    assert rules(release, "ClusterRole", API) == expected


def test_api_server_reads_no_secret_when_one_time_credentials_are_off(install):
    release = install({"api": {"showOneTimeCredentials": False}})
    flat = rules(release, "ClusterRole", API)
    assert not [key for key in flat if key[1] == "secrets"]


def test_api_server_cannot_enumerate_secrets_or_touch_status(defaults):
    flat = rules(defaults, "ClusterRole", API)
    assert flat[("", "secrets", NONE)] == {"get", "patch"}
    assert not [key for key in flat if key[1].endswith("/status")]
    assert ("dezky.io", "tenants", NONE) in flat
    assert "delete" not in flat[("dezky.io", "tenants", NONE)]


def test_bindings_bind_each_role_to_its_own_service_account(defaults):
    release = defaults
    for name in (OPERATOR, API):
        binding = release.one("ClusterRoleBinding", name)
        assert binding["roleRef"] == {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": name,
        }
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": name, "namespace": helmrun.NAMESPACE}
        ]


def test_no_rule_uses_a_wildcard(defaults):
    release = defaults
    for kind in ("ClusterRole", "Role"):
        for role in release.of_kind(kind):
            for rule in role["rules"]:
                for field in ("apiGroups", "resources", "verbs"):
                    assert "*" not in rule[field], (role["metadata"]["name"], rule)


def test_every_rule_in_the_templates_carries_a_comment():
    for template in ("operator-rbac.yaml", "api-rbac.yaml"):
        lines = (helmrun.CHART / "templates" / template).read_text().splitlines()
        for number, line in enumerate(lines):
            if re.match(r"\s*- apiGroups:", line):
                above = lines[number - 1].strip()
                assert above.startswith("#"), f"{template}:{number + 1}: rule without a comment"
