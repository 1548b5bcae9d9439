"""Canned answers: `Prefer: code=401` / `Prefer: example=<name>` (Prism's convention) and the body quirks
of the fault catalogue, both taken from or applied to what the contract documents."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tokenmock.mockserver.pipeline.exchange import TOKEN_HEADERS, Reply

if TYPE_CHECKING:
    from tokenmock.contracts import Operation
    from tokenmock.mockserver.controls.faults import Fault
    from tokenmock.mockserver.vendors.base import Vendor


class PreferUnavailable(Exception):
    """`Prefer` asked for a response the operation does not document.

    Answered by the mock itself (400 with the valid choices), not in the vendor's shape: it is a
    control of the mock, and the vendor's contract need not document a 400 for it.
    """

    def __init__(self, operation_id: str, codes: list[str], examples: list[str]) -> None:
        super().__init__(f"{operation_id} documents no such response")
        self.reply = Reply(
            400,
            {
                "error": "invalid_prefer",
                "error_description": f"Prefer asks for a response {operation_id} does not document",
                "codes": codes,
                "examples": examples,
            },
        )


def parse_prefer(header: str | None) -> dict[str, str]:
    """`Prefer: code=401, example=expired_token` -> {"code": "401", "example": "expired_token"}."""
    found: dict[str, str] = {}
    for part in (header or "").replace(";", ",").split(","):
        name, eq, value = part.strip().partition("=")
        if eq and name.strip().lower() in ("code", "example"):
            found[name.strip().lower()] = value.strip().strip('"')
    return found


def preferred(op: Operation, vendor: Vendor, prefer: Mapping[str, str]) -> Reply:
    """The documented response chosen by `Prefer`, or PreferUnavailable listing the valid choices."""
    examples = list(op.examples())
    code, name = prefer.get("code"), prefer.get("example")
    candidates = [e for e in examples if (code is None or str(e[1]) == code) and (name is None or e[0] == name)]
    if not candidates:
        codes = sorted({str(e[1]) for e in examples})
        names = sorted({e[0] for e in examples if str(e[1]) == code}) or sorted({e[0] for e in examples})
        raise PreferUnavailable(op.operation_id, codes, names)
    _, status, media_type, value = min(candidates, key=lambda e: (e[0] != "documented", e[1]))
    headers = dict(TOKEN_HEADERS) if status == 200 else {}
    for header_name, header in ((op.response(status) or {}).get("headers") or {}).items():
        if header.get("required") and header_name not in headers:
            headers[header_name] = _header_value(header, vendor)
    return Reply(status, value, headers, media_type)


def _header_value(header: Mapping[str, Any], vendor: Vendor) -> str:
    """A value for a required header: its documented example, else a challenge in the scheme its
    pattern names (only WWW-Authenticate is required anywhere in the contracts)."""
    schema = header.get("schema") or {}
    example = header.get("example") or schema.get("example") or next(iter(schema.get("examples") or []), None)
    if example:
        return str(example)
    scheme = "Basic" if "Basic" in str(schema.get("pattern", "")) else "Bearer"
    return f'{scheme} realm="{vendor.realm}"'



def token_object(body: Any) -> dict[str, Any] | None:
    """The JSON object that carries `access_token` (the body, or a JSON:API item's attributes)."""
    if isinstance(body, dict):
        if "access_token" in body:
            return body
        for value in body.values():
            found = token_object(value)
            if found is not None:
                return found
    elif isinstance(body, list):
        for value in body[:5]:
            found = token_object(value)
            if found is not None:
                return found
    return None


def apply_quirk(reply: Reply, fault: Fault) -> Reply:
    """Bend a successful token reply the way the fault says; other replies pass unchanged."""
    if fault.kind == "wrong_content_type":
        reply.media_type = str(fault.params["content_type"])
        return reply
    if fault.kind == "malformed_json":
        text = json.dumps(reply.body, separators=(",", ":"))
        reply.body = text[: max(1, len(text) // 2)].encode()
        return reply
    target = token_object(reply.body) if reply.status == 200 else None
    if target is None:
        return reply
    if fault.kind == "token_type_case" and isinstance(target.get("token_type"), str):
        case = fault.params["case"]
        target["token_type"] = getattr(target["token_type"], case)()
    elif fault.kind == "expires_in_string" and "expires_in" in target:
        target["expires_in"] = str(target["expires_in"])
    elif fault.kind == "missing_expires_in":
        target.pop("expires_in", None)
    elif fault.kind == "extra_field":
        target["x_tokenmock_extra"] = {"note": "an unexpected field a client must ignore"}
    return reply
