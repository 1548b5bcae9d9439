"""AminoTV: user login with a refresh flow, per-profile tokens, JSON:API envelopes and errors.

The document (004_4efc1a5b80b28e71.txt) shows only the placeholder host `customer.domain:443`, one per
customer, so the default base URL is that placeholder and real use passes `base_url=`. Requests are sent
as `application/vnd.api+json`, which both readings of AMINO-07 accept.

    amino = AminoTVClient("me@example.com", "secret", base_url="http://127.0.0.1:8080/aminotv")
    kids = amino.profile_client("3f1c2a9e-5b7d-4e8a-9c61-2d4b8e7f0a13")
    requests.get(f"{amino.base_url}/channels/demo-channel/relationships/streams", auth=kids.auth())
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from tokenmock.client.base import TokenClient
from tokenmock.client.errors import AuthenticationError
from tokenmock.client.flow import Flow, PeerToken, RefreshFlow
from tokenmock.client.token import Token

_ACCEPT = {"Accept": "application/vnd.api+json"}
_HEADERS = {**_ACCEPT, "Content-Type": "application/vnd.api+json"}


def attributes_of(token: Token) -> Mapping[str, Any]:
    """The `AuthenticationTokens` attributes of the reply a token came from (user_id, user_profile_id)."""
    try:
        attributes = token.raw["data"][0]["attributes"]
    except (KeyError, IndexError, TypeError):
        return {}
    return attributes if isinstance(attributes, Mapping) else {}


def _jwt_exp(token: str) -> int | None:
    """The `exp` claim, read without verification: only a fallback for AMINO-03 (see `_lifetime`)."""
    import jwt  # PyJWT and its cryptography load only for this fallback, not with every client (start-up)

    try:
        exp = jwt.decode(token, options={"verify_signature": False}).get("exp")
    except jwt.InvalidTokenError:
        return None
    return exp if isinstance(exp, int) and not isinstance(exp, bool) else None


def _lifetime(attributes: Mapping[str, Any]) -> int | None:
    """Seconds the access token stays valid, measured on the server's clock at issue time.

    AMINO-03: the document's example sends `expires_at_timestamp` equal to `login_timestamp`, as if the
    token expired when issued. So the stated expiry is used only when it lies after the login time;
    otherwise the JWT's `exp` (the document advises against relying on claims, hence only as fallback);
    otherwise None, and a 401 on use triggers renewal. Using the difference of two server timestamps, not
    the absolute time, keeps clock skew between client and server out of it.
    """
    login, expires = attributes["login_timestamp"], attributes["expires_at_timestamp"]
    if expires > login:
        return int(expires - login)
    exp = _jwt_exp(attributes["access_token"])
    return exp - login if exp is not None and exp > login else None


class _AminoTVBase(TokenClient):
    """What the user and the profile clients share: the refresh call and the JSON:API payloads."""

    vendor = "aminotv"
    default_base_url = "https://customer.domain:443"
    credential_codes = frozenset(
        {
            "invalid_credentials",
            "invalid_cookie",
            "invalid_token",
            "missing_token",
            "invalid_refresh_token",
            "refresh_token_expired",
        }
    )

    def _post(self, operation_id: str, path: str, body: Any = None, **kwargs: Any) -> Flow:
        headers = {**(_HEADERS if body is not None else _ACCEPT), **kwargs.pop("headers", {})}
        data = json.dumps(body) if body is not None else None
        payload = yield self.send(operation_id, "POST", path, data=data, headers=headers, **kwargs)
        return self._token_from(payload, operation_id)

    def _refresh(self, token: Token) -> RefreshFlow | None:
        assert token.refresh_token is not None
        return self._post("createAccessToken", "/auth/refresh", {"refresh_token": token.refresh_token})

    def _token_from(self, payload: Any, operation_id: str) -> Token:
        """A Token from the contract-checked envelope `{"data": [{"attributes": {...}}]}` (AMINO-06)."""
        attributes = payload["data"][0]["attributes"]
        return Token(
            access_token=attributes["access_token"],
            token_type="Bearer",
            expires_at=self.expires_at(_lifetime(attributes), operation_id, payload),
            refresh_token=attributes["refresh_token"],
            raw=payload,
        )

    def _error_of(self, payload: Any) -> tuple[str | None, str]:
        """The first JSON:API error's code, and its detail (or title)."""
        errors = payload.get("errors") if isinstance(payload, Mapping) else None
        if isinstance(errors, Sequence) and errors and isinstance(errors[0], Mapping):
            first = errors[0]
            code = first.get("code")
            return (str(code) if code else None, str(first.get("detail") or first.get("title") or "refused"))
        return None, "refused"


class AminoTVClient(_AminoTVBase):
    """Tokens for a user's default profile: login, then refresh, then login again when refused."""

    secret_attributes = ("_password",)

    def __init__(self, username: str, password: str, **options: Any) -> None:
        super().__init__(**options)
        self.username = username
        self._password = password
        self._profiles: dict[str, AminoTVProfileClient] = {}
        self._profiles_lock = threading.Lock()

    @property
    def identity(self) -> str:
        return self.username

    def _login(self) -> Flow:
        return self._post("loginUser", "/auth/login", {"username": self.username, "password": self._password})

    def profile_client(self, profile_id: str) -> AminoTVProfileClient:
        """The client for one of this user's profiles (one per profile id, sharing session and store)."""
        with self._profiles_lock:
            found = self._profiles.get(profile_id)
            if found is None:
                found = self._profiles[profile_id] = AminoTVProfileClient(self, profile_id)
            return found


class AminoTVProfileClient(_AminoTVBase):
    """Tokens bound to one profile of a user, with its own cache, `.token()` and `.auth()`.

    A fresh profile token comes from getProfileAuthToken with the user's access token; renewal uses the
    profile token's refresh token, and falls back to getProfileAuthToken when the refresh is refused or
    yields a token for another profile (a server following the lenient reading of AMINO-11).
    """

    def __init__(self, user: AminoTVClient, profile_id: str) -> None:
        super().__init__(
            base_url=user.base_url,
            session=user.transport.session,
            timeout=user.transport.timeout,
            leeway=user.leeway,
            store=user.store,
            retry=user.transport.retry,
            clock=user.clock,
            sleep=user.transport.sleep,
        )
        self.user = user
        self.profile_id = profile_id

    @property
    def identity(self) -> str:
        return f"{self.user.username}|profile:{self.profile_id}"

    def _secret_values(self) -> list[str]:
        return [*super()._secret_values(), *self.user._secret_values()]

    def _login(self) -> Flow:
        used = yield PeerToken(self.user)
        try:
            return (yield from self._exchange(used))
        except AuthenticationError:  # the user's token was refused (revoked, clock skew): renew it once
            self.user.invalidate(used)
            return (yield from self._exchange((yield PeerToken(self.user))))

    def _exchange(self, user_token: Token) -> Flow:
        return self._post(
            "getProfileAuthToken",
            f"/profiles/{quote(self.profile_id, safe='')}/token",
            headers={"Authorization": f"Bearer {user_token.access_token}"},
        )

    def _refresh(self, token: Token) -> RefreshFlow:
        refresh = super()._refresh(token)
        assert refresh is not None  # AminoTV always has a refresh flow
        renewed = yield from refresh
        if renewed is None or attributes_of(renewed).get("user_profile_id") != self.profile_id.lower():
            return None  # a token for another profile (AMINO-11 lenient): get this profile's anew
        return renewed
