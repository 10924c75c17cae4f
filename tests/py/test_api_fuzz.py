"""Fuzz the Dezky API from its own OpenAPI document with schemathesis, as every role.

A fresh `dezky dev --random-ports` (devcluster, the simulators, the operator and the API server,
with the examples applied) serves the API. One person per role in dev.json (a platform operator,
a tenant admin, a member, partner staff) signs in at the Authentik simulator the way the web UI
does (authorization code + PKCE at the console's or the portal's client), and schemathesis sends
generated valid and invalid requests to every operation with that person's bearer token, and
with none. Every answer must be: no 5xx; a 4xx is `application/problem+json` with the RFC 9457
fields; status code, content type, headers and body as documented; a request that fits the
document is never refused as malformed.

Deterministic and bounded: generation is deterministic and the examples per operation are
capped, so CI sends the same requests on every run. Needs the `dezky` binary (`cargo build`);
set DEZKY_BIN to use another one.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import schemathesis

REPO = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("DEZKY_BIN", REPO / "target" / "debug" / "dezky"))
START_TIMEOUT = 120

PROBLEM_FIELDS = ("type", "title", "status", "detail")


@dataclass(repr=False)
class Platform:
    """A running `dezky dev`: its API URL and what dev.json says (passwords: never shown)."""

    api: str
    dev: dict

    def __repr__(self) -> str:
        return f"Platform(api={self.api!r})"

    def user(self, role: str, tenant: str | None = None) -> dict:
        for u in self.dev["users"]:
            if u["role"] == role and (tenant is None or u["tenant"] == tenant):
                return u
        raise LookupError(f"dev.json has no {role} user")


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def sign_in(platform: Platform, username: str, password: str, audience: str) -> str:
    """An access token for the console's or the portal's client, by the browser's flow: log in
    at the Authentik simulator, authorize with PKCE, exchange the code."""
    oidc = platform.dev["oidc"][audience]
    issuer = oidc["issuer"]
    discovery = requests.get(f"{issuer}.well-known/openid-configuration", timeout=10).json()
    authentik = platform.dev["upstreams"]["authentik"]["url"]
    session = requests.Session()
    login = session.post(
        f"{authentik}/if/flow/default-authentication-flow/",
        data={"username": username, "password": password, "next": "/"},
        allow_redirects=False,
        timeout=10,
    )
    assert login.status_code == 302, f"{username} could not log in at Authentik: {login.status_code}"
    verifier, challenge = _pkce()
    redirect_uri = f"{platform.api}/ui/callback"
    state = secrets.token_urlsafe(16)
    answer = session.get(
        discovery["authorization_endpoint"],
        params={
            "client_id": oidc["clientId"],
            "redirect_uri": redirect_uri,
            "response_type": "code",
            "scope": "openid email profile groups",
            "state": state,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        },
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 302, f"authorize for {username}: {answer.status_code}"
    query = parse_qs(urlsplit(answer.headers["location"]).query)
    assert query.get("state") == [state]
    token = requests.post(
        discovery["token_endpoint"],
        data={
            "grant_type": "authorization_code",
            "code": query["code"][0],
            "redirect_uri": redirect_uri,
            "client_id": oidc["clientId"],
            "code_verifier": verifier,
        },
        timeout=10,
    )
    assert token.status_code == 200, f"token for {username}: {token.status_code}"
    return token.json()["access_token"]


@pytest.fixture(scope="module")
def platform():
    """`dezky dev --random-ports` in a fresh state directory, up until the module ends."""
    if not BIN.exists():
        pytest.fail(f"{BIN} is missing: run `cargo build` first (or set DEZKY_BIN)")
    with tempfile.TemporaryDirectory(prefix="dezky-fuzz-") as state:
        log = open(Path(state) / "dev.log", "w+b")  # noqa: SIM115 - closed below
        child = subprocess.Popen(
            [str(BIN), "dev", "--random-ports", "--state-dir", state],
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            dev_json = Path(state) / "dev.json"
            deadline = time.monotonic() + START_TIMEOUT
            while not dev_json.exists():
                if child.poll() is not None:
                    log.seek(0)
                    pytest.fail(f"dezky dev exited with {child.returncode}:\n{log.read().decode()}")
                if time.monotonic() > deadline:
                    pytest.fail(f"dezky dev did not write dev.json within {START_TIMEOUT} s")
                time.sleep(0.2)
            time.sleep(0.2)  # written in one go, but give the writer a moment to close it
            dev = json.loads(dev_json.read_text())
            yield Platform(api=dev["api"], dev=dev)
        finally:
            child.send_signal(signal.SIGINT)
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
            log.close()


@dataclass(frozen=True)
class Role:
    """A caller the fuzz run acts as, and how hard it is fuzzed."""

    id: str
    # the role in dev.json and its tenant or partner; None sends no token at all
    who: str | None
    scope: str | None
    # the OIDC client it signs in at
    audience: str | None
    phases: str
    max_examples: int
    # path parameters held at the caller's own tenant or partner, so that the generated requests
    # reach past the authorization check into what the caller may do
    pinned: tuple[tuple[str, str], ...] = ()


# In this order, so that each acts on the examples as `dezky dev` left them as far as it matters:
# partner staff (who may suspend the tenant acme, a customer of theirs) after acme's admin, and
# the operator, who can change everything, last. Callers refused nearly everywhere need fewer examples; the
# coverage phase (every documented boundary and every way to break it, the same for every caller
# since parameters are checked before the token) runs once, as the caller who reaches the most.
ROLES = [
    Role("anonymous", None, None, None, "examples,fuzzing", 1),
    Role("member", "member", "acme", "portal", "examples,fuzzing", 3, (("tenant", "acme"),)),
    Role("tenant-admin", "admin", "acme", "portal", "examples,fuzzing", 6, (("tenant", "acme"),)),
    Role(
        "partner-staff",
        "partner",
        "northwind",
        "portal",
        "examples,fuzzing",
        3,
        (("partner", "northwind"),),
    ),
    Role("operator", "operator", None, "console", "examples,coverage,fuzzing", 6),
]


class Tokens(dict):
    """Access tokens by role id; never shown (pytest prints fixtures of a failed test)."""

    def __repr__(self) -> str:
        return f"Tokens({sorted(self)}, values hidden)"


@pytest.fixture(scope="module")
def tokens(platform) -> Tokens:
    """Every role's access token, signed in before any fuzzing (which resets passwords)."""
    signed_in = Tokens()
    for role in ROLES:
        if role.who is not None:
            user = platform.user(role.who, role.scope)
            signed_in[role.id] = sign_in(platform, user["username"], user["password"], role.audience)
    return signed_in


# Statuses a request that fits the document may get: besides success, a header may not verify
# (400 naming it: the Stripe webhook's signature, see `documented_requests_parse`), the caller's
# role may not allow it (401, 403), the named object may not exist (404), it may conflict with the
# current state (409, 410), or a value may break a rule the document cannot state or the
# Kubernetes API may refuse the resource (422 naming the field).
VALID_REQUEST_STATUSES = ["2xx", "400", "401", "403", "404", "409", "410", "422"]
# A request without a required header (the Stripe webhook's signature) is refused as malformed
# (400), or not found where the endpoint is not served (404: `dezky dev` runs without billing).
MISSING_HEADER_STATUSES = ["400", "401", "403", "404", "406", "415", "422"]


def _problem(response) -> dict | None:
    try:
        body = json.loads(response.content or b"null")
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _fits_the_document(case) -> bool:
    meta = getattr(case, "meta", None)
    if meta is None:
        return False
    return meta.generation.mode.is_positive and all(
        c.mode.is_positive for c in meta.components.values()
    )


@schemathesis.check
def documented_requests_parse(ctx, response, case):
    """A request that fits the document is never refused as malformed (400): its body
    deserializes and its parameters pass the server's rules. A rule the document cannot state
    (an address on the partner's own domain, a partner that exists) is a 422, not a 400; the one
    400 a fitting request may get names a header whose value cannot be checked from the document
    (a Stripe signature that does not verify)."""
    if response.status_code != 400 or not _fits_the_document(case):
        return
    problem = _problem(response) or {}
    fields = {e.get("field") for e in problem.get("errors", []) if isinstance(e, dict)}
    headers = {p.name for p in case.operation.iter_parameters() if p.location == "header"}
    if not fields or not fields <= headers:
        raise AssertionError(
            f"a request that fits the document was refused as malformed: {problem.get('detail')!r}"
        )


@schemathesis.check
def problem_details(ctx, response, case):
    """Every 4xx is an RFC 9457 problem+json document whose status is the answer's."""
    if not 400 <= response.status_code < 500:
        return
    ctype = response.headers.get("content-type", [""])
    ctype = ctype[0] if isinstance(ctype, list) else ctype
    if not ctype.startswith("application/problem+json"):
        raise AssertionError(f"a {response.status_code} answered as {ctype!r}, not application/problem+json")
    body = _problem(response)
    if body is None:
        raise AssertionError(f"a problem that is not a JSON object: {response.content[:200]!r}")
    missing = [f for f in PROBLEM_FIELDS if not isinstance(body.get(f), str | int)]
    if missing:
        raise AssertionError(f"a problem without {missing}: {body!r}")
    if body["status"] != response.status_code:
        raise AssertionError(f"the problem says {body['status']}, the answer {response.status_code}")


def run_schemathesis(
    platform: Platform, role: Role, token: str | None, workdir: Path
) -> subprocess.CompletedProcess:
    """`schemathesis run` over every operation of the served document, as one caller."""
    config = workdir / "schemathesis.toml"
    # the token reaches schemathesis through its environment, never through a file or its arguments
    headers = '[headers]\nAuthorization = "Bearer ${DEZKY_FUZZ_TOKEN}"\n' if token else ""
    # an event stream never ends by itself: read its first events, then let go
    pinned = "".join(f'"path.{name}" = "{value}"\n' for name, value in role.pinned)
    config.write_text(
        "max-stream-events = 1\n"
        f"{headers}"
        f"[parameters]\n{pinned}"
        "[checks.positive_data_acceptance]\n"
        f"expected-statuses = {json.dumps(VALID_REQUEST_STATUSES)}\n"
        "[checks.missing_required_header]\n"
        f"expected-statuses = {json.dumps(MISSING_HEADER_STATUSES)}\n"
    )
    args = [
        str(Path(sys.executable).parent / "schemathesis"),
        "--config-file",
        str(config),
        "run",
        f"{platform.api}/api/openapi.json",
        "--checks",
        "all",
        # reads come from a watch-fed cache and deletions wait for the operator's finalizer, so
        # "gone right after DELETE" and "there right after POST" would only test timing
        "--exclude-checks",
        "use_after_free,ensure_resource_availability",
        "--max-examples",
        str(role.max_examples),
        "--generation-deterministic",
        "--phases",
        role.phases,
        # one worker: Python 3.11's parser (Hypothesis reads lambdas' sources) is not thread-safe
        "--workers",
        "1",
        "--request-timeout",
        "20",
        "--no-color",
        "--output-truncate",
        "true",
        "--report",
        "junit",
        "--report-dir",
        str(workdir),
    ]
    env = dict(
        os.environ,
        SCHEMATHESIS_HOOKS=Path(__file__).stem,
        PYTHONPATH=os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")]),
    )
    if token:
        env["DEZKY_FUZZ_TOKEN"] = token
    return subprocess.run(args, cwd=workdir, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("role", ROLES, ids=[r.id for r in ROLES])
def test_no_5xx_and_answers_as_documented(platform, tokens, role, tmp_path):
    run = run_schemathesis(platform, role, tokens.get(role.id), tmp_path)
    output = run.stdout + run.stderr
    code = run.returncode
    assert code == 0, f"schemathesis found problems as {role.id}:\n{output}"
    # it did test every operation (a run that tested nothing would pass too)
    selected = re.search(r"Selected: (\d+)/(\d+)", output)
    tested = re.search(r"Tested: (\d+)", output)
    assert selected and tested, output
    assert int(tested.group(1)) == int(selected.group(2)) > 0, output
    print(output[output.find("SUMMARY") :])  # shown with `pytest -s`: what was tested, warnings
