"""The image layer's entry point: a patient's (or a ClinicalFacts' image references')
fundus images -> ImageFetchResult (RGB images + per-image errors + what was skipped).

    with ImageFetcher(gateway, settings, fhir_base_url=..., fhir_token=...) as fetcher:
        result = fetcher.fetch_for_patient("Patient/123")
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

import httpx

from models.clinical_facts import ImageRef, ImageSourceKind
from plugin.imaging.attachments import AttachmentRetriever
from plugin.imaging.config import ImagingSettings
from plugin.imaging.fhir_source import FhirReader, fhir_call, resources_of
from plugin.imaging.http import ImageHttp, TokenProvider
from plugin.imaging.results import (
    FetchErrorCode,
    ImageFetchError,
    ImageFetchFailed,
    ImageFetchResult,
)
from plugin.imaging.studies import StudyRetriever

log = logging.getLogger(__name__)

# Patient-scoped searches (R4 search parameters: ImagingStudy.patient, Media.patient,
# DocumentReference.patient).
PATIENT_SEARCHES: tuple[tuple[str, str], ...] = (
    ("ImagingStudy", "patient"),
    ("Media", "patient"),
    ("DocumentReference", "patient"),
)


class ImageFetcher:
    def __init__(
        self,
        fhir: FhirReader,
        settings: ImagingSettings | None = None,
        *,
        fhir_base_url: str | None = None,
        fhir_token: TokenProvider | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._fhir = fhir
        self._settings = settings or ImagingSettings()
        self._http = ImageHttp(
            self._settings, fhir_base_url=fhir_base_url, fhir_token=fhir_token, transport=transport
        )
        self._studies = StudyRetriever(fhir, self._http, self._settings, fhir_base_url)
        self._attachments = AttachmentRetriever(fhir, self._http, self._settings, fhir_base_url)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ImageFetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def fetch_resource(
        self,
        resource: Mapping[str, Any],
        *,
        only_series: Sequence[str] | None = None,
        only_instances: Sequence[str] | None = None,
        laterality_hint: str | None = None,
    ) -> ImageFetchResult:
        rtype = resource.get("resourceType") if isinstance(resource, Mapping) else None
        if rtype == "ImagingStudy":
            return self._studies.retrieve(resource, only_series, only_instances)
        if rtype in ("Media", "DocumentReference"):
            return self._attachments.retrieve(resource, laterality_hint)
        result = ImageFetchResult()
        result.errors.append(
            ImageFetchError(
                str(rtype),
                str(rtype),
                None,
                FetchErrorCode.INVALID_RESOURCE,
                f"{rtype} is not an image source",
            )
        )
        return result

    def fetch_for_patient(self, patient_ref: str) -> ImageFetchResult:
        """Every ImagingStudy, Media and DocumentReference of the patient ("Patient/123")."""
        if not patient_ref.startswith("Patient/") or len(patient_ref) <= len("Patient/"):
            raise ValueError("patient_ref must look like Patient/<id>")
        result = ImageFetchResult()
        for rtype, param in PATIENT_SEARCHES:
            try:
                found = fhir_call(
                    f"{rtype} search", partial(self._fhir.search, rtype, [(param, patient_ref)])
                )
            except ImageFetchFailed as exc:
                kind = ImageSourceKind(rtype)
                result.errors.append(ImageFetchError(rtype, rtype, kind, exc.code, exc.reason))
                continue
            if getattr(found, "truncated", False):
                result.errors.append(
                    ImageFetchError(
                        rtype,
                        rtype,
                        ImageSourceKind(rtype),
                        FetchErrorCode.TOO_LARGE,
                        f"more {rtype} results than the search pages read; some not fetched",
                    )
                )
            for resource in resources_of(found):
                if resource.get("resourceType") == rtype:
                    result.extend(self.fetch_resource(resource))
        return result

    def fetch_refs(self, refs: Sequence[ImageRef]) -> ImageFetchResult:
        """The images behind ClinicalFacts.images: each source resource is read once; an
        ImagingStudy reference narrowed to a series/instance fetches only those."""
        result = ImageFetchResult()
        grouped: dict[str, list[ImageRef]] = {}
        for ref in refs:
            grouped.setdefault(ref.source, []).append(ref)
        for source, group in grouped.items():
            kind = group[0].kind
            rtype, _, rid = source.partition("/")
            if rtype != kind.value or not rid or "/" in rid:
                result.errors.append(
                    ImageFetchError(
                        source,
                        source,
                        kind,
                        FetchErrorCode.INVALID_RESOURCE,
                        "bad source reference",
                    )
                )
                continue
            try:
                resource = fhir_call(source, partial(self._fhir.read, rtype, rid))
            except ImageFetchFailed as exc:
                result.errors.append(ImageFetchError(source, source, kind, exc.code, exc.reason))
                continue
            if not isinstance(resource, Mapping):
                result.errors.append(
                    ImageFetchError(
                        source, source, kind, FetchErrorCode.FHIR_ERROR, "read returned no resource"
                    )
                )
                continue
            whole = any(r.series_uid is None and r.instance_uid is None for r in group)
            series = None if whole else [r.series_uid for r in group if r.series_uid]
            instances = (
                None
                if whole or any(r.instance_uid is None for r in group)
                else [r.instance_uid for r in group if r.instance_uid]
            )
            hints = {r.laterality for r in group if r.laterality in ("left", "right")}
            hint = hints.pop() if len(hints) == 1 else None
            result.extend(
                self.fetch_resource(
                    resource, only_series=series, only_instances=instances, laterality_hint=hint
                )
            )
        return result
