"""Codes the CDS services use beyond fhir_mappers.codes: what counts as a retinal exam, which
draft orders the order hooks react to, card topics and override reasons.

Sources checked (2025):
- Retinal exam procedures: the CMS131 eCQM value set "Retinal or Dilated Eye Exam"
  (VSAC 2.16.840.1.113883.3.464.1003.115.12.1088, eCQM update 2025-05-08), the SNOMED CT
  procedures below with the value set's displays. 722161008 "Diabetic retinal eye exam" and
  20067007 "Ocular fundus photography" are also what our order suggestions request.
- CPT 92227/92228/92229 (remote retinal imaging for retinopathy, with physician review or
  point-of-care automated analysis) and 92250 (fundus photography): the AMA descriptors.
- Override reasons: the CDS Hooks "Non-Adherence Reason" code system
  (http://cds-hooks.hl7.org/CodeSystem/non-adherence-reason, trial use, from the AHRQ CDSiC
  override taxonomy), which the CDS Hooks specification suggests for overrideReasons.
"""

from __future__ import annotations

from fhir_mappers import codes as fhir_codes

SNOMED = fhir_codes.SNOMED
LOINC = fhir_codes.LOINC
CPT = "http://www.ama-assn.org/go/cpt"
NON_ADHERENCE_REASON = "http://cds-hooks.hl7.org/CodeSystem/non-adherence-reason"
CDS_TOPIC = f"{fhir_codes.DEEPDR_BASE}/CodeSystem/cds-topic"

Code = tuple[str, str]

DIABETIC_RETINAL_EXAM: Code = ("722161008", "Diabetic retinal eye exam")
FUNDUS_PHOTOGRAPHY: Code = ("20067007", "Ocular fundus photography")

# Procedures that show the retina was examined (a subset of CMS131's value set: the
# photographic and ophthalmoscopic exams; electroretinography and the like do not grade DR).
RETINAL_EXAM_PROCEDURES: dict[str, str] = {
    "722161008": "Diabetic retinal eye exam",
    "20067007": "Ocular fundus photography",
    "3047001": "Kowa fundus photography",
    "314971001": "Camera fundoscopy",
    "30842004": "Ophthalmoscopy with medical evaluation, extended, with fundus photography",
    "53524009": "Ophthalmoscopy",
    "410450009": "Direct ophthalmoscopy",
    "410451008": "Indirect ophthalmoscopy",
    "410452001": "Monocular indirect ophthalmoscopy",
    "410453006": "Binocular indirect ophthalmoscopy",
    "308110009": "Direct fundoscopy following mydriatic",
    "314972008": "Indirect fundoscopy following mydriatic",
    "410455004": "Slit lamp fundus examination",
    "274798009": "Examination of retina",
    "427478009": "Evaluation of retina",
    "252846004": "Scanning laser ophthalmoscopy",
    "391999003": "Confocal scanning laser ophthalmoscopy",
    "700070005": "Optical coherence tomography of retina",
    "18188000": "Ophthalmoscopy under general anesthesia",
}

RETINAL_IMAGING_CPT: dict[str, str] = {
    "92227": "Remote imaging for detection of retinal disease, with physician review",
    "92228": "Remote imaging for monitoring of retinal disease, with physician review",
    "92229": "Imaging of retina for detection of retinal disease, point-of-care automated",
    "92250": "Fundus photography with interpretation and report",
}

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
