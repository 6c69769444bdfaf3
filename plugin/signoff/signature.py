"""The `data` of the sign-off Signature: a compact JWS over a digest of what was signed.

Honest scope: the clinician has no key of their own here. Their act is authenticated by the
EHR (the SMART session whose token makes the writes, and whose id_token named them); this
JWS, made with the app's own signing key (the private_key_jwt key, when configured), binds
the Practitioner, the time and a SHA-256 of the signed resources so later tampering with
those resources can be detected. It is not a qualified electronic signature. Without a
configured key the Signature carries who/when/type only, and no `data`."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from joserfc import jwt

from smart_launch import SigningKey

JSON = dict[str, Any]


def content_digest(resources: Sequence[JSON]) -> str:
    """SHA-256 over the canonical JSON of the signed resources (in bundle order)."""
    text = json.dumps(list(resources), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class ContentSigner:
    def __init__(self, key: SigningKey, issuer: str) -> None:
        self._key = key
        self._issuer = issuer

    def __repr__(self) -> str:
        return f"ContentSigner(alg={self._key.alg!r}, kid={self._key.kid!r})"

    def sign(self, *, practitioner_ref: str, signoff_key: str, digest: str, at: datetime) -> str:
        header = {"alg": self._key.alg, "kid": self._key.kid, "typ": "JWT"}
        claims = {
            "iss": self._issuer,
            "sub": practitioner_ref,
            "iat": int(at.timestamp()),
            "signoff_key": signoff_key,
            "content_sha256": digest,
        }
        return jwt.encode(header, claims, self._key.private_key, algorithms=[self._key.alg])
