"""Helpers that read installed chart objects: pod specs, containers, RBAC rules as plain data."""

from __future__ import annotations

import yaml

from helmrun import Release

OPERATOR = "dezky-operator"
API = "dezky-api"
KINDS = ["partners", "tenants", "maildomains", "members", "ssoapps"]


def pod_spec(release: Release, deployment: str) -> dict:
    return release.one("Deployment", deployment)["spec"]["template"]["spec"]


def container(release: Release, deployment: str) -> dict:
    containers = pod_spec(release, deployment)["containers"]
    assert len(containers) == 1, f"{deployment} has {len(containers)} containers"
    return containers[0]


def config_file(release: Release) -> dict:
    return yaml.safe_load(release.one("ConfigMap", "dezky-config")["data"]["config.yaml"])


def rules(
    release: Release, kind: str, name: str
) -> dict[tuple[str, str, tuple[str, ...]], set[str]]:
    """RBAC rules flattened to {(apiGroup, resource, resourceNames): verbs}."""
    flat: dict[tuple[str, str, tuple[str, ...]], set[str]] = {}
    for rule in release.one(kind, name)["rules"]:
        names = tuple(sorted(rule.get("resourceNames", [])))
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                flat.setdefault((group, resource, names), set()).update(rule["verbs"])
    return flat
