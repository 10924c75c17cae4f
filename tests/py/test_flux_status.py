"""Flux reads dezky.io objects through kstatus and through the healthCheckExprs of the example
Kustomization; both are applied here to the same status table as the Argo CD check."""

from __future__ import annotations

from pathlib import Path

import cel
import pytest
import yaml

from status_cases import CASES, Case

REPO = Path(__file__).resolve().parents[2]
FLUX = REPO / "gitops" / "flux"
KINDS = ["Partner", "Tenant", "MailDomain", "Member", "SsoApp"]


def kstatus(obj: dict) -> str:
    """kstatus' generic rules (cli-utils pkg/kstatus: README and status/generic.go) for a custom
    resource without a type-specific rule, in their order."""
    metadata = obj.get("metadata", {})
    status = obj.get("status") or {}
    if metadata.get("deletionTimestamp"):
        return "Terminating"
    generation = metadata.get("generation")
    observed = status.get("observedGeneration")
    if generation is not None and observed is not None and observed != generation:
        return "InProgress"  # LatestGenerationNotObserved
    conditions = status.get("conditions") or []
    for c in conditions:
        if c["type"] == "Reconciling" and c["status"] == "True":
            return "InProgress"
        if c["type"] == "Stalled" and c["status"] == "True":
            return "Failed"
    for c in conditions:
        if c["type"] == "Ready":
            return "Current" if c["status"] == "True" else "InProgress"
    return "Current"  # no Ready condition: kstatus treats the object as always reconciled


def flux_exprs() -> dict[str, dict]:
    docs = [d for d in yaml.safe_load_all((FLUX / "sync.yaml").read_text()) if d]
    kustomization = next(d for d in docs if d["kind"] == "Kustomization")
    return {e["kind"]: e for e in kustomization["spec"]["healthCheckExprs"]}


def flux_cel(obj: dict, exprs: dict) -> str:
    """Flux's CEL status evaluation (RFC 0009, fluxcd/pkg runtime/cel StatusEvaluator): a stale
    observedGeneration is InProgress; then inProgress, failed, current in that order, the first
    true wins; none true is InProgress. The object's top-level fields are the CEL variables."""
    status = obj.get("status") or {}
    observed = status.get("observedGeneration")
    if observed is not None and observed != obj["metadata"].get("generation", observed):
        return "InProgress"
    for key, result in (("inProgress", "InProgress"), ("failed", "Failed"), ("current", "Current")):
        expr = exprs.get(key)
        if not expr:
            continue
        try:
            value = cel.evaluate(expr, obj)
        except RuntimeError:
            return "Error"
        assert isinstance(value, bool), f"{key} must be a boolean expression: {expr}"
        if value:
            return result
    return "InProgress"


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_kstatus_reads_the_conditions(case: Case):
    assert kstatus(case.object) == case.kstatus


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_flux_health_check_exprs(case: Case):
    exprs = flux_exprs()[case.object["kind"]]
    assert flux_cel(case.object, exprs) == case.flux


def test_kstatus_agrees_with_argo_where_the_operator_contract_holds():
    # the operator writes observedGeneration and Ready on its first visit and Stalled only with
    # Ready=False: in those states kstatus and the Argo CD check must agree
    same = {"Healthy": "Current", "Progressing": "InProgress", "Degraded": "Failed"}
    for case in CASES:
        meta = case.object["metadata"]
        status = case.object.get("status") or {}
        conditions = {c["type"]: c for c in status.get("conditions", [])}
        ready = conditions.get("Ready")
        if (
            case.argo in same
            and "observedGeneration" in status
            and ready is not None
            and ready.get("observedGeneration") == meta["generation"]
            and not meta.get("deletionTimestamp")
            and (
                conditions.get("Stalled", {}).get("status") != "True" or ready["status"] == "False"
            )
        ):
            assert kstatus(case.object) == same[case.argo], case.name


def test_flux_exprs_cover_the_five_kinds_identically():
    exprs = flux_exprs()
    assert sorted(exprs) == sorted(KINDS)
    first = exprs["Tenant"]
    for kind, e in exprs.items():
        assert e["apiVersion"] == "dezky.io/v1alpha1"
        assert {k: v for k, v in e.items() if k not in ("kind",)} == {
            k: v for k, v in first.items() if k not in ("kind",)
        }, kind
        assert e["current"] and e["failed"] and e["inProgress"]
