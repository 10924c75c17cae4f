"""Runs Helm actions through helm-sdkpy in its own process and prints their results as JSON.

Helm's Go runtime reads the environment the process STARTED with (it ignores later changes made
from Python), so the tests start this worker with HELM_DRIVER=memory and Helm's homes set, and
send it the steps on stdin: {"kubeconfig", "namespace", "release", "steps": [{"action":
"install"|"uninstall"|"lint", "chart", "values"}]}. One worker keeps one in-memory release
store, so an install and its uninstall run in the same worker.
"""

from __future__ import annotations

import asyncio
import json
import sys

import helm_sdkpy


def run_step(config: helm_sdkpy.Configuration, release: str, step: dict) -> dict:
    action = step["action"]
    if action == "install":
        return asyncio.run(
            helm_sdkpy.Install(config).run(
                release, step["chart"], values=step.get("values"), wait=False, timeout=30
            )
        )
    if action == "uninstall":
        return asyncio.run(helm_sdkpy.Uninstall(config).run(release, wait=False, timeout=30))
    if action == "lint":
        return asyncio.run(helm_sdkpy.Lint(config).run(step["chart"]))
    raise ValueError(f"unknown action {action!r}")


def main() -> None:
    request = json.load(sys.stdin)
    config = helm_sdkpy.Configuration(
        namespace=request["namespace"], kubeconfig=request.get("kubeconfig")
    )
    results = []
    for step in request["steps"]:
        try:
            results.append({"ok": True, "result": run_step(config, request["release"], step)})
        except helm_sdkpy.HelmError as error:
            results.append({"ok": False, "error": str(error), "type": type(error).__name__})
            break
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
