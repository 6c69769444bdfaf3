"""Running the app under gunicorn (a BaseApplication: no gunicorn command line involved).

gthread workers (`server.workers` processes x `server.threads` threads), no preload: each
worker builds its own app after the fork, so no store connection or job thread crosses a
fork. gunicorn's own log lines go through our JSON handler; its access log stays off (our
request log line names the route template, never the raw path and query string).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from gunicorn.app.base import BaseApplication  # type: ignore[import-untyped]
from gunicorn.glogging import Logger as GunicornLogger  # type: ignore[import-untyped]

from plugin.config import Settings
from plugin.observability.metrics import mark_worker_dead

log = logging.getLogger("deepdr.serve")

WsgiApp = Callable[..., Any]


class JsonGunicornLogger(GunicornLogger):
    """gunicorn's logger without its own handlers: records propagate to the root logger,
    where configure_logging installed the JSON handler and the redacting filter."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for logger in (self.error_log, self.access_log):
            for handler in list(logger.handlers):
                logger.removeHandler(handler)
            logger.propagate = True


def bind_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class GunicornServer(BaseApplication):
    def __init__(
        self,
        settings: Settings,
        app_factory: Callable[[], WsgiApp],
        on_ready: Callable[[list[str]], None],
        on_worker_exit: Callable[[Any], None] | None = None,
    ) -> None:
        self._settings = settings
        self._app_factory = app_factory
        self._on_ready = on_ready
        self._on_worker_exit = on_worker_exit
        super().__init__()

    def load_config(self) -> None:
        server = self._settings.server
        on_ready = self._on_ready
        on_worker_exit = self._on_worker_exit

        def when_ready(arbiter: Any) -> None:
            on_ready([str(listener) for listener in arbiter.LISTENERS])

        def child_exit(arbiter: Any, worker: Any) -> None:
            mark_worker_dead(worker.pid)

        def worker_exit(arbiter: Any, worker: Any) -> None:
            if on_worker_exit is not None:
                on_worker_exit(worker.wsgi)

        options: dict[str, Any] = {
            "bind": [bind_address(server.host, server.port)],
            "workers": server.workers,
            "threads": server.threads,
            "worker_class": "gthread",
            "timeout": server.timeout_s,
            "graceful_timeout": server.graceful_timeout_s,
            "preload_app": False,
            "accesslog": None,
            "errorlog": "-",
            "loglevel": self._settings.logging.level.lower(),
            "logger_class": JsonGunicornLogger,
            "proc_name": "deepdr-fhir",
            # No runtime-control socket in $HOME: one per host would clash between instances.
            "control_socket_disable": True,
            "when_ready": when_ready,
            "child_exit": child_exit,
            "worker_exit": worker_exit,
        }
        for key, value in options.items():
            self.cfg.set(key, value)

    def load(self) -> WsgiApp:
        return self._app_factory()
