"""The mock honours every contract: schemathesis runs each vendor's spec against it in-process (WSGI).

Every built-in check, positive and negative data, all phases (documented examples, coverage, fuzzing,
stateful chains through the contract's links), the demo credentials supplied so that requests get past
authentication. The mock runs in the readings the contract encodes, so that a lenient default does not
contradict negative_data_rejection. Checks that contradict a documented vendor behaviour are excluded
for that vendor only, in `tokenmock.contracts.checks.EXCLUDED_CHECKS`, each with the entry that documents it.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import settings

from tests.suites.conftest import contract_app
from tokenmock import contracts
from tokenmock.contracts import checks
from tokenmock.contracts.checks import Report
from tokenmock.contracts.verify import demo_credentials
from tokenmock.mockserver.pipeline.exchange import Call, Reply
from tokenmock.mockserver.vendors.vision10 import Vision10

# Schemathesis examples per operation for each example of the active hypothesis profile: `ci` (40)
# gives 120; `--hypothesis-profile thorough` gives 3000. Measured under seed 0 (docs/performance.md, "The
# test suite"): 200 cost 1.7 times the CPU of 120 and added longer repeats of the same chains; 80 held
# every assertion below with the newest libraries but missed AminoTV's links with the lowest allowed
# (`tox -e mindeps`), which 120 follows.
EXAMPLES_PER_PROFILE_EXAMPLE = 3
# The fewest examples that still walk every vendor's links (a token, its refresh, the resource): the `dev`
# profile's 20 would give 60, which misses Dive's and AminoTV's refresh chains under seed 0.
MIN_EXAMPLES = 120


# The runs are seeded under every profile, so that what they cover (every link followed...) is the same
# on every machine and in every test order (the draws themselves do not depend on what the process
# imported: contracts.reproducible). TOKENMOCK_CONTRACT_SEED explores another seed.
CONTRACT_SEED = int(os.environ.get("TOKENMOCK_CONTRACT_SEED", "0"))


def contract_run(vendor: str, examples: int | None = None) -> Report:
    """Run every check against a fresh mock of `vendor`, under CONTRACT_SEED."""
    profile = settings()  # the active profile (ci, dev, thorough...)
    return checks.run(
        vendor,
        app=contract_app(vendor),
        credentials=demo_credentials(vendor),
        max_examples=examples or max(MIN_EXAMPLES, profile.max_examples * EXAMPLES_PER_PROFILE_EXAMPLE),
        seed=CONTRACT_SEED,
    )


@pytest.fixture(scope="module", params=contracts.vendors())
def report(request: pytest.FixtureRequest) -> Report:
    """One full run per vendor, shared by the assertions below."""
    return contract_run(request.param)


def test_no_check_fails(report: Report) -> None:
    assert report.ok, f"{report.vendor} breaks its contract:\n{report.summary()}"


def test_every_enabled_check_ran(report: Report) -> None:
    excluded = set(checks.EXCLUDED_CHECKS.get(report.vendor, {}))
    assert set(report.checks_run) == set(checks.BUILTIN_CHECKS) - excluded


def test_both_kinds_of_data_were_sent(report: Report) -> None:
    """Positive cases reached the handlers (2xx) and negative ones were refused (4xx), per operation."""
    for op in contracts.operations(report.vendor):
        statuses = report.statuses(op.operation_id)
        assert any(200 <= s < 300 for s in statuses), f"{op.operation_id} never succeeded: {sorted(statuses)}"
        assert any(400 <= s < 500 for s in statuses), f"{op.operation_id} never refused: {sorted(statuses)}"


def test_every_phase_ran(report: Report) -> None:
    """The examples phase sends the contract's request examples, so it runs where there are some."""
    phases = {phase for (_, phase, _) in report.responses}
    assert {"coverage", "fuzzing", "stateful"} <= phases
    examples = [
        media.get("examples")
        for op in contracts.operations(report.vendor)
        for media in ((op.definition.get("requestBody") or {}).get("content") or {}).values()
    ]
    assert ("examples" in phases) == any(examples)


def test_every_link_of_the_contract_was_followed(report: Report) -> None:
    """Each link (token -> resource, token -> refresh...) was followed with both steps answering 2xx."""
    followed = {pair for chain in report.chains for pair in itertools.pairwise(chain)}
    for op in contracts.operations(report.vendor):
        for link in ((op.responses.get("200") or {}).get("links") or {}).values():
            assert (op.operation_id, link["operationId"]) in followed, sorted(followed)
    assert report.link_tokens_used > 0, "no request carried a token a link extracted"


# (refresh operation, protected resource) of the vendors with a refresh flow.
REFRESH_CHAINS = {
    "divetv": ("issueToken", "getProtectedResource"),
    "aminotv": ("createAccessToken", "getChannelStreams"),
}


def test_token_refresh_resource_chains(report: Report) -> None:
    """token -> refresh -> protected resource, every step 2xx, wherever a link passes a refresh token."""
    refreshes = any(
        "requestBody" in link
        for op in contracts.operations(report.vendor)
        for link in ((op.responses.get("200") or {}).get("links") or {}).values()
    )
    assert refreshes == (report.vendor in REFRESH_CHAINS)
    if report.vendor in REFRESH_CHAINS:
        refresh, resource = REFRESH_CHAINS[report.vendor]
        issued = {op for (op, _, status) in report.responses if status == 200}
        assert any(_contains(chain, (token, refresh, resource)) for chain in report.chains for token in issued), sorted(
            report.chains
        )


def _contains(chain: tuple[str, ...], wanted: tuple[str, ...]) -> bool:
    return any(chain[i : i + len(wanted)] == wanted for i in range(len(chain) - len(wanted) + 1))


# A handler that drifts from its contract is caught by the same run.

DRIFTS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "wrong_type": lambda body: {**body, "expires_in": str(body["expires_in"])},
    "missing_field": lambda body: {k: v for k, v in body.items() if k != "access_token"},
}


@pytest.mark.parametrize("drift", DRIFTS)
def test_a_drifting_handler_is_caught(drift: str, monkeypatch: pytest.MonkeyPatch) -> None:
    honest = Vision10.get_access_token

    def drifting(self: Vision10, call: Call) -> Reply:
        reply = honest(self, call)
        if reply.status == 200:
            reply.body = DRIFTS[drift](reply.body)
        return reply

    monkeypatch.setattr(Vision10, "get_access_token", drifting)
    report = contract_run("vision10", examples=10)
    caught = {(f.operation, f.check) for f in report.findings}
    assert ("POST /v1/api/oauth/token", "response_schema_conformance") in caught, report.summary()
    assert "expires_in" in report.summary() or "access_token" in report.summary()
