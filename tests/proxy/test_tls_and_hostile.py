"""A TLS upstream behind a private CA (`--upstream-ca`), and upstreams that attack the proxy: slow, huge,
silent, redirecting, with control characters; and admin routes of a proxy bound beyond loopback."""

from __future__ import annotations

import json
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
import trustme

from tests.proxy.conftest import Proxied
from tests.proxy.upstreams import RawUpstream, answer, drip, flood
from tokenmock.mockserver.proxy.render import junit, text_report

TOKEN = b'{"access_token":"abcd","token_type":"Bearer","expires_in":60,"scope":"smartembed.viewkey"}'
OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(TOKEN), TOKEN)
FORM = {"grant_type": "client_credentials", "client_id": "c", "client_secret": "top-secret-value", "scope": "s"}


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def stop_drips() -> Iterator[threading.Event]:
    event = threading.Event()
    yield event
    event.set()


def test_tls_upstream_with_its_ca(proxied: Callable[..., Proxied], ca: trustme.CA, tmp_path: Path) -> None:
    context = __import__("ssl").create_default_context(__import__("ssl").Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(context)
    upstream = RawUpstream(answer(OK), tls=context)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    try:
        trusted = proxied("clickview", upstream.url, ca_file=str(ca_file))
        got = requests.post(f"{trusted.url}/connect/token", data=FORM, timeout=10)
        assert got.status_code == 200 and got.content == TOKEN
        untrusted = proxied("clickview", upstream.url)  # the system's CAs do not know this one
        refused = requests.post(f"{untrusted.url}/connect/token", data=FORM, timeout=10)
    finally:
        upstream.stop()
    assert refused.status_code == 502 and refused.json()["kind"] == "tls"
    assert trusted.proxy.report.drift() == []
    assert [f.rule for f in untrusted.proxy.report.drift()] == ["budget"]


def test_dripping_upstream_meets_the_exchange_deadline(
    proxied: Callable[..., Proxied], stop_drips: threading.Event
) -> None:
    upstream = RawUpstream(drip(OK, 0.05, stop_drips))
    try:
        running = proxied("clickview", upstream.url, seconds=0.5)
        got = requests.post(f"{running.url}/connect/token", data=FORM, timeout=30)
    finally:
        stop_drips.set()
        upstream.stop()
    assert got.status_code == 504 and got.json()["kind"] == "deadline"
    finding = running.proxy.report.drift()[0]
    assert (finding.side, finding.rule) == ("upstream", "budget") and "0.5 s" in finding.message


def test_silent_upstream_meets_the_deadline(proxied: Callable[..., Proxied], stop_drips: threading.Event) -> None:
    upstream = RawUpstream(lambda sock, request: stop_drips.wait(30))
    try:
        running = proxied("clickview", upstream.url, seconds=0.3)
        got = requests.post(f"{running.url}/connect/token", data=FORM, timeout=30)
    finally:
        stop_drips.set()
        upstream.stop()
    assert got.status_code == 504


def test_flooding_upstream_meets_the_body_cap(proxied: Callable[..., Proxied]) -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000000\r\n\r\n"
    upstream = RawUpstream(flood(head, 100_000_000))
    try:
        running = proxied("clickview", upstream.url, max_body=64 * 1024)
        got = requests.post(f"{running.url}/connect/token", data=FORM, timeout=30)
    finally:
        upstream.stop()
    assert got.status_code == 502 and got.json()["kind"] == "body"
    assert "65536 bytes" in running.proxy.report.drift()[0].message


def test_endless_headers_meet_the_head_cap(proxied: Callable[..., Proxied]) -> None:
    upstream = RawUpstream(flood(b"HTTP/1.1 200 OK\r\nX-Long: ", 10_000_000))
    try:
        running = proxied("clickview", upstream.url)
        got = requests.post(f"{running.url}/connect/token", data=FORM, timeout=30)
    finally:
        upstream.stop()
    assert got.status_code == 502


def test_a_redirect_is_an_answer_never_followed(proxied: Callable[..., Proxied]) -> None:
    elsewhere = RawUpstream(answer(OK))
    redirect = (
        b"HTTP/1.1 307 Temporary Redirect\r\nLocation: %s/steal\r\nContent-Length: 0\r\n\r\n" % elsewhere.url.encode()
    )
    upstream = RawUpstream(answer(redirect))
    try:
        running = proxied("clickview", upstream.url)
        got = requests.post(f"{running.url}/connect/token", data=FORM, timeout=10, allow_redirects=False)
    finally:
        upstream.stop()
        elsewhere.stop()
    assert got.status_code == 307 and got.headers["Location"] == f"{elsewhere.url}/steal"
    assert elsewhere.received == []
    assert [f.rule for f in running.proxy.report.drift()] == ["status_code"]


def test_control_characters_and_secrets_from_the_upstream_stay_harmless(
    proxied: Callable[..., Proxied], tmp_path: Path
) -> None:
    body = json.dumps({"error": "\x1b[32mPASSED\x1b[0m", "error_description": "top-secret-value ]]>\x00"}).encode()
    hostile = b"HTTP/1.1 418 \x1b[2J\r\nContent-Type: text/html\x1b[31m\r\nContent-Length: %d\r\n\r\n%s" % (
        len(body),
        body,
    )
    upstream = RawUpstream(answer(hostile))
    try:
        running = proxied("clickview", upstream.url)
        got = requests.post(f"{running.url}/connect/token", data=FORM, timeout=10)
    finally:
        upstream.stop()
    report = running.proxy.report
    assert got.status_code == 418  # passed on as it came: the client asked for this upstream
    assert [f.rule for f in running.proxy.report.drift()] == ["status_code"]
    table = text_report(report, running.proxy.observations)
    assert "\x1b" not in table and "\x00" not in table
    path = tmp_path / "junit.xml"
    junit(report, str(path))
    ET.parse(path)  # well-formed whatever the upstream sent
    written = path.read_text() + table + json.dumps(running.proxy.report_json())
    assert "top-secret-value" not in written
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_admin_routes_beyond_loopback_need_the_admin_token(proxied: Callable[..., Proxied]) -> None:
    upstream = RawUpstream(answer(OK))
    try:
        running = proxied("clickview", upstream.url, exposed=True, admin_token="the-admin-token-1")
        requests.post(f"{running.url}/connect/token", data=FORM, timeout=10)
        for route in ("/__mock/drift", "/__mock/readings", "/__mock/requests"):
            assert requests.get(running.url + route, timeout=10).status_code == 401
            allowed = requests.get(
                running.url + route, headers={"Authorization": "Bearer the-admin-token-1"}, timeout=10
            )
            assert allowed.status_code == 200
        closed = proxied("clickview", upstream.url, exposed=True)  # no admin token: closed altogether
        assert requests.get(closed.url + "/__mock/drift", timeout=10).status_code == 403
    finally:
        upstream.stop()
    assert "the-admin-token-1" not in json.dumps(running.proxy.report_json())
