"""Every code system URI and code we read or write, in one place.

Inbound code sets (labs, conditions, smoking) are owned by the inbound mappers; outbound
codes (what our DiagnosticReport/Observations/CarePlan carry) by the outbound mappers.
Each code was checked against its source (LOINC, SNOMED CT, HL7 terminology); the comment
beside a code says what it is.
"""

from __future__ import annotations

# --- Code systems -------------------------------------------------------------------------
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
ICD10_CM = "http://hl7.org/fhir/sid/icd-10-cm"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
ATC = "http://www.whocc.no/atc"
DICOM_DCM = "http://dicom.nema.org/resources/ontology/DCM"
V3_ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
V3_OBSERVATION_VALUE = "http://terminology.hl7.org/CodeSystem/v3-ObservationValue"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
DIAGNOSTIC_SERVICE_SECTION = "http://terminology.hl7.org/CodeSystem/v2-0074"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_VER_STATUS = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
PROVENANCE_PARTICIPANT_TYPE = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"
DATA_OPERATION = "http://terminology.hl7.org/CodeSystem/v3-DataOperation"
SIGNATURE_TYPE = "urn:iso-astm:E1762-95:2013"

# Our own identifier namespaces (business identifiers on everything we create).
DEEPDR_BASE = "https://deepdr-fhir.org/fhir"
DEEPDR_IDENTIFIER = f"{DEEPDR_BASE}/identifier"
DEEPDR_CODES = f"{DEEPDR_BASE}/CodeSystem/deepdr"

# --- Inbound: observations we read (fhir_mappers.inbound) ---------------------------------
# (Condition codes -- SNOMED CT lists and ICD-10 rules -- are in fhir_mappers/inbound/
# condition_codes.py: a few hundred entries that would crowd this shared module.)
# LOINC code -> (measurement name in models.clinical_facts.CANONICAL_UNITS, the unit the code
# implies when the EHR sends a bare number, or None when the code allows several units).
# Checked against LOINC names and public value sets (VSAC HbA1c/eGFR/UACR lists, US Core).
LOINC_MEASUREMENTS: dict[str, tuple[str, str | None]] = {
    # HbA1c
    "4548-4": ("hba1c", "%"),  # Hemoglobin A1c/Hemoglobin.total in Blood
    "17856-6": ("hba1c", "%"),  # ... by HPLC
    "4549-2": ("hba1c", "%"),  # ... by Electrophoresis
    "17855-8": ("hba1c", "%"),  # ... by calculation
    "71875-9": ("hba1c", "%"),  # ... [Pure mass fraction]
    "96595-4": ("hba1c", "%"),  # ... in DBS
    "59261-8": ("hba1c", "mmol/mol"),  # ... by IFCC protocol
    "62388-4": ("hba1c", "%"),  # ... by JDS/JSCC protocol (converted to NGSP, see below)
    # Fasting glucose
    "1558-6": ("fasting_glucose", "mg/dL"),  # Fasting glucose [Mass/volume] in Serum or Plasma
    "14771-0": ("fasting_glucose", "mmol/L"),  # Fasting glucose [Moles/volume] in Ser/Plas
    "76629-5": ("fasting_glucose", "mmol/L"),  # Fasting glucose [Moles/volume] in Blood
    "77145-1": ("fasting_glucose", "mmol/L"),  # Fasting glucose [Moles/vol] in Ser/Plas/Bld
    "1556-0": ("fasting_glucose", "mg/dL"),  # Fasting glucose [Mass/volume] in Capillary blood
    "41604-0": ("fasting_glucose", "mg/dL"),  # ... in Capillary blood by Glucometer
    "14770-2": ("fasting_glucose", "mmol/L"),  # ... [Moles/volume] in Cap blood by Glucometer
    "35184-1": ("fasting_glucose", None),  # Fasting glucose [Mass or Moles/volume] Ser/Plas
    # Blood pressure (standalone or as components of 85354-9 / 55284-4 / 35094-2 panels)
    "8480-6": ("sbp", "mm[Hg]"),  # Systolic blood pressure
    "8459-0": ("sbp", "mm[Hg]"),  # Systolic blood pressure--sitting
    "8460-8": ("sbp", "mm[Hg]"),  # Systolic blood pressure--standing
    "8461-6": ("sbp", "mm[Hg]"),  # Systolic blood pressure--supine
    "76534-7": ("sbp", "mm[Hg]"),  # Systolic blood pressure by Noninvasive
    "8462-4": ("dbp", "mm[Hg]"),  # Diastolic blood pressure
    "8453-3": ("dbp", "mm[Hg]"),  # Diastolic blood pressure--sitting
    "8454-1": ("dbp", "mm[Hg]"),  # Diastolic blood pressure--standing
    "8455-8": ("dbp", "mm[Hg]"),  # Diastolic blood pressure--supine
    "76535-4": ("dbp", "mm[Hg]"),  # Diastolic blood pressure by Noninvasive
    # Heart rate, body measures
    "8867-4": ("heart_rate", "/min"),  # Heart rate
    "8889-8": ("heart_rate", "/min"),  # Heart rate by Pulse oximetry
    "8893-0": ("heart_rate", "/min"),  # Heart rate Peripheral artery by palpation
    "39156-5": ("bmi", "kg/m2"),  # Body mass index (BMI) [Ratio]
    "8302-2": ("height", None),  # Body height
    "8306-3": ("height", None),  # Body height --lying
    "8308-9": ("height", None),  # Body height --standing
    "3137-7": ("height", None),  # Body height Measured
    "3138-5": ("height", None),  # Body height Stated
    "29463-7": ("weight", None),  # Body weight
    "3141-9": ("weight", None),  # Body weight Measured
    "3142-7": ("weight", None),  # Body weight Stated
    # Lipids
    "2093-3": ("total_cholesterol", "mg/dL"),  # Cholesterol [Mass/volume] in Serum or Plasma
    "14647-2": ("total_cholesterol", "mmol/L"),  # Cholesterol [Moles/volume] in Ser/Plas
    "13457-7": ("ldl", "mg/dL"),  # Cholesterol in LDL [Mass/volume] by calculation
    "18262-6": ("ldl", "mg/dL"),  # Cholesterol in LDL [Mass/volume] by Direct assay
    "2089-1": ("ldl", "mg/dL"),  # Cholesterol in LDL [Mass/volume] in Serum or Plasma
    "96259-7": ("ldl", "mg/dL"),  # Cholesterol in LDL [Mass/volume] by Martin-Hopkins calc
    "22748-8": ("ldl", "mmol/L"),  # Cholesterol in LDL [Moles/volume] in Serum or Plasma
    "39469-2": ("ldl", "mmol/L"),  # Cholesterol in LDL [Moles/volume] by calculation
    "69419-0": ("ldl", "mmol/L"),  # Cholesterol in LDL [Moles/volume] by Direct assay
    "2085-9": ("hdl", "mg/dL"),  # Cholesterol in HDL [Mass/volume] in Serum or Plasma
    "14646-4": ("hdl", "mmol/L"),  # Cholesterol in HDL [Moles/volume] in Serum or Plasma
    "2571-8": ("triglycerides", "mg/dL"),  # Triglyceride [Mass/volume] in Serum or Plasma
    "3043-7": ("triglycerides", "mg/dL"),  # Triglyceride [Mass/volume] in Blood
    "14927-8": ("triglycerides", "mmol/L"),  # Triglyceride [Moles/volume] in Serum or Plasma
    # eGFR (GFR/1.73 sq M.predicted, every equation)
    "33914-3": ("egfr", "mL/min/{1.73_m2}"),  # MDRD, Serum or Plasma
    "48642-3": ("egfr", "mL/min/{1.73_m2}"),  # MDRD among non-blacks
    "48643-1": ("egfr", "mL/min/{1.73_m2}"),  # MDRD among blacks
    "50044-7": ("egfr", "mL/min/{1.73_m2}"),  # MDRD among females
    "70969-1": ("egfr", "mL/min/{1.73_m2}"),  # MDRD among males
    "77147-7": ("egfr", "mL/min/{1.73_m2}"),  # MDRD, Serum/Plasma/Blood
    "62238-1": ("egfr", "mL/min/{1.73_m2}"),  # CKD-EPI (2009)
    "88293-6": ("egfr", "mL/min/{1.73_m2}"),  # CKD-EPI among blacks
    "88294-4": ("egfr", "mL/min/{1.73_m2}"),  # CKD-EPI among non-blacks
    "98979-8": ("egfr", "mL/min/{1.73_m2}"),  # CKD-EPI 2021 (creatinine)
    "98980-6": ("egfr", "mL/min/{1.73_m2}"),  # CKD-EPI 2021 (creatinine and cystatin C)
    "94677-2": ("egfr", "mL/min/{1.73_m2}"),  # creatinine and cystatin C based
    "50210-4": ("egfr", "mL/min/{1.73_m2}"),  # Cystatin-based formula
    "50384-7": ("egfr", "mL/min/{1.73_m2}"),  # Schwartz (children)
    "69405-9": ("egfr", "mL/min/{1.73_m2}"),  # GFR/1.73 sq M.predicted (method unstated)
    # Urine albumin/creatinine ratio
    "9318-7": ("uacr", "mg/g"),  # Albumin/Creatinine [Mass Ratio] in Urine
    "14959-1": ("uacr", "mg/g"),  # Microalbumin/Creatinine [Mass Ratio] in Urine
    "14958-3": ("uacr", "mg/g"),  # Microalbumin/Creatinine [Mass Ratio] in 24 hour Urine
    "13705-9": ("uacr", "mg/g"),  # Albumin/Creatinine [Mass Ratio] in 24 hour Urine
    "44292-1": ("uacr", "mg/g"),  # Microalbumin/Creatinine [Mass Ratio] by detection limit
    "32294-1": ("uacr", None),  # Albumin/Creatinine [Ratio] in Urine
    "30000-4": ("uacr", None),  # Microalbumin/Creatinine [Ratio] in Urine
    "14585-4": ("uacr", None),  # Albumin/Creatinine [Molar ratio] in Urine
    "59159-4": ("uacr", None),  # Microalbumin/Creatinine [Ratio] (as in VSAC UACR lists)
    "76401-9": ("uacr", None),  # Albumin/Creatinine [Ratio] in 24 hour Urine
    "77253-3": ("uacr", None),  # Microalbumin/Creatinine [Ratio] by Test strip
    "77254-1": ("uacr", None),  # Microalbumin/Creatinine [Ratio] by Test strip (semi-quant.)
    "89998-9": ("uacr", None),  # Albumin/Creatinine [Ratio] by Test strip
    # Liver enzymes
    "1742-6": ("alt", "U/L"),  # Alanine aminotransferase [Enzymatic activity/volume] Ser/Plas
    "1743-4": ("alt", "U/L"),  # ... with P-5'-P
    "76625-3": ("alt", "U/L"),  # ... in Blood
    "1920-8": ("ast", "U/L"),  # Aspartate aminotransferase [Enzymatic activity/volume] Ser/Plas
    "30239-8": ("ast", "U/L"),  # ... with P-5'-P
    "2324-2": ("ggt", "U/L"),  # Gamma glutamyl transferase [Enzymatic activity/volume]
}
LOINC_HBA1C_JDS = "62388-4"
"""JDS/JSCC HbA1c (Japan before 2012): NGSP % = 1.02 * JDS % + 0.25 (JDS 2012 equation)."""
LOINC_BP_PANELS = frozenset({"85354-9", "55284-4", "35094-2"})

# Smoking status: observation codes and their answers (SNOMED or LOINC LA) -> status.
LOINC_SMOKING = frozenset({"72166-2", "11367-0"})  # Tobacco smoking status; History of tobacco use
SMOKING_ANSWERS: dict[str, str] = {
    # SNOMED CT
    "449868002": "current",  # Smokes tobacco daily (current every day smoker)
    "428041000124106": "current",  # Occasional tobacco smoker (current some day smoker)
    "77176002": "current",  # Smoker
    "65568007": "current",  # Cigarette smoker
    "428071000124103": "current",  # Current heavy tobacco smoker
    "428061000124105": "current",  # Current light tobacco smoker
    "56578002": "current",  # Moderate smoker
    "56771006": "current",  # Heavy smoker
    "160603005": "current",  # Light cigarette smoker
    "160604004": "current",  # Moderate cigarette smoker
    "160605003": "current",  # Heavy cigarette smoker
    "230059006": "current",  # Occasional cigarette smoker
    "59978006": "current",  # Cigar smoker
    "82302008": "current",  # Pipe smoker
    "8517006": "former",  # Ex-smoker
    "160617001": "former",  # Stopped smoking
    "48031000119106": "former",  # Ex-smoker for more than 1 year
    "735128000": "former",  # Ex-smoker for less than 1 year
    "266919005": "never",  # Never smoked tobacco
    "221000119102": "never",  # Never smoked any substance
    "266927001": "unknown",  # Tobacco smoking consumption unknown
    "8392000": "unknown",  # Non-smoker: current non-smoker, former or never -- not stated
    # LOINC answer list LL2201-3
    "LA18976-3": "current",  # Current every day smoker
    "LA18977-1": "current",  # Current some day smoker
    "LA18981-3": "current",  # Heavy tobacco smoker
    "LA18982-1": "current",  # Light tobacco smoker
    "LA15920-4": "former",  # Former smoker
    "LA18978-9": "never",  # Never smoker
    "LA18979-7": "unknown",  # Smoker, current status unknown
    "LA18980-5": "unknown",  # Unknown if ever smoked
}

# Pregnancy status observations and their answers -> pregnant (True) / not (False) / unknown.
LOINC_PREGNANCY = frozenset({"82810-3", "11449-6"})  # Pregnancy status; Pregnancy status--Reported
PREGNANCY_ANSWERS: dict[str, bool | None] = {
    "LA15173-0": True,  # Pregnant
    "LA26683-5": False,  # Not pregnant
    "LA4489-6": None,  # Unknown
    "77386006": True,  # Pregnant (SNOMED)
    "60001007": False,  # Not pregnant (SNOMED)
    "261665006": None,  # Unknown (SNOMED)
}

# Eye body sites and laterality (SNOMED), for fundus image references.
SNOMED_EYE_SIDE: dict[str, str] = {
    "8966001": "left",  # Left eye structure
    "18944008": "right",  # Right eye structure
    "723299002": "left",  # Structure of fundus of left eye
    "419161000": "left",  # Unilateral left (bodysite-laterality value set)
    "419465000": "right",  # Unilateral right
    "7771000": "left",  # Left (DICOM CID 244)
    "24028007": "right",  # Right (DICOM CID 244)
}
SNOMED_EYE_UNSIDED = frozenset({"40638003", "81745001", "51440002"})
"""Structure of both eyes; Eye structure; Bilateral: an eye, side not stated."""

# --- Outbound: what our write-back carries (fhir_mappers.outbound) ------------------------
# Sources checked (2025): loinc.org answer list LL2117-1 (used by 71490-7 / 71491-5); VSAC
# value set 2.16.840.1.113883.3.464.1003.1266 (CMS131 "Diabetic Retinopathy Severity Level",
# same five LA codes); HL7 AI Transparency IG (AIAST); HL7 Ophthalmology IG (report category);
# HL7 FHIR R4 value sets. Where no standard code could be verified we use DEEPDR_CODES rather
# than guess a SNOMED id.
V3_OBSERVATION_INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
DATA_ABSENT_REASON = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
DEEPDR_WRITE_KEY = f"{DEEPDR_BASE}/CodeSystem/write-key"
"""meta.tag system carrying a Provenance's idempotency key (R4 Provenance has no identifier)."""
DEEPDR_ADVICE_RULE = f"{DEEPDR_BASE}/CodeSystem/advice-rule"
DEEPDR_ADVICE_SECTION = f"{DEEPDR_BASE}/CodeSystem/advice-section"

Code = tuple[str, str]
"""(code, display)."""

# DR severity per eye, "by Ophthalmoscopy" (ordinal, answer list LL2117-1). No fundus-photo
# specific per-eye LOINC exists; CMS131 (eCQM diabetic eye exam) reads these same codes.
LOINC_DR_SEVERITY: dict[str, Code] = {
    "left": ("71490-7", "Left eye Diabetic retinopathy severity level by Ophthalmoscopy"),
    "right": ("71491-5", "Right eye Diabetic retinopathy severity level by Ophthalmoscopy"),
}
LOINC_DR_SEVERITY_ANSWERS: tuple[Code, ...] = (
    ("LA18643-9", "No apparent retinopathy"),
    ("LA18644-7", "Mild non-proliferative retinopathy"),
    ("LA18645-4", "Moderate non-proliferative retinopathy"),
    ("LA18646-2", "Severe non-proliferative retinopathy"),
    ("LA18648-8", "Proliferative retinopathy"),
)
"""Indexed by ICDR grade 0..4. LL2117-1 has no LA18647-0: proliferative is LA18648-8."""
LOINC_MACULAR_EDEMA: dict[str, Code] = {
    "left": ("71488-1", "Left eye Macular edema by Ophthalmoscopy"),
    "right": ("71489-9", "Right eye Macular edema by Ophthalmoscopy"),
}
# Report code: "Retinal eye screening report Document" (order and observation). Not 105914-6:
# LOINC defines that term for FDA-cleared autonomous AI, which our reference model is not.
LOINC_RETINAL_SCREENING_REPORT: Code = ("103592-2", "Retinal eye screening report Document")

# SNOMED CT. Present/Absent qualifiers: as in HL7 IG value sets; eye sites: HL7 Ophthalmology
# IG body-site value set (descendants of 371398005); 394594003: the Ophthalmology IG's fixed
# DiagnosticReport.category; 698360004: Synthea/Android FHIR diabetes care plans; 3457005:
# root of the FHIR "SNOMED CT Patient Referral" value set.
SNOMED_PRESENT: Code = ("52101004", "Present")
SNOMED_ABSENT: Code = ("2667000", "Absent")
SNOMED_EYE_SITE: dict[str, Code] = {
    "left": ("8966001", "Left eye structure"),
    "right": ("18944008", "Right eye structure"),
}
SNOMED_OPHTHALMOLOGY: Code = ("394594003", "Ophthalmology")
SNOMED_DIABETES_SELF_MANAGEMENT_PLAN: Code = ("698360004", "Diabetes self management plan")
SNOMED_PATIENT_REFERRAL: Code = ("3457005", "Patient referral")

AIAST: Code = ("AIAST", "Artificial Intelligence asserted")  # in V3_OBSERVATION_VALUE
INTERPRETATION_POSITIVE: Code = ("POS", "Positive")
INTERPRETATION_NEGATIVE: Code = ("NEG", "Negative")
OBSERVATION_CATEGORY_EXAM: Code = ("exam", "Exam")
OBSERVATION_CATEGORY_IMAGING: Code = ("imaging", "Imaging")
DATA_ABSENT_UNKNOWN: Code = ("unknown", "Unknown")
PROVENANCE_AUTHOR: Code = ("author", "Author")
DATA_OPERATION_CREATE: Code = ("CREATE", "create")

# Our own codes (DEEPDR_CODES): no verified LOINC/SNOMED concept for these.
DEEPDR_OUTBOUND: dict[str, str] = {
    "dr-severity": "Diabetic retinopathy severity (ICDR), eye not specified",
    "macular-edema": "Macular edema, eye not specified",
    "referable-dr": "Referable diabetic retinopathy",
    "image-quality": "Fundus image quality",
    "gradable": "Gradable",
    "ungradable": "Ungradable",
    "quality-score": "Image quality score",
    "probability": "Model probability",
    "retinal-lesions": "Retinal lesions on fundus photograph",
    "lesion-MA": "Microaneurysms",
    "lesion-HE": "Retinal haemorrhages",
    "lesion-EX": "Hard exudates",
    "lesion-SE": "Soft exudates (cotton-wool spots)",
    "icdr-0-probability": "Probability of ICDR grade 0 (no apparent retinopathy)",
    "icdr-1-probability": "Probability of ICDR grade 1 (mild NPDR)",
    "icdr-2-probability": "Probability of ICDR grade 2 (moderate NPDR)",
    "icdr-3-probability": "Probability of ICDR grade 3 (severe NPDR)",
    "icdr-4-probability": "Probability of ICDR grade 4 (proliferative DR)",
    "referable-dr-suspected": "Referable diabetic retinopathy suspected",
    "no-referable-dr": "No referable diabetic retinopathy detected",
    "ungradable-eye": "At least one eye ungradable",
    "ophthalmology-referral": "Referral to ophthalmology",
    "fundus-grader": "Fundus image grading model",
    "advice-engine": "Diabetes management advice engine",
}
