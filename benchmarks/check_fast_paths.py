"""Check that the benchmark-driven fast paths answer exactly as the reference paths they shortcut.

- `tokenmock.contracts.validation.compile_fast` against jsonschema, on every request and response schema of the
  five contracts, with random and mutated instances;
- `JwtSigner`'s own encoder and verifier against PyJWT's `encode`/`decode`;
- the mock's lean WSGI route (tokenmock.mockserver.app) against Flask's dispatch, on valid and invalid requests
  of every vendor: same status, headers and body (tokens aside, which differ by their `jti`).

Run: `python benchmarks/check_fast_paths.py` (exits 1 on any difference).
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import jwt

from tokenmock import contracts
from tokenmock.contracts.validation import compile_fast

EPOCH = 1_767_225_600.0


def _schemas() -> list[tuple[str, Any]]:
    found: list[tuple[str, Any]] = []
    for vendor in contracts.vendors():
        for op in contracts.operations(vendor):
            for media_type in op.request_media_types:
                found.append((f"{vendor}.{op.operation_id} request {media_type}", op.body_schema(media_type) or {}))
            for parameter in op.parameters:
                found.append((f"{vendor}.{op.operation_id} parameter {parameter['name']}", parameter.get("schema", {})))
            for status, response in op.responses.items():
                for media_type, media in (response.get("content") or {}).items():
                    found.append((f"{vendor}.{op.operation_id} {status} {media_type}", media.get("schema", {})))
                for name, header in (response.get("headers") or {}).items():
                    found.append((f"{vendor}.{op.operation_id} {status} header {name}", header.get("schema", {})))
    return found


_ATOMS: list[Any] = [None, True, False, 0, 1, -1, 3600, 2.5, 1.0, "", "x", "Bearer", "bearer", "a" * 300,
                     "2026-01-01T00:00:00Z", "84eb61a9-75d4-42c7-8c15-84c3d7776227", "not-a-uuid", [], {}, [1, "a"]]


def _mutations(value: Any, rng: random.Random, depth: int = 0) -> Any:
    """A random variant of `value`: fields dropped, retyped, lengthened, added."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            roll = rng.random()
            if roll < 0.1:
                continue
            out[k] = rng.choice(_ATOMS) if roll < 0.25 else _mutations(v, rng, depth + 1)
        if rng.random() < 0.2:
            out[rng.choice(["extra", "client_secret", "scope", "errors"])] = rng.choice(_ATOMS)
        return out
    if isinstance(value, list):
        return [_mutations(v, rng, depth + 1) for v in value if rng.random() > 0.1]
    if isinstance(value, str) and rng.random() < 0.3:
        return rng.choice([value * 40, value.upper(), "", value + "!"])
    if rng.random() < 0.15:
        return rng.choice(_ATOMS)
    return value


def check_schemas(rounds: int = 300) -> int:
    rng = random.Random(7)
    examples: list[Any] = []
    for vendor in contracts.vendors():
        for op in contracts.operations(vendor):
            examples.extend(value for *_, value in op.examples())
    failures = compiled = 0
    for name, schema in _schemas():
        fast = compile_fast(schema)
        compiled += fast.compiled
        for _ in range(rounds):
            instance = _mutations(rng.choice(examples + _ATOMS), rng)
            if fast.is_valid(instance) != fast.validator.is_valid(instance):
                failures += 1
                print(f"DIFF {name}: {json.dumps(instance)[:200]}")
                break
    print(f"schemas: {len(_schemas())} checked, {compiled} compiled to plain checks, {failures} differ")
    return failures


def check_signers() -> int:
    from tokenmock.mockserver.controls.clock import Clock
    from tokenmock.mockserver.tokens import JwtSigner

    clock = Clock()
    clock.freeze(EPOCH)
    options = {"verify_exp": False, "verify_nbf": False, "verify_iat": False, "verify_aud": False}
    failures = 0
    variants: list[tuple[str, dict[str, Any]]] = [
        ("HS256", {"headers": {"typ": "at+jwt"}}),
        ("RS256", {}),
        ("HS256", {"secret": "k" * 40}),
    ]
    for algorithm, kwargs in variants:
        signer = JwtSigner(clock=clock, algorithm=algorithm, **kwargs)
        if signer._header_segment is None:
            print(f"signers: {algorithm} {kwargs} does not take the fast path")
            failures += 1
        for claims in ({"iss": "i", "scope": ["a", "b"], "jti": "j"}, {"sub": "ü-ñ", "n": 1.5, "nested": {"a": None}}):
            issued = signer.issue(claims, 60)
            key = signer._signing_key
            reference = jwt.encode(dict(issued.claims), key, algorithm=algorithm, headers=signer._header)
            decoded = jwt.decode(reference, signer._verifying_key, algorithms=[algorithm], options=options)  # type: ignore[arg-type]
            if issued.token != reference or signer.verify(issued.token) != decoded:
                print(f"DIFF signer {algorithm}: {claims}")
                failures += 1
    print(f"signers: {failures} differ")
    return failures


def check_routes() -> int:
    from werkzeug.test import Client

    from tokenmock.mockserver import create_app
    from tokenmock.mockserver.controls.clock import Clock

    def build(lean: bool) -> Any:
        clock = Clock()
        clock.freeze(EPOCH)
        app = create_app({"access_log": False, "validate_responses": True, "clock": clock})
        if not lean:
            cors = app.wsgi_app  # CORS stays in front of both; only the lean layer is taken out
            cors.app = cors.app.flask  # type: ignore[attr-defined]
        return app

    form = "application/x-www-form-urlencoded"
    cv = "grant_type=client_credentials&client_id=demo-client&client_secret=demo-secret&scope=smartembed.viewkey"
    v10 = {"grant_type": "client_credentials", "scope": "all", "client_id": "demo-client",
           "client_secret": "demo-secret"}
    requests: list[dict[str, Any]] = [
        {"method": "POST", "path": "/clickview/connect/token", "data": cv, "content_type": form},
        {"method": "POST", "path": "/clickview/connect/token", "data": cv.replace("demo-secret", "x"),
         "content_type": form},
        {"method": "POST", "path": "/clickview/connect/token", "data": cv + "&scope=x", "content_type": form},
        {"method": "POST", "path": "/clickview/connect/token", "data": "%ff", "content_type": form},
        {"method": "POST", "path": "/clickview/connect/token", "data": "x" * 70000, "content_type": form},
        {"method": "POST", "path": "/clickview/connect/token", "data": cv, "content_type": "text/plain"},
        {"method": "POST", "path": "/clickview/connect/token", "data": cv, "content_type": form,
         "headers": {"Prefer": "code=401"}},
        {"method": "POST", "path": "/clickview/connect/token", "data": cv, "content_type": form,
         "headers": {"Prefer": "example=nope"}},
        {"method": "GET", "path": "/clickview/connect/token"},
        {"method": "GET", "path": "/clickview/api/v1/example", "headers": {"Authorization": "Bearer nope"}},
        {"method": "GET", "path": "/clickview/api/v1/example"},
        {"method": "POST", "path": "/vision10/v1/api/oauth/token", "json": v10},
        {"method": "POST", "path": "/vision10/v1/api/oauth/token", "json": {**v10, "client_secret": "x"}},
        {"method": "POST", "path": "/vision10/v1/api/oauth/token", "data": "{", "content_type": "application/json"},
        {"method": "POST", "path": "/vision10/v1/api/oauth/token?client_id=a", "json": [1]},
        {"method": "GET", "path": "/vision10/v1/api/resource", "headers": {"Authorization": "Basic eA=="}},
        {"method": "POST", "path": "/junctiontv/ums/2.0/oauth/", "content_type": form,
         "headers": {"Authorization": "Basic ZGVtby1jbGllbnQ6ZGVtby1zZWNyZXQ="}},
        {"method": "POST", "path": "/junctiontv/ums/2.0/oauth", "content_type": form},
        {"method": "GET", "path": "/junctiontv/ums/2.0/resource", "headers": {"Cookie": "a=b"}},
        {"method": "POST", "path": "/divetv/v1/token?grant_type=device_credentials",
         "json": {"username": "demo-user", "password": "x"},
         "headers": {"Authorization": "Basic ZGVtby1jbGllbnQta2V5"}},
        {"method": "POST", "path": "/divetv/v1/token", "json": {}},
        {"method": "POST", "path": "/aminotv/auth/login", "data": '{"username":"demo@example.com","password":"x"}',
         "content_type": "application/vnd.api+json"},
        {"method": "GET", "path": "/aminotv/channels/c1/relationships/streams"},
        {"method": "GET", "path": "/nowhere"},
        {"method": "HEAD", "path": "/clickview/api/v1/example"},
    ]
    lean_app, flask_app = build(True), build(False)
    lean, flask = Client(lean_app), Client(flask_app)
    failures = 0
    for spec in requests:
        a, b = lean.open(**spec), flask.open(**spec)
        journals = [_last_entry(app) for app in (lean_app, flask_app)]
        if journals[0] != journals[1]:
            failures += 1
            print(f"DIFF journal {spec['method']} {spec['path']}: {journals[0]}\n     flask: {journals[1]}")
        body_a, body_b = _comparable(a.get_data()), _comparable(b.get_data())
        headers_a = sorted((k, v) for k, v in a.headers.items())
        headers_b = sorted((k, v) for k, v in b.headers.items())
        if a.status != b.status or body_a != body_b or headers_a != headers_b:
            failures += 1
            print(f"DIFF {spec['method']} {spec['path']}: {a.status} {headers_a} {body_a[:120]!r}\n"
                  f"     flask: {b.status} {headers_b} {body_b[:120]!r}")
    print(f"routes: {len(requests)} requests, {failures} differ")
    return failures


def check_forms(rounds: int = 100_000) -> int:
    """`tokenmock.mockserver.pipeline.validation.parse_form`'s split against `urllib.parse.parse_qsl` on random
    form text."""
    from urllib.parse import parse_qsl

    from tokenmock.mockserver.pipeline.validation import MAX_FORM_FIELDS, _split_form

    rng = random.Random(11)
    failures = 0
    for _ in range(rounds):
        text = "".join(rng.choice("ab=&;x \t\u00e9#?") for _ in range(rng.randint(0, 14)))
        outcomes: list[Any] = []
        for split in (_split_form, lambda t: parse_qsl(t, keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)):
            try:
                outcomes.append(split(text))
            except ValueError:
                outcomes.append("too many fields")
        if outcomes[0] != outcomes[1]:
            failures += 1
            print(f"DIFF form {text!r}: {outcomes}")
    print(f"forms: {rounds} random bodies, {failures} differ")
    return failures


def check_bodies() -> int:
    """`tokenmock.mockserver.app.read_body` against werkzeug's `get_data` on every shape of body a server can
    hand over."""
    import io

    from tokenmock.mockserver.app import _werkzeug_body, read_body

    failures = cases = 0
    for terminated in (False, True):
        for length in (None, "", "0", "5", "12", "13", "20", "x", "+5", "-1"):
            for data in (b"", b"hello", b"hello world!", b"hello world!!"):
                for chunked in (False, True):
                    environ: dict[str, Any] = {}
                    if length is not None:
                        environ["CONTENT_LENGTH"] = length
                    if terminated:
                        environ["wsgi.input_terminated"] = True
                    if chunked:
                        environ["HTTP_TRANSFER_ENCODING"] = "chunked"
                    outcomes: list[Any] = []
                    for read in (read_body, _werkzeug_body):
                        try:
                            outcomes.append(read({**environ, "wsgi.input": io.BytesIO(data)}, 12))
                        except Exception as exc:  # the exception type is the outcome
                            outcomes.append(type(exc).__name__)
                    cases += 1
                    if outcomes[0] != outcomes[1]:
                        failures += 1
                        print(f"DIFF body {environ} {data!r}: {outcomes[0]!r} vs werkzeug {outcomes[1]!r}")
    print(f"bodies: {cases} cases, {failures} differ")
    return failures


def _last_entry(app: Any) -> dict[str, Any]:
    entries = app.extensions["tokenmock"].journal.entries()
    if not entries:
        return {}
    return {k: v for k, v in entries[-1].items() if k not in ("id", "time", "duration_ms")}


def _comparable(body: bytes) -> Any:
    try:
        data = json.loads(body)
    except ValueError:
        return body
    if isinstance(data, dict):
        for key in ("access_token", "refresh_token"):
            if key in data:
                data[key] = "<token>"
    return data


def main() -> int:
    failures = check_schemas() + check_signers() + check_forms() + check_bodies() + check_routes()
    print("OK: the fast paths agree with the reference paths" if not failures else f"{failures} difference(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
