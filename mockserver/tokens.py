"""Signing and checking tokens: keys prepared once, algorithms pinned, time from the mock's clock.

Every vendor gets its own keys, so another vendor's token fails the signature check. Verification
never trusts the token's header: the algorithm and key id are fixed per signer, which is what defeats
`alg: none` and HS256-with-the-RSA-public-key (algorithm confusion).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import jwt
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from jwt.utils import base64url_decode

from tokenmock.mockserver.controls.clock import Clock
from tokenmock.mockserver.errors import InvalidToken


@dataclass(frozen=True)
class Issued:
    """A freshly issued token and the claims it carries."""

    token: str = field(repr=False)
    claims: Mapping[str, Any]


class _RandomBytes:
    """Bytes from `os.urandom`, read 4 KiB at a time: `uuid4()` reads 16 per token, and every read lets
    go of the GIL (a thread switch per token under load). Emptied in a forked child, so no two
    processes hand out the same bytes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buffer = b""
        os.register_at_fork(after_in_child=self._forget)

    def _forget(self) -> None:
        self._lock = threading.Lock()
        self._buffer = b""

    def take(self, count: int) -> bytes:
        with self._lock:
            if len(self._buffer) < count:
                self._buffer = os.urandom(4096)
            taken, self._buffer = self._buffer[:count], self._buffer[count:]
        return taken


_RANDOM = _RandomBytes()


def hmac_sha256(key: bytes) -> Callable[[bytes], bytes]:
    """HMAC-SHA256 under `key`, from a keyed template copied per message: `hmac.digest()` lets go of
    the GIL on every call (a thread switch per token under load); a copy and a short update do not."""
    template = hmac.new(key, digestmod=hashlib.sha256)

    def mac(message: bytes) -> bytes:
        keyed = template.copy()
        keyed.update(message)
        return keyed.digest()

    return mac


def new_jti() -> str:
    """A unique token id (UUID4 text, as Spring Security OAuth2's `jti`)."""
    return str(uuid.UUID(bytes=_RANDOM.take(16), version=4))


# Header members that change how PyJWT builds or reads a token; signers using them take PyJWT's path.
_SPECIAL_HEADERS = frozenset({"alg", "b64", "crit", "typ"})
_TIME_CLAIMS = ("exp", "iat", "nbf")


class JwtSigner:
    """Issues and verifies JWTs with one pinned algorithm and key.

    `secret` is used for HS256; for RS256 a PEM private key is used when given, else a 2048-bit key is
    generated once at start.

    The hot path does what `jwt.encode`/`jwt.decode` do, byte for byte, without their per-call work
    (header JSON, key preparation, option merging): the header segment is encoded once, the key object
    is prepared once. Anything unusual (a short key PyJWT warns about, a token whose header is not this
    signer's own) goes through PyJWT itself, so behaviour is PyJWT's in every case.
    """

    def __init__(
        self,
        *,
        clock: Clock,
        algorithm: str = "HS256",
        secret: str | bytes | None = None,
        private_key_pem: str | bytes | None = None,
        kid: str | None = None,
        headers: Mapping[str, Any] | None = None,
    ) -> None:
        if algorithm not in ("HS256", "RS256"):
            raise ValueError(f"unsupported algorithm {algorithm}")
        self.clock = clock
        self.algorithm = algorithm
        self.extra_headers = dict(headers or {})
        if algorithm == "HS256":
            key = secret if secret is not None else secrets.token_bytes(32)
            self._signing_key: Any = key.encode() if isinstance(key, str) else key
            self._verifying_key: Any = self._signing_key
            self._mac = hmac_sha256(self._signing_key)
        else:
            if private_key_pem is not None:
                pem = private_key_pem.encode() if isinstance(private_key_pem, str) else private_key_pem
                private = _load_private_key(pem)
            else:
                private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            assert isinstance(private, rsa.RSAPrivateKey)
            self._signing_key = private
            self._verifying_key = private.public_key()
        self.kid = kid or hashlib.sha256(self.public_material()).hexdigest()[:16]
        self._header = {**self.extra_headers, "kid": self.kid}
        self._header_segment = self._prepare_fast_path()

    def _prepare_fast_path(self) -> bytes | None:
        """The encoded header segment of this signer's tokens, or None when PyJWT must do every call.

        Checked once against PyJWT itself: if the two ever disagree (another PyJWT version), PyJWT wins.
        """
        header: dict[str, Any] = {"typ": "JWT", "alg": self.algorithm}
        header.update(self._header)
        if set(self.extra_headers) & (_SPECIAL_HEADERS - {"typ"}) or not header.get("typ"):
            return None
        algorithm = jwt.PyJWS().get_algorithm_by_name(self.algorithm)
        try:
            prepared = algorithm.prepare_key(self._signing_key)
            check = getattr(algorithm, "check_key_length", None)
            if check is not None and check(prepared):
                return None  # PyJWT warns about this key on every call; keep that
        except jwt.InvalidKeyError:
            return None  # PyJWT refuses the key on every call; keep that
        segment = _b64(json.dumps(header, separators=(",", ":"), sort_keys=True).encode()).encode("ascii")
        probe = {"iss": "tokenmock", "iat": 0, "exp": 1}
        reference = jwt.encode(probe, self._signing_key, algorithm=self.algorithm, headers=self._header)
        if self._sign_fast(segment, probe) != reference:
            return None
        return segment

    def _sign_fast(self, header_segment: bytes, claims: Mapping[str, Any]) -> str:
        payload = base64.urlsafe_b64encode(json.dumps(claims, separators=(",", ":")).encode()).rstrip(b"=")
        signing_input = header_segment + b"." + payload
        signature = base64.urlsafe_b64encode(self._sign(signing_input)).rstrip(b"=")
        return (signing_input + b"." + signature).decode("ascii")

    def _sign(self, message: bytes) -> bytes:
        if self.algorithm == "HS256":
            return self._mac(message)
        return bytes(self._signing_key.sign(message, padding.PKCS1v15(), hashes.SHA256()))

    def _signature_valid(self, message: bytes, signature: bytes) -> bool:
        if self.algorithm == "HS256":
            return hmac.compare_digest(signature, self._mac(message))
        try:
            self._verifying_key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            return False
        return True

    def public_material(self) -> bytes:
        """The public key in PEM (RS256), or a digest of the secret (HS256): safe to publish."""
        if self.algorithm == "RS256":
            return bytes(
                self._verifying_key.public_bytes(
                    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
                )
            )
        return hashlib.sha256(b"tokenmock-kid:" + self._signing_key).digest()

    def issue(
        self, claims: Mapping[str, Any], lifetime: int, *, custom: Mapping[str, Any] | None = None,
        kid: str | None = None,
    ) -> Issued:
        """Sign `claims` plus `iat` and `exp` (from the mock clock), then `custom` claims over all of them
        (a test's, which may override `iat` and `exp` too) under this key's `kid` or, on purpose, another."""
        now = int(self.clock.now())
        full = {**claims, "iat": now, "exp": now + int(lifetime), **(custom or {})}
        segment = self._header_segment
        if kid is not None and kid != self.kid:
            headers = {**self._header, "kid": kid}
            token = jwt.encode(full, self._signing_key, algorithm=self.algorithm, headers=headers)
        elif segment is None or not _plain_claims(full):
            token = jwt.encode(full, self._signing_key, algorithm=self.algorithm, headers=self._header)
        else:
            token = self._sign_fast(segment, full)
        return Issued(token, full)

    def _verified_fast(self, token: str) -> dict[str, Any] | None:
        """The claims of a token carrying this signer's own header and a good signature, decoded as
        `jwt.decode` would; None when PyJWT must decide (another header, a bad signature, odd claims)."""
        segment = self._header_segment
        if segment is None:
            return None
        try:
            data = token.encode("utf-8")
            signing_input, dot, crypto = data.rpartition(b".")
            header, _, payload = signing_input.partition(b".")
            if not dot or header != segment or not self._signature_valid(signing_input, base64url_decode(crypto)):
                return None
            claims = json.loads(base64url_decode(payload))
        except (ValueError, TypeError):
            return None
        if not isinstance(claims, dict):
            return None
        # PyJWT's own claim checks that stay on with these options: `sub` and `jti` must be strings.
        if not isinstance(claims.get("sub", ""), str) or not isinstance(claims.get("jti", ""), str):
            return None
        return claims

    def verify(self, token: str) -> dict[str, Any]:
        """Check signature, algorithm, key id and time window; return the claims or raise InvalidToken."""
        if not canonical_jws(token):
            raise InvalidToken("the access token is malformed")
        fast = self._verified_fast(token)
        if fast is not None:
            check_window(fast, self.clock)
            return fast
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise InvalidToken("the access token is malformed") from None
        if header.get("alg") != self.algorithm:
            raise InvalidToken("the access token is signed with an algorithm this server does not accept")
        if header.get("kid") != self.kid:
            raise InvalidToken("the access token names an unknown signing key")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._verifying_key,
                algorithms=[self.algorithm],
                options={"verify_exp": False, "verify_nbf": False, "verify_iat": False, "verify_aud": False},
            )
        except jwt.InvalidTokenError:
            raise InvalidToken("the access token signature is invalid") from None
        check_window(claims, self.clock)
        return claims


_COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*")
_B64URL_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
# Last characters whose unused low bits are zero, as an encoder writes them (RFC 4648 §3.5).
_NO_SPARE_4 = frozenset(_B64URL_ALPHABET[::16])
_NO_SPARE_2 = frozenset(_B64URL_ALPHABET[::4])


def canonical_jws(token: str) -> bool:
    """Whether a compact JWS is written the one way its bytes encode (RFC 7515 §2: base64url without
    padding): each segment equals the re-encoding of what it decodes to.

    Base64 decoders forgive padding and the unused low bits of the last character, so `sig=` or a
    last character with flipped spare bits decodes to the same signature: a second spelling of a
    genuine token, which a denylist keyed by the token text (revocation) would not recognise.
    """
    if not _COMPACT_JWS.fullmatch(token):
        return False
    for part in token.split("."):
        spare = len(part) % 4  # 2 or 3 characters past a whole group carry 4 or 2 unused bits
        if spare == 1 or (spare == 2 and part[-1] not in _NO_SPARE_4) or (spare == 3 and part[-1] not in _NO_SPARE_2):
            return False
    return True


def _load_private_key(pem: bytes) -> Any:
    """A PEM private key, without cryptography's RSA consistency check (~90 ms of start-up per key).

    The key is the mock's own (generated by it or configured by its operator), and a sign-and-verify
    round trip below stands in for the check: an inconsistent key still fails start-up.
    """
    try:
        key = serialization.load_pem_private_key(pem, password=None, unsafe_skip_rsa_key_validation=True)
    except TypeError:  # cryptography < 39 has no such option (and checks the key itself)
        return serialization.load_pem_private_key(pem, password=None)
    if isinstance(key, rsa.RSAPrivateKey):
        probe = b"tokenmock key check"
        signature = key.sign(probe, padding.PKCS1v15(), hashes.SHA256())
        try:
            key.public_key().verify(signature, probe, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            raise ValueError("the RSA private key is inconsistent") from None
    return key


def _plain_claims(claims: Mapping[str, Any]) -> bool:
    """Claims PyJWT encodes as plain JSON (no datetimes to convert, a string `iss` if any)."""
    if not isinstance(claims.get("iss", ""), str):
        return False
    return not any(isinstance(claims.get(name), datetime) for name in _TIME_CLAIMS)


def check_window(claims: Mapping[str, Any], clock: Clock) -> None:
    """Refuse a token outside its `nbf`..`exp` window by the mock's clock."""
    now = clock.now()
    exp, nbf = claims.get("exp"), claims.get("nbf")
    if not isinstance(exp, int | float) or isinstance(exp, bool):
        raise InvalidToken("the access token has no expiry")
    if now >= exp:
        raise InvalidToken("the access token expired", expired=True)
    if isinstance(nbf, int | float) and now < nbf:
        raise InvalidToken("the access token is not valid yet")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# What an `OpaqueSigner` token looks like (base64url of a JSON object, a dot, a 43-character HMAC), for
# masking: such a token is not a JWT, so the JWS shape does not find it in a log or the journal.
OPAQUE_TOKEN = r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])"


class OpaqueSigner:
    """Opaque tokens (not JWTs) that the mock can still check without shared state.

    The token is `base64url(claims).base64url(HMAC-SHA256)`: opaque to clients, which must not parse
    it, yet verifiable by every worker process holding the secret.
    """

    def __init__(self, *, clock: Clock, secret: str | bytes | None = None, prefix: str = "") -> None:
        key = secret if secret is not None else secrets.token_bytes(32)
        self._key = key.encode() if isinstance(key, str) else key
        self._hmac = hmac_sha256(self._key)
        self.clock = clock
        self.prefix = prefix

    def _mac(self, body: str) -> str:
        return _b64(self._hmac(body.encode("ascii")))

    def issue(self, claims: Mapping[str, Any], lifetime: int) -> Issued:
        """Seal `claims` plus `iat` and `exp`."""
        now = int(self.clock.now())
        full = {**claims, "iat": now, "exp": now + int(lifetime)}
        body = _b64(json.dumps(full, separators=(",", ":")).encode())
        return Issued(f"{self.prefix}{body}.{self._mac(body)}", full)

    def verify(self, token: str) -> dict[str, Any]:
        """Check the seal and the time window; return the claims or raise InvalidToken."""
        if not token.isascii() or not token.startswith(self.prefix):
            raise InvalidToken("the access token is malformed")
        body, dot, mac = token[len(self.prefix) :].partition(".")
        if not dot or not body or not hmac.compare_digest(self._mac(body), mac):
            raise InvalidToken("the access token is invalid")
        try:
            claims = json.loads(_unb64(body))
        except ValueError:
            raise InvalidToken("the access token is malformed") from None
        if not isinstance(claims, dict):
            raise InvalidToken("the access token is malformed")
        check_window(claims, self.clock)
        return claims
