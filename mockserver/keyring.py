"""RS256 keys that rotate: the active key signs, retired ones still verify until their tokens expire.

Why: a resource server under test fetches the vendor's JWKS (RFC 7517) and picks the key by the
token's `kid`; real servers keep a retired key published until every token it signed has expired, so
rotation never breaks a token in flight. The ring lives in the store (document `signing_keys.<vendor>`),
so every worker and host signs with the same key and sees a rotation made through any of them; the
first key is the vendor's `private_key_pem` setting (configured, or made once by the store).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from tokenmock.mockserver.controls.clock import Clock
from tokenmock.mockserver.stores import Store, new_rsa_private_pem
from tokenmock.mockserver.tokens import Issued, JwtSigner


def public_jwk(signer: JwtSigner) -> dict[str, Any]:
    """The RFC 7517 public JWK of an RS256 signer: kty, use, alg, kid, n, e (never a private member)."""
    public = serialization.load_pem_public_key(signer.public_material())
    assert isinstance(public, rsa.RSAPublicKey)
    jwk = RSAAlgorithm.to_jwk(public, as_dict=True)
    return {"kty": "RSA", "use": "sig", "alg": "RS256", "kid": signer.kid, "n": jwk["n"], "e": jwk["e"]}


class KeyRing:
    """A vendor's RS256 signing keys: `issue` and `verify` as a `JwtSigner`, plus `jwks()` and `rotate()`."""

    def __init__(
        self,
        *,
        vendor: str,
        clock: Clock,
        store: Store,
        private_key_pem: str | bytes | None,
        headers: Mapping[str, Any] | None = None,
    ) -> None:
        self.clock = clock
        self.store = store
        self.doc = f"signing_keys.{vendor}"
        self._headers = dict(headers or {})
        self._signers: dict[str, JwtSigner] = {}  # by PEM: a key is loaded once per process
        first = self._signer(private_key_pem) if private_key_pem is not None else None
        self._first = first or JwtSigner(clock=clock, algorithm="RS256", headers=self._headers)
        self._seen: Any = None
        self.active = self._first
        self._retired: list[tuple[JwtSigner, float]] = []
        self._refresh()

    def _signer(self, pem: str | bytes) -> JwtSigner:
        text = pem.decode("ascii") if isinstance(pem, bytes) else pem
        signer = self._signers.get(text)
        if signer is None:
            signer = self._signers[text] = JwtSigner(
                clock=self.clock, algorithm="RS256", private_key_pem=text, headers=self._headers
            )
        return signer

    def _refresh(self) -> None:
        """Follow the store's document (a rotation made by another worker or host)."""
        doc = self.store.read(self.doc)
        if doc is self._seen or doc == self._seen:  # the same document (the usual case), or an equal re-read
            return
        self._seen = doc
        if not doc:
            self.active, self._retired = self._first, []
            return
        self.active = self._signer(doc["active"])
        self._retired = [(self._signer(item["pem"]), float(item["until"])) for item in doc.get("retired", ())]

    def live(self) -> list[JwtSigner]:
        """The active key, then every retired key whose tokens may still be valid by the mock clock."""
        self._refresh()
        now = self.clock.now()
        return [self.active, *(signer for signer, until in self._retired if until > now)]

    # What a JwtSigner offers.

    @property
    def kid(self) -> str:
        """The active key's id (the `kid` of new tokens)."""
        self._refresh()
        return self.active.kid

    @property
    def _signing_key(self) -> Any:  # tests forge tokens with the genuine key
        self._refresh()
        return self.active._signing_key

    def public_material(self) -> bytes:
        """The active public key in PEM."""
        self._refresh()
        return self.active.public_material()

    def issue(self, claims: Mapping[str, Any], lifetime: int) -> Issued:
        """Sign with the active key."""
        self._refresh()
        return self.active.issue(claims, lifetime)

    def verify(self, token: str) -> dict[str, Any]:
        """Verify with the key the token names, if it is live; otherwise the active key refuses it."""
        signers = self.live()
        if len(signers) > 1:
            try:
                kid = jwt.get_unverified_header(token).get("kid")
            except jwt.InvalidTokenError:
                kid = None
            for signer in signers[1:]:
                if kid == signer.kid:
                    return signer.verify(token)
        return signers[0].verify(token)

    # Publication and rotation.

    def jwks(self) -> dict[str, Any]:
        """The JWK Set (RFC 7517 §5) of the live keys, active first."""
        return {"keys": [public_jwk(signer) for signer in self.live()]}

    def rotate(self, retire_for: float) -> dict[str, Any]:
        """Make a new active key; the old one stays live for `retire_for` seconds (its tokens' lifetime).

        The key is made before the store's update, which may run more than once (Redis retries).
        """
        self._refresh()
        pem = new_rsa_private_pem()
        now = self.clock.now()
        current = self.active
        current_pem = _pem_of(current)

        def change(doc: Any) -> tuple[dict[str, Any], None]:
            doc = dict(doc or {})
            previous = doc.get("active") or current_pem
            retired = [item for item in doc.get("retired", ()) if float(item["until"]) > now]
            retired.insert(0, {"pem": previous, "until": now + retire_for})
            return {"active": pem, "retired": retired}, None

        self.store.update(self.doc, change)
        self._seen = None
        self._refresh()
        return {"kid": self.active.kid, "retired": [{"kid": s.kid, "until": u} for s, u in self._retired if u > now]}


def _pem_of(signer: JwtSigner) -> str:
    key = signer._signing_key
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")
