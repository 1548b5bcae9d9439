"""Independent providers of the five vendors, for `tokenmock verify` to be tested against (issue 21).

Written from the vendor documents (shared/seeds/) and the RFCs, not from the mock: Falcon instead of
Flask, served by a threaded wsgiref server on a kernel-chosen loopback port, never importing
`tokenmock.mockserver`. Each vendor module has `CREDENTIALS`, `app(knobs)`, and two tables of `Knobs`:
`VARIATIONS` (what the document or the RFCs allow: verify must pass them) and `BUGS` (one behavioural
bug each: verify must fail them, naming the check). `hostile` holds providers that attack verify itself.
"""

from __future__ import annotations

from types import ModuleType

from tests.providers import aminotv, clickview, divetv, junctiontv, vision10
from tests.providers.base import Knobs, Served

VENDORS: dict[str, ModuleType] = {
    "clickview": clickview,
    "vision10": vision10,
    "divetv": divetv,
    "aminotv": aminotv,
    "junctiontv": junctiontv,
}


def catalogue() -> dict[str, tuple[str, Knobs]]:
    """Every provider by name (`vendor/honest`, `vendor/<variation>`, `vendor/bug-<bug>`)."""
    found: dict[str, tuple[str, Knobs]] = {}
    for vendor, module in VENDORS.items():
        found[f"{vendor}/honest"] = (vendor, Knobs())
        for name, knobs in module.VARIATIONS.items():
            found[f"{vendor}/{name}"] = (vendor, knobs)
        for name, knobs in module.BUGS.items():
            found[f"{vendor}/bug-{name}"] = (vendor, knobs)
    return found


def serve(vendor: str, knobs: Knobs) -> Served:
    """Serve one provider on 127.0.0.1; the caller stops it."""
    return Served(VENDORS[vendor].app(knobs))


__all__ = ["VENDORS", "Knobs", "Served", "catalogue", "serve"]
