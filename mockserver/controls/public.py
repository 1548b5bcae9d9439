"""The two `/__mock/` endpoints every caller may read: `health` and `ca.pem`.

Why apart from the admin blueprint: readiness probes (Kubernetes' kubelet, docker-compose) and clients
that must learn which CA to trust call from other machines and carry no admin token, and neither answer
holds a secret or changes state. Both are described in openapi/admin.yaml with `security: []`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from flask import Blueprint, Response

from tokenmock.mockserver.errors import StoreUnavailable
from tokenmock.mockserver.pipeline.exchange import Reply
from tokenmock.mockserver.responses import to_response
from tokenmock.mockserver.serving.tls import ca_file

if TYPE_CHECKING:
    from tokenmock.mockserver.pipeline.core import TokenMock

PREFIX = "/__mock"
RETRY_AFTER = 1


def store_state(mock: TokenMock) -> tuple[int | None, dict[str, object]]:
    """(None when reachable, else the seconds to retry after; the store described without its address),
    from one read through the store (during an outage the store's breaker answers at once)."""
    kind = type(mock.store).__name__.removesuffix("Store").lower()
    started = time.perf_counter()
    try:
        mock.store.probe()
    except StoreUnavailable as outage:
        return outage.retry_after, {"kind": kind, "reachable": False, "error": type(outage).__name__}
    except Exception as exc:  # any other failure of the backend means not ready too; its text may name the host
        return RETRY_AFTER, {"kind": kind, "reachable": False, "error": type(exc).__name__}
    return None, {"kind": kind, "reachable": True, "latency_ms": round((time.perf_counter() - started) * 1000, 3)}


def blueprint(mock: TokenMock) -> Blueprint:
    """The public routes bound to one mock."""
    bp = Blueprint("tokenmock_public", __name__, url_prefix=PREFIX)
    ca = ca_file(mock.settings)

    @bp.route("/health", methods=["GET"])
    def health() -> Response:
        retry_after, store = store_state(mock)
        body = {"status": "ok" if retry_after is None else "unavailable", "store": store, "vendors": list(mock.mounted)}
        if retry_after is None:
            return to_response(Reply(200, body))
        return to_response(Reply(503, body, {"Retry-After": str(retry_after)}))

    @bp.route("/ca.pem", methods=["GET"])
    def ca_certificate() -> Response:
        if ca is None:
            return to_response(
                Reply(404, {"error": "not_found", "error_description": "the mock does not serve TLS with its own CA"})
            )
        try:
            pem = Path(ca).read_bytes()
        except OSError:
            return to_response(
                Reply(404, {"error": "not_found", "error_description": "the CA certificate file is gone"})
            )
        return to_response(Reply(200, pem, media_type="application/x-pem-file"))

    return bp
