"""Flask application factory: nothing is created at import time; services live on
`app.extensions["deepdr"]`; tests build a fresh app each."""

from __future__ import annotations

from typing import Any

from flask import Flask

from plugin.config import Settings


def create_app(config: Settings | dict[str, Any] | None = None) -> Flask:
    settings = config if isinstance(config, Settings) else Settings.model_validate(config or {})
    app = Flask(__name__)
    app.extensions["deepdr"] = {"settings": settings}

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
