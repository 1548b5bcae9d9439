"""Each vendor's reading observers (one module per vendor, `base` for the machinery)."""

from __future__ import annotations

from tokenmock.mockserver.proxy.readings import aminotv, clickview, divetv, junctiontv, vision10
from tokenmock.mockserver.proxy.readings.base import Observations, Observers

OBSERVERS: dict[str, Observers] = {
    module.OBSERVERS.vendor: module.OBSERVERS for module in (aminotv, clickview, divetv, junctiontv, vision10)
}

__all__ = ["OBSERVERS", "Observations", "Observers"]
