"""DeepDR-FHIR application layer: Flask app factory, config, screening workflow, CLI."""

from plugin.app import create_app

__all__ = ["create_app"]
