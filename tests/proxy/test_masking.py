"""What the proxy learns is secret, and where it masks it."""

from __future__ import annotations

import json

from tokenmock.mockserver.proxy.exchange import MAX_LEARNED, Exchange, Secrets


def exchange(number: int, body: bytes, answer: bytes, headers: list[tuple[str, str]] | None = None) -> Exchange:
    return Exchange(
        id=number,
        vendor="clickview",
        time=0.0,
        method="POST",
        target="/connect/token",
        request_headers=[("Content-Type", "application/x-www-form-urlencoded"), *(headers or [])],
        request_body=body,
        status=400,
        reason="Bad Request",
        response_headers=[("Content-Type", "application/json"), ("Set-Cookie", "sid=cookie-value-1; Max-Age=3600")],
        response_body=answer,
        duration_ms=1.0,
    )


def test_a_credential_seen_once_is_masked_where_it_turns_up_later() -> None:
    secrets = Secrets()
    first = exchange(1, b"client_id=c&client_secret=s3cr%27et+value", b'{"access_token": "opaque-1234"}')
    secrets.learn(first)
    later = exchange(2, b"client_id=c", json.dumps({"error_description": "bad secret s3cr'et value"}).encode())
    secrets.learn(later)
    shown = json.dumps(secrets.masked(later))
    assert "s3cr'et value" not in shown and "***" in shown
    # The first exchange's own opaque token is masked in it; cookie attributes are not secrets.
    assert "opaque-1234" not in json.dumps(secrets.masked(first))
    assert "cookie-value-1" in first.secrets and "3600" not in first.secrets


def test_basic_password_and_cookie_are_lasting_credentials() -> None:
    secrets = Secrets()
    sent = exchange(
        1, b"", b"{}", [("Authorization", "Basic ZGVtbzpiYXNpYy1wYXNzd29yZA=="), ("Cookie", "s=cookie-abc")]
    )
    secrets.learn(sent)
    echo = exchange(2, b"", json.dumps({"m": "basic-password / cookie-abc"}).encode())
    secrets.learn(echo)
    assert json.loads(json.dumps(secrets.masked(echo)))["response"]["body"]["m"] == "*** / ***"


def test_the_lasting_pool_is_bounded() -> None:
    secrets = Secrets()
    for number in range(MAX_LEARNED + 10):
        secrets.learn(exchange(number, f"client_secret=secret-{number:05d}".encode(), b"{}"))
    assert len(secrets._lasting) == MAX_LEARNED and "secret-00000" not in secrets._lasting


def test_the_curl_line_is_masked_before_it_is_encoded_and_quoted() -> None:
    from tokenmock.mockserver.proxy.exchange import curl_line

    secrets = Secrets()
    sent = exchange(1, b"client_id=it%27s+me&client_secret=it%27s+secret&scope=a+b", b"{}")
    secrets.learn(sent)
    line = curl_line(secrets.masked(sent), "https://vendor.example")
    assert line.endswith("--data-raw 'client_id=it%27s+me&client_secret=***&scope=a+b'")
