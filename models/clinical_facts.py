"""ClinicalFacts: the typed, unit-normalised clinical picture the advice model reads.

Lives in `models/` because the models consume it; `fhir_mappers` produces it from FHIR.
Every value carries its date and the reference of the resource it came from, so a
clinician can see where each fact came from and an auditor can trace it.

Canonical units (what `Measurement.value` is in):
    hba1c %, fasting_glucose mmol/L, sbp/dbp mmHg, heart_rate /min, bmi kg/m2,
    height cm, weight kg, total_cholesterol/ldl/hdl/triglycerides mmol/L,
    egfr mL/min/1.73m2, uacr mg/g, alt/ast/ggt U/L.
"""

from __future__ import annotations

import datetime as _dt
from datetime import date
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

CANONICAL_UNITS: dict[str, str] = {
    "hba1c": "%",
    "fasting_glucose": "mmol/L",
    "sbp": "mm[Hg]",
    "dbp": "mm[Hg]",
    "heart_rate": "/min",
    "bmi": "kg/m2",
    "height": "cm",
    "weight": "kg",
    "total_cholesterol": "mmol/L",
    "ldl": "mmol/L",
    "hdl": "mmol/L",
    "triglycerides": "mmol/L",
    "egfr": "mL/min/{1.73_m2}",
    "uacr": "mg/g",
    "alt": "U/L",
    "ast": "U/L",
    "ggt": "U/L",
}
"""Fact name -> UCUM unit of the canonical value."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Sex(StrEnum):
    MALE = "male"
    FEMALE = "female"
    OTHER = "other"
    UNKNOWN = "unknown"


class DiabetesType(StrEnum):
    TYPE1 = "type1"
    TYPE2 = "type2"
    GESTATIONAL = "gestational"
    OTHER = "other"
    UNSPECIFIED = "unspecified"


class SmokingStatus(StrEnum):
    CURRENT = "current"
    FORMER = "former"
    NEVER = "never"
    UNKNOWN = "unknown"


class Population(StrEnum):
    """Which BMI cut-offs apply: ADA general (overweight >= 25), ADA Asian American (>= 23),
    or the Chinese criteria of the CDS guideline (overweight >= 24, obesity >= 28)."""

    GENERAL = "general"
    ASIAN_AMERICAN = "asian_american"
    CHINESE = "chinese"


class AlcoholUse(StrEnum):
    NONE = "none"
    MODERATE = "moderate"  # within the ADA limit (1 drink a day for women, 2 for men)
    HEAVY = "heavy"  # above it, a positive AUDIT-C screen, or an alcohol use disorder
    UNKNOWN = "unknown"


class FrailtySeverity(StrEnum):
    MILD = "mild"
    MODERATE = "moderate"
    SEVERE = "severe"


class MedicationClass(StrEnum):
    METFORMIN = "metformin"
    INSULIN = "insulin"
    SGLT2I = "sglt2i"
    GLP1RA = "glp1ra"
    DPP4I = "dpp4i"
    SULFONYLUREA = "sulfonylurea"
    TZD = "tzd"
    ALPHA_GLUCOSIDASE_INHIBITOR = "alpha_glucosidase_inhibitor"
    GLINIDE = "glinide"
    STATIN = "statin"
    EZETIMIBE = "ezetimibe"
    PCSK9I = "pcsk9i"
    FIBRATE = "fibrate"
    ACEI = "acei"
    ARB = "arb"
    ARNI = "arni"
    CCB = "ccb"
    THIAZIDE = "thiazide"
    LOOP_DIURETIC = "loop_diuretic"
    MRA = "mra"
    BETA_BLOCKER = "beta_blocker"
    ANTIPLATELET = "antiplatelet"
    ANTICOAGULANT = "anticoagulant"
    OTHER = "other"


class Provenanced(_Frozen):
    """Where a fact came from: the resource reference ("Observation/123") and its date."""

    source: str
    # `_dt.date`: a field named `date` shadows the type while pydantic reads the annotations.
    date: _dt.date | None = None


class Measurement(Provenanced):
    value: float
    unit: str
    # What the EHR sent, kept for display and audit when a conversion was applied.
    original_value: float | None = None
    original_unit: str | None = None
    # "<", "<=", ">", ">=" when the EHR reported a bound ("<5", ">90") rather than a value.
    comparator: str | None = None
    code: str | None = None  # the LOINC code the value was reported under
    status: str | None = None  # Observation.status: preliminary | final | amended | corrected
    # For computed values (BMI from weight and height): every resource used.
    derived_from: tuple[str, ...] = ()


class ConditionFact(Provenanced):
    """`present` False means the record says it is over (resolved, inactive, not pregnant);
    an absent fact (None on ClinicalFacts) means the record says nothing."""

    present: bool = True
    code: str | None = None
    display: str | None = None
    onset: date | None = None
    clinical_status: str | None = None  # Condition.clinicalStatus code as sent


class DiabetesFact(ConditionFact):
    type: DiabetesType = DiabetesType.UNSPECIFIED
    duration_years: float | None = None
    # The Condition whose onset gave the duration, when it is not `source`.
    onset_source: str | None = None


class SmokingFact(Provenanced):
    status: SmokingStatus
    code: str | None = None  # the answer code (SNOMED or LOINC LA) as sent


class MedicationFact(Provenanced):
    name: str
    drug_class: MedicationClass
    code: str | None = None
    system: str | None = None
    status: str | None = None  # MedicationRequest/MedicationStatement.status as sent


class ImageSourceKind(StrEnum):
    IMAGING_STUDY = "ImagingStudy"
    MEDIA = "Media"
    DOCUMENT_REFERENCE = "DocumentReference"


class ImageRef(Provenanced):
    """A fundus image (or study of them) the EHR holds; fetched later by the image layer."""

    kind: ImageSourceKind
    laterality: str = "unknown"  # left | right | unknown (models.grader.result.Laterality)
    url: str | None = None
    content_type: str | None = None
    study_uid: str | None = None
    series_uid: str | None = None
    instance_uid: str | None = None
    # ImagingStudy: the Endpoint reference (or its WADO-RS base address when resolved).
    endpoint: str | None = None


class FrailtyFact(Provenanced):
    """Frailty as the record states it: a diagnosis (SNOMED 248279007 frailty, eFI mild /
    moderate / severe frailty codes, ICD-10 R54) or a Clinical Frailty Scale score."""

    present: bool = True
    severity: FrailtySeverity | None = None
    score: float | None = None  # Clinical Frailty Scale 1-9, when read from a CFS observation
    code: str | None = None
    display: str | None = None


class HypoglycaemiaFact(Provenanced):
    """A hypoglycaemia diagnosis or event in the record (ICD-10 E16.0-E16.2, E08-E13 .64x,
    SNOMED hypoglycaemia codes). `coma` True when the code says hypoglycaemic coma."""

    code: str | None = None
    display: str | None = None
    coma: bool = False
    count: int = 1  # how many such records were found


class AlcoholFact(Provenanced):
    use: AlcoholUse
    drinks_per_day: float | None = None  # LOINC 74013-4
    audit_c: float | None = None  # LOINC 75626-2 (0-12)
    code: str | None = None  # the observation or condition code it was read from


class PopulationFact(Provenanced):
    """The population whose BMI cut-offs apply, and what in the record said so."""

    population: Population
    basis: str  # e.g. "US Core race 2028-9 (Asian)", "address country CN"


class EyeExamFact(Provenanced):
    """The latest retinal examination on record (the mapper keeps dated ones only): a
    Procedure, a DR severity Observation (71490-7 / 71491-5), a retinal screening report or
    a fundus image."""

    # Procedure | Observation | DiagnosticReport | ImagingStudy | Media | DocumentReference
    kind: str
    code: str | None = None
    retinopathy: bool | None = None  # the exam's finding, when the record states it


class ClinicalFacts(_Frozen):
    patient_ref: str
    as_of: date
    age_years: int | None = None
    sex: Sex = Sex.UNKNOWN
    diabetes: DiabetesFact | None = None
    hypertension: ConditionFact | None = None
    ckd: ConditionFact | None = None
    ckd_stage: str | None = None  # "1".."5", "3a", "3b" when the Condition says so
    ascvd: ConditionFact | None = None
    heart_failure: ConditionFact | None = None
    prior_dr: ConditionFact | None = None
    prior_dme: ConditionFact | None = None
    pregnancy: ConditionFact | None = None
    smoking: SmokingFact | None = None
    # What the advice also needs (optional; the advice context can override each one).
    frailty: FrailtyFact | None = None
    hypoglycaemia: HypoglycaemiaFact | None = None
    limited_life_expectancy: ConditionFact | None = None  # palliative / hospice / terminal
    alcohol: AlcoholFact | None = None
    population: PopulationFact | None = None
    last_eye_exam: EyeExamFact | None = None
    # Latest value of each measurement, keyed by the names in CANONICAL_UNITS.
    measurements: dict[str, Measurement] = Field(default_factory=dict)
    medications: tuple[MedicationFact, ...] = ()
    images: tuple[ImageRef, ...] = ()
    # Measurements whose results of the latest day disagree beyond assay noise (e.g. an HbA1c
    # in % and one in mmol/mol that do not match): the value used is in `measurements`, the
    # details are in `warnings`.
    conflicting: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    def value(self, name: str) -> float | None:
        m = self.measurements.get(name)
        return m.value if m else None

    @property
    def medication_classes(self) -> frozenset[MedicationClass]:
        return frozenset(m.drug_class for m in self.medications)
