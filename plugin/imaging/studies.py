"""ImagingStudy -> DICOMweb -> RGB images, one per instance, each failure its own error."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from collections.abc import Collection, Mapping
from typing import Any

from pydicom.encaps import get_frame

from fhir_mappers.imaging import (
    IMAGE_SOP_CLASSES,
    ImagingMappingError,
    InstancePlan,
    SeriesPlan,
    StudyPlan,
    contained_resource,
    laterality_for_instance,
    plan_imaging_study,
    select_dicomweb_address,
)
from models.clinical_facts import ImageSourceKind
from plugin.imaging.config import ImagingSettings
from plugin.imaging.decode import (
    RGB,
    DicomHeader,
    can_decode,
    check_header,
    decode_compressed_frame,
    decode_dataset,
    decode_raw_frame,
    header_from_dataset,
    header_from_json,
    read_dicom,
    unpad_jpeg,
)
from plugin.imaging.dicomweb import (
    TS_ANY,
    TS_EXPLICIT_LE,
    TS_JPEG2000,
    TS_JPEG2000_LOSSLESS,
    TS_JPEG_BASELINE,
    DicomWebClient,
    json_value,
)
from plugin.imaging.fhir_source import FhirReader, fhir_call
from plugin.imaging.http import ImageHttp
from plugin.imaging.results import (
    FetchErrorCode,
    ImageFetchError,
    ImageFetchFailed,
    ImageFetchResult,
    RetrievedImage,
    SkippedSource,
)

log = logging.getLogger(__name__)
KIND = ImageSourceKind.IMAGING_STUDY


def pixel_sha256(rgb: RGB) -> str:
    """Hash of decoded pixels, shape included so equal bytes of another shape differ."""
    h = hashlib.sha256(f"{rgb.shape[0]}x{rgb.shape[1]}x{rgb.shape[2]}:".encode())
    h.update(rgb.tobytes())
    return h.hexdigest()


class StudyRetriever:
    def __init__(
        self,
        fhir: FhirReader,
        http: ImageHttp,
        settings: ImagingSettings,
        fhir_base_url: str | None = None,
    ) -> None:
        self._fhir = fhir
        self._http = http
        self._settings = settings
        self._fhir_base = fhir_base_url.rstrip("/") if fhir_base_url else None
        self._endpoint_cache: dict[str, Mapping[str, Any] | None] = {}

    # --- Endpoint -------------------------------------------------------------------------
    def _endpoint(self, ref: str, contained: tuple[Mapping[str, Any], ...]) -> Mapping[str, Any]:
        if ref.startswith("#"):
            found = contained_resource(contained, ref)
            if found is None:
                raise ImageFetchFailed(FetchErrorCode.INVALID_RESOURCE, f"contained {ref} missing")
            return found
        local = ref
        if self._fhir_base and ref.startswith(self._fhir_base + "/"):
            local = ref[len(self._fhir_base) + 1 :]
        parts = local.split("/")
        if len(parts) != 2 or parts[0] != "Endpoint" or not parts[1]:
            raise ImageFetchFailed(
                FetchErrorCode.INVALID_RESOURCE, "Endpoint reference is not Endpoint/<id> here"
            )
        if local not in self._endpoint_cache:
            self._endpoint_cache[local] = fhir_call(
                local, lambda: self._fhir.read("Endpoint", parts[1])
            )
        found = self._endpoint_cache[local]
        if not isinstance(found, Mapping):
            raise ImageFetchFailed(FetchErrorCode.FHIR_ERROR, f"{local} is not a resource")
        return found

    def dicomweb_base(self, refs: tuple[str, ...], plan: StudyPlan) -> str:
        """The first active dicom-wado-rs Endpoint among refs, else the configured base."""
        endpoints = []
        problems: list[ImageFetchFailed] = []
        for ref in refs:
            try:
                endpoints.append(self._endpoint(ref, plan.contained))
            except ImageFetchFailed as exc:
                problems.append(exc)
        address = select_dicomweb_address(endpoints)
        if address:
            return address
        if self._settings.default_dicomweb_base:
            return self._settings.default_dicomweb_base
        if problems:
            raise problems[0]
        raise ImageFetchFailed(
            FetchErrorCode.NO_ENDPOINT,
            "no dicom-wado-rs Endpoint on the study and no DICOMweb base configured",
        )

    # --- Study ----------------------------------------------------------------------------
    def retrieve(
        self,
        resource: Mapping[str, Any],
        only_series: Collection[str] | None = None,
        only_instances: Collection[str] | None = None,
    ) -> ImageFetchResult:
        result = ImageFetchResult()
        ref = f"ImagingStudy/{resource.get('id')}" if resource.get("id") else "ImagingStudy"
        try:
            plan = plan_imaging_study(resource)
        except ImagingMappingError as exc:
            result.errors.append(
                ImageFetchError(ref, ref, KIND, FetchErrorCode.INVALID_RESOURCE, str(exc))
            )
            return result
        for s in plan.skipped:
            result.skipped.append(SkippedSource(plan.source_ref, s.uid, s.reason))
        series_list = [s for s in plan.series if not only_series or s.uid in only_series]
        if not plan.series and not plan.skipped:
            series_list = self._series_from_qido(plan, result)
        for series in series_list:
            self._retrieve_series(plan, series, only_instances, result)
        return result

    def _series_from_qido(self, plan: StudyPlan, result: ImageFetchResult) -> list[SeriesPlan]:
        """A study that lists no series: ask QIDO-RS for its instances, keep OP series."""
        try:
            base = self.dicomweb_base(plan.endpoint_refs, plan)
            found = DicomWebClient(self._http, base).search_instances(plan.study_uid)
        except ImageFetchFailed as exc:
            result.errors.append(self._error(plan, plan.source_ref, exc))
            return []
        by_series: dict[str, list[InstancePlan]] = {}
        modality: dict[str, str | None] = {}
        for item in found:
            suid, iuid = json_value(item, "0020000E"), json_value(item, "00080018")
            if not isinstance(suid, str) or not isinstance(iuid, str):
                continue
            by_series.setdefault(suid, []).append(
                InstancePlan(iuid, json_value(item, "00080016"), None)
            )
            modality[suid] = json_value(item, "00080060")
        if not by_series:
            result.errors.append(
                ImageFetchError(
                    plan.source_ref,
                    plan.source_ref,
                    KIND,
                    FetchErrorCode.NO_INSTANCES,
                    "the study lists no series and DICOMweb found no instances",
                )
            )
        plans = []
        for suid, instances in by_series.items():
            if modality[suid] != "OP":
                reason = f"modality {modality[suid] or 'missing'} is not ophthalmic photography"
                result.skipped.append(SkippedSource(plan.source_ref, suid, reason))
                continue
            plans.append(SeriesPlan(suid, "OP", None, None, None, (), tuple(instances)))
        return plans

    def _retrieve_series(
        self,
        plan: StudyPlan,
        series: SeriesPlan,
        only_instances: Collection[str] | None,
        result: ImageFetchResult,
    ) -> None:
        series_id = f"{plan.source_ref}/{series.uid}"
        try:
            base = self.dicomweb_base(series.endpoint_refs or plan.endpoint_refs, plan)
            client = DicomWebClient(self._http, base)
            instances = series.instances or self._instances_from_qido(client, plan, series)
        except ImageFetchFailed as exc:
            result.errors.append(self._error(plan, series_id, exc))
            return
        if only_instances:
            instances = tuple(i for i in instances if i.uid in only_instances)
        limit = self._settings.limits.max_images_per_study
        for n, inst in enumerate(instances):
            image_id = f"{series_id}/{inst.uid}"
            if len(result.images) + len(result.errors) >= limit:
                result.errors.append(
                    self._error(
                        plan,
                        image_id,
                        ImageFetchFailed(
                            FetchErrorCode.TOO_LARGE,
                            f"study has more than {limit} images; {len(instances) - n} not fetched",
                        ),
                    )
                )
                break
            try:
                result.images.append(self._retrieve_instance(client, plan, series, inst, image_id))
            except ImageFetchFailed as exc:
                result.errors.append(self._error(plan, image_id, exc))

    def _instances_from_qido(
        self, client: DicomWebClient, plan: StudyPlan, series: SeriesPlan
    ) -> tuple[InstancePlan, ...]:
        found = client.search_instances(plan.study_uid, series.uid)
        out = []
        for item in found:
            iuid = json_value(item, "00080018")
            if isinstance(iuid, str):
                number = json_value(item, "00200013")
                out.append(
                    InstancePlan(
                        iuid,
                        json_value(item, "00080016"),
                        number if isinstance(number, int) else None,
                    )
                )
        if not out:
            raise ImageFetchFailed(
                FetchErrorCode.NO_INSTANCES,
                "the series lists no instances and DICOMweb found none",
            )
        return tuple(sorted(out, key=lambda i: (i.number is None, i.number or 0)))

    @staticmethod
    def _error(plan: StudyPlan, image_id: str, exc: ImageFetchFailed) -> ImageFetchError:
        return ImageFetchError(image_id, plan.source_ref, KIND, exc.code, exc.reason)

    # --- Instance -------------------------------------------------------------------------
    def _retrieve_instance(
        self,
        client: DicomWebClient,
        plan: StudyPlan,
        series: SeriesPlan,
        inst: InstancePlan,
        image_id: str,
    ) -> RetrievedImage:
        if inst.sop_class_uid and inst.sop_class_uid not in IMAGE_SOP_CLASSES:
            raise ImageFetchFailed(
                FetchErrorCode.NOT_AN_IMAGE,
                f"not an image: SOP class {inst.sop_class_uid} is not a photograph",
            )
        if self._settings.retrieve == "frames":
            try:
                rgb, header, encoded = self._via_frames(client, plan, series, inst)
            except ImageFetchFailed as exc:
                if exc.code not in (FetchErrorCode.UNSUPPORTED, FetchErrorCode.UNAVAILABLE):
                    raise
                log.info("frames retrieval not possible (%s); retrieving the instance", exc.code)
                rgb, header, encoded = self._via_instance(client, plan, series, inst)
        else:
            rgb, header, encoded = self._via_instance(client, plan, series, inst)
        lat = laterality_for_instance(series, header.image_laterality, header.laterality)
        return RetrievedImage(
            image_id=image_id,
            source_ref=plan.source_ref,
            source_kind=KIND,
            laterality=lat.laterality,
            laterality_source=lat.source.value,
            acquired=header.acquired or series.started or plan.started,
            rgb=rgb,
            sha256=pixel_sha256(rgb),
            encoded=encoded,
            content_type="image/jpeg" if encoded else None,
            notes=(lat.note,) if lat.note else (),
            study_uid=plan.study_uid,
            series_uid=series.uid,
            instance_uid=inst.uid,
            sop_class_uid=header.sop_class_uid,
            transfer_syntax_uid=header.transfer_syntax_uid,
        )

    def _via_instance(
        self, client: DicomWebClient, plan: StudyPlan, series: SeriesPlan, inst: InstancePlan
    ) -> tuple[RGB, DicomHeader, bytes | None]:
        """Stored transfer syntax first (no server-side transcoding, original JPEG bytes);
        explicit VR little endian if we cannot decode what is stored."""
        cap = self._settings.limits.max_download_bytes
        data = client.retrieve_instance(plan.study_uid, series.uid, inst.uid, TS_ANY, cap)
        ds = read_dicom(data)
        header = header_from_dataset(ds)
        check_header(header, self._settings.limits)
        if str(ds.get("SOPInstanceUID", "")) != inst.uid:
            raise ImageFetchFailed(FetchErrorCode.CORRUPT, "server returned a different instance")
        if not can_decode(header.transfer_syntax_uid):
            data = client.retrieve_instance(
                plan.study_uid, series.uid, inst.uid, TS_EXPLICIT_LE, cap
            )
            ds = read_dicom(data)
            header = header_from_dataset(ds)
        rgb = decode_dataset(ds, header, self._settings.limits)
        encoded = None
        if header.transfer_syntax_uid == TS_JPEG_BASELINE:
            encoded = unpad_jpeg(get_frame(ds.PixelData, 0, number_of_frames=header.frames))
        return rgb, header, encoded

    def _via_frames(
        self, client: DicomWebClient, plan: StudyPlan, series: SeriesPlan, inst: InstancePlan
    ) -> tuple[RGB, DicomHeader, bytes | None]:
        """Metadata first (sizes and SOP class checked before any pixel is downloaded), then
        frame 1 in the transfer syntax the photometric interpretation points to."""
        limits = self._settings.limits
        meta = client.retrieve_metadata(plan.study_uid, series.uid, inst.uid)
        header = header_from_json(meta)
        check_header(header, limits)
        ts = {
            "YBR_FULL_422": TS_JPEG_BASELINE,
            "YBR_RCT": TS_JPEG2000_LOSSLESS,
            "YBR_ICT": TS_JPEG2000,
        }.get(header.photometric, TS_EXPLICIT_LE)
        frame = client.retrieve_frames(
            plan.study_uid, series.uid, inst.uid, (1,), ts, limits.max_download_bytes
        )[0]
        header = dataclasses.replace(header, transfer_syntax_uid=frame.transfer_syntax or ts)
        if frame.media_type == "application/octet-stream":
            if ts != TS_EXPLICIT_LE:  # server decompressed: colour space no longer known
                raise ImageFetchFailed(FetchErrorCode.UNSUPPORTED, "server sent raw frame")
            return decode_raw_frame(frame.data, header, limits), header, None
        if frame.media_type in ("image/jpeg", "image/jp2"):
            rgb = decode_compressed_frame(frame.data, header, limits)
            return rgb, header, unpad_jpeg(frame.data) if frame.media_type == "image/jpeg" else None
        raise ImageFetchFailed(FetchErrorCode.UNSUPPORTED, f"frame media type {frame.media_type}")
