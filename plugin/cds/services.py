"""Our CDS Services as data: what discovery advertises (ids, hooks, prefetch templates).

Services:
- `deepdr-patient-view` (patient-view): the patient's latest AI diabetic retinopathy
  screening result per eye, a referral suggestion when DR is referable, a retake card when
  an eye's photographs are ungradable, "grading in progress" while new photographs are
  graded in the background, and "screening due" for a diabetic patient with no retinal
  exam on record in 12 months.
- `deepdr-order-select` / `deepdr-order-sign` (order-select, order-sign): when a draft
  order is a retinal exam, fundus photography, remote retinal imaging or an ophthalmology
  referral, the AI result already on record for this patient (results from the grading
  cache only: ordering must stay fast, and photographs are graded at patient-view).
Not offered: encounter-start and appointment-book. patient-view already fires when the
chart opens in the encounter, so encounter-start would repeat the same cards; an
appointment being booked is no moment to act on a retinal result.

Prefetch templates use `patient=Patient/{{context.patientId}}` (what real servers and the
Medplum test server accept; a bare id matches nothing there). Only `patient` is required:
without it there is no patient to answer about (412); every other key may be missing,
null or an OperationOutcome, and the service then says less rather than fail.
"""

from __future__ import annotations

from cds_hooks.service import CdsService
from fhir_mappers import codes as fhir_codes
from plugin.cds import codes

PATIENT_VIEW_ID = "deepdr-patient-view"
ORDER_SELECT_ID = "deepdr-order-select"
ORDER_SIGN_ID = "deepdr-order-sign"

_PATIENT = "patient=Patient/{{context.patientId}}"


def _token_list(system: str, values: list[str]) -> str:
    return ",".join(f"{system}|{v}" for v in values)


def observation_codes() -> list[str]:
    """LOINC codes of every measurement the facts use, the smoking and pregnancy status
    questions, and the per-eye DR severity / macular edema results (exam evidence)."""
    found = [
        *fhir_codes.LOINC_MEASUREMENTS,
        *sorted(fhir_codes.LOINC_BP_PANELS),
        *sorted(fhir_codes.LOINC_SMOKING),
        *sorted(fhir_codes.LOINC_PREGNANCY),
        *sorted(codes.RETINAL_EXAM_OBSERVATIONS),
    ]
    return list(dict.fromkeys(found))


def _templates() -> dict[str, str]:
    report_code = f"{codes.LOINC}|{fhir_codes.LOINC_RETINAL_SCREENING_REPORT[0]}"
    exam_codes = _token_list(codes.SNOMED, list(codes.RETINAL_EXAM_PROCEDURES))
    exam_codes += "," + _token_list(codes.CPT, list(codes.RETINAL_EXAM_CPT))
    return {
        "patient": "Patient/{{context.patientId}}",
        "conditions": f"Condition?{_PATIENT}",
        "observations": f"Observation?{_PATIENT}&code="
        + _token_list(codes.LOINC, observation_codes()),
        "medications": f"MedicationRequest?{_PATIENT}&status=active",
        "imagingStudies": f"ImagingStudy?{_PATIENT}",
        "media": f"Media?{_PATIENT}",
        "documents": f"DocumentReference?{_PATIENT}&status=current",
        "reports": f"DiagnosticReport?{_PATIENT}&code={report_code}",
        "procedures": f"Procedure?{_PATIENT}&code={exam_codes}",
    }


PATIENT_VIEW_PREFETCH: dict[str, str] = _templates()
# Order hooks answer from what is already known: the images (for their identities) and
# our own reports.
ORDER_PREFETCH: dict[str, str] = {
    k: PATIENT_VIEW_PREFETCH[k]
    for k in ("patient", "conditions", "imagingStudies", "media", "documents", "reports")
}
REQUIRED_PREFETCH = frozenset({"patient"})

USAGE = (
    "Send fhirServer and fhirAuthorization (read access to the patient's record and its "
    "Binary/DICOMweb images), or fill every prefetch key. AI results are preliminary and "
    "for research and demonstration with the bundled reference model."
)

PATIENT_VIEW_DESCRIPTION = (
    "AI diabetic retinopathy screening from the patient's fundus photographs: per-eye "
    "grade and referable DR with a referral suggestion, image-quality retake alerts, and "
    "a reminder when a diabetic patient has no retinal exam in the last 12 months."
)
ORDER_DESCRIPTION = (
    "When a retinal exam, fundus photography or ophthalmology referral is being ordered, "
    "shows the AI diabetic retinopathy screening result already on record."
)


def patient_view_service() -> CdsService:
    return CdsService(
        id=PATIENT_VIEW_ID,
        hook="patient-view",
        title="DeepDR diabetic retinopathy screening",
        description=PATIENT_VIEW_DESCRIPTION,
        prefetch=PATIENT_VIEW_PREFETCH,
        usage_requirements=USAGE,
        required_prefetch=REQUIRED_PREFETCH,
    )


def order_services() -> list[CdsService]:
    return [
        CdsService(
            id=service_id,
            hook=hook,
            title="DeepDR retinal screening on record",
            description=ORDER_DESCRIPTION,
            prefetch=ORDER_PREFETCH,
            usage_requirements=USAGE,
            required_prefetch=REQUIRED_PREFETCH,
        )
        for service_id, hook in ((ORDER_SELECT_ID, "order-select"), (ORDER_SIGN_ID, "order-sign"))
    ]
