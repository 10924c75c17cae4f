"""The chart's billing settings for the API server: Stripe's webhooks may write tenant status only
when billing is switched on, and the credentials stay in the existing Secret."""

from __future__ import annotations

from chartobjects import API, rules

NONE: tuple[str, ...] = ()


def test_api_server_writes_tenant_status_only_with_billing_on(install, defaults):
    assert not [key for key in rules(defaults, "ClusterRole", API) if key[1].endswith("/status")]
    release = install({"upstreams": {"stripe": {"enabled": True}}})
    flat = rules(release, "ClusterRole", API)
    status = {key: verbs for key, verbs in flat.items() if key[1].endswith("/status")}
    assert status == {("dezky.io", "tenants/status", NONE): {"get", "patch"}}


def test_billing_on_names_stripe_in_the_config_file_not_its_secrets(install):
    release = install({"upstreams": {"stripe": {"enabled": True, "url": "https://api.stripe.com"}}})
    config = release.one("ConfigMap", "dezky-config")["data"]["config.yaml"]
    assert "enabled: true" in config and "https://api.stripe.com" in config
    assert "credentialsDir: /etc/dezky/secrets" in config
    assert "whsec_" not in config and "sk_" not in config
