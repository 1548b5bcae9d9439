"""The five vendor contracts, loaded once, and validation against them.

Everything else in tokenmock (the mock, the reference client, the contract suites) reads the contracts
through this package, so data flows one way: openapi/ -> contracts -> mockserver and client.
"""

from tokenmock.contracts.errors import ContractError, SpecProblem, Violation
from tokenmock.contracts.loader import Operation, operation, operations, resolved_spec, spec, vendors
from tokenmock.contracts.register import Discrepancy, register
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
