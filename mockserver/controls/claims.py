"""Custom claims: tokens a test shapes, per client (config or runtime) and for the next tokens (admin API).

Why: a client under test must be shown tokens that carry what its real provider would put there (a
tenant, roles, an email), and tokens that are wrong on purpose (another issuer, another audience, already
expired, a key id nobody publishes), without changing the mock's code. The three layers, each over the
one before: the vendor's own claims, the client's configured `claims`, then claims armed through
`POST /__mock/claims` (kept in the store, so every worker and host counts `times` once).

Only vendors whose tokens are JWTs take custom claims; an opaque token (JunctionTV) is not read by its
client, so a claim in it would change nothing a client can see: its equivalents are the clock (expiry)
and `/__mock/revoke`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tokenmock.mockserver.stores import Store

# Registered claims (RFC 7519 §4.1) a test may override on purpose; the journal says when it did.
STANDARD = ("iss", "sub", "aud", "exp", "nbf", "iat", "jti")
# Budget: the claims of one token, JSON-encoded (a token travels in an Authorization header, and servers
# refuse headers past 8 KiB); armed entries kept at once.
MAX_CLAIMS_BYTES = 4096
MAX_ARMED = 100

_TIME = {"type": "integer", "minimum": 0, "maximum": 2**53}
_NAME = {"type": "string", "minLength": 1, "maxLength": 100}
# The JSON Schema of a `claims` object, in the config file and in every admin request (one schema).
CLAIMS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "maxProperties": 64,
    "propertyNames": {"minLength": 1, "maxLength": 100},
    "properties": {
        "iss": _NAME | {"maxLength": 1000},
        "sub": _NAME | {"maxLength": 1000},
        "jti": _NAME,
        "aud": {"oneOf": [_NAME | {"maxLength": 1000}, {"type": "array", "items": _NAME | {"maxLength": 1000}}]},
        "exp": _TIME,
        "nbf": _TIME,
        "iat": _TIME,
    },
}
# Header members a test may set: only the key id (the algorithm is pinned; `alg: none` is never signed).
HEADER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"kid": _NAME},
    "additionalProperties": False,
}


class ClaimsError(ValueError):
    """Claims that cannot be armed (too large, for a vendor whose tokens are opaque)."""


def check_size(claims: Mapping[str, Any]) -> None:
    """Refuse claims past the budget (the schema bounds names and counts, not the size of values)."""
    size = len(json.dumps(claims, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
    if size > MAX_CLAIMS_BYTES:
        raise ClaimsError(f"claims: at most {MAX_CLAIMS_BYTES} bytes of JSON ({size} given)")


@dataclass(frozen=True)
class Shaped:
    """What to add to one access token: claims over the vendor's, a header `kid`, and the journal's note."""

    claims: Mapping[str, Any] = field(default_factory=dict)
    kid: str | None = None
    armed: int | None = None  # the id of the armed entry used, if any

    def note(self, own: Mapping[str, Any]) -> dict[str, Any] | None:
        """The journal's mark on a shaped token: the claim names set and the standard ones overridden
        (names only: a claim's value is test data the journal has no need to copy)."""
        if not self.claims and self.kid is None:
            return None
        overridden = sorted(name for name in self.claims if name in STANDARD or name in own)
        if self.kid is not None:
            overridden.append("header.kid")
        return {"custom": sorted(self.claims), "overridden": overridden, "armed": self.armed}


def client_name(client: Mapping[str, Any]) -> str | None:
    """How `client_id` in an armed entry names a client: its client_id, else its username (AminoTV)."""
    for key in ("client_id", "username", "client_key"):
        if isinstance(client.get(key), str):
            return str(client[key])
    return None


# The store document: {"next_id": int, "armed": [record, ...]}.
CLAIMS_DOC = "claims"
NONE_ARMED: dict[str, Any] = {"next_id": 1, "armed": []}


class ClaimBook:
    """Claims armed for the next tokens of a vendor (optionally of one client), in the store."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def arm(
        self,
        vendor: str,
        claims: Mapping[str, Any],
        *,
        header: Mapping[str, Any] | None = None,
        client_id: str | None = None,
        times: int | None = None,
    ) -> dict[str, Any]:
        """Arm `claims` (and a header `kid`) for the next `times` tokens (every token when None)."""
        check_size(claims)

        def add(doc: Any) -> tuple[dict[str, Any], dict[str, Any]]:
            doc = doc or NONE_ARMED
            if len(doc["armed"]) >= MAX_ARMED:
                raise ClaimsError(f"at most {MAX_ARMED} claim sets may be armed at once; clear some first")
            record = {
                "id": doc["next_id"],
                "vendor": vendor,
                "client_id": client_id,
                "claims": dict(claims),
                "header": dict(header or {}),
                "remaining": times,
                "applied": 0,
            }
            return {"next_id": record["id"] + 1, "armed": [*doc["armed"], record]}, record

        return self._store.update(CLAIMS_DOC, add)

    def draw(self, vendor: str, client: str | None) -> dict[str, Any] | None:
        """The first armed entry for this vendor and client, counted (None when nothing is armed: cheap)."""
        doc = self._store.read(CLAIMS_DOC)
        if not doc or not any(_matches(r, vendor, client) for r in doc["armed"]):
            return None

        def take(doc: Any) -> tuple[dict[str, Any], dict[str, Any] | None]:
            doc = doc or NONE_ARMED
            records = [dict(r) for r in doc["armed"]]
            for index, record in enumerate(records):
                if _matches(record, vendor, client):
                    record["applied"] += 1
                    if record["remaining"] is not None:
                        record["remaining"] -= 1
                    if record["remaining"] == 0:
                        del records[index]
                    return {**doc, "armed": records}, record
            return doc, None

        return self._store.update(CLAIMS_DOC, take)

    def list(self) -> list[dict[str, Any]]:
        """Every armed entry (the admin API's and the control page's view), read afresh."""
        self._store.sync()
        return list((self._store.read(CLAIMS_DOC) or NONE_ARMED)["armed"])

    def clear(self) -> None:
        """Disarm every entry (ids keep counting up)."""
        self._store.update(CLAIMS_DOC, lambda doc: ({**(doc or NONE_ARMED), "armed": []}, None))


def _matches(record: Mapping[str, Any], vendor: str, client: str | None) -> bool:
    return record["vendor"] == vendor and record["client_id"] in (None, client)


def shape(book: ClaimBook, vendor: str, client: Mapping[str, Any]) -> Shaped:
    """The client's configured claims, then the first armed entry that matches (one of its times used)."""
    claims = dict(client.get("claims") or {})
    armed = book.draw(vendor, client_name(client))
    if armed is None:
        return Shaped(claims)
    claims.update(armed["claims"])
    return Shaped(claims, armed["header"].get("kid"), armed["id"])
