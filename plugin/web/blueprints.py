"""The blueprint registry: each entry names a factory `f(services) -> Blueprint | None`
(None: the feature is off in this configuration). Add a line here to add a blueprint;
create_app registers them in this order."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence

from flask import Blueprint, Flask

from plugin.services import Services

BlueprintFactory = Callable[[Services], Blueprint | None]

BLUEPRINT_FACTORIES: tuple[str, ...] = (
    "plugin.observability.views:create_observability_blueprint",
    "plugin.cds.wiring:create_cds_hooks_blueprint",
    "plugin.smart_app.blueprint:create_smart_app_blueprint",
)


def load_factory(name: str) -> BlueprintFactory:
    module_name, _, attr = name.partition(":")
    factory: BlueprintFactory = getattr(importlib.import_module(module_name), attr)
    return factory


def register_blueprints(
    app: Flask, services: Services, factories: Sequence[str | BlueprintFactory]
) -> list[str]:
    """Registers each factory's blueprint; returns the names registered."""
    names = []
    for entry in factories:
        factory = load_factory(entry) if isinstance(entry, str) else entry
        blueprint = factory(services)
        if blueprint is not None:
            app.register_blueprint(blueprint)
            names.append(blueprint.name)
    return names
