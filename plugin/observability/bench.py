"""Prints the cost of the web edge and of observability on this machine:

    python -m plugin.observability.bench [--requests N]

- per-request time of GET /healthz through the full edge (request id, metrics, log line,
  security headers), in-process (Flask test client, no network);
- GET /readyz (store write probe + bundle check) and GET /metrics rendering;
- a bare Flask app's /healthz for comparison (the edge's own overhead is the difference).
Figures only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import io
import tempfile
import time
from collections.abc import Callable

from flask import Flask

from plugin.app import create_app, services_of
from plugin.config import LoggingSettings
from plugin.observability.logging import configure_logging, remove_logging_handler


def per_call_ms(call: Callable[[], object], n: int) -> float:
    call()  # warm up
    start = time.perf_counter()
    for _ in range(n):
        call()
    return (time.perf_counter() - start) * 1000 / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    n = parser.parse_args().requests
    handler = configure_logging(LoggingSettings(level="INFO"), io.StringIO())
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app({"store": {"url": f"sqlite:///{tmp}/bench.sqlite3"}})
        client = app.test_client()
        bare = Flask("bare")
        bare.add_url_rule("/healthz", "healthz", lambda: {"status": "ok"})
        bare_client = bare.test_client()
        try:
            figures = {
                "bare Flask /healthz": per_call_ms(lambda: bare_client.get("/healthz"), n),
                "/healthz through the edge": per_call_ms(lambda: client.get("/healthz"), n),
                "/readyz (store write + bundle)": per_call_ms(
                    lambda: client.get("/readyz"), n // 10
                ),
                "/metrics render": per_call_ms(lambda: client.get("/metrics"), n // 10),
            }
        finally:
            services_of(app).close()
            remove_logging_handler(handler)
    for name, ms in figures.items():
        print(f"{name:<34} {ms:8.3f} ms/request  {1000 / ms:10.0f} requests/s")


if __name__ == "__main__":
    main()
