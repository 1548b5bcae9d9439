"""Issue 14, finding 11: a token is accepted only as it was issued, byte for byte.

Base64url decoders forgive padding and the spare low bits of a segment's last character, so a genuine
token with `=` appended, or with its last character's unused bits flipped, decodes to the same bytes.
Such a second spelling must be refused (a revocation keyed by the token text would miss it): at every
vendor's protected resource, and as a refresh token.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator

import pytest
from flask import Flask

from tests.security.flows import REFRESHING, RESOURCES, VENDORS, call_resource, flask_http, login, refresh, tokens_of
from tests.security.hostile import CASES

# Respellings tried: per vendor, every segment of its access token (at each of its resources) and of its
# refresh token, padded once and twice and with its spare bits flipped where it has any, plus one `=`
# after the whole token. The README quotes CASE_COUNT; tests/security/test_readme_counts.py compares.
CASE_COUNT = 71
TRIED: Counter[str] = Counter()
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def flipped_spare_bits(segment: str) -> str | None:
    """The segment with its last character's unused low bit flipped (None when it has no spare bits)."""
    if len(segment) % 4 in (0, 1):
        return None
    last = ALPHABET.index(segment[-1])
    return segment[:-1] + ALPHABET[last ^ 1]


def respellings(token: str) -> Iterator[tuple[str, str]]:
    """(how, token) for every other spelling of the same bytes."""
    parts = token.split(".")
    for index, part in enumerate(parts):
        for how, changed in (
            ("padded '='", part + "="),
            ("padded '=='", part + "=="),
            ("spare bits", flipped_spare_bits(part)),
        ):
            if changed is None or changed == part:
                continue
            yield f"segment {index} {how}", ".".join([*parts[:index], changed, *parts[index + 1 :]])
    yield "trailing '='", token + "="


@pytest.mark.parametrize("vendor", VENDORS)
def test_a_respelled_access_token_is_refused(make_app: Callable[..., Flask], vendor: str) -> None:
    http = flask_http(make_app().test_client())
    access, _ = tokens_of(vendor, login(vendor, http))
    for resource in RESOURCES[vendor]:
        assert call_resource(vendor, http, access, resource).status == 200  # the genuine spelling works
        tried = 0
        for how, token in respellings(access):
            answer = call_resource(vendor, http, token, resource)
            tried += 1
            assert answer.status == 401, (vendor, resource[0], how, answer.status)
        assert tried >= 4
        CASES["respelled tokens"] += tried
        TRIED[vendor] += tried


@pytest.mark.parametrize("vendor", REFRESHING)
def test_a_respelled_refresh_token_is_refused(make_app: Callable[..., Flask], vendor: str) -> None:
    http = flask_http(make_app().test_client())
    _, refresh_token = tokens_of(vendor, login(vendor, http))
    assert refresh_token is not None
    for how, token in respellings(refresh_token):
        CASES["respelled tokens"] += 1
        TRIED[f"{vendor} refresh"] += 1
        answer = refresh(vendor, http, token)
        assert answer.status in (400, 401), (vendor, how, answer.status)
    assert refresh(vendor, http, refresh_token).status == 200  # the genuine one was not used up meanwhile


def test_every_respelling_was_tried() -> None:
    """Runs after the two tests above (file order): the count the README quotes is the count tried."""
    if len(TRIED) < len(VENDORS) + len(REFRESHING):
        pytest.skip("run with the whole module")
    assert sum(TRIED.values()) == CASE_COUNT, dict(TRIED)
