"""The observers' registry against the register, and how verdicts add up."""

from __future__ import annotations

import pytest

from tokenmock import contracts
from tokenmock.mockserver.proxy.exchange import Exchange
from tokenmock.mockserver.proxy.readings import OBSERVERS, Observations


def test_every_observer_watches_a_switchable_entry_of_its_vendor() -> None:
    assert set(OBSERVERS) == set(contracts.vendors())
    for vendor, observers in OBSERVERS.items():
        switchable = {e.id for e in contracts.register(vendor) if e.switchable}
        assert set(observers.by_entry) <= switchable, vendor


def invalid_client(number: int, status: int) -> Exchange:
    return Exchange(
        id=number,
        vendor="clickview",
        time=0.0,
        method="POST",
        target="/connect/token",
        request_headers=[("Authorization", "Basic ZGVtbzp3cm9uZw=="), ("Content-Type", "application/json")],
        request_body=b"",
        status=status,
        reason="",
        response_headers=[("Content-Type", "application/json")],
        response_body=b'{"error": "invalid_client"}',
        duration_ms=1.0,
    )


@pytest.mark.parametrize(
    ("statuses", "reading"),
    [((401,), "strict"), ((400, 400), "lenient"), ((401, 400), "conflicting"), ((), "not observed")],
)
def test_verdicts_add_up(statuses: tuple[int, ...], reading: str) -> None:
    observations = Observations(OBSERVERS["clickview"])
    for number, status in enumerate(statuses, 1):
        observations.observe(invalid_client(number, status))
    assert observations.reading("CV-11") == reading
    assert observations.observed().get("CV-11") == (reading if reading in ("strict", "lenient") else None)
    assert observations.reading("CV-05") == "not visible"
