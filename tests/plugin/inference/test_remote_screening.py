"""A screening with both models remote, chosen by the config file alone: the grader's
network on the local KServe v2 server (its own process), the language model on an
OpenAI-compatible endpoint (a small in-test server on 127.0.0.1), the record on the real
FHIR server. The bundle folder holds only metadata.json. The verifier still guards the
remote language model: a rewrite that adds a "stop" falls back to the rule's text. Both
through ScreeningService and through the app's screening job (queue + worker)."""

from __future__ import annotations

import base64
import io
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from models.advice.llm import make_generator
from models.advice.types import Engine, ItemOrigin
from models.grader.predict import load_predictor
from models.grader.result import ModelInfo
from plugin.config import Settings
from plugin.config_loader import load_settings
from plugin.fhir import HttpFhirGateway
from plugin.jobs import Worker
from plugin.local_servers.kserve_v2 import LocalKServeV2Process
from plugin.services import build_services
from plugin.store import open_store
from plugin.store.jobs import JobStatus
from plugin.store.screenings import ScreeningRepository
from plugin.workflow import ScreeningOptions, ScreeningService
from plugin.workflow.grader import load_configured_grader
from plugin.workflow.jobs import ScreeningJob, enqueue_screening, screening_job_handlers

pytestmark = pytest.mark.integration

SNOMED = "http://snomed.info/sct"
LLM_KEY = "llm-key-5b1e"
TAMPERED = " Stop taking all your tablets."
ITEM = re.compile(r"^\[(\d+)\] (.+)$", re.MULTILINE)


@dataclass
class ChatLog:
    bodies: list[dict[str, Any]] = field(default_factory=list)
    auth: list[str | None] = field(default_factory=list)


@pytest.fixture(scope="module")
def chat_endpoint() -> Iterator[tuple[str, ChatLog]]:
    """An OpenAI-compatible /v1/chat/completions that rewrites each tagged recommendation
    ("[n] text" -> "[n] Please note: text"), and tampers with the first one."""
    log = ChatLog()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            log.bodies.append(body)
            log.auth.append(self.headers.get("Authorization"))
            user = body["messages"][-1]["content"]
            recs = user.split("Recommendations:", 1)[1]
            lines = [
                f"[{n}] Please note: {text}" + (TAMPERED if n == "1" else "")
                for n, text in ITEM.findall(recs)
            ]
            reply = {"choices": [{"message": {"role": "assistant", "content": "\n".join(lines)}}]}
            data = json.dumps(reply).encode()
            self.send_response(200 if self.path == "/v1/chat/completions" else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", log
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def inference_server(tiny_grader_bundle: Path) -> Iterator[str]:
    with LocalKServeV2Process(tiny_grader_bundle, name="dr-grader", threads=1) as proc:
        yield proc.url


def _png(rgb: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    return buf.getvalue()


def _patient(gw: HttpFhirGateway, photos: list[np.ndarray]) -> str:
    ref = gw.create(
        {"resourceType": "Patient", "gender": "female", "birthDate": "1964-03-08"}
    ).reference
    gw.create(
        {
            "resourceType": "Condition",
            "code": {"coding": [{"system": SNOMED, "code": "44054006"}]},
            "subject": {"reference": ref},
            "onsetDateTime": "2014-05-01",
        }
    )
    gw.create(
        {
            "resourceType": "Observation",
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "4548-4"}]},
            "subject": {"reference": ref},
            "effectiveDateTime": "2026-01-20",
            "valueQuantity": {"value": 8.6, "unit": "%", "code": "%"},
        }
    )
    for eye, rgb in zip(("right", "left"), photos, strict=True):
        gw.create(
            {
                "resourceType": "Media",
                "status": "completed",
                "subject": {"reference": ref},
                "createdDateTime": "2026-02-10",
                "bodySite": {
                    "coding": [
                        {"system": SNOMED, "code": {"right": "18944008", "left": "8966001"}[eye]}
                    ]
                },
                "content": {
                    "contentType": "image/png",
                    "data": base64.b64encode(_png(rgb)).decode(),
                },
            }
        )
    return ref


def _settings(
    tmp_path: Path,
    fhir_base_url: str,
    inference_server: str,
    chat_url: str,
    bundle: Path,
    key_line: str = 'api_key_env = "TEST_LLM_KEY"',
) -> Settings:
    config = tmp_path / "deepdr.toml"
    config.write_text(
        f"""
[store]
url = "sqlite:///{tmp_path}/store.sqlite3"

[fhir]
base_url = "{fhir_base_url}"

[jobs]
in_process_workers = false

[grader]
bundle = "{bundle}"
batch_size = 2

[grader.remote]
kind = "kserve-v2"
url = "{inference_server}"
model_name = "dr-grader"
timeout_s = 20

[advice]
engine = "llm"

[advice.llm]
backend = "openai"
base_url = "{chat_url}"
model = "tiny-chat"
{key_line}
max_retries = 0
""",
        encoding="utf-8",
    )
    return load_settings(config, environ={}).settings


def test_screening_with_remote_grader_and_remote_language_model(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fhir_base_url: str,
    inference_server: str,
    chat_endpoint: tuple[str, ChatLog],
    metadata_only_bundle: Path,
    tiny_grader_bundle: Path,
    photos: list[np.ndarray],
) -> None:
    chat_url, chat = chat_endpoint
    monkeypatch.setenv("TEST_LLM_KEY", LLM_KEY)
    settings = _settings(tmp_path, fhir_base_url, inference_server, chat_url, metadata_only_bundle)
    grader = load_configured_grader(settings.grader)

    with HttpFhirGateway(fhir_base_url) as gateway, open_store(settings.store.url) as store:
        patient = _patient(gateway, photos[:2])
        service = ScreeningService(
            gateway,
            store=store,
            grader=grader,
            imaging=settings.imaging,
            llm=lambda: make_generator(settings.advice.llm),
        )
        result = service.screen(patient, ScreeningOptions(engine=settings.advice.engine))
        reports = gateway.search("DiagnosticReport", [("subject", patient)]).resources

    # Graded remotely (there is no model.onnx here), exactly as the bundle grades locally.
    assert result.status == "complete" and result.grading is not None
    graded = [g for e in result.grading.grading.eyes for g in e.images]
    assert len(graded) == 2 and all(g.gradable for g in graded)
    assert {(g.model.name, g.model.version) for g in graded} == {("tiny", "0.0.1")}
    rgb_by_id = {img.image_id: img.rgb for img in result.images.images}
    local = load_predictor(tiny_grader_bundle, threads=1).grade(
        [rgb_by_id[g.image_id] for g in graded], image_ids=[g.image_id for g in graded]
    )
    for remote_g, local_g in zip(graded, local, strict=True):
        assert remote_g.dr_grade == local_g.dr_grade
        assert remote_g.referable == local_g.referable and remote_g.lesions == local_g.lesions
    assert len(reports) == 1 and reports[0]["status"] == "preliminary"
    assert result.stored.grader_model == "tiny"

    # Phrased by the remote language model, guarded by the verifier.
    draft = result.advice
    assert draft is not None and draft.engine == Engine.LLM
    assert draft.model == "openai-compatible:tiny-chat"
    assert chat.auth[-1] == f"Bearer {LLM_KEY}" and chat.bodies[-1]["model"] == "tiny-chat"
    first, *rest = draft.items
    assert rest, "the record should give more than one recommendation"
    assert first.origin == ItemOrigin.FALLBACK and first.text == first.rule_text
    assert all(i.origin == ItemOrigin.LLM and i.text.startswith("Please note: ") for i in rest)
    worst = max(g.dr_grade.grade for g in graded if g.dr_grade)
    assert f"DR grade:{worst}" in chat.bodies[-1]["messages"][-1]["content"]


def test_the_screening_job_grades_with_the_configured_remote_grader(
    tmp_path: Path,
    fhir_base_url: str,
    inference_server: str,
    chat_endpoint: tuple[str, ChatLog],
    metadata_only_bundle: Path,
    photos: list[np.ndarray],
) -> None:
    """The app's own path: services from the config, the screening job through the queue
    and a worker; nothing injected. The endpoint's key is in the config file this time."""
    chat_url, chat = chat_endpoint
    key_line = f'api_key = "{LLM_KEY}-cfg"'
    settings = _settings(
        tmp_path, fhir_base_url, inference_server, chat_url, metadata_only_bundle, key_line
    )
    services = build_services(settings)
    try:
        for kind, handler in screening_job_handlers(services).items():
            if kind not in services.handlers:
                services.handlers.register(kind, handler)
        with HttpFhirGateway(fhir_base_url) as gateway:
            patient = _patient(gateway, photos[2:4])
        request = ScreeningJob(patient_ref=patient, fhir_base=fhir_base_url, engine=Engine.LLM)
        job = enqueue_screening(
            services.queue, request, model=ModelInfo(name="tiny", version="0.0.1")
        )
        asked = len(chat.bodies)
        Worker(services.store.jobs, services.handlers).run_until_idle()
        done = services.queue.status(job.id)
        assert done is not None and done.status == JobStatus.SUCCEEDED, done and done.error
        assert done.result is not None and done.result["status"] == "complete"
        record = ScreeningRepository(services.store.db).latest(fhir_base_url, patient)
    finally:
        services.close()
    assert record is not None
    assert (record.grader_model, record.grader_version) == ("tiny", "0.0.1")
    assert record.advice_engine == "deepdr-advice-llm/openai-compatible:tiny-chat"
    assert len(chat.bodies) == asked + 1 and chat.auth[-1] == f"Bearer {LLM_KEY}-cfg"
