"""Asymmetric signing keys for `private_key_jwt` (SMART client-confidential-asymmetric):
RS384 or ES384, each with a `kid`, and the public JWK Set the app serves at its JWKS URL."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeyParameters, RSAKey

from smart_launch.errors import ClientAuthError

SigningAlg = Literal["RS384", "ES384"]
SIGNING_ALGS: tuple[SigningAlg, ...] = ("RS384", "ES384")
RSA_BITS = 2048


class SigningKey:
    """A private key with its algorithm and kid. `repr` never shows key material."""

    def __init__(self, key: RSAKey | ECKey, alg: SigningAlg) -> None:
        if alg not in SIGNING_ALGS:
            raise ClientAuthError(f"signing algorithm must be one of {SIGNING_ALGS}")
        if alg == "RS384" and not isinstance(key, RSAKey):
            raise ClientAuthError("RS384 needs an RSA key")
        if alg == "ES384" and not (isinstance(key, ECKey) and key.curve_name == "P-384"):
            raise ClientAuthError("ES384 needs an EC key on curve P-384")
        if not key.is_private:
            raise ClientAuthError("a signing key must contain the private part")
        kid = key.kid or key.thumbprint()
        # Re-import with kid/alg/use set so the public JWK carries them too.
        params: KeyParameters = {"kid": kid, "alg": alg, "use": "sig"}
        self._key: RSAKey | ECKey = type(key).import_key(key.as_dict(private=True), params)
        self.alg: SigningAlg = alg
        self.kid: str = kid

    def __repr__(self) -> str:
        return f"SigningKey(alg={self.alg!r}, kid={self.kid!r})"

    @classmethod
    def generate(cls, alg: SigningAlg = "RS384") -> SigningKey:
        if alg == "RS384":
            return cls(RSAKey.generate_key(RSA_BITS), alg)
        if alg == "ES384":
            return cls(ECKey.generate_key("P-384"), alg)
        raise ClientAuthError(f"signing algorithm must be one of {SIGNING_ALGS}")

    @classmethod
    def from_pem(cls, pem: bytes | str, alg: SigningAlg, kid: str | None = None) -> SigningKey:
        key_cls: type[RSAKey] | type[ECKey] = RSAKey if alg == "RS384" else ECKey
        try:
            key = key_cls.import_key(pem, {"kid": kid} if kid else None)
        except (JoseError, ValueError, TypeError) as exc:
            raise ClientAuthError(f"cannot load the {alg} private key (PEM)") from exc
        return cls(key, alg)

    @classmethod
    def from_jwk(cls, jwk: dict[str, Any], alg: SigningAlg | None = None) -> SigningKey:
        chosen = alg or jwk.get("alg")
        if chosen not in SIGNING_ALGS:
            raise ClientAuthError(f"JWK alg must be one of {SIGNING_ALGS}")
        key_cls: type[RSAKey] | type[ECKey] = RSAKey if chosen == "RS384" else ECKey
        try:
            key = key_cls.import_key(jwk)
        except (JoseError, ValueError, TypeError) as exc:
            raise ClientAuthError(f"cannot load the {chosen} private key (JWK)") from exc
        return cls(key, chosen)

    @property
    def private_key(self) -> RSAKey | ECKey:
        return self._key

    def private_jwk(self) -> dict[str, Any]:
        """For persisting a generated key (store it as a secret)."""
        return dict(self._key.as_dict(private=True))

    def public_jwk(self) -> dict[str, Any]:
        """Bare public JWK: kty, kid, alg, use and n/e (RSA) or crv/x/y (EC)."""
        return dict(self._key.as_dict(private=False))


def jwks_document(keys: Iterable[SigningKey]) -> dict[str, list[dict[str, Any]]]:
    """The public JWK Set to serve at the app's registered JWKS URL. Include the current and
    the next key during a rotation; kids must be unique."""
    public = [key.public_jwk() for key in keys]
    kids = [jwk["kid"] for jwk in public]
    if len(set(kids)) != len(kids):
        raise ClientAuthError("kid values must be unique within the JWK Set")
    return {"keys": public}
