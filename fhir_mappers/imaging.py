"""ImagingStudy and Endpoint (FHIR R4) -> what to retrieve over DICOMweb, and laterality rules.

Pure: no HTTP. The image layer (plugin/imaging) reads the resources through the FHIR gateway,
asks this module which instances to fetch from which DICOMweb base, and, once it has each
instance's DICOM header, asks it which eye the image shows.

Sources checked (R4): ImagingStudy.status registered|available|cancelled|entered-in-error|
unknown; series.modality and instance.sopClass are Codings (DICOM DCM modality codes;
SOP Class UIDs as `urn:oid:` URIs in system urn:ietf:rfc:3986); series.laterality is a Coding
from http://hl7.org/fhir/ValueSet/bodysite-laterality (SNOMED 419161000 unilateral left,
419465000 unilateral right, 51440002 bilateral); series.bodySite is a Coding (SNOMED body
structure: 8966001 left eye structure, 18944008 right eye structure, 40638003 structure of
both eyes). Endpoint.connectionType `dicom-wado-rs` in
http://terminology.hl7.org/CodeSystem/endpoint-connection-type; its address is the WADO-RS
base URL ({address}/studies/{uid}/...). DICOM ImageLaterality (0020,0062) is R|L|U|B and
Laterality (0020,0060) is R|L (PS3.3 C.7.6.2 / C.7.3.1).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from fhir_mappers.codes import SNOMED
from fhir_mappers.imaging_inputs import (
    CodeableConcept,
    Coding,
    EndpointIn,
    ImagingMappingError,
    ImagingStudyIn,
    StudySeries,
    parse_input,
)
from models.grader.result import Laterality

# --- DICOM --------------------------------------------------------------------------------
SOP_OPHTHALMIC_PHOTOGRAPHY_8BIT = "1.2.840.10008.5.1.4.1.1.77.1.5.1"
SOP_OPHTHALMIC_PHOTOGRAPHY_16BIT = "1.2.840.10008.5.1.4.1.1.77.1.5.2"
SOP_VL_PHOTOGRAPHIC_IMAGE = "1.2.840.10008.5.1.4.1.1.77.1.4"
SOP_SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"
SOP_ENCAPSULATED_PDF = "1.2.840.10008.5.1.4.1.1.104.1"
IMAGE_SOP_CLASSES: frozenset[str] = frozenset(
    {
        SOP_OPHTHALMIC_PHOTOGRAPHY_8BIT,
        SOP_OPHTHALMIC_PHOTOGRAPHY_16BIT,
        SOP_VL_PHOTOGRAPHIC_IMAGE,
        SOP_SECONDARY_CAPTURE,
    }
)
"""SOP classes whose pixels are a photograph we may grade; anything else is 'not an image'."""

DICOM_UID_SYSTEM = "urn:dicom:uid"  # ImagingStudy.identifier for the Study Instance UID
RFC3986 = "urn:ietf:rfc:3986"  # instance.sopClass system (value urn:oid:...)

# --- FHIR / terminology -------------------------------------------------------------------
ENDPOINT_CONNECTION_TYPE = "http://terminology.hl7.org/CodeSystem/endpoint-connection-type"
DICOM_WADO_RS = "dicom-wado-rs"
DICOM_MODALITY_OP = "OP"  # ophthalmic photography
DICOM_MODALITY_XC = "XC"  # external-camera photography

SNOMED_LEFT_EYE = "8966001"  # Left eye structure
SNOMED_RIGHT_EYE = "18944008"  # Right eye structure
SNOMED_BOTH_EYES = "40638003"  # Structure of both eyes
SNOMED_FUNDUS_LEFT_EYE = "723299002"  # Structure of fundus of left eye
SNOMED_EYE_REGION = "371398005"  # Eye region structure
SNOMED_EYE = "81745001"  # Eye structure (DICOM CID 4209 "Eye")
SNOMED_UNILATERAL_LEFT = "419161000"
SNOMED_UNILATERAL_RIGHT = "419465000"
SNOMED_BILATERAL = "51440002"
SNOMED_LEFT = "7771000"  # qualifier value "Left" (older laterality coding)
SNOMED_RIGHT = "24028007"  # qualifier value "Right"

_LEFT_CODES = frozenset(
    {SNOMED_LEFT_EYE, SNOMED_FUNDUS_LEFT_EYE, SNOMED_UNILATERAL_LEFT, SNOMED_LEFT}
)
_RIGHT_CODES = frozenset({SNOMED_RIGHT_EYE, SNOMED_UNILATERAL_RIGHT, SNOMED_RIGHT})
_BOTH_CODES = frozenset({SNOMED_BOTH_EYES, SNOMED_BILATERAL})
EYE_BODY_SITE_CODES: frozenset[str] = frozenset(
    {
        SNOMED_LEFT_EYE,
        SNOMED_RIGHT_EYE,
        SNOMED_BOTH_EYES,
        SNOMED_FUNDUS_LEFT_EYE,
        SNOMED_EYE_REGION,
        SNOMED_EYE,
    }
)
"""Body sites that make an XC (external camera) series an eye photograph."""


# --- Laterality ---------------------------------------------------------------------------
class LateralitySource(StrEnum):
    SERIES_LATERALITY = "ImagingStudy.series.laterality"
    DICOM_IMAGE_LATERALITY = "DICOM ImageLaterality (0020,0062)"
    DICOM_LATERALITY = "DICOM Laterality (0020,0060)"
    SERIES_BODY_SITE = "ImagingStudy.series.bodySite"
    RESOURCE_BODY_SITE = "bodySite"
    HINT = "image reference"
    NONE = "none"


@dataclass(frozen=True)
class LateralityResolution:
    laterality: Laterality
    source: LateralitySource
    note: str | None = None  # set whenever the answer is unknown or needed a judgement
    conflicting: bool = False  # sources named different eyes


def _side_of_code(code: str | None) -> str | None:
    if code in _LEFT_CODES:
        return "left"
    if code in _RIGHT_CODES:
        return "right"
    if code in _BOTH_CODES:
        return "both"
    return None


def side_of_coding(coding: Coding | Mapping[str, Any] | None) -> str | None:
    """'left' | 'right' | 'both' | None from a SNOMED laterality or eye body-site Coding."""
    if coding is None:
        return None
    c = coding if isinstance(coding, Coding) else parse_input(Coding, coding, "Coding")
    if c.system not in (None, SNOMED):
        return None
    return _side_of_code(c.code)


def side_of_concept(concept: CodeableConcept | Mapping[str, Any] | None) -> str | None:
    """The side a CodeableConcept names; None when absent or its codings disagree."""
    if concept is None:
        return None
    cc = (
        concept
        if isinstance(concept, CodeableConcept)
        else parse_input(CodeableConcept, concept, "CodeableConcept")
    )
    sides = {s for s in (side_of_coding(c) for c in cc.coding) if s}
    return sides.pop() if len(sides) == 1 else None


def side_of_dicom(value: object) -> str | None:
    """DICOM ImageLaterality / Laterality: R, L, B (both), U (unpaired) or empty."""
    v = str(value).strip().upper() if value is not None else ""
    return {"L": "left", "R": "right", "B": "both"}.get(v)


def resolve_laterality(
    candidates: Sequence[tuple[LateralitySource, str | None]],
) -> LateralityResolution:
    """First source (in the order given) that names one eye wins, unless two sources name
    different eyes: then the image's eye is unknown, because attributing findings to the
    wrong eye is worse than asking the clinician. "both" never decides an image's eye."""
    named = [(src, side) for src, side in candidates if side in ("left", "right")]
    if named:
        src, side = named[0]
        others = {s for _, s in named}
        if len(others) > 1:
            which = ", ".join(f"{s.value}={v}" for s, v in named)
            return LateralityResolution(
                Laterality.UNKNOWN,
                LateralitySource.NONE,
                f"conflicting laterality ({which}): eye unknown",
                conflicting=True,
            )
        return LateralityResolution(Laterality(side), src)
    if any(side == "both" for _, side in candidates):
        return LateralityResolution(
            Laterality.UNKNOWN, LateralitySource.NONE, "laterality says both eyes: eye unknown"
        )
    return LateralityResolution(
        Laterality.UNKNOWN, LateralitySource.NONE, "no laterality recorded: eye unknown"
    )


# --- Study plan ---------------------------------------------------------------------------
@dataclass(frozen=True)
class InstancePlan:
    uid: str
    sop_class_uid: str | None
    number: int | None


@dataclass(frozen=True)
class SeriesPlan:
    uid: str
    modality: str | None
    laterality_side: str | None  # from series.laterality
    body_site_side: str | None  # from series.bodySite
    started: date | None
    endpoint_refs: tuple[str, ...]  # series-level, preferred over the study's
    instances: tuple[InstancePlan, ...]  # empty: list them with QIDO-RS


@dataclass(frozen=True)
class SkippedSeries:
    uid: str
    reason: str


@dataclass(frozen=True)
class StudyPlan:
    source_ref: str  # "ImagingStudy/123"
    study_uid: str
    started: date | None
    endpoint_refs: tuple[str, ...]
    series: tuple[SeriesPlan, ...]
    skipped: tuple[SkippedSeries, ...]
    contained: tuple[Mapping[str, Any], ...]  # contained Endpoints live here


def sop_class_uid(coding: Coding | None) -> str | None:
    if coding is None or not coding.code:
        return None
    code = coding.code.strip()
    return code[len("urn:oid:") :] if code.startswith("urn:oid:") else code


def study_uid_of(study: ImagingStudyIn) -> str | None:
    for ident in study.identifier:
        if ident.system == DICOM_UID_SYSTEM and ident.value:
            v = ident.value.strip()
            return v[len("urn:oid:") :] if v.startswith("urn:oid:") else v
    return None


def parse_fhir_date(value: str | None) -> date | None:
    """The date part of a FHIR date/dateTime/instant (YYYY, YYYY-MM are too vague: None)."""
    if not value or len(value) < 10:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def _is_fundus_series(series: StudySeries, study_modalities: Sequence[str]) -> str | None:
    """None when the series holds fundus photographs; else the reason it does not."""
    modality = series.modality.code if series.modality else None
    if modality is None and len(study_modalities) == 1:
        modality = study_modalities[0]
    if modality == DICOM_MODALITY_OP:
        return None
    if modality == DICOM_MODALITY_XC:
        site = series.bodySite
        if site is not None and site.system in (None, SNOMED) and site.code in EYE_BODY_SITE_CODES:
            return None
        return "modality XC without an eye body site"
    return f"modality {modality or 'missing'} is not ophthalmic photography"


def plan_imaging_study(resource: Mapping[str, Any]) -> StudyPlan:
    """Which series/instances of an ImagingStudy are fundus photographs to retrieve."""
    study: ImagingStudyIn = parse_input(ImagingStudyIn, resource, "ImagingStudy")
    if study.resourceType != "ImagingStudy":
        raise ImagingMappingError(f"expected an ImagingStudy, got {study.resourceType}")
    ref = f"ImagingStudy/{study.id}" if study.id else "ImagingStudy"
    if study.status != "available":
        raise ImagingMappingError(f"{ref}: status is {study.status or 'missing'}, not available")
    uid = study_uid_of(study)
    if uid is None:
        raise ImagingMappingError(f"{ref}: no Study Instance UID (identifier system urn:dicom:uid)")
    modalities = [c.code for c in study.modality if c.code]
    plans: list[SeriesPlan] = []
    skipped: list[SkippedSeries] = []
    for s in study.series:
        why_not = _is_fundus_series(s, modalities)
        if why_not:
            skipped.append(SkippedSeries(s.uid, why_not))
            continue
        plans.append(
            SeriesPlan(
                uid=s.uid,
                modality=s.modality.code if s.modality else None,
                laterality_side=side_of_coding(s.laterality),
                body_site_side=side_of_coding(s.bodySite),
                started=parse_fhir_date(s.started),
                endpoint_refs=tuple(r.reference for r in s.endpoint if r.reference),
                instances=tuple(
                    InstancePlan(i.uid, sop_class_uid(i.sopClass), i.number) for i in s.instance
                ),
            )
        )
    return StudyPlan(
        source_ref=ref,
        study_uid=uid,
        started=parse_fhir_date(study.started),
        endpoint_refs=tuple(r.reference for r in study.endpoint if r.reference),
        series=tuple(plans),
        skipped=tuple(skipped),
        contained=study.contained,
    )


def laterality_for_instance(
    series: SeriesPlan, image_laterality: object = None, laterality: object = None
) -> LateralityResolution:
    """series.laterality -> DICOM ImageLaterality -> DICOM Laterality -> series.bodySite."""
    return resolve_laterality(
        [
            (LateralitySource.SERIES_LATERALITY, series.laterality_side),
            (LateralitySource.DICOM_IMAGE_LATERALITY, side_of_dicom(image_laterality)),
            (LateralitySource.DICOM_LATERALITY, side_of_dicom(laterality)),
            (LateralitySource.SERIES_BODY_SITE, series.body_site_side),
        ]
    )


# --- Endpoint -----------------------------------------------------------------------------
def dicomweb_address(resource: Mapping[str, Any]) -> str | None:
    """The WADO-RS base of an Endpoint, or None if it is not an active dicom-wado-rs one."""
    ep: EndpointIn = parse_input(EndpointIn, resource, "Endpoint")
    if ep.resourceType != "Endpoint" or not ep.address:
        return None
    if ep.status not in (None, "active"):
        return None
    ct = ep.connectionType
    if ct is None or ct.code != DICOM_WADO_RS or ct.system not in (None, ENDPOINT_CONNECTION_TYPE):
        return None
    address = ep.address.strip().rstrip("/")
    if not address.lower().startswith(("http://", "https://")):
        return None
    return address


def select_dicomweb_address(endpoints: Sequence[Mapping[str, Any]]) -> str | None:
    """First usable dicom-wado-rs address among the given Endpoints (in reference order)."""
    for ep in endpoints:
        try:
            address = dicomweb_address(ep)
        except ImagingMappingError:
            continue
        if address:
            return address
    return None


def contained_resource(
    contained: Sequence[Mapping[str, Any]], ref: str
) -> Mapping[str, Any] | None:
    """Resolve a '#id' reference against a resource's contained list."""
    if not ref.startswith("#"):
        return None
    for res in contained:
        if res.get("id") == ref[1:]:
            return res
    return None
