"""Persistent store: SQLite (embedded default) or PostgreSQL behind one code path.

Holds what must survive restarts and be shared by stateless web workers: grading cache,
background jobs, CDS feedback, sign-off pairs, JWT replay cache, audit trail, SMART
sessions. No Flask here; the web layer gets a `Store` from the app factory.
"""

from plugin.store.database import Database, StoreOptions
from plugin.store.errors import (
    IdempotencyConflict,
    MigrationError,
    StoreConfigError,
    StoreError,
    StoreUnavailable,
)
from plugin.store.store import Store, open_store

__all__ = [
    "Database",
    "IdempotencyConflict",
    "MigrationError",
    "Store",
    "StoreConfigError",
    "StoreError",
    "StoreOptions",
    "StoreUnavailable",
    "open_store",
]
