"""`MockController`: the admin API (`/__mock/`) from Python, for tests and the pytest plugin.

    mock = MockController("http://127.0.0.1:8080")
    mock.fault("clickview", "requestToken", "connection_reset", times=2)
    mock.clock.advance(3600)
    mock.chaos(seed=7)
    mock.documented("clickview", "requestToken", example="invalid_client")   # the next token request
    mock.sequence("vision10", "getAccessToken", [{"kind": "documented", "status": 401}, {"kind": "real"}])
    assert mock.requests(vendor="clickview")[-1]["status"] == 200
    mock.assert_received("clickview", "requestToken", times=1, form={"grant_type": "client_credentials"})
"""

from __future__ import annotations

from typing import Any

import requests

from tokenmock.mockserver.controls.verification import RequestPattern, check_not_received, check_received, matching


class ControlError(RuntimeError):
    """The admin API refused a control request."""


class ClockControl:
    """The mock's clock, moved through the admin API."""

    def __init__(self, controller: MockController) -> None:
        self._controller = controller

    def state(self) -> dict[str, Any]:
        """{"now", "offset", "frozen"}."""
        return self._controller._send("GET", "/clock")

    def now(self) -> float:
        """The mock's current time."""
        return float(self.state()["now"])

    def advance(self, seconds: float) -> float:
        """Move time forward (negative: back); returns the new time."""
        return float(self._controller._send("POST", "/clock", {"advance": seconds})["now"])

    def set(self, timestamp: float) -> float:
        """Jump to an absolute time."""
        return float(self._controller._send("POST", "/clock", {"set": timestamp})["now"])

    def freeze(self, at: float | None = None) -> float:
        """Stop time (at `at`, or now)."""
        body: dict[str, Any] = {"freeze": True}
        if at is not None:
            body["at"] = at
        return float(self._controller._send("POST", "/clock", body)["now"])

    def unfreeze(self) -> float:
        """Let time run again."""
        return float(self._controller._send("POST", "/clock", {"freeze": False})["now"])

    def reset(self) -> float:
        """Back to real time."""
        return float(self._controller._send("POST", "/clock", {"reset": True})["now"])


class MockController:
    """Drives a running mock's controls. `base_url` is the server root (not a vendor's base URL)."""

    def __init__(
        self,
        base_url: str,
        *,
        admin_token: str | None = None,
        session: requests.Session | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = session or requests.Session()
        self.timeout = timeout
        self._headers = {"Authorization": f"Bearer {admin_token}"} if admin_token else {}
        self.clock = ClockControl(self)

    def _send(self, method: str, path: str, body: Any = None, params: dict[str, Any] | None = None) -> Any:
        response = self.session.request(
            method,
            f"{self.base_url}/__mock{path}",
            json=body,
            params=params,
            headers=self._headers if method == "GET" else {**self._headers, "Content-Type": "application/json"},
            timeout=self.timeout,
        )
        if response.status_code >= 400:
            try:
                detail = response.json().get("error_description", response.text)
            except ValueError:
                detail = response.text[:200]
            raise ControlError(f"{method} /__mock{path}: {response.status_code} {detail}")
        return response.json() if response.content else None

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
        return self._send("POST", "/faults", body)

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
        return self._send("GET", "/faults")

    def clear_faults(self) -> None:
        """Disarm every fault."""
        self._send("DELETE", "/faults")

    def chaos(self, seed: int, exclude: list[str] | tuple[str, ...] = ()) -> dict[str, Any]:
        """Answer every vendor request with draws 0, 1, 2... of `seed` (see `chaos_state()["kinds"]`)."""
        return self._send("PUT", "/chaos", {"seed": seed, "exclude": list(exclude)})

    def chaos_state(self) -> dict[str, Any]:
        """{"seed" (None when off), "exclude", "drawn", "kinds"}."""
        return self._send("GET", "/chaos")

    def stop_chaos(self) -> None:
        """Answer requests normally again."""
        self._send("DELETE", "/chaos")

    def requests(
        self, vendor: str | None = None, operation: str | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """Journal entries (secrets masked), oldest first."""
        params = {k: v for k, v in {"vendor": vendor, "operation": operation, "limit": limit}.items() if v is not None}
        return self._send("GET", "/requests", params=params)["requests"]

    def received(
        self, vendor: str | None = None, operation: str | None = None, **conditions: Any
    ) -> list[dict[str, Any]]:
        """The journal entries matching every condition (those of `RequestPattern`: method, path, status,
        headers, query, form, json, fault, answered_by), oldest first."""
        return matching(self.requests(), RequestPattern(vendor, operation, **conditions))

    def assert_received(
        self, vendor: str | None = None, operation: str | None = None, *, times: int | None = None, **conditions: Any
    ) -> list[dict[str, Any]]:
        """Assert the mock received `times` requests (None: at least one) matching every condition, e.g.
        `assert_received("clickview", "requestToken", times=2, form={"grant_type": "client_credentials"})`;
        returns them. On failure an AssertionError lists the closest requests and what each failed."""
        __tracebackhide__ = True
        return check_received(self.requests(), RequestPattern(vendor, operation, **conditions), times)

    def assert_not_received(self, vendor: str | None = None, operation: str | None = None, **conditions: Any) -> None:
        """Assert no request matching every condition reached the mock (AssertionError lists those that did)."""
        __tracebackhide__ = True
        check_not_received(self.requests(), RequestPattern(vendor, operation, **conditions))

    def clear_requests(self) -> None:
        """Empty the journal."""
        self._send("DELETE", "/requests")

    def add_client(self, vendor: str, **credentials: Any) -> None:
        """Register credentials at runtime (fields as in the vendor's `clients` settings)."""
        self._send("POST", "/clients", {"vendor": vendor, "client": credentials})

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
        return self._send("POST", "/claims", body)

    def armed_claims(self) -> list[dict[str, Any]]:
        """The claim sets armed for the next tokens."""
        return self._send("GET", "/claims")["armed"]

    def clear_claims(self) -> None:
        """Disarm every claim set."""
        self._send("DELETE", "/claims")

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
        return self._send("POST", "/tokens", body)

    def revoke(self, token: str) -> None:
        """Revoke an access or refresh token."""
        self._send("POST", "/revoke", {"token": token})

    def reset(self) -> None:
        """Forget every token, fault, armed claim, journal entry and runtime client; real time again."""
        self._send("POST", "/reset")
