"""`tokenmock verify`: hold any server (the mock, a vendor sandbox, your own implementation) to a vendor's
contract and documented behaviour, and say plainly what broke.

    tokenmock verify clickview --base-url http://127.0.0.1:8080/clickview --junit-xml verify.xml

`command` (the click command and its options), `diagnostics` (why a provider cannot be verified at all),
`target` (requests to the provider, readings in force, admin access), `profiles` (each vendor's
documented behaviour as data), `behaviour` (the registry of behaviour checks), `report` (text, JUnit XML,
masking). The schemathesis phases themselves are run by `tokenmock.contracts.checks`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tokenmock.contracts.verify.command import CREDENTIALS, verify

if TYPE_CHECKING:
    from tokenmock.contracts.verify.target import demo_credentials

__all__ = ["CREDENTIALS", "demo_credentials", "verify"]


def __getattr__(name: str) -> Any:
    # `demo_credentials` brings the HTTP client (requests): loaded when asked for, not with the command line.
    if name == "demo_credentials":
        from tokenmock.contracts.verify.target import demo_credentials

        return demo_credentials
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
