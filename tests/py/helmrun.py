"""Helm through its real library (helm-sdkpy): install the chart into a loopback KubeApi, lint it.

The Helm calls run in a worker process (helm_worker.py): Helm's Go runtime only sees the
environment its process started with, and the tests need HELM_DRIVER=memory (releases kept in
memory, not as Secrets) and Helm's cache and config homes in a throwaway directory.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

from kubeapi import KubeApi

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "dezky"
NAMESPACE = "dezky-system"
RELEASE = "dezky"
WORKER = Path(__file__).resolve().parent / "helm_worker.py"


class HelmRefused(Exception):
    """Helm refused an action (schema validation, template error, API error)."""


@dataclass
class Release:
    """A chart installed by real Helm into a KubeApi; what the API server received."""

    api: KubeApi
    manifest: list[dict]
    notes: str

    def of_kind(self, kind: str) -> list[dict]:
        return self.api.of_kind(kind)

    def one(self, kind: str, name: str) -> dict:
        return self.api.one(kind, name)

    def kinds(self) -> set[str]:
        return {kind for (_, kind, _, _) in self.api.objects}


def run_helm(steps: list[dict], api: KubeApi | None = None) -> list[dict]:
    """Run Helm steps in one worker process; raise HelmRefused on the first that fails."""
    with tempfile.TemporaryDirectory(prefix="dezky-helm-") as home:
        env = dict(os.environ, HELM_DRIVER="memory")
        for var in ("HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"):
            env[var] = os.path.join(home, var.lower())
        env.pop("KUBECONFIG", None)
        request = {
            "namespace": NAMESPACE,
            "release": RELEASE,
            "kubeconfig": api.kubeconfig(NAMESPACE) if api else None,
            "steps": steps,
        }
        done = subprocess.run(
            [sys.executable, str(WORKER)],
            input=json.dumps(request),
            capture_output=True,
            text=True,
            env=env,
            cwd=home,
            timeout=120,
            check=False,
        )
    if done.returncode != 0:
        raise RuntimeError(f"helm worker failed ({done.returncode}): {done.stderr[-4000:]}")
    results = json.loads(done.stdout)
    for result in results:
        if not result["ok"]:
            raise HelmRefused(result["error"])
    return [r["result"] for r in results]


def lint(chart: Path = CHART) -> dict:
    """`helm lint` of a chart (needs no cluster)."""
    return run_helm([{"action": "lint", "chart": str(chart)}])[0]


def install(
    api: KubeApi, values: dict | None = None, chart: Path = CHART, uninstall: bool = False
) -> Release:
    """`helm install` of the chart with values (merged over values.yaml) into api; then, with
    uninstall=True, `helm uninstall` of the same release. Raises HelmRefused when Helm refuses."""
    steps = [{"action": "install", "chart": str(chart), "values": values}]
    if uninstall:
        steps.append({"action": "uninstall"})
    result = run_helm(steps, api)[0]
    manifest = [d for d in yaml.safe_load_all(result.get("manifest", "")) if d]
    return Release(api, manifest, result.get("info", {}).get("notes", ""))
