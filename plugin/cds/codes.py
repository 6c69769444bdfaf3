"""Codes the CDS services use beyond fhir_mappers.codes: what counts as a retinal exam, which
draft orders the order hooks react to, card topics and override reasons.

Sources checked (2025):
- Retinal exam procedures (SNOMED CT and CPT): one list, in fhir_mappers.inbound.advice_codes
  (its sources are named there). 722161008 "Diabetic retinal eye exam" and 20067007 "Ocular
  fundus photography" are also what our order suggestions request.
- Override reasons: the CDS Hooks "Non-Adherence Reason" code system
  (http://cds-hooks.hl7.org/CodeSystem/non-adherence-reason, trial use, from the AHRQ CDSiC
  override taxonomy), which the CDS Hooks specification suggests for overrideReasons.
"""

from __future__ import annotations

from collections.abc import Mapping

from fhir_mappers import codes as fhir_codes
from fhir_mappers.inbound import advice_codes

SNOMED = fhir_codes.SNOMED
LOINC = fhir_codes.LOINC
CPT = advice_codes.CPT_SYSTEM
NON_ADHERENCE_REASON = "http://cds-hooks.hl7.org/CodeSystem/non-adherence-reason"
CDS_TOPIC = f"{fhir_codes.DEEPDR_BASE}/CodeSystem/cds-topic"

Code = tuple[str, str]

DIABETIC_RETINAL_EXAM: Code = ("722161008", "Diabetic retinal eye exam")
FUNDUS_PHOTOGRAPHY: Code = ("20067007", "Ocular fundus photography")

# Procedures that show the retina was examined: the one list the inbound mappers also use for
# last_eye_exam (CMS131's photographic and ophthalmoscopic exams, SNOMED 134395001, CPT 92227-
# 92229 / 92250 and CPT II 2022F-2026F / 2033F; electroretinography and the like left out:
# they do not grade DR).
RETINAL_EXAM_PROCEDURES: Mapping[str, str] = advice_codes.SNOMED_EYE_EXAM_PROCEDURES
RETINAL_EXAM_CPT: Mapping[str, str] = advice_codes.CPT_EYE_EXAM

# Observations that record a retinal exam's result: DR severity and macular edema per eye.
RETINAL_EXAM_OBSERVATIONS: frozenset[str] = frozenset(
    {c for c, _ in fhir_codes.LOINC_DR_SEVERITY.values()}
    | {c for c, _ in fhir_codes.LOINC_MACULAR_EDEMA.values()}
)

OPHTHALMOLOGY: Code = fhir_codes.SNOMED_OPHTHALMOLOGY
PATIENT_REFERRAL: Code = fhir_codes.SNOMED_PATIENT_REFERRAL

# Card topics (no standard set exists; CDS Hooks leaves topics to services).
TOPICS: dict[str, str] = {
    "dr-result": "Diabetic retinopathy AI screening result",
    "dr-image-quality": "Fundus image quality",
    "dr-grading-pending": "Diabetic retinopathy AI grading in progress",
    "dr-images-unavailable": "Fundus images unavailable for AI grading",
    "dr-screening-due": "Diabetic retinopathy screening due",
    "dr-screening-recent": "Diabetic retinopathy screening already on record",
}

# Override reasons offered on cards with a suggestion: (code, display) from the CDS Hooks
# Non-Adherence Reason code system.
REFERRAL_OVERRIDE_REASONS: tuple[Code, ...] = (
    ("indication-order-exists", "Patient has indication/order for intended action"),
    ("action-completed", "Recommended action was already completed"),
    (
        "need-more-info",
        "Could not address recommended action due to need for more information/"
        "pending results/pending consult",
    ),
    ("recipient-does-not-trust", "Recipient does not agree with or trust the recommended action"),
    ("limited-time", "Could not address recommended action due to limited time"),
    ("patient-refuses", "Patient refuses/declines (no context given)*"),
)
SCREENING_OVERRIDE_REASONS: tuple[Code, ...] = (
    ("action-completed", "Recommended action was already completed"),
    ("indication-order-exists", "Patient has indication/order for intended action"),
    ("patient-ineligible", "Patient does not meet eligibility for recommended action"),
    ("limited-time", "Could not address recommended action due to limited time"),
    ("patient-refuses", "Patient refuses/declines (no context given)*"),
)
