"""HTTP for the client: a timeout on every call, bounded retries with backoff and jitter, bounded reads.

Retries cover what a retry can fix: connection failures, timeouts, any 5xx and 429 (honouring Retry-After,
capped). Bodies are read against a deadline and a size cap, so a server that drips bytes or streams
forever cannot hang the caller.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import requests
import urllib3

from client.errors import ContractViolation, TransportError



@dataclass
class RetryPolicy:
    """How hard to try: `attempts` in all, exponential backoff from `base` capped at `cap`, full jitter."""

    attempts: int = 3
    base: float = 0.2
    cap: float = 5.0
    retry_after_cap: float = 10.0
    rng: random.Random = field(default_factory=random.Random, repr=False)

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number `attempt` (1-based)."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.retry_after_cap)
        return self.rng.uniform(0, min(self.cap, self.base * 2 ** (attempt - 1)))


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Retry-After as seconds: delta-seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return when.timestamp() - now if when is not None else None


def _chunks(response: requests.Response) -> Iterator[bytes]:
    """The body as it arrives: read1() returns after one socket read, so a caller can check a deadline
    between drips (iter_content() would block until 16 KiB or the end)."""
    raw = response.raw
    while chunk := raw.read1(16384, decode_content=True):
        yield chunk


@dataclass
class Reply:
    """A fully read response."""

    status: int
    headers: requests.structures.CaseInsensitiveDict[str]
    body: bytes
    url: str


class Transport:
    """Sends requests with the policy above; returns a fully read `Reply` or raises `TransportError`."""

    def __init__(
        self,
        vendor: str,
        *,
        session: requests.Session | None = None,
        timeout: float = 10.0,
        retry: RetryPolicy | None = None,
        max_body_bytes: int = 1 << 20,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.vendor = vendor
        self.session = session or requests.Session()
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.max_body_bytes = max_body_bytes
        self.sleep = sleep
        self.clock = clock

    def send(self, method: str, url: str, **kwargs: Any) -> Reply:
        """One logical request: up to `retry.attempts` tries; the last failure becomes TransportError."""
        last: TransportError | None = None
        for attempt in range(1, self.retry.attempts + 1):
            retry_after: float | None = None
            try:
                reply = self._once(method, url, **kwargs)
            except TransportError as exc:
                last = exc
            else:
                if reply.status < 500 and reply.status != 429:
                    return reply
                retry_after = parse_retry_after(reply.headers.get("Retry-After"), time.time())
                last = TransportError(
                    f"the server answered {reply.status} after {attempt} attempt(s)",
                    vendor=self.vendor,
                    status=reply.status,
                )
                if attempt == self.retry.attempts:
                    break
            if attempt < self.retry.attempts:
                self.sleep(self.retry.delay(attempt, retry_after))
        assert last is not None
        raise last

    def _once(self, method: str, url: str, **kwargs: Any) -> Reply:
        deadline = self.clock() + self.timeout
        try:
            response = self.session.request(
                method, url, timeout=self.timeout, stream=True, allow_redirects=False, **kwargs
            )
        except requests.Timeout:
            raise TransportError(f"no answer within {self.timeout:g} s", vendor=self.vendor) from None
        except requests.RequestException as exc:
            raise TransportError(f"connection failed: {type(exc).__name__}", vendor=self.vendor) from None
        try:
            chunks: list[bytes] = []
            size = 0
            for chunk in _chunks(response):
                size += len(chunk)
                if size > self.max_body_bytes:
                    raise ContractViolation(
                        f"the response body is larger than {self.max_body_bytes} bytes",
                        vendor=self.vendor,
                        status=response.status_code,
                    )
                if self.clock() > deadline:
                    raise TransportError(
                        f"the response body did not arrive within {self.timeout:g} s", vendor=self.vendor
                    )
                chunks.append(chunk)
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise TransportError(f"the response was cut off: {type(exc).__name__}", vendor=self.vendor) from None
        finally:
            response.close()
        return Reply(response.status_code, response.headers, b"".join(chunks), response.url)
