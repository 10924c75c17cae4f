"""Every object the chart renders, with every switch on, is valid for the Kubernetes API schemas
(strict: unknown fields refused) of the oldest supported and the newest Kubernetes version."""

from __future__ import annotations

import kubernetes_validate
import pytest
import yaml

import helmrun

ALL_ON = {
    "serviceMonitor": {"enabled": True},
    "dashboards": {"enabled": True},
    "api": {
        "ingress": {
            "enabled": True,
            "className": "nginx",
            "hosts": [{"host": "console.test"}],
            "tls": [{"secretName": "console-tls", "hosts": ["console.test"]}],
        }
    },
    "networkPolicy": {
        "kubernetesApi": {"cidrs": ["10.0.0.1/32"]},
        "upstreams": [
            {"cidr": "10.1.0.0/16", "except": ["10.1.1.0/24"], "ports": [443], "udpPorts": [53]}
        ],
        "metricsFrom": [{"namespaceSelector": {"matchLabels": {"name": "monitoring"}}}],
        "apiFrom": [{"podSelector": {"matchLabels": {"app": "ingress"}}}],
    },
    "operator": {
        "topologySpreadConstraints": [
            {
                "maxSkew": 1,
                "topologyKey": "zone",
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": {"matchLabels": {"a": "b"}},
            }
        ]
    },
}


def oldest_supported() -> str:
    chart = yaml.safe_load((helmrun.CHART / "Chart.yaml").read_text())
    return chart["kubeVersion"].lstrip(">=").split("-")[0]


@pytest.mark.parametrize("version", [oldest_supported(), kubernetes_validate.latest_version()])
def test_rendered_objects_are_valid_kubernetes_objects(install, version: str):
    release = install(ALL_ON)
    kinds = set()
    for doc in release.manifest:
        kinds.add(doc["kind"])
        if doc["apiVersion"].startswith("monitoring.coreos.com/"):
            continue  # a Prometheus Operator CRD, not part of Kubernetes' schemas
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            raise AssertionError(
                f"{doc['kind']}/{doc['metadata']['name']}: {error.message} at {list(error.path)}"
            ) from None
    assert {"Deployment", "NetworkPolicy", "Ingress", "ServiceMonitor"} <= kinds
