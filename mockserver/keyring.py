"""RS256 keys that rotate as identity providers rotate them: published before they sign, kept after.

Why: a resource server under test fetches the vendor's JWKS (RFC 7517), caches it (PyJWT's `PyJWKClient`
for 300 s, refreshing on an unknown `kid` at most every 30 s) and picks the key by the token's `kid`.
Real servers publish the next keys before they sign with them and keep a retired key published until
every token it signed has expired, so a rotation breaks neither a cached key set nor a token in flight.
Here the set holds the active key, the next `UPCOMING` keys (a rotation promotes the first and publishes
a new last one, so a set cached before two back-to-back rotations still holds the signing key) and the
retired keys still live. The ring lives in the store (document `signing_keys.<vendor>`), so every worker
and host signs with the same key and sees a rotation made through any of them; the first key is the
vendor's `private_key_pem` setting (configured, or made once by the store). The upcoming keys are made
on the first publication (RSA key generation costs tens of milliseconds; an app that never publishes
its keys never pays it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from tokenmock.mockserver.controls.clock import Clock
from tokenmock.mockserver.errors import InvalidToken
from tokenmock.mockserver.stores import Store, new_rsa_private_pem
from tokenmock.mockserver.tokens import Issued, JwtSigner, check_window

# Keys published ahead of use: a key set cached before N back-to-back rotations still verifies.
UPCOMING = 2
# The longest a retired key stays published for one token that outlives the usual lifetime (ten years,
# the longest lifetime a setting may give): a test's far-future `exp` does not pin a key for ever.
MAX_OUTLIVE = 10 * 366 * 86400
# How long a client may cache a key set: PyJWKClient's default lifespan. Safe because the keys that will
# sign next are already in the set (UPCOMING).
JWKS_CACHE_CONTROL = "public, max-age=300"


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
        lifetime: int | None = None,
    ) -> None:
        self.clock = clock
        self._lifetime = lifetime  # the usual token lifetime: a token outliving it is remembered
        self.store = store
        self.doc = f"signing_keys.{vendor}"
        self._headers = dict(headers or {})
        self._signers: dict[str, JwtSigner] = {}  # by PEM: a key is loaded once per process
        first = self._signer(private_key_pem) if private_key_pem is not None else None
        self._first = first or JwtSigner(clock=clock, algorithm="RS256", headers=self._headers)
        self._seen: Any = None
        self.active = self._first
        self._upcoming: list[JwtSigner] = []
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
            self.active, self._upcoming, self._retired = self._first, [], []
            return
        self.active = self._signer(doc["active"])
        self._upcoming = [self._signer(pem) for pem in doc.get("next", ())]
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

    def issue(
        self, claims: Mapping[str, Any], lifetime: int, *, custom: Mapping[str, Any] | None = None,
        kid: str | None = None,
    ) -> Issued:
        """Sign with the active key. A token that outlives the usual lifetime (a test's `exp`, a minted
        lifetime) is remembered, so that its key stays published until it expires too."""
        self._refresh()
        signer = self.active
        issued = signer.issue(claims, lifetime, custom=custom, kid=kid)
        expires = issued.claims.get("exp")
        now = self.clock.now()
        usual = self._lifetime if self._lifetime is not None else lifetime
        if isinstance(expires, int | float) and not isinstance(expires, bool) and expires > now + usual:
            self._outlive(signer, min(float(expires), now + MAX_OUTLIVE))
        return issued

    def _outlive(self, signer: JwtSigner, until: float) -> None:
        current_pem = _pem_of(signer)

        def change(doc: Any) -> tuple[dict[str, Any], None]:
            doc = dict(doc or {})
            outlives = dict(doc.get("outlives") or {})
            outlives[signer.kid] = max(float(outlives.get(signer.kid, 0)), until)
            return {**doc, "active": doc.get("active") or current_pem, "outlives": outlives}, None

        self.store.update(self.doc, change)
        self._seen = None

    def verify(self, token: str) -> dict[str, Any]:
        """Verify with the key the token names, if it is live; otherwise the active key refuses it.

        A token naming a key that is no longer published is refused as expired when its `exp` has passed
        (the reason its key was dropped), as unknown otherwise: the claims are read unverified only to
        choose the message, never to accept anything."""
        signers = self.live()
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.InvalidTokenError:
            kid = None
        for signer in signers:
            if kid == signer.kid:
                return signer.verify(token)
        if kid is not None:
            try:
                claims = jwt.decode(token, options={"verify_signature": False})
            except jwt.InvalidTokenError:
                claims = None
            if isinstance(claims, dict):
                try:
                    check_window(claims, self.clock)
                except InvalidToken as refusal:
                    if refusal.expired:
                        raise
        return signers[0].verify(token)

    # Publication and rotation.

    def jwks(self) -> dict[str, Any]:
        """The JWK Set (RFC 7517 §5): the active key, the upcoming ones, then the retired keys still live."""
        self._refresh()
        if len(self._upcoming) < UPCOMING:
            self._prepare_upcoming()
        live = self.live()
        return {"keys": [public_jwk(signer) for signer in [live[0], *self._upcoming, *live[1:]]]}

    def _prepare_upcoming(self) -> None:
        """Publish the next keys (made outside the store's update, which may run more than once)."""
        made = [new_rsa_private_pem() for _ in range(UPCOMING - len(self._upcoming))]
        current_pem = _pem_of(self.active)

        def change(doc: Any) -> tuple[dict[str, Any], None]:
            doc = dict(doc or {})
            upcoming = list(doc.get("next", ()))
            upcoming += made[: max(0, UPCOMING - len(upcoming))]
            return {**doc, "active": doc.get("active") or current_pem, "next": upcoming}, None

        self.store.update(self.doc, change)
        self._seen = None
        self._refresh()

    def rotate(self, retire_for: float) -> dict[str, Any]:
        """Promote the first published upcoming key to sign, and publish a new upcoming one; the old key
        stays live for `retire_for` seconds (its tokens' lifetime).

        Keys are made before the store's update, which may run more than once (Redis retries).
        """
        self._refresh()
        made = [new_rsa_private_pem() for _ in range(max(1, UPCOMING + 1 - len(self._upcoming)))]
        now = self.clock.now()
        current_pem = _pem_of(self.active)

        def change(doc: Any) -> tuple[dict[str, Any], None]:
            doc = dict(doc or {})
            previous = doc.get("active") or current_pem
            queue = [*doc.get("next", ()), *made]  # a ring never published before signs with a new key
            retired = [item for item in doc.get("retired", ()) if float(item["until"]) > now]
            outlives = dict(doc.get("outlives") or {})
            last = float(outlives.pop(self._signer(previous).kid, 0))  # its longest-lived token, if longer
            retired.insert(0, {"pem": previous, "until": max(now + retire_for, last)})
            state = {"active": queue[0], "next": queue[1 : UPCOMING + 1], "retired": retired}
            return ({**state, "outlives": outlives} if outlives else state), None

        self.store.update(self.doc, change)
        self._seen = None
        self._refresh()
        return {
            "kid": self.active.kid,
            "next": [s.kid for s in self._upcoming],
            "retired": [{"kid": s.kid, "until": u} for s, u in self._retired if u > now],
        }


def _pem_of(signer: JwtSigner) -> str:
    key = signer._signing_key
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")
