"""The mock's settings: built-in defaults, then a TOML or YAML file, then environment variables.

Environment overrides name a nested key with double underscores and take YAML scalars, e.g.
`TOKENMOCK__VENDORS__CLICKVIEW__TOKEN_LIFETIME=60` or `TOKENMOCK__READINGS__DIVE-01=strict`.
"""

from __future__ import annotations

import copy
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

ENV_PREFIX = "TOKENMOCK__"

DEFAULTS: dict[str, Any] = {
    # Check every response against the contract and fail loudly on drift (tests and debug mode).
    "validate_responses": False,
    # Request size limits: bodies over this get 413 in the vendor's error shape.
    "max_body_bytes": 64 * 1024,
    # Discrepancy readings: {"JTV-01": "strict"}; "strict_all": true makes every switch strict.
    "readings": {},
    "strict_all": False,
    # Per-vendor settings (clients, lifetimes, keys), merged over each vendor module's own defaults.
    "vendors": {},
    # Serve only this vendor at the root (None: every vendor under /<vendor>).
    "vendor": None,
    # The request journal keeps this many entries.
    "journal_size": 1000,
    # Admin API (/__mock/): None means loopback-only and no token; a string is required as a bearer token.
    "admin_token": None,
    # Host names (besides loopback addresses and localhost) the admin API answers to: a request whose
    # Host header names anything else is refused (DNS rebinding), e.g. ["mock.ci"].
    "admin_hosts": [],
    # True when served on a non-loopback address (`tokenmock serve --host` sets it): the admin API then
    # answers only requests carrying admin_token, and none at all while no admin_token is configured.
    "exposed": False,
    # One log line per request (secrets masked).
    "access_log": True,
    # Chaos mode (mockserver.chaos): None, a seed, or {"seed": 7, "exclude": ["no_answer", ...]}.
    "chaos": None,
}


class ConfigError(ValueError):
    """The configuration file or an override is invalid."""


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Merge `override` into a copy of `base`: mappings merge recursively, everything else replaces."""
    merged = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def read_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a TOML (`.toml`) or YAML file into a mapping."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config {file}: {exc.strerror}") from None
    try:
        data = tomllib.loads(text) if file.suffix == ".toml" else yaml.safe_load(text)
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"config {file} is not valid {file.suffix.lstrip('.') or 'YAML'}: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config {file} must hold a mapping at the top level")
    return data


def env_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    """Nested overrides from `TOKENMOCK__A__B=value` variables (keys lower-cased, values YAML scalars)."""
    result: dict[str, Any] = {}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX):
            continue
        path = [part.lower() for part in name[len(ENV_PREFIX) :].split("__") if part]
        if not path:
            continue
        try:
            value = yaml.safe_load(raw) if raw else raw
        except yaml.YAMLError:
            value = raw
        node = result
        for part in path[:-1]:
            node = node.setdefault(part, {})
        if path[0] == "readings":  # discrepancy ids are upper-case
            path[-1] = path[-1].upper()
        node[path[-1]] = value
    return result


def load_settings(
    config: Mapping[str, Any] | str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Defaults, then `config` (a mapping or a file path), then environment overrides."""
    settings = copy.deepcopy(DEFAULTS)
    if isinstance(config, str | os.PathLike):
        settings = deep_merge(settings, read_file(config))
    elif config is not None:
        settings = deep_merge(settings, config)
    return deep_merge(settings, env_overrides(os.environ if environ is None else environ))
