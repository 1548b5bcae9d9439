"""`tokenmock serve` with chosen readings as the upstream: the readings the proxy infers from ordinary
traffic are the ones set, both ways round, and `--write-readings`' config makes a mock that agrees."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
import yaml

from tests.e2e.test_serve import start, stop
from tests.proxy.conftest import Proxied
from tokenmock.mockserver.config import load_settings
from tokenmock.mockserver.proxy.render import readings_config

# Each set's readings are the opposite of the other's; NON_DEFAULT differs from the mock's default on each.
NON_DEFAULT = {
    "CV-03": "strict",
    "CV-11": "strict",
    "DIVE-01": "strict",
    "DIVE-03": "strict",
    "DIVE-05": "strict",
    "DIVE-11": "lenient",
    "AMINO-03": "strict",
    "AMINO-07": "strict",
    "AMINO-10": "lenient",
    "JTV-01": "strict",
    "JTV-08": "lenient",
    "V10-02": "lenient",
    "V10-12": "lenient",
}
DEFAULT = {entry: "lenient" if reading == "strict" else "strict" for entry, reading in NON_DEFAULT.items()}
FOR_CV11 = {"CV-02": "lenient"}
# Access-token lifetimes (the `token_lifetime` setting) other than the defaults, and the defaults.
LIFETIMES = {"clickview": 1234, "divetv": 5000, "aminotv": 777, "junctiontv": 1800, "vision10": 600}
DEFAULT_LIFETIMES = {
    "clickview": 86400,
    "divetv": 9000,
    "aminotv": 3600,
    "junctiontv": 3600,
    "vision10": 7199,
}  # CV-11 shows only where Basic credentials are read at all

DIVE_KEY = {"Authorization": "Basic " + base64.b64encode(b"demo-client-key").decode()}
DIVE_USER = {"username": "demo-user", "password": hashlib.md5(b"demo-password").hexdigest()}
AMINO_USER = {"username": "demo@example.com", "password": "demo-password"}
JSON_API = {"Content-Type": "application/vnd.api+json"}


def clickview(url: str) -> None:
    good = {"grant_type": "client_credentials", "client_id": "demo-client", "client_secret": "demo-secret"}
    requests.post(f"{url}/connect/token", data={**good, "scope": "smartembed.viewkey"}, timeout=10)  # lifetime
    requests.post(f"{url}/connect/token", data=good, timeout=10)  # no scope: CV-03
    bad = {"grant_type": "client_credentials", "scope": "smartembed.viewkey"}
    requests.post(f"{url}/connect/token", data=bad, auth=("demo-client", "wrong"), timeout=10)  # CV-11


def divetv(url: str) -> None:
    token = f"{url}/v1/token"
    issued = requests.post(f"{token}?grant_type=device_credentials", json=DIVE_USER, headers=DIVE_KEY, timeout=10)
    assert issued.status_code == 200, issued.text  # DIVE-05 in its expires_in
    refresh = {"refresh_token": issued.json()["refresh_token"]}
    requests.post(f"{token}?grant_type=refresh_token", json=refresh, headers=DIVE_KEY, timeout=10)
    requests.post(f"{token}?grant_type=refresh_token", json=refresh, headers=DIVE_KEY, timeout=10)  # DIVE-11
    requests.post(f"{token}?grant_type=device_credentials", data=DIVE_USER, headers=DIVE_KEY, timeout=10)  # DIVE-01
    in_body = {**DIVE_USER, "grant_type": "device_credentials"}
    requests.post(token, json=in_body, headers=DIVE_KEY, timeout=10)  # DIVE-03


def aminotv(url: str) -> None:
    login = requests.post(f"{url}/auth/login", json=AMINO_USER, headers=JSON_API, timeout=10)
    assert login.status_code == 200, login.text  # AMINO-03 in its timestamps
    refresh = {"refresh_token": login.json()["data"][0]["attributes"]["refresh_token"]}
    requests.post(f"{url}/auth/refresh", json=refresh, headers=JSON_API, timeout=10)
    requests.post(f"{url}/auth/refresh", json=refresh, headers=JSON_API, timeout=10)  # AMINO-10
    requests.post(f"{url}/auth/login", json=AMINO_USER, timeout=10)  # application/json: AMINO-07


def junctiontv(url: str) -> None:
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    requests.post(f"{url}/ums/2.0/oauth/", auth=("demo-client", "demo-secret"), headers=form, timeout=10)  # JTV-08
    raw = {**form, "Authorization": "Basic demo-client:demo-secret"}
    requests.post(f"{url}/ums/2.0/oauth/", headers=raw, timeout=10)  # JTV-01


def vision10(url: str) -> None:
    body = {
        "grant_type": "password",
        "scope": "all",
        "client_id": "vision-api-user",
        "client_secret": "abcdefghizklmnopponommnshfghzxxs",
    }
    requests.post(f"{url}/v1/api/oauth/token", json={**body, "grant_type": "client_credentials"}, timeout=10)
    requests.post(f"{url}/v1/api/oauth/token", json=body, timeout=10)  # V10-12
    requests.post(f"{url}/v1/api/oauth/token", data={**body, "grant_type": "client_credentials"}, timeout=10)  # V10-02


TRAFFIC: dict[str, Callable[[str], None]] = {
    "clickview": clickview,
    "divetv": divetv,
    "aminotv": aminotv,
    "junctiontv": junctiontv,
    "vision10": vision10,
}


@pytest.fixture(scope="module", params=["non_default", "default"])
def upstream(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, dict, dict]]:
    chosen = request.param == "non_default"
    readings = {**(NON_DEFAULT if chosen else DEFAULT), **FOR_CV11}
    lifetimes = LIFETIMES if chosen else DEFAULT_LIFETIMES
    config = tmp_path_factory.mktemp("serve") / "readings.yaml"
    vendors = {vendor: {"token_lifetime": lifetime} for vendor, lifetime in lifetimes.items()} if chosen else {}
    config.write_text(yaml.safe_dump({"readings": readings, "vendors": vendors}))
    process, base = start("--config", str(config), "--workers", "1")
    yield base, readings, lifetimes
    stop(process)


@pytest.mark.parametrize("vendor", sorted(TRAFFIC))
def test_observed_readings_are_the_ones_set(
    upstream: tuple[str, dict, dict], proxied: Callable[..., Proxied], vendor: str, tmp_path: Path
) -> None:
    base, readings, lifetimes = upstream
    running = proxied(vendor, f"{base}/{vendor}")
    TRAFFIC[vendor](running.url)
    observed = running.proxy.observations.observed()
    expected = {entry: reading for entry, reading in readings.items() if entry.startswith(_PREFIX[vendor])}
    assert observed == expected, running.proxy.observations.evidence
    # The config it writes selects them, and loads as the mock's settings.
    config = tmp_path / "observed.yaml"
    config.write_text(readings_config(running.proxy.observations, base))
    settings = load_settings(str(config))
    assert settings["readings"] == expected
    assert settings["vendors"][vendor]["token_lifetime"] == lifetimes[vendor]


_PREFIX = {"clickview": "CV-", "divetv": "DIVE-", "aminotv": "AMINO-", "junctiontv": "JTV-", "vision10": "V10-"}
