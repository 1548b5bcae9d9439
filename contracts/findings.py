"""What a contract run found: `Finding` (one failed check, with the curl line that reproduces it) and
`Report`, filled from schemathesis' engine events as the run goes (`execute`)."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from schemathesis.engine import Status, events, from_schema

from tokenmock.contracts.reproducible import own_constants_only


@dataclass(frozen=True)
class Finding:
    """One failed check: where, which rule, what was wrong, and the curl line(s) that reproduce it."""

    vendor: str
    operation: str
    check: str
    title: str
    message: str
    status: int | None
    curl: str
    phase: str

    @property
    def rule(self) -> str:
        """`check: title`, the name a reader looks up."""
        return f"{self.check}: {self.title}"


@dataclass
class Report:
    """What a run found, and what it covered (so a test can show the handlers were reached)."""

    vendor: str
    findings: list[Finding] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    # (operationId, phase, status) -> responses
    responses: Counter[tuple[str, str, int]] = field(default_factory=Counter)
    # operationIds of a stateful chain whose every step answered 2xx -> times seen
    chains: Counter[tuple[str, ...]] = field(default_factory=Counter)
    checks_run: Counter[str] = field(default_factory=Counter)
    # (operation label, check) -> times the check ran
    checks_by_operation: Counter[tuple[str, str]] = field(default_factory=Counter)
    # requests that carried a token a link extracted (rather than the run's own token)
    link_tokens_used: int = 0
    elapsed: float = 0.0
    # checks that could not run against this server: (operation, check, reason)
    skipped: list[tuple[str, str, str]] = field(default_factory=list)
    # phase -> checks run in it (the summary table)
    checks_by_phase: Counter[str] = field(default_factory=Counter)
    # what the run advises against without failing: (operation, check, message)
    warnings: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No failed check and no error."""
        return not self.findings and not self.errors

    def statuses(self, operation_id: str) -> set[int]:
        """Every status an operation answered during the run."""
        return {status for (op, _, status) in self.responses if op == operation_id}

    def summary(self) -> str:
        """Readable text: one block per finding (operation, rule, message, curl), then the errors."""
        lines: list[str] = []
        for f in self.findings:
            status = f" (HTTP {f.status})" if f.status is not None else ""
            lines += [f"[{f.vendor}] {f.operation}: {f.rule}{status}", *_indent(f.message), *_indent(f.curl), ""]
        lines += [f"[{self.vendor}] error: {e}" for e in self.errors]
        return "\n".join(lines).rstrip()


def _indent(text: str) -> list[str]:
    return [f"    {line}" for line in text.strip().splitlines() if line.strip()]


Progress = Callable[[str, str, Report], None]


def execute(
    schema: Any, label: str, progress: Progress | None = None, stop: Callable[[], str | None] | None = None
) -> Report:
    """Run the engine; `progress(phase, "started" | "finished", report)` is told as each phase moves;
    `stop()` returning a reason ends the run early, as an error."""
    report = Report(label)
    started = time.perf_counter()
    # Under a seed, the same cases whatever the process imported before (contracts.reproducible).
    with own_constants_only():
        for event in from_schema(schema).execute():
            if stop is not None and (reason := stop()) is not None:
                report.errors.append(reason)
                break
            if progress is not None and isinstance(event, events.PhaseStarted | events.PhaseFinished):
                state = "started" if isinstance(event, events.PhaseStarted) else "finished"
                if getattr(event.phase, "is_enabled", True):
                    progress(str(event.phase.name.value).lower(), state, report)
            _collect(report, event)
    report.elapsed = time.perf_counter() - started
    return report


def _operation_id(case: Any) -> str:
    return str(case.operation.definition.raw.get("operationId") or case.operation.label)


def _collect(report: Report, event: events.EngineEvent) -> None:
    if isinstance(event, events.ScenarioFinished):
        _collect_scenario(report, event)
    elif isinstance(event, events.NonFatalError):
        error = f"{event.label}: {event.info.format()}"
        # One line per distinct error: a server that is down fails every operation the same way.
        if error.splitlines()[0] not in {e.splitlines()[0] for e in report.errors}:
            report.errors.append(error)
    elif isinstance(event, events.FatalError):
        report.errors.append(f"fatal: {type(event.exception).__name__}: {event.exception}")


# Checks of a response's body and its media type: moot for a body RFC 6750 lets a server leave out.
_BODY_CHECKS = frozenset({"content_type_conformance", "response_schema_conformance"})


def bare_bearer_challenge(response: Any) -> bool:
    """A 401 whose `WWW-Authenticate: Bearer` challenge says it all, with no body: RFC 6750 §3 puts the
    error in the challenge (ASP.NET and many gateways answer so), so the contracts' 401 body and its media
    type are what a server sends when it sends one, not a body it must send."""
    if response is None or response.status_code != 401 or (response.content or b"").strip():
        return False
    headers = {str(k).lower(): v for k, v in (response.headers or {}).items()}
    challenge = headers.get("www-authenticate") or []
    values = challenge if isinstance(challenge, list) else [challenge]
    return any(str(value).strip().lower().startswith("bearer") for value in values)


def _collect_scenario(report: Report, event: events.ScenarioFinished) -> None:
    phase, recorder = event.phase.value, event.recorder
    statuses = {
        case_id: interaction.response.status_code
        for case_id, interaction in recorder.interactions.items()
        if interaction.response is not None
    }
    for case_id, status in statuses.items():
        node = recorder.cases.get(case_id)
        if node is None:
            continue
        report.responses[(_operation_id(node.value), phase, status)] += 1
        chain: list[str] = []
        current: Any = node
        while current is not None and 200 <= statuses.get(current.value.id, 0) < 300:
            chain.insert(0, _operation_id(current.value))
            linked = current.transition is not None and current.parent_id is not None
            current = recorder.cases.get(current.parent_id) if linked else None
        if len(chain) > 1 and current is None:
            report.chains[tuple(chain)] += 1
    for case_id, checks in recorder.checks.items():
        node = recorder.cases.get(case_id)
        label = node.value.operation.label if node is not None else (event.label or "?")
        for check in checks:
            report.checks_run[check.name] += 1
            report.checks_by_phase[phase] += 1
            report.checks_by_operation[(label, check.name)] += 1
            if check.status != Status.FAILURE or check.failure_info is None:
                continue
            failure = check.failure_info.failure
            interaction = recorder.interactions.get(failure.case_id or case_id)
            if check.name in _BODY_CHECKS and interaction is not None and bare_bearer_challenge(interaction.response):
                continue
            finding = Finding(
                vendor=report.vendor,
                operation=failure.operation or event.label or "?",
                check=check.name,
                title=failure.title,
                message=failure.message,
                status=statuses.get(failure.case_id or case_id),
                curl=check.failure_info.code_sample,
                phase=phase,
            )
            if all(
                (f.operation, f.check, f.title) != (finding.operation, finding.check, finding.title)
                for f in report.findings
            ):
                report.findings.append(finding)
