"""Test and demo data for the DICOMweb path: fundus JPEGs -> DICOM Ophthalmic Photography
8-bit instances -> STOW-RS into a PACS -> matching ImagingStudy + Endpoint in the FHIR server.

`load_fundus_study(...)` is what the demo calls. UIDs are derived from the patient, image
and transfer syntax, so loading the same data twice overwrites rather than duplicates.
"""

from __future__ import annotations

import io
import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, Protocol

import httpx
import numpy as np
from PIL import Image, JpegImagePlugin
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import UID, generate_uid

from fhir_mappers.imaging import (
    SOP_ENCAPSULATED_PDF,
    SOP_OPHTHALMIC_PHOTOGRAPHY_8BIT,
)
from plugin.local_servers.dicom_testdata_fhir import SeriesSpec, dicomweb_endpoint, imaging_study

TS_EXPLICIT_LE = UID("1.2.840.10008.1.2.1")
TS_JPEG_BASELINE = UID("1.2.840.10008.1.2.4.50")
TS_JPEG2000_LOSSLESS = UID("1.2.840.10008.1.2.4.90")
TransferSyntaxName = Literal["explicit-le", "jpeg-baseline", "jpeg2000-lossless"]
TRANSFER_SYNTAXES: dict[str, UID] = {
    "explicit-le": TS_EXPLICIT_LE,
    "jpeg-baseline": TS_JPEG_BASELINE,
    "jpeg2000-lossless": TS_JPEG2000_LOSSLESS,
}
SCT = "SCT"  # DICOM coding scheme designator for SNOMED CT
REPO_ROOT = Path(__file__).resolve().parents[2]
FUNDUS_SUBDIR = Path("fundus") / "srahim-dr600" / "images"


def data_dir() -> Path:
    """The shared data folder: $DEEPDR_DATA_DIR, else ../shared/data beside the repo."""
    env = os.environ.get("DEEPDR_DATA_DIR")
    return Path(env) if env else REPO_ROOT.parent / "shared" / "data"


def fundus_images_dir() -> Path:
    return data_dir() / FUNDUS_SUBDIR


class FhirWriter(Protocol):
    """The slice of the FHIR gateway the loader needs."""

    def create(self, resource: dict[str, Any]) -> Any: ...


def _code(value: str, scheme: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue = value
    item.CodingSchemeDesignator = scheme
    item.CodeMeaning = meaning
    return item


def _dicom_uid(*parts: str) -> UID:
    return generate_uid(entropy_srcs=["deepdr-fhir", *parts])


def make_op_instance(
    jpeg: bytes,
    *,
    patient_id: str,
    patient_name: str,
    study_uid: str,
    series_uid: str,
    instance_uid: str,
    laterality: Literal["L", "R"] | None,
    transfer_syntax: UID = TS_EXPLICIT_LE,
    acquired: datetime | None = None,
    series_number: int = 1,
    instance_number: int = 1,
) -> bytes:
    """A DICOM Ophthalmic Photography 8 Bit Image (PS3.3 A.39) from a JPEG photograph.

    explicit-le: the decoded RGB pixels; jpeg-baseline: the original JPEG bytes encapsulated
    unchanged; jpeg2000-lossless: the decoded pixels re-encoded losslessly with Pillow
    (reversible colour transform -> YBR_RCT). `laterality=None` omits ImageLaterality (a
    type 1 attribute: deliberately bad data for tests)."""
    acquired = acquired or datetime(2024, 1, 15, 9, 30)
    with Image.open(io.BytesIO(jpeg)) as im:
        if im.format != "JPEG":
            raise ValueError("source must be a JPEG")
        mono = im.mode == "L"
        sampling = JpegImagePlugin.get_sampling(im) if not mono else -1
        pixels = np.asarray(im.convert("L" if mono else "RGB"))
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.SOPClassUID = SOP_OPHTHALMIC_PHOTOGRAPHY_8BIT
    ds.SOPInstanceUID = instance_uid
    ds.ImageType = ["ORIGINAL", "PRIMARY"]
    # Patient / General Study / General Series / OP Series
    ds.PatientName = patient_name
    ds.PatientID = patient_id
    ds.PatientBirthDate = ""
    ds.PatientSex = ""
    ds.StudyInstanceUID = study_uid
    ds.StudyDate = acquired.strftime("%Y%m%d")
    ds.StudyTime = acquired.strftime("%H%M%S")
    ds.StudyID = "1"
    ds.AccessionNumber = ""
    ds.ReferringPhysicianName = ""
    ds.Modality = "OP"
    ds.SeriesInstanceUID = series_uid
    ds.SeriesNumber = series_number
    ds.Manufacturer = "DeepDR-FHIR test data"
    # General Image / OP Image / Multi-frame
    ds.InstanceNumber = instance_number
    ds.ContentDate = ds.StudyDate
    ds.ContentTime = ds.StudyTime
    ds.AcquisitionDateTime = acquired.strftime("%Y%m%d%H%M%S")
    ds.BurnedInAnnotation = "NO"
    ds.NumberOfFrames = 1
    ds.FrameIncrementPointer = 0x00181063  # Frame Time
    ds.FrameTime = 0
    ds.LossyImageCompression = "01"  # the source photograph was JPEG-compressed
    ds.LossyImageCompressionMethod = "ISO_10918_1"
    # Ocular Region Imaged: ImageLaterality (type 1) + Anatomic Region "Eye"
    if laterality is not None:
        ds.ImageLaterality = laterality
    ds.AnatomicRegionSequence = DicomSequence([_code("81745001", SCT, "Eye")])
    # Acquisition context and OP acquisition/photographic parameters (type 2: may be empty)
    ds.AcquisitionContextSequence = DicomSequence([])
    ds.PatientEyeMovementCommanded = ""
    ds.HorizontalFieldOfView = 45
    ds.RefractiveStateSequence = DicomSequence([])
    ds.EmmetropicMagnification = None
    ds.IntraOcularPressure = None
    ds.PupilDilated = ""
    ds.AcquisitionDeviceTypeCodeSequence = DicomSequence([_code("409899009", SCT, "Fundus camera")])
    ds.IlluminationTypeCodeSequence = DicomSequence([])
    ds.LightPathFilterTypeStackCodeSequence = DicomSequence([])
    ds.ImagePathFilterTypeStackCodeSequence = DicomSequence([])
    ds.LensesCodeSequence = DicomSequence([])
    ds.DetectorType = "CCD"
    # Image Pixel
    ds.Rows, ds.Columns = int(pixels.shape[0]), int(pixels.shape[1])
    ds.SamplesPerPixel = 1 if mono else 3
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    if not mono:
        ds.PlanarConfiguration = 0
    if transfer_syntax == TS_EXPLICIT_LE:
        ds.PhotometricInterpretation = "MONOCHROME2" if mono else "RGB"
        ds.PixelData = pixels.tobytes()
    elif transfer_syntax == TS_JPEG_BASELINE:
        ds.PhotometricInterpretation = (
            "MONOCHROME2" if mono else ("YBR_FULL" if sampling == 0 else "YBR_FULL_422")
        )
        ds.PixelData = encapsulate([jpeg])
    elif transfer_syntax == TS_JPEG2000_LOSSLESS:
        buf = io.BytesIO()
        Image.fromarray(pixels).save(
            buf, format="JPEG2000", irreversible=False, no_jp2=True, mct=0 if mono else 1
        )
        ds.PhotometricInterpretation = "MONOCHROME2" if mono else "YBR_RCT"
        ds.PixelData = encapsulate([buf.getvalue()])
    else:
        raise ValueError(f"unsupported transfer syntax {transfer_syntax}")
    if transfer_syntax.is_encapsulated:
        ds["PixelData"].VR = "OB"
    if mono:
        ds.PresentationLUTShape = "IDENTITY"
    return _part10(ds, transfer_syntax)


def make_pdf_instance(
    *, patient_id: str, patient_name: str, study_uid: str, series_uid: str, instance_uid: str
) -> bytes:
    """An Encapsulated PDF instance: a DICOM object that is not an image (for tests)."""
    ds = Dataset()
    ds.SOPClassUID = SOP_ENCAPSULATED_PDF
    ds.SOPInstanceUID = instance_uid
    ds.PatientName, ds.PatientID = patient_name, patient_id
    ds.StudyInstanceUID, ds.SeriesInstanceUID = study_uid, series_uid
    ds.Modality = "DOC"
    ds.SeriesNumber = 99
    ds.InstanceNumber = 1
    ds.StudyDate = ds.ContentDate = "20240115"
    ds.BurnedInAnnotation = "YES"
    ds.DocumentTitle = "Report"
    ds.MIMETypeOfEncapsulatedDocument = "application/pdf"
    pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    ds.EncapsulatedDocument = pdf + (b"\0" if len(pdf) % 2 else b"")
    return _part10(ds, TS_EXPLICIT_LE)


def _part10(ds: Dataset, transfer_syntax: UID) -> bytes:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = transfer_syntax
    ds.file_meta = meta
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


class StowError(RuntimeError):
    pass


def stow_rs(
    dicomweb_url: str,
    instances: Sequence[bytes],
    auth: tuple[str, str] | None = None,
    timeout_s: float = 60.0,
) -> dict[str, Any]:
    """STOW-RS (PS3.18 10.5): POST {base}/studies, multipart/related of application/dicom."""
    boundary = uuid.uuid4().hex
    body = io.BytesIO()
    for data in instances:
        body.write(f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode())
        body.write(data)
        body.write(b"\r\n")
    body.write(f"--{boundary}--\r\n".encode())
    r = httpx.post(
        f"{dicomweb_url.rstrip('/')}/studies",
        content=body.getvalue(),
        headers={
            "Content-Type": f'multipart/related; type="application/dicom"; boundary={boundary}',
            "Accept": "application/dicom+json",
        },
        auth=auth,
        timeout=timeout_s,
    )
    if r.status_code not in (200, 202):
        raise StowError(f"STOW-RS answered HTTP {r.status_code}")
    result: dict[str, Any] = r.json() if r.content else {}
    failed = result.get("00081198", {}).get("Value") or []
    if failed:
        raise StowError(f"STOW-RS refused {len(failed)} instance(s)")
    return result


# --- The loader the demo uses -------------------------------------------------------------
@dataclass(frozen=True)
class FundusSource:
    path: Path
    laterality: Literal["L", "R"]


@dataclass
class LoadedStudy:
    imaging_study_ref: str
    endpoint_ref: str
    study_uid: str
    transfer_syntax: str
    # (series UID, laterality, instance UIDs)
    series: list[tuple[str, str, list[str]]] = field(default_factory=list)
    instances: dict[str, bytes] = field(default_factory=dict)  # instance UID -> Part 10 bytes


def _created_ref(created: Any, resource_type: str) -> str:
    """The reference of what `create` returned: the resource, or the gateway's CreateResult."""
    created = getattr(created, "resource", created)
    rid = created.get("id") if isinstance(created, dict) else None
    if not rid:
        raise StowError(f"the FHIR server did not return the created {resource_type}'s id")
    return f"{resource_type}/{rid}"


def load_fundus_study(
    fhir: FhirWriter,
    dicomweb_url: str,
    patient_ref: str,
    sources: Sequence[FundusSource],
    *,
    patient_id: str | None = None,
    patient_name: str = "Demo^Patient",
    transfer_syntax: TransferSyntaxName = "jpeg-baseline",
    pacs_auth: tuple[str, str] | None = None,
    endpoint_address: str | None = None,
    acquired: datetime | None = None,
) -> LoadedStudy:
    """Fundus JPEGs -> OP instances (one series per eye) -> STOW-RS into the PACS ->
    an Endpoint (dicom-wado-rs, address `endpoint_address` or `dicomweb_url`) and an
    ImagingStudy for `patient_ref` in the FHIR server. DICOM PatientID is `patient_id`
    (default: the FHIR Patient id) so both sides identify the same patient."""
    if not sources:
        raise ValueError("no fundus images given")
    ts = TRANSFER_SYNTAXES[transfer_syntax]
    pid = patient_id or patient_ref.split("/", 1)[-1]
    acquired = acquired or datetime(2024, 1, 15, 9, 30)
    study_uid = _dicom_uid(pid, "study", transfer_syntax, *(str(s.path.name) for s in sources))
    loaded = LoadedStudy("", "", study_uid, str(ts))
    specs: list[SeriesSpec] = []
    eyes: tuple[Literal["L", "R"], ...] = ("R", "L")
    for number, eye in enumerate(eyes, start=1):
        mine = [s for s in sources if s.laterality == eye]
        if not mine:
            continue
        series_uid = _dicom_uid(study_uid, "series", eye)
        spec = SeriesSpec(series_uid, number, eye, [])
        for n, src in enumerate(mine, start=1):
            iuid = _dicom_uid(series_uid, src.path.name)
            loaded.instances[iuid] = make_op_instance(
                src.path.read_bytes(),
                patient_id=pid,
                patient_name=patient_name,
                study_uid=study_uid,
                series_uid=series_uid,
                instance_uid=iuid,
                laterality=eye,
                transfer_syntax=ts,
                acquired=acquired,
                series_number=number,
                instance_number=n,
            )
            spec.instances.append((iuid, SOP_OPHTHALMIC_PHOTOGRAPHY_8BIT))
        specs.append(spec)
        loaded.series.append((series_uid, eye, [i for i, _ in spec.instances]))
    stow_rs(dicomweb_url, list(loaded.instances.values()), auth=pacs_auth)
    endpoint = fhir.create(dicomweb_endpoint(endpoint_address or dicomweb_url))
    loaded.endpoint_ref = _created_ref(endpoint, "Endpoint")
    study = fhir.create(
        imaging_study(
            patient_ref=patient_ref,
            study_uid=study_uid,
            series=specs,
            endpoint_ref=loaded.endpoint_ref,
            started=acquired,
        )
    )
    loaded.imaging_study_ref = _created_ref(study, "ImagingStudy")
    return loaded
