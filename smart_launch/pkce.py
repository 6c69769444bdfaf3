"""PKCE (RFC 7636) with S256 only: SMART servers SHALL NOT support `plain`, and this client
never sends it."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from dataclasses import dataclass, field

from smart_launch.errors import PkceError

CODE_CHALLENGE_METHOD = "S256"
# RFC 7636 section 4.1: 43..128 characters of [A-Z a-z 0-9 - . _ ~].
_VERIFIER_RE = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")


def s256_challenge(verifier: str) -> str:
    """BASE64URL-ENCODE(SHA256(ASCII(code_verifier))) without padding."""
    check_verifier(verifier)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def check_verifier(verifier: str | None) -> str:
    if not verifier:
        raise PkceError("PKCE code_verifier is missing")
    if not _VERIFIER_RE.match(verifier):
        raise PkceError("PKCE code_verifier is malformed")
    return verifier


@dataclass(frozen=True)
class PkcePair:
    verifier: str = field(repr=False)
    challenge: str
    method: str = CODE_CHALLENGE_METHOD

    @classmethod
    def generate(cls) -> PkcePair:
        # 64 random bytes -> 86 base64url characters: well above the 256-bit recommendation.
        verifier = secrets.token_urlsafe(64)
        return cls(verifier=verifier, challenge=s256_challenge(verifier))
