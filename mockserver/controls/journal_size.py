"""The journal's byte budget: each record at most ENTRY_BYTES, all of them at most TOTAL_BYTES.

Why: the journal keeps what clients send, and a client controls how much that is (95 headers of 8 KB each
are within gunicorn's header limits). Bounded by count alone, 1,000 such requests held 730 MB and one
read of the journal took seconds and gigabytes. A record over ENTRY_BYTES keeps its fixed fields (time,
vendor, operation, method, status, ...) and a shortened copy of what the client sent: long strings cut
with a marker saying how much was left out, long mappings and lists cut after a few items, and
`truncated: true` on the record. The stores then drop the oldest records until the rest fit TOTAL_BYTES.
Sizes are those of the record's compact JSON (ASCII: characters are bytes).
"""

from __future__ import annotations

import json
from typing import Any

# The most one journal record may take, as compact JSON.
ENTRY_BYTES = 8 * 1024
# The most every record of one journal may take together (oldest dropped first); with the default
# journal_size of 1,000, records of ENTRY_BYTES all fit.
TOTAL_BYTES = 8 * 1024 * 1024
# A shortened record: strings cut after FIELD_CHARS characters, mappings and lists after FIELD_ITEMS items,
# nesting below FIELD_DEPTH levels replaced.
FIELD_CHARS = 128
FIELD_ITEMS = 16
FIELD_DEPTH = 6
# What a record says where something was left out.
TRUNCATED = "[truncated]"
# The fields a client controls, in the order they are replaced whole when shortening is not enough.
CLIENT_FIELDS = ("body", "headers", "query", "path")


def dumps(entry: Any) -> str:
    """The compact JSON of a record (the form the stores keep and measure)."""
    return json.dumps(entry, separators=(",", ":"), default=str)


def fit(entry: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """The record within ENTRY_BYTES, and its JSON; `entry` itself when it fits already."""
    text = dumps(entry)
    if len(text) <= ENTRY_BYTES:
        return entry, text
    fitted = {key: (_shorten(value, 0) if key in CLIENT_FIELDS else value) for key, value in entry.items()}
    fitted["truncated"] = True
    text = dumps(fitted)
    for field in CLIENT_FIELDS:  # still too big (many long names): what is left of a field is its size
        if len(text) <= ENTRY_BYTES:
            break
        if field in fitted:
            size = len(dumps(entry[field]))
            fitted[field] = f"{TRUNCATED} {size} bytes" if field == "path" else {TRUNCATED: f"{size} bytes"}
            text = dumps(fitted)
    return fitted, text


def _shorten(value: Any, depth: int) -> Any:
    if isinstance(value, str):
        if len(value) <= FIELD_CHARS:
            return value
        return f"{value[:FIELD_CHARS]}{TRUNCATED} {len(value) - FIELD_CHARS} more characters"
    if depth >= FIELD_DEPTH and isinstance(value, dict | list):
        return TRUNCATED
    if isinstance(value, dict):
        items = list(value.items())
        kept = {_shorten(str(k), depth + 1): _shorten(v, depth + 1) for k, v in items[:FIELD_ITEMS]}
        if len(items) > FIELD_ITEMS:
            kept[TRUNCATED] = f"{len(items) - FIELD_ITEMS} more"
        return kept
    if isinstance(value, list):
        kept_list = [_shorten(v, depth + 1) for v in value[:FIELD_ITEMS]]
        if len(value) > FIELD_ITEMS:
            kept_list.append(f"{TRUNCATED} {len(value) - FIELD_ITEMS} more")
        return kept_list
    return value
