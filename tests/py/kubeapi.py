"""A small in-memory Kubernetes API server on loopback, for installing the chart with real Helm.

It speaks the Kubernetes REST protocol as far as a Helm install needs it: version and legacy
discovery, create/get/list/update/delete of the kinds the chart renders, and CRDs that report
`Established` so Helm's CRD wait succeeds. Every object Helm creates is kept, so a test reads
exactly what a cluster would have received.
"""

from __future__ import annotations

import copy
import json
import socket
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import yaml


@dataclass(frozen=True)
class Resource:
    """One served resource type: its plural name, kind and scope."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


RESOURCES = [
    Resource("", "v1", "namespaces", "Namespace", False),
    Resource("", "v1", "serviceaccounts", "ServiceAccount", True),
    Resource("", "v1", "configmaps", "ConfigMap", True),
    Resource("", "v1", "secrets", "Secret", True),
    Resource("", "v1", "services", "Service", True),
    Resource("", "v1", "events", "Event", True),
    Resource("apps", "v1", "deployments", "Deployment", True),
    Resource("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False),
    Resource("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False),
    Resource("rbac.authorization.k8s.io", "v1", "roles", "Role", True),
    Resource("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", True),
    Resource("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", True),
    Resource("networking.k8s.io", "v1", "ingresses", "Ingress", True),
    Resource("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", True),
    Resource("coordination.k8s.io", "v1", "leases", "Lease", True),
    Resource("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", True),
    Resource(
        "apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", False
    ),
    Resource("monitoring.coreos.com", "v1", "servicemonitors", "ServiceMonitor", True),
]


def _status(code: int, reason: str, message: str) -> dict:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }


def _matches(labels: dict, selector: str) -> bool:
    """Equality-based label selectors (`a=b,c==d,e!=f`), which is all Helm sends."""
    for term in filter(None, selector.split(",")):
        if "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key) == value:
                return False
        else:
            key, value = term.replace("==", "=").split("=", 1)
            if labels.get(key) != value:
                return False
    return True


class KubeApi:
    """The server and its store; use as a context manager."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str, str, str], dict] = {}
        self.requests: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._rv = 0
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                # headers and body are separate writes: without this, Nagle's algorithm and
                # delayed ACKs stall every keep-alive request by ~40 ms
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def log_message(self, *args) -> None:  # keep test output clean
                return

            def _reply(self, code: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _body(self) -> dict:
                length = int(self.headers.get("Content-Length") or 0)
                return json.loads(self.rfile.read(length) or b"{}")

            def do_GET(self) -> None:
                self._reply(*api.handle("GET", self.path, None))

            def do_POST(self) -> None:
                self._reply(*api.handle("POST", self.path, self._body()))

            def do_PUT(self) -> None:
                self._reply(*api.handle("PUT", self.path, self._body()))

            def do_DELETE(self) -> None:
                self._body()  # delete options: read them so the connection stays usable
                self._reply(*api.handle("DELETE", self.path, None))

            def do_PATCH(self) -> None:
                self._body()
                self._reply(405, _status(405, "MethodNotAllowed", "patch is not served here"))

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def kubeconfig(self, namespace: str = "default") -> str:
        """A kubeconfig (YAML text) that points at this server."""
        return yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
                "users": [{"name": "fake", "user": {"token": "fake-token"}}],
                "contexts": [
                    {
                        "name": "fake",
                        "context": {"cluster": "fake", "user": "fake", "namespace": namespace},
                    }
                ],
                "current-context": "fake",
            }
        )

    def __enter__(self) -> KubeApi:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    # --- protocol ---------------------------------------------------------------------

    def handle(self, method: str, raw_path: str, body: dict | None) -> tuple[int, dict]:
        parts = urlsplit(raw_path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        segments = [s for s in parts.path.split("/") if s]
        self.requests.append((method, parts.path))
        if method == "GET":
            discovery = self._discovery(segments)
            if discovery is not None:
                return 200, discovery
        routed = self._route(segments)
        if routed is None:
            return 404, _status(404, "NotFound", f"the server could not find {parts.path}")
        resource, namespace, name = routed
        with self._lock:
            return self._crud(method, resource, namespace, name, query, body)

    def _discovery(self, seg: list[str]) -> dict | None:
        if seg == ["version"]:
            return {"major": "1", "minor": "31", "gitVersion": "v1.31.0", "platform": "linux/amd64"}
        if seg == ["api"]:
            return {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}
        if seg == ["apis"]:
            groups: dict[str, list[str]] = {}
            for r in RESOURCES:
                if r.group:
                    groups.setdefault(r.group, [])
                    if r.version not in groups[r.group]:
                        groups[r.group].append(r.version)
            return {
                "kind": "APIGroupList",
                "apiVersion": "v1",
                "groups": [
                    {
                        "name": g,
                        "versions": [{"groupVersion": f"{g}/{v}", "version": v} for v in vs],
                        "preferredVersion": {"groupVersion": f"{g}/{vs[0]}", "version": vs[0]},
                    }
                    for g, vs in groups.items()
                ],
            }
        if seg in (["api", "v1"],) or (len(seg) == 3 and seg[0] == "apis"):
            gv = "v1" if seg[0] == "api" else f"{seg[1]}/{seg[2]}"
            served = [r for r in RESOURCES if r.group_version == gv]
            if not served:
                return None
            return {
                "kind": "APIResourceList",
                "apiVersion": "v1",
                "groupVersion": gv,
                "resources": [
                    {
                        "name": r.plural,
                        "singularName": r.kind.lower(),
                        "namespaced": r.namespaced,
                        "kind": r.kind,
                        "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"],
                    }
                    for r in served
                ],
            }
        return None

    def _route(self, seg: list[str]) -> tuple[Resource, str, str] | None:
        if seg[:1] == ["api"] and len(seg) >= 3:
            group, version, rest = "", seg[1], seg[2:]
        elif seg[:1] == ["apis"] and len(seg) >= 4:
            group, version, rest = seg[1], seg[2], seg[3:]
        else:
            return None
        namespace = ""
        if len(rest) >= 3 and rest[0] == "namespaces":
            namespace, rest = rest[1], rest[2:]
        if not rest or len(rest) > 2:
            return None
        for r in RESOURCES:
            if (r.group, r.version, r.plural) == (group, version, rest[0]):
                if r.namespaced != bool(namespace) and not (len(rest) == 1 and r.namespaced):
                    return None
                return r, namespace, rest[1] if len(rest) == 2 else ""
        return None

    def _crud(self, method, resource, namespace, name, query, body) -> tuple[int, dict]:
        key = (resource.group_version, resource.kind, namespace, name)
        if method == "GET" and name:
            obj = self.objects.get(key)
            if obj is None:
                return 404, _status(404, "NotFound", f'{resource.plural} "{name}" not found')
            return 200, obj
        if method == "GET":
            selector = query.get("labelSelector", "")
            items = [
                o
                for (gv, kind, ns, _), o in sorted(self.objects.items())
                if gv == resource.group_version
                and kind == resource.kind
                and (not namespace or ns == namespace)
                and _matches(o["metadata"].get("labels") or {}, selector)
            ]
            return 200, {
                "kind": f"{resource.kind}List",
                "apiVersion": resource.group_version,
                "metadata": {"resourceVersion": str(self._rv)},
                "items": items,
            }
        if method == "POST" and not name:
            obj = copy.deepcopy(body)
            name = obj.get("metadata", {}).get("name", "")
            key = (resource.group_version, resource.kind, namespace, name)
            if not name:
                return 422, _status(422, "Invalid", "metadata.name is required")
            if key in self.objects:
                return 409, _status(
                    409, "AlreadyExists", f'{resource.plural} "{name}" already exists'
                )
            self._stamp(obj, namespace, resource)
            if query.get("dryRun") != "All":
                self.objects[key] = obj
            return 201, obj
        if method == "PUT" and name:
            if key not in self.objects:
                return 404, _status(404, "NotFound", f'{resource.plural} "{name}" not found')
            obj = copy.deepcopy(body)
            obj["metadata"]["uid"] = self.objects[key]["metadata"]["uid"]
            self._stamp(obj, namespace, resource)
            self.objects[key] = obj
            return 200, obj
        if method == "DELETE" and name:
            obj = self.objects.pop(key, None)
            if obj is None:
                return 404, _status(404, "NotFound", f'{resource.plural} "{name}" not found')
            return 200, obj
        return 405, _status(405, "MethodNotAllowed", f"{method} is not served here")

    def _stamp(self, obj: dict, namespace: str, resource: Resource) -> None:
        self._rv += 1
        meta = obj.setdefault("metadata", {})
        if namespace:
            meta["namespace"] = namespace
        meta.setdefault("uid", str(uuid.uuid4()))
        meta.setdefault("creationTimestamp", datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
        meta["resourceVersion"] = str(self._rv)
        meta["generation"] = meta.get("generation", 0) + 1
        if resource.kind == "CustomResourceDefinition":
            obj["status"] = {
                "conditions": [
                    {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts"},
                    {"type": "Established", "status": "True", "reason": "InitialNamesAccepted"},
                ],
                "acceptedNames": obj.get("spec", {}).get("names", {}),
                "storedVersions": [
                    v["name"] for v in obj.get("spec", {}).get("versions", []) if v.get("storage")
                ],
            }

    # --- seeding and reading ------------------------------------------------------------

    def seed(self, obj: dict) -> None:
        """Store an object as if someone had created it before the test (e.g. cluster state
        that a chart looks up)."""
        api_version, kind = obj["apiVersion"], obj["kind"]
        resource = next(r for r in RESOURCES if (r.group_version, r.kind) == (api_version, kind))
        namespace = obj["metadata"].get("namespace", "") if resource.namespaced else ""
        with self._lock:
            stored = copy.deepcopy(obj)
            self._stamp(stored, namespace, resource)
            self.objects[(api_version, kind, namespace, obj["metadata"]["name"])] = stored

    def of_kind(self, kind: str) -> list[dict]:
        return [o for (_, k, _, _), o in sorted(self.objects.items()) if k == kind]

    def one(self, kind: str, name: str) -> dict:
        found = [o for o in self.of_kind(kind) if o["metadata"]["name"] == name]
        assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
        return found[0]
