"""The vendor modules, one per contract; each defines one `Vendor` subclass."""

from __future__ import annotations

import functools
import importlib
import pkgutil

from tokenmock.mockserver.vendors.base import Vendor


@functools.cache
def vendor_classes() -> dict[str, type[Vendor]]:
    """Vendor name -> class, found by importing every module of this package."""
    found: dict[str, type[Vendor]] = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name == "base":
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, Vendor) and value is not Vendor and "name" in vars(value):
                found[value.name] = value
    return found


__all__ = ["Vendor", "vendor_classes"]
