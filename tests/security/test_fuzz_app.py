"""Hostile input at every operation of the in-process mock: every answer is a 4xx in the vendor's shape.

Hypothesis draws garbage bodies, invalid UTF-8, NUL bytes, deep JSON, wrong and doubled content types,
odd Content-Length values, malformed and huge Basic and Bearer headers, bad base64, thousands of query
parameters and hostile path parameters; a table adds the extreme sizes. Response validation is on, so a
reply that drifts from the contract or a handler that raises fails the test at once (never a 500).
"""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import EPOCH
from tests.security.flows import VENDORS, flask_http, login
from tests.security.hostile import CASES, ROUTES, Route, assert_refusal, assert_vendor_refusal
from tokenmock.mockserver import create_app
from tokenmock.mockserver.controls.clock import Clock

MAX_BODY = 4096  # small, so oversize cases stay cheap
CONFIGS = {"lenient": {}, "strict": {"strict_all": True}}

CONTENT_TYPES = [
    "application/json",
    "application/x-www-form-urlencoded",
    "application/vnd.api+json",
    "application/json; charset=utf-16",
    "application/x-www-form-urlencoded; charset=latin-1",
    "application/json, application/x-www-form-urlencoded",  # a doubled header, as proxies merge it
    "application/json, application/json",
    "text/plain",
    "text/html",
    "multipart/form-data; boundary=xyz",
    "*/*",
    "application/",
    ";",
    "",
    "application/json\x00",
]
# Header values a WSGI server can deliver: latin-1, no line breaks.
header_text = st.text(st.characters(max_codepoint=255, exclude_characters="\r\n"), max_size=60)


def _jwt_like(parts: list[bytes]) -> str:
    return ".".join(base64.urlsafe_b64encode(p).rstrip(b"=").decode() for p in parts)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=12,
)
bodies = st.one_of(
    st.binary(max_size=300),
    st.binary(max_size=100).map(lambda b: b + b"\xff\xfe\xc3\x28\x80"),  # invalid UTF-8
    st.binary(max_size=100).map(lambda b: b"\x00" + b + b"\x00"),  # NUL bytes
    json_values.map(lambda v: json.dumps(v).encode()),
    st.dictionaries(st.text(max_size=12), json_values, max_size=6).map(lambda v: json.dumps(v).encode()),
    st.lists(st.tuples(st.text(max_size=12), st.text(max_size=12)), max_size=8).map(lambda kv: urlencode(kv).encode()),
    st.integers(1, 5000).map(lambda n: b"[" * n + b"]" * n),  # deep nesting
    st.integers(1, 5000).map(lambda n: b'{"a":' * n + b"1" + b"}" * n),
    st.just(b"a" * (MAX_BODY + 1)),  # over the limit
    st.just(b""),
)
authorization = st.one_of(
    st.none(),
    st.binary(max_size=48).map(lambda b: "Basic " + base64.b64encode(b).decode()),
    st.text("!@#$%^&*()=.-_~ ", max_size=30).map(lambda t: "Basic " + t),  # bad base64
    header_text.map(lambda t: "Basic " + t),
    st.sampled_from(["Basic", "Basic ", "basic Og==", "Basic Og==", "Basic AA==", "Basic =", "Basic ===="]),
    st.integers(1000, 20000).map(lambda n: "Basic " + "QUFB" * (n // 4)),  # huge
    header_text.map(lambda t: "Bearer " + t),
    st.lists(st.binary(max_size=40), min_size=1, max_size=4).map(lambda p: "Bearer " + _jwt_like(p)),
    st.sampled_from(["Bearer", "Bearer ", "bearer  x", "Bearer a.b.c", "Bearer ..", "Digest x", "Negotiate \x00"]),
    header_text,
)
queries = st.one_of(
    st.lists(st.tuples(header_text, header_text), max_size=8).map(lambda kv: urlencode(kv)),
    st.integers(1000, 5000).map(lambda n: "&".join(f"p{i}={i}" for i in range(n))),  # thousands of parameters
    st.integers(100, 2000).map(lambda n: "&".join(["grant_type=refresh_token"] * n)),  # one, repeated
    header_text.map(lambda t: quote(t, safe="=&")),
)
# Declared lengths the server can check before reading (a length beyond the body is in EXTREMES).
content_lengths = st.one_of(
    st.none(), st.sampled_from(["-1", "abc", "0", "1e3", "0x10", "99999999999999999999999", str(MAX_BODY + 1)])
)


@st.composite
def hostile_requests(draw: Any, route: Route) -> dict[str, Any]:
    """The keyword arguments of one hostile `FlaskClient.open` call at `route`."""
    # Any text but "/", which would make "//" (a mangled path: test_mangled_paths_get_the_vendor_shape...).
    values = {
        name: quote(draw(st.text(st.characters(exclude_characters="/", codec="utf-8"), max_size=40)), safe="") or "x"
        for name in route.params
    }
    headers: dict[str, str] = {}
    if (content_type := draw(st.one_of(st.none(), st.sampled_from(CONTENT_TYPES), header_text))) is not None:
        headers["Content-Type"] = content_type
    if (auth := draw(authorization)) is not None:
        headers["Authorization"] = auth
    if draw(st.booleans()):
        headers["Cookie"] = draw(header_text)
    if draw(st.booleans()):
        headers["Accept"] = draw(header_text)
    request: dict[str, Any] = {
        "path": route.with_params(values) if values else route.path,
        "mangled_path": bool(values),
        "method": route.method,
        "headers": headers,
        "data": draw(bodies),
        "query_string": draw(queries),
    }
    if (length := draw(content_lengths)) is not None:
        request["environ_overrides"] = {"CONTENT_LENGTH": length}
    return request


def _app(config: dict[str, Any]) -> Flask:
    clock = Clock()
    clock.freeze(EPOCH)
    return create_app(
        {"validate_responses": True, "access_log": False, "max_body_bytes": MAX_BODY, "clock": clock, **config}
    )


@pytest.fixture(scope="module", params=sorted(CONFIGS))
def app(request: pytest.FixtureRequest) -> Flask:
    return _app(CONFIGS[request.param])


def _oversize(route: Route, request: dict[str, Any]) -> bool:
    """Whether the operation must refuse the request as too large (one without a body may ignore it)."""
    if not route.takes_body:
        return False
    declared = (request.get("environ_overrides") or {}).get("CONTENT_LENGTH")
    if declared is None:
        return len(request["data"]) > MAX_BODY
    return declared.isdigit() and int(declared) > MAX_BODY


def _assert_still_serving(client: FlaskClient) -> None:
    for vendor in VENDORS:
        assert login(vendor, flask_http(client)).status == 200


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_hostile_requests_get_documented_refusals(app: Flask, route: Route) -> None:
    client = app.test_client(use_cookies=False)

    @settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large], deadline=None)
    @given(request=hostile_requests(route))
    def attempt(request: dict[str, Any]) -> None:
        CASES["in-process hypothesis"] += 1
        mangled = request.pop("mangled_path")
        response = client.open(**request)
        if mangled:  # a drawn path parameter may stop matching the route (an encoded slash, "..")
            assert_vendor_refusal(route.vendor, response.status_code, response.get_data(), response.headers)
        else:
            assert_refusal(
                route, response.status_code, response.get_data(), response.headers, oversize=_oversize(route, request)
            )

    attempt()
    _assert_still_serving(client)


# The extremes, at every operation: deterministic, so each runs on every test run.
EXTREMES: dict[str, dict[str, Any]] = {
    "body 16 MiB": {"data": b"x" * (16 << 20)},
    "body one byte over": {"data": b"{" + b" " * MAX_BODY + b"}", "headers": {"Content-Type": "application/json"}},
    "Content-Length 2^70": {"environ_overrides": {"CONTENT_LENGTH": str(2**70)}},
    "JSON nested 100000 deep": {
        "data": b"[" * 100_000 + b"]" * 100_000,
        "headers": {"Content-Type": "application/json"},
    },
    "JSON:API nested 3000 deep": {
        "data": b'{"a":' * 3000 + b"0" + b"}" * 3000,
        "headers": {"Content-Type": "application/vnd.api+json"},
    },
    "JSON with a 4000-digit number": {
        "data": b'{"username": ' + b"9" * 4000 + b"}",
        "headers": {"Content-Type": "application/json"},
    },
    "JSON NaN and Infinity": {
        "data": b'{"username": NaN, "password": Infinity}',
        "headers": {"Content-Type": "application/json"},
    },
    "JSON duplicate keys": {
        "data": b'{"grant_type":"client_credentials","grant_type":["x"]}',
        "headers": {"Content-Type": "application/json"},
    },
    "JSON in UTF-16": {"data": '{"username":"a"}'.encode("utf-16"), "headers": {"Content-Type": "application/json"}},
    "form with 5000 fields": {
        "data": "&".join(f"f{i}=v" for i in range(5000)),
        "headers": {"Content-Type": "application/x-www-form-urlencoded"},
    },
    "form of invalid UTF-8": {
        "data": b"client_id=\xff\xfe&client_secret=\xc3\x28",
        "headers": {"Content-Type": "application/x-www-form-urlencoded"},
    },
    "form with NUL bytes": {
        "data": b"grant_type=client_credentials\x00&client_id=%00",
        "headers": {"Content-Type": "application/x-www-form-urlencoded"},
    },
    "10000 query parameters": {"query_string": "&".join(f"q{i}=1" for i in range(10_000))},
    "query of invalid UTF-8": {"query_string": "grant_type=%ff%fe&access_token=%c3%28"},
    "Basic header 1 MiB": {"headers": {"Authorization": "Basic " + "QUFB" * (1 << 18)}},
    "Basic of invalid UTF-8": {
        "headers": {"Authorization": "Basic " + base64.b64encode(b"\xff\xfe:\xc3\x28").decode()}
    },
    "Basic with NUL bytes": {
        "headers": {"Authorization": "Basic " + base64.b64encode(b"demo-client\x00:demo-secret\x00").decode()}
    },
    "Basic bad base64": {"headers": {"Authorization": "Basic ***not-base64***"}},
    "Basic without colon": {"headers": {"Authorization": "Basic " + base64.b64encode(b"demo-client").decode()}},
    "Bearer 1 MiB": {"headers": {"Authorization": "Bearer " + "a" * (1 << 20)}},
    "Bearer JWT with bad base64": {"headers": {"Authorization": "Bearer eyJ!!!.eyJ###.sig"}},
    "Bearer JWT header not JSON": {"headers": {"Authorization": "Bearer " + _jwt_like([b"not json", b"{}", b"s"])}},
    "Bearer JWT header a list": {"headers": {"Authorization": "Bearer " + _jwt_like([b"[1,2]", b"{}", b"s"])}},
    "Bearer with NUL": {"headers": {"Authorization": "Bearer \x00\x00"}},
    "two schemes": {"headers": {"Authorization": "Basic Og==, Bearer x"}},
    "content type doubled": {"data": b"{}", "headers": {"Content-Type": "application/json, text/plain"}},
    "content type garbage": {"data": b"{}", "headers": {"Content-Type": "\x7f\x00;;=;charset"}},
    "cookie garbage": {"headers": {"Cookie": "session=\x00\xff; session=; =;;"}},
    "cookie 64 KiB": {"headers": {"Cookie": "session=" + "s" * 65536}},
}


@pytest.mark.parametrize("case", sorted(EXTREMES))
@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_extreme_requests_get_documented_refusals(app: Flask, route: Route, case: str) -> None:
    CASES["in-process table"] += 1
    request = {"path": route.path, "method": route.method, **EXTREMES[case]}
    response = app.test_client(use_cookies=False).open(**request)
    oversize = _oversize(route, {"data": b"", **request})
    assert_refusal(route, response.status_code, response.get_data(), response.headers, oversize=oversize)


@pytest.mark.parametrize("value", ["%00", "a" * 100_000, "%ff%fe", "..", "%25", "%20", "x;y=z"])
@pytest.mark.parametrize("route", [r for r in ROUTES if r.params], ids=str)
def test_path_parameters_of_any_length(app: Flask, route: Route, value: str) -> None:
    """A profile or channel id of 100 KiB, NUL bytes, invalid UTF-8: 4xx, never a crash."""
    CASES["in-process table"] += 1
    response = app.test_client(use_cookies=False).open(
        route.with_params(dict.fromkeys(route.params, value)), method=route.method
    )
    assert_refusal(route, response.status_code, response.get_data(), response.headers)


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/clickview//connect/token"), ("GET", "/aminotv//channels/demo-channel/relationships/streams")],
)
def test_mangled_paths_get_the_vendor_shape_not_a_redirect(app: Flask, method: str, path: str) -> None:
    """werkzeug answers "//" with a 308 and an HTML page; a vendor path that matches nothing is the vendor's 404."""
    CASES["in-process table"] += 1
    response = app.test_client(use_cookies=False).open(path, method=method)
    assert_vendor_refusal(path.split("/")[1], response.status_code, response.get_data(), response.headers)


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_a_body_shorter_than_its_content_length(app: Flask, route: Route) -> None:
    """The client announced 100 bytes and sent 3 (or hung up): the client's error, in the vendor's shape."""
    CASES["in-process table"] += 1
    response = app.test_client(use_cookies=False).open(
        route.path,
        method=route.method,
        data=b"abc",
        headers={"Content-Type": "application/json"},
        environ_overrides={"CONTENT_LENGTH": "100"},
    )
    assert_refusal(route, response.status_code, response.get_data(), response.headers)
