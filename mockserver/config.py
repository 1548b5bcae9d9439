"""The mock's settings: built-in defaults, then a TOML or YAML file, then environment variables.

Every layer is checked against one JSON Schema (`settings_schema()`, printed by `tokenmock config
--schema`), so a misspelt key, an unknown vendor, a wrong type or an impossible value (a negative
lifetime, an empty secret) stops the start with one line naming where it came from, the key and the
rule, instead of being ignored or served.

Environment overrides name a nested key with double underscores, e.g.
`TOKENMOCK__VENDORS__CLICKVIEW__TOKEN_LIFETIME=60`; the schema types the value, so a string setting
stays a string (`TOKENMOCK__ADMIN_TOKEN=0123` is "0123", never 83 or a YAML boolean).
"""

from __future__ import annotations

import copy
import difflib
import json
import os
import tomllib
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
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
    # CORS on the vendor endpoints (never on /__mock/): "*" any origin (as Prism), a list of origins
    # ["http://localhost:3000"], or false for none.
    "cors_origins": "*",
    # HTTPS (`tokenmock serve --tls`): with no certfile/keyfile, a server certificate for localhost,
    # 127.0.0.1, ::1, the bound host and `hostnames`, from a local CA kept in ca_dir (default: the
    # user's data directory, e.g. ~/.local/share/tokenmock/tls) and served at /__mock/ca.pem.
    "tls": {"enabled": False, "certfile": None, "keyfile": None, "ca_dir": None, "hostnames": []},
    # Seconds a Redis store operation may take before the request is answered 503 (store outage).
    "store_timeout": 0.5,
    # Chaos mode (mockserver.controls.chaos): None, a seed, or {"seed": 7, "exclude": ["no_answer", ...]}.
    "chaos": None,
    # `Prefer: code=/example=` handling (issue 17): None means on for a loopback bind and off when
    # `exposed` (anyone could then pick any answer, a 200 without a token included); true/false decide.
    "prefer": None,
    # Prometheus metrics at /__mock/metrics (same access rules as the admin API).
    "metrics": True,
}

# Settings a program may pass to create_app() that no file can hold (objects, not data).
PROGRAMMATIC = frozenset({"clock"})

_SEED = {"type": "integer", "minimum": 0, "maximum": 2**63 - 1}
# Top-level settings; `vendors`, `vendor` and `readings` are filled in from the vendor modules and the register.
_TOP: dict[str, Any] = {
    "validate_responses": {"type": "boolean", "description": "check every answer against the contract"},
    "max_body_bytes": {
        "type": "integer",
        "minimum": 1,
        "maximum": 64 * 1024 * 1024,
        "description": "bodies over this get 413 in the vendor's error shape",
    },
    "strict_all": {"type": "boolean", "description": "every register switch takes its strict reading"},
    "journal_size": {"type": "integer", "minimum": 1, "maximum": 1_000_000, "description": "journal entries kept"},
    "admin_token": {
        "type": ["string", "null"],
        "minLength": 1,
        "pattern": "^[!-~]+$",
        "description": "bearer token the admin API requires (null: loopback only, no token)",
    },
    "admin_hosts": {
        "type": "array",
        "items": {"type": "string", "minLength": 1, "pattern": "^[A-Za-z0-9._-]+$"},
        "description": "host names the admin API answers to besides loopback and localhost (DNS rebinding)",
    },
    "exposed": {"type": "boolean", "description": "set by `serve --host` on a non-loopback address"},
    "access_log": {"type": "boolean", "description": "one masked log line per request"},
    "chaos": {
        "description": "chaos mode: a seed, or {seed, exclude}",
        "oneOf": [
            {"type": "null"},
            _SEED,
            {
                "type": "object",
                "properties": {"seed": _SEED, "exclude": {"type": "array", "items": {"type": "string"}}},
                "required": ["seed"],
                "additionalProperties": False,
            },
        ],
    },
    "prefer": {
        "type": ["boolean", "null"],
        "description": "honour `Prefer: code=/example=` (null: on for a loopback bind, off when exposed)",
    },
    "metrics": {"type": "boolean", "description": "Prometheus metrics at /__mock/metrics"},
    "cors_origins": {
        "description": (
            'CORS on the vendor endpoints: "*" any origin, a list of origins (in the environment: comma-separated),'
            ' or false (in the environment: empty) for none'
        ),
        "oneOf": [
            {"type": "string", "pattern": "^(\\*|https?://[^/\\s,]+/?(,\\s*https?://[^/\\s,]+/?)*|)$"},
            {"type": "boolean"},
            {"type": "null"},
            {"type": "array", "items": {"type": "string", "pattern": "^https?://[^/\\s]+/?$"}},
        ],
    },
    "tls": {
        "type": "object",
        "description": "HTTPS for `tokenmock serve` (--tls, --certfile/--keyfile)",
        "properties": {
            "enabled": {"type": "boolean", "description": "serve HTTPS"},
            "certfile": {"type": ["string", "null"], "minLength": 1, "description": "one's own certificate (PEM)"},
            "keyfile": {"type": ["string", "null"], "minLength": 1, "description": "its private key (PEM)"},
            "ca_dir": {
                "type": ["string", "null"],
                "minLength": 1,
                "description": "where the local CA is kept (null: the user's data directory)",
            },
            "hostnames": {
                "type": "array",
                "items": {"type": "string", "pattern": "^[A-Za-z0-9*]([A-Za-z0-9.:*-]*[A-Za-z0-9])?$"},
                "description": "extra names for the server certificate besides loopback and --host",
            },
        },
        "additionalProperties": False,
    },
    "store_timeout": {
        "type": "number",
        "exclusiveMinimum": 0,
        "maximum": 60,
        "description": "seconds one Redis operation may take; past it the store is down and requests get 503",
    },
    "store": {
        "type": ["string", "null"],
        "pattern": "^(memory(://)?|sqlite(://.+)?|rediss?://.+|unix://.+)$",
        "description": "memory, sqlite:///path/to/state.db or redis://host:port/db",
    },
}


class ConfigError(ValueError):
    """The configuration file or an override is invalid."""


@cache
def settings_schema() -> dict[str, Any]:
    """The JSON Schema of a settings file: every key the mock knows, with its type and bounds."""
    from tokenmock.contracts.register import register
    from tokenmock.mockserver.vendors import vendor_classes

    classes = vendor_classes()
    ids = sorted(entry.id for entry in register() if entry.switchable)
    properties = dict(_TOP)
    properties["vendor"] = {"enum": [None, *sorted(classes)], "description": "serve one vendor alone, at the root"}
    properties["readings"] = {
        "type": "object",
        "description": "discrepancy id -> strict | lenient (openapi/DISCREPANCIES.md)",
        "propertyNames": {"enum": ids},
        "additionalProperties": {"enum": ["strict", "lenient"]},
    }
    properties["vendors"] = {
        "type": "object",
        "description": "per-vendor settings, merged over each vendor's defaults",
        "properties": {name: cls.settings_schema or {"type": "object"} for name, cls in sorted(classes.items())},
        "additionalProperties": False,
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://tokenmock.invalid/settings.schema.json",
        "title": "tokenmock settings",
        "type": "object",
        "properties": dict(sorted(properties.items())),
        "additionalProperties": False,
    }


@cache
def _validator() -> jsonschema.protocols.Validator:
    schema = settings_schema()
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema)


def _key(path: Iterable[Any]) -> str:
    return ".".join(str(part) for part in path) or "(top level)"


def _explain(error: jsonschema.ValidationError) -> str:
    """One line for a schema error: the key and the rule, never the offending value (it may be a secret)."""
    error = jsonschema.exceptions.best_match([error]) if error.context else error
    where = list(error.absolute_path)
    rule = error.validator
    schema = error.schema if isinstance(error.schema, dict) else {}
    if rule == "additionalProperties" and isinstance(error.instance, dict):
        known = sorted(schema.get("properties", {}))
        unknown = sorted(set(error.instance) - set(known))
        name = unknown[0] if unknown else "?"
        close = difflib.get_close_matches(str(name), known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(known)})"
        what = "vendor" if where == ["vendors"] else "key"
        return f"{_key([*where, name])}: unknown {what}{hint}"
    if "propertyNames" in error.schema_path:
        return f"{_key([*where, error.instance])}: unknown key (see `tokenmock config --schema`)"
    if rule == "type":
        wanted = schema.get("type")
        wanted = " or ".join(wanted) if isinstance(wanted, list) else wanted
        return f"{_key(where)}: must be {wanted}"
    if rule in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        word = {"minimum": "at least", "maximum": "at most"}.get(str(rule), str(rule))
        return f"{_key(where)}: must be {word} {error.validator_value}"
    if rule == "minLength":
        return f"{_key(where)}: must not be empty" if error.validator_value == 1 else (
            f"{_key(where)}: must be at least {error.validator_value} characters"
        )
    if rule == "maxLength":
        return f"{_key(where)}: must be at most {error.validator_value} characters"
    if rule in ("minItems", "maxItems", "maxProperties"):
        word = "at least" if rule == "minItems" else "at most"
        unit = ("member" if rule == "maxProperties" else "item") + ("" if error.validator_value == 1 else "s")
        return f"{_key(where)}: must have {word} {error.validator_value} {unit}"
    if rule == "enum":
        choices = ", ".join("null" if c is None else str(c) for c in error.validator_value)
        return f"{_key(where)}: must be one of {choices}"
    if rule == "required":
        return f"{_key(where)}: {error.message.split(' is a ')[0]} is required"
    if rule == "pattern":
        return f"{_key(where)}: not of the expected form"
    if rule in ("oneOf", "anyOf"):
        return f"{_key(where)}: not one of the accepted forms (see `tokenmock config --schema`)"
    return f"{_key(where)}: breaks the rule {rule!r}"


def check(settings: Mapping[str, Any], source: str) -> None:
    """Raise ConfigError naming `source`, the key and the rule when `settings` breaks the schema."""
    data = {key: value for key, value in settings.items() if key not in PROGRAMMATIC}
    if not isinstance(data.get("store"), str | None):  # a Store object handed over by a program
        data.pop("store")
    errors = sorted(_validator().iter_errors(data), key=lambda e: (list(e.absolute_path), str(e.validator)))
    if errors:
        raise ConfigError(f"{source}: {_explain(errors[0])}")


def runtime_record_schema(vendor: str) -> dict[str, Any]:
    """The schema of what `POST /__mock/clients` may add to a vendor: an item of one of the settings lists
    the vendor registers at runtime (its `clients`; Dive's `users` too), exactly as the config file's."""
    from tokenmock.mockserver.vendors import vendor_classes

    cls = vendor_classes()[vendor]
    properties = (cls.settings_schema or {}).get("properties", {})
    items = [properties[name]["items"] for name in cls.runtime_records if name in properties]
    return items[0] if len(items) == 1 else {"anyOf": items}


def check_value(schema: Mapping[str, Any], value: Any, name: str) -> None:
    """Raise ConfigError with the config file's one-line message when `value` (named `name`, as in an
    admin request's body) breaks `schema`, a part of the settings schema."""
    wrapper = {"type": "object", "properties": {name: schema}}
    validator = jsonschema.validators.validator_for(settings_schema())(wrapper)
    errors = sorted(validator.iter_errors({name: value}), key=lambda e: (list(e.absolute_path), str(e.validator)))
    if errors:
        raise ConfigError(_explain(errors[0]))


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Merge `override` into a copy of `base`: mappings merge recursively, everything else replaces."""
    merged = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


# The largest config file read (a config is a few kilobytes; this bounds what a file can make the mock hold).
MAX_CONFIG_BYTES = 1024 * 1024


class _NoAliasLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing aliases (`*name`): a few hundred bytes of nested aliases expand to
    gigabytes (a "billion laughs"), and a config never needs them."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None, None, "aliases (*name) are not accepted in a config file", event.start_mark
            )
        return super().compose_node(parent, index)


def read_bytes(path: str | os.PathLike[str]) -> bytes:
    """A config file's content, at most MAX_CONFIG_BYTES (ConfigError past it or when unreadable)."""
    file = Path(path)
    try:
        with file.open("rb") as handle:
            raw = handle.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read: {exc.strerror}") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{file}: larger than {MAX_CONFIG_BYTES} bytes; a config file is a few kilobytes")
    return raw


def parse(file: Path, raw: bytes) -> dict[str, Any]:
    """A config file's content as a mapping, checked against the schema; an empty file is an error (a file
    caught half-written must not mean "the defaults")."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{file}: not UTF-8 text") from None
    try:
        data = tomllib.loads(text) if file.suffix == ".toml" else yaml.load(text, Loader=_NoAliasLoader)  # noqa: S506 - a safe loader
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        detail = str(exc).splitlines()[0]
        raise ConfigError(f"{file}: not valid {file.suffix.lstrip('.') or 'YAML'}: {detail}") from None
    if data is None or (data == {} and not text.strip()):
        raise ConfigError(f"{file}: empty (write {{}} in YAML, or nothing but comments in TOML, for the defaults)")
    if not isinstance(data, dict):
        raise ConfigError(f"{file}: must hold a mapping at the top level")
    check(data, str(file))
    return data


def read_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a TOML (`.toml`) or YAML file into a mapping, checked against the schema."""
    return parse(Path(path), read_bytes(path))


def _node(path: list[str]) -> dict[str, Any] | None:
    """The schema of the setting at `path`, or None when the schema has no such key."""
    node: dict[str, Any] = settings_schema()
    for part in path:
        properties = node.get("properties", {})
        if part in properties:
            node = properties[part]
        elif isinstance(node.get("additionalProperties"), dict):
            node = node["additionalProperties"]
        else:
            return None
    return node


def _types(node: Mapping[str, Any]) -> set[str]:
    found: set[str] = set()
    declared = node.get("type")
    found.update([declared] if isinstance(declared, str) else declared or [])
    for option in [*node.get("oneOf", []), *node.get("anyOf", [])]:
        found |= _types(option)
    if "enum" in node:
        names = {type(None): "null", str: "string", bool: "boolean", int: "integer"}
        found |= {names.get(type(value), "string") for value in node["enum"]}
    return found


def typed(raw: str, node: Mapping[str, Any] | None, name: str) -> Any:
    """An environment value as the schema types it: a string setting stays the string given."""
    types = _types(node) if node is not None else set()
    if "string" in types or not types:
        return raw
    if "boolean" in types and raw.lower() in ("true", "false", "1", "0", "yes", "no", "on", "off"):
        return raw.lower() in ("true", "1", "yes", "on")
    if "integer" in types:
        try:
            return int(raw)
        except ValueError:
            pass
    if "number" in types:
        try:
            return float(raw)
        except ValueError:
            pass
    if "null" in types and raw.lower() in ("", "null", "none"):
        return None
    if types & {"object", "array"}:
        try:
            return json.loads(raw)
        except ValueError:
            raise ConfigError(f"environment {name}: must be JSON ({' or '.join(sorted(types))})") from None
    raise ConfigError(f"environment {name}: must be {' or '.join(sorted(types))}")


def env_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    """Nested overrides from `TOKENMOCK__A__B=value` variables (keys lower-cased, values typed by the schema)."""
    result: dict[str, Any] = {}
    for name, raw in sorted(environ.items()):
        if not name.startswith(ENV_PREFIX):
            continue
        path = [part.lower() for part in name[len(ENV_PREFIX) :].split("__") if part]
        if not path:
            continue
        if path[0] == "readings":  # discrepancy ids are upper-case
            path[-1] = path[-1].upper()
        single: dict[str, Any] = {path[-1]: typed(raw, _node(path), name)}
        for part in reversed(path[:-1]):
            single = {part: single}
        check(single, f"environment {name}")
        result = deep_merge(result, single)
    return result


def load_settings(
    config: Mapping[str, Any] | str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Defaults, then `config` (a mapping or a file path), then environment overrides, each layer checked."""
    settings = copy.deepcopy(DEFAULTS)
    objects: dict[str, Any] = {}
    if isinstance(config, str | os.PathLike):
        settings = deep_merge(settings, read_file(config))
    elif config is not None:
        check(config, "config")
        objects = {k: config[k] for k in PROGRAMMATIC if k in config}  # handed over as they are, not copied
        settings = deep_merge(settings, {k: v for k, v in config.items() if k not in PROGRAMMATIC})
    return deep_merge(settings, env_overrides(os.environ if environ is None else environ)) | objects
