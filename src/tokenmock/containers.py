"""tokenmock's container image as a Testcontainers container, for test suites that start their mocks that way.

    from tokenmock.containers import TokenmockContainer

    with TokenmockContainer("tokenmock:latest") as mock:
        mock.url                           # http://<host>:<published port>, every vendor under /<vendor>
        mock.controller().clock.advance(3600)

It needs the `containers` extra (`pip install 'tokenmock[containers]'`, which brings Testcontainers for
Python) and an image built from the repository's Dockerfile (`docker build -t tokenmock .`), since no
registry publishes one. The container serves on 0.0.0.0 inside, where the admin API asks for a token:
one is made per container (or given) and handed to `controller()`. Testcontainers reaches Docker, or
podman through `podman system service` and `DOCKER_HOST` (how tests/container/test_testcontainers.py
runs it; that test also sets TESTCONTAINERS_RYUK_DISABLED=true, as the Ryuk image cannot be pulled there).
"""

from __future__ import annotations

import secrets
from typing import Any

try:
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.wait_strategies import HttpWaitStrategy
except ImportError as exc:  # a clear pointer instead of a bare "No module named testcontainers"
    raise ImportError("tokenmock.containers needs Testcontainers: pip install 'tokenmock[containers]'") from exc

from tokenmock.mockserver.controls.controller import MockController

PORT = 8080  # where the image's default command serves


class TokenmockContainer(DockerContainer):
    """The image's default command (`tokenmock serve --host 0.0.0.0 --port 8080`), ready once health answers.

    `settings` become `TOKENMOCK__*` variables: `{"vendors__clickview__token_lifetime": "60"}` sets
    `TOKENMOCK__VENDORS__CLICKVIEW__TOKEN_LIFETIME=60`.
    """

    def __init__(
        self,
        image: str = "tokenmock:latest",
        *,
        admin_token: str | None = None,
        settings: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(image, **kwargs)
        self.admin_token = admin_token or secrets.token_urlsafe(24)
        self.with_exposed_ports(PORT)
        self.with_env("TOKENMOCK__ADMIN_TOKEN", self.admin_token)
        for name, value in (settings or {}).items():
            self.with_env(f"TOKENMOCK__{name.upper()}", str(value))
        self.waiting_for(HttpWaitStrategy(PORT, "/__mock/health").for_status_code(200))

    @property
    def url(self) -> str:
        """The mock's root as seen from the test process (each vendor lives under /<vendor>)."""
        host = self.get_container_host_ip()
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{self.get_exposed_port(PORT)}"

    def controller(self) -> MockController:
        """The admin API of this container (faults, clock, journal, clients), with its admin token."""
        return MockController(self.url, admin_token=self.admin_token)
