"""Assertions on what the mock received, with a near-miss report when they fail (WireMock's `verify`).

Pure functions over journal entries (`GET /__mock/requests`, secrets already masked), so the HTTP
`MockController`, the in-process mock of `tokenmock.testing` and an async controller share them:

    pattern = RequestPattern(vendor="clickview", operation="requestToken", form={"grant_type": "client_credentials"})
    check_received(entries, pattern, times=2)     # the matched entries, or AssertionError with a report

A failure lists the requests that matched and the closest that did not, each with the conditions it
failed, in a plain `AssertionError` that pytest prints as it is. Secrets are masked in the journal (`***`;
an Authorization header keeps its scheme, `Bearer ***`), and a condition on one is matched against that
masked value: `ANY`, the masked text itself or a regex over it can match, a literal credential cannot. A
report never echoes a literal's secret part: it shows `Scheme ***` or `***` in its place.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from tokenmock.mockserver.controls.masking import MASK, is_sensitive

__all__ = ["ANY", "RequestPattern", "check_not_received", "check_received", "matching", "report"]

# How many of the closest non-matching requests a failure lists, and how many matches.
NEAR_MISSES = 3
LISTED_MATCHES = 5
FORM_TYPE = "application/x-www-form-urlencoded"


class _Any:
    """Matches any value that is there (a field or header present), masked secrets included."""

    def __repr__(self) -> str:
        return "ANY"


ANY: Any = _Any()
_MISSING = object()


@dataclass(frozen=True)
class RequestPattern:
    """What a received request must look like; every condition left None is not checked.

    `vendor`, `operation`, `method` (any case), `path` (as journaled, mount prefix included), `status`,
    `fault` (the journal's label, e.g. "documented" or "sequence:1:documented") and `answered_by`
    (handler, validation, refusal, fault, chaos, prefer, store_unavailable) compare whole values;
    `headers` (names in any case), `query`, `form` and `json` name only the fields that must match (a form
    or JSON body is also required to be one). A value may be a literal, `ANY` (present), a compiled regex
    (full match of the text), a range or set (membership) or a predicate (`lambda v: ...`).
    """

    vendor: str | None = None
    operation: str | None = None
    method: str | None = None
    path: Any = None
    status: Any = None
    fault: Any = None
    answered_by: Any = None
    headers: Mapping[str, Any] | None = field(default=None, hash=False)
    query: Mapping[str, Any] | None = field(default=None, hash=False)
    form: Mapping[str, Any] | None = field(default=None, hash=False)
    json: Mapping[str, Any] | None = field(default=None, hash=False)

    def conditions(self) -> dict[str, Any]:
        """The conditions set, by name."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}

    def describe(self) -> str:
        """The pattern as a reader wrote it: `vendor='clickview', form={...}`."""
        shown = {name: _hide_secrets(value) for name, value in self.conditions().items()}
        return ", ".join(f"{name}={_show(value)}" for name, value in shown.items()) or "any request"

    def mismatches(self, entry: Mapping[str, Any]) -> list[str]:
        """Why `entry` does not match: one line per failed condition (empty when it matches)."""
        failed: list[str] = []
        for name in ("vendor", "operation", "path", "status", "fault", "answered_by"):
            expected = getattr(self, name)
            if expected is not None:
                failed += _compare(name, expected, entry.get(name, _MISSING))
        if self.method is not None and str(entry.get("method", "")).upper() != self.method.upper():
            failed.append(f"method: expected {self.method.upper()}, got {entry.get('method')}")
        if self.headers is not None:
            sent = {str(k).lower(): v for k, v in (entry.get("headers") or {}).items()}
            for name, expected in self.headers.items():
                failed += _compare(f"header {name}", expected, sent.get(name.lower(), _MISSING))
        if self.query is not None:
            failed += _fields("query", self.query, entry.get("query") or {})
        for kind in ("form", "json"):
            expected_body = getattr(self, kind)
            if expected_body is not None:
                failed += _body(kind, expected_body, entry)
        return failed

    def matches(self, entry: Mapping[str, Any]) -> bool:
        """Whether `entry` meets every condition."""
        return not self.mismatches(entry)


def matching(entries: Iterable[Mapping[str, Any]], pattern: RequestPattern) -> list[dict[str, Any]]:
    """The entries that match, oldest first."""
    return [dict(entry) for entry in entries if pattern.matches(entry)]


def check_received(
    entries: Sequence[Mapping[str, Any]], pattern: RequestPattern, times: int | None = None
) -> list[dict[str, Any]]:
    """The matched entries when there are `times` of them (None: at least one), else AssertionError
    with the near-miss report."""
    __tracebackhide__ = True
    if times is not None and (isinstance(times, bool) or not isinstance(times, int) or times < 0):
        raise ValueError("times must be a whole number of at least 0")
    matched = matching(entries, pattern)
    if (len(matched) >= 1) if times is None else (len(matched) == times):
        return matched
    raise AssertionError(report(entries, pattern, times))


def check_not_received(entries: Sequence[Mapping[str, Any]], pattern: RequestPattern) -> None:
    """AssertionError listing the matches when any entry matches."""
    __tracebackhide__ = True
    check_received(entries, pattern, times=0)


def report(entries: Sequence[Mapping[str, Any]], pattern: RequestPattern, times: int | None) -> str:
    """What was expected, what matched, and the closest requests that did not with the conditions each
    failed (closest: fewest failed conditions, a wrong vendor or operation counting double; newest first)."""
    matched = [e for e in entries if pattern.matches(e)]
    wanted = "at least 1 request" if times is None else f"exactly {times} request{'s' * (times != 1)}"
    lines = [
        f"expected {wanted} matching {pattern.describe()}",
        f"received {len(matched)} matching, of {len(entries)} in the journal",
    ]
    if matched:
        lines.append("matched:")
        lines += [f"  {_line(e)}" for e in matched[-LISTED_MATCHES:]]
        if len(matched) > LISTED_MATCHES:
            lines.append(f"  ... and {len(matched) - LISTED_MATCHES} earlier")
    misses = [(e, pattern.mismatches(e)) for e in entries]
    ranked = sorted(
        ((e, why) for e, why in misses if why),
        key=lambda item: (_distance(item[1]), -int(item[0].get("id") or 0)),
    )
    if ranked:
        lines.append("closest requests that did not match:")
        for entry, why in ranked[:NEAR_MISSES]:
            lines.append(f"  {_line(entry)}")
            lines += [f"      {reason}" for reason in why]
    elif not entries:
        lines.append("the journal is empty: no request reached the mock (wrong URL or host?)")
    return "\n".join(lines)


def _distance(reasons: list[str]) -> int:
    return sum(2 if reason.startswith(("vendor:", "operation:")) else 1 for reason in reasons)


def _line(entry: Mapping[str, Any]) -> str:
    where = f"{entry.get('vendor') or '-'}.{entry.get('operation') or '-'}"
    fault = f", fault {entry['fault']}" if entry.get("fault") else ""
    answered = entry.get("answered_by")
    by = f", answered by {answered}" if answered else ""
    return f"#{entry.get('id')} {entry.get('method')} {entry.get('path')} -> {entry.get('status')} ({where}{by}{fault})"


def _hide_secrets(value: Any) -> Any:
    """A condition's fields as a report may print them: a literal wanted for a field named like a secret
    is masked as the journal masks it (a test's literal may be a real credential); ANY, a regex, a range
    or a predicate is shown as written."""
    if not isinstance(value, Mapping):
        return value
    return {k: (_masked_literal(v) if isinstance(k, str) and is_sensitive(k) else v) for k, v in value.items()}


_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]*) +\S")


def _masked_literal(value: Any) -> Any:
    """A literal as the journal would keep it: an auth scheme stays (`Basic ***`), the rest is `***`;
    anything but a literal (ANY, a regex, a range, a predicate) as it is."""
    if isinstance(value, str):
        scheme = _SCHEME.match(value)
        return f"{scheme[1]} {MASK}" if scheme else MASK
    if isinstance(value, int | float | bytes):
        return MASK
    return value


def _show(value: Any) -> str:
    if isinstance(value, Mapping):  # a condition's fields, each shown as the test wrote it
        return "{" + ", ".join(f"{k!r}: {_show(v)}" for k, v in value.items()) + "}"
    if isinstance(value, re.Pattern):
        return f"re({value.pattern!r})"
    if callable(value) and not isinstance(value, type | _Any):
        return getattr(value, "__name__", "predicate")
    return repr(value)


def _value_matches(expected: Any, got: Any) -> bool:
    if got is _MISSING:
        return False
    if isinstance(expected, _Any):
        return True
    if isinstance(expected, re.Pattern):
        return isinstance(got, str) and expected.fullmatch(got) is not None
    if isinstance(expected, range | set | frozenset):
        return got in expected
    if callable(expected) and not isinstance(expected, type):
        predicate: Callable[[Any], Any] = expected
        try:
            return bool(predicate(got))
        except Exception:  # a predicate that cannot take this value does not match it
            return False
    if isinstance(expected, Mapping) and isinstance(got, Mapping):  # a nested JSON object: its named fields
        return all(_value_matches(value, got.get(key, _MISSING)) for key, value in expected.items())
    return bool(expected == got)


def _compare(what: str, expected: Any, got: Any) -> list[str]:
    if _value_matches(expected, got):
        return []
    if got is _MISSING:
        return [f"{what}: expected {_show(expected)}, missing"]
    if isinstance(got, str) and MASK in got and isinstance(expected, str):
        # Never echo a literal compared with a masked secret: it may be the secret itself.
        if _masked_literal(expected) == got:  # what the journal keeps (an auth scheme) is the same
            return [
                f"{what}: masked in the journal (secrets are never kept); match it with ANY, "
                f"or the masked value {got!r} or a regex over it"
            ]
        return [f"{what}: expected {_masked_literal(expected)!r}, got {got!r} (the part not masked differs)"]
    return [f"{what}: expected {_show(expected)}, got {got!r}"]


def _fields(where: str, expected: Mapping[str, Any], got: Any) -> list[str]:
    if not isinstance(got, Mapping):
        return [f"{where}: expected fields {sorted(expected)}, got {_summary(got)}"]
    failed: list[str] = []
    for name, value in expected.items():
        failed += _compare(f"{where}.{name}", value, got.get(name, _MISSING))
    return failed


def _body(kind: str, expected: Mapping[str, Any], entry: Mapping[str, Any]) -> list[str]:
    headers = {str(k).lower(): str(v) for k, v in (entry.get("headers") or {}).items()}
    media_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    is_kind = media_type == FORM_TYPE if kind == "form" else "json" in media_type
    if not is_kind:
        return [f"body: expected a {kind} body, got {media_type or 'no Content-Type'} ({_summary(entry.get('body'))})"]
    return _fields(kind, expected, entry.get("body"))


def _summary(body: Any) -> str:
    if body is None:
        return "no body"
    if isinstance(body, Mapping):
        if set(body) == {"unparsed_bytes"}:
            return f"{body['unparsed_bytes']} unparsed bytes"
        return f"fields {sorted(body)}"
    return type(body).__name__
