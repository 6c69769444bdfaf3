"""The demo's DICOMweb route: some patients' photographs go to a PACS (Orthanc) as DICOM
Ophthalmic Photography instances with an ImagingStudy + Endpoint in the FHIR server,
instead of the Media / DocumentReference attachments the generator wrote, so the demo's
screenings read images all three ways. The generator stays as it is: its attachments are
taken out of the patient's transaction here, before loading."""

from __future__ import annotations

import copy
from typing import Any, Literal

from plugin.demo.builders import DEMO_IMAGE_SYSTEM
from plugin.demo.generate import DemoPatient
from plugin.demo.photos import Photo
from plugin.local_servers.dicom_testdata import FundusSource, LoadedStudy, load_fundus_study

# Scenarios whose photographs the demo serves over DICOMweb (the others keep theirs as
# Media or DocumentReference, as generated).
DICOMWEB_SCENARIOS: frozenset[str] = frozenset({"type1-young", "pregnant", "chinese-record"})
Route = Literal["DICOMweb", "Media", "DocumentReference", "none"]
_SIDE: dict[str, Literal["L", "R"]] = {"left": "L", "right": "R"}


def attachment_route(demo: DemoPatient) -> Route:
    """How the generator attached the patient's photographs."""
    kinds = {
        e["resource"]["resourceType"]
        for e in demo.bundle["entry"]
        if _photo_name(e["resource"]) is not None
    }
    if "DocumentReference" in kinds:
        return "DocumentReference"
    return "Media" if "Media" in kinds else "none"


def without_photos(demo: DemoPatient) -> dict[str, Any]:
    """The patient's transaction without the photograph attachments."""
    bundle = copy.deepcopy(demo.bundle)
    bundle["entry"] = [e for e in bundle["entry"] if _photo_name(e["resource"]) is None]
    return bundle


def load_photos_to_pacs(
    fhir: Any,
    dicomweb_url: str,
    patient_ref: str,
    photos: tuple[Photo, ...],
    pacs_auth: tuple[str, str] | None,
) -> LoadedStudy:
    """STOW-RS the photographs (one series per eye) and create the Endpoint + ImagingStudy."""
    sources = [FundusSource(p.path, _SIDE[p.eye]) for p in photos if p.eye in _SIDE]
    return load_fundus_study(fhir, dicomweb_url, patient_ref, sources, pacs_auth=pacs_auth)


def _photo_name(resource: dict[str, Any]) -> str | None:
    if resource.get("resourceType") not in ("Media", "DocumentReference"):
        return None
    for ident in resource.get("identifier") or []:
        if ident.get("system") == DEMO_IMAGE_SYSTEM:
            value = ident.get("value")
            return value if isinstance(value, str) else None
    return None
