"""Errors raised by the contracts package: one root, two kinds."""

from __future__ import annotations


class ContractError(Exception):
    """Root of every error the contracts package raises."""


class SpecProblem(ContractError):
    """A contract file is missing, unreadable or inconsistent (a defect of openapi/, not of a server)."""


class Violation(ContractError):
    """A payload breaks a contract; names the field (a JSON pointer) and the rule broken."""

    def __init__(
        self,
        message: str,
        *,
        vendor: str,
        operation_id: str,
        rule: str,
        field: str = "",
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.vendor = vendor
        self.operation_id = operation_id
        self.rule = rule
        self.field = field
        self.status = status

    def __str__(self) -> str:
        where = f" at {self.field}" if self.field else ""
        return f"{self.vendor}.{self.operation_id}: {self.rule}{where}: {self.message}"
