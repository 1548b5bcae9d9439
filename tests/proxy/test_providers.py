"""The independent providers (tests/providers, written without tokenmock.mockserver) as upstreams: an
honest one drifts nowhere, a provider with one drifting behaviour is reported, and the readings each one
follows are the ones observed."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator

import pytest
import requests

from tests.providers import Knobs, Served, aminotv, catalogue, clickview, divetv, junctiontv, serve, vision10
from tests.proxy.conftest import Proxied


@pytest.fixture
def provider() -> Iterator[Callable[[str, Knobs], Served]]:
    running: list[Served] = []

    def start(vendor: str, knobs: Knobs) -> Served:
        served = serve(vendor, knobs)
        running.append(served)
        return served

    yield start
    for served in running:
        served.stop()


def clickview_traffic(url: str) -> None:
    """What a team's ClickView tests send: a token, the resource, a wrong Basic secret, no scope, an HTML probe."""
    good = dict(clickview.CREDENTIALS, grant_type="client_credentials")
    token = requests.post(f"{url}/connect/token", data=good, timeout=10)
    assert token.status_code == 200, token.text
    bearer = {"Authorization": f"Bearer {token.json()['access_token']}"}
    assert requests.get(f"{url}/api/v1/example", headers=bearer, timeout=10).status_code == 200
    wrong = requests.post(
        f"{url}/connect/token",
        data={"grant_type": "client_credentials", "scope": clickview.SCOPE},
        auth=(clickview.CLIENT_ID, "wrong-secret"),
        timeout=10,
    )
    assert wrong.status_code in (400, 401)
    no_scope = {k: v for k, v in good.items() if k != "scope"}
    requests.post(f"{url}/connect/token", data=no_scope, timeout=10)
    requests.post(f"{url}/connect/token", data={**good, "client_secret": "nope"}, timeout=10)


def test_honest_clickview_no_drift_and_its_readings(proxied: Callable[..., Proxied], provider) -> None:
    upstream = provider("clickview", Knobs())
    running = proxied("clickview", upstream.url)
    clickview_traffic(running.url)
    report = running.proxy.report
    assert report.exchanges == 5
    assert report.drift() == [], json.dumps(report.to_json(), indent=1)[:3000]
    # Written from the document and RFC 6749: 401 after Basic, scope required, Basic accepted.
    assert running.proxy.observations.observed() == {"CV-02": "lenient", "CV-03": "strict", "CV-11": "strict"}


def test_clickview_with_html_refusals_is_drift(proxied: Callable[..., Proxied], provider) -> None:
    upstream = provider("clickview", clickview.BUGS["undocumented_refusal"])
    running = proxied("clickview", upstream.url)
    clickview_traffic(running.url)
    drift = running.proxy.report.drift()
    # An HTML page where JSON is documented.
    assert drift and {f.rule for f in drift} == {"content_type"}
    assert {f.status for f in drift} == {400, 401}
    found = running.proxy.report.to_json()["drift"][0]
    assert found["curl"].startswith(f"curl -X POST {upstream.url}/connect/token")
    headers = {k.lower(): v for k, v in found["exchange"]["response"]["headers"].items()}
    assert headers["content-type"].startswith("text/html")


def test_a_secret_echoed_by_the_upstream_is_masked_everywhere(proxied: Callable[..., Proxied], provider) -> None:
    upstream = provider("clickview", clickview.BUGS["echo_secret"])
    running = proxied("clickview", upstream.url)
    clickview_traffic(running.url)
    journal = requests.get(f"{running.url}/__mock/requests", timeout=10).json()["requests"]
    drift = requests.get(f"{running.url}/__mock/drift", timeout=10).json()
    text = json.dumps([journal, drift, running.proxy.report_json()])
    assert len(journal) == 5
    for form in (clickview.CLIENT_SECRET, json.dumps(clickview.CLIENT_SECRET)[1:-1], "cv%27Secret"):
        assert form not in text


# (`invalid_client_401` is left out: the contract still asks every 401 for WWW-Authenticate, which
# RFC 6749 §5.2 requires only after Basic; issue 21 decides that in the contract.)
def vision10_traffic(url: str) -> None:
    body = dict(vision10.CREDENTIALS)
    body.setdefault("grant_type", "client_credentials")
    requests.post(f"{url}/v1/api/oauth/token", json=body, timeout=10)
    requests.post(f"{url}/v1/api/oauth/token", json={**body, "grant_type": "password"}, timeout=10)
    requests.post(f"{url}/v1/api/oauth/token", json={**body, "client_secret": "x" * 101}, timeout=10)
    requests.post(f"{url}/v1/api/oauth/token", data=body, timeout=10)


def test_honest_vision10_no_drift(proxied: Callable[..., Proxied], provider) -> None:
    upstream = provider("vision10", Knobs())
    running = proxied("vision10", upstream.url)
    vision10_traffic(running.url)
    assert running.proxy.report.exchanges == 4
    assert running.proxy.report.drift() == [], json.dumps(running.proxy.report.to_json(), indent=1)[:3000]
    observed = running.proxy.observations.observed()
    assert observed == {"V10-02": "strict", "V10-04": "strict", "V10-12": "strict"}, observed


def divetv_traffic(url: str) -> None:
    """Issue, refresh, replay the used refresh token, send the grant in the body only."""
    key = {"Authorization": f"Basic {divetv.CLIENT_KEY}"}
    user = {"username": divetv.USERNAME, "password": hashlib.md5(divetv.PASSWORD.encode()).hexdigest()}
    issued = requests.post(f"{url}/v1/token?grant_type=device_credentials", json=user, headers=key, timeout=10)
    assert issued.status_code == 200, issued.text
    refresh = {"refresh_token": issued.json()["refresh_token"]}
    for _ in range(2):
        requests.post(f"{url}/v1/token?grant_type=refresh_token", json=refresh, headers=key, timeout=10)
    requests.post(f"{url}/v1/token", json={**user, "grant_type": "device_credentials"}, headers=key, timeout=10)


@pytest.mark.parametrize(
    ("knobs", "rotation"),
    [(Knobs(), "strict"), (divetv.VARIATIONS["refresh_reusable"], "lenient")],
    ids=["honest", "reusable"],
)
def test_divetv_refresh_rotation_observed(
    proxied: Callable[..., Proxied], provider, knobs: Knobs, rotation: str
) -> None:
    upstream = provider("divetv", knobs)
    running = proxied("divetv", upstream.url)
    divetv_traffic(running.url)
    assert running.proxy.report.drift() == [], json.dumps(running.proxy.report.to_json(), indent=1)[:3000]
    # Spring Security answers 8999 for 9000 s, and reads grant_type from the query only.
    assert running.proxy.observations.observed() == {"DIVE-03": "strict", "DIVE-05": "lenient", "DIVE-11": rotation}


def aminotv_traffic(url: str) -> None:
    """Log in, refresh, replay the used refresh token, read the streams."""
    headers = {"Content-Type": aminotv.JSON_API}
    login = requests.post(
        f"{url}/auth/login",
        json={"username": aminotv.USERNAME, "password": aminotv.PASSWORD},
        headers=headers,
        timeout=10,
    )
    assert login.status_code == 200, login.text
    attributes = login.json()["data"][0]["attributes"]
    refresh = {"refresh_token": attributes["refresh_token"]}
    for _ in range(2):
        requests.post(f"{url}/auth/refresh", json=refresh, headers=headers, timeout=10)
    bearer = {"Authorization": f"Bearer {attributes['access_token']}"}
    requests.get(f"{url}/channels/{aminotv.CHANNEL_ID}/relationships/streams", headers=bearer, timeout=10)


@pytest.mark.parametrize(
    ("knobs", "reuse"), [(Knobs(), "strict"), (aminotv.BUGS["refresh_reusable"], "lenient")], ids=["honest", "reusable"]
)
def test_aminotv_refresh_reuse_observed(proxied: Callable[..., Proxied], provider, knobs: Knobs, reuse: str) -> None:
    upstream = provider("aminotv", knobs)
    running = proxied("aminotv", upstream.url)
    aminotv_traffic(running.url)
    assert running.proxy.report.drift() == [], json.dumps(running.proxy.report.to_json(), indent=1)[:3000]
    assert running.proxy.observations.observed()["AMINO-10"] == reuse


def junctiontv_traffic(url: str) -> None:
    """A token with Basic credentials, a wrong secret, the raw `Basic id:secret`, a path without its slash."""
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    token = f"{url}/ums/2.0/oauth/"
    requests.post(token, auth=(junctiontv.CLIENT_ID, junctiontv.CLIENT_SECRET), headers=form, timeout=10)
    requests.post(token, auth=(junctiontv.CLIENT_ID, "wrong"), headers=form, timeout=10)
    raw = {**form, "Authorization": f"Basic {junctiontv.CLIENT_ID}:{junctiontv.CLIENT_SECRET}"}
    requests.post(token, headers=raw, timeout=10)
    requests.post(f"{url}/ums/2.0/oauth", auth=(junctiontv.CLIENT_ID, junctiontv.CLIENT_SECRET), timeout=10)


def test_honest_junctiontv_no_drift_and_its_readings(proxied: Callable[..., Proxied], provider) -> None:
    upstream = provider("junctiontv", Knobs())
    running = proxied("junctiontv", upstream.url)
    junctiontv_traffic(running.url)
    assert running.proxy.report.drift() == [], json.dumps(running.proxy.report.to_json(), indent=1)[:3000]
    # Written from the document: Base64 only, the documented path only, no token_type.
    assert running.proxy.observations.observed() == {"JTV-01": "strict", "JTV-05": "strict", "JTV-08": "strict"}
    assert running.proxy.observations.token_lifetime() == junctiontv.LIFETIME


TRAFFIC = {
    "junctiontv": junctiontv_traffic,
    "clickview": clickview_traffic,
    "vision10": vision10_traffic,
    "divetv": divetv_traffic,
    "aminotv": aminotv_traffic,
}
ALLOWED = [name for name in catalogue() if "/bug-" not in name and name.split("/")[0] in TRAFFIC]


@pytest.mark.parametrize("name", ALLOWED)
def test_every_honest_provider_and_allowed_variation_has_no_drift(
    proxied: Callable[..., Proxied], provider, name: str
) -> None:
    vendor, knobs = catalogue()[name]
    running = proxied(vendor, provider(vendor, knobs).url)
    TRAFFIC[vendor](running.url)
    assert running.proxy.report.exchanges >= 4
    assert running.proxy.report.drift() == [], json.dumps(running.proxy.report.to_json(), indent=1)[:3000]


@pytest.mark.parametrize("vendor", sorted(TRAFFIC))
def test_undocumented_refusals_drift_for_every_vendor(proxied: Callable[..., Proxied], provider, vendor: str) -> None:
    _, knobs = catalogue()[f"{vendor}/bug-undocumented_refusal"]
    running = proxied(vendor, provider(vendor, knobs).url)
    TRAFFIC[vendor](running.url)
    assert {f.rule for f in running.proxy.report.drift()} == {"content_type"}
