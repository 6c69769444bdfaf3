"""The workflow built from the settings (plugin.workflow.factory), as every caller builds it:
the deployment's BMI population, the language model of advice.llm (its api_key sent), the
grader of [grader] (grader.remote tried, never a silent fall back to the local bundle)."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from models.advice import Engine
from models.clinical_facts import Population
from plugin.config import Settings
from plugin.config_loader import settings_from_mapping
from plugin.store import Store
from plugin.workflow import GraderUnavailable, ScreeningOptions
from plugin.workflow.factory import configured_grader, screening_service_from_settings

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
LLM_KEY = "factory-llm-key-71c2"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_deployment_population_reaches_the_advice(kit: Any, gateway: Any, store: Store) -> None:
    rec = kit.make_record(gateway)
    gateway.create(kit.bmi(rec.patient_ref, 24.5))  # overweight by the Chinese cut-off (24) only
    options = ScreeningOptions(grade=False, write=False)
    rule_ids = {}
    for population in (None, Population.CHINESE):
        settings = settings_from_mapping({"advice": {"population": population}})
        service = screening_service_from_settings(settings, gateway, store, clock=lambda: NOW)
        advice = service.screen(rec.patient_ref, options).advice
        assert advice is not None
        rule_ids[population] = advice.rule_ids
    assert "WT-LOSS-CHINESE" in rule_ids[Population.CHINESE]
    assert "WT-LOSS-CHINESE" not in rule_ids[None]


@pytest.fixture
def chat_endpoint() -> Iterator[tuple[str, list[str | None]]]:
    """An OpenAI-compatible endpoint on 127.0.0.1 that records the Authorization headers."""
    seen: list[str | None] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            seen.append(self.headers.get("Authorization"))
            body = json.dumps({"choices": [{"message": {"role": "assistant", "content": "-"}}]})
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/v1", seen
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_engine_llm_uses_advice_llm_with_its_api_key(
    kit: Any, gateway: Any, store: Store, chat_endpoint: tuple[str, list[str | None]]
) -> None:
    url, seen = chat_endpoint
    settings = settings_from_mapping(
        {
            "advice": {
                "llm": {
                    "backend": "openai",
                    "base_url": url,
                    "model": "m",
                    "api_key": LLM_KEY,
                    "max_retries": 0,
                }
            }
        }
    )
    rec = kit.make_record(gateway)
    service = screening_service_from_settings(settings, gateway, store, clock=lambda: NOW)
    options = ScreeningOptions(grade=False, write=False, engine=Engine.LLM)
    advice = service.screen(rec.patient_ref, options).advice
    assert advice is not None and advice.engine == Engine.LLM
    assert seen and set(seen) == {f"Bearer {LLM_KEY}"}


def test_a_remote_grader_is_tried_not_the_local_bundle(tiny_grader_bundle: Path) -> None:
    """The bundle folder holds a working model.onnx; with grader.remote set the network must
    still run remotely, so an unreachable server is an error, not a local fallback."""
    local = Settings().grader.model_copy(update={"bundle": tiny_grader_bundle})
    assert configured_grader(Settings(grader=local)).model.name == "tiny"
    remote = {"kind": "kserve-v2", "url": f"http://127.0.0.1:{closed_port()}", "model_name": "x"}
    settings = settings_from_mapping({"grader": {"bundle": "/nonexistent", "remote": remote}})
    with pytest.raises(GraderUnavailable, match="remote grader cannot be used"):
        configured_grader(settings, bundle=tiny_grader_bundle)  # --bundle replaces the folder


@pytest.mark.integration
def test_the_configured_remote_grader_grades(
    kit: Any, gateway: Any, store: Store, remote_tiny_grader: Any
) -> None:
    remote = remote_tiny_grader
    settings = settings_from_mapping({"grader": remote.grader})
    grader = configured_grader(settings)
    rec = kit.make_record(gateway)
    rec.add_media("right", remote.photo)
    service = screening_service_from_settings(
        settings, gateway, store, grader=grader, clock=lambda: NOW
    )
    before = remote.server.requests
    result = service.screen(rec.patient_ref, ScreeningOptions(write=False))
    assert result.grading is not None and result.grading.graded == 1
    assert result.stored.summary["model"]["name"] == "tiny"
    assert remote.server.requests > before
