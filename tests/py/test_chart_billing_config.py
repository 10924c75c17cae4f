"""The chart's billing settings for the operator: Stripe's URL, the enabled flag, the trial and the
plans' price ids reach the configuration file in the shape the operator reads; wrong values are
refused by the schema."""

from __future__ import annotations

import helmrun
import pytest
from chartobjects import config_file


def test_billing_is_off_by_default_with_a_14_day_trial_ready(defaults):
    stripe = config_file(defaults)["upstreams"]["stripe"]
    assert stripe == {
        "enabled": False,
        "url": "https://api.stripe.com",
        "rateLimit": {"requestsPerSecond": 20, "maxInFlight": 4},
        "trialDays": 14,
    }
    plans = config_file(defaults)["plans"]
    assert {name: plan["stripePriceId"] for name, plan in plans.items()} == {
        "starter": "",
        "business": "",
        "enterprise": "",
    }


def test_billing_settings_reach_the_operator_configuration(install):
    release = install(
        {
            "upstreams": {
                "stripe": {"enabled": True, "url": "http://127.0.0.1:8420", "trialDays": 0}
            },
            "plans": {
                "business": {"stripePriceId": "price_1Business"},
                "enterprise": {"stripePriceId": "price_1Enterprise"},
            },
        }
    )
    config = config_file(release)
    assert config["upstreams"]["stripe"]["enabled"] is True
    assert config["upstreams"]["stripe"]["url"] == "http://127.0.0.1:8420"
    assert config["upstreams"]["stripe"]["trialDays"] == 0
    assert config["plans"]["business"]["stripePriceId"] == "price_1Business"
    assert config["plans"]["enterprise"]["stripePriceId"] == "price_1Enterprise"
    assert config["plans"]["starter"]["stripePriceId"] == ""
    text = release.one("ConfigMap", "dezky-config")["data"]["config.yaml"]
    assert "sk_" not in text and "whsec_" not in text


@pytest.mark.parametrize(
    "stripe",
    [{"trialDays": -1}, {"trialDays": "14"}, {"url": "stripe.com"}, {"enabled": "yes"}],
)
def test_wrong_billing_values_are_refused(install, stripe):
    with pytest.raises(helmrun.HelmRefused, match="schema"):
        install({"upstreams": {"stripe": stripe}})
