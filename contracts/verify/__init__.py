"""`tokenmock verify`: hold any server (the mock, a vendor sandbox, your own implementation) to a vendor's
contract and documented behaviour, and say plainly what broke.

    tokenmock verify clickview --base-url http://127.0.0.1:8080/clickview --junit-xml verify.xml

`command` (the click command and its options), `diagnostics` (why a provider cannot be verified at all),
`target` (requests to the provider, readings in force, admin access), `profiles` (each vendor's
documented behaviour as data), `behaviour` (the registry of behaviour checks), `report` (text, JUnit XML,
masking). The schemathesis phases themselves are run by `tokenmock.contracts.checks`.
"""

from __future__ import annotations

from tokenmock.contracts.verify.command import CREDENTIALS, demo_credentials, verify

__all__ = ["CREDENTIALS", "demo_credentials", "verify"]
