"""Shared fixtures of the Python tests."""

from __future__ import annotations

from pathlib import Path

import pytest

import helmrun
from kubeapi import KubeApi


@pytest.fixture
def install():
    """Install the chart with the given values into a fresh loopback API server per call,
    which already holds the `existing` objects.

    Returns a helmrun.Release; raises helmrun.HelmRefused when Helm refuses.
    """
    servers: list[KubeApi] = []

    def run(
        values: dict | None = None,
        chart: Path = helmrun.CHART,
        uninstall: bool = False,
        existing: list[dict] | None = None,
    ) -> helmrun.Release:
        api = KubeApi().__enter__()
        servers.append(api)
        for obj in existing or []:
            api.seed(obj)
        return helmrun.install(api, values, chart, uninstall)

    yield run
    for api in servers:
        api.__exit__(None, None, None)


@pytest.fixture(scope="session")
def defaults():
    """The chart installed once with its default values, shared read-only by the tests."""
    with KubeApi() as api:
        yield helmrun.install(api)
