"""The EHR's own (unauthenticated, internal) reads of the FHIR server behind it: the patient
list for the launch and picker pages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from smart_launch.tokens import FHIR_ID_RE

FHIR_JSON = "application/fhir+json"


@dataclass(frozen=True)
class PatientRow:
    id: str
    name: str
    birth_date: str
    gender: str


def _display_name(patient: dict[str, Any]) -> str:
    for name in patient.get("name") or []:
        if not isinstance(name, dict):
            continue
        if isinstance(name.get("text"), str):
            return str(name["text"])
        given = " ".join(g for g in name.get("given") or [] if isinstance(g, str))
        family = name.get("family") if isinstance(name.get("family"), str) else ""
        full = f"{given} {family}".strip()
        if full:
            return full
    return "(no name)"


def list_patients(http: httpx.Client, fhir_base: str, limit: int = 100) -> list[PatientRow]:
    try:
        r = http.get(
            f"{fhir_base.rstrip('/')}/Patient",
            params={"_count": str(limit)},
            headers={"Accept": FHIR_JSON},
        )
        bundle = r.json() if r.status_code == 200 else {}
    except (httpx.HTTPError, ValueError):
        return []
    rows = []
    for entry in bundle.get("entry") or []:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if isinstance(resource, dict) and isinstance(resource.get("id"), str):
            rows.append(
                PatientRow(
                    id=resource["id"],
                    name=_display_name(resource),
                    birth_date=str(resource.get("birthDate") or ""),
                    gender=str(resource.get("gender") or ""),
                )
            )
    return rows


def patient_exists(http: httpx.Client, fhir_base: str, patient_id: str) -> bool:
    if not FHIR_ID_RE.match(patient_id):
        return False
    try:
        r = http.get(f"{fhir_base.rstrip('/')}/Patient/{patient_id}", headers={"Accept": FHIR_JSON})
    except httpx.HTTPError:
        return False
    return r.status_code == 200
