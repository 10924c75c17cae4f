"""What the chart installs: workloads, configuration file, credentials, security contexts."""

from __future__ import annotations

import helmrun
from chartobjects import API, OPERATOR, config_file, container, pod_spec

DEFAULT_KINDS = {
    "ServiceAccount",
    "ClusterRole",
    "ClusterRoleBinding",
    "Role",
    "RoleBinding",
    "ConfigMap",
    "Deployment",
    "Service",
    "NetworkPolicy",
    "PodDisruptionBudget",
}


def test_lint_reports_no_warning_or_error():
    result = helmrun.lint()
    severe = [m for m in result["Messages"] if m["Severity"] >= 2]  # 2 warning, 3 error
    assert result["Errors"] is None, result
    assert severe == [], result


def test_default_install_creates_exactly_the_expected_kinds(defaults):
    release = defaults
    assert release.kinds() - {"CustomResourceDefinition"} == DEFAULT_KINDS
    templated = {(d["kind"], d["metadata"]["name"]) for d in release.manifest}
    received = {
        (kind, name)
        for (_, kind, _, name) in release.api.objects
        if kind != "CustomResourceDefinition"
    }
    assert templated == received
    assert "CustomResourceDefinition" not in {kind for kind, _ in templated}, (
        "CRDs belong in crds/, never in templates/ (Helm would delete them on uninstall)"
    )


def test_operator_runs_two_replicas_of_dezky_operator(defaults):
    release = defaults
    deployment = release.one("Deployment", OPERATOR)
    assert deployment["spec"]["replicas"] == 2
    main = container(release, OPERATOR)
    assert main["command"] == ["/usr/local/bin/dezky"]
    assert main["args"] == ["operator", "--config", "/etc/dezky/config.yaml"]
    assert main["image"] == "ghcr.io/dezky/dezky:0.1.0"
    assert [(p["name"], p["containerPort"]) for p in main["ports"]] == [("metrics", 9100)]
    assert main["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert main["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    service = release.one("Service", "dezky-operator-metrics")
    assert service["spec"]["ports"][0]["port"] == 9100
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]


def test_replicas_and_image_follow_values(install):
    release = install(
        {
            "operator": {"replicas": 3},
            "api": {"replicas": 4},
            "image": {"repository": "registry.test/dezky", "digest": "sha256:" + "ab" * 32},
        }
    )
    assert release.one("Deployment", OPERATOR)["spec"]["replicas"] == 3
    assert release.one("Deployment", API)["spec"]["replicas"] == 4
    assert container(release, API)["image"] == "registry.test/dezky@sha256:" + "ab" * 32


def test_api_server_runs_dezky_api_on_8080_behind_a_service(defaults):
    release = defaults
    deployment = release.one("Deployment", API)
    assert deployment["spec"]["replicas"] == 2
    main = container(release, API)
    assert main["command"] == ["/usr/local/bin/dezky"]
    assert main["args"] == ["api", "--config", "/etc/dezky/config.yaml"]
    assert [(p["name"], p["containerPort"]) for p in main["ports"]] == [("http", 8080)]
    assert main["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert main["readinessProbe"]["httpGet"]["path"] == "/readyz"
    service = release.one("Service", API)
    assert service["spec"]["ports"] == [
        {"name": "http", "port": 8080, "targetPort": "http", "protocol": "TCP"}
    ]
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    assert release.of_kind("Ingress") == []


def test_selectors_keep_the_two_components_apart(defaults):
    release = defaults
    operator = release.one("Deployment", OPERATOR)["spec"]["selector"]["matchLabels"]
    api = release.one("Deployment", API)["spec"]["selector"]["matchLabels"]
    assert operator["app.kubernetes.io/component"] == "operator"
    assert api["app.kubernetes.io/component"] == "api-server"


def test_config_file_is_mounted_read_only_and_passed_with_config(defaults):
    release = defaults
    for deployment in (OPERATOR, API):
        spec = pod_spec(release, deployment)
        main = container(release, deployment)
        mounts = {m["name"]: m for m in main["volumeMounts"]}
        assert mounts["config"] == {
            "name": "config",
            "mountPath": "/etc/dezky/config.yaml",
            "subPath": "config.yaml",
            "readOnly": True,
        }
        volumes = {v["name"]: v for v in spec["volumes"]}
        assert volumes["config"]["configMap"]["name"] == "dezky-config"
        annotations = release.one("Deployment", deployment)["spec"]["template"]["metadata"][
            "annotations"
        ]
        assert len(annotations["checksum/config"]) == 64


def test_config_file_carries_the_values(install):
    release = install(
        {
            "installationId": "prod-eu",
            "logging": {"level": "debug", "format": "text"},
            "upstreams": {
                "authentik": {
                    "url": "https://auth.test",
                    "rateLimit": {"requestsPerSecond": 5, "maxInFlight": 2},
                },
                "stalwart": {"url": "https://mail.test"},
                "ocis": {"url": "https://files.test"},
                "stripe": {"enabled": True},
            },
            "plans": {"starter": {"maxSeats": 3}},
            "dns": {"resolvers": ["192.0.2.53:53"]},
            "api": {
                "publicUrl": "https://console.test",
                "oidc": {
                    "console": {
                        "issuer": "https://auth.test/application/o/console/",
                        "clientId": "c1",
                    }
                },
            },
        }
    )
    config = config_file(release)
    assert config["installationId"] == "prod-eu"
    assert config["logging"] == {"level": "debug", "format": "text"}
    assert config["credentialsDir"] == "/etc/dezky/secrets"
    upstreams = config["upstreams"]
    assert upstreams["authentik"] == {
        "url": "https://auth.test",
        "rateLimit": {"requestsPerSecond": 5, "maxInFlight": 2},
    }
    assert upstreams["stalwart"]["url"] == "https://mail.test"
    assert upstreams["ocis"]["rateLimit"] == {"requestsPerSecond": 10, "maxInFlight": 4}
    assert upstreams["stripe"]["enabled"] is True
    assert set(config["plans"]) == {"starter", "business", "enterprise"}
    assert config["plans"]["starter"]["maxSeats"] == 3
    assert config["plans"]["business"]["storageQuota"] == "1Ti"
    assert config["dns"]["resolvers"] == ["192.0.2.53:53"]
    assert config["operator"]["leaderElection"]["leaseName"] == "dezky-operator"
    assert config["operator"]["leaderElection"]["leaseNamespace"] == helmrun.NAMESPACE
    assert config["operator"]["metricsAddress"] == "0.0.0.0:9100"
    assert config["api"]["listenAddress"] == "0.0.0.0:8080"
    assert config["api"]["oidc"]["console"]["clientId"] == "c1"


def test_a_config_change_rolls_the_pods(install, defaults):
    before = defaults
    after = install({"logging": {"level": "warn"}})

    def checksum(release):
        return release.one("Deployment", OPERATOR)["spec"]["template"]["metadata"]["annotations"][
            "checksum/config"
        ]

    assert checksum(before) != checksum(after)


def test_credentials_are_read_from_the_existing_secret_never_created(install):
    release = install({"credentials": {"existingSecret": "acme-upstreams"}})
    assert release.of_kind("Secret") == []
    assert "Secret" not in {d["kind"] for d in release.manifest}
    for deployment in (OPERATOR, API):
        volumes = {v["name"]: v for v in pod_spec(release, deployment)["volumes"]}
        assert volumes["credentials"]["secret"]["secretName"] == "acme-upstreams"
        main = container(release, deployment)
        mounts = {m["name"]: m for m in main["volumeMounts"]}
        assert mounts["credentials"]["mountPath"] == "/etc/dezky/secrets"
        assert mounts["credentials"]["readOnly"] is True
        assert "envFrom" not in main
        for env in main["env"]:
            assert "value" not in env, f"{deployment} sets {env['name']} to a literal value"
            assert "secretKeyRef" not in env.get("valueFrom", {}), env
    config_text = release.one("ConfigMap", "dezky-config")["data"]["config.yaml"]
    assert "acme-upstreams" in config_text  # named in a comment, for whoever reads the file


def test_every_pod_and_container_is_restricted(defaults):
    release = defaults
    for deployment in (OPERATOR, API):
        spec = pod_spec(release, deployment)
        pod = spec["securityContext"]
        assert pod["runAsNonRoot"] is True
        assert pod["runAsUser"] != 0
        assert pod["seccompProfile"] == {"type": "RuntimeDefault"}
        assert spec.get("hostNetwork", False) is False
        assert spec.get("hostPID", False) is False
        for c in spec["containers"] + spec.get("initContainers", []):
            sc = c["securityContext"]
            assert sc["runAsNonRoot"] is True
            assert sc["readOnlyRootFilesystem"] is True
            assert sc["allowPrivilegeEscalation"] is False
            assert sc["privileged"] is False
            assert sc["capabilities"] == {"drop": ["ALL"]}
            assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
            assert "memory" in c["resources"]["limits"]
        # the read-only root file system still gets a small writable /tmp
        volumes = {v["name"]: v for v in spec["volumes"]}
        assert volumes["tmp"]["emptyDir"]["sizeLimit"] == "16Mi"


def test_service_accounts_do_not_automount_but_the_pods_do(defaults):
    release = defaults
    for name in (OPERATOR, API):
        assert release.one("ServiceAccount", name)["automountServiceAccountToken"] is False
        spec = pod_spec(release, name)
        assert spec["serviceAccountName"] == name
        assert spec["automountServiceAccountToken"] is True


def test_pod_disruption_budgets_allow_one_pod_down(defaults):
    release = defaults
    for name in (OPERATOR, API):
        pdb = release.one("PodDisruptionBudget", name)
        assert pdb["spec"]["maxUnavailable"] == 1
        assert (
            pdb["spec"]["selector"]["matchLabels"]
            == release.one("Deployment", name)["spec"]["selector"]["matchLabels"]
        )


def test_replicas_spread_over_nodes_by_default(defaults):
    release = defaults
    affinity = pod_spec(release, OPERATOR)["affinity"]["podAntiAffinity"]
    term = affinity["preferredDuringSchedulingIgnoredDuringExecution"][0]["podAffinityTerm"]
    assert term["topologyKey"] == "kubernetes.io/hostname"
    assert term["labelSelector"]["matchLabels"]["app.kubernetes.io/component"] == "operator"


def test_notes_say_crds_are_kept_and_name_the_secret(install, defaults):
    release = defaults
    assert "dezky-upstream-credentials" in release.notes
    assert "keeps them" in release.notes
    assert "WARNING: no URL is set for authentik, stalwart, ocis" in release.notes
    configured = install(
        {
            "upstreams": {
                "authentik": {"url": "https://a.test"},
                "stalwart": {"url": "https://s.test"},
                "ocis": {"url": "https://o.test"},
            }
        }
    )
    assert "WARNING" not in configured.notes
