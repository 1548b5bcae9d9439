"""Testing helpers: the mock inside the test process at the vendors' real hosts, and assertions on
what it received.

    from tokenmock.testing import InProcessMock

    with InProcessMock() as mock:  # requests and httpx calls to the vendors' documented hosts reach the mock
        requests.post("https://auth.clickviewapp.com/connect/token", data={...})
    mock.assert_received("clickview", "requestToken", times=1)

The pytest plugin gives the same as the `tokenmock_in_process` fixture, and the `tokenmock` marker.
"""

from __future__ import annotations

from tokenmock.mockserver.controls.verification import ANY, RequestPattern
from tokenmock.testing.dispatch import Answer
from tokenmock.testing.inprocess import InProcessMock, Unrouted
from tokenmock.testing.routing import documented_hosts

__all__ = ["ANY", "Answer", "InProcessMock", "RequestPattern", "Unrouted", "documented_hosts"]
