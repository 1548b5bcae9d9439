"""The five vendor contracts, loaded once, and validation against them.

Everything else in tokenmock (the mock, the reference client, the contract suites) reads the contracts
through this package, so data flows one way: openapi/ -> contracts -> mockserver and client.

`validate_response` loads on first use (PEP 562): a command that only needs the vendor list (`tokenmock
--help`) does not pay for the validators (jsonschema) it never runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tokenmock.contracts.errors import ContractError, SpecProblem, Violation
from tokenmock.contracts.loader import Operation, operation, operations, resolved_spec, spec, vendors
from tokenmock.contracts.register import Discrepancy, register

if TYPE_CHECKING:
    from tokenmock.contracts.validation import validate_response

__all__ = [
    "ContractError",
    "Discrepancy",
    "Operation",
    "SpecProblem",
    "Violation",
    "operation",
    "operations",
    "register",
    "resolved_spec",
    "spec",
    "validate_response",
    "vendors",
]


def __getattr__(name: str) -> Any:
    if name == "validate_response":
        from tokenmock.contracts.validation import validate_response

        return validate_response
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
