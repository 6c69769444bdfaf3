"""`deepdr-fhir serve [--config FILE]`: run the web app under gunicorn (workers, threads,
bind address and timeouts from the configuration) until SIGTERM or Ctrl-C.

Before any worker starts: the configuration is validated (exit 2 and one line per problem),
the store is opened and migrated once (a clear error here beats N workers crash-looping),
and, with metrics on and several workers, PROMETHEUS_MULTIPROC_DIR is set so that a scrape
of any worker reports all of them.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from plugin.cli.common import CliError
from plugin.cli.config_cmd import add_config_argument, load_or_fail
from plugin.config import Settings
from plugin.observability.logging import configure_logging
from plugin.observability.metrics import MULTIPROC_ENV

EXIT_ENVIRONMENT = 1


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "serve",
        help="run the web app (CDS Hooks service, SMART app, health and metrics)",
        description="Run the app under gunicorn with the configured workers and threads.",
    )
    add_config_argument(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    loaded = load_or_fail(args.config)
    settings = loaded.settings
    configure_logging(settings.logging)
    made_dir = prepare_metrics_dir(settings)
    try:
        check_services(settings)
        return serve(settings)
    finally:
        if made_dir is not None:
            shutil.rmtree(made_dir, ignore_errors=True)


def prepare_metrics_dir(settings: Settings) -> Path | None:
    """Sets PROMETHEUS_MULTIPROC_DIR (emptied of old samples) for several workers; returns
    the folder if this call made it (to remove at exit). Must run before prometheus_client
    is imported, which picks its mode then."""
    if not settings.metrics.enabled or settings.server.workers < 2:
        return None
    if "prometheus_client" in sys.modules:
        raise RuntimeError("prometheus_client was imported before the metrics mode was set")
    configured = settings.metrics.multiprocess_dir or os.environ.get(MULTIPROC_ENV)
    made = None
    if configured:
        folder = Path(configured)
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CliError(
                f"metrics.multiprocess_dir {folder}: cannot create ({exc.strerror})"
            ) from None
        for stale in folder.glob("*.db"):
            stale.unlink(missing_ok=True)
    else:
        folder = made = Path(tempfile.mkdtemp(prefix="deepdr-metrics-"))
    os.environ[MULTIPROC_ENV] = str(folder)
    return made


def check_services(settings: Settings) -> None:
    """Opens (and migrates) the store and wires everything once, then closes it again."""
    from plugin.config_loader import ConfigError
    from plugin.services import build_services
    from plugin.store.errors import StoreError

    try:
        build_services(settings).close()
    except ConfigError as exc:
        raise CliError(f"invalid configuration: {exc}") from None
    except StoreError as exc:
        raise CliError(f"store.url: the store cannot be opened ({exc})") from None


def serve(settings: Settings) -> int:
    from plugin.app import create_app
    from plugin.web.context import services_of
    from plugin.web.gunicorn_app import GunicornServer

    def on_ready(urls: list[str]) -> None:
        print(f"deepdr-fhir serving on {', '.join(urls)}", flush=True)
        if settings.server.public_base_url:
            print(f"public base URL: {settings.server.public_base_url}", flush=True)

    def on_worker_exit(app: Any) -> None:
        if app is not None:
            services_of(app).close(timeout_s=max(1, settings.server.graceful_timeout_s - 2))

    server = GunicornServer(settings, lambda: create_app(settings), on_ready, on_worker_exit)
    try:
        server.run()
    except SystemExit as exc:  # the arbiter exits the process when it stops
        return exc.code if isinstance(exc.code, int) else EXIT_ENVIRONMENT
    return 0
