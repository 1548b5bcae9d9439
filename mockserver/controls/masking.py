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
# A JWT (or any JWS) wherever it turns up, whatever the field is called: header.payload.signature; and
# the mock's own opaque tokens (JunctionTV's). Both begin "eyJ", which keeps the search fast.
_TOKEN_SHAPES = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*|" + OPAQUE_TOKEN)
# Known secret values shorter than this are not masked by value (a one-letter secret would mask every
# occurrence of that letter); they are still masked wherever they sit in a field named like a secret.
MIN_SECRET_LENGTH = 4


class KnownSecrets:
    """The secret values the mock knows, raw and in the URL encodings a Referer, a query or a form
    carries them in. Checked in two steps because a request almost never holds one outside the fields
    the name rules mask already: one substring search per value over the whole masked record, and
    only when one is found, replacement (longest value first, so one that contains another goes whole).
    """

    def __init__(self, known: Iterable[str]) -> None:
        variants = {form for value in known if len(value) >= MIN_SECRET_LENGTH for form in _encodings(value)}
        self.values = sorted(variants, key=len, reverse=True)

    def found_in(self, *parts: Any) -> bool:
        """Whether any known value occurs in the strings of `parts` (keys included)."""
        if not self.values:
            return False
        text = "\n".join(_strings(parts))
        return any(value in text for value in self.values)

    def mask(self, data: Any) -> Any:
        """`data` with every known value inside its strings (keys included) replaced by MASK."""
        if isinstance(data, str):
            for value in self.values:
                if value in data:
                    data = data.replace(value, MASK)
            return data
        if isinstance(data, Mapping):
            return {self.mask(k): self.mask(v) for k, v in data.items()}
        if isinstance(data, list):
            return [self.mask(v) for v in data]
        return data


@functools.lru_cache(maxsize=32)
def known_secrets(known: frozenset[str]) -> KnownSecrets:
    """The `KnownSecrets` of a set of values, made once per set."""
    return KnownSecrets(known)


def _strings(root: Any) -> list[str]:
    """Every string in a structure of mappings, lists and tuples, keys included (without recursion)."""
    found: list[str] = []
    stack = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            found.append(node)
        elif isinstance(node, Mapping):
            for key, value in node.items():
                if isinstance(key, str):
                    found.append(key)
                if isinstance(value, str):
                    found.append(value)
                elif value is not None and not isinstance(value, int | float):
                    stack.append(value)
        elif isinstance(node, list | tuple):
            stack.extend(node)
    return found


def _encodings(value: str) -> tuple[str, ...]:
    try:
        return (value, quote(value, safe=""), quote(value), quote_plus(value))
    except UnicodeEncodeError:  # a lone surrogate a store kept from before it was refused: raw only
        return (value,)


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


def mask_text(text: str) -> str:
    """`text` with every token shaped like the ones the mock issues replaced."""
    return _TOKEN_SHAPES.sub(MASK, text)


def mask_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Headers with credentials hidden; the auth scheme stays visible (`Basic ***`)."""
    masked: dict[str, str] = {}
    for name, value in headers.items():
        name = _TOKEN_SHAPES.sub(MASK, name)  # a token sent as a header's name
        lowered = name.lower()
        if lowered == "authorization":
            scheme = value.strip().split(" ", 1)[0]
            masked[name] = f"{scheme} {MASK}" if " " in value.strip() else MASK
        elif lowered in SENSITIVE_HEADERS or is_sensitive(lowered):
            masked[name] = MASK
        else:
            masked[name] = _TOKEN_SHAPES.sub(MASK, value)
    return masked


# Nesting kept below this depth by `mask_data` (what is deeper is replaced): a JSON body nested a few
# hundred levels parses, and masking it level by level would exhaust the interpreter's stack.
MAX_DEPTH = 32
TOO_DEEP = "[truncated: nested too deep]"


def mask_data(data: Any, depth: int = 0) -> Any:
    """A body or query mapping with sensitive fields and token-shaped values replaced, recursively (down to
    MAX_DEPTH levels; anything deeper is replaced by TOO_DEEP)."""
    if isinstance(data, Mapping | list) and depth >= MAX_DEPTH:
        return TOO_DEEP
    if isinstance(data, Mapping):
        # A token may be sent as a field's or parameter's name (`?eyJ...=`): names are masked like values.
        return {
            (_TOKEN_SHAPES.sub(MASK, k) if isinstance(k, str) else k): (
                MASK if isinstance(k, str) and is_sensitive(k) else mask_data(v, depth + 1)
            )
            for k, v in data.items()
        }
    if isinstance(data, list):
        return [mask_data(v, depth + 1) for v in data]
    if isinstance(data, str):
        return _TOKEN_SHAPES.sub(MASK, data)
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
