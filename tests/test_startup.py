"""Start-up loads only what a command needs (issue 23 #7): the modules each command imports, asserted in
a fresh interpreter. How long a start takes is a benchmark's business (benchmarks/startup.py), not a test's.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.ports import free_port
from tokenmock.cli import main

# What `tokenmock --help` must never pay for: the contract suites' engines, the mock and its server, the
# HTTP client, the validators, the token library.
HEAVY = ("schemathesis", "hypothesis", "requests", "urllib3", "jsonschema", "flask", "werkzeug", "gunicorn",
         "jwt", "cryptography", "prometheus_client", "redis", "openapi_spec_validator", "trustme")
# A token fetched with the reference client needs requests and the contract's validator, nothing of these.
NOT_FOR_A_TOKEN = ("schemathesis", "hypothesis", "flask", "werkzeug", "gunicorn", "jwt", "cryptography",
                   "prometheus_client", "redis", "openapi_spec_validator")

PROBE = """
import json, sys
from tokenmock.cli import main
sys.argv = ["tokenmock", *json.loads(sys.argv[1])]
try:
    main()
except SystemExit:
    pass
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})), file=sys.stderr)
"""


def loaded_by(*argv: str) -> set[str]:
    """The top-level modules a `tokenmock` command line has imported by its end (a fresh interpreter)."""
    done = subprocess.run([sys.executable, "-c", PROBE, json.dumps(argv)], capture_output=True, text=True,
                          timeout=120, check=False)
    return set(json.loads(done.stderr.strip().splitlines()[-1]))


# Every command's help, so a command added later is held to the same line.
HELP = [("--help",), ("--version",), *((name, "--help") for name in sorted(main.commands))]


@pytest.mark.parametrize("argv", HELP, ids=" ".join)
def test_help_loads_no_heavy_module(argv: tuple[str, ...]) -> None:
    assert loaded_by(*argv) & set(HEAVY) == set()


def test_a_token_request_loads_neither_the_mock_nor_the_suites() -> None:
    # Nothing listens on the port: the client fails fast, having imported all it needs for a request.
    loaded = loaded_by("token", "clickview", "--base-url", f"http://127.0.0.1:{free_port()}/clickview",
                       "--client-id", "demo-client", "--client-secret", "demo-secret", "--timeout", "1")
    assert "requests" in loaded  # it did get as far as a request
    assert loaded & set(NOT_FOR_A_TOKEN) == set()


def test_the_mock_without_chaos_loads_neither_schemathesis_nor_hypothesis() -> None:
    probe = ("import json, sys\nfrom tokenmock.mockserver import create_app\n"
             "create_app({}).test_client().get('/')\n"
             "print(json.dumps(sorted({n.split('.')[0] for n in sys.modules})))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    loaded = set(json.loads(done.stdout.strip().splitlines()[-1]))
    assert "flask" in loaded
    assert loaded & {"schemathesis", "hypothesis", "redis", "openapi_spec_validator"} == set()
