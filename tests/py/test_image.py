"""The Dockerfile builds the image the chart expects: binary path, user and ports agree.

No container engine runs on the test machine, so the image is not built here; what is checked is
that the two files describe the same image, so changing one without the other fails.
"""

from __future__ import annotations

import pathlib
import re

from chartobjects import API, OPERATOR, container, pod_spec

ROOT = pathlib.Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def final_stage() -> list[str]:
    """The instructions of the last stage (what the image runs), without comments."""
    stages = re.split(r"(?m)^FROM ", DOCKERFILE)
    return [
        line.strip()
        for line in stages[-1].splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]


def instruction(name: str) -> list[str]:
    return [line.split(None, 1)[1] for line in final_stage() if line.split()[0] == name]


def test_the_image_runs_the_binary_the_chart_calls(defaults):
    (entrypoint,) = instruction("ENTRYPOINT")
    assert entrypoint == '["/usr/local/bin/dezky"]'
    assert any(c.endswith(" /usr/local/bin/dezky") for c in instruction("COPY"))
    for deployment, subcommand in [(OPERATOR, "operator"), (API, "api")]:
        c = container(defaults, deployment)
        argv = c.get("command", []) + c.get("args", [])
        assert argv[0] in ("/usr/local/bin/dezky", subcommand), argv
        assert subcommand in argv, argv


def test_the_image_user_is_the_one_the_chart_runs_as(defaults):
    (user,) = instruction("USER")
    uid, _, gid = user.partition(":")
    for deployment in (OPERATOR, API):
        pod = pod_spec(defaults, deployment)
        ctx = {
            **pod.get("securityContext", {}),
            **container(defaults, deployment).get("securityContext", {}),
        }
        assert str(ctx["runAsUser"]) == uid, (deployment, ctx)
        assert ctx["runAsNonRoot"] is True
        if "runAsGroup" in ctx:
            assert str(ctx["runAsGroup"]) == gid


def test_the_image_exposes_the_ports_the_chart_names(defaults):
    exposed = {int(p) for line in instruction("EXPOSE") for p in line.split()}
    for deployment in (OPERATOR, API):
        for port in container(defaults, deployment)["ports"]:
            assert port["containerPort"] in exposed, (deployment, port)


def test_the_build_uses_the_locked_dependencies_and_a_supported_toolchain():
    cargo = (ROOT / "Cargo.toml").read_text()
    msrv = re.search(r'rust-version = "(\d+)\.(\d+)"', cargo)
    builder = re.search(r"(?m)^FROM \S*rust:(\d+)\.(\d+)\S* AS build", DOCKERFILE)
    assert msrv and builder
    assert tuple(map(int, builder.groups())) >= tuple(map(int, msrv.groups()))
    assert "--locked" in DOCKERFILE


def test_build_context_leaves_out_local_state():
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert "target/" in ignored and ".dezky/" in ignored
