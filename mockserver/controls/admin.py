"""The admin API under `/__mock/`: faults, chaos, clock, request journal, runtime clients, revocation, reset.

Described by openapi/admin.yaml. Open to loopback clients only unless an admin token is configured, in
which case every admin request must carry `Authorization: Bearer <admin token>` (from anywhere). A mock
served beyond loopback (`exposed`) never trusts the peer address: without an admin token the admin API is
closed, since a proxy on the same host would make every outside caller look like loopback.
"""

from __future__ import annotations

import functools
import hmac
import ipaddress
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import jwt
from flask import Blueprint, Response, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from tokenmock.contracts.loader import inline_refs, read_yaml
from tokenmock.contracts.validation import compile_fast, describe, first_error, pointer
from tokenmock.mockserver import config
from tokenmock.mockserver.config import ConfigError
from tokenmock.mockserver.controls.chaos import ChaosError
from tokenmock.mockserver.controls.claims import CLAIMS_SCHEMA, ClaimsError, check_size, client_name
from tokenmock.mockserver.controls.faults import KINDS, FaultError
from tokenmock.mockserver.pipeline.exchange import Reply
from tokenmock.mockserver.responses import to_response
from tokenmock.mockserver.vendors.base import fill_demo_curl

if TYPE_CHECKING:
    from tokenmock.mockserver.pipeline.core import TokenMock

PREFIX = "/__mock"


class AdminError(Exception):
    """A refused admin request: status, code, description (rendered as RFC 6749-style JSON)."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status, self.error, self.description = status, error, description


def _json(status: int, body: Any = None) -> Response:
    return to_response(Reply(status, body) if body is not None else Reply(status))


def refusal(error: HTTPException) -> Response:
    """Unknown admin paths and wrong methods, as JSON; OPTIONS on an admin path, 204 with `Allow` (no
    CORS headers: the admin API grants no cross-origin use)."""
    if request.method == "OPTIONS" and isinstance(error, MethodNotAllowed):
        methods = sorted({*(error.valid_methods or ()), "OPTIONS"} - {"HEAD"})
        return to_response(Reply(204, None, {"Allow": ", ".join(methods)}))
    status = error.code or 400
    response = _json(
        status, {"error": "not_found" if status == 404 else "invalid_request", "error_description": error.description}
    )
    if isinstance(error, MethodNotAllowed) and error.valid_methods:
        response.headers["Allow"] = ", ".join(error.valid_methods)  # RFC 9110 §15.5.6
    if status == 413:  # the body was left unread: close rather than read it as the next request
        response.headers["Connection"] = "close"
    return response


def _is_loopback(address: str | None) -> bool:
    try:
        return ipaddress.ip_address((address or "").split("%")[0]).is_loopback
    except ValueError:
        return False


# Methods a web page can send cross-site without a CORS preflight when the content type is "simple".
_STATE_CHANGING = frozenset({"POST", "PUT", "PATCH"})


def _names_this_server(host: str, admin_hosts: frozenset[str]) -> bool:
    """Whether a Host header names this server: a loopback address, `localhost` or a name under it
    (RFC 6761: never resolved through DNS, so no page can rebind it), or a configured `admin_hosts` name."""
    name = host.lower()
    if name.startswith("["):
        name = name[1 : name.find("]")] if "]" in name else name
    else:
        name, _, port = name.rpartition(":") if name.count(":") == 1 else (name, "", "")
        if port and not port.isdigit():
            return False
    name = name.rstrip(".")
    if name in admin_hosts or name == "localhost" or name.endswith(".localhost"):
        return True
    return _is_loopback(name)


def _cross_site(headers: Any, host_url: str) -> bool:
    """Whether a browser says the request comes from another site or origin (Fetch metadata, Origin)."""
    if headers.get("Sec-Fetch-Site", "").lower() in ("cross-site", "same-site"):
        return True
    origin = headers.get("Origin")
    return origin is not None and origin.rstrip("/").lower() != host_url.rstrip("/").lower()


def _is_json(content_type: str | None) -> bool:
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (media_type.startswith("application/") and media_type.endswith("+json"))


@functools.cache
def _operations() -> dict[str, dict[str, Any]]:
    """openapi/admin.yaml's operations by operationId, `$ref`s inlined: the admin API's own contract."""
    document = inline_refs(read_yaml("admin.yaml"))
    return {
        op["operationId"]: op for item in document["paths"].values() for op in item.values() if isinstance(op, dict)
    }


@functools.cache
def _declared(operation_id: str) -> frozenset[str]:
    """The body members an operation's contract names (the ones the view reads)."""
    schema = _operations()[operation_id]["requestBody"]["content"]["application/json"]["schema"]
    return frozenset(schema.get("properties", {}))


@functools.cache
def _schema_check(operation_id: str, part: str) -> Any:
    """A compiled check of an operation's JSON body (`part` "body") or of one query parameter."""
    op = _operations()[operation_id]
    if part == "body":
        return compile_fast(op["requestBody"]["content"]["application/json"]["schema"])
    return compile_fast(next(p["schema"] for p in op.get("parameters", []) if p["name"] == part))


# Text an admin value may not hold: C0 controls and DEL (they end up in headers: a fault's content_type,
# and in keys of the store), and lone surrogates (a JSON "\\ud800" escape; no store or encoder takes one).
_CONTROL = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")


def _refuse_control_text(value: Any, where: str) -> None:
    """Refuse any string of an admin body (keys included) that holds a control character or a lone
    surrogate: such a value once made every later answer of a vendor a 500, across restarts."""
    if isinstance(value, str):
        if _CONTROL.search(value):
            raise AdminError(
                400, "invalid_request", f"{where} must be text without control characters or lone surrogates"
            )
    elif isinstance(value, dict):
        for key, item in value.items():
            _refuse_control_text(key, where)
            _refuse_control_text(item, f"{where}.{key}" if not _CONTROL.search(key) else where)
    elif isinstance(value, list):
        for item in value:
            _refuse_control_text(item, where)


def _body(operation_id: str, precheck: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """The request's JSON object, checked against the operation's contract (400 names what is wrong).

    `precheck` runs first on what a vendor will keep (clients, claims): the config file's schema, so a
    value refused in the file is refused here with the same one-line message."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise AdminError(400, "invalid_request", "the body must be a JSON object")
    declared = _declared(operation_id)
    for key, value in data.items():
        if key in declared:  # an undeclared member is ignored, never stored: no need to refuse it
            _refuse_control_text(value, key)
    if precheck is not None:
        try:
            precheck(data)
        except (ConfigError, ClaimsError) as exc:
            raise AdminError(400, "invalid_request", str(exc)) from None
    if error := first_error(_schema_check(operation_id, "body"), data):
        raise AdminError(400, "invalid_request", f"{pointer(error).lstrip('/') or 'the body'} {describe(error)}")
    return data


def _query_int(operation_id: str, name: str) -> int | None:
    """An integer query parameter checked against the contract, None when absent."""
    text = request.args.get(name)
    if text is None:
        return None
    try:
        value = int(text)
    except ValueError:
        raise AdminError(400, "invalid_request", f"{name} must be of type integer") from None
    if error := first_error(_schema_check(operation_id, name), value):
        raise AdminError(400, "invalid_request", f"{name} {describe(error)}")
    return value


def _number(data: dict[str, Any], name: str) -> float | None:
    """A number the contract has already checked, or None when absent."""
    value = data.get(name)
    return None if value is None else float(value)


def blueprint(mock: TokenMock) -> Blueprint:
    """The admin routes bound to one mock."""
    bp = Blueprint("tokenmock_admin", __name__, url_prefix=PREFIX)
    admin_token = mock.settings.get("admin_token")
    exposed = bool(mock.settings.get("exposed"))

    admin_hosts = frozenset(str(h).lower() for h in mock.settings.get("admin_hosts") or ())

    @bp.before_request
    def authorize() -> Response | None:
        if not exposed and not _names_this_server(request.host, admin_hosts):
            # DNS rebinding: a page at attacker.example, re-resolved to 127.0.0.1, sends its own Host.
            # (Served beyond loopback, every admin request carries admin_token, which no page can add.)
            return _json(
                403,
                {
                    "error": "access_denied",
                    "error_description": "the Host header does not name this server; add it to admin_hosts",
                },
            )
        if _cross_site(request.headers, request.host_url):
            return _json(
                403,
                {"error": "access_denied", "error_description": "cross-site requests to the admin API are refused"},
            )
        if admin_token:
            scheme, _, given = request.headers.get("Authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), str(admin_token).encode()):
                return _json(
                    401, {"error": "invalid_token", "error_description": "the admin token is missing or wrong"}
                )
        elif exposed:
            return _json(
                403,
                {
                    "error": "access_denied",
                    "error_description": "the mock listens beyond loopback; configure admin_token to use the admin API",
                },
            )
        elif not _is_loopback(request.remote_addr):
            return _json(
                403,
                {
                    "error": "access_denied",
                    "error_description": "the admin API answers loopback clients only; configure admin_token",
                },
            )
        if request.method in _STATE_CHANGING and not _is_json(request.headers.get("Content-Type")):
            # A page may POST text/plain or a form anywhere without asking (a CORS "simple" request);
            # a JSON content type makes the browser ask first, and the mock never grants that.
            return _json(
                415,
                {
                    "error": "invalid_request",
                    "error_description": "state-changing admin requests must be sent as Content-Type: application/json",
                },
            )
        return None

    @bp.errorhandler(AdminError)
    def admin_error(error: AdminError) -> Response:
        return _json(error.status, {"error": error.error, "error_description": error.description})

    def route(rule: str, methods: list[str]) -> Callable[[Callable[..., Response]], Callable[..., Response]]:
        return bp.route(rule, methods=methods, provide_automatic_options=False)

    @route("/faults", ["GET"])
    def list_faults() -> Response:
        return _json(200, {"faults": mock.faults.list(), "kinds": sorted(KINDS)})

    @route("/faults", ["POST"])
    def arm_fault() -> Response:
        data = _body("armFault")
        vendor, operation = data.pop("vendor", None), data.pop("operation", None)
        if vendor is not None and vendor not in mock.vendors:
            raise AdminError(400, "invalid_request", f"unknown vendor {vendor!r}; mounted: {', '.join(mock.vendors)}")
        if operation is not None:  # without a vendor: that operation of every mounted vendor that has it
            known = sorted({op for name, op in mock.operations if vendor in (None, name)})
            if operation not in known:
                where = vendor or "any mounted vendor"
                raise AdminError(
                    400, "invalid_request", f"unknown operation {operation!r} for {where}; known: {', '.join(known)}"
                )
        kind = data.pop("kind")
        params = data.pop("params", None) or {}
        try:
            fault = mock.faults.arm(
                str(kind),
                vendor=vendor,
                operation=operation,
                times=data.pop("times", None),
                probability=data.pop("probability", None),
                seed=data.pop("seed", None),
                **params,
            )
        except (FaultError, TypeError) as exc:
            raise AdminError(400, "invalid_request", str(exc)) from None
        return _json(201, fault.to_dict())

    @route("/faults", ["DELETE"])
    def clear_faults() -> Response:
        mock.faults.clear()
        return _json(204)

    @route("/faults/<int:fault_id>", ["DELETE"])
    def remove_fault(fault_id: int) -> Response:
        if not mock.faults.remove(fault_id):
            raise AdminError(404, "not_found", f"no armed fault {fault_id}")
        return _json(204)

    @route("/chaos", ["GET"])
    def get_chaos() -> Response:
        return _json(200, mock.chaos.state())

    @route("/chaos", ["PUT"])
    def start_chaos() -> Response:
        data = _body("startChaos")
        try:
            return _json(200, mock.chaos.start(data.get("seed"), data.get("exclude") or ()))
        except ChaosError as exc:
            raise AdminError(400, "invalid_request", str(exc)) from None

    @route("/chaos", ["DELETE"])
    def stop_chaos() -> Response:
        mock.chaos.stop()
        return _json(204)

    @route("/clock", ["GET"])
    def get_clock() -> Response:
        return _json(200, mock.clock.state())

    @route("/clock", ["POST"])
    def move_clock() -> Response:
        data = _body("moveClock")
        if data.get("reset"):
            mock.clock.reset()
        if (at := _number(data, "set")) is not None:
            mock.clock.set(at)
        if data.get("freeze") is True:
            mock.clock.freeze(_number(data, "at"))
        elif data.get("freeze") is False:
            mock.clock.unfreeze()
        if (seconds := _number(data, "advance")) is not None:
            mock.clock.advance(seconds)
        return _json(200, mock.clock.state())

    @route("/requests", ["GET"])
    def journal() -> Response:
        entries = mock.journal.entries(request.args.get("vendor"), request.args.get("operation"))
        limit = _query_int("listRequests", "limit")
        if limit is not None:
            entries = entries[-limit:] if limit else []
        return _json(200, {"requests": entries, "count": len(entries)})

    @route("/requests", ["DELETE"])
    def clear_journal() -> Response:
        mock.journal.clear()
        return _json(204)

    def served(vendor: Any) -> str:
        if not isinstance(vendor, str) or vendor not in mock.vendors:
            raise AdminError(400, "invalid_request", f"unknown vendor {vendor!r}; mounted: {', '.join(mock.vendors)}")
        return str(vendor)

    def jwt_vendor(vendor: Any) -> str:
        name = served(vendor)
        if mock.vendors[name].opaque_tokens:
            why = f"{name} issues opaque tokens, which its clients never read: no claims to shape"
            why += " (move the clock or revoke instead)"
            raise AdminError(400, "invalid_request", why)
        return name

    def client_precheck(data: dict[str, Any]) -> None:
        vendor, client = served(data.get("vendor")), data.get("client")
        config.check_value(config.runtime_record_schema(vendor), client, "client")
        if isinstance(client, dict) and isinstance(client.get("claims"), dict):
            check_size(client["claims"])

    def claims_precheck(data: dict[str, Any]) -> None:
        jwt_vendor(data.get("vendor"))
        if "claims" in data:
            config.check_value(CLAIMS_SCHEMA, data["claims"], "claims")
            if isinstance(data["claims"], dict):
                check_size(data["claims"])

    @route("/clients", ["POST"])
    def add_client() -> Response:
        data = _body("addClient", client_precheck)
        vendor, client = data["vendor"], data["client"]
        if not isinstance(client, dict) or not client:
            raise AdminError(400, "invalid_request", "client must be a non-empty object of credentials")
        mock.store.add_client(vendor, client)
        return _json(201, {"vendor": vendor, "fields": sorted(client)})

    @route("/claims", ["GET"])
    def list_claims() -> Response:
        return _json(200, {"armed": mock.claims.list()})

    @route("/claims", ["POST"])
    def arm_claims() -> Response:
        data = _body("armClaims", claims_precheck)
        try:
            armed = mock.claims.arm(
                data["vendor"],
                data["claims"],
                header=data.get("header"),
                client_id=data.get("client_id"),
                times=data.get("times"),
            )
        except ClaimsError as exc:
            raise AdminError(400, "invalid_request", str(exc)) from None
        return _json(201, armed)

    @route("/claims", ["DELETE"])
    def clear_claims() -> Response:
        mock.claims.clear()
        return _json(204)

    @route("/tokens", ["POST"])
    def mint_token() -> Response:
        data = _body("mintToken", claims_precheck)
        vendor = mock.vendors[data["vendor"]]
        client = vendor.find_record(data.get("client_id"))
        if client is None:
            raise AdminError(400, "invalid_request", f"{vendor.name} has no client {data.get('client_id')!r}")
        base = request.host_url.rstrip("/") + mock.mounted[vendor.name]
        try:
            issued = vendor.mint(
                client,
                claims=data.get("claims"),
                kid=(data.get("header") or {}).get("kid"),
                lifetime=data.get("lifetime"),
                base=base,
            )
        except ClaimsError as exc:
            raise AdminError(400, "invalid_request", str(exc)) from None
        demo = {**vendor.settings.get("demo", {}), "token": issued.token}
        return _json(
            201,
            {
                "vendor": vendor.name,
                "client_id": client_name(client),
                "access_token": issued.token,
                "token_type": "Bearer",
                "expires_in": int(issued.claims["exp"]) - int(mock.clock.now()),
                "claims": issued.claims,
                "curl": fill_demo_curl(vendor.resource_curl, base, demo),
            },
        )

    @route("/revoke", ["POST"])
    def revoke() -> Response:
        token = _body("revokeToken").get("token")
        if not isinstance(token, str) or not token:
            raise AdminError(400, "invalid_request", "token must be a non-empty string")
        mock.store.revoke(token)
        try:
            claims = jwt.decode(token, options={"verify_signature": False})
        except jwt.InvalidTokenError:
            claims = {}
        for key in ("jti", "ati"):
            if isinstance(claims.get(key), str):
                mock.store.revoke(claims[key])
        return _json(204)

    @route("/keys/rotate", ["POST"])
    def rotate_keys() -> Response:
        vendor = _body("rotateKeys")["vendor"]
        if vendor not in mock.vendors:
            raise AdminError(404, "not_found", f"{vendor} is not served here; mounted: {', '.join(mock.vendors)}")
        rotated = mock.vendors[vendor].rotate_keys()
        if rotated is None:
            why = f"{vendor} signs with a secret key it never publishes: nothing to rotate"
            raise AdminError(400, "invalid_request", why)
        return _json(200, {"vendor": vendor, **rotated})

    @route("/reset", ["POST"])
    def reset() -> Response:
        if request.get_data():  # the body is optional; one that is sent must be what the contract says
            _body("resetMock")
        mock.reset()
        return _json(204)

    return bp
