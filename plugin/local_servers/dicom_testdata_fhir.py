"""FHIR resources describing fundus images for tests and the demo: the dicom-wado-rs
Endpoint, the ImagingStudy matching what was stored in the PACS, and a Media with the
photograph inline or at a URL."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from fhir_mappers.codes import SNOMED
from fhir_mappers.imaging import (
    DICOM_UID_SYSTEM,
    DICOM_WADO_RS,
    ENDPOINT_CONNECTION_TYPE,
    RFC3986,
    SNOMED_LEFT_EYE,
    SNOMED_RIGHT_EYE,
    SNOMED_UNILATERAL_LEFT,
    SNOMED_UNILATERAL_RIGHT,
)
from fhir_mappers.imaging_attachments import sha1_b64

DCM_SYSTEM = "http://dicom.nema.org/resources/ontology/DCM"


def dicomweb_endpoint(address: str, name: str = "DICOMweb (WADO-RS)") -> dict[str, Any]:
    return {
        "resourceType": "Endpoint",
        "status": "active",
        "name": name,
        "connectionType": {"system": ENDPOINT_CONNECTION_TYPE, "code": DICOM_WADO_RS},
        "payloadType": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/endpoint-payload-type",
                        "code": "any",
                    }
                ]
            }
        ],
        "payloadMimeType": ["application/dicom"],
        "address": address.rstrip("/"),
    }


_EYE = {
    "L": (SNOMED_LEFT_EYE, "Left eye structure", SNOMED_UNILATERAL_LEFT, "Unilateral left"),
    "R": (SNOMED_RIGHT_EYE, "Right eye structure", SNOMED_UNILATERAL_RIGHT, "Unilateral right"),
}


@dataclass
class SeriesSpec:
    uid: str
    number: int
    laterality: Literal["L", "R"] | None  # written to ImagingStudy.series.laterality/bodySite
    instances: list[tuple[str, str]]  # (SOP instance UID, SOP class UID)
    modality: str = "OP"
    with_laterality: bool = True
    with_body_site: bool = True
    list_instances: bool = True  # False: the series lists none (the reader must use QIDO)


def imaging_study(
    *,
    patient_ref: str,
    study_uid: str,
    series: Sequence[SeriesSpec],
    endpoint_ref: str | None,
    started: datetime,
    status: str = "available",
) -> dict[str, Any]:
    """An R4 ImagingStudy describing what was stored in the PACS."""
    out_series = []
    for s in series:
        item: dict[str, Any] = {
            "uid": s.uid,
            "number": s.number,
            "modality": {"system": DCM_SYSTEM, "code": s.modality},
            "numberOfInstances": len(s.instances),
            "started": started.isoformat(),
        }
        if s.laterality and s.with_body_site:
            code, display, _, _ = _EYE[s.laterality]
            item["bodySite"] = {"system": SNOMED, "code": code, "display": display}
        if s.laterality and s.with_laterality:
            _, _, code, display = _EYE[s.laterality]
            item["laterality"] = {"system": SNOMED, "code": code, "display": display}
        if s.list_instances:
            item["instance"] = [
                {
                    "uid": iuid,
                    "sopClass": {"system": RFC3986, "code": f"urn:oid:{sop}"},
                    "number": n,
                }
                for n, (iuid, sop) in enumerate(s.instances, start=1)
            ]
        out_series.append(item)
    study: dict[str, Any] = {
        "resourceType": "ImagingStudy",
        "status": status,
        "identifier": [{"system": DICOM_UID_SYSTEM, "value": f"urn:oid:{study_uid}"}],
        "subject": {"reference": patient_ref},
        "started": started.isoformat(),
        "modality": sorted(
            ({"system": DCM_SYSTEM, "code": m} for m in {s.modality for s in series}),
            key=lambda c: c["code"],
        ),
        "numberOfSeries": len(series),
        "numberOfInstances": sum(len(s.instances) for s in series),
        "series": out_series,
    }
    if endpoint_ref:
        study["endpoint"] = [{"reference": endpoint_ref}]
    return study


def media_resource(
    patient_ref: str,
    jpeg: bytes,
    laterality: Literal["L", "R"] | None,
    *,
    url: str | None = None,
    created: datetime | None = None,
) -> dict[str, Any]:
    """An R4 Media with the photograph inline (or at `url`), size and SHA-1 stated."""
    attachment: dict[str, Any] = {
        "contentType": "image/jpeg",
        "size": len(jpeg),
        "hash": sha1_b64(jpeg),
    }
    if url:
        attachment["url"] = url
    else:
        attachment["data"] = base64.b64encode(jpeg).decode("ascii")
    media: dict[str, Any] = {
        "resourceType": "Media",
        "status": "completed",
        "type": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/media-type",
                    "code": "image",
                }
            ]
        },
        "modality": {"coding": [{"system": DCM_SYSTEM, "code": "OP"}]},
        "subject": {"reference": patient_ref},
        "createdDateTime": (created or datetime(2024, 1, 15, 9, 30)).isoformat(),
        "content": attachment,
    }
    if laterality:
        code, display, _, _ = _EYE[laterality]
        media["bodySite"] = {"coding": [{"system": SNOMED, "code": code, "display": display}]}
    return media
