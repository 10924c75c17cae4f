"""The GitOps wiring (gitops/) and kind-config.yaml are well-formed and point the right way."""

from __future__ import annotations

from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]


def load_all(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def test_argocd_application_syncs_the_top_level_of_examples():
    (app,) = load_all(REPO / "gitops" / "argocd" / "application.yaml")
    assert (app["apiVersion"], app["kind"]) == ("argoproj.io/v1alpha1", "Application")
    source = app["spec"]["source"]
    assert source["path"] == "examples"
    assert (REPO / source["path"]).is_dir()
    # examples/invalid/ holds objects the API server must refuse: never synced
    assert source["directory"]["recurse"] is False
    assert app["spec"]["destination"]["server"] == "https://kubernetes.default.svc"
    options = app["spec"]["syncPolicy"]["syncOptions"]
    assert "ServerSideApply=true" in options
    assert app["spec"]["syncPolicy"]["retry"]["limit"] > 0


def test_flux_sync_applies_examples_without_the_invalid_ones():
    docs = {d["kind"]: d for d in load_all(REPO / "gitops" / "flux" / "sync.yaml")}
    source, kustomization = docs["GitRepository"], docs["Kustomization"]
    assert source["apiVersion"] == "source.toolkit.fluxcd.io/v1"
    assert kustomization["apiVersion"] == "kustomize.toolkit.fluxcd.io/v1"
    ignore = source["spec"]["ignore"].split()
    assert ignore == ["/*", "!/examples/", "/examples/invalid/"]
    spec = kustomization["spec"]
    assert spec["sourceRef"] == {"kind": "GitRepository", "name": source["metadata"]["name"]}
    assert spec["path"] == "./examples"
    assert spec["wait"] is True and spec["prune"] is True
    assert spec["timeout"]


def test_kind_config_has_a_control_plane_and_two_workers():
    config = yaml.safe_load((REPO / "kind-config.yaml").read_text())
    assert (config["apiVersion"], config["kind"]) == ("kind.x-k8s.io/v1alpha4", "Cluster")
    roles = [n["role"] for n in config["nodes"]]
    assert roles.count("control-plane") == 1
    assert roles.count("worker") >= 2, "two workers, so the two replicas can spread"
    ingress = [n for n in config["nodes"] if n.get("labels", {}).get("ingress-ready") == "true"]
    assert len(ingress) == 1
    ports = {m["containerPort"]: m for m in ingress[0]["extraPortMappings"]}
    assert set(ports) == {80, 443}
    assert all(m["listenAddress"] == "127.0.0.1" for m in ports.values())


def test_removing_the_gitops_object_never_cascades_into_customers_data():
    (app,) = load_all(REPO / "gitops" / "argocd" / "application.yaml")
    assert "resources-finalizer.argocd.argoproj.io" not in app["metadata"].get("finalizers", [])
    docs = {d["kind"]: d for d in load_all(REPO / "gitops" / "flux" / "sync.yaml")}
    assert docs["Kustomization"]["spec"]["deletionPolicy"] == "Orphan"
