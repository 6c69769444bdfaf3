"""`deepdr-fhir store purge|migrate [--config FILE] [--json]`: look after the store.

- `purge [--dry-run]`: deletes what `store.retention` no longer keeps and prints, per kind,
  how many rows went (or, with --dry-run, would go). Never prints row contents. It does not
  migrate: a store whose schema is not this release's is refused (run `migrate` first).
- `migrate`: applies pending schema migrations and prints the schema version; run it when
  upgrading, before new web workers start.

Exit 0 when done, 1 when some kind could not be purged (the others still were), 2 on bad
configuration or a store that cannot be opened.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from plugin.cli.common import EXIT_OK, CliError, print_json
from plugin.cli.config_cmd import add_config_argument, load_or_fail
from plugin.config import Settings
from plugin.store.database import StoreOptions, sqlite_path
from plugin.store.dialect import Dialect
from plugin.store.errors import MigrationError, StoreError, StoreUnavailable
from plugin.store.migrate import load_migrations, migrate, schema_version
from plugin.store.retention import RetentionReport, purge_store
from plugin.store.store import Store, open_store

EXIT_PARTIAL = 1


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "store",
        help="purge old rows from the store, or migrate its schema",
        description="Look after the persistent store (store.url).",
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    purge = actions.add_parser(
        "purge",
        help="delete what store.retention no longer keeps; print counts per kind",
        description="Delete rows older than store.retention keeps (expired SMART sessions and "
        "JWT ids always) and print how many per kind. Prints counts only, never rows.",
    )
    add_config_argument(purge)
    purge.add_argument("--dry-run", action="store_true", help="count only, delete nothing")
    purge.add_argument("--json", action="store_true", help="print JSON")
    purge.set_defaults(func=run_purge)
    mig = actions.add_parser(
        "migrate",
        help="apply pending schema migrations and print the schema version",
        description="Bring the store's schema up to this release's version (run before "
        "starting the new release's web workers).",
    )
    add_config_argument(mig)
    mig.add_argument("--json", action="store_true", help="print JSON")
    mig.set_defaults(func=run_migrate)


@contextmanager
def _opened(settings: Settings, *, must_exist: bool) -> Iterator[Store]:
    url = settings.store.url
    try:
        if must_exist and url.startswith("sqlite:") and not sqlite_path(url).is_file():
            raise CliError(f"store.url: no SQLite store at {sqlite_path(url)}")
        store = open_store(
            url, StoreOptions(pool_size=settings.store.pool_size), migrate_schema=False
        )
    except StoreError as exc:  # messages name no password, no SQL parameters
        raise CliError(f"store.url: the store cannot be opened ({exc})") from None
    try:
        yield store
    finally:
        store.close()


def _latest_version(dialect: Dialect) -> int:
    return len(load_migrations(dialect))


def run_purge(args: argparse.Namespace) -> int:
    settings = load_or_fail(args.config, check_files=False).settings
    with _opened(settings, must_exist=True) as store:
        try:
            version = schema_version(store.db)
        except StoreUnavailable as exc:
            raise CliError(f"store.url: the store cannot be opened ({exc})") from None
        except StoreError:
            version = 0  # no schema_version table: never migrated
        latest = _latest_version(store.db.dialect)
        if version != latest:
            newer = version > latest
            raise CliError(
                f"the store's schema is version {version}, this release's is {latest}: "
                + ("upgrade the application" if newer else "run `deepdr-fhir store migrate`")
            )
        report = purge_store(store, settings.store.retention, dry_run=args.dry_run)
    if args.json:
        print_json(report_json(report))
    else:
        print_report(report)
    return EXIT_PARTIAL if report.failed else EXIT_OK


def report_json(report: RetentionReport) -> dict[str, Any]:
    kinds: dict[str, Any] = {}
    for k in report.kinds:
        older_than = report.at - timedelta(days=k.keep_days) if k.keep_days else None
        kinds[k.kind] = {
            "keep": "forever" if k.kept_forever else ("expired" if not k.by_age else "days"),
            "keep_days": k.keep_days,
            "older_than": older_than.isoformat() if older_than else None,
            "rows": k.rows,
            "error": k.error,
        }
    return {
        "dry_run": report.dry_run,
        "at": report.at.isoformat(),
        "kinds": kinds,
        "total_rows": report.total_rows,
    }


def print_report(report: RetentionReport) -> None:
    verb = "would be deleted" if report.dry_run else "deleted"
    print("store purge" + (" (dry run: nothing deleted)" if report.dry_run else ""))
    width = max(len(k.kind) for k in report.kinds)
    for k in report.kinds:
        if k.kept_forever:
            policy, result = "kept forever", "-"
        else:
            policy = f"keep {k.keep_days} days" if k.by_age else "expired ones"
            result = f"failed: {k.error}" if k.error else f"{k.rows} rows {verb}"
        print(f"  {k.kind:<{width}}  {policy:<16} {result}")
    print(f"total: {report.total_rows} rows {verb}")


def run_migrate(args: argparse.Namespace) -> int:
    settings = load_or_fail(args.config, check_files=False).settings
    with _opened(settings, must_exist=False) as store:
        try:
            applied = migrate(store.db, clock=store.clock)
            version = schema_version(store.db)
        except MigrationError as exc:
            if not isinstance(exc.__cause__, StoreUnavailable):
                raise CliError(str(exc)) from None
            raise CliError(f"store.url: the store cannot be opened ({exc.__cause__})") from None
        except StoreError as exc:
            raise CliError(f"store.url: the store cannot be opened ({exc})") from None
    if args.json:
        print_json({"schema_version": version, "applied": applied})
    elif applied:
        print(f"store schema version {version} (applied {', '.join(map(str, applied))})")
    else:
        print(f"store schema version {version} (up to date)")
    return EXIT_OK
