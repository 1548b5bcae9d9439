"""What `tokenmock verify` expects of each vendor's behaviour, as data (no vendor names in the checks).

Each `Profile` says how the vendor's documented token request is made from the credentials, where the
token and its lifetime are in the answer, which resource it opens, how a refresh is sent, and how each
refusal is provoked and answered: the status(es) and error codes the contract and the register document,
per reading where a register entry lets the document be read two ways. The error *shape* is not repeated
here: each refusal is validated against the contract's schema for the status it got.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import quote_plus

# Credentials by the names the contracts give them; each is also an option and a TOKENMOCK_* variable.
CREDENTIALS = (
    "client_id",
    "client_secret",
    "scope",
    "client_key",
    "username",
    "password",
    "session",
    "profile_id",
    "channel_id",
)

FORM = "application/x-www-form-urlencoded"
_MD5_HEX = re.compile(r"[0-9a-fA-F]{32}")

# A value no real credential has: a refusal check sends it in place of the real one.
WRONG = "tokenmock-verify-wrong-value"
UNKNOWN = "tokenmock-verify-unknown-client"


def md5_unless_digest(password: str) -> str:
    """Dive's documented password encoding, the MD5 hex digest (DIVE-04); a digest is sent as given."""
    return password if _MD5_HEX.fullmatch(password) else hashlib.md5(password.encode()).hexdigest()  # noqa: S324 - Dive's documented password digest


def basic(user: str, password: str, form_encoded: bool = False) -> str:
    """RFC 7617 Basic credentials; `form_encoded` first form-urlencodes each part (RFC 6749 §2.3.1)."""
    if form_encoded:
        user, password = quote_plus(user), quote_plus(password)
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def client_key(credentials: Mapping[str, str], form_encoded: bool = False) -> str:
    """Dive's `Basic {client_key}`, the key as written: accepted under both readings of DIVE-02."""
    return f"Basic {credentials['client_key']}"


@dataclass(frozen=True)
class TokenRequest:
    """A token operation's request, as templates over the credentials (`"{client_id}"`).

    `authorization` builds the Authorization header from the credentials (None: no header); the body
    goes in the contract's first media type of the operation, which every reading of the mock accepts.
    """

    operation_id: str
    body: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, str] = field(default_factory=dict)
    authorization: Callable[[Mapping[str, str], bool], str] | None = None
    # credential names the Authorization header is made of (what "missing credentials" leaves out)
    header_credentials: frozenset[str] = frozenset()
    # (register entry, reading) under which Basic parts are form-urlencoded first (RFC 6749 §2.3.1)
    form_encoded_under: tuple[str, str] | None = None
    # credentials transformed before they are sent (Dive's MD5 password)
    wire: Mapping[str, Callable[[str], str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Refusal:
    """How to provoke one refusal and what answers it: statuses (per reading where a register entry
    decides) and, where the contract documents them, error codes at `code_pointer`."""

    change: Mapping[str, str | None]  # credential -> replacement (None: left out of the request)
    statuses: frozenset[int]
    codes: frozenset[str] = frozenset()
    # register entry whose named reading lets the server accept the request instead of refusing it
    accepted_under: tuple[str, str] | None = None
    source: str = ""


@dataclass(frozen=True)
class Profile:
    """One vendor's documented behaviour, as `tokenmock verify` checks it."""

    token: TokenRequest
    token_pointer: str
    resource_operation: str
    code_pointer: str
    refusals: Mapping[str, Refusal]
    lifetime_pointer: str | None = None
    # where no expires_in is sent: why the lifetime is not checked
    lifetime_note: str = ""
    refresh: TokenRequest | None = None
    refresh_pointer: str | None = None
    # (register entry, reading) under which a reused refresh token must be refused, and how
    reuse_refused_under: tuple[str, str] | None = None
    reuse_refusal: Refusal | None = None
    # why there is no wrong-grant check
    no_grant_note: str = ""
    # the JWS algorithm the document names for its access tokens (None: the document names none)
    token_alg: str | None = None
    alg_source: str = ""
    # the contract operation that publishes the signing keys (a JWKS), where there is one
    jwks_operation: str | None = None
    # the credential that carries the requested scope, where the token request has one
    scope_credential: str | None = None
    # (register entry, reading) under which any scope asked for is granted (not a widening)
    any_scope_under: tuple[str, str] | None = None
    # where an error answer repeats its HTTP status (Vision10's problem items)
    error_status_pointer: str | None = None


_RFC_CLIENT = "RFC 6749 §5.2"

PROFILES: dict[str, Profile] = {
    "junctiontv": Profile(
        token=TokenRequest(
            "getAccessToken",
            authorization=lambda c, form: basic(c["client_id"], c["client_secret"], form),
            header_credentials=frozenset({"client_id", "client_secret"}),
            form_encoded_under=("JTV-02", "lenient"),
        ),
        token_pointer="/access_token",
        lifetime_pointer="/expires_in",
        resource_operation="getProtectedResource",
        code_pointer="/reason",
        refusals={
            "wrong_secret": Refusal({"client_secret": WRONG}, frozenset({401}), source="JTV-11"),
            "unknown_client": Refusal({"client_id": UNKNOWN}, frozenset({401}), source="JTV-11"),
            "missing_credentials": Refusal(
                {"client_id": None, "client_secret": None}, frozenset({401}), source="JTV-11"
            ),
        },
        no_grant_note="the document defines no grant_type (JTV-04)",
    ),
    "clickview": Profile(
        token=TokenRequest(
            "requestToken",
            body={
                "grant_type": "client_credentials",
                "client_id": "{client_id}",
                "client_secret": "{client_secret}",
                "scope": "{scope}",
            },
        ),
        token_pointer="/access_token",
        lifetime_pointer="/expires_in",
        resource_operation="getExample",
        code_pointer="/error",
        refusals={
            # Credentials in the body: 400 invalid_client, or 401, which RFC 6749 §5.2 also allows (CV-11).
            "wrong_secret": Refusal(
                {"client_secret": WRONG}, frozenset({400, 401}), frozenset({"invalid_client"}), source=_RFC_CLIENT
            ),
            "unknown_client": Refusal(
                {"client_id": UNKNOWN}, frozenset({400, 401}), frozenset({"invalid_client"}), source=_RFC_CLIENT
            ),
            "missing_credentials": Refusal(
                {"client_id": None, "client_secret": None},
                frozenset({400, 401}),
                frozenset({"invalid_request", "invalid_client"}),
                source=_RFC_CLIENT,
            ),
            "wrong_grant": Refusal(
                {"grant_type": "password"},
                frozenset({400}),
                frozenset({"unsupported_grant_type", "unauthorized_client"}),
                source=_RFC_CLIENT,
            ),
        },
        jwks_operation="getJwks",
        scope_credential="scope",
    ),
    "vision10": Profile(
        token=TokenRequest(
            "getAccessToken",
            body={
                "grant_type": "client_credentials",
                "scope": "{scope}",
                "client_id": "{client_id}",
                "client_secret": "{client_secret}",
            },
        ),
        token_pointer="/access_token",
        lifetime_pointer="/expires_in",
        resource_operation="getProtectedResource",
        code_pointer="/0/errorCode",
        refusals={
            # 240101: the document's one error code, "Invalid Client Credentials or scope".
            "wrong_secret": Refusal({"client_secret": WRONG}, frozenset({401}), frozenset({"240101"}), source="V10-11"),
            "unknown_client": Refusal({"client_id": UNKNOWN}, frozenset({401}), frozenset({"240101"}), source="V10-11"),
            "missing_credentials": Refusal(
                {"client_id": None, "client_secret": None}, frozenset({400, 401}), source="V10-11"
            ),
            "wrong_grant": Refusal(
                {"grant_type": "password"}, frozenset({400, 401}), accepted_under=("V10-12", "lenient"), source="V10-12"
            ),
        },
        token_alg="RS256",
        alg_source="002_39cd937695dba9c6.txt § Successful Response Payload (the token's header)",
        jwks_operation="getJwks",
        scope_credential="scope",
        any_scope_under=("V10-13", "lenient"),
        error_status_pointer="/0/status",
    ),
    "divetv": Profile(
        token=TokenRequest(
            "issueToken",
            body={"username": "{username}", "password": "{password}"},
            query={"grant_type": "device_credentials"},
            authorization=client_key,
            header_credentials=frozenset({"client_key"}),
            wire={"password": md5_unless_digest},
        ),
        token_pointer="/access_token",
        lifetime_pointer="/expires_in",
        resource_operation="getProtectedResource",
        code_pointer="/error",
        refusals={
            # Spring Security OAuth2, as the mock models the silent document (DIVE-12): a wrong user
            # password is 400 invalid_grant, a bad client key 401 invalid_client.
            "wrong_secret": Refusal(
                {"password": WRONG},
                frozenset({400, 401}),
                frozenset({"invalid_grant", "invalid_client"}),
                source="DIVE-12",
            ),
            "unknown_client": Refusal(
                {"client_key": UNKNOWN}, frozenset({401}), frozenset({"invalid_client"}), source="DIVE-12"
            ),
            "missing_credentials": Refusal(
                {"client_key": None}, frozenset({401}), frozenset({"invalid_client"}), source="DIVE-12"
            ),
            "wrong_grant": Refusal(
                {"grant_type": "password"}, frozenset({400}), frozenset({"unsupported_grant_type"}), source="DIVE-12"
            ),
        },
        refresh=TokenRequest(
            "issueToken",
            body={"refresh_token": "{refresh_token}"},
            query={"grant_type": "refresh_token"},
            authorization=client_key,
            header_credentials=frozenset({"client_key"}),
        ),
        refresh_pointer="/refresh_token",
        reuse_refused_under=("DIVE-11", "strict"),
        reuse_refusal=Refusal({}, frozenset({400}), frozenset({"invalid_grant"}), source="DIVE-11 strict"),
        token_alg="HS256",
        alg_source="003_6e2305840961657a.txt § Response (the tokens' header)",
    ),
    "aminotv": Profile(
        token=TokenRequest("loginUser", body={"username": "{username}", "password": "{password}"}),
        token_pointer="/data/0/attributes/access_token",
        lifetime_note="AminoTV sends expires_at_timestamp, not expires_in (AMINO-03)",
        resource_operation="getChannelStreams",
        code_pointer="/errors/0/code",
        refusals={
            "wrong_secret": Refusal({"password": WRONG}, frozenset({401}), source="AMINO-08"),
            "unknown_client": Refusal({"username": f"{UNKNOWN}@example.com"}, frozenset({401}), source="AMINO-08"),
            "missing_credentials": Refusal(
                {"username": None, "password": None}, frozenset({400, 401}), source="AMINO-08"
            ),
        },
        no_grant_note="the login takes no grant_type (AMINO-01)",
        refresh=TokenRequest("createAccessToken", body={"refresh_token": "{refresh_token}"}),
        refresh_pointer="/data/0/attributes/refresh_token",
        reuse_refused_under=("AMINO-10", "strict"),
        reuse_refusal=Refusal({}, frozenset({401}), frozenset({"invalid_refresh_token"}), source="AMINO-10 strict"),
    ),
}
