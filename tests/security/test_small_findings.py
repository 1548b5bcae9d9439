"""Issue 14, findings 14 and 16: strict defaults where leniency lets a client skip a duty, OPTIONS, demo users.

- AMINO-03 defaults to the document's own expiry (equal to the login time); AMINO-10 defaults to
  rotation: a reused AminoTV refresh token is refused, and of parallel refreshes
  with one token exactly one succeeds (a client that keeps the newest refresh token also works against
  a server that does not rotate, not the other way round).
- OPTIONS on a vendor path answers 204 with `Allow` and no body (not Flask's empty text/html 200).
- Every AminoTV user the mock accepts out of the box is listed at `GET /`.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from flask import Flask

from tests.security.flows import Credentials, flask_http, login, refresh, tokens_of
from tests.security.hostile import CASES, ROUTES
from tokenmock import contracts
from tokenmock.mockserver.vendors.aminotv import AminoTV

PARALLEL = 20
WRONG_PASSWORDS = 30
# Cases: the parallel refreshes, one OPTIONS per operation, the wrong passwords (the README quotes CASE_COUNT).
CASE_COUNT = PARALLEL + len(ROUTES) + WRONG_PASSWORDS


def test_a_reused_aminotv_refresh_token_is_refused_by_default(make_app: Callable[..., Flask]) -> None:
    assert next(e for e in contracts.register("aminotv") if e.id == "AMINO-10").mock == "strict"
    app = make_app()
    http = flask_http(app.test_client())
    _, first = tokens_of("aminotv", login("aminotv", http))
    assert first is not None
    assert refresh("aminotv", http, first).status == 200
    assert refresh("aminotv", http, first).status == 401
    _, token = tokens_of("aminotv", login("aminotv", http))
    assert token is not None

    def one(_: int) -> int:
        return refresh("aminotv", flask_http(app.test_client()), token).status

    with ThreadPoolExecutor(PARALLEL) as pool:
        statuses = list(pool.map(one, range(PARALLEL)))
    CASES["parallel refreshes"] += PARALLEL
    print(f"parallel AminoTV refreshes: {statuses.count(200)} of {PARALLEL} succeeded")
    assert statuses.count(200) == 1 and statuses.count(401) == PARALLEL - 1, statuses


def test_aminotv_sends_the_documents_expiry_by_default(make_app: Callable[..., Flask]) -> None:
    """AMINO-03 lenient: `expires_at_timestamp` equals `login_timestamp`, as in the document, so a client
    must not trust it (it renews on a 401); one that does also works against a server sending the real one."""
    assert next(e for e in contracts.register("aminotv") if e.id == "AMINO-03").mock == "lenient"
    answer = login("aminotv", flask_http(make_app().test_client()))
    attributes = answer.json()["data"][0]["attributes"]
    assert attributes["expires_at_timestamp"] == attributes["login_timestamp"]


def test_options_on_a_vendor_path_is_204_with_allow(make_app: Callable[..., Flask]) -> None:
    http = make_app().test_client()
    for route in ROUTES:
        CASES["OPTIONS"] += 1
        answer = http.open(route.path, method="OPTIONS")
        assert answer.status_code == 204, (str(route), answer.status_code)
        assert route.method in answer.headers["Allow"].split(", ") and "OPTIONS" in answer.headers["Allow"]
        assert answer.get_data() == b"" and "Content-Type" not in answer.headers, (str(route), dict(answer.headers))
    admin = http.open("/__mock/faults", method="OPTIONS")  # the admin API's too, without CORS headers
    assert admin.status_code == 204 and admin.get_data() == b"" and "POST" in admin.headers["Allow"]
    assert not any(name.lower().startswith("access-control-") for name, _ in admin.headers)


def test_every_aminotv_user_is_listed_at_the_root(make_app: Callable[..., Flask]) -> None:
    index = make_app().test_client().get("/").get_json()
    listed = str(index["vendors"]["aminotv"]["demo_credentials"])
    for user in AminoTV.defaults["clients"]:
        assert user["username"] in listed and user["password"] in listed, user["username"]


def test_failed_logins_are_not_throttled(make_app: Callable[..., Flask]) -> None:
    """Unthrottled on purpose (README): wrong passwords never lock the demo user out."""
    http = flask_http(make_app().test_client())
    wrong = Credentials(password="wrong-password", client_secret="wrong-secret")
    for vendor in ("aminotv", "clickview"):
        for _ in range(WRONG_PASSWORDS // 2):
            CASES["wrong passwords"] += 1
            assert login(vendor, http, wrong).status in (400, 401)
        assert login(vendor, http).status == 200, vendor
