"""NetworkPolicies: egress only to the Kubernetes API, cluster DNS and the configured upstreams."""

from __future__ import annotations

from chartobjects import API, OPERATOR


def policies(release) -> dict[str, dict]:
    return {p["metadata"]["name"]: p["spec"] for p in release.of_kind("NetworkPolicy")}


def egress_ports(rule: dict) -> list[tuple[int, str]]:
    return [(p["port"], p["protocol"]) for p in rule.get("ports", [])]


def test_default_policies_select_each_component_and_deny_the_rest(defaults):
    release = defaults
    specs = policies(release)
    assert set(specs) == {OPERATOR, API}
    for name, spec in specs.items():
        assert spec["policyTypes"] == ["Ingress", "Egress"]
        pods = release.one("Deployment", name)["spec"]["selector"]["matchLabels"]
        assert spec["podSelector"]["matchLabels"] == pods
        dns, kube_api = spec["egress"]
        assert egress_ports(dns) == [(53, "UDP"), (53, "TCP")]
        assert dns["to"] == [
            {
                "namespaceSelector": {
                    "matchLabels": {"kubernetes.io/metadata.name": "kube-system"}
                },
                "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
            }
        ]
        assert egress_ports(kube_api) == [(443, "TCP"), (6443, "TCP")]
        assert "to" not in kube_api  # the API server's address is cluster-specific until set


def test_ingress_is_only_each_components_port(defaults):
    specs = policies(defaults)
    assert [egress_ports(r) for r in specs[OPERATOR]["ingress"]] == [[(9100, "TCP")]]
    assert [egress_ports(r) for r in specs[API]["ingress"]] == [[(8080, "TCP")]]
    for spec in specs.values():
        assert "from" not in spec["ingress"][0]


def test_configured_addresses_narrow_egress_and_ingress(install):
    monitoring = {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}
    }
    release = install(
        {
            "networkPolicy": {
                "kubernetesApi": {"cidrs": ["172.18.0.2/32"], "ports": [6443]},
                "upstreams": [
                    {"cidr": "203.0.113.0/24", "except": ["203.0.113.128/25"], "ports": [443]},
                    {"cidr": "9.9.9.9/32", "ports": [53], "udpPorts": [53]},
                ],
                "metricsFrom": [monitoring],
            }
        }
    )
    specs = policies(release)
    for spec in specs.values():
        dns, kube_api, idp, resolver = spec["egress"]
        assert kube_api == {
            "ports": [{"port": 6443, "protocol": "TCP"}],
            "to": [{"ipBlock": {"cidr": "172.18.0.2/32"}}],
        }
        assert idp == {
            "to": [{"ipBlock": {"cidr": "203.0.113.0/24", "except": ["203.0.113.128/25"]}}],
            "ports": [{"port": 443, "protocol": "TCP"}],
        }
        assert egress_ports(resolver) == [(53, "TCP"), (53, "UDP")]
        for rule in spec["egress"]:
            for peer in rule.get("to", []):
                assert peer.get("ipBlock", {}).get("cidr") != "0.0.0.0/0"
    assert specs[OPERATOR]["ingress"][0]["from"] == [monitoring]
    assert "from" not in specs[API]["ingress"][0]


def kubernetes_endpoints(*addresses: str, service: str = "kubernetes") -> dict:
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": f"{service}-slice",
            "namespace": "default",
            "labels": {"kubernetes.io/service-name": service},
        },
        "addressType": "IPv6" if ":" in addresses[0] else "IPv4",
        "endpoints": [{"addresses": [a]} for a in addresses],
        "ports": [{"name": "https", "port": 6443, "protocol": "TCP"}],
    }


def api_rule(release) -> dict:
    return policies(release)[OPERATOR]["egress"][1]


def test_the_api_servers_address_is_found_at_install_time(install):
    release = install(
        existing=[
            kubernetes_endpoints("172.18.0.2", "172.18.0.3"),
            kubernetes_endpoints("10.9.9.9", service="not-the-api-server"),
        ]
    )
    for spec in policies(release).values():
        assert spec["egress"][1]["to"] == [
            {"ipBlock": {"cidr": "172.18.0.2/32"}},
            {"ipBlock": {"cidr": "172.18.0.3/32"}},
        ]


def test_an_ipv6_api_server_gets_a_128_bit_block(install):
    release = install(existing=[kubernetes_endpoints("fd00::2")])
    assert api_rule(release)["to"] == [{"ipBlock": {"cidr": "fd00::2/128"}}]


def test_configured_cidrs_win_over_discovery_and_discovery_can_be_off(install):
    existing = [kubernetes_endpoints("172.18.0.2")]
    configured = install(
        {"networkPolicy": {"kubernetesApi": {"cidrs": ["192.0.2.1/32"]}}}, existing=existing
    )
    assert api_rule(configured)["to"] == [{"ipBlock": {"cidr": "192.0.2.1/32"}}]
    off = install({"networkPolicy": {"kubernetesApi": {"discover": False}}}, existing=existing)
    assert "to" not in api_rule(off)
