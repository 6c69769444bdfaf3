"""`deepdr-fhir worker [--config FILE] [--threads N]`: run background job workers in this
process until SIGTERM or Ctrl-C (running jobs finish; nothing new is taken). Any number of
worker processes, on any machines, may share one store. Set jobs.in_process_workers =
false for the web processes when these do the work.

Each worker also purges the store on `store.retention.purge_interval_h` (soon after start,
then on that interval; "off": never, leave it to `deepdr-fhir store purge`). Several workers
purging is harmless: the deletes are idempotent."""

from __future__ import annotations

import argparse
import logging
import threading
from datetime import timedelta

from plugin.cli.common import CliError
from plugin.cli.config_cmd import add_config_argument, load_or_fail
from plugin.config import RetentionSettings
from plugin.observability.logging import configure_logging
from plugin.store.retention import purge_store
from plugin.store.retention_schedule import PeriodicPurge
from plugin.store.store import Store

log = logging.getLogger("deepdr.worker")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "worker",
        help="run background job workers until stopped",
        description="Run background job workers (grading, write-back, audit events) that "
        "share the configured store with the web processes.",
    )
    add_config_argument(p)
    p.add_argument("--threads", type=int, metavar="N", help="worker threads (default: config)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, stop: threading.Event | None = None) -> int:
    from dataclasses import replace

    from plugin.config_loader import ConfigError
    from plugin.jobs.runner import run_worker_process
    from plugin.services import build_services, worker_options
    from plugin.store.errors import StoreError

    loaded = load_or_fail(args.config)
    settings = loaded.settings
    if args.threads is not None and not 1 <= args.threads <= 64:
        raise CliError("--threads must be between 1 and 64")
    configure_logging(settings.logging)
    try:
        services = build_services(settings)
    except ConfigError as exc:
        raise CliError(f"invalid configuration: {exc}") from None
    except StoreError as exc:
        raise CliError(f"store.url: the store cannot be opened ({exc})") from None
    options = worker_options(settings)
    if args.threads is not None:
        options = replace(options, threads=args.threads)
    kinds = services.handlers.kinds
    if not kinds:
        log.warning("no job kinds are registered in this configuration; waiting anyway")
    stop = stop or threading.Event()  # set by run_worker_process on SIGTERM/SIGINT
    purge = retention_schedule(settings.store.retention, services.store, stop)
    interval = settings.store.retention.purge_interval_h
    print(
        f"deepdr-fhir worker running ({options.threads} threads; kinds: "
        f"{', '.join(kinds) or 'none'}; store purge: "
        f"{f'every {interval} h' if interval else 'off'})",
        flush=True,
    )
    try:
        return run_worker_process(settings.store.url, services.handlers, options, stop=stop)
    finally:
        stop.set()
        if purge is not None:
            purge.join(PURGE_STOP_WAIT_S)  # a purge mid-batch finishes it; then the store closes
        services.close()


PURGE_STOP_WAIT_S = 10.0


def retention_schedule(
    retention: RetentionSettings, store: Store, stop: threading.Event
) -> PeriodicPurge | None:
    """Starts the periodic purge thread, unless store.retention.purge_interval_h is off."""
    if retention.purge_interval_h is None:
        return None
    schedule = PeriodicPurge(
        lambda: purge_store(store, retention), timedelta(hours=retention.purge_interval_h), stop
    )
    schedule.start()
    return schedule
