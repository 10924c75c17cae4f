"""values.schema.json refuses bad values, and every switch turns its part on or off."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import helmrun
from chartobjects import API, OPERATOR

BAD_VALUES = {
    "unknown top-level key": {"replica": 2},
    "unknown nested key": {"operator": {"replicaCount": 2}},
    "replicas as a string": {"operator": {"replicas": "two"}},
    "zero replicas": {"api": {"replicas": 0}},
    "unknown log level": {"logging": {"level": "verbose"}},
    "upstream URL without http(s)": {"upstreams": {"authentik": {"url": "ftp://auth.test"}}},
    "installation id not a DNS label": {"installationId": "Prod_EU"},
    "empty Secret name": {"credentials": {"existingSecret": ""}},
    "a plan outside the catalogue": {"plans": {"gold": {"displayName": "Gold"}}},
    "a quota that is not a quantity": {"plans": {"starter": {"storageQuota": "lots"}}},
    "zero rate limit": {"upstreams": {"ocis": {"rateLimit": {"requestsPerSecond": 0}}}},
    "a duration without a unit": {"operator": {"resyncInterval": "600"}},
    "a bad CIDR": {"networkPolicy": {"upstreams": [{"cidr": "10.0.0.0", "ports": [443]}]}},
    "upstream rule without ports": {"networkPolicy": {"upstreams": [{"cidr": "10.0.0.0/8"}]}},
    "a multi-line upstream description": {
        "networkPolicy": {
            "upstreams": [{"cidr": "10.0.0.0/8", "ports": [443], "description": "a\nkind: Oops"}]
        }
    },
    "a credential value in the values": {"credentials": {"authentikToken": "s3cr3t"}},
    "switch as a string": {"networkPolicy": {"enabled": "no"}},
}


@pytest.mark.parametrize("values", BAD_VALUES.values(), ids=BAD_VALUES.keys())
def test_schema_refuses(install, values):
    with pytest.raises(helmrun.HelmRefused, match="schema"):
        install(values)


def test_schema_accepts_a_full_production_configuration(install):
    release = install(
        {
            "installationId": "prod-eu-1",
            "image": {"tag": "1.2.3", "pullPolicy": "Always"},
            "imagePullSecrets": [{"name": "registry"}],
            "upstreams": {
                "authentik": {"url": "https://auth.example.com"},
                "stalwart": {"url": "https://mail.example.com"},
                "ocis": {"url": "https://files.example.com"},
                "stripe": {
                    "enabled": True,
                    "rateLimit": {"requestsPerSecond": 2.5, "maxInFlight": 1},
                },
            },
            "dns": {"resolvers": ["9.9.9.9:53", "[2620:fe::fe]:53"]},
            "plans": {"enterprise": {"stripePriceId": "price_1AbC", "maxSeats": 5000}},
            "operator": {"resyncInterval": "1h30m", "tolerations": [{"operator": "Exists"}]},
            "api": {
                "publicUrl": "https://console.example.com",
                "ingress": {
                    "enabled": True,
                    "className": "nginx",
                    "hosts": [{"host": "console.example.com"}],
                    "tls": [{"secretName": "console-tls", "hosts": ["console.example.com"]}],
                },
            },
            "networkPolicy": {
                "kubernetesApi": {"cidrs": ["172.18.0.2/32"]},
                "upstreams": [{"cidr": "203.0.113.0/24", "ports": [443], "description": "idp"}],
            },
            "serviceMonitor": {"enabled": True, "labels": {"release": "prometheus"}},
            "dashboards": {"enabled": True, "namespace": "monitoring"},
        }
    )
    assert release.one("Deployment", OPERATOR)["spec"]["template"]["spec"]["imagePullSecrets"] == [
        {"name": "registry"}
    ]


def test_values_yaml_itself_is_valid_against_the_schema_with_jsonschema():
    # a second opinion beside Helm's validator, so a schema that accepts nothing is caught too
    import jsonschema
    import yaml

    schema = json.loads((helmrun.CHART / "values.schema.json").read_text())
    values = yaml.safe_load((helmrun.CHART / "values.yaml").read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    jsonschema.Draft7Validator(schema).validate(values)


def test_network_policies_switch_off(install, defaults):
    assert len(defaults.of_kind("NetworkPolicy")) == 2
    assert install({"networkPolicy": {"enabled": False}}).of_kind("NetworkPolicy") == []


def test_pod_disruption_budgets_switch_off(install):
    assert install({"podDisruptionBudget": {"enabled": False}}).of_kind("PodDisruptionBudget") == []


def test_service_monitors_switch_on(install, defaults):
    assert defaults.of_kind("ServiceMonitor") == []
    release = install({"serviceMonitor": {"enabled": True, "labels": {"release": "prom"}}})
    monitors = {m["metadata"]["name"]: m for m in release.of_kind("ServiceMonitor")}
    assert set(monitors) == {OPERATOR, API}
    assert monitors[OPERATOR]["spec"]["endpoints"][0]["port"] == "metrics"
    assert monitors[API]["spec"]["endpoints"][0]["port"] == "http"
    for name, monitor in monitors.items():
        assert monitor["metadata"]["labels"]["release"] == "prom"
        assert monitor["spec"]["endpoints"][0]["path"] == "/metrics"
        service = OPERATOR + "-metrics" if name == OPERATOR else API
        service_labels = release.one("Service", service)["metadata"]["labels"]
        for key, value in monitor["spec"]["selector"]["matchLabels"].items():
            assert service_labels[key] == value
        port_names = [p["name"] for p in release.one("Service", service)["spec"]["ports"]]
        assert monitor["spec"]["endpoints"][0]["port"] in port_names


def top_level_dashboards() -> list[str]:
    return sorted(p.name for p in (helmrun.REPO / "dashboards").glob("*.json"))


def test_every_dashboard_is_linked_into_the_chart():
    linked = sorted(p.name for p in (helmrun.CHART / "dashboards").glob("*.json"))
    assert linked == top_level_dashboards(), (
        "link each dashboards/*.json into charts/dezky/dashboards/"
    )
    for link in (helmrun.CHART / "dashboards").glob("*.json"):
        assert link.is_symlink(), (
            f"{link} must be a symbolic link to ../../../dashboards/{link.name}"
        )


def test_dashboards_config_map_switches_on_and_carries_every_dashboard(install, defaults):
    assert [
        c for c in defaults.of_kind("ConfigMap") if c["metadata"]["name"].endswith("-dashboards")
    ] == []
    release = install({"dashboards": {"enabled": True}})
    dashboards = release.one("ConfigMap", "dezky-dashboards")
    assert dashboards["metadata"]["labels"]["grafana_dashboard"] == "1"
    data = dashboards.get("data") or {}
    assert sorted(data) == top_level_dashboards()
    for name, text in data.items():
        assert json.loads(text) == json.loads((helmrun.REPO / "dashboards" / name).read_text())


def test_dashboards_are_picked_up_by_glob(install, tmp_path: Path):
    # a copy of the chart with one dashboard, to show the ConfigMap picks up what is there
    import shutil

    chart = tmp_path / "dezky"
    shutil.copytree(helmrun.CHART, chart, symlinks=False)
    for old in (chart / "dashboards").glob("*.json"):
        old.unlink()
    (chart / "dashboards" / "probe.json").write_text('{"title": "Probe", "panels": []}')
    release = install({"dashboards": {"enabled": True, "namespace": "monitoring"}}, chart=chart)
    dashboards = release.one("ConfigMap", "dezky-dashboards")
    assert dashboards["metadata"]["namespace"] == "monitoring"
    assert json.loads(dashboards["data"]["probe.json"]) == {"title": "Probe", "panels": []}


def test_ingress_switches_on_with_hosts_and_tls(install):
    release = install(
        {
            "api": {
                "ingress": {
                    "enabled": True,
                    "className": "nginx",
                    "hosts": [{"host": "console.test"}, {"host": "portal.test"}],
                    "tls": [{"secretName": "web-tls", "hosts": ["console.test", "portal.test"]}],
                }
            }
        }
    )
    ingress = release.one("Ingress", API)
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert [r["host"] for r in ingress["spec"]["rules"]] == ["console.test", "portal.test"]
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": API, "port": {"name": "http"}}
    assert ingress["spec"]["tls"][0]["secretName"] == "web-tls"
    assert "https://console.test/" in release.notes
