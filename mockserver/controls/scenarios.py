"""Canned answers: `Prefer: code=401` / `Prefer: example=<name>` (Prism's convention) and the body quirks
of the fault catalogue, both taken from or applied to what the contract documents."""

from __future__ import annotations

import copy
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


def named_examples(op: Operation) -> list[tuple[str, frozenset[str], int, str, Any]]:
    """The operation's response examples in document order: (name, its old names, status, media type, value).

    Old names come from `x-aliases`: examples renamed to say what they show (issue 17) keep the names
    tests and clients may already send in `Prefer: example=...`.
    """
    found = []
    for status, response in op.responses.items():
        if not status.isdigit():
            continue
        for media_type, media in (response.get("content") or {}).items():
            for name, example in (media.get("examples") or {}).items():
                if isinstance(example, dict) and "value" in example:
                    aliases = frozenset(example.get("x-aliases") or ())
                    found.append((name, aliases, int(status), media_type, example["value"]))
    return found


def documented_reply(
    op: Operation, vendor: Vendor, status: int | str | None = None, example: str | None = None
) -> Reply:
    """A documented response exactly as the contract shows it, headers included: the example named
    `example` (or one of its aliases), else the first example of `status`; PreferUnavailable otherwise."""
    examples = named_examples(op)
    code = None if status is None else str(status)
    candidates = [
        e for e in examples if (code is None or str(e[2]) == code) and (example is None or example in (e[0], *e[1]))
    ]
    if not candidates:
        codes = sorted({str(e[2]) for e in examples})
        names = sorted({e[0] for e in examples if str(e[2]) == code}) or sorted({e[0] for e in examples})
        raise PreferUnavailable(op.operation_id, codes, names)
    _, _, chosen_status, media_type, value = candidates[0]
    headers = dict(TOKEN_HEADERS) if chosen_status == 200 else {}
    for header_name, header in ((op.response(chosen_status) or {}).get("headers") or {}).items():
        value_of = _header_value(header, vendor, header_name)
        if value_of is not None:
            headers[header_name] = value_of
    return Reply(chosen_status, copy.deepcopy(value), headers, media_type)


def preferred(op: Operation, vendor: Vendor, prefer: Mapping[str, str]) -> Reply:
    """The documented response chosen by `Prefer`, or PreferUnavailable listing the valid choices."""
    return documented_reply(op, vendor, prefer.get("code"), prefer.get("example"))


def _header_value(header: Mapping[str, Any], vendor: Vendor, name: str) -> str | None:
    """A documented header's value: its example; else, where the header is required or is one of the
    token headers (RFC 6749 §5.1), the value it must have; an optional header without example is left out.
    Only WWW-Authenticate is required anywhere in the contracts: a challenge in the scheme its pattern names."""
    schema = header.get("schema") or {}
    example = header.get("example") or schema.get("example") or next(iter(schema.get("examples") or []), None)
    if example:
        return str(example)
    if name in TOKEN_HEADERS:
        return TOKEN_HEADERS[name]
    if not header.get("required"):
        return None
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
