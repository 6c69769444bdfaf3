"""Typed store errors. Messages are safe to show: they never carry SQL parameters (which
may hold patient references) or connection secrets."""

from __future__ import annotations


class StoreError(Exception):
    """Base class of everything the store raises."""


class StoreConfigError(StoreError):
    """The store URL or options are unusable (bad scheme, in-memory SQLite, ...)."""


class StoreUnavailable(StoreError):
    """The database cannot be reached, is locked past the busy timeout, or the connection
    pool is exhausted. Retrying later may succeed."""


class MigrationError(StoreError):
    """The schema cannot be brought to this code's version (newer database, edited
    migration, failed statement)."""


class IdempotencyConflict(StoreError):
    """The same idempotency key was used before with a different request."""
