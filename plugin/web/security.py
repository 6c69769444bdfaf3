"""Security headers for an app that EHRs embed in an iframe (the SMART app) and call from
servers and browsers (CDS Hooks).

Framing is governed by CSP `frame-ancestors` (configured: the EHR origins), not by
X-Frame-Options DENY, which would stop the EHR from embedding the app. Responses default to
`Cache-Control: no-store` (they may hold patient data) and `Referrer-Policy: no-referrer`
(URLs of a SMART launch carry codes). A view or blueprint that set a header keeps its own.
"""

from __future__ import annotations

from flask import Flask, Response, request

from plugin.config import ServerSettings

CSP_KEY = "DEEPDR_CONTENT_SECURITY_POLICY"


def content_security_policy(frame_ancestors: tuple[str, ...]) -> str:
    return "; ".join(
        (
            "default-src 'self'",
            "img-src 'self' data: blob:",
            "style-src 'self'",
            "script-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "frame-ancestors " + (" ".join(frame_ancestors) or "'none'"),
        )
    )


def install_security_headers(app: Flask, server: ServerSettings) -> None:
    app.config.setdefault(CSP_KEY, content_security_policy(server.frame_ancestors))
    https_public = (server.public_base_url or "").startswith("https://")

    @app.after_request
    def headers(response: Response) -> Response:
        h = response.headers
        h.setdefault("Content-Security-Policy", app.config[CSP_KEY])
        h.setdefault("X-Content-Type-Options", "nosniff")
        h.setdefault("Referrer-Policy", "no-referrer")
        h.setdefault("Cache-Control", "no-store")
        if https_public or request.is_secure:
            h.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response
