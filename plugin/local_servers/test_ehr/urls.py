"""The test EHR's public URLs, derived from the address it was reached at (it binds to a
free loopback port, so nothing is known before it starts)."""

from __future__ import annotations

from dataclasses import dataclass

from flask import request


@dataclass(frozen=True)
class EhrUrls:
    base: str

    @classmethod
    def current(cls) -> EhrUrls:
        return cls(request.host_url.rstrip("/"))

    @property
    def fhir(self) -> str:
        """The FHIR base, i.e. the `iss` apps are launched with and the `aud` they send."""
        return f"{self.base}/fhir"

    @property
    def issuer(self) -> str:
        """OpenID Connect issuer of id_tokens."""
        return f"{self.base}/auth"

    @property
    def authorize(self) -> str:
        return f"{self.base}/auth/authorize"

    @property
    def token(self) -> str:
        return f"{self.base}/auth/token"

    @property
    def jwks(self) -> str:
        return f"{self.base}/auth/jwks"

    @property
    def introspect(self) -> str:
        return f"{self.base}/auth/introspect"

    @property
    def smart_style(self) -> str:
        return f"{self.base}/ehr/smart-style.json"
