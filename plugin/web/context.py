"""Reaching the app's Services from a view."""

from __future__ import annotations

from flask import Flask, current_app

from plugin.services import Services

EXTENSION_KEY = "deepdr"


def services_of(app: Flask) -> Services:
    services = app.extensions.get(EXTENSION_KEY)
    if not isinstance(services, Services):
        raise RuntimeError("this Flask app was not built by plugin.create_app")
    return services


def current_services() -> Services:
    """The Services of the app handling the current request."""
    return services_of(current_app)
