"""Reading a patient's record through the FHIR gateway: the searches (as data, so the CDS
prefetch templates can mirror them), paging, fallbacks for servers that refuse a form, and
the mapping to ClinicalFacts.

Search forms: every search is `patient=Patient/<id>` (what real servers accept; Medplum's
matches no bare id). Observation is searched by patient alone, newest first: category is
optional in R4 and many records leave it out, and a LOINC code list long enough for our
facts makes an unwieldy URL; newest first means a record cut at the page cap loses only old
values (the facts keep the latest). Servers that refuse a form (HTTP 400, e.g. one that
requires a category) get the next form listed.

Required searches (Patient, Condition, Observation, MedicationRequest) fail the read when
they fail: advice drafted on a record missing its diagnoses or labs would be wrong. The
others (statements, procedures, images, our prior reports) are recorded as warnings when
the server does not offer them or refuses us.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from fhir_mappers import codes
from fhir_mappers.inbound import FhirInputError, clinical_facts_from_fhir
from fhir_mappers.outbound.identifiers import IDENTIFIER_SYSTEMS
from plugin.fhir.errors import FhirAuthError, FhirInvalid, FhirNotFound
from plugin.fhir.gateway import FhirGateway, SearchResult
from plugin.workflow.errors import InvalidRequest, PatientNotFound
from plugin.workflow.types import JSON, PatientRecord, PriorReport

PAGE_SIZE = 100
MAX_PAGES = 20
MAX_MEDICATION_READS = 50
OUR_REPORT_SYSTEM = IDENTIFIER_SYSTEMS["DiagnosticReport"]
_PATIENT_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
_MEDICATION_REF = re.compile(r"^Medication/([A-Za-z0-9\-.]{1,64})$")

Params = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class RecordSearch:
    resource_type: str
    # Extra parameters beside patient= and _count=, one tuple per form, tried in order.
    forms: tuple[Params, ...] = ((),)
    required: bool = False


RECORD_SEARCHES: tuple[RecordSearch, ...] = (
    RecordSearch("Condition", required=True),
    RecordSearch(
        "Observation",
        forms=(
            (("_sort", "-date"),),
            (),
            (("category", "laboratory,vital-signs,social-history,survey"),),
        ),
        required=True,
    ),
    RecordSearch("MedicationRequest", required=True),
    RecordSearch("MedicationStatement"),
    # Retinal exams (CMS131 procedures, CPT) and palliative / hospice care; newest first.
    RecordSearch("Procedure", forms=((("_sort", "-date"),), ())),
    RecordSearch("ImagingStudy"),
    RecordSearch("Media"),
    RecordSearch("DocumentReference"),
    # Our own earlier screening reports (their LOINC code; filtered on our identifier system).
    RecordSearch(
        "DiagnosticReport",
        forms=((("code", f"{codes.LOINC}|{codes.LOINC_RETINAL_SCREENING_REPORT[0]}"),), ()),
    ),
)


def parse_patient_ref(value: str) -> str:
    """ "123" or "Patient/123" -> "Patient/123"; anything else is an InvalidRequest."""
    text = value.strip() if isinstance(value, str) else ""
    pid = text.removeprefix("Patient/")
    if not _PATIENT_ID.match(pid):
        raise InvalidRequest("patient must be a FHIR id or a reference like Patient/123")
    return f"Patient/{pid}"


def read_record(gateway: FhirGateway, patient_ref: str, as_of: date) -> PatientRecord:
    """Reads the patient and every RECORD_SEARCHES search (all pages up to MAX_PAGES), the
    Medications its requests reference, and maps them. FhirErrors other than the handled
    ones pass through."""
    patient_ref = parse_patient_ref(patient_ref)
    pid = patient_ref.split("/", 1)[1]
    try:
        patient = gateway.read("Patient", pid)
    except FhirNotFound:
        raise PatientNotFound(f"{patient_ref} was not found on the FHIR server") from None
    resources: list[JSON] = []
    warnings: list[str] = []
    for search in RECORD_SEARCHES:
        resources += _search(gateway, search, patient_ref, warnings)
    resources += _referenced_medications(gateway, resources, warnings)
    return build_record(patient_ref, patient, resources, as_of, warnings)


def build_record(
    patient_ref: str,
    patient: JSON,
    resources: Iterable[JSON],
    as_of: date,
    warnings: Sequence[str] = (),
) -> PatientRecord:
    """The record from resources already at hand (a search, or CDS Hooks prefetch)."""
    patient_ref = parse_patient_ref(patient_ref)
    everything = [patient, *(r for r in resources if r.get("resourceType") != "Patient")]
    try:
        facts = clinical_facts_from_fhir(
            everything, as_of=as_of, patient_id=patient_ref.split("/", 1)[1]
        )
    except FhirInputError as exc:
        raise InvalidRequest(f"the record cannot be read: {exc}") from None
    reports = [
        report
        for res in everything
        if _subject(res) == patient_ref and (report := prior_report(res)) is not None
    ]
    return PatientRecord(
        patient_ref=patient_ref,
        patient=patient,
        resources=tuple(everything[1:]),
        facts=facts,
        prior_reports=tuple(sorted(reports, key=lambda r: (r.effective or date.min, r.reference))),
        warnings=tuple(warnings),
    )


def _subject(resource: JSON | None) -> str | None:
    ref = (resource or {}).get("subject", {})
    value = ref.get("reference") if isinstance(ref, dict) else None
    if not isinstance(value, str):
        return None
    m = re.search(r"(Patient/[A-Za-z0-9\-.]{1,64})$", value)
    return m.group(1) if m else value


def prior_report(resource: JSON) -> PriorReport | None:
    """Our DiagnosticReport (by our identifier system), else None."""
    if resource.get("resourceType") != "DiagnosticReport" or not resource.get("id"):
        return None
    idents = resource.get("identifier")
    if not isinstance(idents, list) or not any(
        isinstance(i, dict) and i.get("system") == OUR_REPORT_SYSTEM for i in idents
    ):
        return None
    effective = resource.get("effectiveDateTime") or (resource.get("effectivePeriod") or {}).get(
        "start"
    )
    conclusion = [
        c.get("code")
        for cc in resource.get("conclusionCode") or []
        if isinstance(cc, dict)
        for c in cc.get("coding") or []
        if isinstance(c, dict) and c.get("system") == codes.DEEPDR_CODES
    ]
    status = resource.get("status")
    return PriorReport(
        reference=f"DiagnosticReport/{resource['id']}",
        status=status if isinstance(status, str) else None,
        effective=_date(effective),
        issued=_datetime(resource.get("issued")),
        conclusion_codes=tuple(c for c in conclusion if isinstance(c, str)),
    )


def _date(value: Any) -> date | None:
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def _datetime(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _search(
    gateway: FhirGateway, search: RecordSearch, patient_ref: str, warnings: list[str]
) -> list[JSON]:
    rtype = search.resource_type
    result: SearchResult | None = None
    for i, form in enumerate(search.forms):
        params = [("patient", patient_ref), *form, ("_count", str(PAGE_SIZE))]
        try:
            result = gateway.search(rtype, params, max_pages=MAX_PAGES)
            break
        except (FhirInvalid, FhirNotFound, FhirAuthError) as exc:
            last = i == len(search.forms) - 1
            if isinstance(exc, FhirInvalid) and not last:
                continue  # the server refuses this form; try the next
            if search.required:
                raise
            warnings.append(f"{rtype} search failed ({type(exc).__name__}); none read")
            return []
    if result is None:
        return []
    if result.truncated:
        warnings.append(
            f"{rtype} search stopped after {result.pages} pages; older resources not read"
        )
    return [r for r in result.resources if r.get("resourceType") == rtype]


def _referenced_medications(
    gateway: FhirGateway, resources: list[JSON], warnings: list[str]
) -> list[JSON]:
    wanted: list[str] = []
    for r in resources:
        ref = (r.get("medicationReference") or {}).get("reference")
        m = _MEDICATION_REF.match(ref) if isinstance(ref, str) else None
        if m and m.group(1) not in wanted:
            wanted.append(m.group(1))
    if len(wanted) > MAX_MEDICATION_READS:
        warnings.append(f"{len(wanted)} Medications referenced; first {MAX_MEDICATION_READS} read")
    out: list[JSON] = []
    for mid in wanted[:MAX_MEDICATION_READS]:
        try:
            out.append(gateway.read("Medication", mid))
        except (FhirNotFound, FhirAuthError, FhirInvalid) as exc:
            warnings.append(f"Medication/{mid} could not be read ({type(exc).__name__})")
    return out
