"""CRDs ship in the chart's crds/ folder: Helm installs them first and never deletes them."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

import helmrun

CRD_KINDS = {"Partner", "Tenant", "MailDomain", "Member", "SsoApp"}


def crd_documents(chart: Path) -> list[dict]:
    docs = []
    for path in sorted((chart / "crds").glob("*.y*ml")):
        docs.extend(d for d in yaml.safe_load_all(path.read_text()) if d)
    return docs


def test_chart_ships_the_five_dezky_crds():
    docs = crd_documents(helmrun.CHART)
    assert {d["spec"]["names"]["kind"] for d in docs} == CRD_KINDS, (
        "charts/dezky/crds/ must hold the CRDs written by `dezky crds`"
    )
    for doc in docs:
        assert doc["kind"] == "CustomResourceDefinition"
        assert doc["spec"]["group"] == "dezky.io"


def chart_with_crds(tmp_path: Path) -> Path:
    """The chart as it is; if crds/ is still empty, a copy with one stand-in CRD, so the
    install/uninstall behaviour below is checked either way."""
    if crd_documents(helmrun.CHART):
        return helmrun.CHART
    chart = tmp_path / "dezky"
    shutil.copytree(helmrun.CHART, chart)
    (chart / "crds").mkdir(exist_ok=True)
    (chart / "crds" / "tenants.yaml").write_text(
        yaml.safe_dump(
            {
                "apiVersion": "apiextensions.k8s.io/v1",
                "kind": "CustomResourceDefinition",
                "metadata": {"name": "tenants.dezky.io"},
                "spec": {
                    "group": "dezky.io",
                    "scope": "Cluster",
                    "names": {
                        "kind": "Tenant",
                        "plural": "tenants",
                        "singular": "tenant",
                        "listKind": "TenantList",
                    },
                    "versions": [
                        {
                            "name": "v1alpha1",
                            "served": True,
                            "storage": True,
                            "schema": {"openAPIV3Schema": {"type": "object"}},
                        }
                    ],
                },
            }
        )
    )
    return chart


def test_crds_are_installed_and_kept_on_uninstall(install, tmp_path: Path):
    chart = chart_with_crds(tmp_path)
    names = {d["metadata"]["name"] for d in crd_documents(chart)}
    release = install(chart=chart, uninstall=True)
    # CRDs are not part of the release manifest: Helm has nothing to delete them with
    assert "CustomResourceDefinition" not in {d["kind"] for d in release.manifest}
    remaining = {(kind, name) for (_, kind, _, name) in release.api.objects}
    assert {name for kind, name in remaining if kind == "CustomResourceDefinition"} == names
    # everything the templates created is gone again
    assert {kind for kind, _ in remaining} == {"CustomResourceDefinition"}
    deletes = [path for method, path in release.api.requests if method == "DELETE"]
    assert deletes, "uninstall deleted nothing: the test would prove nothing"
    assert not [path for path in deletes if "customresourcedefinitions" in path]


def crd(kind: str) -> dict:
    return next(d for d in crd_documents(helmrun.CHART) if d["spec"]["names"]["kind"] == kind)


def test_plan_catalogue_offers_exactly_the_plans_a_tenant_may_choose():
    spec = crd("Tenant")["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    plans = set(yaml.safe_load((helmrun.CHART / "values.yaml").read_text())["plans"])
    assert plans == set(spec["properties"]["plan"]["enum"])
    schema = (helmrun.CHART / "values.schema.json").read_text()
    for plan in plans:
        assert f'"{plan}"' in schema


def test_crds_serve_what_notes_and_the_health_checks_rely_on():
    for kind in CRD_KINDS:
        doc = crd(kind)
        # `kubectl get dezky -A` in NOTES.txt
        assert "dezky" in doc["spec"]["names"].get("categories", []), kind
        # status, with observedGeneration and conditions, is what Argo CD and Flux read
        version = next(v for v in doc["spec"]["versions"] if v.get("storage"))
        assert version["name"] == "v1alpha1"
        assert "status" in version.get("subresources", {}), kind
        status = version["schema"]["openAPIV3Schema"]["properties"]["status"]["properties"]
        assert {"observedGeneration", "conditions"} <= set(status), kind
