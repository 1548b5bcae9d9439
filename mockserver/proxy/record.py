"""`--record DIR`: observed answers as candidate OpenAPI examples, secrets and personal data replaced.

One YAML file per distinct (operation, status, shape) answer: the example under `value`, an `x-source`
saying it was observed (where and when), and the request that produced it, both with every secret,
token and personal value replaced by a placeholder naming the field (`<access_token>`). Nothing secret
is written: values are replaced by name, by shape (JWTs) and by value (every secret the proxy learned,
in each spelling). The directory is made 0700 and each file 0600, created afresh (never through a link).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from typing import Any

import yaml

from tokenmock import contracts
from tokenmock.mockserver.controls.masking import is_sensitive
from tokenmock.mockserver.proxy.exchange import NOT_SECRET, Exchange, Secrets

# Members that hold personal data: replaced like secrets, numbers by 0.
PERSONAL = frozenset(
    {
        "username",
        "user_name",
        "email",
        "name",
        "first_name",
        "last_name",
        "given_name",
        "family_name",
        "phone",
        "phone_number",
        "user_id",
        "user_profile_id",
        "profile_id",
        "sub",
        "device_id",
        "firstvisionid",
        "birthdate",
        "address",
    }
)
_JWT = re.compile(r"eyJ[\w-]{4,}\.[\w-]+\.[\w-]*")
# Files written per recording at most (a client looping through the proxy cannot fill the disk).
MAX_FILES = 500


def placeholders(data: Any, secrets: Secrets, exchange: Exchange, name: str = "") -> Any:
    """`data` with secret and personal values replaced by `<name>` placeholders (types kept where the
    contract needs them: numbers become 0)."""
    if isinstance(data, dict):
        return {key: placeholders(value, secrets, exchange, str(key)) for key, value in data.items()}
    if isinstance(data, list):
        return [placeholders(item, secrets, exchange, name) for item in data]
    lowered = name.lower()
    hidden = bool(name) and lowered not in NOT_SECRET and (is_sensitive(name) or lowered in PERSONAL)
    if isinstance(data, bool) or data is None:
        return data
    if isinstance(data, int | float):
        return 0 if hidden else data
    if isinstance(data, str):
        if hidden:
            return f"<{name}>"
        text = _JWT.sub("<jwt>", data)
        return str(secrets.mask(text, exchange)).replace("***", "<secret>")
    return data


class Recorder:
    """Writes candidate examples into a directory, one file per distinct answer."""

    def __init__(self, folder: str, vendor: str, upstream: str) -> None:
        self.folder = folder
        self.vendor = vendor
        self.upstream = upstream
        os.makedirs(folder, mode=0o700, exist_ok=True)
        os.chmod(folder, 0o700)
        self.seen: set[str] = set()
        self.written: list[str] = []

    def record(self, exchange: Exchange, secrets: Secrets) -> str | None:
        """Write the exchange's answer as a candidate example; the file's path, or None (seen, or not one)."""
        if exchange.failure or exchange.operation_id is None or len(self.written) >= MAX_FILES:
            return None
        value = placeholders(exchange.response_data, secrets, exchange)
        if value is None:
            return None
        shape = json.dumps([exchange.operation_id, exchange.status, value], sort_keys=True, default=str)
        digest = hashlib.sha256(shape.encode()).hexdigest()[:12]
        if digest in self.seen:
            return None
        self.seen.add(digest)
        day = time.strftime("%Y-%m-%d", time.gmtime(exchange.time))
        document = {
            "vendor": self.vendor,
            "operationId": exchange.operation_id,
            "status": exchange.status,
            "media_type": exchange.response_media_type or None,
            "example": {
                "summary": f"observed {exchange.method} {exchange.path} -> {exchange.status}",
                "x-source": f"observed: tokenmock proxy against {self.upstream} on {day} (values replaced)",
                "value": value,
            },
            "request": {
                "method": exchange.method,
                "path": contracts.operation(self.vendor, exchange.operation_id).path,  # parameters as {name}
                "media_type": exchange.request_media_type or None,
                "body": placeholders(exchange.request_data, secrets, exchange),
            },
        }
        path = os.path.join(self.folder, f"{exchange.operation_id}-{exchange.status}-{digest}.yaml")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            yaml.safe_dump(document, out, sort_keys=False, allow_unicode=True)
        self.written.append(path)
        return path
