"""Unit-test fixtures for the screening workflow: the in-memory FHIR gateway (plus a variant
that answers the search forms real servers accept), a fake grader that counts its calls, a
real SQLite store, and a small patient record with fundus photos as inline Media."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from models.grader.errors import BadImage
from models.grader.result import (
    BinaryFinding,
    DrGrade,
    ImageGrading,
    ModelInfo,
    Quality,
)
from plugin.fhir.gateway import SearchParams, SearchResult, normalise_params
from plugin.fhir.memory import InMemoryFhirGateway
from plugin.imaging.results import RetrievedImage
from plugin.store import Store, open_store

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
EYE_SITES = {"right": ("18944008", "Right eye structure"), "left": ("8966001", "Left eye")}


class ServerLikeGateway(InMemoryFhirGateway):
    """The in-memory gateway answering `code`, `category` and `_sort` as a real server
    would (filtering in Python), so the first search form is the one used."""

    def __init__(self) -> None:
        super().__init__("http://fhir.test/R4")
        self.searches: list[tuple[str, list[tuple[str, str]]]] = []

    def search(
        self, resource_type: str, params: SearchParams = (), *, max_pages: int = 10
    ) -> SearchResult:
        pairs = normalise_params(params)
        self.searches.append((resource_type, pairs))
        extra = {k: v for k, v in pairs if k in ("code", "category", "_sort")}
        base = [(k, v) for k, v in pairs if k not in extra]
        found = super().search(resource_type, base, max_pages=max_pages)
        kept = tuple(r for r in found.resources if _matches(r, extra))
        return SearchResult(kept, (), len(kept), found.pages, found.truncated)


def _matches(resource: dict[str, Any], extra: dict[str, str]) -> bool:
    if "code" in extra:
        system, _, code = extra["code"].rpartition("|")
        codings = (resource.get("code") or {}).get("coding") or []
        if not any(c.get("code") == code and c.get("system") == system for c in codings):
            return False
    if "category" in extra:
        wanted = set(extra["category"].split(","))
        cats = {
            c.get("code") for cc in resource.get("category") or [] for c in cc.get("coding", [])
        }
        if not wanted & cats:
            return False
    return True


def png(colour: tuple[int, int, int], size: int = 24) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(buf, format="PNG")
    return buf.getvalue()


def media(
    patient_ref: str, eye: str, data: bytes, *, created: str = "2026-02-20"
) -> dict[str, Any]:
    code, display = EYE_SITES[eye]
    return {
        "resourceType": "Media",
        "status": "completed",
        "modality": {
            "coding": [{"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "OP"}]
        },
        "subject": {"reference": patient_ref},
        "createdDateTime": created,
        "bodySite": {"coding": [{"system": SNOMED, "code": code, "display": display}]},
        "content": {"contentType": "image/png", "data": base64.b64encode(data).decode()},
    }


@dataclass
class Record:
    gateway: InMemoryFhirGateway
    patient_ref: str
    condition_ref: str
    media_refs: dict[str, str] = field(default_factory=dict)

    def add_media(self, eye: str, data: bytes) -> str:
        ref = self.gateway.create(media(self.patient_ref, eye, data)).reference
        self.media_refs[eye] = ref
        return ref


def make_record(
    gateway: InMemoryFhirGateway,
    photos: dict[str, tuple[int, int, int]] | None = None,
) -> Record:
    patient = gateway.create(
        {
            "resourceType": "Patient",
            "gender": "female",
            "birthDate": "1961-05-04",
            "name": [{"family": "Testperson", "given": ["Wanda"]}],
        }
    ).reference
    condition = gateway.create(
        {
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
            "subject": {"reference": patient},
            "onsetDateTime": "2015-06-01",
        }
    ).reference
    gateway.create(
        {
            "resourceType": "Observation",
            "status": "final",
            "category": [
                {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                            "code": "laboratory",
                        }
                    ]
                }
            ],
            "code": {"coding": [{"system": LOINC, "code": "4548-4"}]},
            "subject": {"reference": patient},
            "effectiveDateTime": "2026-02-01",
            "valueQuantity": {
                "value": 8.4,
                "unit": "%",
                "system": "http://unitsofmeasure.org",
                "code": "%",
            },
        }
    )
    record = Record(gateway, patient, condition)
    for eye, colour in (photos or {}).items():
        record.add_media(eye, png(colour))
    return record


class FakeGrader:
    """Grades a photo by its mean red value (0-255 -> ICDR 0-4); below 10 it is ungradable,
    a black image is not a fundus photograph. Counts every image it is asked to grade."""

    def __init__(self, version: str = "1.0", raise_bad: bool = False) -> None:
        self._model = ModelInfo(name="fake-grader", version=version)
        self.calls: list[list[str]] = []
        self.raise_bad = raise_bad

    @property
    def model(self) -> ModelInfo:
        return self._model

    def grade(self, images: Sequence[RetrievedImage]) -> list[ImageGrading]:
        self.calls.append([img.image_id for img in images])
        out = []
        for img in images:
            red = float(img.rgb[..., 0].mean())
            if red < 1:
                if self.raise_bad:
                    raise BadImage("not a fundus photograph")
                out.append(ImageGrading(image_id=img.image_id, model=self._model, error="blank"))
                continue
            if red < 10:  # a very dark photograph: readable, not gradable
                quality = Quality(gradable=False, score=0.1, reasons=("underexposed",))
                out.append(ImageGrading(image_id=img.image_id, quality=quality, model=self._model))
                continue
            grade = min(4, int(red // 51))
            probs = [0.02] * 5
            probs[grade] = 0.92
            referable = grade >= 2
            out.append(
                ImageGrading(
                    image_id=img.image_id,
                    quality=Quality(gradable=True, score=0.9),
                    dr_grade=DrGrade(probabilities=tuple(probs), grade=grade),  # type: ignore[arg-type]
                    referable=BinaryFinding(
                        probability=0.9 if referable else 0.1, positive=referable, threshold=0.5
                    ),
                    dme=BinaryFinding(probability=0.05, positive=False, threshold=0.5),
                    model=self._model,
                )
            )
        return out

    @property
    def graded_count(self) -> int:
        return sum(len(c) for c in self.calls)


class TinyOnnxGrader:
    """A real ONNX model run by onnxruntime, small enough to build in a test: the mean red
    level of a 16x16 thumbnail decides the ICDR grade (linear logits + softmax) and the
    referable probability (sigmoid). Implements the workflow's Grader protocol."""

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
        }
        nodes = [
            helper.make_node("ReduceMean", ["image"], ["mean"], axes=[2, 3], keepdims=0),
            helper.make_node("MatMul", ["mean", "W"], ["l0"]),
            helper.make_node("Add", ["l0", "b"], ["logits"]),
            helper.make_node("Softmax", ["logits"], ["dr_probs"], axis=1),
            helper.make_node("MatMul", ["mean", "Wr"], ["r0"]),
            helper.make_node("Add", ["r0", "br"], ["r1"]),
            helper.make_node("Sigmoid", ["r1"], ["referable"]),
        ]
        side = self.SIDE
        graph = helper.make_graph(
            nodes,
            "tiny-grader",
            [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, side, side])],
            [
                helper.make_tensor_value_info("dr_probs", TensorProto.FLOAT, ["N", 5]),
                helper.make_tensor_value_info("referable", TensorProto.FLOAT, ["N", 1]),
            ],
            [numpy_helper.from_array(v, n) for n, v in weights.items()],
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
        onnx.checker.check_model(model)
        self._session = ort.InferenceSession(
            model.SerializeToString(), providers=["CPUExecutionProvider"]
        )
        self._model = ModelInfo(name="tiny-onnx-grader", version=version)
        self.calls: list[list[str]] = []

    @property
    def model(self) -> ModelInfo:
        return self._model

    def grade(self, images: Sequence[RetrievedImage]) -> list[ImageGrading]:
        self.calls.append([img.image_id for img in images])
        if not images:
            return []
        batch = np.stack([self._tensor(img.rgb) for img in images])
        probs, referable = self._session.run(None, {"image": batch})
        out = []
        for img, p, r in zip(images, probs, referable[:, 0], strict=True):
            p = np.clip(p.astype(np.float64), 0, 1)
            p = p / p.sum()
            grade = int(p.argmax())
            out.append(
                ImageGrading(
                    image_id=img.image_id,
                    quality=Quality(gradable=True, score=0.8),
                    dr_grade=DrGrade(probabilities=tuple(float(x) for x in p), grade=grade),  # type: ignore[arg-type]
                    referable=BinaryFinding(
                        probability=float(r), positive=bool(r >= 0.5), threshold=0.5
                    ),
                    model=self._model,
                )
            )
        return out

    def _tensor(self, rgb: np.ndarray) -> np.ndarray:
        thumb = Image.fromarray(rgb).resize((self.SIDE, self.SIDE), Image.Resampling.BILINEAR)
        return (np.asarray(thumb, np.float32) / 255.0).transpose(2, 0, 1)

    @property
    def graded_count(self) -> int:
        return sum(len(c) for c in self.calls)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with open_store(f"sqlite:///{tmp_path}/store.sqlite3") as s:
        yield s


@pytest.fixture
def gateway() -> ServerLikeGateway:
    return ServerLikeGateway()


@pytest.fixture
def grader() -> FakeGrader:
    return FakeGrader()


def bmi(patient_ref: str, value: float) -> dict[str, Any]:
    """A final BMI Observation (kg/m2) for the patient."""
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "39156-5"}]},
        "subject": {"reference": patient_ref},
        "effectiveDateTime": "2026-02-01",
        "valueQuantity": {"value": value, "unit": "kg/m2", "code": "kg/m2"},
    }


class Kit:
    """The helpers above, for test modules (with --import-mode=importlib a test module
    cannot import its conftest): `kit.make_record(gw, ...)`, `kit.FakeGrader()`, ..."""

    NOW = NOW
    FakeGrader = FakeGrader
    TinyOnnxGrader = TinyOnnxGrader
    ServerLikeGateway = ServerLikeGateway
    make_record = staticmethod(make_record)
    media = staticmethod(media)
    png = staticmethod(png)
    bmi = staticmethod(bmi)


@pytest.fixture
def kit() -> type[Kit]:
    return Kit
