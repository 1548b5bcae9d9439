"""`/__mock/metrics`: Prometheus counts per vendor, operation and status, faults, chaos, tokens (issue 17)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import LiveServer
from tests.system import require
from tokenmock.mockserver.controls.metrics import FLUSH_SECONDS, NAMES

VISION10_BODY = {"grant_type": "client_credentials", "scope": "all", "client_id": "demo-client",
                 "client_secret": "demo-secret"}
TOKEN = "/vision10/v1/api/oauth/token"
# Chaos kinds the in-process test client cannot deliver (they act on the socket).
ON_THE_WIRE = ["stalled_body", "dripping_body", "no_answer", "connection_reset", "not_http", "truncated_body"]


def samples(http: FlaskClient) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a scrape: (name, labels) -> value."""
    scrape = http.get("/__mock/metrics")
    assert scrape.status_code == 200 and scrape.content_type.startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(scrape.get_data(as_text=True))
        for sample in family.samples
    }


def value(found: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


def test_requests_tokens_and_latency_are_counted_per_vendor_and_operation(make_app: Callable[..., Flask]) -> None:
    http = make_app().test_client()
    for _ in range(3):
        assert http.post(TOKEN, json=VISION10_BODY).status_code == 200
    assert http.post(TOKEN, json={**VISION10_BODY, "client_secret": "wrong"}).status_code == 401
    assert http.get("/vision10/v1/api/resource").status_code == 401
    found = samples(http)
    op = {"vendor": "vision10", "operation": "getAccessToken"}
    assert value(found, "tokenmock_requests_total", status="200", **op) == 3
    assert value(found, "tokenmock_requests_total", status="401", **op) == 1
    assert value(found, "tokenmock_tokens_issued_total", **op) == 3
    assert value(found, "tokenmock_tokens_refused_total", **op) == 1
    resource = {"vendor": "vision10", "operation": "getProtectedResource"}
    assert value(found, "tokenmock_requests_total", status="401", **resource) == 1
    assert value(found, "tokenmock_tokens_refused_total", **resource) == 0  # not a token endpoint
    assert value(found, "tokenmock_request_duration_seconds_count", **op) == 4
    assert value(found, "tokenmock_request_duration_seconds_bucket", le="+Inf", **op) == 4


def test_faults_and_chaos_draws_are_counted_by_kind(make_app: Callable[..., Flask]) -> None:
    http = make_app().test_client()
    http.post("/__mock/faults", json={"kind": "status", "vendor": "vision10", "times": 2, "params": {"status": 500}})
    http.post("/__mock/faults", json={"kind": "sequence", "vendor": "vision10", "operation": "getAccessToken",
                                      "params": {"steps": [{"kind": "documented", "status": 401}, {"kind": "real"}]}})
    for _ in range(4):
        http.post(TOKEN, json=VISION10_BODY)
    http.put("/__mock/chaos", json={"seed": 7, "exclude": ON_THE_WIRE})
    for _ in range(5):
        http.post(TOKEN, json=VISION10_BODY)
    found = samples(http)
    assert value(found, "tokenmock_faults_total", kind="status") == 2
    assert value(found, "tokenmock_faults_total", kind="documented") == 1
    assert value(found, "tokenmock_faults_total", kind="real") == 1  # the sequence's real step
    drawn = {kind for (name, labels), _ in found.items() if name == "tokenmock_chaos_draws_total"
             for key, kind in labels if key == "kind"}
    journaled = {e["fault"].rsplit(":", 1)[1] for e in http.get("/__mock/requests").json["requests"]
                 if (e["fault"] or "").startswith("chaos:")}
    assert drawn == journaled and sum(v for (n, _), v in found.items() if n == "tokenmock_chaos_draws_total") == 5
    # tokens issued and refused are the handler's answers only, not documented, injected or drawn ones
    journal = http.get("/__mock/requests").json["requests"]
    by_handler = [e["status"] for e in journal if e["fault"] is None or e["fault"].endswith(":real")]
    op = {"vendor": "vision10", "operation": "getAccessToken"}
    assert value(found, "tokenmock_tokens_issued_total", **op) == by_handler.count(200) >= 2
    assert value(found, "tokenmock_tokens_refused_total", **op) == len([s for s in by_handler if 400 <= s < 500])


def test_every_exported_name_is_there_and_two_apps_count_apart(make_app: Callable[..., Flask]) -> None:
    first, second = make_app().test_client(), make_app().test_client()
    first.post(TOKEN, json=VISION10_BODY)
    first.post("/__mock/faults", json={"kind": "status", "params": {"status": 500}})
    first.post(TOKEN, json=VISION10_BODY)
    first.put("/__mock/chaos", json={"seed": 1, "exclude": ON_THE_WIRE})
    first.post(TOKEN, json={})
    names = {family.name for family in text_string_to_metric_families(first.get("/__mock/metrics").get_data(True))}
    # the text format names counters without their _total suffix
    assert {n.removesuffix("_total") for n in NAMES} <= names
    assert value(samples(second), "tokenmock_requests_total", vendor="vision10", operation="getAccessToken",
                 status="200") == 0


def test_metrics_obey_the_admin_api_s_access_rules(make_app: Callable[..., Flask]) -> None:
    http = make_app(admin_token="s3cret").test_client()
    assert http.get("/__mock/metrics").status_code == 401
    assert http.get("/__mock/metrics", headers={"Authorization": "Bearer s3cret"}).status_code == 200
    remote = make_app().test_client().get("/__mock/metrics", environ_base={"REMOTE_ADDR": "192.0.2.1"})
    assert remote.status_code == 403


def test_metrics_can_be_switched_off(make_app: Callable[..., Flask]) -> None:
    http = make_app(metrics=False).test_client()
    assert http.post(TOKEN, json=VISION10_BODY).status_code == 200
    assert http.get("/__mock/metrics").status_code == 404


def test_the_readme_lists_exactly_the_exported_names() -> None:
    import re

    from tests.documentation import section as doc_section

    section = doc_section("Metrics: `/__mock/metrics`")
    assert tuple(re.findall(r"^\| `(tokenmock_[a-z_]+)`", section, re.M)) == NAMES
    assert "writes out twice a second" in section and FLUSH_SECONDS == 0.5


def test_a_worker_file_caught_half_made_gets_503_not_a_traceback(
    make_app: Callable[..., Flask], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app()
    metrics = app.extensions["tokenmock"].metrics
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    monkeypatch.setattr(metrics, "_multiprocess", True)  # as under `serve`, without switching this process over
    (tmp_path / "counter_4242.db").write_bytes(b"")  # created by another worker, not yet written
    answer = app.test_client().get("/__mock/metrics")
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "1"
    assert answer.json["error"] == "temporarily_unavailable"
    (tmp_path / "counter_4242.db").unlink()
    assert app.test_client().get("/__mock/metrics").status_code == 200


def test_the_readme_metrics_curl_line_prints_request_counts(
    make_app: Callable[..., Flask], serve: Callable[[Flask], LiveServer]
) -> None:
    import re
    import subprocess

    require("curl")
    from tests.documentation import section as doc_section

    section = doc_section("Metrics: `/__mock/metrics`")
    (line,) = re.findall(r"```sh\n(.*?)\n```", section, re.S)
    live = serve(make_app())
    requests.post(live.url + TOKEN, json=VISION10_BODY, timeout=5)
    run = subprocess.run(["bash", "-c", line.replace("http://127.0.0.1:8080", live.url)],
                         capture_output=True, text=True, timeout=30, check=False)
    printed = run.stdout.splitlines()
    assert printed and all(p.startswith("tokenmock_requests_total{") for p in printed)
    assert 'tokenmock_requests_total{operation="getAccessToken",status="200",vendor="vision10"} 1.0' in printed
