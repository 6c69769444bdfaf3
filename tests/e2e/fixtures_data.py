"""Synthetic test patients for the browser tests: a diabetic record (conditions, labs,
medication) and two fundus-like photographs (an orange disc with dark spots on black, so the
grader's field finder works), stored as Media with inline JPEG data. No real patient data."""

from __future__ import annotations

import base64
import io
import uuid
from datetime import date, timedelta
from typing import Any

import httpx
import numpy as np
from PIL import Image, ImageDraw

JSON = dict[str, Any]
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"


def fundus_jpeg(seed: int, spots: int) -> bytes:
    rng = np.random.default_rng(seed)
    img = Image.new("RGB", (480, 480), (0, 0, 0))
    draw = ImageDraw.Draw(img)
    draw.ellipse((30, 30, 450, 450), fill=(196, 92, 40))
    draw.ellipse((300, 200, 360, 260), fill=(240, 200, 120))  # optic disc
    for _ in range(spots):
        x, y = rng.integers(120, 360, size=2)
        r = int(rng.integers(3, 7))
        draw.ellipse((x - r, y - r, x + r, y + r), fill=(110, 20, 15))
    arr = np.asarray(img, dtype=np.int16) + rng.integers(-6, 6, size=(480, 480, 3))
    out = io.BytesIO()
    Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)).save(out, format="JPEG", quality=90)
    return out.getvalue()


def _media(pid: str, side: str, data: bytes, taken: date) -> JSON:
    site = {"left": ("8966001", "Left eye structure"), "right": ("18944008", "Right eye structure")}
    code, display = site[side]
    return {
        "resourceType": "Media",
        "status": "completed",
        "subject": {"reference": f"Patient/{pid}"},
        "createdDateTime": taken.isoformat(),
        "modality": {
            "coding": [{"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "OP"}]
        },
        "bodySite": {"coding": [{"system": SNOMED, "code": code, "display": display}]},
        "content": {
            "contentType": "image/jpeg",
            "data": base64.b64encode(data).decode("ascii"),
            "title": f"Fundus photograph, {side} eye",
        },
    }


def _obs(pid: str, code: str, display: str, value: float, unit: str, when: date) -> JSON:
    return {
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
        "code": {"coding": [{"system": LOINC, "code": code, "display": display}]},
        "subject": {"reference": f"Patient/{pid}"},
        "effectiveDateTime": when.isoformat(),
        "valueQuantity": {
            "value": value,
            "unit": unit,
            "system": "http://unitsofmeasure.org",
            "code": unit,
        },
    }


def create_patient(
    fhir_base_url: str, *, given: str = "Maria", family: str = "Lopez", photos: bool = True
) -> str:
    """PUTs a patient and POSTs their record; returns the Patient id."""
    pid = f"e2e-{uuid.uuid4().hex[:10]}"
    today = date.today()
    patient = {
        "resourceType": "Patient",
        "id": pid,
        "identifier": [{"system": "urn:e2e:mrn", "value": f"MRN-{pid[-6:].upper()}"}],
        "name": [{"given": [given], "family": family}],
        "gender": "female",
        "birthDate": "1961-04-12",
    }
    with httpx.Client(
        base_url=fhir_base_url, timeout=60, headers={"Content-Type": "application/fhir+json"}
    ) as http:
        http.put(f"/Patient/{pid}", json=patient).raise_for_status()
        record: list[JSON] = [
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
                "code": {
                    "coding": [
                        {
                            "system": SNOMED,
                            "code": "44054006",
                            "display": "Diabetes mellitus type 2",
                        }
                    ]
                },
                "subject": {"reference": f"Patient/{pid}"},
                "onsetDateTime": "2012-06-01",
            },
            _obs(pid, "4548-4", "Hemoglobin A1c", 8.4, "%", today - timedelta(days=20)),
            _obs(
                pid, "8480-6", "Systolic blood pressure", 146, "mm[Hg]", today - timedelta(days=20)
            ),
            _obs(
                pid, "8462-4", "Diastolic blood pressure", 88, "mm[Hg]", today - timedelta(days=20)
            ),
            _obs(pid, "33914-3", "eGFR", 72, "mL/min/{1.73_m2}", today - timedelta(days=60)),
            {
                "resourceType": "MedicationRequest",
                "status": "active",
                "intent": "order",
                "medicationCodeableConcept": {
                    "coding": [
                        {
                            "system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                            "code": "860975",
                            "display": "metformin 500 MG Extended Release Oral Tablet",
                        }
                    ],
                    "text": "Metformin 500 mg",
                },
                "subject": {"reference": f"Patient/{pid}"},
                "authoredOn": (today - timedelta(days=200)).isoformat(),
            },
        ]
        if photos:
            taken = today - timedelta(days=1)
            record.append(_media(pid, "right", fundus_jpeg(1, 25), taken))
            record.append(_media(pid, "left", fundus_jpeg(2, 2), taken))
        bundle = {
            "resourceType": "Bundle",
            "type": "transaction",
            "entry": [
                {"resource": r, "request": {"method": "POST", "url": r["resourceType"]}}
                for r in record
            ],
        }
        http.post("/", json=bundle).raise_for_status()
    return pid
