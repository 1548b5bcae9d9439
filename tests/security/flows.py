"""Each vendor's documented happy path (log in, call the protected resource, refresh) over any HTTP client.

The same flows drive the in-process app (Flask's test client), a live `tokenmock serve` (requests) and the
load generator, so every suite speaks to the vendors the one documented way.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import requests
from flask.testing import FlaskClient

VENDORS = ("junctiontv", "clickview", "vision10", "divetv", "aminotv")
JSON_API = "application/vnd.api+json"
DEMO_PROFILE = "84eb61a9-75d4-42c7-8c15-84c3d7776227"

# Vendors whose tokens come with a refresh token (and a refresh endpoint).
REFRESHING = ("divetv", "aminotv")


@dataclass
class Answer:
    """A response, whichever client fetched it."""

    status: int
    headers: Mapping[str, str]
    body: bytes = field(repr=False)

    def json(self) -> Any:
        return json.loads(self.body)


class Http(Protocol):
    """`http(method, path, headers=..., data=..., params=...)` relative to the mock's root."""

    def __call__(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str] | None = None,
        data: bytes | str | None = None,
        params: Mapping[str, str] | None = None,
    ) -> Answer: ...


def flask_http(client: FlaskClient) -> Http:
    """An `Http` over Flask's test client (in-process)."""

    def send(method: str, path: str, *, headers: Any = None, data: Any = None, params: Any = None) -> Answer:
        response = client.open(path, method=method, headers=dict(headers or {}), data=data, query_string=params)
        return Answer(response.status_code, dict(response.headers), response.get_data())

    return send


def requests_http(session: requests.Session, base: str, timeout: float = 10.0) -> Http:
    """An `Http` over a requests session (a live server)."""

    def send(method: str, path: str, *, headers: Any = None, data: Any = None, params: Any = None) -> Answer:
        response = session.request(method, base + path, headers=headers, data=data, params=params, timeout=timeout)
        return Answer(response.status_code, dict(response.headers), response.content)

    return send


def basic(text: str) -> str:
    return "Basic " + base64.b64encode(text.encode()).decode()


def md5_hex(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


@dataclass(frozen=True)
class Credentials:
    """One identity per vendor; the demo ones unless a test registers others."""

    client_id: str = "demo-client"
    client_secret: str = "demo-secret"
    client_key: str = "demo-client-key"
    username: str = "demo-user"
    password: str = "demo-password"
    amino_username: str = "demo@example.com"


DEMO = Credentials()


def login(vendor: str, http: Http, creds: Credentials = DEMO, prefix: str | None = None) -> Answer:
    """The vendor's documented token request."""
    base = f"/{vendor}" if prefix is None else prefix
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    if vendor == "junctiontv":
        return http(
            "POST",
            f"{base}/ums/2.0/oauth/",
            headers={**form, "Authorization": basic(f"{creds.client_id}:{creds.client_secret}")},
            data=b"",
        )
    if vendor == "clickview":
        fields = {
            "grant_type": "client_credentials",
            "client_id": creds.client_id,
            "client_secret": creds.client_secret,
            "scope": "smartembed.viewkey",
        }
        return http("POST", f"{base}/connect/token", headers=form, data=_form(fields))
    if vendor == "vision10":
        fields = {
            "grant_type": "client_credentials",
            "scope": "all",
            "client_id": creds.client_id,
            "client_secret": creds.client_secret,
        }
        return http(
            "POST", f"{base}/v1/api/oauth/token", headers={"Content-Type": "application/json"}, data=json.dumps(fields)
        )
    if vendor == "divetv":
        return http(
            "POST",
            f"{base}/v1/token",
            params={"grant_type": "device_credentials"},
            headers={"Content-Type": "application/json", "Authorization": f"Basic {creds.client_key}"},
            data=json.dumps({"username": creds.username, "password": md5_hex(creds.password)}),
        )
    if vendor == "aminotv":
        body = {"username": creds.amino_username, "password": creds.password}
        return http("POST", f"{base}/auth/login", headers={"Content-Type": JSON_API}, data=json.dumps(body))
    raise ValueError(vendor)


def refresh(
    vendor: str, http: Http, refresh_token: str, creds: Credentials = DEMO, prefix: str | None = None
) -> Answer:
    """The vendor's refresh request."""
    base = f"/{vendor}" if prefix is None else prefix
    if vendor == "divetv":
        return http(
            "POST",
            f"{base}/v1/token",
            params={"grant_type": "refresh_token"},
            headers={"Content-Type": "application/json", "Authorization": f"Basic {creds.client_key}"},
            data=json.dumps({"refresh_token": refresh_token}),
        )
    if vendor == "aminotv":
        body = json.dumps({"refresh_token": refresh_token})
        return http("POST", f"{base}/auth/refresh", headers={"Content-Type": JSON_API}, data=body)
    raise ValueError(f"{vendor} has no refresh flow")


# The bearer-protected operations, as (operationId, method, path below the vendor's base).
RESOURCES: dict[str, list[tuple[str, str, str]]] = {
    "junctiontv": [("getProtectedResource", "GET", "/ums/2.0/resource")],
    "clickview": [("getExample", "GET", "/api/v1/example")],
    "vision10": [("getProtectedResource", "GET", "/v1/api/resource")],
    "divetv": [("getProtectedResource", "GET", "/v1/resource")],
    "aminotv": [
        ("getChannelStreams", "GET", "/channels/demo-channel/relationships/streams"),
        ("getProfileAuthToken", "POST", f"/profiles/{DEMO_PROFILE}/token"),
    ],
}

# The token-issuing operation of each vendor, and of each refresh flow.
TOKEN_OPERATION = {
    "junctiontv": "getAccessToken",
    "clickview": "requestToken",
    "vision10": "getAccessToken",
    "divetv": "issueToken",
    "aminotv": "loginUser",
}
REFRESH_OPERATION = {"divetv": "issueToken", "aminotv": "createAccessToken"}


def call_resource(
    vendor: str, http: Http, token: str, resource: tuple[str, str, str], prefix: str | None = None
) -> Answer:
    """Present `token` as a bearer token at one protected operation."""
    _, method, path = resource
    base = f"/{vendor}" if prefix is None else prefix
    return http(method, base + path, headers={"Authorization": f"Bearer {token}", "Accept": "application/json"})


def tokens_of(vendor: str, answer: Answer) -> tuple[str, str | None]:
    """(access token, refresh token or None) from a successful token response."""
    assert answer.status == 200, (vendor, answer.status, answer.body[:300])
    body = answer.json()
    if vendor == "aminotv":
        attributes = body["data"][0]["attributes"]
        return attributes["access_token"], attributes["refresh_token"]
    return body["access_token"], body.get("refresh_token")


def _form(fields: Mapping[str, str]) -> str:
    from urllib.parse import urlencode

    return urlencode(fields)


Flow = Callable[[Http], Answer]
