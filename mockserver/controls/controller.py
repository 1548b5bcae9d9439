"""`MockController`: the admin API (`/__mock/`) from Python, for tests and the pytest plugin.

    mock = MockController("http://127.0.0.1:8080")
    mock.fault("clickview", "requestToken", "connection_reset", times=2)
    mock.clock.advance(3600)
    mock.chaos(seed=7)
    mock.documented("clickview", "requestToken", example="invalid_client")   # the next token request
    mock.sequence("vision10", "getAccessToken", [{"kind": "documented", "status": 401}, {"kind": "real"}])
    assert mock.requests(vendor="clickview")[-1]["status"] == 200
    mock.assert_received("clickview", "requestToken", times=1, form={"grant_type": "client_credentials"})

`AsyncMockController` (`tokenmock.mockserver.controls.async_controller`, on httpx) has the same methods,
each awaited. Both are written once here: a control method builds an `AdminCall` (the request and what to
make of its answer) and hands it to `_run`, which the sync controller sends with requests and the async one
with httpx.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests

from tokenmock.mockserver.controls.verification import RequestPattern, check_not_received, check_received, matching


def _as_is(answer: Any) -> Any:
    return answer


def _now(answer: Any) -> float:
    return float(answer["now"])


def _nothing(answer: Any) -> None:
    return None


def _entries(answer: Any) -> list[dict[str, Any]]:
    return answer["requests"]


@dataclass(frozen=True)
class AdminCall:
    """One admin API request (`path` under `/__mock`) and what to make of its JSON answer."""

    method: str
    path: str
    body: Any = None
    params: dict[str, Any] | None = None
    result: Callable[[Any], Any] = _as_is

    @property
    def headers(self) -> dict[str, str]:
        return {} if self.method == "GET" else {"Content-Type": "application/json"}

    def refused(self, status: int, detail: str) -> ControlError:
        """The error for a refusal (status >= 400) of this call."""
        return ControlError(f"{self.method} /__mock{self.path}: {status} {detail}")


class ControlError(RuntimeError):
    """The admin API refused a control request."""


class ClockControl:
    """The mock's clock, moved through the admin API."""

    def __init__(self, controller: Controls) -> None:
        self._controller = controller

    def state(self) -> dict[str, Any]:
        """{"now", "offset", "frozen"}."""
        return self._controller._run(AdminCall("GET", "/clock"))

    def now(self) -> float:
        """The mock's current time."""
        return self._controller._run(AdminCall("GET", "/clock", result=_now))

    def advance(self, seconds: float) -> float:
        """Move time forward (negative: back); returns the new time."""
        return self._controller._run(AdminCall("POST", "/clock", {"advance": seconds}, result=_now))

    def set(self, timestamp: float) -> float:
        """Jump to an absolute time."""
        return self._controller._run(AdminCall("POST", "/clock", {"set": timestamp}, result=_now))

    def freeze(self, at: float | None = None) -> float:
        """Stop time (at `at`, or now)."""
        body: dict[str, Any] = {"freeze": True}
        if at is not None:
            body["at"] = at
        return self._controller._run(AdminCall("POST", "/clock", body, result=_now))

    def unfreeze(self) -> float:
        """Let time run again."""
        return self._controller._run(AdminCall("POST", "/clock", {"freeze": False}, result=_now))

    def reset(self) -> float:
        """Back to real time."""
        return self._controller._run(AdminCall("POST", "/clock", {"reset": True}, result=_now))


def refusal_detail(text: str) -> str:
    """What to show of an admin API refusal: its `error_description`, else the start of its body."""
    try:
        answer = json.loads(text)
    except ValueError:
        return text[:200]
    return str(answer.get("error_description", text)) if isinstance(answer, dict) else text[:200]


class Controls:
    """The admin API's controls, each written once as an `AdminCall`; subclasses say how to send one."""

    base_url: str

    def __init__(self, base_url: str, *, admin_token: str | None = None, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._headers = {"Authorization": f"Bearer {admin_token}"} if admin_token else {}
        self.clock = ClockControl(self)

    def _run(self, call: AdminCall) -> Any:
        """Send `call` and return `call.result(answer)` (the async controller: an awaitable of it)."""
        raise NotImplementedError

    def _url(self, call: AdminCall) -> str:
        return f"{self.base_url}/__mock{call.path}"

    def _options(self, call: AdminCall) -> dict[str, Any]:
        """What requests and httpx both take for `call`, besides its method and URL."""
        return {
            "json": call.body,
            "params": call.params,
            "headers": {**self._headers, **call.headers},
            "timeout": self.timeout,
        }

    @staticmethod
    def _answer(call: AdminCall, status: int, text: str) -> Any:
        """`call.result` of the answer's JSON, or the ControlError of a refusal."""
        if status >= 400:
            raise call.refused(status, refusal_detail(text))
        return call.result(json.loads(text) if text else None)

    def _send(self, method: str, path: str, body: Any = None, params: dict[str, Any] | None = None) -> Any:
        return self._run(AdminCall(method, path, body, params))

    def fault(
        self,
        vendor: str | None,
        operation: str | None,
        kind: str,
        *,
        times: int | None = None,
        probability: float | None = None,
        seed: int | None = None,
        **params: Any,
    ) -> dict[str, Any]:
        """Arm a fault (see `faults()["kinds"]`) for the next `times` requests, or with `probability`."""
        body: dict[str, Any] = {"kind": kind, "vendor": vendor, "operation": operation, "params": params}
        for name, value in (("times", times), ("probability", probability), ("seed", seed)):
            if value is not None:
                body[name] = value
        return self._run(AdminCall("POST", "/faults", body))

    def documented(
        self,
        vendor: str,
        operation: str,
        *,
        status: int | None = None,
        example: str | None = None,
        times: int | None = None,
        probability: float | None = None,
        seed: int | None = None,
    ) -> dict[str, Any]:
        """Answer the operation's next `times` requests (default 1) with a response its contract documents:
        `example` by name, else the first example of `status`, headers included."""
        params = {k: v for k, v in (("status", status), ("example", example)) if v is not None}
        return self.fault(vendor, operation, "documented", times=times, probability=probability, seed=seed, **params)

    def sequence(self, vendor: str | None, operation: str | None, steps: list[dict[str, Any]]) -> dict[str, Any]:
        """Answer the next len(steps) matching requests one step each: `{"kind": "documented", "status": 401}`,
        any other fault (`{"kind": "status", "status": 503}`) or `{"kind": "real"}` (the server's own answer)."""
        return self.fault(vendor, operation, "sequence", steps=steps)

    def faults(self) -> dict[str, Any]:
        """Armed faults and the kinds available."""
        return self._run(AdminCall("GET", "/faults"))

    def clear_faults(self) -> None:
        """Disarm every fault."""
        return self._run(AdminCall("DELETE", "/faults", result=_nothing))

    def chaos(self, seed: int, exclude: list[str] | tuple[str, ...] = ()) -> dict[str, Any]:
        """Answer every vendor request with draws 0, 1, 2... of `seed` (see `chaos_state()["kinds"]`)."""
        return self._run(AdminCall("PUT", "/chaos", {"seed": seed, "exclude": list(exclude)}))

    def chaos_state(self) -> dict[str, Any]:
        """{"seed" (None when off), "exclude", "drawn", "kinds"}."""
        return self._run(AdminCall("GET", "/chaos"))

    def stop_chaos(self) -> None:
        """Answer requests normally again."""
        return self._run(AdminCall("DELETE", "/chaos", result=_nothing))

    def requests(
        self, vendor: str | None = None, operation: str | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """Journal entries (secrets masked), oldest first."""
        params = {k: v for k, v in {"vendor": vendor, "operation": operation, "limit": limit}.items() if v is not None}
        return self._run(AdminCall("GET", "/requests", params=params, result=_entries))

    def received(
        self, vendor: str | None = None, operation: str | None = None, **conditions: Any
    ) -> list[dict[str, Any]]:
        """The journal entries matching every condition (those of `RequestPattern`: method, path, status,
        headers, query, form, json, fault, answered_by), oldest first."""
        pattern = RequestPattern(vendor, operation, **conditions)
        return self._journal(lambda entries: matching(entries, pattern))

    def assert_received(
        self, vendor: str | None = None, operation: str | None = None, *, times: int | None = None, **conditions: Any
    ) -> list[dict[str, Any]]:
        """Assert the mock received `times` requests (None: at least one) matching every condition, e.g.
        `assert_received("clickview", "requestToken", times=2, form={"grant_type": "client_credentials"})`;
        returns them. On failure an AssertionError lists the closest requests and what each failed."""
        __tracebackhide__ = True
        pattern = RequestPattern(vendor, operation, **conditions)
        return self._journal(lambda entries: check_received(entries, pattern, times))

    def assert_not_received(self, vendor: str | None = None, operation: str | None = None, **conditions: Any) -> None:
        """Assert no request matching every condition reached the mock (AssertionError lists those that did)."""
        __tracebackhide__ = True
        pattern = RequestPattern(vendor, operation, **conditions)
        return self._journal(lambda entries: check_not_received(entries, pattern))

    def _journal(self, then: Callable[[list[dict[str, Any]]], Any]) -> Any:
        """`then` applied to the whole journal, oldest first."""
        return self._run(AdminCall("GET", "/requests", result=lambda answer: then(_entries(answer))))

    def clear_requests(self) -> None:
        """Empty the journal."""
        return self._run(AdminCall("DELETE", "/requests", result=_nothing))

    def add_client(self, vendor: str, **credentials: Any) -> None:
        """Register credentials at runtime (fields as in the vendor's `clients` settings)."""
        return self._run(AdminCall("POST", "/clients", {"vendor": vendor, "client": credentials}, result=_nothing))

    def claims(
        self,
        vendor: str,
        claims: dict[str, Any],
        *,
        client_id: str | None = None,
        times: int | None = None,
        kid: str | None = None,
    ) -> dict[str, Any]:
        """The vendor's next `times` access tokens (every one when None; one client's when `client_id`)
        carry `claims` over its own: `iss`, `aud`, `exp`... and the header's `kid` may be wrong on purpose."""
        body: dict[str, Any] = {"vendor": vendor, "claims": claims}
        for name, value in (("client_id", client_id), ("times", times), ("header", {"kid": kid} if kid else None)):
            if value is not None:
                body[name] = value
        return self._run(AdminCall("POST", "/claims", body))

    def armed_claims(self) -> list[dict[str, Any]]:
        """The claim sets armed for the next tokens."""
        return self._run(AdminCall("GET", "/claims", result=lambda answer: answer["armed"]))

    def clear_claims(self) -> None:
        """Disarm every claim set."""
        return self._run(AdminCall("DELETE", "/claims", result=_nothing))

    def mint(
        self,
        vendor: str,
        *,
        client_id: str | None = None,
        claims: dict[str, Any] | None = None,
        kid: str | None = None,
        lifetime: int | None = None,
    ) -> dict[str, Any]:
        """A real signed access token without a token request: {"access_token", "claims", "curl", ...}."""
        body: dict[str, Any] = {"vendor": vendor}
        for name, value in (("client_id", client_id), ("claims", claims), ("lifetime", lifetime),
                            ("header", {"kid": kid} if kid else None)):
            if value is not None:
                body[name] = value
        return self._run(AdminCall("POST", "/tokens", body))

    def revoke(self, token: str) -> None:
        """Revoke an access or refresh token."""
        return self._run(AdminCall("POST", "/revoke", {"token": token}, result=_nothing))

    def reset(self) -> None:
        """Forget every token, fault, armed claim, journal entry and runtime client; real time again."""
        return self._run(AdminCall("POST", "/reset", result=_nothing))


class MockController(Controls):
    """Drives a running mock's controls over requests. `base_url` is the server root (not a vendor's)."""

    def __init__(
        self,
        base_url: str,
        *,
        admin_token: str | None = None,
        session: requests.Session | None = None,
        timeout: float = 10.0,
    ) -> None:
        super().__init__(base_url, admin_token=admin_token, timeout=timeout)
        self.session = session or requests.Session()

    def _run(self, call: AdminCall) -> Any:
        response = self.session.request(call.method, self._url(call), **self._options(call))
        return self._answer(call, response.status_code, response.text)
