"""A worker as its own process: the body of a `deepdr-fhir worker` command.

Opens the store (migrating it), runs a Worker until SIGTERM/SIGINT, then stops gracefully:
running jobs finish, nothing new is taken. A process killed outright (SIGKILL, power loss)
loses nothing either: its jobs' leases expire and other workers take them up.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType

from plugin.jobs.registry import HandlerRegistry
from plugin.jobs.worker import Worker, WorkerOptions
from plugin.store.store import open_store


def run_worker_process(
    store_url: str,
    handlers: HandlerRegistry,
    options: WorkerOptions | None = None,
    worker_id: str | None = None,
    stop: threading.Event | None = None,
) -> int:
    """Blocks until `stop` is set or a termination signal arrives; returns an exit code.
    Signal handlers are installed only when called from the main thread."""
    stop = stop or threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
    with open_store(store_url) as store:
        worker = Worker(store.jobs, handlers, options, worker_id)
        worker.start()
        try:
            stop.wait()
        finally:
            worker.stop()
    return 0
