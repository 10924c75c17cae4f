"""One table of dezky.io object states and how each GitOps tool must read them.

Each case gives the object and three expected readings:
- argo: the status gitops/argocd/health.lua returns (Healthy, Progressing, Degraded, Suspended);
- kstatus: what kstatus (kubernetes-sigs/cli-utils, used by Flux's `wait` and `healthChecks`)
  computes from its generic rules;
- flux: what Flux computes with the healthCheckExprs of gitops/flux/kustomization.yaml ("Error"
  means an expression cannot be evaluated yet, so Flux keeps waiting and reports why).
"""

from __future__ import annotations

from dataclasses import dataclass, field


def cond(
    type_: str, status: str, reason: str = "", message: str = "", observed: int | None = 1
) -> dict:
    c = {
        "type": type_,
        "status": status,
        "reason": reason
        or {"True": "Ready", "False": "NotReady", "Unknown": "Reconciling"}[status],
        "message": message,
        "lastTransitionTime": "2026-01-01T00:00:00Z",
    }
    if observed is not None:
        c["observedGeneration"] = observed
    return c


def obj(
    kind: str = "Tenant",
    generation: int = 1,
    observed: int | None = 1,
    conditions: list[dict] | None = None,
    annotations: dict | None = None,
    spec: dict | None = None,
    deleting: bool = False,
    with_status: bool = True,
) -> dict:
    namespaced = kind in ("MailDomain", "Member", "SsoApp")
    metadata = {
        "name": "acme",
        "generation": generation,
        "uid": "0b8c7f0e-0000-4000-8000-000000000001",
    }
    if namespaced:
        metadata["namespace"] = "tenant-acme"
    if annotations:
        metadata["annotations"] = annotations
    if deleting:
        metadata["deletionTimestamp"] = "2026-01-01T00:00:00Z"
        metadata["finalizers"] = ["dezky.io/cleanup"]
    o = {"apiVersion": "dezky.io/v1alpha1", "kind": kind, "metadata": metadata, "spec": spec or {}}
    if with_status:
        status: dict = {}
        if observed is not None:
            status["observedGeneration"] = observed
        if conditions is not None:
            status["conditions"] = conditions
        o["status"] = status
    return o


@dataclass
class Case:
    name: str
    object: dict
    argo: str
    kstatus: str
    flux: str
    message_contains: list[str] = field(default_factory=list)


PAUSED = {"dezky.io/paused": "true"}
READY = cond("Ready", "True", "Ready", "all upstream objects converged")
STALLED = cond("Stalled", "True", "Forbidden", "authentik: 403 on create group tenant-acme")
NOT_READY_FORBIDDEN = cond(
    "Ready", "False", "Forbidden", "authentik: 403 on create group tenant-acme"
)

CASES = [
    Case(
        "created, not looked at yet",
        obj(with_status=False),
        argo="Progressing",
        kstatus="Current",  # no status, no conditions: kstatus cannot tell (README corner case)
        flux="Error",
        message_contains=["generation 1"],
    ),
    Case(
        "status without observedGeneration",
        obj(observed=None, conditions=[]),
        argo="Progressing",
        kstatus="Current",
        flux="InProgress",
    ),
    Case(
        "first visit: Ready Unknown",
        obj(conditions=[cond("Ready", "Unknown", "Reconciling", "first visit")]),
        argo="Progressing",
        kstatus="InProgress",
        flux="InProgress",
        message_contains=["Reconciling", "first visit"],
    ),
    Case(
        "converged",
        obj(conditions=[cond("IdentityReady", "True"), cond("FilesReady", "True"), READY]),
        argo="Healthy",
        kstatus="Current",
        flux="Current",
        message_contains=["all upstream objects converged"],
    ),
    Case(
        "converged, each kind",
        obj(kind="Member", conditions=[cond("MailboxReady", "True"), READY]),
        argo="Healthy",
        kstatus="Current",
        flux="Current",
    ),
    Case(
        "spec changed, not observed yet",
        obj(generation=2, observed=1, conditions=[READY]),
        argo="Progressing",
        kstatus="InProgress",
        flux="InProgress",
        message_contains=["generation 2"],
    ),
    Case(
        "Ready of an older generation",
        obj(generation=2, observed=2, conditions=[READY]),
        argo="Progressing",
        kstatus="Current",  # kstatus reads status.observedGeneration only, not the condition's
        flux="InProgress",
        message_contains=["Ready for generation 2"],
    ),
    Case(
        "Ready absent after a visit",
        obj(conditions=[cond("IdentityReady", "True")]),
        argo="Progressing",
        kstatus="Current",  # no Ready condition: kstatus assumes a static resource
        flux="InProgress",
    ),
    Case(
        "upstream down, retrying",
        obj(
            kind="MailDomain",
            conditions=[
                cond("MailServerReady", "False", "UpstreamUnavailable", "stalwart: 503"),
                cond("Ready", "False", "UpstreamUnavailable", "stalwart: 503 on create domain"),
            ],
        ),
        argo="Progressing",
        kstatus="InProgress",
        flux="InProgress",
        message_contains=["UpstreamUnavailable", "stalwart: 503 on create domain"],
    ),
    Case(
        "waiting for its tenant, Stalled False",
        obj(
            kind="SsoApp",
            conditions=[
                cond("Ready", "False", "TenantNotFound", "no tenant owns tenant-acme"),
                cond("Stalled", "False", "Retrying"),
            ],
        ),
        argo="Progressing",
        kstatus="InProgress",
        flux="InProgress",
        message_contains=["TenantNotFound"],
    ),
    Case(
        "stalled: retrying cannot fix it",
        obj(conditions=[NOT_READY_FORBIDDEN, STALLED]),
        argo="Degraded",
        kstatus="Failed",
        flux="Failed",
        message_contains=["Forbidden", "403"],
    ),
    Case(
        "stalled while suspended",
        obj(spec={"suspended": True}, conditions=[NOT_READY_FORBIDDEN, STALLED]),
        argo="Degraded",
        kstatus="Failed",
        flux="Failed",
    ),
    Case(
        "paused and converged",
        obj(annotations=PAUSED, conditions=[READY]),
        argo="Suspended",
        kstatus="Current",
        flux="Current",
        message_contains=["dezky.io/paused"],
    ),
    Case(
        "paused before the change was observed",
        obj(annotations=PAUSED, generation=3, observed=2, conditions=[READY]),
        argo="Suspended",
        kstatus="InProgress",
        flux="InProgress",
    ),
    Case(
        "paused annotation not true",
        obj(annotations={"dezky.io/paused": "false"}, conditions=[READY]),
        argo="Healthy",
        kstatus="Current",
        flux="Current",
    ),
    Case(
        "suspended and converged",
        obj(kind="Partner", spec={"suspended": True}, conditions=[READY]),
        argo="Suspended",
        kstatus="Current",
        flux="Current",
        message_contains=["spec.suspended"],
    ),
    Case(
        "suspension in progress",
        obj(spec={"suspended": True}, generation=2, observed=1, conditions=[READY]),
        argo="Progressing",
        kstatus="InProgress",
        flux="InProgress",
    ),
    Case(
        "suspended false",
        obj(spec={"suspended": False}, conditions=[READY]),
        argo="Healthy",
        kstatus="Current",
        flux="Current",
    ),
    Case(
        "deletion blocked by dependents",
        obj(
            deleting=True,
            conditions=[cond("Ready", "False", "DeletionBlocked", "2 members remain")],
        ),
        argo="Progressing",
        kstatus="Terminating",
        flux="InProgress",
        message_contains=["DeletionBlocked"],
    ),
    Case(
        "Stalled but Ready still Unknown",
        obj(conditions=[cond("Ready", "Unknown"), STALLED]),
        argo="Progressing",
        kstatus="Failed",  # kstatus checks Stalled before Ready
        flux="InProgress",
    ),
]
