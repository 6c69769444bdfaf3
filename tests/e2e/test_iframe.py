"""Inside an EHR frame: from a chart page of the EHR's UI origin, the whole flow (launch,
consent, review, sign-off) runs in the iframe while the page around it stays put; a page
of another origin cannot frame the app (CSP frame-ancestors lists the EHR's origins)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from e2e_flows import search
from stub_grader import StubGrader

from plugin.smart_app.demo import DemoUi, serve_demo_ui


class _Chart(BaseHTTPRequestHandler):
    """`/chart?src=URL`: an EHR chart page with the app in an iframe."""

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        src = parse_qs(urlsplit(self.path).query).get("src", [""])[0]
        body = (
            "<!doctype html><title>EHR chart</title><h1>Chart</h1>"
            f'<iframe id="app" title="DeepDR" src="{src}" width="1200" height="800"></iframe>'
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture(scope="module")
def chart() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Chart)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def framed_ui(fhir_base_url: str, chart: int) -> Iterator[DemoUi]:
    ancestors = {"server": {"frame_ancestors": ["'self'", f"http://127.0.0.1:{chart}"]}}
    with serve_demo_ui(fhir_base_url, grader=StubGrader(), settings=ancestors) as ui:
        yield ui


def test_the_app_runs_inside_an_ehr_iframe(
    page: Any, framed_ui: DemoUi, chart: int, patient: str, fhir: httpx.Client
) -> None:
    chart_url = f"http://127.0.0.1:{chart}/chart?" + str(
        httpx.QueryParams({"src": framed_ui.launch_url(patient)})
    )
    page.goto(chart_url)
    frame = page.frame_locator("#app")
    frame.locator("#consent button[name='ehr_decision'][value='approve']").click()
    frame.locator("#signoff-form").wait_for(timeout=60_000)
    assert page.url == chart_url  # no top-level navigation
    assert "AI draft" in frame.locator("#review-status").inner_text()
    frame.locator("#sign-button").click()
    frame.locator("#done").wait_for()
    assert search(fhir, "DiagnosticReport", subject=f"Patient/{patient}")[0]["status"] == "final"


def test_another_origin_cannot_frame_the_app(page: Any, framed_ui: DemoUi, chart: int) -> None:
    target = framed_ui.app_base_url + "/smart/launch"  # an app page (it explains itself)
    # Same server, other origin: localhost is not 127.0.0.1 for the browser.
    page.goto(f"http://localhost:{chart}/chart?" + str(httpx.QueryParams({"src": target})))
    page.wait_for_timeout(1500)
    frame = next(f for f in page.frames if f != page.main_frame)
    assert "opened by the EHR when it launches the app" not in frame.content()
    # Framed by the allowed origin, the same page does show.
    page.goto(f"http://127.0.0.1:{chart}/chart?" + str(httpx.QueryParams({"src": target})))
    page.frame_locator("#app").locator("#error-title").wait_for()
