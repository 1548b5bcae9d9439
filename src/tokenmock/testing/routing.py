"""Which vendor answers which host: the hosts each contract's `servers` documents.

The in-process mock routes a request by its host to the vendor's mock, so a test calls the vendor's
real URL (`https://auth.clickviewapp.com/connect/token`) with no `/clickview` prefix. Placeholder hosts
(Vision10 documents none: `api.vision10.invalid`; AminoTV's `customer.domain` stands for each
customer's own) are routed too; a test that calls the real host it was given adds it with `hosts=`.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

from tokenmock import contracts
from tokenmock.contracts.loader import spec

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


@functools.cache
def documented_hosts() -> dict[str, str]:
    """host -> vendor for every host a contract's `servers` names (top level, path item or operation),
    server variables at their defaults."""
    table: dict[str, str] = {}
    for vendor in contracts.vendors():
        for url in _server_urls(spec(vendor)):
            host = urlsplit(url).hostname
            if host:
                table.setdefault(host.lower(), vendor)
    return table


def base_urls() -> dict[str, str]:
    """vendor -> the first documented server URL (what `url_for` gives), scheme and host only."""
    found: dict[str, str] = {}
    for vendor in contracts.vendors():
        for url in _server_urls(spec(vendor)):
            parts = urlsplit(url)
            found.setdefault(vendor, f"{parts.scheme}://{parts.hostname}")
    return found


def _server_urls(document: Mapping[str, Any]) -> Iterator[str]:
    yield from _urls(document.get("servers"))
    for item in (document.get("paths") or {}).values():
        yield from _urls(item.get("servers"))
        for method in HTTP_METHODS:
            if isinstance(item.get(method), Mapping):
                yield from _urls(item[method].get("servers"))


def _urls(servers: Any) -> Iterator[str]:
    for server in servers or ():
        url = str(server.get("url", ""))
        for name, variable in (server.get("variables") or {}).items():
            url = url.replace("{" + name + "}", str(variable.get("default", "")))
        yield url


def host_table(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The documented hosts plus `extra` (host -> vendor), every vendor checked, hosts lower-cased."""
    known = set(contracts.vendors())
    table = dict(documented_hosts())
    for host, vendor in (extra or {}).items():
        if vendor not in known:
            raise ValueError(f"hosts: {vendor!r} is not a vendor; choose one of {', '.join(sorted(known))}")
        name = urlsplit(host).hostname if "://" in host else host.split(":", 1)[0]
        if not name:
            raise ValueError(f"hosts: {host!r} is not a host name")
        table[name.lower()] = vendor
    return table
