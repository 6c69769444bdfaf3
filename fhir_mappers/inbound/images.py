"""Fundus image references (no pixels): ImagingStudy, Media, DocumentReference.

  * ImagingStudy (status available or unstated): series with modality OP (ophthalmic
    photography), or XC / no modality with an eye body site; one reference per instance
    (per series when instances are not listed), with the study/series/instance UIDs and the
    Endpoint (its WADO-RS address when the Endpoint is in the input).
  * Media (status completed or unstated): an image attachment (contentType image/*, or a
    .jpg/.png url, or JPEG/PNG base64 data) with a sign it shows an eye: modality OP/XC,
    an eye body site, or "fundus"/"retina"/"eye" in its type, view, title or notes.
  * DocumentReference (status current or unstated): each image attachment, when the
    document's type/category/description/title or practice setting says fundus/retina/eye.
Laterality: SNOMED eye body sites (8966001 left, 18944008 right), the laterality value set
(419161000 / 419465000) and DICOM CID 244 (7771000 / 24028007), then words (left/right,
OS/OD). Both eyes or no sign: unknown.
"""

from __future__ import annotations

import re

from fhir_mappers import codes
from fhir_mappers.inbound.context import MappingContext
from fhir_mappers.inbound.fhir_json import (
    JsonObj,
    codings,
    concept_text,
    obj,
    objs,
    parse_time,
    period_start,
    status_code,
    text,
)
from models.clinical_facts import ImageRef, ImageSourceKind

_EYE_WORDS = re.compile(
    r"fundus|fundal|retina|retinal|\beyes?\b|ophthalm|optic disc|\bo[dsu]\b"
    r"|眼底|视网膜|眼科|左眼|右眼|双眼"
)
_LEFT = re.compile(r"\bleft\b|\bos\b|左眼|左侧")
_RIGHT = re.compile(r"\bright\b|\bod\b|右眼|右侧")
_IMAGE_EXT = re.compile(r"\.(?:jpe?g|png|tiff?|dcm)(?:\?|$)", re.I)


def _side_of_codes(*concepts: JsonObj | None) -> str | None:
    for concept in concepts:
        for c in codings(concept):
            if c.code in codes.SNOMED_EYE_SIDE:
                return codes.SNOMED_EYE_SIDE[c.code]
    return None


def _is_eye_site(*concepts: JsonObj | None) -> bool:
    return any(
        c.code in codes.SNOMED_EYE_SIDE or c.code in codes.SNOMED_EYE_UNSIDED
        for concept in concepts
        for c in codings(concept)
    ) or any(_EYE_WORDS.search(concept_text(x)) for x in concepts if x)


def _side_of_words(*labels: str) -> str:
    joined = " ".join(label.lower() for label in labels if label)
    left, right = bool(_LEFT.search(joined)), bool(_RIGHT.search(joined))
    if left != right:
        return "left" if left else "right"
    return "unknown"


def _laterality(concepts: tuple[JsonObj | None, ...], labels: tuple[str, ...]) -> str:
    return _side_of_codes(*concepts) or _side_of_words(*labels)


def _image_type(att: JsonObj) -> str | None:
    """The attachment's image content type, or None when it is not an image."""
    ct = (text(att, "contentType") or "").split(";")[0].strip().lower()
    if ct.startswith("image/") or ct == "application/dicom":
        return ct
    if ct:
        return None
    url = text(att, "url") or ""
    if _IMAGE_EXT.search(url):
        return None if url.lower().endswith(".dcm") else "image/*"
    data = text(att, "data") or ""
    if data.startswith("/9j/"):
        return "image/jpeg"
    if data.startswith("iVBOR"):
        return "image/png"
    return None


def _uid(value: str | None) -> str | None:
    if not value:
        return None
    return value[len("urn:oid:") :] if value.startswith("urn:oid:") else value


def imaging_study_refs(resource: JsonObj, ctx: MappingContext) -> list[ImageRef]:
    ref = ctx.ref(resource)
    status = status_code(resource, "status")
    if status not in (None, "available"):
        if status in ("entered-in-error", "cancelled"):
            ctx.warn(ref, f"ignored (status {status})")
        return []
    study_uid = next(
        (
            _uid(text(i, "value"))
            for i in objs(resource, "identifier")
            if text(i, "system") == "urn:dicom:uid"
        ),
        None,
    )
    started = parse_time(resource.get("started"))
    day = started.day if started else None
    study_modalities = {(text(m, "code") or "").upper() for m in objs(resource, "modality")}
    study_endpoint = next((text(e, "reference") for e in objs(resource, "endpoint")), None)
    out: list[ImageRef] = []
    series_list = objs(resource, "series")
    for series in series_list:
        modality = (text(obj(series, "modality"), "code") or "").upper()
        body, lat = obj(series, "bodySite"), obj(series, "laterality")
        eye = _is_eye_site(body, lat) or _EYE_WORDS.search(text(series, "description") or "")
        if not (modality == "OP" or (modality in ("XC", "") and eye)):
            continue
        side = _laterality((lat, body), (text(series, "description") or "",))
        endpoint_ref = next(
            (text(e, "reference") for e in objs(series, "endpoint")), study_endpoint
        )
        base = _endpoint_address(endpoint_ref, ctx)
        series_uid = text(series, "uid")
        instances = objs(series, "instance") or ({},)
        for inst in instances:
            inst_uid = text(inst, "uid")
            url = None
            if base and study_uid and series_uid and inst_uid:
                url = f"{base}/studies/{study_uid}/series/{series_uid}/instances/{inst_uid}"
            out.append(
                ImageRef(
                    source=ref,
                    date=day,
                    kind=ImageSourceKind.IMAGING_STUDY,
                    laterality=side,
                    url=url,
                    study_uid=study_uid,
                    series_uid=series_uid,
                    instance_uid=inst_uid,
                    endpoint=base or endpoint_ref,
                )
            )
    if not series_list and "OP" in study_modalities:
        base = _endpoint_address(study_endpoint, ctx)
        out.append(
            ImageRef(
                source=ref,
                date=day,
                kind=ImageSourceKind.IMAGING_STUDY,
                study_uid=study_uid,
                endpoint=base or study_endpoint,
            )
        )
    return out


def _endpoint_address(endpoint_ref: str | None, ctx: MappingContext) -> str | None:
    endpoint = ctx.index.resolve(endpoint_ref) if endpoint_ref else None
    address = text(endpoint, "address") if endpoint else None
    return address.rstrip("/") if address else None


def media_refs(resource: JsonObj, ctx: MappingContext) -> list[ImageRef]:
    ref = ctx.ref(resource)
    status = status_code(resource, "status")
    if status in ("entered-in-error", "not-done", "stopped"):
        if status == "entered-in-error":
            ctx.warn(ref, "ignored (status entered-in-error)")
        return []
    out: list[ImageRef] = []
    body, modality = obj(resource, "bodySite"), obj(resource, "modality")
    labels = (
        concept_text(obj(resource, "type")),
        concept_text(obj(resource, "view")),
        concept_text(modality),
        " ".join(text(n, "text") or "" for n in objs(resource, "note")),
    )
    created = parse_time(resource.get("createdDateTime")) or period_start(
        resource.get("createdPeriod")
    )
    created = created or parse_time(resource.get("issued"))
    for att in objs(resource, "content"):
        ctype = _image_type(att)
        if ctype is None:
            continue
        title = text(att, "title") or ""
        ophthalmic = any(c.code.upper() == "OP" for c in codings(modality))
        eye = _is_eye_site(body) or any(_EYE_WORDS.search(x) for x in (*labels, title.lower()))
        if not (eye or (ophthalmic and body is None)):
            ctx.warn(ref, "image with no sign it shows an eye; ignored")
            continue
        # A coded body site is the best evidence of the eye; then the title and the labels.
        side = _laterality((body,), (concept_text(body),))
        if side == "unknown":
            side = _side_of_words(title, *labels)
        out.append(
            ImageRef(
                source=ref,
                date=created.day if created else None,
                kind=ImageSourceKind.MEDIA,
                laterality=side,
                url=text(att, "url"),
                content_type=ctype,
            )
        )
    return out


def document_refs(resource: JsonObj, ctx: MappingContext) -> list[ImageRef]:
    ref = ctx.ref(resource)
    status = status_code(resource, "status")
    doc_status = status_code(resource, "docStatus")
    if "entered-in-error" in (status, doc_status):
        ctx.warn(ref, "ignored (status entered-in-error)")
        return []
    if status not in (None, "current"):
        return []
    context = obj(resource, "context")
    body = obj(resource, "bodySite")  # R5 element; some R4 senders add it anyway
    labels = [
        concept_text(obj(resource, "type")),
        " ".join(concept_text(c) for c in objs(resource, "category")),
        (text(resource, "description") or "").lower(),
        concept_text(obj(context, "practiceSetting")),
        concept_text(obj(context, "facilityType")),
        " ".join(concept_text(c) for c in objs(context, "event")),
    ]
    when = parse_time(resource.get("date")) or period_start(obj(context, "period"))
    out: list[ImageRef] = []
    for content in objs(resource, "content"):
        att = obj(content, "attachment")
        if att is None:
            continue
        ctype = _image_type(att)
        if ctype is None:
            continue
        title = text(att, "title") or ""
        eye = _is_eye_site(body) or any(_EYE_WORDS.search(x) for x in (*labels, title.lower()))
        if not eye:
            ctx.warn(ref, "image with no sign it shows an eye; ignored")
            continue
        # The attachment's own title says most about its eye; then the document.
        side = _side_of_words(title)
        if side == "unknown":
            side = _laterality((body,), tuple(labels))
        out.append(
            ImageRef(
                source=ref,
                date=when.day if when else None,
                kind=ImageSourceKind.DOCUMENT_REFERENCE,
                laterality=side,
                url=text(att, "url"),
                content_type=ctype,
            )
        )
    return out
