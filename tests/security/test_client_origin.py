"""The client's bearer never leaves the origin it was meant for (issue 14, #5).

A resource answers 302 to another scheme, host or port; requests drops `Authorization` on that hop,
the other host answers 401, and the renew-and-retry must not hand it a fresh token. Two local servers:
the API (which redirects) and a stranger (which answers 401 and keeps every Authorization it sees).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests
from flask import Flask, redirect, request

from tests.conftest import LiveServer
from tokenmock.client import ClickViewClient
from tokenmock.client.auth import origin


class Stranger:
    """A host that asks for credentials and remembers what it was given."""

    def __init__(self, serve: Callable[[Flask], LiveServer]) -> None:
        self.seen: list[str | None] = []
        app = Flask("stranger")

        @app.route("/<path:anything>")
        def ask(anything: str) -> Any:
            self.seen.append(request.headers.get("Authorization"))
            return {"error": "invalid_token"}, 401, {"WWW-Authenticate": 'Bearer realm="stranger"'}

        self.port = serve(app).url.rsplit(":", 1)[1]


def _api(serve: Callable[[Flask], LiveServer], target: Callable[[], str]) -> tuple[str, list[str | None]]:
    """An API whose /moved redirects to `target()`, and whose /self-401 asks again on the same origin."""
    seen: list[str | None] = []
    app = Flask("api")

    @app.route("/moved")
    def moved() -> Any:
        seen.append(request.headers.get("Authorization"))
        return redirect(target(), code=302)

    @app.route("/here")
    def here() -> Any:
        seen.append(request.headers.get("Authorization"))
        return ({"ok": True}, 200) if len(seen) > 2 else ({"error": "invalid_token"}, 401)

    return serve(app).url, seen


@pytest.fixture
def client(serve: Callable[[Flask], LiveServer], make_app: Callable[..., Flask]) -> ClickViewClient:
    return ClickViewClient("demo-client", "demo-secret", base_url=serve(make_app(vendor="clickview")).url)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_a_401_after_a_redirect_to_another_origin_gets_no_token(
    serve: Callable[[Flask], LiveServer], client: ClickViewClient, host: str
) -> None:
    stranger = Stranger(serve)
    api, api_seen = _api(serve, lambda: f"http://{host}:{stranger.port}/collect")
    issued_before = client.token().access_token
    answer = requests.get(f"{api}/moved", auth=client.auth(), timeout=10)
    assert answer.status_code == 401  # the stranger's answer, handed back as it is
    assert [r.status_code for r in answer.history] == [302]
    assert api_seen == [f"Bearer {issued_before}"]
    assert stranger.seen == [None]  # neither the token nor a renewed one reached it
    assert client.token().access_token == issued_before  # and no token was renewed on its word


def test_a_401_after_a_redirect_within_the_origin_still_renews_once(
    serve: Callable[[Flask], LiveServer], client: ClickViewClient
) -> None:
    api_url: list[str] = []
    api, seen = _api(serve, lambda: f"{api_url[0]}/here")
    api_url.append(api)
    answer = requests.get(f"{api}/moved", auth=client.auth(), timeout=10)
    assert answer.status_code == 200
    assert len(seen) == 3 and seen[2] is not None and seen[2].startswith("Bearer ")


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("http://api.example/x", "http://API.example:80/y", True),
        ("https://api.example/x", "https://api.example:443/", True),
        ("http://api.example/x", "https://api.example/x", False),
        ("http://api.example/x", "http://api.example:8080/x", False),
        ("http://api.example/x", "http://api.example.evil/x", False),
        ("http://api.example/x", "http://api.example:bad/x", False),
    ],
)
def test_what_counts_as_the_same_origin(a: str, b: str, same: bool) -> None:
    assert (origin(a) == origin(b)) is same
