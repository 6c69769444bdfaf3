"""`python -m plugin.smart_app.bench [--patients N]`: how long the review app takes, over real
HTTP on loopback (bundled FHIR server, test EHR, the app; a scripted EHR user, no browser).

Prints median and max milliseconds per step: EHR launch to the app's review URL (discovery,
authorize, consent, token), screening job until the review is ready (record, images, grading
when a grader is configured, advice, preliminary write-back), one review page render (FHIR
reads of the written result), and the sign-off POST (one If-Match transaction). Figures
depend on the machine and its load; they are for comparing versions, not promises."""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
import uuid
from collections.abc import Sequence
from urllib.parse import urljoin

import httpx

from plugin.local_servers.fhir_server import LocalFhirServer
from plugin.local_servers.test_ehr.user_agent import EhrUserAgent, Redirect
from plugin.smart_app.demo import DemoUi, serve_demo_ui


def _patient(http: httpx.Client) -> str:
    pid = f"bench-{uuid.uuid4().hex[:10]}"
    http.put(f"/Patient/{pid}", json={"resourceType": "Patient", "id": pid}).raise_for_status()
    http.post(
        "/Observation",
        json={
            "resourceType": "Observation",
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "4548-4"}]},
            "subject": {"reference": f"Patient/{pid}"},
            "effectiveDateTime": "2025-01-10",
            "valueQuantity": {
                "value": 8.1,
                "unit": "%",
                "system": "http://unitsofmeasure.org",
                "code": "%",
            },
        },
    ).raise_for_status()
    return pid


def _one(ui: DemoUi, pid: str) -> dict[str, float]:
    out: dict[str, float] = {}
    agent = EhrUserAgent(ui.ehr.base_url)
    browser = httpx.Client(timeout=60, follow_redirects=False)
    t0 = time.perf_counter()
    to_app = agent.open(ui.launch_url(pid))
    assert isinstance(to_app, Redirect)
    started = browser.get(to_app.url)
    back = agent.authorize(started.headers["location"])
    review = urljoin(ui.app_base_url, browser.get(back.url).headers["location"])
    out["launch"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    while "progress-panel" in (page := browser.get(review)).text:
        time.sleep(0.05)
    out["job"] = time.perf_counter() - t1
    t2 = time.perf_counter()
    page = browser.get(review)
    out["page"] = time.perf_counter() - t2
    form = page.text.split('id="signoff-form"', 1)[1].split("</form>", 1)[0]
    fields = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form)
    fields += re.findall(r'<textarea id="[^"]+" name="([^"]+)"[^>]*>([^<]*)</textarea>', form)
    t3 = time.perf_counter()
    signed = browser.post(
        review + "sign",
        content=str(httpx.QueryParams(fields)),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    out["sign"] = time.perf_counter() - t3
    if signed.status_code != 303:
        raise RuntimeError(f"sign-off answered HTTP {signed.status_code}")
    agent.close()
    browser.close()
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m plugin.smart_app.bench")
    parser.add_argument("--patients", type=int, default=5)
    args = parser.parse_args(argv)
    if not 1 <= args.patients <= 100:
        print("--patients must be 1..100", file=sys.stderr)
        return 2
    runs: list[dict[str, float]] = []
    with LocalFhirServer() as fhir, serve_demo_ui(fhir.base_url) as ui:
        with httpx.Client(base_url=fhir.base_url, timeout=60) as http:
            pids = [_patient(http) for _ in range(args.patients)]
        for pid in pids:
            runs.append(_one(ui, pid))
    print(f"{len(runs)} reviews (advice only unless a grader is configured), ms:")
    for step in ("launch", "job", "page", "sign"):
        values = sorted(r[step] * 1000 for r in runs)
        print(f"  {step:<7} median {statistics.median(values):7.1f}   max {values[-1]:7.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
