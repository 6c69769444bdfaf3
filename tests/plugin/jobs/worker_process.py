"""A job worker process for the restart-mid-job test (run as a script, not collected).

Registers one handler, `fhir-conditional-create`: it creates a Basic resource on the FHIR
server with a conditional create keyed by the job's business identifier (If-None-Exist),
the idempotent write that makes the queue's at-least-once runs add up to exactly one
effect. With --block-after-effect MARKER it writes MARKER once the resource exists and
then hangs, so the test can kill the process at that exact point.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from plugin.jobs import HandlerRegistry, JobError, Progress, WorkerOptions
from plugin.jobs.runner import run_worker_process

IDENTIFIER_SYSTEM = "urn:deepdr-fhir:test:job"


def make_handler(fhir_base_url: str, block_marker: Path | None) -> Any:
    def create_resource(payload: dict[str, Any], progress: Progress) -> dict[str, Any]:
        progress(10, "writing to the FHIR server")
        value = str(payload["business_id"])
        resource = {
            "resourceType": "Basic",
            "identifier": [{"system": IDENTIFIER_SYSTEM, "value": value}],
            "code": {"text": "restart-mid-job test"},
        }
        try:
            response = httpx.post(
                f"{fhir_base_url}/Basic",
                json=resource,
                headers={
                    "Content-Type": "application/fhir+json",
                    "If-None-Exist": f"identifier={IDENTIFIER_SYSTEM}|{value}",
                },
                timeout=30,
            )
        except httpx.HTTPError as exc:
            raise JobError("FHIR server unreachable") from exc
        if response.status_code not in (200, 201):
            raise JobError(f"FHIR server answered {response.status_code}")
        created = {"id": response.json()["id"], "http_status": response.status_code}
        progress(60, "resource written")
        if block_marker is not None:
            block_marker.write_text(json.dumps(created), encoding="utf-8")
            threading.Event().wait()  # hang here until killed
        return created

    return create_resource


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--store", required=True)
    parser.add_argument("--fhir", required=True)
    parser.add_argument("--lease-s", type=float, default=2.0)
    parser.add_argument("--block-after-effect", type=Path)
    parser.add_argument("--worker-id", required=True)
    args = parser.parse_args()
    registry = HandlerRegistry()
    registry.register("fhir-conditional-create", make_handler(args.fhir, args.block_after_effect))
    options = WorkerOptions(threads=1, lease=timedelta(seconds=args.lease_s), poll_interval_s=0.2)
    return run_worker_process(args.store, registry, options, worker_id=args.worker_id)


if __name__ == "__main__":
    sys.exit(main())
