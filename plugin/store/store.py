"""The store as the application uses it: one Database, migrated, with its repositories.

    store = open_store("sqlite:///var/deepdr.sqlite3")      # or postgresql://...
    store.jobs.enqueue(...); store.grading_cache.get(...); store.close()

Web workers, job workers and CLI commands each open their own (the Database pools
connections per process); PostgreSQL lets N stateless web workers on several machines
share one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import TracebackType

from plugin.store.audit import AuditTrail
from plugin.store.clock import Clock, utc_now
from plugin.store.database import Database, StoreOptions
from plugin.store.feedback import FeedbackStore
from plugin.store.grading_cache import GradingCache
from plugin.store.jobs import JobRepository
from plugin.store.migrate import migrate
from plugin.store.replay_cache import ReplayCache
from plugin.store.sessions import SessionStore
from plugin.store.signoff_pairs import SignoffPairStore


@dataclass(frozen=True)
class Store:
    db: Database
    clock: Clock = utc_now
    grading_cache: GradingCache = field(init=False)
    jobs: JobRepository = field(init=False)
    feedback: FeedbackStore = field(init=False)
    signoff_pairs: SignoffPairStore = field(init=False)
    replay_cache: ReplayCache = field(init=False)
    audit: AuditTrail = field(init=False)
    sessions: SessionStore = field(init=False)

    def __post_init__(self) -> None:
        for name, repo in (
            ("grading_cache", GradingCache),
            ("jobs", JobRepository),
            ("feedback", FeedbackStore),
            ("signoff_pairs", SignoffPairStore),
            ("replay_cache", ReplayCache),
            ("audit", AuditTrail),
            ("sessions", SessionStore),
        ):
            object.__setattr__(self, name, repo(self.db, self.clock))

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def open_store(
    url: str,
    options: StoreOptions | None = None,
    clock: Clock = utc_now,
    *,
    migrate_schema: bool = True,
) -> Store:
    """Opens the store at `url` and (by default) brings its schema up to date."""
    db = Database(url, options)
    try:
        if migrate_schema:
            migrate(db, clock=clock)
    except BaseException:
        db.close()
        raise
    return Store(db, clock)
