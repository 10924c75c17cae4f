"""The Argo CD health check (gitops/argocd/health.lua), run by a real Lua 5.1 over the table."""

from __future__ import annotations

from pathlib import Path

import lupa.lua51 as lua51
import pytest
import yaml

from status_cases import CASES, Case

REPO = Path(__file__).resolve().parents[2]
HEALTH_LUA = REPO / "gitops" / "argocd" / "health.lua"
ARGOCD_CM = REPO / "gitops" / "argocd" / "argocd-cm.yaml"
KINDS = ["Partner", "Tenant", "MailDomain", "Member", "SsoApp"]

# Argo CD runs health checks in gopher-lua (Lua 5.1) with the base, table, string and math
# libraries and the object as the global `obj`; no io, os or require.
SANDBOXED = """
return function(source, object)
  local chunk = assert(loadstring(source, "health.lua"))
  setfenv(chunk, {
    obj = object, ipairs = ipairs, pairs = pairs, next = next, type = type,
    tostring = tostring, tonumber = tonumber, error = error, pcall = pcall,
    string = string, table = table, math = math,
  })
  return chunk()
end
"""


def assess(script: str, obj: dict) -> dict:
    runtime = lua51.LuaRuntime(unpack_returned_tuples=True)
    run = runtime.execute(SANDBOXED)
    result = run(script, runtime.table_from(obj, recursive=True))
    return {"status": result["status"], "message": result["message"]}


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_health_lua(case: Case):
    health = assess(HEALTH_LUA.read_text(), case.object)
    assert health["status"] == case.argo, health
    assert health["message"], "Argo CD shows the message beside the status; it must say why"
    for text in case.message_contains:
        assert text in health["message"], health


def test_table_covers_every_argo_status_and_kind():
    assert {c.argo for c in CASES} == {"Healthy", "Progressing", "Degraded", "Suspended"}
    kinds = {c.object["kind"] for c in CASES}
    assert len(kinds) >= 4, kinds


@pytest.mark.parametrize("kind", KINDS)
def test_argocd_cm_installs_the_same_script_for_each_kind(kind: str):
    data = yaml.safe_load(ARGOCD_CM.read_text())["data"]
    script = data[f"resource.customizations.health.dezky.io_{kind}"]
    assert script == HEALTH_LUA.read_text(), "argocd-cm.yaml drifted from health.lua"
    converged = next(c for c in CASES if c.name == "converged")
    obj = dict(converged.object, kind=kind)
    assert assess(script, obj)["status"] == "Healthy"


def test_argocd_cm_has_only_dezky_keys():
    data = yaml.safe_load(ARGOCD_CM.read_text())["data"]
    assert sorted(data) == sorted(f"resource.customizations.health.dezky.io_{k}" for k in KINDS)


def test_script_refuses_nothing_it_cannot_read():
    # an object with an odd status shape must still get an answer, not a Lua error
    odd = {
        "apiVersion": "dezky.io/v1alpha1",
        "kind": "Tenant",
        "metadata": {"name": "x"},
        "status": {},
    }
    assert assess(HEALTH_LUA.read_text(), odd)["status"] == "Progressing"


def example_objects() -> list[dict]:
    objects = []
    for path in sorted((REPO / "examples").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc.get("apiVersion", "").startswith("dezky.io/"):
                objects.append(doc)
    return objects


def test_every_example_object_reads_progressing_then_healthy_or_suspended():
    examples = example_objects()
    assert {o["kind"] for o in examples} == set(KINDS), "examples/ shows all five kinds"
    script = HEALTH_LUA.read_text()
    for example in examples:
        fresh = dict(example, metadata=dict(example["metadata"], generation=1))
        assert assess(script, fresh)["status"] == "Progressing", example["metadata"]
        converged = dict(
            fresh,
            status={
                "observedGeneration": 1,
                "conditions": [{"type": "Ready", "status": "True", "reason": "Ready"}],
            },
        )
        expected = "Suspended" if example.get("spec", {}).get("suspended") else "Healthy"
        assert assess(script, converged)["status"] == expected, example["metadata"]
