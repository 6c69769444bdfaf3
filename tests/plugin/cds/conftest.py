"""Fixtures for the DR CDS services: a tiny real ONNX grader, synthetic fundus photos, FHIR
record builders, a real SQLite store, and (integration) our app under a real WSGI server
on 127.0.0.1 with the real FHIR server behind and the local CDS Client in front."""

from __future__ import annotations

import base64
import io
import socket
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from werkzeug.serving import make_server

from models.grader.result import (
    BinaryFinding,
    DrGrade,
    ImageGrading,
    ModelInfo,
    Quality,
)
from plugin.app import create_app
from plugin.config_loader import settings_from_mapping
from plugin.imaging.results import RetrievedImage
from plugin.jobs.worker import Worker
from plugin.local_servers.cds_client import LocalCdsClient
from plugin.services import Services, build_services
from plugin.store import Store, open_store
from plugin.web.blueprints import BLUEPRINT_FACTORIES
from plugin.workflow.grader import GRADER_EXTENSION
from plugin.workflow.jobs import SCREENING_JOB

SNOMED = "http://snomed.info/sct"
TOKEN = "hook-access-token-7c41e9"  # the hook's FHIR token in integration tests
LOINC = "http://loinc.org"
EYE_SITES = {"right": "18944008", "left": "8966001"}


class TinyGrader:
    """A real ONNX model (onnxruntime) small enough to build in a test: from a 16x16
    thumbnail, the mean red level gives the ICDR grade (softmax over linear logits) and the
    referable probability (sigmoid); the mean brightness gives image quality (a near-black
    photo is ungradable). Implements plugin.workflow.grader.Grader; counts what it grades."""

    SIDE = 16

    def __init__(self, version: str = "0.0.1") -> None:
        import onnx
        import onnxruntime as ort
        from onnx import TensorProto, helper, numpy_helper

        k = np.arange(5, dtype=np.float32)
        w = np.zeros((3, 5), np.float32)
        w[0] = 24 * k
        weights = {
            "W": w,
            "b": (-3 * k**2).astype(np.float32),
            "Wr": np.array([[12.0], [0.0], [0.0]], np.float32),
            "br": np.array([-4.8], np.float32),
            "Wq": np.array([[1 / 3], [1 / 3], [1 / 3]], np.float32),
        }
        nodes = [
            helper.make_node("ReduceMean", ["image"], ["mean"], axes=[2, 3], keepdims=0),
            helper.make_node("MatMul", ["mean", "W"], ["l0"]),
            helper.make_node("Add", ["l0", "b"], ["logits"]),
            helper.make_node("Softmax", ["logits"], ["dr_probs"], axis=1),
            helper.make_node("MatMul", ["mean", "Wr"], ["r0"]),
            helper.make_node("Add", ["r0", "br"], ["r1"]),
            helper.make_node("Sigmoid", ["r1"], ["referable"]),
            helper.make_node("MatMul", ["mean", "Wq"], ["quality"]),
        ]
        side = self.SIDE
        graph = helper.make_graph(
            nodes,
            "tiny-cds-grader",
            [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, side, side])],
            [
                helper.make_tensor_value_info("dr_probs", TensorProto.FLOAT, ["N", 5]),
                helper.make_tensor_value_info("referable", TensorProto.FLOAT, ["N", 1]),
                helper.make_tensor_value_info("quality", TensorProto.FLOAT, ["N", 1]),
            ],
            [numpy_helper.from_array(v, n) for n, v in weights.items()],
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
        onnx.checker.check_model(model)
        self._session = ort.InferenceSession(
            model.SerializeToString(), providers=["CPUExecutionProvider"]
        )
        self._model = ModelInfo(name="tiny-cds-grader", version=version)
        self._lock = threading.Lock()
        self.calls: list[list[str]] = []

    @property
    def model(self) -> ModelInfo:
        return self._model

    def grade(self, images: Sequence[RetrievedImage]) -> list[ImageGrading]:
        with self._lock:
            self.calls.append([img.image_id for img in images])
        if not images:
            return []
        batch = np.stack([self._tensor(img.rgb) for img in images])
        probs, referable, quality = self._session.run(None, {"image": batch})
        out = []
        for img, p, r, q in zip(images, probs, referable[:, 0], quality[:, 0], strict=True):
            gradable = bool(q >= 0.05)
            if not gradable:
                out.append(
                    ImageGrading(
                        image_id=img.image_id,
                        quality=Quality(gradable=False, score=float(q), reasons=("too dark",)),
                        model=self._model,
                    )
                )
                continue
            p = np.clip(p.astype(np.float64), 0, 1)
            p = p / p.sum()
            out.append(
                ImageGrading(
                    image_id=img.image_id,
                    quality=Quality(gradable=True, score=min(1.0, float(q) * 2)),
                    dr_grade=DrGrade(
                        probabilities=tuple(float(x) for x in p),  # type: ignore[arg-type]
                        grade=int(p.argmax()),
                    ),
                    referable=BinaryFinding(
                        probability=float(r), positive=bool(r >= 0.5), threshold=0.5
                    ),
                    dme=BinaryFinding(probability=0.1, positive=False, threshold=0.5),
                    model=self._model,
                )
            )
        return out

    def _tensor(self, rgb: np.ndarray) -> np.ndarray:
        thumb = Image.fromarray(rgb).resize((self.SIDE, self.SIDE), Image.Resampling.BILINEAR)
        return (np.asarray(thumb, np.float32) / 255.0).transpose(2, 0, 1)

    @property
    def graded_count(self) -> int:
        with self._lock:
            return sum(len(c) for c in self.calls)


def photo(red: int, *, green: int = 40, size: int = 32, seed: int = 0) -> bytes:
    """A synthetic "fundus photo" whose mean red level sets the tiny grader's ICDR grade
    (20 -> 0, 60 -> 1, 110 -> 2 referable, 160 -> 3, 230 -> 4); `photo(0, green=0)` is too
    dark to grade; `seed` varies the bytes, not the grade."""
    rng = np.random.default_rng(seed)
    pixels = np.zeros((size, size, 3), np.uint8)
    pixels[..., 0] = red
    pixels[..., 1] = green
    pixels[0, 0, 2] = rng.integers(0, 255)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG")
    return buf.getvalue()


def recent(days: int = 30) -> str:
    """A date `days` ago: photographs in integration tests stay "current" whatever the day
    the tests run (the service uses the real clock there)."""
    return (date.today() - timedelta(days=days)).isoformat()


def media(patient_ref: str, eye: str, data: bytes, *, created: str | None = None) -> dict[str, Any]:
    return {
        "resourceType": "Media",
        "status": "completed",
        "modality": {
            "coding": [{"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "OP"}]
        },
        "subject": {"reference": patient_ref},
        "createdDateTime": created or recent(),
        "bodySite": {"coding": [{"system": SNOMED, "code": EYE_SITES[eye]}]},
        "content": {"contentType": "image/png", "data": base64.b64encode(data).decode()},
    }


def diabetes(patient_ref: str) -> dict[str, Any]:
    return {
        "resourceType": "Condition",
        "clinicalStatus": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                    "code": "active",
                }
            ]
        },
        "code": {"coding": [{"system": SNOMED, "code": "44054006"}]},
        "subject": {"reference": patient_ref},
        "onsetDateTime": "2015-06-01",
    }


def hba1c(patient_ref: str, value: float = 8.1) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": "4548-4"}]},
        "subject": {"reference": patient_ref},
        "effectiveDateTime": recent(45),
        "valueQuantity": {"value": value, "unit": "%", "code": "%"},
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with open_store(f"sqlite:///{tmp_path}/store.sqlite3") as s:
        yield s


@dataclass
class RunningApp:
    base: str
    services: Services
    grader: Any

    def run_jobs(self) -> int:
        return Worker(self.services.store.jobs, self.services.handlers).run_until_idle()

    def jobs(self) -> list[Any]:
        return self.services.store.jobs.recent()


@contextmanager
def running_app(
    tmp_path: Path,
    fhir_base_url: str,
    client: LocalCdsClient,
    *,
    budget_ms: int,
    smart: bool = False,
    extra: dict[str, Any] | None = None,
    inject_grader: bool = True,
) -> Iterator[RunningApp]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    config: dict[str, Any] = {
        "store": {"url": f"sqlite:///{tmp_path}/cds-{port}.sqlite3"},
        "fhir": {"base_url": fhir_base_url},
        "jobs": {"in_process_workers": False},
        "cds": {
            "issuers": [{"iss": client.issuer, "jwks_url": client.jwks_url}],
            "grading_budget_ms": budget_ms,
        },
    }
    extra = dict(extra or {})
    config["cds"].update(extra.pop("cds", {}))
    config.update(extra)
    if smart:
        key = base64.urlsafe_b64encode(b"k" * 32).decode()
        config["server"] = {"public_base_url": base}
        config["smart"] = {"client_id": "deepdr-cds-test", "session_keys": [key]}
    services = build_services(settings_from_mapping(config))
    grader: Any = TinyGrader() if inject_grader else None
    if grader is not None:
        services.extensions[GRADER_EXTENSION] = grader
    # The screening job is the one the services registered from the configuration (the
    # workflow's handler): it grades with the injected grader, as the hooks do (the cache is
    # keyed by the model), else with the configured bundle.
    assert SCREENING_JOB in services.handlers
    app = create_app(
        services=services,
        blueprints=BLUEPRINT_FACTORIES,  # the registry holds ours
        start_workers=False,
    )
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield RunningApp(base, services, grader)
    finally:
        server.shutdown()
        server.server_close()
        services.close(timeout_s=5)


class Kit:
    """The helpers above, for test modules (with --import-mode=importlib a test module
    cannot import its conftest): `kit.photo(160)`, `kit.TinyGrader()`, ..."""

    TinyGrader = TinyGrader
    photo = staticmethod(photo)
    media = staticmethod(media)
    recent = staticmethod(recent)
    diabetes = staticmethod(diabetes)
    hba1c = staticmethod(hba1c)
    free_port = staticmethod(free_port)
    running_app = staticmethod(running_app)
    TOKEN = TOKEN


@pytest.fixture(scope="session")
def kit() -> type[Kit]:
    return Kit
