"""Masking secrets before anything is logged or journaled: credentials, passwords and tokens."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

MASK = "***"
SENSITIVE_FIELDS = frozenset(
    {
        "client_secret",
        "password",
        "refresh_token",
        "access_token",
        "id_token",
        "token",
        "secret",
        "code",
        "assertion",
        "client_assertion",
        "cookie",
        "session",
        "admin_token",
        "client_key",
        "api_key",
        "apikey",
        "passwd",
        "pwd",
        "pin",
    }
)
SENSITIVE_HEADERS = frozenset({"cookie", "set-cookie", "x-admin-token", "proxy-authorization"})
# Parts of names that mark a secret: client_secret, X-Refresh-Token, x-api-key, credentials, ...
SENSITIVE_WORDS = ("secret", "password", "token", "key", "credential", "session", "auth")
# A JWT (or any JWS) wherever it turns up, whatever the field is called: header.payload.signature.
_JWS = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")


def is_sensitive(name: str) -> bool:
    """Whether a field name holds a secret (exact names, or anything with a word like secret or key in it)."""
    lowered = name.lower()
    return lowered in SENSITIVE_FIELDS or any(word in lowered for word in SENSITIVE_WORDS)


def mask_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Headers with credentials hidden; the auth scheme stays visible (`Basic ***`)."""
    masked: dict[str, str] = {}
    for name, value in headers.items():
        lowered = name.lower()
        if lowered == "authorization":
            scheme = value.strip().split(" ", 1)[0]
            masked[name] = f"{scheme} {MASK}" if " " in value.strip() else MASK
        elif lowered in SENSITIVE_HEADERS or is_sensitive(lowered):
            masked[name] = MASK
        else:
            masked[name] = _JWS.sub(MASK, value)
    return masked


def mask_data(data: Any) -> Any:
    """A body or query mapping with sensitive fields and token-shaped values replaced, recursively."""
    if isinstance(data, Mapping):
        return {k: (MASK if isinstance(k, str) and is_sensitive(k) else mask_data(v)) for k, v in data.items()}
    if isinstance(data, list):
        return [mask_data(v) for v in data]
    if isinstance(data, str):
        return _JWS.sub(MASK, data)
    return data
