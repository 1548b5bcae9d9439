"""Masking secrets before anything is logged or journaled: credentials, passwords and tokens.

Two rules, applied together. By name: a field or header called like a secret is masked whatever it holds.
By value: wherever a value the mock knows to be secret turns up (a configured or registered secret,
password or session, a token shaped like the ones the mock issues), in any header, field, query or path,
raw or URL-encoded, it is masked too: a JunctionTV token pasted into a Referer is not named like one.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, quote_plus

from tokenmock.mockserver.tokens import OPAQUE_TOKEN

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
        "pass",
        "passphrase",
    }
)
SENSITIVE_HEADERS = frozenset({"cookie", "set-cookie", "x-admin-token", "proxy-authorization"})
# Parts of names that mark a secret: client_secret, X-Refresh-Token, x-api-key, credentials, Cookie2, ...
SENSITIVE_WORDS = ("secret", "password", "token", "key", "credential", "session", "auth", "cookie")
# A JWT (or any JWS) wherever it turns up, whatever the field is called: header.payload.signature.
_JWS_TEXT = r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"
_JWS = re.compile(_JWS_TEXT)
# Known secret values shorter than this are not masked by value (a one-letter secret would mask every
# occurrence of that letter); they are still masked wherever they sit in a field named like a secret.
MIN_SECRET_LENGTH = 4


@functools.lru_cache(maxsize=32)
def secret_pattern(known: frozenset[str]) -> re.Pattern[str]:
    """One pattern for every token shape the mock issues and every known secret value, raw and in the
    URL encodings a Referer, a query or a form carries it in; longest first, so a secret that contains
    another is masked whole."""
    variants = {form for value in known if len(value) >= MIN_SECRET_LENGTH for form in _encodings(value)}
    literals = sorted(variants, key=len, reverse=True)
    return re.compile("|".join([_JWS_TEXT, OPAQUE_TOKEN, *map(re.escape, literals)]))


def _encodings(value: str) -> tuple[str, ...]:
    return (value, quote(value, safe=""), quote(value), quote_plus(value))


def known_secret_values(settings: Mapping[str, Any], records: Iterable[Mapping[str, Any]] = ()) -> set[str]:
    """Every value a configuration holds under a secret-like name: strings, strings in a list, and the keys
    of a mapping (which maps a secret to what it grants, as AminoTV's `sessions` does)."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, Mapping):
            for key, value in node.items():
                if isinstance(key, str) and is_sensitive(key):
                    take(value)
                else:
                    walk(value)
        elif isinstance(node, list | tuple):
            for item in node:
                walk(item)

    def take(value: Any) -> None:
        if isinstance(value, str):
            found.add(value)
        elif isinstance(value, list | tuple):
            found.update(item for item in value if isinstance(item, str))
        elif isinstance(value, Mapping):
            found.update(key for key in value if isinstance(key, str))

    walk(settings)
    for record in records:
        walk(record)
    return found


def is_sensitive(name: str) -> bool:
    """Whether a field name holds a secret (exact names, or anything with a word like secret or key in it)."""
    lowered = name.lower()
    return lowered in SENSITIVE_FIELDS or any(word in lowered for word in SENSITIVE_WORDS)


def mask_text(text: str, pattern: re.Pattern[str] | None = None) -> str:
    """`text` with every token-shaped or known secret value in it replaced (JWS shapes only without a
    `secret_pattern`)."""
    return (pattern or _JWS).sub(MASK, text)


def mask_headers(headers: Mapping[str, str], pattern: re.Pattern[str] | None = None) -> dict[str, str]:
    """Headers with credentials hidden; the auth scheme stays visible (`Basic ***`)."""
    values = pattern or _JWS
    masked: dict[str, str] = {}
    for name, value in headers.items():
        lowered = name.lower()
        if lowered == "authorization":
            scheme = value.strip().split(" ", 1)[0]
            masked[name] = f"{scheme} {MASK}" if " " in value.strip() else MASK
        elif lowered in SENSITIVE_HEADERS or is_sensitive(lowered):
            masked[name] = MASK
        else:
            masked[name] = values.sub(MASK, value)
    return masked


def mask_data(data: Any, pattern: re.Pattern[str] | None = None) -> Any:
    """A body or query mapping with sensitive fields and token-shaped or known secret values replaced,
    recursively (in keys too: a secret sent as a field name is still a secret)."""
    values = pattern or _JWS
    if isinstance(data, Mapping):
        return {
            (values.sub(MASK, k) if isinstance(k, str) else k): (
                MASK if isinstance(k, str) and is_sensitive(k) else mask_data(v, values)
            )
            for k, v in data.items()
        }
    if isinstance(data, list):
        return [mask_data(v, values) for v in data]
    if isinstance(data, str):
        return values.sub(MASK, data)
    return data


# Characters a log line must not carry raw: controls (CR and LF forge lines, ESC starts terminal
# sequences), DEL, C1 controls, and the backslash that introduces the escapes.
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\\\u2028\u2029\ud800-\udfff]")


def printable(text: str) -> str:
    """`text` safe for a one-line log record: unprintable characters as `\\xNN` / `\\uNNNN` escapes."""
    if text.isprintable() and "\\" not in text:
        return text
    return _UNPRINTABLE.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char == "\\":
        return "\\\\"
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
