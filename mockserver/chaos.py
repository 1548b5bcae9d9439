"""Chaos mode: every request answered by a draw (valid, documented error or hostile), reproducible by seed.

`tokenmock serve --chaos SEED` fuzzes clients written in any language over HTTP. The n-th request gets
the n-th draw of a `random.Random(SEED)`, so two runs that send the same requests in the same order see
the same sequence; each draw is recorded in the journal (`fault: "chaos:<category>:<name>"`).

The categories mirror `contracts.strategies`: the server's real answer (a genuine token the client can
use), a documented error example of the operation, a hostile body (wrong types, missing or extra
fields, absurd numbers, HTML, empty, redirect) or a wire fault from the fault catalogue.
"""

from __future__ import annotations

import copy
import random
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mockserver.exchange import Reply
from mockserver.scenarios import token_object

if TYPE_CHECKING:
    from contracts import Operation

HTML_PAGE = b"<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>"

# Hostile bodies: (name, how the real token payload is bent). Names are recorded in the journal.
_BODY_MUTATIONS = (
    "expires_in_string",
    "expires_in_negative",
    "expires_in_huge",
    "access_token_number",
    "missing_access_token",
    "missing_expires_in",
    "extra_fields",
    "token_type_case",
    "null_body",
    "array_body",
)
_RAW_BODIES = ("html_error_page", "empty_body", "truncated_json", "wrong_content_type", "redirect")
_WIRE = ("connection_reset", "empty_response", "truncated_body", "slow_drip")


@dataclass
class Draw:
    """What one request gets: the category, a name for the journal, and how to build the reply."""

    category: str
    name: str
    example: tuple[int, str, Any] | None = None  # (status, media type, body) of a documented error
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"chaos:{self.category}:{self.name}"


class Chaos:
    """A seeded source of draws, shared by every request of the server (one lock, one sequence)."""

    def __init__(self, seed: int, weights: tuple[float, float, float, float] = (0.4, 0.25, 0.2, 0.15)) -> None:
        self.seed = seed
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self.weights = weights

    def draw(self, op: Operation) -> Draw:
        """The next draw for a request to `op`."""
        errors = [(status, media, value) for _, status, media, value in op.examples() if status >= 400]
        with self._lock:
            category = self._rng.choices(("valid", "error", "hostile", "wire"), self.weights)[0]
            if category == "error" and not errors:
                category = "hostile"
            if category == "valid":
                return Draw("valid", "real")
            if category == "error":
                return Draw("error", "documented", example=self._rng.choice(errors))
            if category == "hostile":
                return Draw("hostile", self._rng.choice(_BODY_MUTATIONS + _RAW_BODIES))
            name = self._rng.choice(_WIRE)
            params = {"chunk_bytes": 16, "interval_ms": 50} if name == "slow_drip" else {}
            return Draw("wire", name, params=params)


def bend(reply: Reply, draw: Draw) -> Reply:
    """The reply a draw asks for, built from the server's real reply where it bends one."""
    if draw.category == "valid":
        return reply
    if draw.category == "error":
        assert draw.example is not None
        status, media_type, value = draw.example
        return Reply(status, copy.deepcopy(value), {}, media_type)
    if draw.category == "wire":
        reply.wire, reply.wire_params = draw.name, dict(draw.params)
        return reply
    return _hostile(reply, draw.name)


def _hostile(reply: Reply, name: str) -> Reply:
    if name == "html_error_page":
        return Reply(502, HTML_PAGE, {}, "text/html; charset=utf-8")
    if name == "empty_body":
        return Reply(200, b"", {}, "application/json")
    if name == "truncated_json":
        return Reply(200, b'{"access_token": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOi', {}, "application/json")
    if name == "wrong_content_type":
        reply.media_type = "text/plain"
        return reply
    if name == "redirect":
        return Reply(302, b"", {"Location": "http://127.0.0.1:9/elsewhere"}, "text/plain")
    if name == "null_body":
        return Reply(200, b"null", {}, "application/json")
    if name == "array_body":
        return Reply(200, [reply.body], {}, "application/json")
    target = token_object(reply.body)
    if target is None:  # an error reply: break its shape instead
        return Reply(reply.status, {"unexpected": True}, {}, "application/json")
    if name == "expires_in_string":
        target["expires_in"] = str(target.get("expires_in", 3600))
    elif name == "expires_in_negative":
        target["expires_in"] = -3600
    elif name == "expires_in_huge":
        target["expires_in"] = 10**30
    elif name == "access_token_number":
        target["access_token"] = 12345
    elif name == "missing_access_token":
        target.pop("access_token", None)
    elif name == "missing_expires_in":
        target.pop("expires_in", None)
    elif name == "extra_fields":
        target.update({"x_extra": {"nested": [1, 2, 3]}, "token_type_hint": None})
    elif name == "token_type_case" and isinstance(target.get("token_type"), str):
        target["token_type"] = target["token_type"].swapcase()
    return reply
