"""Every spelling a secret takes on the wire: one list for each part that must keep secrets out of what it
writes (the reference client's error messages, `tokenmock verify`'s reports and its echo check).

It lives in the root package because the client and `contracts.verify` both need it and neither may
import the other.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
import shlex
from urllib.parse import quote, quote_plus

# Shorter values are not replaced in free text: replacing every "ab" would garble messages and hide
# nothing. Where a value's place is known (a form field, a JSON member, a header), it is replaced
# whatever its length (`tokenmock.contracts.verify.report.curl_of`).
MIN_SCRUBBED = 4
_PERCENT = re.compile(r"%[0-9A-F]{2}")


def secret_forms(secret: str, *, minimum: int = MIN_SCRUBBED) -> set[str]:
    """Every spelling of `secret` a server may echo or a report may print: as sent in a form or URL
    (`+` or `%20` for a space, either hex case), inside JSON or a Python repr, HTML-escaped, shell-quoted
    (whole, or inside a quoted string), or base64 as in `Authorization: Basic`. Forms shorter than
    `minimum` are left out; a value no codec can encode (a lone surrogate) is only ever seen raw."""
    forms = {secret, html.escape(secret), repr(secret)[1:-1], shlex.quote(secret), secret.replace("'", "'\"'\"'")}
    for ascii_only in (True, False):
        escaped = json.dumps(secret, ensure_ascii=ascii_only)[1:-1]
        forms |= {escaped, escaped.replace("/", "\\/")}  # some encoders escape the slash too
    try:
        raw = secret.encode("utf-8")
    except UnicodeEncodeError:
        return {form for form in forms if len(form) >= minimum}
    for encoded in (quote_plus(secret), quote_plus(secret, safe="/"), quote(secret, safe=""), quote(secret)):
        forms |= {encoded, _PERCENT.sub(lambda m: m.group().lower(), encoded)}
    for b64 in (base64.b64encode(raw), base64.urlsafe_b64encode(raw)):
        text = b64.decode("ascii")
        forms |= {text, text.rstrip("=")}
    return {form for form in forms if len(form) >= minimum}


def basic_forms(user: str, secret: str) -> set[str]:
    """The Base64 of `user:secret` as RFC 7617 sends it, raw and with each part form-encoded first
    (RFC 6749 §2.3.1): what an `Authorization: Basic` header carrying the secret looks like."""
    forms = set()
    for left, right in ((user, secret), (quote_plus(user), quote_plus(secret))):
        try:
            raw = f"{left}:{right}".encode()
        except UnicodeEncodeError:
            continue
        text = base64.b64encode(raw).decode("ascii")
        forms |= {text, text.rstrip("=")}
    return forms


def digest_forms(secret: str) -> set[str]:
    """The MD5 hex digest of a secret, either case: Dive's wire form of a password, itself a credential."""
    try:
        digest = hashlib.md5(secret.encode("utf-8")).hexdigest()  # noqa: S324 - Dive's documented digest
    except UnicodeEncodeError:
        return set()
    return {digest, digest.upper()}


# Query parameters of a URL that hold a secret (`?password=`, `?auth_token=`, `?secret_key=`, `?apikey=`).
_SECRET_PARAMETER = re.compile(r"pass|pwd|token|secret|key|auth|credential|session", re.IGNORECASE)
MASK = "***"


def mask_url(url: str) -> str:
    """`url` fit for a log line or a warning: a password in its userinfo and the values of query parameters
    named like a secret replaced by `***` (the user name, host, path and other parameters stay, so the
    reader still knows which store is meant). Works on text that is not a valid URL too."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "", url
    authority_end = min((i for i in (rest.find("/"), rest.find("?"), rest.find("#")) if i >= 0), default=len(rest))
    authority, tail = rest[:authority_end], rest[authority_end:]
    if "@" in authority:
        userinfo, _, host = authority.rpartition("@")
        user = userinfo.partition(":")[0]
        authority = f"{user}:{MASK}@{host}" if ":" in userinfo else f"{MASK}@{host}"
        if not user and ":" in userinfo:
            authority = f":{MASK}@{host}"
    path, qsep, query = tail.partition("?")
    if qsep:
        query, hsep, fragment = query.partition("#")
        masked = []
        for part in query.split("&"):
            name, eq, _value = part.partition("=")
            masked.append(f"{name}={MASK}" if eq and _SECRET_PARAMETER.search(name) else part)
        tail = f"{path}?{'&'.join(masked)}{hsep}{fragment}"
    return f"{scheme}{sep}{authority}{tail}"
