"""`tokenmock proxy VENDOR --upstream URL`: the real vendor behind the contract.

`budget` (deadline and body cap, verify's limits), `wire` (HTTP/1.1 to the upstream, byte for byte),
`listener` (the proxy's own port), `exchange` (an exchange parsed, and masked), `drift` (contract
violations), `readings` (which reading of each register entry the upstream follows), `record`
(candidate examples), `render` (table, JUnit, config), `core` (`Proxy`, tying them together with the
mock's admin API and journal).
"""

from __future__ import annotations

from tokenmock.mockserver.proxy.core import Proxy
from tokenmock.mockserver.proxy.listener import ClientBudget, ProxyServer
from tokenmock.mockserver.proxy.wire import ProxyError, Upstream, UpstreamFailure

__all__ = ["ClientBudget", "Proxy", "ProxyError", "ProxyServer", "Upstream", "UpstreamFailure"]
