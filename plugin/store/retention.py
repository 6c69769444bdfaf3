"""Retention: delete what the policy says the store no longer keeps, kind by kind.

    report = purge_store(store, settings.store.retention)              # or dry_run=True
    {k.kind: k.rows for k in report.kinds}                             # counts, never rows

The policy (`store.retention` in the configuration) gives days to keep per kind, None to
keep forever; expired SMART sessions and JWT ids always go (they are refused anyway). A
kind that fails is reported with a message safe to show and the others still run; running
the purge again (or in several processes at once) is harmless: deletes are idempotent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from plugin.store.errors import StoreError
from plugin.store.image_sources import ImageSourceIndex
from plugin.store.screenings import ScreeningRepository
from plugin.store.store import Store


class RetentionPolicy(Protocol):
    """Days to keep per kind (None: forever); plugin.config.RetentionSettings is one."""

    @property
    def grading_cache_days(self) -> int | None: ...

    @property
    def cds_image_index_days(self) -> int | None: ...

    @property
    def screenings_days(self) -> int | None: ...

    @property
    def finished_jobs_days(self) -> int | None: ...

    @property
    def audit_log_days(self) -> int | None: ...

    @property
    def cds_feedback_days(self) -> int | None: ...

    @property
    def signoff_pairs_days(self) -> int | None: ...


# (store, cutoff, dry_run) -> rows deleted or counted. Kinds purged by expiry ignore the
# cutoff: they compare expiry times with the store's clock.
_Purge = Callable[[Store, datetime, bool], int]


@dataclass(frozen=True)
class RetentionKind:
    name: str  # the report's key; kinds kept by age read the setting `<name>_days`
    by_age: bool  # False: only expired rows go, whatever the policy
    purge: _Purge


KINDS: tuple[RetentionKind, ...] = (
    RetentionKind(
        "grading_cache", True, lambda s, c, d: s.grading_cache.purge_older_than(c, dry_run=d)
    ),
    RetentionKind(
        "cds_image_index",
        True,
        lambda s, c, d: ImageSourceIndex(s.db, s.clock).purge_older_than(c, dry_run=d),
    ),
    RetentionKind(
        "screenings",
        True,
        lambda s, c, d: ScreeningRepository(s.db, s.clock).purge_older_than(c, dry_run=d),
    ),
    RetentionKind("finished_jobs", True, lambda s, c, d: s.jobs.purge_finished(c, dry_run=d)),
    RetentionKind("smart_sessions", False, lambda s, _c, d: s.sessions.purge_expired(dry_run=d)),
    RetentionKind("jwt_replay", False, lambda s, _c, d: s.replay_cache.purge_expired(dry_run=d)),
    RetentionKind("audit_log", True, lambda s, c, d: s.audit.purge_older_than(c, dry_run=d)),
    RetentionKind("cds_feedback", True, lambda s, c, d: s.feedback.purge_older_than(c, dry_run=d)),
    RetentionKind(
        "signoff_pairs", True, lambda s, c, d: s.signoff_pairs.purge_older_than(c, dry_run=d)
    ),
)


@dataclass(frozen=True)
class KindOutcome:
    kind: str
    by_age: bool
    keep_days: int | None  # None for a kind by age: kept forever (nothing was touched)
    rows: int  # deleted, or for a dry run, that would be
    error: str | None = None  # a safe message when this kind failed

    @property
    def kept_forever(self) -> bool:
        return self.by_age and self.keep_days is None


@dataclass(frozen=True)
class RetentionReport:
    dry_run: bool
    at: datetime
    kinds: tuple[KindOutcome, ...]

    @property
    def total_rows(self) -> int:
        return sum(k.rows for k in self.kinds)

    @property
    def failed(self) -> tuple[KindOutcome, ...]:
        return tuple(k for k in self.kinds if k.error is not None)


def keep_days(policy: RetentionPolicy, kind: RetentionKind) -> int | None:
    """The policy's days for a kind kept by age (None: forever); None for expiry kinds."""
    if not kind.by_age:
        return None
    days: int | None = getattr(policy, f"{kind.name}_days")
    return days


def purge_store(store: Store, policy: RetentionPolicy, *, dry_run: bool = False) -> RetentionReport:
    """Runs every kind's purge (or dry-run count) against the store's clock."""
    now = store.clock()
    outcomes = []
    for kind in KINDS:
        days = keep_days(policy, kind)
        if kind.by_age and days is None:
            outcomes.append(KindOutcome(kind.name, True, None, 0))
            continue
        cutoff = now - timedelta(days=days) if days is not None else now
        try:
            rows = kind.purge(store, cutoff, dry_run)
        except StoreError as exc:  # messages carry no SQL parameters: safe to report
            outcomes.append(KindOutcome(kind.name, kind.by_age, days, 0, str(exc)))
            continue
        outcomes.append(KindOutcome(kind.name, kind.by_age, days, rows))
    return RetentionReport(dry_run=dry_run, at=now, kinds=tuple(outcomes))
